"""Opening a link with the user's browser command, never through a shell.

The command is `[ui] browser` (a command line, split like a shell would split it, but run
without one), else `$BROWSER` (its first entry that is installed; the list is `:`-separated by
convention), else `xdg-open`. A `%s` in an argument is replaced by the URL there; without one
the URL is the last argument. The URL is always exactly one argument, whatever it holds, and
it has been through `app.mime.links.wire_url` (printable ASCII, no space) before it gets here.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["BrowserCommand", "browser_command", "graphical", "launch"]

#: Browsers that draw in the terminal: termail steps aside while they run.
TERMINAL_BROWSERS = frozenset({"lynx", "w3m", "links", "links2", "elinks", "browsh", "www-browser"})


@dataclass(frozen=True, slots=True)
class BrowserCommand:
    """The argv to run for one URL, and where the command came from (said in the question)."""

    argv: tuple[str, ...]
    source: str
    """"[ui] browser", "$BROWSER" or "xdg-open"."""

    @property
    def in_terminal(self) -> bool:
        return bool(self.argv) and os.path.basename(self.argv[0]) in TERMINAL_BROWSERS


def _argv(template: list[str], url: str) -> tuple[str, ...]:
    if any("%s" in part for part in template):
        return tuple(part.replace("%s", url) if "%s" in part else part for part in template)
    return (*template, url)


def browser_command(
    url: str, configured: str | None = None, env: Mapping[str, str] | None = None
) -> BrowserCommand:
    """The command that opens `url`. Raises ValueError for a command line that cannot be split
    (an unclosed quote), with the reason."""
    env = os.environ if env is None else env
    if configured and configured.strip():
        try:
            template = shlex.split(configured)
        except ValueError as exc:
            raise ValueError(f"[ui] browser cannot be read: {exc}") from exc
        if template:
            return BrowserCommand(_argv(template, url), "[ui] browser")
    for entry in env.get("BROWSER", "").split(":"):
        try:
            template = shlex.split(entry)
        except ValueError:
            continue
        if template and shutil.which(template[0], path=env.get("PATH")):
            return BrowserCommand(_argv(template, url), "$BROWSER")
    return BrowserCommand(("xdg-open", url), "xdg-open")


def graphical(env: Mapping[str, str] | None = None) -> bool:
    """A graphical session xdg-open can open a browser in."""
    env = os.environ if env is None else env
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def launch(command: BrowserCommand) -> str | None:
    """Start a graphical browser on its own (not waited for); None once started, else why not."""
    if not command.argv:
        return "no browser command"
    try:
        subprocess.Popen(
            list(command.argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as exc:
        return f"{command.argv[0]} could not be started: {exc.strerror or exc}"
    return None


def run_in_terminal(command: BrowserCommand) -> int:
    """Run a terminal browser in the foreground (the caller has stepped aside); its status."""
    try:
        return subprocess.call(list(command.argv))
    except OSError:
        return 127
