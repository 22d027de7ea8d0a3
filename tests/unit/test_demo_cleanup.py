"""The demo's stale-folder sweep (issue 20 item 16): only folders with no live owner go."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

from app.cli.demo import (
    OWNER_FILE,
    PREFIX,
    UNOWNED_STALE_SECONDS,
    adopt,
    hand_back,
    is_stale,
    kept_dir,
    sweep_stale,
    write_owner,
)


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


def test_sweep_removes_only_folders_without_a_live_owner(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home"))
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


def _demo_with_writing(base: Path, name: str) -> Path:
    root = _folder(base, name)
    drafts = root / "termail-data" / "demo" / "drafts"
    drafts.mkdir(parents=True)
    (drafts / "d1.json").write_text('{"draft": "words the user wrote"}')
    queued = root / "termail-data" / "demo" / "outbox" / "cur"
    queued.mkdir(parents=True)
    (queued / "1700000000.M1P1R1.host").write_bytes(b"queued mail")
    (root / "termail-data" / "demo" / "cache.sqlite").write_bytes(b"cache")  # not kept
    return root


def test_a_swept_folder_hands_its_drafts_and_queued_mail_to_the_next_demo(
    tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home"))
    base = tmp_path / "shm"
    base.mkdir()
    killed = _demo_with_writing(base, "killed")
    (killed / OWNER_FILE).write_text(json.dumps({"pid": _dead_pid(), "start": "1"}))

    assert sweep_stale(str(base)) == [killed]
    kept = kept_dir() / "demo"
    assert (kept / "drafts" / "d1.json").read_text() == '{"draft": "words the user wrote"}'
    assert (kept / "outbox" / "cur" / "1700000000.M1P1R1.host").read_bytes() == b"queued mail"
    assert not (kept / "cache.sqlite").exists()

    new = _folder(base, "new")
    assert adopt(new) == 2
    data = new / "termail-data" / "demo"
    assert (data / "drafts" / "d1.json").read_text() == '{"draft": "words the user wrote"}'
    assert (data / "outbox" / "cur" / "1700000000.M1P1R1.host").read_bytes() == b"queued mail"
    assert _files_under(kept) == []  # taken up once: a second demo gets none of it
    assert adopt(_folder(base, "second")) == 0


def _files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_a_swept_folder_goes_back_to_the_data_folder_of_its_owner(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """A killed demo run with another data folder (XDG_DATA_HOME) gets its drafts back there,
    not in the data folder of whichever demo sweeps it."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "theirs"))
    theirs = kept_dir()
    base = tmp_path / "shm"
    base.mkdir()
    killed = _demo_with_writing(base, "killed")
    write_owner(killed)
    owner = json.loads((killed / OWNER_FILE).read_text())
    owner["pid"] = _dead_pid()
    (killed / OWNER_FILE).write_text(json.dumps(owner))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "mine"))
    assert sweep_stale(str(base)) == [killed]
    assert (theirs / "demo" / "drafts" / "d1.json").exists()
    assert not (kept_dir() / "demo").exists()


def test_a_claim_of_a_dead_demo_is_given_back(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home"))
    drafts = kept_dir() / "demo" / "drafts"
    drafts.mkdir(parents=True)
    (drafts / f".claim-{_dead_pid()}-d2.json").write_text("claimed, then the demo died")
    new = tmp_path / f"{PREFIX}new"
    new.mkdir()
    assert adopt(new) == 1
    assert (new / "termail-data" / "demo" / "drafts" / "d2.json").exists()


def test_a_folder_whose_writing_cannot_be_kept_is_not_removed(
    tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home"))
    kept_dir().mkdir(parents=True)
    (kept_dir() / "demo").write_text("a file where the folder should be")
    base = tmp_path / "shm"
    base.mkdir()
    killed = _demo_with_writing(base, "killed")
    (killed / OWNER_FILE).write_text(json.dumps({"pid": _dead_pid(), "start": "1"}))
    assert sweep_stale(str(base)) == []
    assert (killed / "termail-data" / "demo" / "drafts" / "d1.json").exists()
    assert not hand_back(killed)
