"""The warm start's splash in a real terminal (tmux, issue 21): the real `termail` twice and more.

The first run (no cache: no splash) lists the sandbox's INBOX and keeps its start screen. The
next starts paint it before Textual is imported; there the splash is held 1.5 s (`paint`
wrapped by the launcher below, the only difference from `termail`) so the test can read it and
type into it for certain. Textual takes over with the same screen, acts on a key typed during
the splash, and `q` leaves the terminal as it was (echo and line mode on).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from app.sandbox.seed import NEWEST_MARK as NEWEST
from app.sandbox.seed import OLDEST_MARK as OLDEST
from app.sandbox.seed import seed_between_markers
from tests.ui.test_tmux_demo import Tmux

pytestmark = [pytest.mark.integration, pytest.mark.ui]

TMUX = shutil.which("tmux")

HOLD = (
    "import sys, time; import app.splash as s; p = s.paint; "
    "s.paint = lambda snap: (p(snap), time.sleep(1.5))[0]; "
    "from app.cli import main; sys.exit(main())"
)


def _seed(sandbox: Any, user: Any) -> None:
    seed_between_markers(sandbox, user, 300)


def _config(path: Path, sandbox: Any, user: Any) -> None:
    q = json.dumps
    path.write_text(
        f"[accounts.splash]\naddress = {q(user.address)}\n[accounts.splash.imap]\n"
        f'host = "127.0.0.1"\nport = {sandbox.imap_port}\ntls = "none"\nallow_insecure = true\n'
        f'user = {q(user.name)}\npassword_env = "TERMAIL_TEST_PW"\nkeyring = false\n'
        f'[accounts.splash.smtp]\nhost = "127.0.0.1"\nport = {sandbox.smtp_port}\n'
        'tls = "none"\nallow_insecure = true\n'
    )


def _rows(screen: str) -> list[str]:
    """The index without the status line (the second last), which says connecting/connected."""
    lines = screen.splitlines()
    return lines[:-2] + lines[-1:]


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed (make test installs it)")
def test_warm_start_paints_the_cached_screen_and_hands_it_to_textual(
    tmp_path: Path, sandbox: Any, mail_user: Any
) -> None:
    termail = Path(sys.executable).parent / "termail"
    _seed(sandbox, mail_user)
    config = tmp_path / "config.toml"
    _config(config, sandbox, mail_user)
    frames = tmp_path / "cache" / "termail" / "splash"
    env = tmp_path / "env.sh"
    env.write_text(
        f"export TERMAIL_TEST_PW={mail_user.password} TEXTUAL_ANIMATIONS=none\n"
        f"export XDG_CACHE_HOME={tmp_path}/cache XDG_DATA_HOME={tmp_path}/data\n"
        f"export XDG_STATE_HOME={tmp_path}/state TERMAIL_STATE_DIR={tmp_path}/state\n"
        "export PS1='$ '\n"
    )
    tmux = Tmux(f"termail-splash-{os.getpid()}")
    tmux.run("new-session", "-d", "-s", "demo", "-x", "120", "-y", "40", "bash --norc --noprofile")
    held = f"{sys.executable} -c '{HOLD}' --config {config}"
    try:
        tmux.keys(f". {env}; cd {Path(__file__).resolve().parents[2]}", "Enter")
        # 1. Cold: no cache, no splash; the start screen is kept once the server's list settled.
        tmux.keys(f"{termail} --config {config}; echo EXITED $?", "Enter")
        tmux.wait_for("● connected")
        tmux.wait_for(NEWEST)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not list(frames.glob("*.frame")):
            time.sleep(0.2)
        assert list(frames.glob("*.frame")), "the start screen was never kept"
        assert (frames.stat().st_mode & 0o777) == 0o700
        tmux.keys("q")
        tmux.wait_for("EXITED 0", timeout=20)
        tmux.keys("clear", "Enter")

        # 2. Warm: the splash is the cached start, and Textual's screen is the same index.
        tmux.keys(f"{held}; echo EXITED $?", "Enter")
        splash = tmux.wait_for("(from the cache)", timeout=20)
        assert NEWEST in splash and "◌ connecting" in splash
        connected = tmux.wait_for("● connected", timeout=30)
        assert _rows(connected) == _rows(splash)
        tmux.keys("q")
        tmux.wait_for("EXITED 0", timeout=20)
        tmux.keys("clear", "Enter")

        # 3. A key typed during the splash is read by Textual and acts on the list shown.
        tmux.keys(f"{held}; echo EXITED $?; stty -a", "Enter")
        tmux.wait_for("(from the cache)", timeout=20)
        tmux.keys("End")
        screen = tmux.wait_for(OLDEST, timeout=30)
        assert NEWEST not in screen
        tmux.keys("q")
        screen = tmux.wait_for("EXITED 0", timeout=20)
        flags = screen.split()
        assert "echo" in flags and "icanon" in flags and "-echo" not in flags, screen
    finally:
        tmux.run("kill-server")
