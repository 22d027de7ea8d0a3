"""Where the user's gpg-agent asks for a passphrase: on this terminal, or in a window.

A terminal pinentry (pinentry-curses, pinentry-tty) draws on the terminal termail is using, so
the App must step aside (App.suspend, as for $EDITOR) while that gpg run asks; a GUI pinentry
opens its own window and nothing changes. The answer comes from the agent's
`pinentry-program` (`gpgconf --list-options gpg-agent`, else gpg-agent.conf); with the
default `pinentry` (a switcher that picks curses without a display) or none named, from the
environment: no DISPLAY / WAYLAND_DISPLAY means a terminal one.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

__all__ = ["agent_conf_program", "detect", "gpgconf_program", "on_terminal"]

_TERMINAL = ("pinentry-curses", "pinentry-tty")
_GUI = (
    "pinentry-gtk",
    "pinentry-gnome",
    "pinentry-qt",
    "pinentry-mac",
    "pinentry-x2go",
    "pinentry-fltk",
    "pinentry-w32",
    "pinentry-efl",
    "pinentry-kwallet",
    "pinentry-emacs",
)


def gpgconf_program(listing: str) -> str:
    """The pinentry-program of `gpgconf --list-options gpg-agent` output ('' if not set)."""
    for line in listing.splitlines():
        fields = line.split(":")
        if fields[0] == "pinentry-program" and len(fields) > 9:
            value = fields[9].removeprefix('"')
            return _unpercent(value)
    return ""


def agent_conf_program(text: str) -> str:
    """The pinentry-program line of a gpg-agent.conf ('' if none; the last one counts)."""
    found = ""
    for line in text.splitlines():
        words = line.strip().split(None, 1)
        if len(words) == 2 and words[0] == "pinentry-program":
            found = words[1].strip()
    return found


def on_terminal(program: str, env: Mapping[str, str]) -> bool:
    """Whether the pinentry `program` (as configured; '' for the default) asks on the
    terminal."""
    name = os.path.basename(program.strip().strip('"'))
    if name.startswith(_TERMINAL):
        return True
    if name.startswith(_GUI):
        return False
    # The default switcher (or an unknown program): a window only where there is a display.
    return not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def detect(home: str | None = None, env: Mapping[str, str] | None = None) -> bool:
    """Whether the user's gpg-agent asks for passphrases on the terminal (never raises)."""
    env = os.environ if env is None else env
    program = ""
    argv = ["gpgconf", "--list-options", "gpg-agent"]
    if home:
        argv[1:1] = ["--homedir", home]
    try:
        out = subprocess.run(argv, capture_output=True, timeout=5, check=False)
        program = gpgconf_program(out.stdout.decode("utf-8", "replace"))
    except (OSError, subprocess.TimeoutExpired):
        pass
    if not program:
        base = home or env.get("GNUPGHOME") or str(Path.home() / ".gnupg")
        try:
            program = agent_conf_program(
                (Path(base) / "gpg-agent.conf").read_text(encoding="utf-8", errors="replace")
            )
        except OSError:
            pass
    return on_terminal(program, env)


def _unpercent(value: str) -> str:
    import re

    return re.sub(r"%([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), value)
