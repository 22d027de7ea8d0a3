"""The local header cache: one SQLite file per account, so a folder opens at once, even offline.

What is kept, per mailbox and UIDVALIDITY: the mailbox state (UIDNEXT, HIGHESTMODSEQ, EXISTS and
the UID list in display order, packed as 32-bit integers), one summary per message (flags and
MODSEQ in their own columns so a resync can rewrite them alone; envelope, size, INTERNALDATE and
BODYSTRUCTURE as compact JSON of lists, never pickle) and, in a size-bounded LRU table, the text
parts of messages that were read.

Why SQLite in WAL mode: every write is one transaction, so a kill -9 at any moment leaves the
last committed state; readers never wait for the writer. The cache is only a copy of the
server, so whatever goes wrong with the file (truncated, corrupt, written by another schema
version) ends in a rebuild and an empty cache, never a crash: the public methods log and answer
"nothing cached" instead of raising.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import json.scanner
import logging
import os
import re
import sqlite3
import sys
import threading
import zlib
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

from app.mime.termout import say
from app.models import Address, BodyPart, Envelope, Folder, FolderRole, FolderStatus, MessageSummary
from app.uids import UidArray

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_BODY_LIMIT",
    "SCHEMA_VERSION",
    "CachedMailbox",
    "HeaderCache",
    "account_cache_path",
    "cache_main",
    "decode_summary",
    "default_cache_dir",
    "encode_summary",
]

#: Bump when the layout changes; add a step to `MIGRATIONS` or let old files be rebuilt.
SCHEMA_VERSION = 1
#: Bytes of message text kept (after compression) before the least recently read goes.
DEFAULT_BODY_LIMIT = 50 * 1024 * 1024
#: Files up to this size get a full `PRAGMA quick_check` at open (about 10 ms); bigger ones only
#: the cheap header checks, since quick_check reads every page (a 100,000-message cache is
#: ~50 MB): damage there is found by the first query that touches it, or by `check()`.
QUICK_CHECK_MAX_BYTES = 16 * 1024 * 1024
#: Host parameters per `IN (...)` query (SQLite's old default limit is 999).
_CHUNK = 900
#: Bodies bigger than this are compressed (text compresses 3-5x; small ones are not worth it).
_COMPRESS_MIN = 512
_SQLITE_MAGIC = b"SQLite format 3\x00"
#: Primary result codes that mean the file itself is damaged.
_SQLITE_CORRUPT, _SQLITE_NOTADB = 11, 26

_SCHEMA = """
CREATE TABLE IF NOT EXISTS mailboxes (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    uidvalidity INTEGER NOT NULL,
    uidnext INTEGER,
    highestmodseq INTEGER,
    exists_count INTEGER NOT NULL DEFAULT 0,
    sort TEXT,
    uids BLOB,
    synced REAL
);
CREATE TABLE IF NOT EXISTS summaries (
    mbox INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    flags TEXT NOT NULL,
    modseq INTEGER,
    data TEXT NOT NULL,
    PRIMARY KEY (mbox, uid)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bodies (
    mbox INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    part TEXT NOT NULL,
    stamp INTEGER NOT NULL,
    size INTEGER NOT NULL,
    z INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS bodies_key ON bodies (mbox, uid, part);
CREATE INDEX IF NOT EXISTS bodies_lru ON bodies (stamp, size);
"""

#: Schema steps: MIGRATIONS[n] turns a version-n file into version n+1 inside one transaction.
#: A file whose version has no path to SCHEMA_VERSION (older without a step, or newer) is rebuilt.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {}


class _Corrupt(Exception):
    """The file is not a usable cache; the caller rebuilds it."""


# -- serialization ---------------------------------------------------------------------------
#
# A summary row's `data` is JSON of one list: [envelope, size, internaldate, bodystructure].
#   envelope:  [date, subject, from, sender, reply_to, to, cc, bcc, in_reply_to, message_id]
#              where sender / reply_to are 0 when equal to from (the usual case, and what Dovecot
#              sends when the headers are absent), and each address is [name, mailbox, host]
#              with a fourth item only when there is a route.
#   internaldate: [unix seconds, UTC offset in seconds] or null.
#   body part: [part_id, maintype, subtype, params, encoding, size, lines, children, envelope]
#              plus a tenth item, a dict of the rarely set fields, only when one is set.

_TZ: dict[int, timezone] = {}
_ADDR: dict[tuple[Any, ...], Address] = {}
_FLAGSETS: dict[str, frozenset[str]] = {"": frozenset()}
_EMPTY: tuple[Address, ...] = ()


def _tz(offset: int) -> timezone:
    tz = _TZ.get(offset)
    if tz is None:
        tz = UTC if offset == 0 else timezone(timedelta(seconds=offset))
        if len(_TZ) < 256:
            _TZ[offset] = tz
    return tz


def _enc_addrs(addrs: tuple[Address, ...]) -> list[list[str | None]]:
    return [
        [a.name, a.mailbox, a.host] if a.route is None else [a.name, a.mailbox, a.host, a.route]
        for a in addrs
    ]


def _dec_addrs(items: list[list[str | None]]) -> tuple[Address, ...]:
    if not items:
        return _EMPTY
    out = []
    for item in items:
        key = tuple(item)
        addr = _ADDR.get(key)
        if addr is None:
            addr = Address(*key)
            if len(_ADDR) < 20_000:
                _ADDR[key] = addr
        out.append(addr)
    return tuple(out)


def _enc_env(env: Envelope) -> list[Any]:
    frm = env.from_
    return [
        env.date,
        env.subject,
        _enc_addrs(frm),
        0 if env.sender == frm else _enc_addrs(env.sender),
        0 if env.reply_to == frm else _enc_addrs(env.reply_to),
        _enc_addrs(env.to),
        _enc_addrs(env.cc),
        _enc_addrs(env.bcc),
        env.in_reply_to,
        env.message_id,
    ]


def _dec_env(v: list[Any]) -> Envelope:
    date, subject, frm, sender, reply_to, to, cc, bcc, in_reply_to, message_id = v
    from_ = _dec_addrs(frm)
    return Envelope(
        date,
        subject,
        from_,
        from_ if sender == 0 else _dec_addrs(sender),
        from_ if reply_to == 0 else _dec_addrs(reply_to),
        _dec_addrs(to),
        _dec_addrs(cc),
        _dec_addrs(bcc),
        in_reply_to,
        message_id,
    )


def _enc_part(p: BodyPart) -> list[Any]:
    out: list[Any] = [
        p.part_id,
        p.maintype,
        p.subtype,
        p.params,
        p.encoding,
        p.size,
        p.lines,
        [_enc_part(c) for c in p.children],
        None if p.envelope is None else _enc_env(p.envelope),
    ]
    extra: dict[str, Any] = {}
    if p.content_id is not None:
        extra["i"] = p.content_id
    if p.description is not None:
        extra["d"] = p.description
    if p.md5 is not None:
        extra["m"] = p.md5
    if p.disposition is not None:
        extra["D"] = p.disposition
    if p.disposition_params:
        extra["P"] = p.disposition_params
    if p.language:
        extra["L"] = list(p.language)
    if p.location is not None:
        extra["l"] = p.location
    if extra:
        out.append(extra)
    return out


def _dec_part(v: list[Any], depth: int = 0) -> BodyPart:
    if depth > 200:
        raise ValueError("body structure nested too deeply")
    if len(v) == 9:
        part_id, maintype, subtype, params, encoding, size, lines, children, env = v
    else:
        part_id, maintype, subtype, params, encoding, size, lines, children, env, _ = v
    part = BodyPart(
        part_id,
        maintype,
        subtype,
        params,
        None,
        None,
        encoding,
        size,
        lines,
        None,
        None,
        {},
        (),
        None,
        [_dec_part(c, depth + 1) for c in children] if children else [],
        None if env is None else _dec_env(env),
    )
    if len(v) > 9:
        extra = v[9]
        part.content_id = extra.get("i")
        part.description = extra.get("d")
        part.md5 = extra.get("m")
        part.disposition = extra.get("D")
        part.disposition_params = extra.get("P") or {}
        part.language = tuple(extra.get("L") or ())
        part.location = extra.get("l")
    return part


def encode_summary(s: MessageSummary) -> str:
    """The `data` column of a summary row (flags and MODSEQ are kept in columns of their own)."""
    date = s.internaldate
    when: list[float] | None = None
    if date is not None:
        offset = date.utcoffset()
        stamp = date.timestamp()
        when = [
            int(stamp) if stamp.is_integer() else stamp,
            int(offset.total_seconds()) if offset is not None else 0,
        ]
    body = None if s.bodystructure is None else _enc_part(s.bodystructure)
    value = [_enc_env(s.envelope), s.size, when, body]
    data = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    if not data.isascii():
        try:
            data.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: SQLite stores UTF-8 only
            data = json.dumps(value, separators=(",", ":"))
    return data


def _flags(text: str) -> frozenset[str]:
    fs = _FLAGSETS.get(text)
    if fs is None:
        fs = frozenset(text.split(" "))
        if len(_FLAGSETS) < 1024:
            _FLAGSETS[text] = fs
    return fs


def _flags_text(flags: Iterable[str]) -> str:
    """Flags are atoms (no spaces), so a space-joined string is unambiguous.

    \\Recent is left out: it belongs to one session (RFC 3501 2.3.2), so a cache that outlives
    the session must not remember it, and no MODSEQ tells when it goes away.
    """
    return " ".join(sorted(f for f in flags if f and " " not in f and f.lower() != "\\recent"))


_make_scanner: Any = getattr(json.scanner, "c_make_scanner", None)
_SCAN: Any = _make_scanner(json.JSONDecoder()) if _make_scanner is not None else None


def _loads(data: str) -> Any:
    """json.loads without its wrappers: the C scanner alone is a third faster on small rows."""
    if _SCAN is None:  # pragma: no cover
        return json.loads(data)
    try:
        value, end = _SCAN(data, 0)
    except StopIteration:
        raise ValueError("not JSON") from None
    if end != len(data):
        raise ValueError("trailing data after JSON")
    return value


def decode_summary(uid: int, flags: str, modseq: int | None, data: str) -> MessageSummary:
    """A summary from its row; raises ValueError (or TypeError) when the row is damaged."""
    env, size, when, body = _loads(data)
    date = None
    if when is not None:
        ts, offset = when
        date = datetime.fromtimestamp(ts, _tz(offset))
    return MessageSummary(
        uid,
        _flags(flags),
        _dec_env(env),
        size,
        date,
        None if body is None else _dec_part(body),
        modseq,
    )


def _pack_uids(uids: Iterable[int]) -> bytes:
    """UIDs as little-endian 32-bit integers: 400 KB for 100,000 messages (a UidArray's own
    bytes, not a copy made through an iteration of 1,000,000 ints)."""
    little = sys.byteorder == "little"
    if isinstance(uids, array) and uids.typecode == "I" and uids.itemsize == 4 and little:
        return uids.tobytes()
    arr = array("I", uids)
    if sys.byteorder != "little":
        arr.byteswap()
    return arr.tobytes()


def _unpack_uids(blob: bytes | None) -> UidArray:
    """The stored list as a UidArray (400 KB at 100,000, not 3.6 MB of ints)."""
    if not blob:
        return UidArray()
    if len(blob) % 4:
        raise ValueError("UID list length is not a multiple of 4")
    arr = UidArray(blob)
    if sys.byteorder != "little":
        arr.byteswap()
    return arr


# -- the cache -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CachedMailbox:
    """What the cache remembers of one mailbox: enough to draw the list and to resync."""

    name: str
    uidvalidity: int
    uidnext: int | None
    highestmodseq: int | None
    exists: int
    uids: Sequence[int]
    """UIDs in display order (the order of `sort`; ascending UID when `sort` is None)."""
    sort: str | None = None
    synced: float | None = None
    """Unix time of the last save: how stale the list may be."""


def _is_corruption(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int) and (code & 0xFF) in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return True
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text or "corrupt" in text


T = TypeVar("T")


class HeaderCache:
    """One account's cache file. Thread-safe; every public method is safe to call at any time.

    Reads answer "nothing cached" and writes are dropped (with a log line) when the file is
    unusable; a damaged file is deleted and recreated empty.
    """

    def __init__(self, path: Path, conn: sqlite3.Connection, body_limit: int) -> None:
        self.path = path
        self.body_limit = body_limit
        self._conn: sqlite3.Connection | None = conn
        self._lock = threading.RLock()
        self._depth = 0
        self.rebuilds = 0
        """How many times the file was found damaged and rebuilt since open (tests read it)."""

    # -- opening ---------------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: Path | str,
        *,
        body_limit: int = DEFAULT_BODY_LIMIT,
        full_check: bool | None = None,
    ) -> HeaderCache:
        """Open or create the cache file at `path`; a damaged or foreign file is rebuilt.

        `full_check` forces (or skips) `PRAGMA quick_check`; by default it runs on files up to
        QUICK_CHECK_MAX_BYTES.
        """
        path = Path(path)
        rebuilt = 0
        try:
            from app.paths import private_dir

            private_dir(path.parent)  # 0700 on every level made
            conn = _open_checked(path, full_check)
        except (_Corrupt, sqlite3.DatabaseError, ValueError, OSError) as exc:
            log.warning("header cache %s unusable (%s): rebuilding it", path, exc)
            rebuilt = 1
            try:
                _remove_files(path)
                conn = _open_checked(path, False)
            except (_Corrupt, sqlite3.Error, ValueError, OSError) as again:
                # An unwritable folder: run on a cache in memory rather than not at all.
                log.warning("header cache %s cannot be created (%s): in memory", path, again)
                conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
                _ensure_schema(conn)
        cache = cls(path, conn, body_limit)
        cache.rebuilds = rebuilt
        return cache

    def _rebuild(self, why: BaseException) -> None:
        """Throw the damaged file away and start empty (the server has everything)."""
        log.warning("header cache %s damaged (%s): rebuilding it", self.path, why)
        self.rebuilds += 1
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
        self._conn = None
        self._depth = 0
        _remove_files(self.path)
        try:
            self._conn = _open_checked(self.path, False)
        except (OSError, sqlite3.Error, _Corrupt) as exc:
            log.warning("header cache %s cannot be recreated: %s", self.path, exc)

    def _run(self, default: T, fn: Callable[[sqlite3.Connection], T], *, write: bool) -> T:
        """Run `fn` (in a transaction when `write`), turning every failure into `default`."""
        with self._lock:
            conn = self._conn
            if conn is None:
                return default
            try:
                if not write:
                    return fn(conn)
                with self._transaction(conn):
                    return fn(conn)
            except sqlite3.Error as exc:
                if _is_corruption(exc):
                    self._rebuild(exc)
                else:
                    log.warning("header cache %s: %s", self.path, exc)
                return default
            except (ValueError, OverflowError, UnicodeError) as exc:
                # Data SQLite cannot bind (a huge integer, a lone surrogate): drop the call.
                log.warning("header cache %s: value not stored: %s", self.path, exc)
                return default

    @contextlib.contextmanager
    def _transaction(self, conn: sqlite3.Connection) -> Iterator[None]:
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        self._depth = 0
        conn.execute("COMMIT")

    @contextlib.contextmanager
    def batch(self) -> Iterator[HeaderCache]:
        """Make every write inside the `with` one transaction (a resync commits all or nothing)."""
        with self._lock:
            conn = self._conn
            if conn is None:
                yield self
                return
            try:
                with self._transaction(conn):
                    yield self
            except sqlite3.Error as exc:
                if _is_corruption(exc):
                    self._rebuild(exc)
                else:
                    log.warning("header cache %s: %s", self.path, exc)

    def close(self) -> None:
        """Close the file; further calls answer "nothing cached"."""
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is None:
                return
            with contextlib.suppress(sqlite3.Error):
                conn.execute("PRAGMA optimize")
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def __enter__(self) -> HeaderCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._conn is None

    # -- mailboxes -------------------------------------------------------------------------------
    @staticmethod
    def _mbox_id(
        conn: sqlite3.Connection, name: str, uidvalidity: int, *, create: bool
    ) -> int | None:
        """The row id of (name, uidvalidity); a stale UIDVALIDITY drops the old rows first."""
        row = conn.execute(
            "SELECT id, uidvalidity FROM mailboxes WHERE name = ?", (name,)
        ).fetchone()
        if row is not None and row[1] == uidvalidity:
            return int(row[0])
        if not create:
            return None
        if row is not None:
            _drop_rows(conn, int(row[0]))
        cur = conn.execute(
            "INSERT INTO mailboxes (name, uidvalidity) VALUES (?, ?)", (name, uidvalidity)
        )
        return int(cur.lastrowid or 0)

    def mailbox_state(self, mailbox: str) -> CachedMailbox | None:
        """The remembered state of `mailbox`, or None when nothing (usable) is cached."""

        def go(conn: sqlite3.Connection) -> CachedMailbox | None:
            row = conn.execute(
                "SELECT uidvalidity, uidnext, highestmodseq, exists_count, sort, uids, synced"
                " FROM mailboxes WHERE name = ?",
                (mailbox,),
            ).fetchone()
            if row is None or row[5] is None:
                # None too where summaries or bodies were kept but the folder was never
                # listed (rows shown while its SORT was under way, issue 21): no UID list.
                return None
            uidvalidity, uidnext, modseq, exists, sort, blob, synced = row
            try:
                uids = _unpack_uids(blob)
            except ValueError:
                return None
            return CachedMailbox(mailbox, uidvalidity, uidnext, modseq, exists, uids, sort, synced)

        return self._run(None, go, write=False)

    def mailboxes(self) -> list[str]:
        """Names of the mailboxes with anything cached."""
        return self._run(
            [],
            lambda c: [r[0] for r in c.execute("SELECT name FROM mailboxes ORDER BY name")],
            write=False,
        )

    def save_mailbox_state(
        self,
        mailbox: str,
        *,
        uidvalidity: int,
        uidnext: int | None,
        highestmodseq: int | None,
        exists: int,
        uids: Sequence[int],
        sort: str | None = None,
        synced: float | None = None,
    ) -> None:
        """Remember the state after a sync; a new UIDVALIDITY drops everything kept before."""
        import time

        try:
            blob = _pack_uids(uids)
        except (OverflowError, TypeError) as exc:
            log.warning("header cache: UID list not stored: %s", exc)
            return

        def go(conn: sqlite3.Connection) -> None:
            mbox = self._mbox_id(conn, mailbox, uidvalidity, create=True)
            conn.execute(
                "UPDATE mailboxes SET uidnext = ?, highestmodseq = ?, exists_count = ?, sort = ?,"
                " uids = ?, synced = ? WHERE id = ?",
                (
                    uidnext,
                    highestmodseq,
                    exists,
                    sort,
                    blob,
                    time.time() if synced is None else synced,
                    mbox,
                ),
            )

        self._run(None, go, write=True)

    def drop_mailbox(self, mailbox: str) -> None:
        """Forget everything about `mailbox` (deleted on the server, or UIDVALIDITY changed)."""

        def go(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT id FROM mailboxes WHERE name = ?", (mailbox,)).fetchone()
            if row is not None:
                _drop_rows(conn, int(row[0]))

        self._run(None, go, write=True)

    # -- summaries -------------------------------------------------------------------------------
    def get_summaries(
        self, mailbox: str, uidvalidity: int | None, uids: Iterable[int]
    ) -> dict[int, MessageSummary]:
        """The cached summaries among `uids`; damaged rows count as missing."""
        wanted = list(uids)
        if uidvalidity is None or not wanted:
            return {}

        def go(conn: sqlite3.Connection) -> dict[int, MessageSummary]:
            mbox = self._mbox_id(conn, mailbox, uidvalidity, create=False)
            out: dict[int, MessageSummary] = {}
            if mbox is None:
                return out
            for chunk in _chunks(wanted):
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    f"SELECT uid, flags, modseq, data FROM summaries"
                    f" WHERE mbox = ? AND uid IN ({marks})",
                    (mbox, *chunk),
                ).fetchall()
                for uid, flags, modseq, data in rows:
                    try:
                        out[uid] = decode_summary(uid, flags, modseq, data)
                    except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
                        log.debug("header cache: damaged summary row %s/%s skipped", mailbox, uid)
            return out

        return self._run({}, go, write=False)

    def recent_envelopes(self, mailbox: str, limit: int = 20_000) -> list[Envelope]:
        """The envelopes of the newest `limit` cached messages of `mailbox` (any UIDVALIDITY
        still cached): what address completion learns from; damaged rows are skipped."""

        def go(conn: sqlite3.Connection) -> list[Envelope]:
            row = conn.execute("SELECT id FROM mailboxes WHERE name = ?", (mailbox,)).fetchone()
            if row is None:
                return []
            out: list[Envelope] = []
            rows = conn.execute(
                "SELECT data FROM summaries WHERE mbox = ? ORDER BY uid DESC LIMIT ?",
                (row[0], max(0, int(limit))),
            )
            for (data,) in rows:
                try:
                    out.append(_dec_env(_loads(data)[0]))
                except (ValueError, TypeError, KeyError, IndexError, AttributeError):
                    continue
            return out

        return self._run([], go, write=False)

    def cached_uids(self, mailbox: str, uidvalidity: int | None) -> set[int]:
        """The UIDs that have a summary cached (cheap: read from the primary key only)."""
        if uidvalidity is None:
            return set()

        def go(conn: sqlite3.Connection) -> set[int]:
            mbox = self._mbox_id(conn, mailbox, uidvalidity, create=False)
            if mbox is None:
                return set()
            return {r[0] for r in conn.execute("SELECT uid FROM summaries WHERE mbox = ?", (mbox,))}

        return self._run(set(), go, write=False)

    def put_summaries(
        self, mailbox: str, uidvalidity: int, summaries: Iterable[MessageSummary]
    ) -> int:
        """Store (or replace) summaries; returns how many were stored."""
        rows = []
        for s in summaries:
            try:
                if not 0 < s.uid < 2**32 or (s.modseq is not None and not 0 <= s.modseq < 2**63):
                    raise ValueError("UID or MODSEQ out of range")
                flags = _flags_text(s.flags)
                flags.encode("utf-8")
                rows.append((s.uid, flags, s.modseq, encode_summary(s)))
            except (TypeError, ValueError, AttributeError, OverflowError) as exc:
                log.debug("header cache: summary %r not stored: %s", getattr(s, "uid", None), exc)
        if not rows:
            return 0

        def go(conn: sqlite3.Connection) -> int:
            mbox = self._mbox_id(conn, mailbox, uidvalidity, create=True)
            conn.executemany(
                "INSERT OR REPLACE INTO summaries (mbox, uid, flags, modseq, data)"
                " VALUES (?, ?, ?, ?, ?)",
                [(mbox, *r) for r in rows],
            )
            return len(rows)

        return self._run(0, go, write=True)

    def update_flags(
        self,
        mailbox: str,
        uidvalidity: int,
        flags: Mapping[int, Iterable[str]],
        modseqs: Mapping[int, int] | None = None,
    ) -> int:
        """Set the flags (and MODSEQ) of cached summaries; UIDs not cached are ignored."""
        modseqs = modseqs or {}
        rows = [(_flags_text(f), modseqs.get(uid), uid) for uid, f in flags.items()]
        if not rows:
            return 0

        def go(conn: sqlite3.Connection) -> int:
            mbox = self._mbox_id(conn, mailbox, uidvalidity, create=False)
            if mbox is None:
                return 0
            cur = conn.executemany(
                "UPDATE summaries SET flags = ?, modseq = coalesce(?, modseq)"
                " WHERE mbox = ? AND uid = ?",
                [(f, m, mbox, uid) for f, m, uid in rows],
            )
            return int(cur.rowcount)

        return self._run(0, go, write=True)

    def remove_uids(self, mailbox: str, uidvalidity: int, uids: Iterable[int]) -> None:
        """Forget expunged messages: their summaries, bodies and place in the UID list."""
        gone = set(uids)
        if not gone:
            return

        def go(conn: sqlite3.Connection) -> None:
            mbox = self._mbox_id(conn, mailbox, uidvalidity, create=False)
            if mbox is None:
                return
            ordered = sorted(gone)
            for chunk in _chunks(ordered):
                marks = ",".join("?" * len(chunk))
                conn.execute(
                    f"DELETE FROM summaries WHERE mbox = ? AND uid IN ({marks})", (mbox, *chunk)
                )
                conn.execute(
                    f"DELETE FROM bodies WHERE mbox = ? AND uid IN ({marks})", (mbox, *chunk)
                )
            row = conn.execute(
                "SELECT uids, exists_count FROM mailboxes WHERE id = ?", (mbox,)
            ).fetchone()
            if row is not None and row[0]:
                try:
                    old = _unpack_uids(row[0])
                except ValueError:
                    old = UidArray()
                kept = [u for u in old if u not in gone]
                if len(kept) != len(old):
                    conn.execute(
                        "UPDATE mailboxes SET uids = ?, exists_count = ? WHERE id = ?",
                        (_pack_uids(kept), max(0, row[1] - (len(old) - len(kept))), mbox),
                    )

        self._run(None, go, write=True)

    # -- bodies ----------------------------------------------------------------------------------
    def get_body(
        self, mailbox: str, uidvalidity: int | None, uid: int, part_id: str
    ) -> bytes | None:
        """A cached part (e.g. "1.1", or "HEADER"), marked as just used; None when absent."""
        if uidvalidity is None:
            return None

        def go(conn: sqlite3.Connection) -> bytes | None:
            mbox = self._mbox_id(conn, mailbox, uidvalidity, create=False)
            if mbox is None:
                return None
            row = conn.execute(
                "SELECT rowid, z, data FROM bodies WHERE mbox = ? AND uid = ? AND part = ?",
                (mbox, uid, part_id),
            ).fetchone()
            if row is None:
                return None
            rowid, z, data = row
            conn.execute(
                "UPDATE bodies SET stamp = (SELECT coalesce(max(stamp), 0) + 1 FROM bodies)"
                " WHERE rowid = ?",
                (rowid,),
            )
            if not z:
                return bytes(data)
            try:
                return zlib.decompress(data)
            except zlib.error:
                conn.execute("DELETE FROM bodies WHERE rowid = ?", (rowid,))
                return None

        return self._run(None, go, write=True)

    def put_body(self, mailbox: str, uidvalidity: int, uid: int, part_id: str, data: bytes) -> bool:
        """Keep a part's bytes, evicting the least recently used past `body_limit`."""
        stored, z = bytes(data), 0
        if len(stored) >= _COMPRESS_MIN:
            packed = zlib.compress(stored, 1)
            if len(packed) < len(stored) * 0.9:
                stored, z = packed, 1
        size = len(stored) + len(part_id) + 32
        if size > self.body_limit:
            return False

        def go(conn: sqlite3.Connection) -> bool:
            mbox = self._mbox_id(conn, mailbox, uidvalidity, create=True)
            conn.execute(
                "INSERT OR REPLACE INTO bodies (mbox, uid, part, stamp, size, z, data) VALUES"
                " (?, ?, ?, (SELECT coalesce(max(stamp), 0) + 1 FROM bodies), ?, ?, ?)",
                (mbox, uid, part_id, size, z, stored),
            )
            self._evict(conn)
            return True

        return self._run(False, go, write=True)

    def _evict(self, conn: sqlite3.Connection) -> None:
        total = conn.execute("SELECT total(size) FROM bodies").fetchone()[0]
        excess = int(total) - self.body_limit
        while excess > 0:
            rows = conn.execute("SELECT stamp, size FROM bodies ORDER BY stamp LIMIT 64").fetchall()
            if not rows:
                break
            cut = rows[-1][0]
            freed = 0
            for stamp, size in rows:
                freed += size
                if excess - freed <= 0:
                    cut = stamp
                    break
            conn.execute("DELETE FROM bodies WHERE stamp <= ?", (cut,))
            excess -= freed

    def body_bytes(self) -> int:
        """Bytes the body table holds now (after compression, with a small per-row overhead)."""
        return self._run(
            0, lambda c: int(c.execute("SELECT total(size) FROM bodies").fetchone()[0]), write=False
        )

    # -- the folder list ---------------------------------------------------------------------------
    # One row (JSON), in a table made on first write: older files need no schema step, and the
    # tree is drawn at start-up before the server answers LIST and STATUS.
    def save_folder_list(
        self, folders: Sequence[Folder], statuses: Mapping[str, FolderStatus]
    ) -> None:
        """Remember the folder tree and its counts as the server last listed them."""
        rows: list[list[Any]] = []
        for f in folders:
            st = statuses.get(f.name)
            counts = None
            if st is not None:
                counts = [
                    st.messages,
                    st.unseen,
                    st.recent,
                    st.uidnext,
                    st.uidvalidity,
                    st.highestmodseq,
                ]
            rows.append(
                [
                    f.name,
                    f.raw_name,
                    f.delimiter,
                    sorted(f.attributes),
                    f.role.value,
                    f.subscribed,
                    counts,
                ]
            )
        data = json.dumps(rows, ensure_ascii=False)

        def go(conn: sqlite3.Connection) -> None:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS folder_list (id INTEGER PRIMARY KEY, data TEXT NOT NULL)"
            )
            conn.execute("INSERT OR REPLACE INTO folder_list (id, data) VALUES (0, ?)", (data,))

        self._run(None, go, write=True)

    def folder_list(self) -> tuple[list[Folder], dict[str, FolderStatus]] | None:
        """The folders and counts last saved, or None (never saved, or unreadable)."""

        def go(conn: sqlite3.Connection) -> str | None:
            known = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'folder_list'"
            ).fetchone()
            if known is None:
                return None
            row = conn.execute("SELECT data FROM folder_list WHERE id = 0").fetchone()
            return None if row is None else str(row[0])

        data = self._run(None, go, write=False)
        if data is None:
            return None
        try:
            return _decode_folders(json.loads(data))
        except (ValueError, TypeError, IndexError, KeyError):
            log.warning("header cache %s: folder list unreadable, ignored", self.path)
            return None

    # -- whole file --------------------------------------------------------------------------------
    def clear(self) -> None:
        """Forget everything (the file stays, empty and shrunk)."""

        def go(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM summaries")
            conn.execute("DELETE FROM bodies")
            conn.execute("DELETE FROM mailboxes")
            conn.execute("DROP TABLE IF EXISTS folder_list")

        def shrink(conn: sqlite3.Connection) -> None:
            conn.execute("VACUUM")  # outside any transaction, so not part of `go`

        self._run(None, go, write=True)
        self._run(None, shrink, write=False)

    def check(self) -> bool:
        """`PRAGMA quick_check` on a connection of its own; a damaged file is rebuilt.

        Reads the whole file (tens of ms per 50 MB from the page cache, more from disk), so the
        app runs it in a thread worker after the first screen, not at start; the cache stays
        usable meanwhile (WAL readers do not block). True when the file was sound.
        """
        if self._conn is None:
            return False
        problem: BaseException | None = None
        try:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5.0)
        except sqlite3.Error as exc:
            problem = exc
        else:
            try:
                rows = conn.execute("PRAGMA quick_check").fetchall()
                if rows != [("ok",)]:
                    problem = _Corrupt(f"quick_check: {rows[:3]}")
            except sqlite3.Error as exc:
                if _is_corruption(exc):
                    problem = exc
                else:  # busy or I/O trouble says nothing about the file
                    log.warning("header cache %s: check not done: %s", self.path, exc)
                    return True
            finally:
                conn.close()
        if problem is None:
            return True
        with self._lock:
            self._rebuild(problem)
        return False


def _decode_folders(rows: Any) -> tuple[list[Folder], dict[str, FolderStatus]]:
    """`save_folder_list`'s JSON back into folders and counts; raises on any wrong shape."""
    if not isinstance(rows, list):
        raise ValueError("not a list")
    folders: list[Folder] = []
    statuses: dict[str, FolderStatus] = {}
    for name, raw, delim, attrs, role, subscribed, counts in rows:
        if not isinstance(name, str) or not isinstance(raw, str):
            raise TypeError("folder name")
        if delim is not None and not isinstance(delim, str):
            raise TypeError("delimiter")
        folder = Folder(
            name,
            raw,
            delim,
            frozenset(str(a) for a in attrs),
            FolderRole(role),
            bool(subscribed),
        )
        folders.append(folder)
        if counts is not None:
            messages, unseen, recent, uidnext, validity, modseq = counts
            statuses[name] = FolderStatus(
                int(messages),
                int(unseen),
                int(recent),
                None if uidnext is None else int(uidnext),
                None if validity is None else int(validity),
                None if modseq is None else int(modseq),
            )
    return folders, statuses


def _drop_rows(conn: sqlite3.Connection, mbox: int) -> None:
    conn.execute("DELETE FROM summaries WHERE mbox = ?", (mbox,))
    conn.execute("DELETE FROM bodies WHERE mbox = ?", (mbox,))
    conn.execute("DELETE FROM mailboxes WHERE id = ?", (mbox,))


def _chunks(items: Sequence[int]) -> Iterator[Sequence[int]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


def _remove_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{path}{suffix}")


def _header_problem(path: Path) -> str | None:
    """Cheap checks of the file header: the magic and, where the header vouches for it, size."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return None
    if size == 0:
        return None
    with open(path, "rb") as f:
        head = f.read(100)
    if len(head) < 100 or not head.startswith(_SQLITE_MAGIC):
        return "not an SQLite file"
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        return "bad page size"
    wal = Path(f"{path}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        # A kill during a checkpoint can leave the file shorter than its header says until
        # SQLite replays the log: only the checks below can tell real damage then.
        return None
    pages = int.from_bytes(head[28:32], "big")
    change_counter = int.from_bytes(head[24:28], "big")
    valid_for = int.from_bytes(head[92:96], "big")
    if pages and change_counter == valid_for and size < pages * page_size:
        return f"truncated: {size} bytes, header says {pages * page_size}"
    if size % page_size:
        return "size is not a whole number of pages"
    return None


def _open_checked(path: Path, full_check: bool | None) -> sqlite3.Connection:
    """Connect, check, and bring the schema to SCHEMA_VERSION; raise _Corrupt when unusable."""
    problem = _header_problem(path)
    if problem is not None:
        raise _Corrupt(problem)
    existed = path.exists() and path.stat().st_size > 0
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5.0)
    try:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            log.debug("header cache %s: journal mode %s", path, mode)
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA temp_store=MEMORY")
        conn.execute("PRAGMA mmap_size=268435456")
        conn.execute("PRAGMA cache_size=-8192")
        if full_check is None:
            full_check = existed and path.stat().st_size <= QUICK_CHECK_MAX_BYTES
        if full_check:
            rows = conn.execute("PRAGMA quick_check").fetchall()
            if rows != [("ok",)]:
                raise _Corrupt(f"quick_check: {rows[:3]}")
        _ensure_schema(conn)
    except BaseException:
        conn.close()
        raise
    with contextlib.suppress(OSError):
        os.chmod(path, 0o600)
    return conn


def _ensure_schema(conn: sqlite3.Connection) -> None:
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if version == SCHEMA_VERSION:
        if not {"mailboxes", "summaries", "bodies"} <= tables:
            raise _Corrupt("tables missing")
        return
    if version == 0 and not tables:
        # One script, one transaction: a kill during creation leaves an empty file, not half.
        conn.executescript(
            f"BEGIN IMMEDIATE;{_SCHEMA}PRAGMA user_version = {SCHEMA_VERSION};COMMIT;"
        )
        return
    while version < SCHEMA_VERSION and version in MIGRATIONS:
        conn.execute("BEGIN IMMEDIATE")
        try:
            MIGRATIONS[version](conn)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        version += 1
    if version != SCHEMA_VERSION:
        raise _Corrupt(f"schema version {version}, this termail uses {SCHEMA_VERSION}")


# -- where the files live, and `termail cache` --------------------------------------------------

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._@+-]")


def default_cache_dir() -> Path:
    """termail's cache folder (`$XDG_CACHE_HOME/termail` or the platform's)."""
    try:
        from app.paths import cache_dir
    except ImportError:  # pragma: no cover - paths.py is part of the app
        import platformdirs

        return Path(platformdirs.user_cache_dir("termail"))
    return cache_dir()


def account_cache_path(account: str, base: Path | None = None) -> Path:
    """The cache file of one account: `<cache dir>/headers/<account>.sqlite3`."""
    safe = _SAFE_NAME.sub(lambda m: f"%{ord(m.group()):02X}", account) or "%"
    if safe.startswith("."):
        safe = "%2E" + safe[1:]
    return (base or default_cache_dir()) / "headers" / f"{safe}.sqlite3"


def _cache_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.name.endswith(".sqlite3"))


def _splash_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return [
        p for p in folder.iterdir() if p.name.endswith(".frame") or p.name.startswith(".splash-")
    ]


def cache_main(argv: list[str]) -> int:
    """`termail cache clear [--account NAME]` and `termail cache info`."""
    parser = argparse.ArgumentParser(prog="termail cache", description="The local header cache.")
    sub = parser.add_subparsers(dest="command", required=True)
    clear = sub.add_parser("clear", help="delete the cached headers and message text")
    clear.add_argument("--account", help="only this account's cache")
    clear.add_argument("--cache-dir", type=Path, help=argparse.SUPPRESS)
    info = sub.add_parser("info", help="where the cache is and how big")
    info.add_argument("--cache-dir", type=Path, help=argparse.SUPPRESS)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    base: Path = args.cache_dir or default_cache_dir()
    folder = base / "headers"
    if args.command == "info":
        files = _cache_files(folder)
        say(f"cache folder: {folder}")
        for p in files:
            size = sum(
                Path(f"{p}{s}").stat().st_size
                for s in ("", "-wal", "-shm")
                if Path(f"{p}{s}").exists()
            )
            say(f"  {p.name}: {size / 1e6:.1f} MB")
        if not files:
            say("  (empty)")
        return 0
    if args.account is not None:
        targets = [account_cache_path(args.account, base)]
        targets = [p for p in targets if p.exists()]
        if not targets:
            say(f"no cache for account {args.account!r} in {folder}")
            return 0
    else:
        targets = _cache_files(folder)
    freed = 0
    for p in targets:
        for suffix in ("", "-wal", "-shm", "-journal"):
            f = Path(f"{p}{suffix}")
            with contextlib.suppress(FileNotFoundError):
                freed += f.stat().st_size
                f.unlink()
    for p in _splash_files(base / "splash"):  # the start screens kept for app.splash go too
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
    what = f"account {args.account!r}" if args.account is not None else "all accounts"
    say(f"cleared the cache of {what}: {len(targets)} file(s), {freed / 1e6:.1f} MB, in {folder}")
    return 0
