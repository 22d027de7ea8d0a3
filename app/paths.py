"""Where termail keeps its files: the user's config, and its own data and cache.

The XDG variables win on every platform when they are set, because terminal users keep their
dotfiles under `~/.config` on macOS too; otherwise platformdirs picks the platform's folders
(on Linux that is the XDG default, `~/.config`, `~/.local/share`, `~/.cache`).
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

import platformdirs

APP_NAME = "termail"
CONFIG_ENV = "TERMAIL_CONFIG"
CONFIG_FILE_NAME = "config.toml"


def _xdg(variable: str) -> Path | None:
    """The folder an XDG variable names, or None when it is unset or relative (spec: ignore)."""
    value = os.environ.get(variable, "")
    if not value:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else None


def config_dir() -> Path:
    """`$XDG_CONFIG_HOME/termail`, or the platform's config folder for termail."""
    base = _xdg("XDG_CONFIG_HOME")
    if base is not None:
        return base / APP_NAME
    return platformdirs.user_config_path(APP_NAME)


def default_config_path() -> Path:
    """The config file used when neither `--config` nor `TERMAIL_CONFIG` names one."""
    return config_dir() / CONFIG_FILE_NAME


def config_path(explicit: Path | str | None = None) -> Path:
    """The config file to read: `--config PATH`, then `$TERMAIL_CONFIG`, then the default."""
    if explicit is not None and str(explicit) != "":
        return Path(explicit).expanduser()
    from_env = os.environ.get(CONFIG_ENV, "")
    if from_env:
        return Path(from_env).expanduser()
    return default_config_path()


def config_path_is_default(explicit: Path | str | None = None) -> bool:
    """True when the user named no config file, so a missing one means a first run."""
    return (explicit is None or str(explicit) == "") and not os.environ.get(CONFIG_ENV, "")


def data_dir() -> Path:
    """`$XDG_DATA_HOME/termail`: the header cache, drafts and outbox live here."""
    base = _xdg("XDG_DATA_HOME")
    if base is not None:
        return base / APP_NAME
    return platformdirs.user_data_path(APP_NAME)


def cache_dir() -> Path:
    """`$XDG_CACHE_HOME/termail`: anything termail can rebuild from the server."""
    base = _xdg("XDG_CACHE_HOME")
    if base is not None:
        return base / APP_NAME
    return platformdirs.user_cache_path(APP_NAME)


def account_data_dir(account_name: str) -> Path:
    """The data folder of one account (account names are validated to be safe file names)."""
    return data_dir() / "accounts" / account_name


def _own_roots() -> list[Path]:
    roots = []
    for getter in (config_dir, data_dir, cache_dir):
        with contextlib.suppress(Exception):
            roots.append(Path(os.path.abspath(getter())))
    return roots


def private_dir(path: Path | str) -> Path:
    """`path` as a folder only the user can enter: every level created here is 0700.

    `mkdir(parents=True, mode=0o700)` gives the mode to the last level only (the parents get
    the umask's 0755), and the mode is masked by the umask anyway: each missing level is made
    one by one and chmod-ed. Existing folders at or below termail's own config, data and cache
    folders (made 0755 by older versions) are tightened too, when they are the user's; folders
    above them (`~/.local/share`) are the user's business and left alone. Raises OSError.
    """
    target = Path(os.path.abspath(Path(path).expanduser()))
    missing: list[Path] = []
    level = target
    while not level.exists() and level.parent != level:
        missing.append(level)
        level = level.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            if not folder.is_dir():
                raise
            continue
        os.chmod(folder, 0o700)
    if not target.is_dir():
        raise NotADirectoryError(f"not a folder: {target}")
    roots = _own_roots()
    uid = os.getuid() if hasattr(os, "getuid") else None
    for level in (target, *target.parents):
        if not any(level == root or root in level.parents for root in roots):
            break
        with contextlib.suppress(OSError):
            info = os.lstat(level)
            if (
                stat.S_ISDIR(info.st_mode)
                and info.st_mode & 0o077
                and (uid is None or info.st_uid == uid)
            ):
                os.chmod(level, 0o700)
    return target


def process_alive(pid: int) -> bool:
    """Whether process `pid` may still run: the owner check of the folders a process leaves
    for its own lifetime (a demo's, the opened attachments'), swept once their owner is gone.
    Someone else's process with that pid counts as alive: not ours to judge."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: another user's process
        return True
    return True
