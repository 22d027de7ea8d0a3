"""The demo's stale-folder sweep (issue 20 item 16): only folders with no live owner go."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from app.demo import OWNER_FILE, PREFIX, UNOWNED_STALE_SECONDS, is_stale, sweep_stale, write_owner


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _folder(base: Path, name: str) -> Path:
    path = base / f"{PREFIX}{name}"
    path.mkdir()
    (path / "mail").mkdir()
    (path / "mail" / "msg").write_bytes(b"x" * 100)
    return path


def test_sweep_removes_only_folders_without_a_live_owner(tmp_path: Path) -> None:
    mine = _folder(tmp_path, "mine")
    write_owner(mine)
    dead = _folder(tmp_path, "dead")
    (dead / OWNER_FILE).write_text(json.dumps({"pid": _dead_pid(), "start": "1"}))
    reused = _folder(tmp_path, "reused")  # our pid, but another process's start time
    (reused / OWNER_FILE).write_text(json.dumps({"pid": os.getpid(), "start": "-1"}))
    old_live = _folder(tmp_path, "old-live")  # an older demo: servers' pids in state.json
    (old_live / "state.json").write_text(json.dumps({"pids": [os.getpid()]}))
    old_dead = _folder(tmp_path, "old-dead")
    (old_dead / "state.json").write_text(json.dumps({"pids": [_dead_pid()]}))
    young = _folder(tmp_path, "young")  # starting up: no owner, no state yet
    ancient = _folder(tmp_path, "ancient")
    past = time.time() - UNOWNED_STALE_SECONDS - 60
    os.utime(ancient, (past, past))
    other = tmp_path / "termail-test-x"  # not a demo folder
    other.mkdir()
    os.utime(other, (past, past))

    removed = sweep_stale(str(tmp_path))

    assert sorted(p.name for p in removed) == sorted(
        f"{PREFIX}{n}" for n in ("dead", "reused", "old-dead", "ancient")
    )
    for path in (mine, old_live, young, other):
        assert path.exists()
    for path in removed:
        assert not path.exists()
    assert not is_stale(mine)
