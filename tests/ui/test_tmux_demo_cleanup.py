"""Issue 20 item 16 in a real terminal: two `termail demo` at once keep apart, and a demo's
sandbox folder goes when its terminal is closed (SIGHUP), on SIGTERM, and after a SIGKILL at
the next start (the stale sweep)."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from app.cli.demo import OWNER_FILE, PREFIX, _base_dir
from tests.ui.test_tmux_demo import TMUX, Tmux

pytestmark = [
    pytest.mark.integration,
    pytest.mark.ui,
    pytest.mark.skipif(TMUX is None, reason="tmux is not installed (make test installs it)"),
]

BASE = Path(_base_dir() or "/tmp")


class Session(Tmux):
    def pane_pid(self) -> int:
        return int(self.run("display-message", "-p", "-t", "demo", "#{pane_pid}").strip())


def _start(name: str, tmp: Path, size: str = "80x24") -> Session:
    termail = Path(sys.executable).parent / "termail"
    session = Session(name)
    env = tmp / f"{name}.sh"
    env.write_text(
        f"export TERMAIL_STATE_DIR={tmp}/state\nexport TEXTUAL_ANIMATIONS=none\n"
        f"export XDG_DATA_HOME={tmp}/data\n"
    )
    width, height = size.split("x")
    session.run(
        "new-session", "-d", "-s", "demo", "-x", width, "-y", height,
        f"bash -c '. {env}; {termail} demo; echo TERMAIL-EXITED $?; sleep 60'",
    )  # fmt: skip
    return session


def _ppid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    return int(stat.rsplit(b")", 1)[-1].split()[1])


def _folder_of(session: Session, timeout: float = 30.0) -> tuple[Path, int]:
    """The demo folder whose owner is the termail started in this session's pane."""
    pane = session.pane_pid()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in BASE.glob(PREFIX + "*"):
            try:
                owner = json.loads((path / OWNER_FILE).read_text())
            except (OSError, ValueError):
                continue
            if _ppid(int(owner["pid"])) == pane:
                return path, int(owner["pid"])
        time.sleep(0.2)
    raise AssertionError("the demo's folder was not found")


def _gone(path: Path, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not path.exists():
            return True
        time.sleep(0.2)
    return False


def test_two_demos_keep_apart_and_a_closed_terminal_removes_its_folder(tmp_path: Path) -> None:
    one = _start(f"termail-h4a-{os.getpid()}", tmp_path)
    two = _start(f"termail-h4b-{os.getpid()}", tmp_path)
    try:
        one.wait_for("INBOX")
        two.wait_for("INBOX")
        first, _ = _folder_of(one)
        second, _ = _folder_of(two)
        assert first != second
        # Each keeps the demo accounts' data (cache, drafts, outbox) in its own folder...
        assert (first / "termail-data" / "demo").is_dir()
        assert (second / "termail-data" / "demo").is_dir()
        # ... and none in the user's data folder, where the two would meet.
        assert not (tmp_path / "data" / "termail" / "demo").exists()
        # Closing the first terminal (SIGHUP to what runs in it) removes its folder only.
        one.run("kill-server")
        assert _gone(first), "the folder of the demo whose terminal closed is still there"
        assert second.exists()
        two.keys("q")
        two.wait_for("TERMAIL-EXITED 0", timeout=20)
        assert _gone(second)
    finally:
        one.run("kill-server")
        two.run("kill-server")


def test_sigterm_removes_the_folder_and_a_killed_demo_is_swept_next_time(tmp_path: Path) -> None:
    one = _start(f"termail-h4c-{os.getpid()}", tmp_path)
    two: Session | None = None
    try:
        one.wait_for("INBOX")
        folder, pid = _folder_of(one)
        os.kill(pid, signal.SIGTERM)
        one.wait_for("TERMAIL-EXITED 143", timeout=20)
        assert _gone(folder)
        # SIGKILL: nothing can clean up, so the next demo sweeps it.
        one.run("kill-server")
        one = _start(f"termail-h4d-{os.getpid()}", tmp_path)
        one.wait_for("INBOX")
        folder, pid = _folder_of(one)
        os.kill(pid, signal.SIGKILL)
        one.wait_for("TERMAIL-EXITED 137", timeout=20)
        assert folder.exists()  # left behind, as it must be after SIGKILL
        two = _start(f"termail-h4e-{os.getpid()}", tmp_path)
        two.wait_for("INBOX")
        assert _gone(folder, timeout=5), "the stale folder was not swept at the next start"
        two.keys("q")
        two.wait_for("TERMAIL-EXITED 0", timeout=20)
    finally:
        one.run("kill-server")
        if two is not None:
            two.run("kill-server")
