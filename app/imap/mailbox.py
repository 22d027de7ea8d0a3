"""The selected mailbox's state, kept true by folding untagged responses, and its events.

Servers report changes whenever they like: `* n EXISTS` and `* n EXPUNGE` may arrive in the
middle of a FETCH, `* VANISHED` replaces EXPUNGE once QRESYNC is on, and `* n FETCH (FLAGS ...)`
tells of another client's flag change. `MailboxState.apply` folds each of them into the UID list
(sequence order, which is ascending UID order) and turns it into a `MailboxEvent` for the UI.

`app.imap.idle.IdleWatcher` keeps a connection of its own on one folder: IDLE where offered
(re-issued before the 29 minutes after which servers may drop an idle client), NOOP polling where
not, reconnecting with backoff, and calling `on_change(event)` for each of these events.
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import islice

from app.imap import parser
from app.imap.parser import UidArray

__all__ = ["MailboxEvent", "MailboxState", "OnChange", "ascending_uids"]

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
    "flags" (`flags` maps uid to its new flag set; empty when the message could not be
    told), or "resync" (UIDVALIDITY changed or the
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
    changes: int = 0
    """Counts what changed which messages are here (a UID list given, EXISTS, EXPUNGE,
    VANISHED, new UIDs learnt): a list worked out elsewhere (a UID SORT on another connection)
    fits this one only while the count is the one seen when the lists agreed."""
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
        self.changes += 1
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
        self.changes += 1

    def learn_uids(self, uids: Sequence[int]) -> bool:
        """A complete UID list worked out elsewhere (a resync that counted the folder without
        listing it: the cached UIDs, less those gone, plus the new ones fetched), taken as the
        sequence map when it is consistent with what this connection was told: as many UIDs
        as EXISTS says and no change pending. Without it, after a SELECT a `* n FETCH (FLAGS
        ...)` without its UID (servers without QRESYNC send them) could not be placed, and
        another client's flag change was missed. True when taken (a list already held wins).
        """
        if self._list is not None:
            return False
        if self.events or self.unknown_new or len(uids) != self.exists:
            return False
        self.set_uids(uids)
        return True

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
        if fresh:
            self.changes += 1
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
        if n != self.exists:
            self.changes += 1
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
        self.changes += 1
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
        self.changes += 1
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
            # A flag change we cannot place (no UID in it, no sequence map: an IDLE watcher
            # on a server without QRESYNC): still news, as "flags" without UIDs, so the
            # folder is refreshed rather than the change missed.
            self._emit("flags")
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
