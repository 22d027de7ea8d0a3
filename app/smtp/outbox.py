"""The local outbox (mail waiting to be submitted) and the draft autosave store, on disk.

No message the user wrote may be lost: every file here is written Maildir-style (to `tmp/`,
fsync, rename into place, fsync the folder), so a crash or SIGKILL leaves either the old file or
the new one, never half of one. An outbox entry is one file: a header line, its metadata as one
JSON line, then the message bytes, so the message and its state change together.

Retries back off exponentially (30 s, 1 min, 2 min, ... at most 1 h). A permanent refusal (5xx)
keeps the entry, marked failed with the server's words, until the user retries or cancels it.
"""

from __future__ import annotations

import builtins
import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from app.mime.compose import ComposeError, Draft
from app.paths import private_dir
from app.smtp.submit import SendResult, SmtpError, SmtpRecipientsRefused

__all__ = [
    "BACKOFF_BASE",
    "BACKOFF_CAP",
    "Attempt",
    "DraftInfo",
    "DraftNotFound",
    "DraftStore",
    "DraftStoreError",
    "EntryNotFound",
    "Outbox",
    "OutboxEntry",
    "OutboxError",
    "atomic_write",
    "backoff_delay",
    "process",
]

BACKOFF_BASE = 30.0
BACKOFF_CAP = 3600.0
_MAGIC = b"TERMAIL-OUTBOX 1\n"
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,120}$")
#: A file left in tmp/ this long ago belongs to a write that died; it was never committed.
STALE_TMP_SECONDS = 3600.0


class OutboxError(Exception):
    """The outbox or draft store cannot do what was asked; the message says why."""


class EntryNotFound(OutboxError, KeyError):
    """No outbox entry with this id (sent, or cancelled by the user)."""


class DraftStoreError(OutboxError):
    """A saved draft cannot be read or written."""


class DraftNotFound(DraftStoreError, KeyError):
    """No saved draft with this id."""


def backoff_delay(attempts: int) -> float:
    """Seconds to wait after `attempts` failed tries: 30, 60, 120, ... capped at an hour."""
    if attempts <= 0:
        return 0.0
    return min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** min(attempts - 1, 20))


def _unique_name() -> str:
    """A Maildir-style unique name: time, microseconds, pid, randomness, host."""
    now = time.time()
    host = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"
    return f"{int(now)}.M{int(now * 1e6) % 1_000_000}P{os.getpid()}R{secrets.token_hex(6)}.{host}"


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write(target: Path, data: bytes, tmp_dir: Path | None = None) -> None:
    """Write `data` to `target` so that a crash leaves the old file or the new, never a part.

    The bytes go to a unique file in `tmp_dir` (same file system), are fsynced, renamed over
    `target`, and the folder is fsynced so the rename itself survives a power cut.
    """
    tmp_dir = tmp_dir or target.parent
    tmp = tmp_dir / f"{_unique_name()}.{target.name}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    os.close(fd)
    try:
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(target.parent)


def _clean_tmp(tmp_dir: Path, older_than: float) -> None:
    """Remove what dead writers left in tmp/ (never committed, so nothing is lost)."""
    limit = time.time() - older_than
    with contextlib.suppress(OSError):
        for entry in os.scandir(tmp_dir):
            with contextlib.suppress(OSError):
                if entry.is_file() and entry.stat().st_mtime < limit:
                    os.unlink(entry.path)


def _check_id(entry_id: str) -> str:
    if not isinstance(entry_id, str) or not _ID_RE.match(entry_id):
        raise EntryNotFound(entry_id)
    return entry_id


# -- the outbox -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One message waiting in the outbox, and what happened at its last try.

    `recipients` are those the message has not yet been accepted for; `refused` holds the ones
    a server refused for good (5xx) with (code, text); they are not retried automatically, and
    when nothing else is left the entry is `failed`.
    """

    id: str
    account: str
    envelope_from: str
    recipients: tuple[str, ...]
    created: float
    size: int = 0
    sha256: str = ""
    attempts: int = 0
    next_try: float = 0.0
    last_try: float | None = None
    last_error: str | None = None
    last_code: int | None = None
    failed: bool = False
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)
    sent_copy_filed: bool = False
    """A copy is already in the Sent folder (the message went to others before queueing)."""
    corrupt: bool = False
    """The file could not be read: shown to the user, never sent, never removed by us."""

    @property
    def pending(self) -> tuple[str, ...]:
        """The recipients the next automatic try sends to."""
        return tuple(r for r in self.recipients if r not in self.refused)

    @property
    def state(self) -> Literal["queued", "retrying", "failed"]:
        if self.failed or self.corrupt:
            return "failed"
        return "retrying" if self.attempts else "queued"

    def _meta(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "account": self.account,
            "envelope_from": self.envelope_from,
            "recipients": list(self.recipients),
            "created": self.created,
            "size": self.size,
            "sha256": self.sha256,
            "attempts": self.attempts,
            "next_try": self.next_try,
            "last_try": self.last_try,
            "last_error": self.last_error,
            "last_code": self.last_code,
            "failed": self.failed,
            "refused": {r: [c, t] for r, (c, t) in self.refused.items()},
            "sent_copy_filed": self.sent_copy_filed,
        }

    @classmethod
    def _from_meta(cls, meta: dict[str, Any]) -> OutboxEntry:
        refused = {str(r): (int(v[0]), str(v[1])) for r, v in dict(meta["refused"]).items()}
        last_try = meta.get("last_try")
        last_code = meta.get("last_code")
        last_error = meta.get("last_error")
        return cls(
            id=str(meta["id"]),
            account=str(meta["account"]),
            envelope_from=str(meta["envelope_from"]),
            recipients=tuple(str(r) for r in meta["recipients"]),
            created=float(meta["created"]),
            size=int(meta["size"]),
            sha256=str(meta["sha256"]),
            attempts=int(meta["attempts"]),
            next_try=float(meta["next_try"]),
            last_try=None if last_try is None else float(last_try),
            last_error=None if last_error is None else str(last_error),
            last_code=None if last_code is None else int(last_code),
            failed=bool(meta["failed"]),
            refused=refused,
            sent_copy_filed=bool(meta.get("sent_copy_filed", False)),
        )


class Outbox:
    """Messages waiting for submission, one file each under `data_dir/outbox/cur`."""

    def __init__(self, data_dir: Path, *, stale_tmp_seconds: float = STALE_TMP_SECONDS) -> None:
        self.root = Path(data_dir) / "outbox"
        self.tmp = self.root / "tmp"
        self.cur = self.root / "cur"
        try:
            for path in (self.root, self.tmp, self.cur):
                private_dir(path)  # 0700 on every level, not only the last
        except OSError as exc:
            raise OutboxError(f"cannot create the outbox in {self.root}: {exc}") from exc
        _clean_tmp(self.tmp, stale_tmp_seconds)

    # -- files ---------------------------------------------------------------------------------
    def _path(self, entry_id: str) -> Path:
        return self.cur / _check_id(entry_id)

    def _write(self, entry: OutboxEntry, message: bytes) -> None:
        meta = json.dumps(entry._meta(), ensure_ascii=True).encode("ascii")
        try:
            atomic_write(self._path(entry.id), _MAGIC + meta + b"\n" + message, self.tmp)
        except OSError as exc:
            raise OutboxError(f"cannot write outbox entry {entry.id}: {exc}") from exc

    def _read(self, entry_id: str, *, with_message: bool) -> tuple[OutboxEntry, bytes]:
        path = self._path(entry_id)
        try:
            with path.open("rb") as f:
                magic = f.readline()
                meta_line = f.readline()
                message = f.read() if with_message else b""
        except FileNotFoundError:
            raise EntryNotFound(entry_id) from None
        except OSError as exc:
            raise OutboxError(f"cannot read outbox entry {entry_id}: {exc}") from exc
        try:
            if magic != _MAGIC:
                raise ValueError("not an outbox entry")
            entry = OutboxEntry._from_meta(json.loads(meta_line))
            if entry.id != entry_id:
                raise ValueError("id mismatch")
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            bad = OutboxEntry(
                id=entry_id,
                account="",
                envelope_from="",
                recipients=(),
                created=path.stat().st_mtime if path.exists() else 0.0,
                failed=True,
                corrupt=True,
                last_error=f"unreadable outbox entry: {exc}",
            )
            return bad, b""
        return entry, message

    # -- API -------------------------------------------------------------------------------------
    def add(
        self,
        message_bytes: bytes,
        envelope_from: str,
        recipients: Sequence[str],
        account: str,
        *,
        sent_copy_filed: bool = False,
        next_try: float = 0.0,
    ) -> str:
        """Queue a message; returns its id once it is safely on disk. `next_try` holds it back
        until then (undo send: `app.smtp.undo_send`)."""
        rcpts = tuple(dict.fromkeys(r for r in recipients if r))
        if not rcpts:
            raise OutboxError("a queued message needs at least one recipient")
        entry = OutboxEntry(
            id=_unique_name(),
            account=account,
            envelope_from=envelope_from,
            recipients=rcpts,
            created=time.time(),
            size=len(message_bytes),
            sha256=hashlib.sha256(message_bytes).hexdigest(),
            sent_copy_filed=sent_copy_filed,
            next_try=next_try,
        )
        self._write(entry, bytes(message_bytes))
        return entry.id

    def take(self, entry_id: str) -> bool:
        """Take an entry out before it is sent (undo send): True when it was removed here;
        False when it is gone (sent, cancelled) or being sent right now (the lock is held)."""
        with self._lock() as locked:
            if not locked:
                return False
            try:
                self.remove(entry_id)
            except EntryNotFound:
                return False
            return True

    def __iter__(self) -> Iterator[OutboxEntry]:
        return iter(self.list())

    def list(self) -> builtins.list[OutboxEntry]:
        """Every entry, oldest first; unreadable files show up as `corrupt` failed entries."""
        entries = []
        try:
            names = os.listdir(self.cur)
        except OSError as exc:
            raise OutboxError(f"cannot list the outbox: {exc}") from exc
        for name in names:
            if not _ID_RE.match(name):
                continue
            try:
                entry, _ = self._read(name, with_message=False)
            except EntryNotFound:
                continue
            entries.append(entry)
        entries.sort(key=lambda e: (e.created, e.id))
        return entries

    def get(self, entry_id: str) -> OutboxEntry:
        return self._read(entry_id, with_message=False)[0]

    def message(self, entry_id: str) -> bytes:
        """The queued bytes, checked against the checksum taken when they were queued."""
        entry, data = self._read(entry_id, with_message=True)
        if entry.corrupt:
            raise OutboxError(entry.last_error or "unreadable outbox entry")
        if hashlib.sha256(data).hexdigest() != entry.sha256:
            raise OutboxError(f"outbox entry {entry_id} is damaged (checksum mismatch)")
        return data

    def remove(self, entry_id: str) -> None:
        """Delete an entry: after it was sent, or when the user cancels it."""
        try:
            self._path(entry_id).unlink()
        except FileNotFoundError:
            raise EntryNotFound(entry_id) from None
        except OSError as exc:
            raise OutboxError(f"cannot remove outbox entry {entry_id}: {exc}") from exc
        _fsync_dir(self.cur)

    def mark_attempt(
        self,
        entry_id: str,
        error: str | SmtpError | None,
        next_try: float | None = None,
        *,
        permanent: bool | None = None,
        code: int | None = None,
        recipients: Sequence[str] | None = None,
        refused: dict[str, tuple[int, str]] | None = None,
        now: float | None = None,
    ) -> OutboxEntry:
        """Record a failed try: the error, when to try next (backoff unless given), and
        whether it failed for good. `recipients` narrows who is still to be sent to;
        `refused` adds permanently refused recipients."""
        now = time.time() if now is None else now
        entry, data = self._read(entry_id, with_message=True)
        if entry.corrupt:
            raise OutboxError(entry.last_error or "unreadable outbox entry")
        text = None if error is None else str(error)
        if isinstance(error, SmtpError):
            code = error.code if code is None else code
            if permanent is None:
                permanent = error.permanent
        attempts = entry.attempts + 1
        new_refused = dict(entry.refused)
        new_refused.update(refused or {})
        rcpts = entry.recipients if recipients is None else tuple(recipients)
        new_refused = {r: v for r, v in new_refused.items() if r in rcpts}
        pending = [r for r in rcpts if r not in new_refused]
        failed = bool(permanent) or not pending
        updated = replace(
            entry,
            recipients=rcpts,
            attempts=attempts,
            last_try=now,
            last_error=text,
            last_code=code,
            failed=failed,
            refused=new_refused,
            next_try=(now + backoff_delay(attempts)) if next_try is None else next_try,
        )
        self._write(updated, data)
        return updated

    def retry_now(self, entry_id: str, *, now: float | None = None) -> OutboxEntry:
        """The user asks for another try: failed state and refusals cleared, due at once."""
        entry, data = self._read(entry_id, with_message=True)
        if entry.corrupt:
            raise OutboxError(entry.last_error or "unreadable outbox entry")
        updated = replace(
            entry, failed=False, refused={}, next_try=time.time() if now is None else now
        )
        self._write(updated, data)
        return updated

    def due(
        self,
        now: float | None = None,
        *,
        account: str | None = None,
        only: Sequence[str] | None = None,
    ) -> builtins.list[OutboxEntry]:
        """Entries to try now: not failed, someone left to send to, backoff elapsed; with
        `only`, just those ids, due or not (a held message whose countdown ended here)."""
        now = time.time() if now is None else now
        return [
            e
            for e in self.list()
            if not e.failed
            and e.pending
            and (e.next_try <= now if only is None else e.id in only)
            and (account is None or e.account == account)
        ]

    @contextlib.contextmanager
    def _lock(self) -> Iterator[bool]:
        """An exclusive lock across processes, so two termails never send the same entry."""
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


SenderFn = Callable[[OutboxEntry, bytes], Awaitable[SendResult]]
"""Sends one entry's bytes to `entry.recipients` (the App binds the account's settings)."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one try of `process` did with an entry."""

    entry_id: str
    status: Literal["sent", "retry", "failed", "skipped"]
    accepted: tuple[str, ...] = ()
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)
    error: str | None = None
    code: int | None = None


def _is_transient(code: int) -> bool:
    return 400 <= code < 500


async def process(
    outbox: Outbox,
    sender_fn: SenderFn,
    *,
    now: float | None = None,
    account: str | None = None,
    only: Sequence[str] | None = None,
) -> list[Attempt]:
    """Try every due entry once: 2xx for all removes it, 4xx or a lost connection keeps it
    with backoff, 5xx keeps it marked failed with the server's words (never deleted silently).

    Another process holding the outbox lock means it is already sending: nothing is done.
    `account` limits the run to that account's entries, `only` to those ids (due or not).
    """
    report: list[Attempt] = []
    with outbox._lock() as locked:
        if not locked:
            return report
        for entry in outbox.due(now, account=account, only=only):
            report.append(await _try_entry(outbox, entry, sender_fn, now))
    return report


async def _try_entry(
    outbox: Outbox, entry: OutboxEntry, sender_fn: SenderFn, now: float | None
) -> Attempt:
    try:
        data = outbox.message(entry.id)
    except EntryNotFound:
        return Attempt(entry.id, "skipped", error="cancelled")
    except OutboxError as exc:
        with contextlib.suppress(OutboxError):
            outbox.mark_attempt(entry.id, str(exc), permanent=True, now=now)
        return Attempt(entry.id, "failed", error=str(exc))
    pending = entry.pending
    try:
        result = await sender_fn(replace(entry, recipients=pending, refused={}), data)
    except SmtpRecipientsRefused as exc:
        accepted: tuple[str, ...] = ()
        refused = dict(exc.refused)
        error: SmtpError | str | None = exc
    except SmtpError as exc:
        return _whole_failure(outbox, entry, exc, exc.code, exc.transient, now)
    except Exception as exc:  # a bug or an unexpected library error: keep the mail, retry
        text = f"{type(exc).__name__}: {exc}"
        return _whole_failure(outbox, entry, text, None, True, now)
    else:
        accepted = tuple(result.accepted)
        refused = dict(result.refused)
        error = None
    remaining = [r for r in entry.recipients if r not in accepted]
    if not remaining:
        with contextlib.suppress(EntryNotFound):
            outbox.remove(entry.id)
        return Attempt(entry.id, "sent", accepted, refused)
    permanent = {r: v for r, v in refused.items() if not _is_transient(v[0])}
    if error is None:
        listing = "; ".join(f"{r}: {c} {t}" for r, (c, t) in refused.items())
        error = f"refused: {listing}" if listing else "not accepted for every recipient"
    first_code = next(iter(refused.values()))[0] if refused else None
    try:
        updated = outbox.mark_attempt(
            entry.id,
            error,
            recipients=remaining,
            refused=permanent,
            permanent=False,
            code=first_code,
            now=now,
        )
    except EntryNotFound:
        return Attempt(entry.id, "skipped", accepted, refused, "cancelled while sending")
    except OutboxError as exc:  # e.g. disk full: the entry stays as it was, tried again later
        return Attempt(entry.id, "retry", accepted, refused, f"{error} ({exc})", first_code)
    status: Literal["retry", "failed"] = "failed" if updated.failed else "retry"
    return Attempt(entry.id, status, accepted, refused, updated.last_error, first_code)


def _whole_failure(
    outbox: Outbox,
    entry: OutboxEntry,
    error: SmtpError | str,
    code: int | None,
    transient: bool,
    now: float | None,
) -> Attempt:
    try:
        outbox.mark_attempt(entry.id, error, permanent=not transient, code=code, now=now)
    except EntryNotFound:
        return Attempt(entry.id, "skipped", error="cancelled while sending")
    except OutboxError as exc:  # e.g. disk full: the entry stays as it was, tried again later
        return Attempt(entry.id, "retry", error=f"{error} ({exc})", code=code)
    return Attempt(entry.id, "retry" if transient else "failed", error=str(error), code=code)


# -- drafts -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DraftInfo:
    """A saved draft as listed for "resume where you left off?"."""

    draft_id: str
    saved_at: float
    subject: str
    to: tuple[str, ...]


class DraftStore:
    """Autosaved drafts, one JSON file each under `data_dir/drafts`, written atomically."""

    def __init__(self, data_dir: Path, *, stale_tmp_seconds: float = STALE_TMP_SECONDS) -> None:
        self.root = Path(data_dir) / "drafts"
        self.tmp = self.root / "tmp"
        try:
            private_dir(self.tmp)  # 0700 on every level, not only the last
        except OSError as exc:
            raise DraftStoreError(f"cannot create the draft store in {self.root}: {exc}") from exc
        _clean_tmp(self.tmp, stale_tmp_seconds)

    @staticmethod
    def new_id() -> str:
        return _unique_name()

    def _path(self, draft_id: str) -> Path:
        if not isinstance(draft_id, str) or not _ID_RE.match(draft_id):
            raise DraftNotFound(draft_id)
        return self.root / f"{draft_id}.json"

    def save(self, draft_id: str, draft: Draft, *, now: float | None = None) -> None:
        """Write the draft (attachment paths included) so a crash keeps the last save."""
        record = {
            "saved_at": time.time() if now is None else now,
            "draft": draft.to_dict(),
        }
        data = json.dumps(record, ensure_ascii=False).encode("utf-8", "surrogatepass")
        try:
            atomic_write(self._path(draft_id), data, self.tmp)
        except OSError as exc:
            raise DraftStoreError(f"cannot save draft {draft_id}: {exc}") from exc

    def _record(self, draft_id: str) -> dict[str, Any]:
        path = self._path(draft_id)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise DraftNotFound(draft_id) from None
        except OSError as exc:
            raise DraftStoreError(f"cannot read draft {draft_id}: {exc}") from exc
        try:
            record = json.loads(raw.decode("utf-8", "surrogatepass"))
            if not isinstance(record, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            raise DraftStoreError(f"draft {draft_id} is unreadable: {exc}") from exc
        return record

    def load(self, draft_id: str) -> Draft:
        record = self._record(draft_id)
        try:
            return Draft.from_dict(record.get("draft"))
        except ComposeError as exc:
            raise DraftStoreError(f"draft {draft_id} is unreadable: {exc}") from exc

    def list_unfinished(self) -> list[DraftInfo]:
        """Saved drafts, newest first; unreadable files are left alone and not listed."""
        out = []
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.root):
                if not entry.name.endswith(".json") or not entry.is_file():
                    continue
                draft_id = entry.name[: -len(".json")]
                try:
                    record = self._record(draft_id)
                    draft = Draft.from_dict(record.get("draft"))
                    saved_at = float(record.get("saved_at", 0.0))
                except (OutboxError, ComposeError, TypeError, ValueError):
                    continue
                out.append(DraftInfo(draft_id, saved_at, draft.subject, tuple(draft.to)))
        out.sort(key=lambda d: d.saved_at, reverse=True)
        return out

    def discard(self, draft_id: str) -> None:
        """Forget a draft (sent, or thrown away); a missing one is fine."""
        try:
            self._path(draft_id).unlink()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise DraftStoreError(f"cannot discard draft {draft_id}: {exc}") from exc
        _fsync_dir(self.root)
