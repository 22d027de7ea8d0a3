"""The start screen as last drawn, written to the terminal before Textual is imported (issue 21).

A warm start spends most of its time importing Textual and termail and building the screen. The
running app keeps a snapshot of its start state (INBOX, top of the list, cursor on the first row,
nothing over it) as terminal text (`app/screens/splash_snapshot.py` writes it); the next start
paints it at once, in the alternate screen with echo off, and Textual's first full frame then
overwrites every cell (its driver does not enter the alternate screen again: `app/screens/
splash_driver.py`). Keys typed meanwhile wait in the terminal's input queue for Textual.

Standard library only (and `app.paths`/`app.state`, which are): importing this module must not
import Textual or Rich, or the point is lost (a test checks `sys.modules`).

The file is read back and written raw to the terminal, so it is checked strictly first: its
header (format, size, the key of config + account + terminal, the header cache's state) must
match, and the frame may hold printable text and only the CSI sequences Textual's frames use
(SGR and cursor position). Anything else: no splash, silently (logged at debug level).
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import logging
import os
import re
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

FORMAT = "termail-splash 1"
MAX_BYTES = 4 * 1024 * 1024
MAX_SIDE = 1000
#: The environment that changes how Textual draws (colours, theme): part of the key.
_ENV_KEYS = (
    "TERM",
    "COLORTERM",
    "NO_COLOR",
    "FORCE_COLOR",
    "TEXTUAL_COLOR_SYSTEM",
    "TEXTUAL_THEME",
    "TERMAIL_THEME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
)

#: What a frame may hold besides text: SGR, a cursor position, an erase-line (Textual's CSI).
_ALLOWED_CSI = re.compile(r"\x1b\[[0-9;:]{0,64}m|\x1b\[[0-9]{1,4};[0-9]{1,4}H|\x1b\[[0-2]?K")
#: Left after those are taken out, any of these refuses the frame: C0 (ESC, CR, LF, BEL...), DEL,
#: C1, and the bidi / zero-width controls the sanitizer removes.
_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def snapshot_dir() -> Path:
    """Where the snapshots live: `<cache dir>/splash` (`termail cache clear` empties it)."""
    from app.paths import cache_dir

    return cache_dir() / "splash"


def snapshot_path(config_path: Path, account: str) -> Path:
    """The snapshot of one config file's one account (all sizes share it: the newest wins)."""
    name = hashlib.sha256(f"{os.path.abspath(config_path)}\0{account}".encode()).hexdigest()
    return snapshot_dir() / f"{name[:32]}.frame"


def config_key(config_bytes: bytes, account: str, environ: Any = None) -> str:
    """What the start screen depends on besides the mail: termail's version (an upgrade may
    draw it otherwise), the config file's bytes, the account, the remembered UI choices (theme,
    panes: `app.state`) and how the terminal draws."""
    import app

    env = os.environ if environ is None else environ
    h = hashlib.sha256()
    h.update(f"{FORMAT}\0{app.__version__}\0{account}\0".encode() + config_bytes + b"\0")
    from app.state import state_file

    with contextlib.suppress(OSError):
        h.update(state_file().read_bytes())
    for name in _ENV_KEYS:
        h.update(f"\0{name}={env.get(name, '')}".encode())
    return h.hexdigest()


def cache_fingerprint(cache_file: Path) -> str | None:
    """The header cache's state of what the start screen shows: INBOX's row (UIDVALIDITY,
    UIDNEXT, HIGHESTMODSEQ, count, order) and the saved folder tree and counts. None when the
    file is gone or unreadable: then there is no honest splash to show."""
    import sqlite3

    if not cache_file.is_file():
        return None
    try:
        uri = Path(os.path.abspath(cache_file)).as_uri() + "?mode=ro"
        conn = sqlite3.connect(uri, uri=True, timeout=0.2)
    except (sqlite3.Error, ValueError):
        return None
    try:
        row = conn.execute(
            "SELECT uidvalidity, uidnext, highestmodseq, exists_count, sort, length(uids)"
            " FROM mailboxes WHERE name = 'INBOX'"
        ).fetchone()
        if row is None:
            return None
        tree: Any = None
        with contextlib.suppress(sqlite3.Error):
            tree = conn.execute("SELECT data FROM folder_list WHERE id = 0").fetchone()
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return hashlib.sha256(repr((row, _tree_shown(tree))).encode()).hexdigest()


def _tree_shown(saved: Any) -> Any:
    """Of the saved folder list (`HeaderCache.save_folder_list`), what the tree draws: names,
    roles, subscription and the message and unseen counts, in any order; not RECENT (it falls to 0 once a
    session has seen the mail), UIDNEXT, MODSEQ or \\Marked, which change nothing drawn."""
    import json

    if not saved:
        return None
    try:
        rows = json.loads(saved[0])
        return sorted(  # the tree orders them itself: LIST's order varies from run to run
            (
                r[0],
                r[2],
                sorted(a for a in r[3] if a.lower() not in ("\\marked", "\\unmarked")),
                r[4],
                r[5],
                r[6][:2] if r[6] else None,
            )
            for r in rows
        )
    except (ValueError, TypeError, IndexError, KeyError, AttributeError):
        return saved


# -- the file ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Snapshot:
    width: int
    height: int
    key: str
    cache: str
    cache_file: str
    frame: str


def encode(snapshot: Snapshot) -> bytes:
    head = (
        f"{FORMAT}\nsize {snapshot.width} {snapshot.height}\nkey {snapshot.key}\n"
        f"cache {snapshot.cache}\nfile {snapshot.cache_file}\n\n"
    )
    return head.encode() + snapshot.frame.encode()


_HEAD = re.compile(
    rf"{re.escape(FORMAT)}\nsize ([0-9]{{1,4}}) ([0-9]{{1,4}})\nkey ([0-9a-f]{{64}})\n"
    r"cache ([0-9a-f]{64})\nfile ([^\x00-\x1f\x7f]{1,4096})\n\n"
)


def valid_frame(frame: str) -> bool:
    """Printable text and SGR / cursor-position / erase-line CSI only: nothing that could set a
    title, the clipboard (OSC 52), a link, a mode, or answer the terminal."""
    return _FORBIDDEN.search(_ALLOWED_CSI.sub("", frame)) is None


def decode(data: bytes) -> Snapshot | None:
    """The snapshot in `data`, or None when anything about it is not as termail writes it."""
    if len(data) > MAX_BYTES:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    head = _HEAD.match(text)
    if head is None:
        return None
    width, height = int(head.group(1)), int(head.group(2))
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        return None
    frame = text[head.end() :]
    if not frame or not valid_frame(frame):
        return None
    return Snapshot(width, height, head.group(3), head.group(4), head.group(5), frame)


def save(path: Path, snapshot: Snapshot) -> None:
    """Write atomically (a temporary file renamed over it), 0600, in a 0700 folder."""
    import tempfile

    from app.paths import private_dir

    if not valid_frame(snapshot.frame) or "\n" in snapshot.cache_file:
        raise ValueError("not a frame termail would paint")
    folder = private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=".splash-", dir=folder)  # mkstemp: 0600
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(encode(snapshot))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def load(
    path: Path, *, width: int, height: int, key: str, cache_file: Path | None = None
) -> Snapshot | None:
    """The snapshot at `path` when it is valid for this config/account/terminal and the header
    cache still holds what it showed; else None (and why, at debug level)."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError:
        return None
    snapshot = decode(data)
    if snapshot is None:
        log.debug("splash: %s is not a valid snapshot", path)
        return None
    if (snapshot.width, snapshot.height) != (width, height):
        log.debug(
            "splash: drawn at %sx%s, not %sx%s", snapshot.width, snapshot.height, width, height
        )
        return None
    if snapshot.key != key:
        log.debug("splash: the config, account or terminal changed")
        return None
    where = Path(snapshot.cache_file) if cache_file is None else cache_file
    if cache_fingerprint(where) != snapshot.cache:
        log.debug("splash: the header cache changed since the snapshot")
        return None
    return snapshot


# -- the terminal --------------------------------------------------------------------------------
class _Terminal:
    """What the splash changed on the terminal, to give back or hand to Textual."""

    def __init__(self) -> None:
        self.painted = False
        self.handed_over = False
        self.attrs: list[Any] | None = None
        self.old_sigterm: Any = None


TERMINAL = _Terminal()
IN_FD, OUT_FD = 0, 2  # Textual reads stdin and draws on stderr (its LinuxDriver)


def terminal_size() -> tuple[int, int] | None:
    """(columns, rows) of the terminal Textual will draw on, or None when it is not one."""
    try:
        if not (os.isatty(IN_FD) and os.isatty(OUT_FD)):
            return None
        size = os.get_terminal_size(OUT_FD)
    except OSError:
        return None
    return size.columns, size.lines


def _raw_attrs(attrs: list[Any]) -> list[Any]:
    """Textual's own input mode (its LinuxDriver's `_patch_lflag`/`_patch_iflag`), so the bytes
    typed during the splash are the ones Textual would have read, but with ISIG kept for
    Ctrl+C alone: it still stops a start that hangs before Textual runs."""
    import termios

    new = list(attrs)
    new[3] = attrs[3] & ~(termios.ECHO | termios.ICANON | termios.IEXTEN)
    new[0] = attrs[0] & ~(
        termios.IXON | termios.IXOFF | termios.ICRNL | termios.INLCR | termios.IGNCR
    )
    cc = list(attrs[6])
    cc[termios.VMIN] = 1
    # Ctrl+Z and Ctrl+\ would stop or dump the process with the terminal in this mode: typed
    # during the splash they are bytes for Textual, as they are once it runs (no ISIG there).
    cc[termios.VSUSP] = cc[termios.VQUIT] = b"\x00"  # _POSIX_VDISABLE
    new[6] = cc
    return new


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def paint(snapshot: Snapshot) -> bool:
    """The frame on the terminal: alternate screen, cursor hidden, echo and line mode off (the
    old mode is given back by `restore`, or by Textual's driver on quit). False when the
    terminal would not take it (nothing is left changed then)."""
    import termios

    if TERMINAL.painted:
        return True
    try:
        attrs = termios.tcgetattr(IN_FD)
        termios.tcsetattr(IN_FD, termios.TCSANOW, _raw_attrs(attrs))  # TCSANOW: input kept
    except (termios.error, OSError) as exc:
        log.debug("splash: terminal mode: %s", exc)
        return False
    TERMINAL.attrs = attrs
    TERMINAL.painted = True
    atexit.register(restore)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        TERMINAL.old_sigterm = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        _write_all(
            OUT_FD,
            b"\x1b[?1049h\x1b[?25l\x1b[?2026h"  # alternate screen, no cursor, one update
            + snapshot.frame.encode()
            + b"\x1b[0m\x1b[?2026l",
        )
    except OSError as exc:
        log.debug("splash: write: %s", exc)
        restore()
        return False
    return True


def hand_over() -> list[Any] | None:
    """Textual's driver takes the terminal: the mode to give back on quit (the one before the
    splash), or None when there was no splash."""
    if not TERMINAL.painted or TERMINAL.handed_over:
        return None
    TERMINAL.handed_over = True
    if TERMINAL.old_sigterm is not None:
        with contextlib.suppress(ValueError):
            signal.signal(signal.SIGTERM, TERMINAL.old_sigterm)
    return TERMINAL.attrs


def restore() -> None:
    """The terminal as before the splash, when Textual never took it over (an error, Ctrl+C,
    an exit before the app ran). Idempotent; nothing to do when there was no splash."""
    import termios

    if not TERMINAL.painted or TERMINAL.handed_over:
        return
    TERMINAL.handed_over = True  # once
    with contextlib.suppress(termios.error, OSError):
        if TERMINAL.attrs is not None:
            termios.tcsetattr(IN_FD, termios.TCSANOW, TERMINAL.attrs)
    with contextlib.suppress(OSError):
        _write_all(OUT_FD, b"\x1b[0m\x1b[?25h\x1b[?1049l")
    if TERMINAL.old_sigterm is not None:
        with contextlib.suppress(ValueError):
            signal.signal(signal.SIGTERM, TERMINAL.old_sigterm)


def painted() -> bool:
    """True when a splash is on the terminal and Textual has not taken it yet."""
    return TERMINAL.painted and not TERMINAL.handed_over


def try_splash(config_path: Path, config_bytes: bytes, account: str) -> bool:
    """Paint the snapshot of `account` under this config when it fits this terminal and the
    cache; True when painted. Never raises: a start without splash is a start all the same."""
    try:
        if os.environ.get("TERMAIL_NO_SPLASH"):
            return False
        size = terminal_size()
        if size is None:
            return False
        snapshot = load(
            snapshot_path(config_path, account),
            width=size[0],
            height=size[1],
            key=config_key(config_bytes, account),
        )
        return snapshot is not None and paint(snapshot)
    except Exception as exc:  # the splash is an optimisation: never a reason not to start
        log.debug("splash: %s", exc)
        return False


__all__ = [
    "Snapshot",
    "cache_fingerprint",
    "config_key",
    "decode",
    "encode",
    "hand_over",
    "load",
    "paint",
    "painted",
    "restore",
    "save",
    "snapshot_dir",
    "snapshot_path",
    "try_splash",
    "valid_frame",
]
