"""New mail placed on top of the open folder's list without a resync (issue 21, a day open).

Under steady delivery every refresh was a resync: a SELECT with QRESYNC naming the whole UID
list, the cached list read from SQLite and written back, sets, `max` and `sorted` over every
UID, about 80 ms of CPU per message at 20,000 and more at 100,000. The open folder's own
connection already tells what changed (the NOOP's EXISTS and FETCH answers, with the new
UIDs): when that is only new mail that sorts above everything listed (the usual case in a
newest-first list), and flag changes of listed messages, the new order is the new UIDs in
front of the old array (a C copy), and nothing else is read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from app.models import MessageSummary
from app.store.threads import CHOICE_OF_SORT_KEY, key_of, sort_key_from
from app.uids import UidArray

__all__ = ["on_top", "told_changes"]


def told_changes(events: Iterable[Any]) -> tuple[list[int], dict[int, frozenset[str]]] | None:
    """(new UIDs ascending, flag changes by UID) when the events are only those, each with
    its UIDs known; None when anything else came (an expunge, a resync, a UID not told)."""
    new: set[int] = set()
    flags: dict[int, frozenset[str]] = {}
    for event in events:
        kind = getattr(event, "kind", "")
        if kind == "new" and event.uids:
            new.update(event.uids)
        elif kind == "flags" and event.flags:
            flags.update(event.flags)
        else:
            return None
    return sorted(new), flags


def on_top(
    order: Sequence[int],
    top: MessageSummary | None,
    fetched: Sequence[MessageSummary],
    sort: str,
) -> UidArray | None:
    """`order` with the `fetched` new messages in front, when by `sort` (one key, "REVERSE
    DATE" and the like) every one of them comes strictly before `top`, the first listed; None
    when one does not (the resync places it) or the order cannot be told here."""
    words = sort.upper().strip("() ").split()
    if len(words) != 2 or words[0] != "REVERSE" or words[1] not in CHOICE_OF_SORT_KEY:
        return None
    if not fetched or (order and top is None) or (top is not None and top.uid != order[0]):
        return None
    value = key_of(CHOICE_OF_SORT_KEY[words[1]])

    def of(s: MessageSummary) -> Any:
        return value(sort_key_from(s.uid, s.internaldate, s.size, s.envelope))

    try:
        keyed = [(of(s), s.uid) for s in fetched]
        if top is not None:
            floor = of(top)
            if not all(k > floor for k, _ in keyed):
                return None  # a tie or an older date: the server's order decides
        keyed.sort(reverse=True)  # ties among the new: the higher UID first, as REVERSE does
    except TypeError:  # keys that do not compare (a missing date): leave it to the server
        return None
    out = UidArray(uid for _, uid in keyed)
    out.extend(order)
    return out


def changed_flags(
    flags: Mapping[int, frozenset[str]], held: Mapping[int, MessageSummary]
) -> dict[int, frozenset[str]]:
    """The flag changes worth writing: of cached messages, without \\Recent, and different."""
    out: dict[int, frozenset[str]] = {}
    for uid, f in flags.items():
        clean = frozenset(x for x in f if x.lower() != "\\recent")
        have = held.get(uid)
        if have is not None and have.flags != clean:
            out[uid] = clean
    return out
