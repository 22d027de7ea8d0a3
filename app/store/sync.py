"""Bring one mailbox's header cache up to date with the server, moving as few bytes as possible.

Three ways, the best the server offers:

* QRESYNC (RFC 7162): `SELECT box (QRESYNC (uidvalidity modseq known-uids))` answers, in the
  SELECT itself, `VANISHED (EARLIER)` for the expunged UIDs and a FETCH (UID FLAGS MODSEQ) for
  every message changed or added since the cached HIGHESTMODSEQ.
* CONDSTORE: `UID FETCH <cached UIDs> (FLAGS) (CHANGEDSINCE modseq)` for the flag changes, and
  the UID list (one `UID SEARCH ALL`, compact with ESEARCH) for expunges and new mail.
* Neither: the UID list, and the flags of the whole cached range compared with the cache.

A changed UIDVALIDITY (or no cache at all) means the cached UIDs name other messages: the
mailbox's rows are dropped and the UID list loaded again. Afterwards the summaries of new
messages (the first ones in display order, up to a limit) are fetched, and everything is written
to the cache in one transaction, so a kill in the middle leaves the previous consistent state.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import logging
import operator
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.models import MessageSummary
from app.store.cache import CachedMailbox, HeaderCache
from app.uids import ascending

log = logging.getLogger(__name__)

__all__ = ["SyncClient", "SyncResult", "WarmStart", "first_screen", "resync", "warm_start"]

#: Most summaries of new messages fetched by a resync; the rest come when they are shown.
DEFAULT_NEW_LIMIT = 2000
#: UIDs per FETCH of summaries, so one response never grows without bound.
_FETCH_CHUNK = 500


class SyncClient(Protocol):
    """What resync needs of `app.imap.client.ImapClient`."""

    @property
    def capabilities(self) -> frozenset[str]: ...

    async def select(
        self,
        name: str,
        readonly: bool = False,
        qresync: tuple[int, int, Sequence[int]] | None = None,
    ) -> Any: ...

    async def uid_list(self, sort: str | None = None) -> Sequence[int]: ...

    async def fetch_summaries(
        self, uids: Sequence[int], changedsince: int | None = None
    ) -> list[MessageSummary]: ...

    async def fetch_flags(
        self, uids: Sequence[int], changedsince: int | None = None
    ) -> dict[int, frozenset[str]]: ...


@dataclass
class SyncResult:
    """What changed, for the list to update itself without reloading everything."""

    uids: Sequence[int]
    """All UIDs of the mailbox now, in display order (the client's UidArray, or the cache's
    list: shared, never changed in place)."""
    new_uids: Sequence[int]
    """UIDs the cache did not know (every UID after a full reload)."""
    vanished: list[int]
    """Cached UIDs that are gone from the server (empty after a full reload: replace all)."""
    flag_changes: dict[int, frozenset[str]]
    """New flags of messages that were already known."""
    full_reload: bool
    """True when nothing usable was cached (first open, or UIDVALIDITY changed)."""
    method: str = "plain"
    """"qresync", "condstore", "plain", "plain-lazy" (only the newest flags) or "full"."""
    uidvalidity: int | None = None
    highestmodseq: int | None = None
    exists: int = 0
    fetched: list[MessageSummary] = field(default_factory=list)
    """Summaries fetched during the resync (new messages), already in the cache."""
    info: Any = None
    """The client's MailboxInfo from the SELECT (the mailbox stays selected)."""


@dataclass
class WarmStart:
    """What the cache alone can show before the server answers."""

    state: CachedMailbox
    summaries: dict[int, MessageSummary]


def first_screen(state: CachedMailbox, rows: int = 50) -> list[int]:
    """The UIDs a list opened on this mailbox shows first: the first `rows` in display order,
    or, with no sort (ascending UID), the newest `rows`, as resync prefers when fetching."""
    return list(state.uids[:rows]) if state.sort is not None else list(state.uids[-rows:])


def warm_start(cache: HeaderCache, mailbox: str, first: int = 50) -> WarmStart | None:
    """The cached UID list and the summaries of its first screen, or None: needs no server."""
    state = cache.mailbox_state(mailbox)
    if state is None:
        return None
    rows = first_screen(state, first)
    return WarmStart(state, cache.get_summaries(mailbox, state.uidvalidity, rows))


class _Listed(Collection[int]):
    """A UID list known unique (the cache's) as a read-only set: its length at once, and
    a set of it only if a membership is asked (an unchanged folder's resync asks none)."""

    __slots__ = ("_set", "uids")

    def __init__(self, uids: Sequence[int]) -> None:
        self.uids = uids
        self._set: set[int] | None = None

    def __len__(self) -> int:
        return len(self.uids)

    def __iter__(self) -> Iterator[int]:
        return iter(self.uids)

    def __contains__(self, uid: object) -> bool:
        if self._set is None:
            self._set = set(self.uids)
        return uid in self._set


def _session_free(flags: Iterable[str]) -> frozenset[str]:
    """Flags without \\Recent, which belongs to one session and is never cached."""
    return frozenset(f for f in flags if f.lower() != "\\recent")


def _complete(summaries: Iterable[MessageSummary]) -> list[MessageSummary]:
    """Leave out the placeholders the client makes for a FETCH it could not read (UID only):
    cached, they would stand in for the real summary for good."""
    return [
        s for s in summaries if s.bodystructure is not None or s.internaldate is not None or s.size
    ]


def _caps(client: SyncClient) -> frozenset[str]:
    try:
        return frozenset(c.upper() for c in client.capabilities)
    except (AttributeError, TypeError):
        return frozenset()


def _changed(changed: Any) -> tuple[dict[int, frozenset[str]], dict[int, int]]:
    """The QRESYNC FETCHes as (flags by UID, modseq by UID), from a mapping or FetchData-likes."""
    flags: dict[int, frozenset[str]] = {}
    modseqs: dict[int, int] = {}
    if not changed:
        return flags, modseqs
    if isinstance(changed, Mapping):
        for uid, value in changed.items():
            if isinstance(value, (frozenset, set, list, tuple)):
                flags[int(uid)] = frozenset(value)
            else:
                f = getattr(value, "flags", None)
                if f is not None:
                    flags[int(uid)] = frozenset(f)
                m = getattr(value, "modseq", None)
                if isinstance(m, int):
                    modseqs[int(uid)] = m
        return flags, modseqs
    for item in changed:
        uid = getattr(item, "uid", None)
        if not isinstance(uid, int):
            continue
        f = getattr(item, "flags", None)
        if f is not None:
            flags[uid] = frozenset(f)
        m = getattr(item, "modseq", None)
        if isinstance(m, int):
            modseqs[uid] = m
    return flags, modseqs


def _ordered(
    current: Collection[int], cached: CachedMailbox | None, sort: str | None, new: Iterable[int]
) -> Sequence[int] | None:
    """The display order computed locally, or None when the server must sort."""
    if sort is None:
        return sorted(current)
    if cached is None or cached.sort != sort or any(True for _ in new):
        return None
    if len(current) == len(cached.uids):
        return cached.uids  # nothing gone either: the cached order stands
    return [u for u in cached.uids if u in current]


#: Most cached summaries read to place one new message (a binary search: 17 at 100,000).
_MAX_PROBES = 40


def _placed(
    cached_order: Sequence[int],
    current: Collection[int],
    new: Sequence[int],
    sort: str,
    server_sorts: bool,
    fetched: Sequence[MessageSummary],
    summaries_of: Callable[[Sequence[int]], Mapping[int, MessageSummary]],
) -> list[int] | None:
    """The display order with `new` UIDs put in their place here, or None for the server.

    Issue 14 item 9: each new message cost a listing of the whole folder (UID SORT, or UID
    SEARCH ALL without SORT), 100,000 UIDs per new message. `current` is exact (the counts
    added up), so only the place of the new ones is unknown:

    * without SORT the list is by UID (what `uid_list` answers there; the order is then made
      by the account from its sort keys): new UIDs are the highest, so they go at one end;
    * with SORT each new message is placed by its own RFC 5256 key (`app.store.threads`,
      tested against Dovecot's SORT), found by a binary search over the cached order whose
      probes read the cached summaries. A probe not cached, a tie with a neighbour (servers
      break ties differently), probes that disagree with the cached order by our keys (the
      server computed a key otherwise), or a sort of several keys leaves it to the server.
    """
    from app.store.threads import CHOICE_OF_SORT_KEY, key_of, sort_key_from

    words = sort.upper().strip("() ").split()
    descending = words[:1] == ["REVERSE"]
    keys = words[1:] if descending else words
    kept = list(cached_order) if len(cached_order) == len(current) - len(new) else None
    if kept is None or not all(map(current.__contains__, kept)):
        kept = [u for u in cached_order if u in current]
    fresh = sorted(new)
    if not fresh or not kept or len(kept) + len(fresh) != len(current):
        return None
    if not server_sorts:
        step = operator.gt if descending else operator.lt
        if not all(map(step, kept, itertools.islice(kept, 1, None))):
            return None  # not the UID order uid_list gives here
        if fresh[0] <= max(kept[0], kept[-1]):
            return None  # a "new" UID among the old ones: the listing says where
        return fresh[::-1] + kept if descending else kept + fresh
    if len(keys) != 1 or keys[0] not in CHOICE_OF_SORT_KEY:
        return None
    value = key_of(CHOICE_OF_SORT_KEY[keys[0]])
    own = {s.uid: s for s in fetched if s.uid in current}
    if any(u not in own for u in fresh):
        return None
    values: dict[int, Any] = {}

    def of(summary: MessageSummary) -> Any:
        return value(
            sort_key_from(summary.uid, summary.internaldate, summary.size, summary.envelope)
        )

    for uid in fresh:
        values[uid] = of(own[uid])

    def before(a: int, b: int) -> bool:
        """Whether `a` comes before `b` in the display order (ties: the lower UID first)."""
        va, vb = values[a], values[b]
        if va != vb:
            return bool(va > vb) if descending else bool(va < vb)
        return a < b

    probed: dict[int, int] = {}  # index in kept -> its UID, for the consistency check

    def probe(index: int) -> bool:
        uid = kept[index]
        if uid not in values:
            got = summaries_of([uid]).get(uid)
            if got is None:
                raise LookupError(uid)
            values[uid] = of(got)
        probed[index] = uid
        return True

    def known(index: int) -> bool:
        """`probe`, but False for a summary not cached (only the far end may be missing)."""
        try:
            return probe(index)
        except LookupError:
            return False

    places: dict[int, list[int]] = {}
    try:
        for uid in fresh:
            lo, hi, probes = 0, len(kept), 0
            # The front first (newest first: new mail goes there, and the first screen is
            # cached), then the far end where it is cached (an ascending order).
            if probe(0) and before(uid, kept[0]):
                hi = 0
            elif known(len(kept) - 1) and not before(uid, kept[-1]):
                lo = len(kept)
            while lo < hi:
                probes += 1
                if probes > _MAX_PROBES:
                    return None
                mid = (lo + hi) // 2
                probe(mid)
                if before(uid, kept[mid]):
                    hi = mid
                else:
                    lo = mid + 1
            # A tie with a neighbour: RFC 5256 keeps ties in mailbox order, but servers
            # differ (Dovecot reverses them for REVERSE FROM and not for REVERSE DATE, and
            # not always the same way twice; Courier puts a new DATE tie first): the server
            # breaks it.
            for index in (lo - 1, lo):
                if 0 <= index < len(kept) and probe(index) and values[kept[index]] == values[uid]:
                    return None
            places.setdefault(lo, []).append(uid)
    except LookupError:
        return None  # a probe is not cached: the server places it
    # The probes must lie in the cached order by our keys too, else our key is not the
    # server's (a Date header read otherwise) and the place found means nothing.
    seen = [probed[i] for i in sorted(probed)]
    if any(before(b, a) for a, b in itertools.pairwise(seen)):
        return None

    def compare(a: int, b: int) -> int:
        return -1 if before(a, b) else 1

    order: list[int] = []
    start = 0
    for index in sorted(places):
        order += kept[start:index]
        order += sorted(places[index], key=functools.cmp_to_key(compare))
        start = index
    order += kept[start:]
    return order


async def _fetch_new(
    client: SyncClient, order: Sequence[int], new: set[int], limit: int, sort: str | None
) -> list[MessageSummary]:
    """Summaries of `new` UIDs, up to `limit`: the first in display order, or the newest."""
    if not new or limit <= 0:
        return []
    if len(new) <= limit:
        wanted = sorted(new)
    elif sort is None:
        wanted = sorted(heapq.nlargest(limit, new))
    else:
        wanted = list(itertools.islice((u for u in order if u in new), limit))
    return await _fetch_chunked(client, wanted)


async def _fetch_chunked(client: SyncClient, wanted: Sequence[int]) -> list[MessageSummary]:
    out: list[MessageSummary] = []
    for i in range(0, len(wanted), _FETCH_CHUNK):
        out.extend(await client.fetch_summaries(wanted[i : i + _FETCH_CHUNK]))
    return out


#: Widest UID range scanned for new mail before the UID list is read instead.
_MAX_GAP = 1_000_000


async def _new_since(
    client: SyncClient,
    cached: CachedMailbox,
    uidnext: int | None,
    limit: int,
    sort: str | None = None,
) -> tuple[list[MessageSummary], set[int] | None, Sequence[int] | None]:
    """New mail between the cached UIDNEXT and the server's: (summaries fetched, its UIDs,
    the folder's UID list in `sort` order or None).

    A small gap is fetched whole in one command (the answer names the UIDs that exist); a big
    one is listed by its flags and left for `_fetch_new`. None for the UIDs means "unknown".
    With `sort`, a small gap's FETCH and the UID list the new mail makes necessary share one
    round trip where the client can (`fetch_summaries_with_list`).
    """
    start = max(cached.uidnext or 1, max(cached.uids, default=0) + 1)
    if uidnext is None:
        # No UIDNEXT in the SELECT (Courier): `UID FETCH start:* (UID)` names what is new,
        # instead of a UID SEARCH ALL of the whole folder.
        above = getattr(client, "uids_from", None)
        if not callable(above):
            return [], None, None
        found = set(await above(start))
        if found and len(found) <= limit:
            fetched = await _fetch_chunked(client, sorted(found))
            return fetched, found, None
        return [], found, None
    if uidnext <= start:
        return [], set(), None
    gap = uidnext - start
    if gap > _MAX_GAP:
        return [], None, None
    span = list(range(start, uidnext))
    if gap <= limit:
        both = getattr(client, "fetch_summaries_with_list", None)
        if sort is not None and both is not None:
            fetched, order = await both(span, sort)
            return fetched, {s.uid for s in fetched}, order
        fetched = await client.fetch_summaries(span)
        return fetched, {s.uid for s in fetched}, None
    return [], set(await client.fetch_flags(span)), None


async def resync(
    client: SyncClient,
    cache: HeaderCache,
    mailbox: str,
    *,
    sort: str | None = None,
    new_limit: int = DEFAULT_NEW_LIMIT,
    readonly: bool = False,
    lazy_flags: int | None = None,
) -> SyncResult:
    """Select `mailbox` and make its cache match the server; see the module docstring.

    `sort` is an IMAP SORT key ("REVERSE DATE") for the display order, None for ascending UID.
    `lazy_flags` (a refresh after news, on a server without CONDSTORE): when the count says
    only new mail came, the flags of just the `lazy_flags` newest cached messages are checked,
    not of every one (100,000 FLAGS per new message); the rest at the next full resync.
    IMAP errors from the client propagate (the cache is left as it was); the cache never raises.
    """
    cached = cache.mailbox_state(mailbox)
    caps = _caps(client)
    use_qresync = (
        "QRESYNC" in caps
        and cached is not None
        and cached.highestmodseq is not None
        and cached.highestmodseq > 0
    )
    if use_qresync and cached is not None and cached.highestmodseq is not None:
        known_uids = ascending(cached.uids)  # 4 bytes a UID, not a list of 1,000,000 ints
        qresync = (cached.uidvalidity, cached.highestmodseq, known_uids)
        info = await client.select(mailbox, readonly=readonly, qresync=qresync)
        del known_uids, qresync
    else:
        info = await client.select(mailbox, readonly=readonly)
    uidvalidity = getattr(info, "uidvalidity", None)
    exists = int(getattr(info, "exists", 0) or 0)
    modseq = getattr(info, "highestmodseq", None)
    uidnext = getattr(info, "uidnext", None)

    if cached is None or uidvalidity is None or cached.uidvalidity != uidvalidity:
        return await _full(client, cache, mailbox, info, sort, new_limit)

    # The cache's list is unique: its length is the count, with no set of it (60 MB at
    # 1,000,000 UIDs) where nothing changed, the common warm start.
    unchanged = (
        modseq is not None
        and cached.highestmodseq == modseq
        and cached.uidnext == uidnext
        and cached.exists == exists == len(cached.uids)
    )
    known_set: set[int] = set() if unchanged else set(cached.uids)
    known: Collection[int] = _Listed(cached.uids) if unchanged else known_set
    method = "plain"
    flags: dict[int, frozenset[str]] = {}
    modseqs: dict[int, int] = {}
    gone: set[int] = set()
    new: set[int] = set()
    fetched: list[MessageSummary] = []
    listed_order: Sequence[int] | None = None
    if unchanged:
        method = "qresync" if use_qresync else "condstore"
    else:
        # New mail first: UIDs only grow, so it lives between the cached UIDNEXT and the new one.
        # The listing rides with the new mail's FETCH only where it is needed anyway: with the
        # cached order in `sort`, the new mail is placed here (`_placed`), not listed.
        placeable = sort is not None and cached.sort == sort
        fetched, new_or_none, listed_order = await _new_since(
            client, cached, uidnext, new_limit, None if placeable else sort
        )
        if use_qresync:
            method = "qresync"
            flags, modseqs = _changed(getattr(info, "changed", None))
            gone = set(getattr(info, "vanished", None) or ()) & known_set
        elif "CONDSTORE" in caps and cached.highestmodseq and modseq is not None:
            method = "condstore"
            if known_set:
                flags = await client.fetch_flags(
                    sorted(known_set), changedsince=cached.highestmodseq
                )
        elif known_set:
            # Neither extension: the flags of every cached message, compared with the cache;
            # a cached UID the server does not answer for is gone.
            checked: Iterable[int] = known_set
            if (
                lazy_flags is not None
                and new_or_none is not None
                and len(known_set) > lazy_flags
                and exists == len(known_set) + len(new_or_none)
            ):
                # Nothing went (the count adds up with the new mail): the newest only.
                checked = heapq.nlargest(lazy_flags, known_set)
                method = "plain-lazy"
            checked_set = set(checked)
            server_flags = await client.fetch_flags(sorted(checked_set))
            gone = checked_set - set(server_flags)
            have = cache.get_summaries(mailbox, uidvalidity, server_flags)
            flags = {
                uid: frozenset(f)
                for uid, f in server_flags.items()
                if uid in have and have[uid].flags != _session_free(f)
            }
        if new_or_none is not None:
            new = new_or_none | {u for u in flags if u not in known_set}
        if new_or_none is None or len(known_set) - len(gone) + len(new) != exists:
            # The counts do not add up (an expunge CONDSTORE cannot see, a MODSEQ the server
            # forgot, no UIDNEXT): the UID list is the truth.
            log.debug("resync of %s: counts differ, reading the UID list", mailbox)
            listed = set(listed_order if listed_order is not None else await client.uid_list())
            gone = known_set - listed
            new = listed - known_set

    # Nothing gone or new (the common warm start): the cached set as it is, not a copy.
    current: Collection[int] = (known_set - gone) | new if gone or new else known
    vanished = sorted(gone)
    new_uids = sorted(new)
    flag_changes = {u: _session_free(f) for u, f in flags.items() if u in known and u not in gone}
    order = _ordered(current, cached, sort, new_uids)
    if order is None and sort is not None and cached is not None and cached.sort == sort:
        order = _placed(
            cached.uids,
            current,
            new_uids,
            sort,
            "SORT" in caps,
            fetched,
            lambda uids: cache.get_summaries(mailbox, uidvalidity, uids),
        )
    if order is None:
        order = listed_order if listed_order is not None else await client.uid_list(sort=sort)
        # Compared without a set of the whole listing (4 MB at 100,000 messages).
        if len(order) != len(current) or not all(map(current.__contains__, order)):
            listed = set(order)
            known_all = known_set if known_set else set(cached.uids)
            vanished = sorted(known_all - listed)
            new_uids = sorted(listed - known_all)
            current = listed
    # The folder was counted, not listed (nothing new, or new mail placed here): the state
    # of the SELECT above gets the UIDs as its sequence map, or a flag change another client
    # makes next (`* 3 FETCH (FLAGS ...)`, no UID without QRESYNC) could not be placed.
    learn = getattr(client, "learn_uids", None)
    if callable(learn) and len(order) == exists:
        learn(order)
    have_new = {s.uid for s in fetched}
    fetched = [s for s in fetched if s.uid in current]
    missing = set(new_uids) - have_new
    if missing and len(have_new) < new_limit:
        fetched += await _fetch_new(client, order, missing, new_limit - len(have_new), sort)

    with cache.batch():
        if vanished:
            cache.remove_uids(mailbox, uidvalidity, vanished)
        if flag_changes:
            cache.update_flags(mailbox, uidvalidity, flag_changes, modseqs)
        if fetched:
            cache.put_summaries(mailbox, uidvalidity, _complete(fetched))
        cache.save_mailbox_state(
            mailbox,
            uidvalidity=uidvalidity,
            uidnext=uidnext,
            highestmodseq=modseq,
            exists=exists,
            uids=order,
            sort=sort,
        )
    return SyncResult(
        uids=order,
        new_uids=new_uids,
        vanished=vanished,
        flag_changes=flag_changes,
        full_reload=False,
        method=method,
        uidvalidity=uidvalidity,
        highestmodseq=modseq,
        exists=exists,
        fetched=fetched,
        info=info,
    )


async def _full(
    client: SyncClient,
    cache: HeaderCache,
    mailbox: str,
    info: Any,
    sort: str | None,
    new_limit: int,
) -> SyncResult:
    """Nothing usable cached: drop what was there, load the UID list and the first summaries."""
    uidvalidity = getattr(info, "uidvalidity", None)
    order = await client.uid_list(sort=sort)
    # Every UID is new: the first `new_limit` in display order (or the newest), taken straight
    # from the list; no set of the whole folder (4 MB at 100,000 messages) is built for that.
    if len(order) <= new_limit:
        wanted = sorted(order)
    elif sort is None:
        wanted = sorted(heapq.nlargest(new_limit, order)) if new_limit > 0 else []
    else:
        wanted = list(order[:new_limit])
    fetched = await _fetch_chunked(client, wanted)
    exists = int(getattr(info, "exists", len(order)) or 0)
    modseq = getattr(info, "highestmodseq", None)
    with cache.batch():
        cache.drop_mailbox(mailbox)
        if uidvalidity is not None:
            if fetched:
                cache.put_summaries(mailbox, uidvalidity, _complete(fetched))
            cache.save_mailbox_state(
                mailbox,
                uidvalidity=uidvalidity,
                uidnext=getattr(info, "uidnext", None),
                highestmodseq=modseq,
                exists=exists,
                uids=order,
                sort=sort,
            )
    return SyncResult(
        uids=order,
        new_uids=order,  # the same list: neither is changed afterwards, and each copy is 0.8 MB
        vanished=[],
        flag_changes={},
        full_reload=True,
        method="full",
        uidvalidity=uidvalidity,
        highestmodseq=modseq,
        exists=exists,
        fetched=fetched,
        info=info,
    )
