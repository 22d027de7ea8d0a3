"""The selected mailbox's state, kept true by folding untagged responses, and an IDLE watcher.

Servers report changes whenever they like: `* n EXISTS` and `* n EXPUNGE` may arrive in the
middle of a FETCH, `* VANISHED` replaces EXPUNGE once QRESYNC is on, and `* n FETCH (FLAGS ...)`
tells of another client's flag change. `MailboxState.apply` folds each of them into the UID list
(sequence order, which is ascending UID order) and turns it into a `MailboxEvent` for the UI.

`IdleWatcher` keeps a connection of its own on one folder: IDLE where offered (re-issued before
the 29 minutes after which servers may drop an idle client), NOOP polling where not, reconnecting
with backoff, and calling `on_change(event)` for new mail, expunges and flag changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import operator
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING

from app.imap import parser
from app.imap.errors import ImapAuthError, ImapError, ImapTlsError
from app.imap.parser import UidArray

if TYPE_CHECKING:
    from app.imap.client import ImapClient
    from app.imap.engine import ServerAlert
    from app.models import Credentials, ServerSettings

__all__ = ["IdleWatcher", "MailboxEvent", "MailboxState", "ascending_uids"]

log = logging.getLogger(__name__)

#: Servers may log out a client idle for 30 minutes (RFC 3501 5.4); re-issue IDLE before that.
IDLE_REISSUE_SECONDS = 28 * 60
#: Events held unread before they are replaced by one "resync" (reload the folder): a server
#: announcing a flag change a million times must not make a million events.
MAX_PENDING_EVENTS = 10_000


@dataclass(frozen=True, slots=True)
class MailboxEvent:
    """Something changed in a folder.

    kind: "new" (uids of new messages, empty when not yet known), "expunged" (uids removed),
    "flags" (`flags` maps uid to its new flag set), or "resync" (UIDVALIDITY changed or the
    state could not be followed: reload the folder).
    """

    kind: str
    folder: str
    uids: tuple[int, ...] = ()
    flags: dict[int, frozenset[str]] = field(default_factory=dict)
    exists: int = 0


def ascending_uids(uids: Iterable[int]) -> UidArray:
    """`uids` ascending without duplicates, as a UidArray (a new one; `uids` is not changed).

    A list already ascending (SEARCH, ESEARCH) or descending (a SORT by REVERSE ARRIVAL, often
    by REVERSE DATE) is copied or reversed in C; only another order goes through a sorted
    list of ints, for a moment.
    """
    arr = uids if isinstance(uids, UidArray) else UidArray(uids)
    if len(arr) < 2:
        return UidArray(arr)
    if all(map(operator.lt, arr, islice(arr, 1, None))):
        return UidArray(arr)
    if all(map(operator.gt, arr, islice(arr, 1, None))):
        return arr[::-1]
    return UidArray(sorted(set(arr)))


@dataclass(slots=True)
class MailboxState:
    """What we know of the selected mailbox; `uids` is in sequence order (seq n = uids[n-1]).

    `uids` is None until a UID list was fetched; until then EXPUNGE only changes `exists`.
    `unknown_new` counts messages announced by EXISTS whose UIDs are not fetched yet (they are
    the last ones in sequence order).

    The list given to `set_uids` (the folder in display order, 400 KB at 100,000 messages) is
    kept as it is, shared with whoever holds it and never changed: sequence order is only
    worked out when a sequence number must be read (EXPUNGE, or a FETCH without its UID, which
    servers under QRESYNC never send), and a change copies the list first.
    """

    name: str
    uidvalidity: int | None = None
    exists: int = 0
    recent: int = 0
    uidnext: int | None = None
    highestmodseq: int | None = None
    unknown_new: int = 0
    events: list[MailboxEvent] = field(default_factory=list)
    _list: UidArray | None = field(default=None, init=False, repr=False, compare=False)
    """The UIDs: ascending when `_ascending`, else in the order given to `set_uids`."""
    _ascending: bool = field(default=True, init=False, repr=False, compare=False)
    _owned: bool = field(default=True, init=False, repr=False, compare=False)
    """False while `_list` is the caller's: copied before any change."""
    _max: int = field(default=0, init=False, repr=False, compare=False)

    @property
    def uids(self) -> UidArray | None:
        """The UIDs in sequence order (ascending), None when unknown."""
        if self._list is not None and not self._ascending:
            self._list = ascending_uids(self._list)
            self._ascending = self._owned = True
        return self._list

    @uids.setter
    def uids(self, value: Iterable[int] | None) -> None:
        self._list = None if value is None else ascending_uids(value)
        self._ascending = self._owned = True
        self._max = self._list[-1] if self._list else 0

    @property
    def has_uids(self) -> bool:
        """Whether the UID list is known (without putting it in sequence order)."""
        return self._list is not None

    @property
    def known(self) -> int:
        """How many UIDs the list holds (0 when unknown)."""
        return len(self._list) if self._list is not None else 0

    def set_uids(self, uids: Iterable[int]) -> None:
        """A complete UID list, in any order (UID SEARCH ALL, UID SORT). A UidArray is kept
        as it is, not copied: the caller must not change it afterwards."""
        arr = uids if isinstance(uids, UidArray) else UidArray(uids)
        self._list = arr
        self._ascending = False
        self._owned = False
        self._max = max(arr, default=0)
        self.exists = len(arr)
        self.unknown_new = 0

    def _writable(self) -> UidArray:
        assert self._list is not None
        if not self._owned:
            self._list = UidArray(self._list)
            self._owned = True
        return self._list

    def add_new_uids(self, uids: Iterable[int]) -> tuple[int, ...]:
        """UIDs fetched after EXISTS grew: append those not yet known, return them.

        Without a UID list, the UIDs above UIDNEXT are new (and UIDNEXT moves past them)."""
        last = self.last_uid if self._list is not None else (self.uidnext or 1) - 1
        fresh = sorted(u for u in set(uids) if u > last)  # all known UIDs are <= last
        if self._list is not None:
            self._writable().extend(fresh)
            if fresh:
                self._max = fresh[-1]
            self.unknown_new = max(0, self.exists - len(self._list))
        if fresh and self.uidnext is not None and fresh[-1] >= self.uidnext:
            self.uidnext = fresh[-1] + 1
        return tuple(fresh)

    @property
    def last_uid(self) -> int:
        """The largest UID known (0 without a list)."""
        return self._max if self._list else 0

    def take_events(self) -> list[MailboxEvent]:
        out = self.events
        self.events = []
        return out

    def _emit(
        self, kind: str, uids: Iterable[int] = (), flags: dict[int, frozenset[str]] | None = None
    ) -> None:
        events = self.events
        if len(events) >= MAX_PENDING_EVENTS or (events and events[-1].kind == "resync"):
            # Too many to follow one by one (or a reload is due anyway): one reload says it all.
            if not (len(events) == 1 and events[0].kind == "resync"):
                self.events = [MailboxEvent("resync", self.name, (), {}, self.exists)]
            return
        events.append(MailboxEvent(kind, self.name, tuple(uids), flags or {}, self.exists))

    def apply(self, data: parser.Untagged) -> None:
        """Fold one parsed untagged response; events land in `events`."""
        if isinstance(data, parser.NumberData):
            if data.kind == "EXISTS":
                self._exists(data.number)
            elif data.kind == "EXPUNGE":
                self._expunge(data.number)
            elif data.kind == "RECENT":
                self.recent = data.number
        elif isinstance(data, parser.VanishedData):
            if data.too_large:
                self._vanished_ranges(data)
            else:
                self._vanished(data.uids, data.earlier)
        elif isinstance(data, parser.FetchData):
            self._fetch(data)
        elif isinstance(data, parser.StatusResponse) and data.code is not None:
            self._code(data.code)

    def _exists(self, n: int) -> None:
        if n > self.exists:
            grown = n - self.exists
            self.exists = n
            if self._list is not None:
                self.unknown_new = n - len(self._list)
            self._emit("new")
            log.debug("%s: %d new", self.name, grown)
        elif n < self.exists:
            # Only EXPUNGE may shrink a mailbox; a smaller EXISTS means we lost track.
            self.exists = n
            if self._list is not None and len(self._list) != n:
                self.uids = None
                self._emit("resync")

    def _expunge(self, seq: int) -> None:
        if seq < 1:
            return
        self.exists = max(0, self.exists - 1)
        if self._list is None:
            self._emit("expunged")
            return
        if seq <= len(self._list):
            self.uids  # noqa: B018 - puts the list in sequence order
            uid = self._writable().pop(seq - 1)
            if uid == self._max:
                self._max = self._list[-1] if self._list else 0
            self._emit("expunged", (uid,))
        elif self.unknown_new:
            self.unknown_new -= 1

    def _vanished(self, uids: Iterable[int], earlier: bool) -> None:
        if self._list is None:
            uids = tuple(uids)
            if not earlier:
                self.exists = max(0, self.exists - len(uids))
            self._emit("expunged", uids)
            return
        gone = set(uids)
        old = self._list
        removed_uids = [u for u in old if u in gone]
        if not removed_uids:
            return
        kept = UidArray(u for u in old if u not in gone)
        removed = len(removed_uids)
        self._list, self._owned = kept, True  # same order as before, a new array
        self._max = max(kept, default=0) if self._max in gone else self._max
        if not earlier:
            self.exists = max(0, self.exists - removed)
        else:
            self.exists = len(kept) + self.unknown_new
        self._emit("expunged", removed_uids)

    def _vanished_ranges(self, data: parser.VanishedData) -> None:
        """A VANISHED too large to expand ("1:4294967295"): checked against the UIDs known;
        without a list, what is gone cannot be told, so the folder is reloaded."""
        if self._list is None:
            self._emit("resync")
            return
        self._vanished([u for u in self._list if data.covers(u)], data.earlier)

    def _fetch(self, data: parser.FetchData) -> None:
        if data.modseq is not None and (
            self.highestmodseq is None or data.modseq > self.highestmodseq
        ):
            self.highestmodseq = data.modseq
        if data.flags is None:
            return
        uid = data.uid
        if uid is None and self._list is not None and 1 <= data.seq <= len(self._list):
            uids = self.uids
            assert uids is not None
            uid = uids[data.seq - 1]
        if uid is None:
            return
        self._emit("flags", (uid,), {uid: data.flags})

    def _code(self, code: parser.ResponseCode) -> None:
        value = code.value
        if not isinstance(value, int):
            return
        if code.name == "UIDNEXT":
            self.uidnext = value
        elif code.name == "HIGHESTMODSEQ":
            self.highestmodseq = value
        elif code.name == "UIDVALIDITY":
            if self.uidvalidity is not None and value != self.uidvalidity:
                self.uids = None
                self._emit("resync")
            self.uidvalidity = value


OnChange = Callable[[MailboxEvent], Awaitable[None] | None]


class IdleWatcher:
    """Watches one folder on a connection of its own and reports changes through `on_change`.

    Runs until `stop()`: connects (retrying with backoff; bad credentials or TLS end it, see
    `error`), selects the folder read-only, then IDLEs (or polls with NOOP every
    `poll_interval` s where IDLE is missing). New messages are reported with their UIDs.

    It never loads the folder's UID list (at 100,000 messages that would be 400 KB held, and
    8 MB of ints and sets on every change): EXISTS, EXPUNGE, VANISHED and FETCH say that
    something changed, the UIDs above the last UIDNEXT are the new mail, and after a
    reconnect UIDVALIDITY, UIDNEXT and the message count tell what happened meanwhile (an
    expunge is then reported without its UIDs; the account reloads the list anyway).
    """

    def __init__(
        self,
        settings: ServerSettings,
        credentials: Credentials | None,
        folder: str,
        on_change: OnChange,
        *,
        reissue: float = IDLE_REISSUE_SECONDS,
        poll_interval: float = 60.0,
        backoff: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0, 15.0, 60.0),
        use_idle: bool = True,
        callback_timeout: float = 30.0,
        on_alert: Callable[[ServerAlert], None] | None = None,
    ) -> None:
        self.settings = settings
        self.on_alert = on_alert
        self.credentials = credentials
        self.folder = folder
        self.on_change = on_change
        self.reissue = reissue
        self.poll_interval = poll_interval
        self.backoff = backoff
        self.use_idle = use_idle
        self.callback_timeout = callback_timeout
        self.error: ImapError | None = None
        self.connected = asyncio.Event()
        self.reconnects = 0
        self._task: asyncio.Task[None] | None = None
        self._client: ImapClient | None = None
        self._known: tuple[int | None, int | None, int] | None = None
        """(UIDVALIDITY, UIDNEXT, message count) when last seen, to compare after a reconnect."""

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._close_client()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _close_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.close(), 5.0)

    async def _emit(self, events: Iterable[MailboxEvent]) -> None:
        for event in events:
            try:
                result = self.on_change(event)
                if inspect.isawaitable(result):
                    await asyncio.wait_for(result, self.callback_timeout)
            except Exception:  # the UI's problem (or slowness) must not stop the watch
                log.exception("on_change failed for %s", event)

    async def _run(self) -> None:
        from app.imap.client import ImapClient

        attempt = 0
        while True:
            try:
                client = await ImapClient.connect(
                    self.settings, self.credentials, retries=0, on_alert=self.on_alert
                )
                self._client = client
                await client.select(self.folder, readonly=True)
                await self._emit(await self._after_reconnect(client))
                self.connected.set()
                attempt = 0
                await self._watch(client)
            except (ImapAuthError, ImapTlsError) as exc:
                self.error = exc  # the user must act; retrying would only repeat it
                log.warning("IDLE watcher for %s stopped: %s", self.folder, exc)
                await self._close_client()
                return
            except ImapError as exc:
                self.error = exc
                log.info("IDLE watcher for %s lost its connection: %s", self.folder, exc)
            self.connected.clear()
            await self._close_client()
            delay = self.backoff[min(attempt, len(self.backoff) - 1)]
            attempt += 1
            self.reconnects += 1
            await asyncio.sleep(delay)

    async def _after_reconnect(self, client: ImapClient) -> list[MailboxEvent]:
        """What changed while we were away, judged from UIDVALIDITY, UIDNEXT and the count;
        the new UIDs are asked for (UIDs only grow, so they lie from the old UIDNEXT on)."""
        state = client.mailbox
        if state is None:
            return []
        previous = self._known
        self._remember(client)
        if previous is None:
            return []
        old_validity, old_next, old_exists = previous
        if old_validity != state.uidvalidity:
            return [MailboxEvent("resync", self.folder, (), {}, state.exists)]
        new: tuple[int, ...] = ()
        if old_next is None or state.uidnext is None:
            if state.exists != old_exists:  # no UIDNEXT to go by: say "reload"
                return [MailboxEvent("resync", self.folder, (), {}, state.exists)]
            return []
        if state.uidnext > old_next:
            new = tuple(await client.uids_from(old_next))
        events = []
        if new:
            events.append(MailboxEvent("new", self.folder, new, {}, state.exists))
        if state.exists < old_exists + len(new):
            events.append(MailboxEvent("expunged", self.folder, (), {}, state.exists))
        return events

    def _remember(self, client: ImapClient) -> None:
        state = client.mailbox
        if state is not None:
            self._known = (state.uidvalidity, state.uidnext, state.exists)

    async def _watch(self, client: ImapClient) -> None:
        idle = self.use_idle and client.has_capability("IDLE")
        while True:
            if idle:
                events = await client.idle(self.reissue)
            else:
                await asyncio.sleep(self.poll_interval)
                events = await client.noop()
            self._remember(client)
            await self._emit(events)
