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

__all__ = ["TIED_MAX", "changed_flags", "on_top", "told_changes"]


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


#: At most this many listed rows tying the top's key are looked at; more (a burst of mail
#: dated in one second) and the resync places the new mail.
TIED_MAX = 16


def on_top(
    order: Sequence[int],
    listed: Sequence[MessageSummary | None],
    fetched: Sequence[MessageSummary],
    sort: str,
) -> UidArray | None:
    """`order` with the `fetched` new messages placed at its head, when by `sort` (one key,
    "REVERSE DATE" and the like) none of them sorts below `listed[0]`, the first row; None
    when one does (the resync places it) or the order cannot be told here.

    `listed` are the summaries of the first rows of `order` (None where not held). A new
    message dated in the same second as the top row (every other refresh under delivery at
    2/s) is not left to a resync: ties go by UID ascending, the mailbox order, in both
    directions (RFC 5256; `threads.sort_uids`, and Dovecot answers so), and a new UID is
    above every listed one, so it comes right after the listed rows of that key."""
    words = sort.upper().strip("() ").split()
    if len(words) != 2 or words[0] != "REVERSE" or words[1] not in CHOICE_OF_SORT_KEY:
        return None
    if not fetched or (order and (not listed or listed[0] is None)):
        return None
    if any(s is not None and s.uid != uid for s, uid in zip(listed, order, strict=False)):
        return None
    value = key_of(CHOICE_OF_SORT_KEY[words[1]])

    def of(s: MessageSummary) -> Any:
        return value(sort_key_from(s.uid, s.internaldate, s.size, s.envelope))

    try:
        keyed = sorted((of(s), s.uid) for s in fetched)  # by UID within a key: the tie-break
        keyed.sort(key=lambda k: k[0], reverse=True)  # stable: ties stay by UID
        tied = 0  # the listed rows with the top's key: the new ones of that key go after them
        if order:
            top = listed[0]
            assert top is not None
            floor = of(top)
            if keyed[-1][0] < floor:
                return None  # an older date: the server's order decides
            if keyed[-1][0] == floor:
                for s in listed[: TIED_MAX + 1]:
                    if s is None:
                        return None  # a tied row's key not at hand
                    if of(s) != floor:
                        break
                    tied += 1
                else:
                    if tied < len(order):
                        return None  # ties past what was looked at
    except TypeError:  # keys that do not compare (a missing date): leave it to the server
        return None
    above = [uid for k, uid in keyed if not tied or k != floor]
    out = UidArray(above)
    if tied:
        out.extend(order[:tied])
        out.extend(uid for k, uid in keyed if k == floor)
        out.extend(order[tied:])
    else:
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
