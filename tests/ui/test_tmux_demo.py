"""`termail demo` in a real terminal (tmux): start it, type keys, read the screen."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.ui]

TMUX = shutil.which("tmux")


class Tmux:
    def __init__(self, name: str) -> None:
        self.socket = name

    def run(self, *args: str) -> str:
        assert TMUX is not None
        out = subprocess.run(
            [TMUX, "-L", self.socket, *args], capture_output=True, text=True, timeout=20
        )
        return out.stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "demo")

    def wait_for(self, text: str, timeout: float = 40.0) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.25)
        raise AssertionError(f"{text!r} never appeared; the screen was:\n{screen}")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "demo", *keys)


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed (make test installs it)")
def test_demo_in_tmux(tmp_path: Path) -> None:
    termail = Path(sys.executable).parent / "termail"
    assert termail.exists(), "termail is not installed in the virtualenv"
    tmux = Tmux(f"termail-test-{os.getpid()}")
    env_file = tmp_path / "env.sh"
    env_file.write_text(
        f"export TERMAIL_STATE_DIR={tmp_path}\nexport TEXTUAL_ANIMATIONS=none\n"
        f"export XDG_DATA_HOME={tmp_path}/data\n"
    )
    tmux.run(
        "new-session", "-d", "-s", "demo", "-x", "160", "-y", "45",
        f"bash -c '. {env_file}; {termail} demo; echo TERMAIL-EXITED $?; sleep 30'",
    )  # fmt: skip
    try:
        screen = tmux.wait_for("INBOX")
        # The list fills with the demo mailbox's newest messages.
        screen = tmux.wait_for("Café opening")
        # INBOX is opened before the folder list arrives (start-up speed): the tree fills after.
        screen = tmux.wait_for("Drafts")
        assert "Projects" in screen
        # Open the first message of the list and read it in the viewer.
        tmux.keys("g")
        time.sleep(0.5)
        tmux.keys("Enter")
        screen = tmux.wait_for("From")
        # Search on the server for the lecture's gb2312 message; its subject decodes.
        tmux.keys("Escape", "/")
        time.sleep(0.5)
        tmux.keys("subject:title", "Enter")
        screen = tmux.wait_for("match")
        screen = tmux.wait_for("中文 title")
        tmux.keys("q")
        tmux.wait_for("TERMAIL-EXITED 0", timeout=20)
    finally:
        tmux.run("kill-server")


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed (make test installs it)")
def test_sigkill_while_composing_keeps_the_draft(tmp_path: Path) -> None:
    termail = Path(sys.executable).parent / "termail"
    tmux = Tmux(f"termail-kill-{os.getpid()}")
    env_file = tmp_path / "env.sh"
    env_file.write_text(
        f"export TERMAIL_STATE_DIR={tmp_path}\nexport TEXTUAL_ANIMATIONS=none\n"
        f"export XDG_DATA_HOME={tmp_path}/data\n"
    )
    pid_file = tmp_path / "pid"
    command = f"bash -c '. {env_file}; echo $$ > {pid_file}; exec {termail} demo'"
    tmux.run("new-session", "-d", "-s", "demo", "-x", "140", "-y", "40", command)
    try:
        tmux.wait_for("Café opening")
        tmux.keys("m")
        tmux.wait_for("Subject")
        for keys in ("nobody@example.org", "Tab", "Tab", "Tab", "Lost in a crash", "Tab"):
            tmux.keys(keys)
            time.sleep(0.3)
        tmux.keys("These words must survive a kill -9.")
        time.sleep(4.5)  # autosave runs every 3 s
        pid = int(pid_file.read_text())
        os.kill(pid, 9)
        time.sleep(0.5)
        tmux.run("kill-server")
        tmux.run("new-session", "-d", "-s", "demo", "-x", "140", "-y", "40", command)
        screen = tmux.wait_for("unsent draft")
        assert "Lost in a crash" in screen
        tmux.keys("o")  # open it
        screen = tmux.wait_for("These words must survive")
    finally:
        tmux.run("kill-server")
