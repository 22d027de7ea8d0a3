"""The IMAP operations the app uses, on one connection, typed and resilient.

`ImapClient` turns the engine's raw responses into the shared models (`Folder`, `FolderStatus`,
`MessageSummary`), keeps the selected mailbox's state (`mailbox`) true by folding every untagged
response it sees, and survives a dropped connection: it reconnects with backoff, re-selects the
folder (checking UIDVALIDITY), and repeats what is safe to repeat (fetches, searches, flag
changes). A command that is not safe to repeat (COPY, MOVE, APPEND, folder changes) is never
repeated blindly: the caller gets an `ImapConnectionError` saying whether it was applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from aioimaplib import aioimaplib as _aio

from app.imap import parser
from app.imap.engine import Arg, Connection, Limits, Response, ServerAlert
from app.imap.errors import (
    ImapCancelled,
    ImapConnectionError,
    ImapError,
    ImapNoError,
    ImapProtocolError,
    ImapUidValidityChanged,
)
from app.imap.mailbox import MailboxEvent, MailboxState, ascending_uids
from app.imap.namespace import Namespace
from app.imap.parser import FetchData, Literal, ThreadNode, UidArray
from app.imap.search import SearchCriteria
from app.models import (
    Credentials,
    Envelope,
    Folder,
    FolderRole,
    FolderStatus,
    MessageSummary,
    ServerSettings,
)

__all__ = ["ImapClient", "MailboxInfo", "OpenPlan"]

#: The common shape of a `UID BODY.PEEK[HEADER.FIELDS (...)]` answer (`fetch_header_fields`).
_HEADER_FIELDS_ANSWER = re.compile(
    rb"\* \d+ FETCH \(UID (\d+) BODY\[HEADER\.FIELDS \([^()]*\)\] \{(\d{1,9})\}\r\n"
)

log = logging.getLogger(__name__)

T = TypeVar("T")

#: UIDs per FETCH command: big enough to keep the server busy, small enough to resume cheaply.
FETCH_WINDOW = 1000
#: Seconds of silence a UID SORT may take (at least; the connection's own timeout when longer).
#: A server sorting a big folder with a cold cache sends nothing until it is done: 28-57 s at
#: 1,000,000 messages on an idle machine, over 30 s under load. With the usual 30 s the
#: connection was dropped mid-SORT, and every retry (reconnect, SELECT, SORT) was dropped again.
SORT_TIMEOUT = 300.0
#: UIDs per flags-only FETCH / STORE command.
FLAGS_WINDOW = 5000
#: Summary items for the message list (MODSEQ added under CONDSTORE).
SUMMARY_ITEMS = "UID FLAGS ENVELOPE RFC822.SIZE INTERNALDATE BODYSTRUCTURE"

_ROLES = {
    "\\drafts": FolderRole.DRAFTS,
    "\\sent": FolderRole.SENT,
    "\\trash": FolderRole.TRASH,
    "\\junk": FolderRole.JUNK,
    "\\archive": FolderRole.ARCHIVE,
    "\\all": FolderRole.ALL,
    "\\flagged": FolderRole.FLAGGED,
}
_FLAG_RE = re.compile(r"\\?[^\x00-\x20(){%*\"\\\]\x7f]+")
_UID_RE = re.compile(rb"[ (]UID ([0-9]{1,10})[ )]")
_SORT_KEYS = frozenset(
    {"ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO"}
)


@dataclass(slots=True)
class MailboxInfo:
    """What SELECT/EXAMINE said; `vanished`/`changed` are filled by a QRESYNC select."""

    name: str
    exists: int = 0
    recent: int = 0
    uidvalidity: int | None = None
    uidnext: int | None = None
    highestmodseq: int | None = None
    permanentflags: frozenset[str] = frozenset()
    flags: frozenset[str] = frozenset()
    readonly: bool = False
    nomodseq: bool = False
    vanished: list[int] = field(default_factory=list)
    changed: list[FetchData] = field(default_factory=list)


_gc_depth = 0
_gc_was_enabled = True


@contextlib.contextmanager
def _gc_paused(pause: bool = True) -> Iterator[None]:
    """Pause the cyclic GC during a bulk load.

    Each summary brings about ten tracked objects that all survive, so the collector would scan
    the growing heap again and again: on 100,000 messages that cost about 1 s of 3. Nested and
    concurrent loads share one pause; the previous state comes back when the last one ends.

    When it ends, everything allocated meanwhile is still in the youngest generation, and the
    first collection after `gc.enable()` would walk all of it (0.4 s for 100,000 summaries).
    `gc.freeze()` then `gc.unfreeze()` moves those objects straight to the oldest generation
    instead, without scanning; cycles among them are still found by the next full collection.
    Skipped when something else froze objects on purpose (unfreezing would undo that).
    """
    global _gc_depth, _gc_was_enabled
    if not pause:
        yield
        return
    if _gc_depth == 0:
        _gc_was_enabled = gc.isenabled()
        gc.disable()
    _gc_depth += 1
    try:
        yield
    finally:
        _gc_depth -= 1
        if _gc_depth == 0 and _gc_was_enabled:
            if gc.get_freeze_count() == 0:
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def _by_uid_key(sort: str | None) -> str:
    """The key under which the opening keeps a UID list asked by UID (`OpenPlan.by_uid`)."""
    return f"(by uid) {sort or ''}"


class _Everything(set[int]):
    """A set that holds every UID (`_summary_reader` of a FETCH by sequence number)."""

    def __contains__(self, item: object) -> bool:
        return isinstance(item, int)


def _dense_uids(
    state: MailboxState | None, answer: Sequence[parser.Untagged], ok: bool
) -> UidArray | None:
    """1..EXISTS when the newest message's UID (`answer` to `FETCH * (UID)`) is EXISTS, the
    empty list for an empty folder (where `*` names no message and the FETCH may fail), else
    None: the UIDs have gaps and must be searched."""
    if state is None:
        return None
    exists = state.exists
    if exists == 0:
        return UidArray()
    if not ok:
        return None
    for data in answer:
        if isinstance(data, FetchData) and data.seq == exists and data.uid == exists:
            return UidArray(range(1, exists + 1))
    return None


def _joined(parts: Sequence[UidArray]) -> UidArray:
    """The numbers of several answers as one UidArray (the only one as it is: no copy)."""
    if len(parts) == 1:
        return parts[0]
    out = UidArray()
    for part in parts:
        out.extend(part)
    return out


def _chunks(items: Sequence[int], size: int) -> Iterable[Sequence[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _flag_list(flags: Iterable[str]) -> str:
    out = []
    for flag in flags:
        if not _FLAG_RE.fullmatch(flag):
            raise ValueError(f"not a valid IMAP flag: {flag!r}")
        out.append(flag)
    return "(" + " ".join(out) + ")"


def _summary(data: FetchData) -> MessageSummary:
    assert data.uid is not None
    return MessageSummary(
        uid=data.uid,
        flags=data.flags or frozenset(),
        envelope=data.envelope or Envelope(),
        size=data.size or 0,
        internaldate=data.internaldate,
        bodystructure=data.bodystructure,
        modseq=data.modseq,
    )


def _role(name: str, attributes: frozenset[str]) -> FolderRole:
    if name.upper() == "INBOX":
        return FolderRole.INBOX
    for attr in attributes:
        role = _ROLES.get(attr.lower())
        if role is not None:
            return role
    return FolderRole.NONE


def _status(counts: dict[str, int]) -> FolderStatus:
    return FolderStatus(
        messages=counts.get("MESSAGES", 0),
        unseen=counts.get("UNSEEN", 0),
        recent=counts.get("RECENT", 0),
        uidnext=counts.get("UIDNEXT"),
        uidvalidity=counts.get("UIDVALIDITY"),
        highestmodseq=counts.get("HIGHESTMODSEQ"),
    )


def _qresync_args(qresync: tuple[int, int, Sequence[int] | None] | None) -> list[Arg]:
    """The SELECT parameter `(QRESYNC (uidvalidity modseq known-uids))`, or none."""
    if qresync is None:
        return []
    uidvalidity, modseq, known = qresync
    known_text = f" {parser.format_sequence_set(known)}" if known else ""
    return [f"(QRESYNC ({int(uidvalidity)} {int(modseq)}{known_text}))"]


def _sort_args(
    conn: Connection, keys: str | Sequence[str], criteria: SearchCriteria | None
) -> list[Arg]:
    words = keys.strip("() ").split() if isinstance(keys, str) else list(keys)
    for word in words:
        if word.upper() not in _SORT_KEYS and word.upper() != "REVERSE":
            raise ValueError(f"not a SORT key: {word!r}")
    criteria = criteria or SearchCriteria(None, ["ALL"])
    args: list[Arg] = ["(" + " ".join(w.upper() for w in words) + ")"]
    # SORT's charset is mandatory, and UTF-8 the only one allowed in UTF8=ACCEPT mode.
    args.append("UTF-8" if conn.utf8 else criteria.charset or "UTF-8")
    args += criteria.args or ["ALL"]
    return args


def _pooled(resp: Response, batch: Sequence[Response]) -> Response:
    """`resp` with the untagged responses of its whole batch.

    A server may run pipelined commands at once when that is unambiguous (RFC 9051 5.5;
    Dovecot does with UID FETCH and UID SORT), so an untagged answer can arrive before the
    completion of the command sent ahead of its own: each reader picks its kind of response
    from the whole batch's."""
    untagged = [raw for r in batch for raw in r.untagged]
    return Response(resp.status, untagged, resp.code, resp.text, resp.command)


def _summary_items(conn: Connection) -> str:
    return SUMMARY_ITEMS + (" MODSEQ" if conn.has_capability("CONDSTORE") else "")


def _is_reverse(sort: str) -> bool:
    return sort.strip("() ").upper().startswith("REVERSE")


@dataclass(frozen=True, slots=True)
class OpenPlan:
    """The folder the first screen will open, asked for in the round trip after the login.

    `ImapClient.connect(opening=...)` sends, with ID and ENABLE, NAMESPACE, the SELECT (with
    `qresync` where the server offers QRESYNC) and, with `sort`, the folder's UID list in that
    order (UID SORT, else UID SEARCH ALL): no command waits on another's answer (RFC 9051 5.5).
    The answers are kept, and the first `select` / `uid_list` asking the same gets them
    without a round trip; anything else asked first makes them void.
    """

    mailbox: str = "INBOX"
    readonly: bool = False
    qresync: tuple[int, int, Sequence[int] | None] | None = None
    sort: str | None = None
    """The list's order ("REVERSE DATE"), or None: no UID list is asked for (a QRESYNC resync
    of an unchanged folder needs none)."""
    by_uid: bool = False
    """Ask the UID list by UID (UID SEARCH ALL) even where SORT is offered: a cold start of a
    big folder draws its newest rows at once (`ImapClient.newest_uids`), not after a SORT a
    fresh server may take seconds over (issue 21: 7.9 s at 1,000,000 messages)."""


@dataclass(slots=True)
class _Opening:
    """What `OpenPlan` sent (filled by `commands`, called by the engine once logged in)."""

    plan: Callable[[], OpenPlan | None]
    chosen: OpenPlan | None = None
    namespace: bool = False
    qresync_text: str | None = None
    """The QRESYNC parameter as sent (the answer serves only a `select` asking the same)."""
    uid_list: str = ""
    """"SORT" or "SEARCH" when the UID list was asked for."""
    by_uid: bool = False
    """The UID list was asked by UID although the server sorts (`OpenPlan.by_uid`)."""

    def commands(self, conn: Connection) -> list[tuple[str, Sequence[Arg]]]:
        try:
            plan = self.plan()
        except Exception:  # the plan is an optimisation: without it, the usual commands
            log.exception("opening plan failed")
            plan = None
        out: list[tuple[str, Sequence[Arg]]] = []
        if plan is None:
            return out
        self.chosen = plan
        if conn.has_capability("NAMESPACE"):
            self.namespace = True
            out.append(("NAMESPACE", []))
        extra: list[Arg] = []
        # QRESYNC is in the ENABLE just before (the engine enables what is offered).
        qresync = conn.has_capability("QRESYNC") and conn.has_capability("ENABLE")
        if plan.qresync is not None and qresync:
            extra = _qresync_args(plan.qresync)
            self.qresync_text = str(extra[0]) if extra else None
        # INBOX needs no namespace (the prefix never applies to it) and no encoding.
        if plan.mailbox.upper() != "INBOX":
            self.chosen = None
            return out
        out.append(("EXAMINE" if plan.readonly else "SELECT", [plan.mailbox, *extra]))
        # Not before COMPRESS begins (it follows this round trip): a folder's UID list is the
        # biggest answer of the start (700 KB at 100,000 messages) and worth deflating.
        if plan.sort and not conn.will_compress:
            if conn.has_capability("SORT") and not plan.by_uid:
                self.uid_list = "SORT"
                out.append(("UID SORT", _sort_args(conn, plan.sort, None)))
            elif plan.by_uid and conn.has_capability("SORT"):
                # The newest message's UID, not a search: when it equals EXISTS the UIDs are
                # 1..EXISTS (n distinct ascending UIDs, the highest n), so the list needs no
                # UID SEARCH, which a 1,000,000-message Dovecot takes 0.26-0.46 s over (issue
                # 21). Otherwise `newest_screen` asks the search with the rows' FETCH.
                self.uid_list = "LAST"
                self.by_uid = True
                out.append(("FETCH", ["*", "(UID)"]))
            else:
                self.uid_list = "SEARCH"
                self.by_uid = conn.has_capability("SORT")
                args: list[Arg] = ["RETURN (ALL)"] if conn.has_capability("ESEARCH") else []
                out.append(("UID SEARCH", [*args, "ALL"]))
        return out


@dataclass(slots=True)
class _Ready:
    """Answers the opening round trip brought, waiting for the `select` / `uid_list` asking."""

    name: str
    readonly: bool
    qresync_text: str | None
    info: MailboxInfo | None
    state: MailboxState | None
    sort: str | None = None
    uids: UidArray | None = None


class ImapClient:
    """One account's IMAP connection with typed operations; see the module docstring."""

    def __init__(
        self,
        settings: ServerSettings,
        credentials: Credentials | None,
        conn: Connection,
        *,
        retries: int = 3,
        backoff: Sequence[float] = (0.2, 1.0, 3.0, 8.0),
        on_alert: Callable[[ServerAlert], None] | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.settings = settings
        self.credentials = credentials
        self.on_alert = on_alert
        self.limits = limits
        self.retries = retries
        self.backoff = tuple(backoff) or (0.0,)
        self.mailbox: MailboxState | None = None
        self.reconnects = 0
        self.skipped_responses = 0
        """LIST/LSUB lines that could not be read and were left out (logged)."""
        self.on_changed: Callable[[str], None] | None = None
        """Called with the name of each folder our own command changed (copy/move/append
        destination; the selected folder after a move, expunge or flag change), so its counts
        can be asked for again without opening it."""
        self._conn: Connection | None = conn
        self._selected: tuple[str | Folder, bool] | None = None
        self.selected_info: MailboxInfo | None = None
        self._closed = False
        self.namespace: Namespace | None = None
        """The personal namespace, asked once (NAMESPACE) before the first folder command;
        folder names are shown without its prefix and sent with it (app/imap/namespace.py)."""
        self._ready: _Ready | None = None
        """Answers of the opening round trip not yet asked for (see `OpenPlan`)."""

    # -- connection -------------------------------------------------------------------------

    @classmethod
    async def connect(
        cls,
        settings: ServerSettings,
        credentials: Credentials | None,
        *,
        retries: int = 3,
        backoff: Sequence[float] = (0.2, 1.0, 3.0, 8.0),
        on_alert: Callable[[ServerAlert], None] | None = None,
        limits: Limits | None = None,
        opening: Callable[[], OpenPlan | None] | None = None,
    ) -> ImapClient:
        """Open a connection (TLS, auth, extensions); `credentials` None only for PREAUTH/tunnel.

        `on_alert` gets each ALERT the server sends (RFC 3501 §7.1: the user MUST see it), on
        this connection and on every reconnection; `limits` bound what the server may make us
        hold (past one the connection is dropped and the next command reconnects).

        `opening()` (called once logged in) says which folder the first screen opens: its
        SELECT and UID list go out with ID and ENABLE (see `OpenPlan`)."""
        plan = _Opening(opening) if opening is not None else None
        conn = await Connection.open(
            settings,
            credentials,
            on_alert=on_alert,
            limits=limits,
            then=plan.commands if plan is not None else None,
        )
        client = cls(
            settings,
            credentials,
            conn,
            retries=retries,
            backoff=backoff,
            on_alert=on_alert,
            limits=limits,
        )
        if plan is not None:
            client._take_opening(conn, plan, conn.opening)
        return client

    def _take_opening(self, conn: Connection, plan: _Opening, answers: list[Response]) -> None:
        """Read the opening round trip's answers: the namespace, the selected folder and its
        UID list become this client's state, kept for the `select` / `uid_list` asking."""
        conn.opening = []
        chosen = plan.chosen
        index = 0
        # Each reader picks its kind of response from the whole round trip (see `_pooled`),
        # parsed once (the UID list of a big folder is one long line).
        items: list[parser.Untagged] = []
        last: list[parser.Untagged] = []
        try:
            # An unreadable answer (a bound passed: 4294967295 EXISTS) voids them all: the
            # `select` asking sends its own SELECT, and reports the error as it always did.
            # The newest message's UID (`FETCH * (UID)`, the last answer) is read apart: it
            # is no change the SELECT reports (`MailboxInfo.changed`).
            lasts = 1 if plan.uid_list == "LAST" and answers else 0
            cut = len(answers) - lasts
            items = [self._parse(raw) for resp in answers[:cut] for raw in resp.untagged]
            last = [self._parse(raw) for resp in answers[cut:] for raw in resp.untagged]
            items += [i for i in last if not isinstance(i, FetchData)]  # EXISTS meanwhile
            if plan.namespace:
                resp = answers[index]
                index += 1
                namespace = Namespace()
                if resp.status == "OK":
                    for item in items:
                        if isinstance(item, parser.NamespaceData) and item.personal:
                            namespace.prefix, namespace.delimiter = item.personal[0]
                self.namespace = namespace
            elif chosen is not None:
                self.namespace = Namespace()  # not offered: names are used as they are
            if chosen is None or index >= len(answers):
                return
            resp = answers[index]
            index += 1
            if not resp.ok:
                self.mailbox = None
                return  # the `select` asking gets the error from its own SELECT
            info = self._selected_from(chosen.mailbox, chosen.readonly, resp, items)
            self._selected = (chosen.mailbox, chosen.readonly)
            self.selected_info = info
            ready = _Ready(chosen.mailbox, chosen.readonly, plan.qresync_text, info, self.mailbox)
            self._ready = ready
            if not plan.uid_list or index >= len(answers):
                return
            resp = answers[index]
            if (not resp.ok and plan.uid_list != "LAST") or chosen.sort is None:
                return
            if plan.uid_list == "LAST":
                dense = _dense_uids(self.mailbox, last, resp.ok)
                if dense is None:
                    return  # gaps, or an answer not understood: `newest_screen` searches
                uids = dense
                if self.mailbox is not None:
                    self.mailbox.set_uids(uids)
                if _is_reverse(chosen.sort):
                    uids = uids[::-1]
            elif plan.uid_list == "SORT":
                uids = _joined([i.numbers for i in items if isinstance(i, parser.SortData)])
                if self.mailbox is not None:
                    self.mailbox.set_uids(uids)
            else:
                parts: list[UidArray] = []
                for item in items:
                    if isinstance(item, parser.ESearchData) and item.all:
                        parts.append(item.all)
                    elif isinstance(item, parser.SearchData):
                        parts.append(item.numbers)
                uids = ascending_uids(_joined(parts))
                if self.mailbox is not None:
                    self.mailbox.set_uids(uids)
                if _is_reverse(chosen.sort):
                    uids = uids[::-1]
            # By UID on a server that sorts: for `newest_uids`, never taken for the SORT answer.
            ready.sort = _by_uid_key(chosen.sort) if plan.by_uid else chosen.sort
            ready.uids = uids
        except ImapError as exc:  # an unreadable answer: ask again the usual way
            log.info("opening answers not used: %s", exc)
            self._ready = None

    def _take_ready_select(
        self,
        name: str | Folder,
        readonly: bool,
        qresync: tuple[int, int, Sequence[int] | None] | None,
    ) -> MailboxInfo | None:
        """The opening's SELECT answer when this is the same question, on the same connection
        state (nothing reselected meanwhile); else None, and the kept answers are dropped."""
        ready, self._ready = self._ready, None
        if ready is None or ready.info is None or isinstance(name, Folder):
            return None
        conn = self._conn
        if conn is None or conn.closed or self.mailbox is not ready.state or ready.state is None:
            return None
        if name != ready.name or readonly != ready.readonly:
            return None
        if "QRESYNC" in conn.enabled and qresync is not None:
            args = _qresync_args(qresync)
            asked = str(args[0]) if args else None
        else:
            asked = None
        if asked != ready.qresync_text:
            return None
        if ready.uids is not None:
            # The UID list is next: kept for the `uid_list` that follows.
            self._ready = _Ready(
                ready.name, readonly, None, None, ready.state, ready.sort, ready.uids
            )
        return ready.info

    def _take_ready_uids(self, sort: str | None) -> UidArray | None:
        ready, self._ready = self._ready, None
        if ready is None or ready.uids is None or ready.info is not None:
            return None  # `select` was not asked first: the list may be of another moment
        state = self.mailbox
        if state is None or state is not ready.state or ready.sort != sort:
            return None
        if state.exists != len(ready.uids) or state.unknown_new:
            return None  # mail came or went since the answer: ask again
        return ready.uids

    @property
    def capabilities(self) -> frozenset[str]:
        return self._conn.capabilities if self._conn is not None else frozenset()

    @property
    def enabled(self) -> frozenset[str]:
        return self._conn.enabled if self._conn is not None else frozenset()

    @property
    def connection(self) -> Connection | None:
        """The live engine connection (None while disconnected); for tests and diagnostics."""
        return self._conn

    def has_capability(self, capability: str) -> bool:
        return capability.upper() in self.capabilities

    @property
    def personal_namespace(self) -> str | None:
        """The personal namespace prefix ("INBOX." on Courier), None before it is known."""
        return self.namespace.prefix if self.namespace is not None else None

    def server_name(self, name: str) -> str:
        """The server's (decoded) name of a folder named as shown (`Lists/python-dev`)."""
        return self.namespace.server(name) if self.namespace is not None else name

    async def _learn_namespace(self, conn: Connection) -> None:
        """NAMESPACE once per client; without it (or on a NO) names are used as they are."""
        if self.namespace is not None:
            return
        namespace = Namespace()
        if conn.has_capability("NAMESPACE"):
            resp = await conn.execute("NAMESPACE")
            if resp.status == "OK":
                for item in self._parsed(resp):
                    if isinstance(item, parser.NamespaceData) and item.personal:
                        namespace.prefix, namespace.delimiter = item.personal[0]
        self.namespace = namespace

    async def close(self) -> None:
        """Log out and close; the client cannot be used afterwards."""
        self._closed = True
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.disconnect()

    async def _connection(self) -> Connection:
        """The live connection, reconnecting (with backoff) and re-selecting when it died."""
        if self._closed:
            raise ImapConnectionError("the client was closed", applied=False)
        conn = self._conn
        if conn is not None and not conn.closed:
            return conn
        if conn is not None:
            self._conn = None
            with contextlib.suppress(Exception):
                await conn.disconnect(logout=False)
        last: ImapConnectionError | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                await asyncio.sleep(self.backoff[min(attempt - 1, len(self.backoff) - 1)])
            try:
                conn = await Connection.open(
                    self.settings, self.credentials, on_alert=self.on_alert, limits=self.limits
                )
                self._conn = conn
                self.reconnects += 1
                log.info("reconnected to %s", self.settings.host or "the tunnel")
                if self._selected is not None:
                    await self._reselect(conn)
            except ImapConnectionError as exc:
                last = exc
                dead, self._conn = self._conn, None
                if dead is not None:
                    await dead.disconnect(logout=False)
                continue
            return conn
        assert last is not None
        raise last

    async def _reselect(self, conn: Connection) -> None:
        assert self._selected is not None
        name, readonly = self._selected
        old = self.mailbox
        info = await self._select_on(conn, name, readonly, None)
        if old is not None and old.uidvalidity is not None and info.uidvalidity != old.uidvalidity:
            self.mailbox = None
            self._selected = None
            raise ImapUidValidityChanged(info.name, old.uidvalidity, info.uidvalidity)
        if old is not None and self.mailbox is not None:
            self.mailbox.events = old.events  # keep what the caller has not read yet

    async def _run(
        self,
        what: str,
        op: Callable[[Connection], Awaitable[T]],
        *,
        idempotent: bool,
    ) -> T:
        """Run `op` on a live connection; on a dropped one, reconnect and repeat when safe."""
        self._ready = None  # another question came first: the opening's answers may be stale
        attempt = 0
        while True:
            try:
                conn = await self._connection()
            except ImapConnectionError as exc:
                raise exc.with_outcome(False, what) from exc  # nothing was sent
            self._fold_raw(conn.take_unsolicited())
            try:
                if self.namespace is None:  # before the first command that may name a folder
                    try:
                        await self._learn_namespace(conn)
                    except ImapConnectionError as exc:  # `op` itself was not sent
                        raise type(exc)(str(exc), applied=False) from exc
                return await op(conn)
            except ImapConnectionError as exc:
                attempt += 1
                if not idempotent and exc.applied is not False:
                    raise exc.with_outcome(exc.applied, what) from exc
                if attempt > self.retries:
                    if not idempotent:
                        raise exc.with_outcome(False, what) from exc
                    raise type(exc)(
                        f"{what} failed after {attempt} attempt(s): {exc}; it is safe to repeat",
                        applied=exc.applied,
                    ) from exc
                log.info("%s interrupted (%s); retrying on a new connection", what, exc)
                delay = self.backoff[min(attempt - 1, len(self.backoff) - 1)]
                await asyncio.sleep(delay)

    # -- untagged folding -----------------------------------------------------------------------

    def _parse(self, raw: bytes) -> parser.Untagged:
        try:
            return parser.parse_untagged(raw, utf8=self._conn.utf8 if self._conn else False)
        except parser.ParseError as exc:
            raise ImapProtocolError(f"unreadable response {raw[:60]!r}: {exc}") from exc

    def _fold(self, data: parser.Untagged) -> None:
        if self.mailbox is not None:
            self.mailbox.apply(data)

    def _fold_raw(self, untagged: Iterable[bytes]) -> None:
        for raw in untagged:
            try:
                data = self._parse(raw)
            except ImapProtocolError as exc:
                log.warning("ignored: %s", exc)
                continue
            self._fold(data)

    def _parsed(self, resp: Response) -> list[parser.Untagged]:
        """The untagged responses of `resp`, parsed; each is also folded into the mailbox state."""
        out = []
        for raw in resp.untagged:
            data = self._parse(raw)
            self._fold(data)
            out.append(data)
        return out

    def _parsed_lenient(self, resp: Response) -> list[parser.Untagged]:
        """Like `_parsed`, but a line that cannot be read is skipped (and logged): one folder
        with a name we cannot read must not hide the whole folder list."""
        out = []
        for raw in resp.untagged:
            try:
                data = self._parse(raw)
            except ImapProtocolError as exc:
                log.warning("skipped: %s", exc)
                self.skipped_responses += 1
                continue
            self._fold(data)
            out.append(data)
        return out

    def _changed(self, *names: str | Folder | None) -> None:
        """Tell `on_changed` of the folders a command of ours changed (never raises)."""
        if self.on_changed is None:
            return
        for name in names:
            if name is None:
                continue
            try:
                self.on_changed(name.name if isinstance(name, Folder) else name)
            except Exception:
                log.exception("on_changed failed")

    def _selected_name(self) -> str | Folder | None:
        return self._selected[0] if self._selected is not None else None

    def _mbox(self, conn: Connection, name: str | Folder) -> Arg:
        if isinstance(name, Folder):
            return parser.astring_arg(name.raw_name)
        return conn.mailbox_arg(self.server_name(name))

    # -- folders --------------------------------------------------------------------------------

    async def list_folders(self, subscribed_only: bool = False) -> list[Folder]:
        """All folders (or the subscribed ones), roles from SPECIAL-USE, names decoded."""
        return [f for f, _ in await self._list(subscribed_only, with_status=False)]

    async def list_with_status(self) -> list[tuple[Folder, FolderStatus | None]]:
        """Folders with their counts: LIST-STATUS in one command where offered, else STATUS each."""
        return await self._list(False, with_status=True)

    def _status_items(self, conn: Connection) -> str:
        items = "MESSAGES UNSEEN RECENT UIDNEXT UIDVALIDITY"
        if conn.has_capability("CONDSTORE"):
            items += " HIGHESTMODSEQ"
        return f"({items})"

    async def _list(
        self, subscribed_only: bool, *, with_status: bool
    ) -> list[tuple[Folder, FolderStatus | None]]:
        async def op(conn: Connection) -> list[tuple[Folder, FolderStatus | None]]:
            await self._learn_namespace(conn)
            assert self.namespace is not None
            if not subscribed_only:
                self.namespace.forget_all()
            extended = conn.has_capability("LIST-EXTENDED")
            statuses: dict[str, FolderStatus] = {}
            subscribed: set[str] | None = None
            if extended:
                returns = ["SUBSCRIBED"]
                if conn.has_capability("SPECIAL-USE"):
                    returns.append("SPECIAL-USE")
                if with_status and conn.has_capability("LIST-STATUS"):
                    returns.append("STATUS " + self._status_items(conn))
                select = ["(SUBSCRIBED)"] if subscribed_only else []
                args: list[Arg] = [*select, '""', '"*"', "RETURN (" + " ".join(returns) + ")"]
                resp = (await conn.execute("LIST", *args)).check()
            else:
                resp = (await conn.execute("LIST", '""', '"*"')).check()
                lsub = (await conn.execute("LSUB", '""', '"*"')).check()
                subscribed = set()
                for item in self._parsed_lenient(lsub):
                    if isinstance(item, parser.ListData):
                        subscribed.add(item.raw_name)
            folders: list[Folder] = []
            for item in self._parsed_lenient(resp):
                if isinstance(item, parser.StatusData):
                    statuses[item.raw_name] = _status(item.counts)
                elif isinstance(item, parser.ListData):
                    attrs = item.attributes
                    if subscribed is None:
                        is_sub = any(a.lower() == "\\subscribed" for a in attrs)
                    else:
                        is_sub = item.raw_name in subscribed
                    if subscribed_only and not is_sub:
                        continue
                    shown, delimiter = self.namespace.shown(item.name, item.delimiter)
                    self.namespace.remember(shown, item.name)
                    folders.append(
                        Folder(
                            name=shown,
                            raw_name=item.raw_name,
                            delimiter=delimiter,
                            attributes=attrs,
                            role=_role(item.name, attrs),
                            subscribed=is_sub,
                        )
                    )
            if with_status and not statuses:
                wanted = [f for f in folders if f.selectable]
                commands = [
                    ("STATUS", (parser.astring_arg(f.raw_name), self._status_items(conn)))
                    for f in wanted
                ]

                def on_status(raw: bytes) -> None:
                    try:
                        data = self._parse(raw)
                    except ImapProtocolError as exc:  # that folder's counts stay unknown
                        log.warning("STATUS answer skipped: %s", exc)
                        return
                    if isinstance(data, parser.StatusData):
                        statuses[data.raw_name] = _status(data.counts)
                    else:
                        self._fold(data)

                if commands:
                    await conn.pipeline(commands, on_untagged=on_status)
            return [(f, statuses.get(f.raw_name) if with_status else None) for f in folders]

        return await self._run("LIST", op, idempotent=True)

    async def status(self, name: str | Folder) -> FolderStatus:
        async def op(conn: Connection) -> FolderStatus:
            resp = await conn.execute("STATUS", self._mbox(conn, name), self._status_items(conn))
            resp.check()
            for item in self._parsed(resp):
                if isinstance(item, parser.StatusData):
                    return _status(item.counts)
            raise ImapProtocolError("STATUS gave no counts")

        return await self._run("STATUS", op, idempotent=True)

    async def status_many(self, names: Sequence[str | Folder]) -> dict[str, FolderStatus]:
        """STATUS of several folders in one pipelined round trip, by folder name; a folder
        the server refuses (deleted meanwhile) or answers unreadably is left out."""
        wanted = list(names)
        if not wanted:
            return {}

        async def op(conn: Connection) -> dict[str, FolderStatus]:
            by_raw: dict[str, str] = {}
            commands: list[tuple[str, Sequence[Arg]]] = []
            for name in wanted:
                if isinstance(name, Folder):
                    by_raw[name.raw_name] = name.name
                    arg: Arg = parser.astring_arg(name.raw_name)
                else:
                    arg = conn.mailbox_arg(name)
                commands.append(("STATUS", (arg, self._status_items(conn))))
            found: dict[str, FolderStatus] = {}

            def on_status(raw: bytes) -> None:
                try:
                    data = self._parse(raw)
                except ImapProtocolError as exc:
                    log.warning("STATUS answer skipped: %s", exc)
                    return
                if isinstance(data, parser.StatusData):
                    found[by_raw.get(data.raw_name, data.name)] = _status(data.counts)
                else:
                    self._fold(data)

            await conn.pipeline(commands, on_untagged=on_status)
            return found

        return await self._run("STATUS", op, idempotent=True)

    async def create_folder(self, name: str) -> None:
        """CREATE under the personal namespace; a name it cannot hold is refused unsent."""

        async def op(conn: Connection) -> None:
            await self._learn_namespace(conn)
            assert self.namespace is not None
            self.namespace.check_new(name)
            resp = await conn.execute("CREATE", self._mbox(conn, name))
            self._parsed(resp.check())

        await self._run(f"creating folder {name!r}", op, idempotent=False)

    async def delete_folder(self, name: str | Folder) -> None:
        await self._simple("DELETE", name, what=f"deleting folder {name!r}")

    async def rename_folder(self, old: str | Folder, new: str) -> None:
        async def op(conn: Connection) -> None:
            await self._learn_namespace(conn)
            assert self.namespace is not None
            self.namespace.check_new(new)
            new_arg = conn.mailbox_arg(self.server_name(new))
            resp = await conn.execute("RENAME", self._mbox(conn, old), new_arg)
            self._parsed(resp.check())

        await self._run(f"renaming folder {old!r}", op, idempotent=False)

    async def subscribe(self, name: str | Folder) -> None:
        await self._simple("SUBSCRIBE", name, what=f"subscribing to {name!r}", idempotent=True)

    async def unsubscribe(self, name: str | Folder) -> None:
        await self._simple("UNSUBSCRIBE", name, what=f"unsubscribing {name!r}", idempotent=True)

    async def _simple(
        self, command: str, name: str | Folder, *, what: str, idempotent: bool = False
    ) -> None:
        async def op(conn: Connection) -> None:
            await self._learn_namespace(conn)
            resp = await conn.execute(command, self._mbox(conn, name))
            self._parsed(resp.check())

        await self._run(what, op, idempotent=idempotent)

    # -- selecting ------------------------------------------------------------------------------

    async def select(
        self,
        name: str | Folder,
        readonly: bool = False,
        qresync: tuple[int, int, Sequence[int] | None] | None = None,
    ) -> MailboxInfo:
        """SELECT (or EXAMINE when `readonly`); with `qresync=(uidvalidity, modseq, known_uids)`
        and QRESYNC enabled, the server also says what vanished and what changed since."""

        ready = self._take_ready_select(name, readonly, qresync)
        if ready is not None:
            return ready

        async def op(conn: Connection) -> MailboxInfo:
            return await self._select_on(conn, name, readonly, qresync)

        info = await self._run("SELECT", op, idempotent=True)
        self._selected = (name, readonly)
        self.selected_info = info  # read-only or not, as the server said
        return info

    async def _select_on(
        self,
        conn: Connection,
        name: str | Folder,
        readonly: bool,
        qresync: tuple[int, int, Sequence[int] | None] | None,
    ) -> MailboxInfo:
        extra = _qresync_args(qresync) if "QRESYNC" in conn.enabled else []
        self.mailbox = None
        resp = await conn.execute(
            "EXAMINE" if readonly else "SELECT", self._mbox(conn, name), *extra
        )
        return self._selected_from(name, readonly, resp)

    def _selected_from(
        self,
        name: str | Folder,
        readonly: bool,
        resp: Response,
        items: Sequence[parser.Untagged] | None = None,
    ) -> MailboxInfo:
        """The MailboxInfo of a SELECT/EXAMINE's answer (its untagged responses, or `items`
        already parsed); the mailbox state starts from it."""
        resp.check()
        display = name.name if isinstance(name, Folder) else name
        info = MailboxInfo(name=display, readonly=readonly)
        state = MailboxState(display)
        for data in items if items is not None else map(self._parse, resp.untagged):
            if isinstance(data, parser.NumberData):
                if data.kind == "EXISTS":
                    info.exists = state.exists = data.number
                elif data.kind == "RECENT":
                    info.recent = state.recent = data.number
            elif isinstance(data, parser.FlagsData):
                info.flags = data.flags
            elif isinstance(data, parser.StatusResponse) and data.code is not None:
                code = data.code
                if code.name == "UIDVALIDITY" and isinstance(code.value, int):
                    info.uidvalidity = state.uidvalidity = code.value
                elif code.name == "UIDNEXT" and isinstance(code.value, int):
                    info.uidnext = state.uidnext = code.value
                elif code.name == "HIGHESTMODSEQ" and isinstance(code.value, int):
                    info.highestmodseq = state.highestmodseq = code.value
                elif code.name == "PERMANENTFLAGS" and isinstance(code.value, frozenset):
                    info.permanentflags = code.value
                elif code.name == "NOMODSEQ":
                    info.nomodseq = True
            elif isinstance(data, parser.VanishedData):
                # One too large to expand is left out: the resync's counts then differ and it
                # reads the UID list, which is the truth.
                info.vanished.extend(data.uids)
            elif isinstance(data, parser.FetchData):
                info.changed.append(data)
        if resp.code is not None and resp.code.name == "READ-ONLY":
            info.readonly = True
        self.mailbox = state
        return info

    async def unselect(self) -> None:
        """Leave the folder without expunging (UNSELECT, or CLOSE after EXAMINE)."""

        async def op(conn: Connection) -> None:
            if conn.state != _aio.SELECTED:
                return
            if conn.has_capability("UNSELECT"):
                (await conn.execute("UNSELECT")).check()
            else:
                # EXAMINE leaves the folder; a CLOSE then expunges nothing, as the mailbox is
                # read-only (RFC 3501 6.4.2), but only if the server said so: without
                # [READ-ONLY] INBOX stays examined (a CLOSE of a read-write one would expunge).
                examined = (await conn.examine("INBOX")).check()
                code = examined.code
                if code is not None and code.name == "READ-ONLY":
                    (await conn.execute("CLOSE")).check()

        self._selected = None
        self.selected_info = None
        await self._run("UNSELECT", op, idempotent=True)
        self.mailbox = None

    def _require_selected(self) -> None:
        if self._selected is None:
            raise ImapError("no folder is selected")

    # -- UID lists, search, sort, thread ------------------------------------------------------

    async def uid_list(self, sort: str | None = None) -> UidArray:
        """The folder's UIDs: ascending, or in `sort` order ("REVERSE DATE") where SORT exists.

        Without SORT the list is by UID (arrival order), reversed when `sort` starts with
        REVERSE: an approximation the caller can refine from the summaries.

        The list is a UidArray (4 bytes a UID) and the selected mailbox's state shares it: the
        caller must not change it in place (a new list is cheap to make).
        """
        self._require_selected()
        ready = self._take_ready_uids(sort)
        if ready is not None:
            return ready

        async def op(conn: Connection) -> UidArray:
            if sort and conn.has_capability("SORT"):
                uids = await self._sort_on(conn, sort, None)
                if self.mailbox is not None:
                    self.mailbox.set_uids(uids)
                return uids
            uids = ascending_uids(await self._search_on(conn, SearchCriteria(None, ["ALL"])))
            if self.mailbox is not None:
                self.mailbox.set_uids(uids)
            if sort and _is_reverse(sort):
                return uids[::-1]
            return uids

        return await self._run("UID list", op, idempotent=True)

    async def newest_uids(self, sort: str | None = None) -> UidArray:
        """The folder's UIDs by UID (arrival order), reversed when `sort` starts with REVERSE:
        what a list can draw before the server's SORT answers. UID SEARCH ALL needs only the
        server's index (no Date or Subject read from a message), and with ESEARCH its answer
        for a folder without gaps is one range. Without SORT this is `uid_list(sort)` itself.
        """
        self._require_selected()
        if not self.has_capability("SORT"):
            return await self.uid_list(sort)
        ready = self._take_ready_uids(_by_uid_key(sort))
        if ready is not None:
            return ready

        async def op(conn: Connection) -> UidArray:
            uids = ascending_uids(await self._search_on(conn, SearchCriteria(None, ["ALL"])))
            if self.mailbox is not None:
                self.mailbox.set_uids(uids)
            return uids[::-1] if sort and _is_reverse(sort) else uids

        return await self._run("UID list", op, idempotent=True)

    async def newest_screen(
        self, sort: str | None, count: int
    ) -> tuple[UidArray, list[MessageSummary]]:
        """`newest_uids(sort)` and the summaries of its first `count` UIDs, in one round trip
        whatever the opening brought: with the UID list (the opening's, or a folder without
        gaps), a FETCH of those UIDs; else the UID SEARCH and a FETCH of the same rows by
        sequence number (the list's end by arrival), pipelined (RFC 9051 5.5)."""
        self._require_selected()
        ready = self._take_ready_uids(_by_uid_key(sort)) if self.has_capability("SORT") else None
        if ready is not None or not self.has_capability("SORT") or count <= 0:
            uids = ready if ready is not None else await self.newest_uids(sort)
            return uids, await self.fetch_summaries(uids[: max(0, count)])
        reverse = bool(sort) and _is_reverse(sort or "")
        results: dict[int, MessageSummary] = {}
        on_untagged = self._summary_reader(None, results)

        async def op(conn: Connection) -> UidArray:
            results.clear()
            exists = self.mailbox.exists if self.mailbox is not None else 0
            esearch = ["RETURN (ALL)"] if conn.has_capability("ESEARCH") else []
            commands: list[tuple[str, Sequence[Arg]]] = [("UID SEARCH", [*esearch, "ALL"])]
            if exists > 0:
                low, high = (
                    (max(1, exists - count + 1), exists) if reverse else (1, min(count, exists))
                )
                commands.append(("FETCH", [f"{low}:{high}", f"({_summary_items(conn)})"]))
            answers = await conn.batch(commands)
            pooled = _pooled(answers[0], answers)
            others = []
            for raw in pooled.untagged:
                if raw[:2] == b"* " and b" FETCH " in raw[:20]:
                    on_untagged(raw)
                else:
                    others.append(raw)
            for resp in answers[1:]:
                resp.check()
            listed = Response(pooled.status, others, pooled.code, pooled.text, pooled.command)
            order = ascending_uids(self._search_answer(listed.check()))
            if self.mailbox is not None:
                self.mailbox.set_uids(order)
            return order[::-1] if reverse else order

        uids = await self._run("UID list and the newest rows", op, idempotent=True)
        first = uids[: max(0, count)]
        missing = [u for u in first if u not in results]
        if missing:  # the rows moved meanwhile (an expunge): ask by UID
            results.update((s.uid, s) for s in await self.fetch_summaries(missing))
        return uids, [results[u] for u in first if u in results]

    def membership(self) -> tuple[MailboxState, int] | None:
        """The selected mailbox's state and its change count (`MailboxState.changes`): what
        `adopt_order` checks a list made on another connection against."""
        state = self.mailbox
        return None if state is None else (state, state.changes)

    def adopt_order(
        self,
        name: str,
        sort: str,
        order: UidArray,
        uidvalidity: int | None,
        seen: tuple[MailboxState, int],
    ) -> bool:
        """Take `order`, the UID SORT of `name` answered on another connection, as the answer
        the next `select(name)` + `uid_list(sort)` would get here, without asking (issue 21:
        a fresh server sorting 1,000,000 messages held this connection for 28-57 s). Taken only
        when it is this connection's mailbox as `seen` (`membership`, read before the other
        connection asked) with nothing added or gone since (the caller sent a NOOP first, so
        what changed by then was told), the same UIDVALIDITY, and as many UIDs as EXISTS.
        False: nothing kept, the usual commands are sent."""
        state, changes = seen
        info = self.selected_info
        if self.mailbox is not state or state.changes != changes or info is None:
            return False
        if self._selected != (name, False) or state.unknown_new:
            return False
        if uidvalidity is None or state.uidvalidity != uidvalidity or state.exists != len(order):
            return False
        state.set_uids(order)
        info.exists = state.exists
        # No QRESYNC parameter: a folder with nothing cached is selected without one.
        self._ready = _Ready(name, False, None, info, state, sort, order)
        return True

    def learn_uids(self, uids: Sequence[int]) -> bool:
        """Give the selected folder's state a UID list known complete without a listing (see
        `MailboxState.learn_uids`); False when it was not taken (no folder, or inconsistent)."""
        state = self.mailbox
        return state is not None and state.learn_uids(uids)

    async def search(self, criteria: SearchCriteria) -> UidArray:
        """UID SEARCH (ESEARCH's compact form where offered); UIDs ascending."""
        self._require_selected()

        async def op(conn: Connection) -> UidArray:
            return ascending_uids(await self._search_on(conn, criteria))

        return await self._run("SEARCH", op, idempotent=True)

    async def _search_on(self, conn: Connection, criteria: SearchCriteria) -> UidArray:
        args: list[Arg] = []
        esearch = conn.has_capability("ESEARCH")
        if esearch:
            args.append("RETURN (ALL)")
        # After ENABLE UTF8=ACCEPT strings are UTF-8 and a CHARSET is forbidden (RFC 6855
        # section 3, erratum 4029): Courier answers "NO CHARSET is not valid in UTF8 mode".
        if criteria.charset and not conn.utf8:
            args += ["CHARSET", criteria.charset]
        args += criteria.args or ["ALL"]
        resp = (await conn.execute("UID SEARCH", *args)).check()
        return self._search_answer(resp)

    def _search_answer(self, resp: Response) -> UidArray:
        parts: list[UidArray] = []
        for item in self._parsed(resp):
            if isinstance(item, parser.ESearchData) and item.all:
                parts.append(item.all)
            elif isinstance(item, parser.SearchData):
                parts.append(item.numbers)
        return _joined(parts)

    async def sort(
        self, keys: str | Sequence[str], criteria: SearchCriteria | None = None
    ) -> UidArray:
        """UID SORT by `keys` ("REVERSE DATE" or ["REVERSE", "ARRIVAL"]); needs SORT."""
        self._require_selected()

        async def op(conn: Connection) -> UidArray:
            if not conn.has_capability("SORT"):
                raise ImapError("the server does not offer SORT")
            return await self._sort_on(conn, keys, criteria)

        return await self._run("SORT", op, idempotent=True)

    async def _sort_on(
        self, conn: Connection, keys: str | Sequence[str], criteria: SearchCriteria | None
    ) -> UidArray:
        args = _sort_args(conn, keys, criteria)
        limit = max(conn.timeout, SORT_TIMEOUT)
        resp = (await conn.execute("UID SORT", *args, timeout=limit)).check()
        return self._sort_answer(resp)

    def _sort_answer(self, resp: Response) -> UidArray:
        resp.check()
        parts = [item.numbers for item in self._parsed(resp) if isinstance(item, parser.SortData)]
        del resp  # the answer's bytes (700 KB at 100,000 UIDs) go before anything else is built
        return _joined(parts)

    async def thread(
        self, algorithm: str = "REFERENCES", criteria: SearchCriteria | None = None
    ) -> list[ThreadNode]:
        """UID THREAD with `algorithm` (REFERENCES, ORDEREDSUBJECT, ...); needs THREAD=algorithm."""
        self._require_selected()
        algorithm = algorithm.upper()
        if not re.fullmatch(r"[A-Z0-9._-]+", algorithm):
            raise ValueError(f"not a THREAD algorithm: {algorithm!r}")

        async def op(conn: Connection) -> list[ThreadNode]:
            if not conn.has_capability(f"THREAD={algorithm}"):
                raise ImapError(f"the server does not offer THREAD={algorithm}")
            crit = criteria or SearchCriteria(None, ["ALL"])
            charset = "UTF-8" if conn.utf8 else crit.charset or "UTF-8"
            args: list[Arg] = [algorithm, charset, *(crit.args or ["ALL"])]
            resp = (await conn.execute("UID THREAD", *args)).check()
            threads: list[ThreadNode] = []
            for item in self._parsed(resp):
                if isinstance(item, parser.ThreadData):
                    threads.extend(item.threads)
            return threads

        return await self._run("THREAD", op, idempotent=True)

    async def fetch_sort_fields(
        self, uids: Sequence[int], progress: Callable[[int, int], None] | None = None
    ) -> dict[int, tuple[datetime | None, int, Envelope | None]]:
        """(INTERNALDATE, RFC822.SIZE, ENVELOPE) of each of `uids`: what the client needs to
        sort itself where the server has no SORT.

        The ENVELOPE is the server's own reading of Date, Subject and the addresses, which
        is what RFC 5256 sorts by; the answers take the parser's fast path (no literal). One
        UID FETCH per window, pipelined; `progress(done, total)` as the answers come.
        """
        self._require_selected()
        wanted = sorted({u for u in uids if u > 0})
        wanted_set = set(wanted)
        results: dict[int, tuple[datetime | None, int, Envelope | None]] = {}
        total = len(wanted)
        step = max(1, min(FETCH_WINDOW, total // 50 or 1))
        fast = parser.parse_fetch_summary

        def on_untagged(raw: bytes) -> None:
            try:
                summary = fast(raw)
                if summary is not None and summary.uid in wanted_set:
                    results[summary.uid] = (summary.internaldate, summary.size, summary.envelope)
                    if progress is not None and len(results) % step == 0:
                        progress(len(results), total)
                    return
                data = self._parse(raw)
            except (ImapProtocolError, parser.ParseError) as exc:
                log.warning("FETCH response skipped: %s", exc)
                return
            if isinstance(data, FetchData) and data.uid in wanted_set:
                assert data.uid is not None
                results[data.uid] = (data.internaldate, data.size or 0, data.envelope)
            self._fold(data)

        with _gc_paused(total > 2 * FETCH_WINDOW):
            await self._windowed_fetch(
                "fetching sort keys", wanted, results, FETCH_WINDOW,
                lambda conn: "UID INTERNALDATE RFC822.SIZE ENVELOPE", None, on_untagged,
            )  # fmt: skip
        if progress is not None:
            progress(total, total)
        return results

    async def fetch_header_fields(
        self,
        uids: Sequence[int],
        fields: str,
        progress: Callable[[int, int], None] | None = None,
    ) -> dict[int, bytes]:
        """The header `fields` ("REFERENCES") of each of `uids`, windowed and pipelined."""
        self._require_selected()
        if not re.fullmatch(r"[A-Za-z0-9-]+(?: [A-Za-z0-9-]+)*", fields):
            raise ValueError(f"not a list of header fields: {fields!r}")
        wanted = sorted({u for u in uids if u > 0})
        wanted_set = set(wanted)
        results: dict[int, bytes] = {}
        total = len(wanted)
        step = max(1, min(FETCH_WINDOW, total // 50 or 1))

        def on_untagged(raw: bytes) -> None:
            # The usual answer, `* n FETCH (UID u BODY[HEADER.FIELDS (...)] {k}` + k bytes
            # + `)`, is cut out directly (the tokenizer costs 60 µs a message).
            m = _HEADER_FIELDS_ANSWER.match(raw)
            if m is not None:
                uid, end = int(m[1]), m.end() + int(m[2])
                if uid in wanted_set and raw[end:].strip() == b")":
                    results[uid] = raw[m.end() : end]
                    if progress is not None and len(results) % step == 0:
                        progress(len(results), total)
                    return
            try:
                data = self._parse(raw)
            except ImapProtocolError as exc:
                log.warning("FETCH response skipped: %s", exc)
                return
            if isinstance(data, FetchData) and data.uid in wanted_set:
                assert data.uid is not None
                header = b""
                for key, section in data.sections.items():
                    if key.startswith("HEADER.FIELDS"):
                        header = section.data or b""
                results[data.uid] = header
                if progress is not None and len(results) % step == 0:
                    progress(len(results), total)
                if data.flags is not None:
                    self._fold(data)
            else:
                self._fold(data)

        items = f"UID BODY.PEEK[HEADER.FIELDS ({fields})]"
        with _gc_paused(total > 2 * FETCH_WINDOW):
            await self._windowed_fetch(
                "fetching header fields", wanted, results, FETCH_WINDOW, lambda conn: items,
                None, on_untagged,
            )  # fmt: skip
        if progress is not None:
            progress(total, total)
        return results

    # -- fetching -------------------------------------------------------------------------------

    async def fetch_summaries(
        self, uids: Sequence[int], changedsince: int | None = None
    ) -> list[MessageSummary]:
        """Summaries (never bodies) for `uids`, in windows, in the order asked; UIDs that no
        longer exist are left out. `changedsince` (CONDSTORE) keeps only changed messages."""
        self._require_selected()
        wanted = sorted({u for u in uids if u > 0})
        results: dict[int, MessageSummary] = {}
        on_untagged = self._summary_reader(set(wanted), results)
        with _gc_paused(len(wanted) > 2 * FETCH_WINDOW):
            await self._windowed_fetch(
                "fetching message summaries",
                wanted,
                results,
                FETCH_WINDOW,
                _summary_items,
                changedsince,
                on_untagged,
            )
        return [results[u] for u in dict.fromkeys(uids) if u in results]

    async def fetch_summaries_with_list(
        self, uids: Sequence[int], sort: str | None
    ) -> tuple[list[MessageSummary], UidArray]:
        """`fetch_summaries(uids)` and `uid_list(sort)` in one round trip (new mail at a warm
        start: its summaries and the folder's new order, neither waiting on the other)."""
        self._require_selected()
        wanted = sorted({u for u in uids if u > 0})
        if not wanted or len(wanted) > FETCH_WINDOW:
            return await self.fetch_summaries(uids), await self.uid_list(sort)
        results: dict[int, MessageSummary] = {}
        on_untagged = self._summary_reader(set(wanted), results)

        async def op(conn: Connection) -> UidArray:
            results.clear()
            fetch = ("UID FETCH", [parser.format_sequence_set(wanted), f"({_summary_items(conn)})"])
            by_sort = bool(sort) and conn.has_capability("SORT")
            if by_sort:
                assert sort is not None
                listing: tuple[str, Sequence[Arg]] = ("UID SORT", _sort_args(conn, sort, None))
            else:
                esearch = ["RETURN (ALL)"] if conn.has_capability("ESEARCH") else []
                listing = ("UID SEARCH", [*esearch, "ALL"])
            fetched, listed = await conn.batch([fetch, listing])
            fetched.check()
            # Dovecot runs the two at once: "* SORT" may come before the FETCH's completion.
            listed = _pooled(listed, [fetched, listed])
            for raw in listed.untagged:
                if raw[:7].upper() != b"* SORT " and raw[:9].upper() != b"* SEARCH ":
                    on_untagged(raw)  # the FETCHes (ESEARCH, and anything else, is folded)
            if by_sort:
                order = self._sort_answer(listed)
                if self.mailbox is not None:
                    self.mailbox.set_uids(order)
                return order
            order = ascending_uids(self._search_answer(listed.check()))
            if self.mailbox is not None:
                self.mailbox.set_uids(order)
            return order[::-1] if sort and _is_reverse(sort) else order

        order = await self._run("fetching new mail and the UID list", op, idempotent=True)
        return [results[u] for u in dict.fromkeys(uids) if u in results], order

    def _summary_reader(
        self, wanted_set: set[int] | None, results: dict[int, MessageSummary]
    ) -> Callable[[bytes], None]:
        """The reader of summary FETCH answers into `results` (other responses are folded);
        `wanted_set` None takes every UID (a FETCH by sequence number)."""
        if wanted_set is None:
            wanted_set = _Everything()
        parse = parser.parse_untagged
        # The usual answer goes straight to a MessageSummary (no FetchData in between); any
        # other response, or a UID not asked for, takes the general path below.
        parse_summary = parser.parse_fetch_summary
        utf8 = self._conn.utf8 if self._conn is not None else False

        def on_untagged(raw: bytes) -> None:
            try:
                summary = parse_summary(raw)
                if summary is not None and summary.uid in wanted_set:
                    results[summary.uid] = summary
                    return
                data = parse(raw, utf8=utf8)
            except Exception as exc:  # ParseError by contract; anything else is the same to us
                # One unreadable message must not hide the folder: keep its UID, log the rest.
                m = _UID_RE.search(raw) if raw[:2] == b"* " and b"FETCH" in raw[:20] else None
                if m is not None and int(m.group(1)) in wanted_set:
                    results.setdefault(int(m.group(1)), MessageSummary(int(m.group(1))))
                log.warning("FETCH response skipped: %s", exc)
                return
            if data.__class__ is FetchData:
                assert isinstance(data, FetchData)
                uid = data.uid
                if uid is not None and uid in wanted_set and data.envelope is not None:
                    results[uid] = _summary(data)
                    return
                if uid is not None and uid in results and data.flags is not None:
                    results[uid].flags = data.flags
            self._fold(data)

        return on_untagged

    async def fetch_flags(
        self, uids: Sequence[int], changedsince: int | None = None
    ) -> dict[int, frozenset[str]]:
        """Flags of `uids` (only those changed since `changedsince` under CONDSTORE)."""
        self._require_selected()
        wanted = sorted({u for u in uids if u > 0})
        wanted_set = set(wanted)
        results: dict[int, frozenset[str]] = {}

        def on_untagged(raw: bytes) -> None:
            data = self._parse(raw)
            if isinstance(data, FetchData) and data.uid in wanted_set and data.flags is not None:
                assert data.uid is not None
                results[data.uid] = data.flags
            else:
                self._fold(data)

        await self._windowed_fetch(
            "fetching flags",
            wanted,
            results,
            FLAGS_WINDOW,
            lambda conn: "UID FLAGS" + (" MODSEQ" if conn.has_capability("CONDSTORE") else ""),
            changedsince,
            on_untagged,
        )
        return results

    async def _windowed_fetch(
        self,
        what: str,
        wanted: list[int],
        results: dict[int, T],
        window: int,
        items: Callable[[Connection], str],
        changedsince: int | None,
        on_untagged: Callable[[bytes], None],
    ) -> None:
        """UID FETCH `wanted` in windows, pipelined; after a reconnect only what is missing."""
        done_windows: set[int] = set()  # windows whose command completed (absent UIDs are gone)

        async def op(conn: Connection) -> None:
            spec = "(" + items(conn) + ")"
            modifier: list[Arg] = []
            if changedsince is not None and conn.has_capability("CONDSTORE"):
                modifier = [f"(CHANGEDSINCE {int(changedsince)})"]
            pending = []
            for index, chunk in enumerate(_chunks(wanted, window)):
                if index in done_windows:
                    continue
                missing = [u for u in chunk if u not in results]
                if missing:
                    pending.append((index, missing))
            if not pending:
                return
            commands = [
                ("UID FETCH", (parser.format_sequence_set(m), spec, *modifier)) for _, m in pending
            ]
            responses = await conn.pipeline(commands, on_untagged=on_untagged)
            for (index, _), resp in zip(pending, responses, strict=True):
                resp.check()
                done_windows.add(index)

        await self._run(what, op, idempotent=True)

    async def fetch_header(self, uid: int) -> bytes:
        """The raw header block of one message (BODY.PEEK[HEADER])."""
        return await self._fetch_section(uid, "HEADER", None)

    async def fetch_raw(self, uid: int) -> bytes:
        """The whole message as stored (BODY.PEEK[]), without setting \\Seen."""
        return await self._fetch_section(uid, "", None)

    async def _fetch_section(
        self, uid: int, section: str, partial: tuple[int, int] | None
    ) -> bytes:
        return (await self._fetch_bodies(uid, [section], partial))[section]

    async def fetch_sections(self, uid: int, sections: Sequence[str]) -> dict[str, bytes]:
        """Several whole sections of one message ("HEADER", "1", "1.2") in one UID FETCH.

        One command instead of one per section: one round trip and one completion line, which
        is what opening a message costs on a slow link. Meant for small parts (text parts whose
        size BODYSTRUCTURE gives); big ones go through `iter_part` in chunks.
        """
        wanted = list(dict.fromkeys(sections))
        if not wanted:
            self._require_selected()
            return {}
        return await self._fetch_bodies(uid, wanted, None)

    async def _fetch_bodies(
        self, uid: int, sections: list[str], partial: tuple[int, int] | None
    ) -> dict[str, bytes]:
        """`BODY.PEEK[section]<partial>` of each of `sections` in one UID FETCH (never \\Seen)."""
        self._require_selected()
        for section in sections:
            if not re.fullmatch(r"[0-9.]*[A-Z.0-9]*", section):
                raise ValueError(f"not a section: {section!r}")
        origin = f"<{partial[0]}.{partial[1]}>" if partial else ""
        items = " ".join(f"BODY.PEEK[{section}]{origin}" for section in sections)
        keys = {parser.section_key(section): section for section in sections}

        async def op(conn: Connection) -> dict[str, bytes]:
            found: dict[str, bytes] = {}

            def on_untagged(raw: bytes) -> None:
                data = self._parse(raw)
                if isinstance(data, FetchData) and data.uid == uid:
                    for key, section in keys.items():
                        if key in data.sections:
                            found[section] = data.sections[key].data or b""
                    if data.flags is not None:
                        self._fold(data)
                else:
                    self._fold(data)

            resp = await conn.execute(
                "UID FETCH", str(int(uid)), f"(UID {items})", on_untagged=on_untagged
            )
            resp.check()
            if len(found) < len(sections):
                raise ImapNoError(f"message UID {uid} does not exist (any more)", None, "FETCH")
            return found

        return await self._run("fetching a message", op, idempotent=True)

    async def part_size(self, uid: int, part_id: str) -> int | None:
        """The encoded size of one body part (or of the whole message for ""), if known."""

        async def op(conn: Connection) -> int | None:
            got: list[FetchData] = []

            def on_untagged(raw: bytes) -> None:
                data = self._parse(raw)
                if isinstance(data, FetchData) and data.uid == uid:
                    got.append(data)
                else:
                    self._fold(data)

            items = "(UID RFC822.SIZE BODYSTRUCTURE)"
            (await conn.execute("UID FETCH", str(int(uid)), items, on_untagged=on_untagged)).check()
            if not got:
                raise ImapNoError(f"message UID {uid} does not exist (any more)", None, "FETCH")
            data = got[-1]
            if part_id == "":
                return data.size
            if data.bodystructure is not None:
                for part in data.bodystructure.walk():
                    if part.part_id == part_id and not part.is_multipart:
                        return part.size
            return None

        return await self._run("fetching a message structure", op, idempotent=True)

    async def iter_part(
        self,
        uid: int,
        part_id: str,
        *,
        chunk_size: int = 65536,
        progress: Callable[[int, int | None], None] | None = None,
        cancel: asyncio.Event | None = None,
        size_hint: int | None = None,
    ) -> AsyncIterator[bytes]:
        """One body part ("1.2"; "" for the whole message) in chunks of `chunk_size` octets
        (BODY.PEEK[1.2]<offset.len>). `progress(done, total)` after each chunk; setting
        `cancel` stops with `ImapCancelled`. A chunk cut by a dropped connection is refetched."""
        if chunk_size < 1:
            raise ValueError("chunk_size must be positive")
        if not re.fullmatch(r"([0-9]+(\.[0-9]+)*)?", part_id):
            raise ValueError(f"not a body part number: {part_id!r}")
        total = size_hint
        if total is None and progress is not None:
            total = await self.part_size(uid, part_id)
        offset = 0
        while True:
            if cancel is not None and cancel.is_set():
                raise ImapCancelled(f"fetch of part {part_id or 'message'} of UID {uid} cancelled")
            chunk = await self._fetch_section(uid, part_id, (offset, chunk_size))
            if cancel is not None and cancel.is_set():
                raise ImapCancelled(f"fetch of part {part_id or 'message'} of UID {uid} cancelled")
            if chunk:
                offset += len(chunk)
                yield chunk
            if progress is not None:
                progress(offset, total)
            if len(chunk) < chunk_size:
                return

    async def fetch_part(
        self,
        uid: int,
        part_id: str,
        *,
        chunk_size: int = 65536,
        progress: Callable[[int, int | None], None] | None = None,
        cancel: asyncio.Event | None = None,
    ) -> bytes:
        """The whole of one body part, fetched in chunks (see `iter_part`)."""
        out = bytearray()
        async for chunk in self.iter_part(
            uid, part_id, chunk_size=chunk_size, progress=progress, cancel=cancel
        ):
            out += chunk
        return bytes(out)

    # -- changing -------------------------------------------------------------------------------

    async def store_flags(self, uids: Sequence[int], flags: Iterable[str], mode: str = "+") -> None:
        """Add ("+"), remove ("-") or set ("=") flags; safe to repeat, so retried on reconnect."""
        self._require_selected()
        if mode not in ("+", "-", "="):
            raise ValueError("mode must be '+', '-' or '='")
        flag_list = _flag_list(flags)
        item = {"+": "+FLAGS.SILENT", "-": "-FLAGS.SILENT", "=": "FLAGS.SILENT"}[mode]
        wanted = sorted({u for u in uids if u > 0})
        if not wanted:
            return

        async def op(conn: Connection) -> None:
            for chunk in _chunks(wanted, FLAGS_WINDOW):
                resp = await conn.execute(
                    "UID STORE", parser.format_sequence_set(chunk), item, flag_list
                )
                self._parsed(resp.check())

        await self._run(f"changing flags of {len(wanted)} message(s)", op, idempotent=True)
        self._changed(self._selected_name())

    async def copy(self, uids: Sequence[int], dest: str | Folder) -> dict[int, int] | None:
        """UID COPY; the new UIDs by old UID when the server says (COPYUID), else None."""
        self._require_selected()
        uid_set = parser.format_sequence_set(uids)

        async def op(conn: Connection) -> dict[int, int] | None:
            resp = await conn.execute("UID COPY", uid_set, self._mbox(conn, dest))
            self._parsed(resp.check())
            return _copyuid(resp.code)

        mapping = await self._run(f"copying {len(uids)} message(s)", op, idempotent=False)
        self._changed(dest)
        return mapping

    async def move(self, uids: Sequence[int], dest: str | Folder) -> dict[int, int] | None:
        """UID MOVE where offered; else COPY, flag \\Deleted and expunge just those UIDs."""
        self._require_selected()
        uid_set = parser.format_sequence_set(uids)
        what = f"moving {len(uids)} message(s)"
        conn = await self._connection()
        if conn.has_capability("MOVE"):

            async def op(conn: Connection) -> dict[int, int] | None:
                resp = await conn.execute("UID MOVE", uid_set, self._mbox(conn, dest))
                mapping = None
                for item in self._parsed(resp.check()):
                    if isinstance(item, parser.StatusResponse):
                        mapping = _copyuid(item.code) or mapping
                return mapping or _copyuid(resp.code)

            moved = await self._run(what, op, idempotent=False)
            self._changed(dest, self._selected_name())
            return moved
        mapping = await self.copy(uids, dest)
        try:
            await self.store_flags(uids, ["\\Deleted"], "+")
            await self.expunge(uids)
        except ImapConnectionError as exc:
            raise ImapConnectionError(
                f"{what}: copied to {dest!r} but not removed from the source ({exc}); "
                "repeating only the removal is safe",
                applied=True,
            ) from exc
        return mapping

    async def expunge(self, uids: Sequence[int] | None = None) -> list[int]:
        """EXPUNGE everything flagged \\Deleted, or only `uids` (UID EXPUNGE, needs UIDPLUS).

        Without UIDPLUS a UID list falls back to a plain EXPUNGE, which also removes other
        messages flagged \\Deleted, as every client without UIDPLUS must. Returns the UIDs the
        server reported gone (when the UID list was known)."""
        self._require_selected()

        async def op(conn: Connection) -> list[int]:
            before = len(self.mailbox.events) if self.mailbox is not None else 0
            if uids is not None and conn.has_capability("UIDPLUS"):
                if not uids:
                    return []
                resp = await conn.execute("UID EXPUNGE", parser.format_sequence_set(uids))
            else:
                resp = await conn.execute("EXPUNGE")
            self._parsed(resp.check())
            gone: list[int] = []
            if self.mailbox is not None:
                for event in self.mailbox.events[before:]:
                    if event.kind == "expunged":
                        gone.extend(event.uids)
            return gone

        gone = await self._run("expunging", op, idempotent=True)
        self._changed(self._selected_name())
        return gone

    async def append(
        self,
        folder: str | Folder,
        data: bytes,
        flags: Iterable[str] = (),
        date: datetime | None = None,
    ) -> int | None:
        """APPEND a message; its new UID when the server says (APPENDUID), else None."""
        flag_list = _flag_list(flags)
        args: list[Arg] = [flag_list]
        if date is not None:
            args.append(_aio.time2internaldate(date))

        async def op(conn: Connection) -> int | None:
            resp = await conn.execute("APPEND", self._mbox(conn, folder), *args, Literal(data))
            self._parsed(resp.check())
            code = resp.code
            if code is not None and code.name == "APPENDUID" and isinstance(code.value, tuple):
                new = code.value[1]
                if isinstance(new, list) and new:
                    return int(new[-1])
            return None

        uid = await self._run("saving a message", op, idempotent=False)
        self._changed(folder)
        return uid

    async def noop(self) -> list[MailboxEvent]:
        """NOOP: lets the server report changes; returns them (new UIDs resolved)."""

        async def op(conn: Connection) -> None:
            self._parsed((await conn.execute("NOOP")).check())

        await self._run("NOOP", op, idempotent=True)
        return await self._resolve_events()

    async def idle(self, max_wait: float, settle: float = 0.3) -> list[MailboxEvent]:
        """IDLE until the server reports a change or `max_wait` s pass; the changes, resolved.

        After the first push we wait `settle` s more so EXISTS/RECENT/FETCH bursts come as one.
        """
        self._require_selected()
        if self.mailbox is not None and self.mailbox.events:
            return await self._resolve_events()
        conn = await self._connection()
        self._fold_raw(conn.take_unsolicited())
        pushed: list[bytes] = []
        try:
            await conn.idle_start()
        except asyncio.CancelledError:
            await conn.disconnect(logout=False)
            raise
        try:
            pushed = await conn.idle_wait(max_wait)
            if pushed:
                pushed += await conn.idle_wait(settle)
            resp = await conn.idle_done()
        except asyncio.CancelledError:
            await conn.disconnect(logout=False)
            raise
        except ImapError:
            self._fold_raw(pushed)
            with contextlib.suppress(ImapError):
                await conn.idle_done()  # ends the IDLE bookkeeping on the dead connection
            raise
        self._fold_raw(pushed + resp.untagged)
        return await self._resolve_events()

    async def _resolve_events(self) -> list[MailboxEvent]:
        """Merge pending events and learn the UIDs of new messages."""
        state = self.mailbox
        if state is None:
            return []
        events = state.take_events()
        if not events:
            return []
        if any(e.kind == "resync" for e in events):
            return [MailboxEvent("resync", state.name, (), {}, state.exists)]
        new_uids: tuple[int, ...] = ()
        if any(e.kind == "new" for e in events) or state.unknown_new:
            if not state.has_uids and state.uidnext is None:
                await self.uid_list()  # nothing to count from: the whole list, once
            else:
                new_uids = await self._fetch_new_uids()
            if self.mailbox is state:
                # EXPUNGE/FETCH that arrived during that fetch; new messages are covered by it.
                events += [e for e in state.take_events() if e.kind != "new"]
        expunged = tuple(u for e in events if e.kind == "expunged" for u in e.uids)
        flags: dict[int, frozenset[str]] = {}
        for e in events:
            if e.kind == "flags":
                flags.update(e.flags)
        out = []
        if expunged or any(e.kind == "expunged" for e in events):
            out.append(MailboxEvent("expunged", state.name, expunged, {}, state.exists))
        if new_uids or any(e.kind == "new" for e in events):
            out.append(MailboxEvent("new", state.name, new_uids, {}, state.exists))
        flags = {u: f for u, f in flags.items() if u not in new_uids}
        if flags or any(e.kind == "flags" and not e.uids for e in events):
            out.append(MailboxEvent("flags", state.name, tuple(flags), flags, state.exists))
        return out

    async def uids_from(self, first: int) -> list[int]:
        """The UIDs from `first` on in the selected folder, ascending (UID FETCH first:*
        (UID)): the new mail since a UIDNEXT, without the folder's whole UID list."""
        self._require_selected()
        found = await self._uids_above(max(1, first) - 1)
        return sorted(set(found))

    async def _fetch_new_uids(self) -> tuple[int, ...]:
        state = self.mailbox
        assert state is not None
        # Without a list held (an IDLE watcher), what is new lies from UIDNEXT on.
        last = state.last_uid if state.has_uids else (state.uidnext or 1) - 1
        found = await self._uids_above(last)
        if self.mailbox is not state:
            return tuple(sorted(found))
        return state.add_new_uids(found)

    async def _uids_above(self, last: int) -> list[int]:
        """UIDs greater than `last` (other untagged answers are folded as usual)."""
        found: list[int] = []

        async def op(conn: Connection) -> None:
            def on_untagged(raw: bytes) -> None:
                data = self._parse(raw)
                if isinstance(data, FetchData) and data.uid is not None and data.uid > last:
                    found.append(data.uid)
                else:
                    self._fold(data)

            resp = await conn.execute(
                "UID FETCH", f"{last + 1}:*", "(UID)", on_untagged=on_untagged
            )
            resp.check()

        await self._run("fetching new UIDs", op, idempotent=True)
        return found


def _copyuid(code: parser.ResponseCode | None) -> dict[int, int] | None:
    if code is None or code.name != "COPYUID" or not isinstance(code.value, tuple):
        return None
    _, old, new = code.value
    if not isinstance(old, list) or not isinstance(new, list) or len(old) != len(new):
        return None
    return dict(zip(old, new, strict=True))
