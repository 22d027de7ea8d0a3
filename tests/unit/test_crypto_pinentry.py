"""A passphrase asked on the terminal (issue 16): where the agent's pinentry asks, and a key
with a passphrase signed / decrypted with and without a terminal to hand over."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.crypto.engine import NEEDS_PASSPHRASE, PASSPHRASE_TIMEOUT, CryptoError, Engine
from app.crypto.pinentry import agent_conf_program, detect, gpgconf_program, on_terminal
from tests.gpg_keys import GPG, Keyring, cleanup, run_gpg

pytestmark = pytest.mark.timeout(60)

X11 = {"DISPLAY": ":0"}
WAYLAND = {"WAYLAND_DISPLAY": "wayland-0"}
TTY_ONLY = {"GPG_TTY": "/dev/pts/3"}


def test_decision_from_the_program_and_the_environment() -> None:
    assert on_terminal("/usr/bin/pinentry-curses", X11)  # named: a display changes nothing
    assert on_terminal("pinentry-tty", WAYLAND)
    assert not on_terminal("/usr/bin/pinentry-gnome3", TTY_ONLY)
    assert not on_terminal('"/opt/homebrew/bin/pinentry-mac', {})
    assert not on_terminal("/usr/bin/pinentry-qt5", TTY_ONLY)
    # The default switcher, or nothing named: a window only where there is a display.
    assert on_terminal("/usr/bin/pinentry", TTY_ONLY)
    assert on_terminal("", {})
    assert not on_terminal("", {**TTY_ONLY, **X11})
    assert not on_terminal("/usr/bin/pinentry", WAYLAND)


def test_program_read_from_gpgconf_and_agent_conf(tmp_path: Path) -> None:
    listing = (
        "Pinentry:1:1:Options controlling the PIN-Entry:0:0::::\n"
        'pinentry-program:16:1:|PGM|use PGM as the PIN-Entry program:32:1:PGM:::"/usr/bin/'
        "pinentry%3acurses\n"
    )
    assert gpgconf_program(listing) == "/usr/bin/pinentry:curses"
    assert gpgconf_program("pinentry-timeout:8:1:x:3:3:N:::\n") == ""
    conf = (
        "# mine\npinentry-program /usr/bin/pinentry-gtk-2\npinentry-program /usr/bin/pinentry-tty\n"
    )
    assert agent_conf_program(conf) == "/usr/bin/pinentry-tty"
    assert agent_conf_program("default-cache-ttl 600\n") == ""
    home = tmp_path / "home"
    home.mkdir()
    (home / "gpg-agent.conf").write_text("pinentry-program /usr/bin/pinentry-gnome3\n")
    assert not detect(str(home), env=TTY_ONLY)  # the configured GUI one wins over the tty
    (home / "gpg-agent.conf").write_text("pinentry-program /usr/bin/pinentry-curses\n")
    assert detect(str(home), env=X11)
    (home / "gpg-agent.conf").unlink()
    assert detect(str(home), env=TTY_ONLY)
    assert not detect(str(home), env={**TTY_ONLY, **X11})


_FAKE_PINENTRY = """#!/bin/sh
echo "OK Pleased to meet you"
while read -r cmd rest; do
  case "$cmd" in
    GETPIN) echo "D secret"; echo OK;;
    BYE) echo OK; exit 0;;
    *) echo OK;;
  esac
done
"""


@pytest.fixture(scope="module")
def locked_home() -> Iterator[tuple[Path, str]]:
    """A home with one key (sign + encrypt) protected by the passphrase "secret"; its agent's
    pinentry is a script that answers "secret" (it stands for the user at the terminal)."""
    if GPG is None:
        pytest.skip("gpg is not installed")
    home = Path(tempfile.mkdtemp(prefix="tl-", dir="/tmp"))
    home.chmod(0o700)
    pinentry = home / "fake-pinentry"
    pinentry.write_text(_FAKE_PINENTRY)
    pinentry.chmod(0o755)
    (home / "gpg-agent.conf").write_text(f"pinentry-program {pinentry}\n")
    loop = ("--pinentry-mode", "loopback", "--passphrase", "secret")
    run_gpg(
        home, *loop, "--quick-gen-key", "Locked <locked@example.org>", "ed25519", "sign", "never"
    )
    listing = run_gpg(home, "--with-colons", "--list-keys", "locked@example.org").decode()
    fpr = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr"))
    run_gpg(home, *loop, "--quick-add-key", fpr, "cv25519", "encr", "never")
    import subprocess

    subprocess.run(["gpgconf", "--homedir", str(home), "--reload", "gpg-agent"], check=False)
    try:
        yield home, fpr
    finally:
        cleanup(Keyring(home))


@pytest.fixture
def locked(locked_home: tuple[Path, str]) -> tuple[Path, str]:
    """The locked home with nothing unlocked in its agent."""
    _forget(locked_home[0])
    return locked_home


def _forget(home: Path) -> None:
    import subprocess

    subprocess.run(["gpgconf", "--homedir", str(home), "--reload", "gpg-agent"], check=False)


def test_no_terminal_to_hand_over_is_a_clear_refusal(locked: tuple[Path, str]) -> None:
    home, fpr = locked
    engine = Engine(home=str(home), timeout=20)
    engine.terminal_pinentry = True  # the agent asks on the terminal; no App to suspend
    with pytest.raises(CryptoError) as refused:
        engine.sign_detached(b"text\r\n", fpr)
    assert "needs your passphrase" in str(refused.value)
    with pytest.raises(CryptoError, match="needs your passphrase"):
        engine.encrypt(b"text\r\n", [fpr], sign_key=fpr)
    sealed = engine.encrypt(b"to decrypt\r\n", [fpr], sign_key=None)  # no secret key used
    opened = engine.decrypt(sealed)
    assert not opened.ok and opened.problem == NEEDS_PASSPHRASE

    def headless(op: Callable[[], Any]) -> Any:
        raise RuntimeError("no terminal")  # App.suspend's SuspendNotSupported, say

    engine.suspend = headless
    assert engine.decrypt(sealed).problem == NEEDS_PASSPHRASE


def test_terminal_pinentry_runs_with_the_app_suspended(locked: tuple[Path, str]) -> None:
    home, fpr = locked
    engine = Engine(home=str(home), timeout=20)
    engine.terminal_pinentry = True
    suspended: list[float | None] = []

    def suspend(op: Callable[[], Any]) -> Any:
        got = op()
        suspended.append(got[1].timeout)
        return got

    engine.suspend = suspend
    signature, micalg = engine.sign_detached(b"text\r\n", fpr)  # pinentry answered "secret"
    assert signature.startswith(b"-----BEGIN PGP SIGNATURE-----") and micalg == "pgp-sha256"
    assert suspended == [PASSPHRASE_TIMEOUT]  # that run only, with room to type
    # Unlocked now (the agent caches it): the next run needs no terminal.
    engine.sign_detached(b"again\r\n", fpr)
    assert len(suspended) == 1
    _forget(home)
    sealed = engine.encrypt(b"to decrypt\r\n", [fpr], sign_key=None)
    opened = engine.decrypt(sealed)
    assert opened.ok and opened.plaintext == b"to decrypt\r\n"
    assert len(suspended) == 2


def test_gui_pinentry_changes_nothing(locked: tuple[Path, str]) -> None:
    home, fpr = locked
    engine = Engine(home=str(home), timeout=20)
    engine.terminal_pinentry = False  # a window asks: no loopback, no suspension

    def suspend(op: Callable[[], Any]) -> Any:
        raise AssertionError("suspended for a GUI pinentry")

    engine.suspend = suspend
    signature, _ = engine.sign_detached(b"text\r\n", fpr)  # the (fake) pinentry answered
    assert signature.startswith(b"-----BEGIN PGP SIGNATURE-----")


def test_cancelled_at_the_pinentry_says_so(locked: tuple[Path, str]) -> None:
    home, fpr = locked
    engine = Engine(home=str(home), timeout=20)
    engine.terminal_pinentry = True
    engine.suspend = lambda op: op()
    sealed = engine.encrypt(b"to decrypt\r\n", [fpr], sign_key=None)
    script = home / "fake-pinentry"
    script.write_text(_FAKE_PINENTRY.replace('echo "D secret"; echo OK', 'echo "ERR 83886179"'))
    try:
        opened = engine.decrypt(sealed)
    finally:
        script.write_text(_FAKE_PINENTRY)
    assert not opened.ok
    assert opened.problem is not None and "cancelled" in opened.problem
