"""Temporary copies of attachments handed to a viewer (xdg-open), and their cleanup.

Each run keeps its copies under `$TMPDIR/termail-open-<pid>-<random>/` (0700, files 0600). They
are removed when termail exits, and a folder left behind by a run that crashed or was killed
is swept at the next start: only folders that are the user's own, whose process is gone.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import stat
import tempfile
import time
from pathlib import Path

from app.paths import process_alive

__all__ = ["PREFIX", "new_open_folder", "remove_open_folders", "sweep_stale_open_folders"]

PREFIX = "termail-open-"
#: Folders of older termail versions carry no pid: swept when untouched for this long.
LEGACY_AGE_SECONDS = 12 * 3600

_ours: list[Path] = []
_registered = False


def new_open_folder(base: Path | None = None) -> Path:
    """A new private folder for one opened attachment, removed at exit."""
    global _registered
    folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=base))
    _ours.append(folder)
    if not _registered:
        atexit.register(remove_open_folders)
        _registered = True
    return folder


def remove_open_folders() -> None:
    """Remove every folder this process made (at exit; safe to call twice)."""
    while _ours:
        shutil.rmtree(_ours.pop(), ignore_errors=True)


def sweep_stale_open_folders(base: Path | None = None, *, now: float | None = None) -> list[Path]:
    """Remove `termail-open-*` folders of runs that are gone; returns what was removed.

    Only real folders (no symlinks) owned by this user are touched; a folder whose pid is alive
    (this run, another termail running) is kept.
    """
    root = Path(base or tempfile.gettempdir())
    removed: list[Path] = []
    uid = os.getuid() if hasattr(os, "getuid") else None
    now = time.time() if now is None else now
    try:
        entries = list(os.scandir(root))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(PREFIX):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or (uid is not None and info.st_uid != uid):
            continue
        rest = entry.name[len(PREFIX) :]
        pid_text, dash, _ = rest.partition("-")
        if dash and pid_text.isdigit():
            if process_alive(int(pid_text)):
                continue
        elif now - info.st_mtime < LEGACY_AGE_SECONDS:
            continue
        path = Path(entry.path)
        with contextlib.suppress(OSError):
            shutil.rmtree(path)
            removed.append(path)
    return removed
