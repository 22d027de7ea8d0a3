"""Sort orders and threads for the list, computed by the client where the server cannot.

UI-free. Servers without SORT (RFC 5256) or THREAD (minimal Courier, Gmail) get the same
orders from the client: `sort_key_from` turns one FETCH answer (INTERNALDATE, RFC822.SIZE,
ENVELOPE; `add_references` adds the References field for threads) into a `SortKey`, `sort_uids` orders them with RFC 5256's
semantics (base subject, the sent date falling back to INTERNALDATE, addr-mailbox for FROM/TO,
ties in UID order), and `jwz_threads` builds the REFERENCES threads (JWZ's algorithm, RFC 5256
section 4, grouping by base subject and keeping dummy containers for missing parents).

`thread_rows` turns any thread tree (the server's THREAD answer or ours) into the list's rows:
messages inside a thread by date, threads ordered by a rank (the chosen sort of each thread's
first message, or the date of its newest message for "thread-last-date").
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from app.mime.headers import decode_header_raw, parse_date
from app.models import Address, Envelope

#: The sort choices of the list, in the order the menu shows them.
SORT_CHOICES = ("date", "arrival", "from", "to", "subject", "size", "thread-last-date")
#: The direction each choice starts in: newest / biggest first, names and subjects A to Z.
DEFAULT_REVERSE = {
    "date": True,
    "arrival": True,
    "from": False,
    "to": False,
    "subject": False,
    "size": True,
    "thread-last-date": True,
}
#: The header field the client fetches, beside ENVELOPE, to thread without the server.
REFERENCES_FIELD = "REFERENCES"


class Node(Protocol):
    """A thread tree node: the server's ThreadNode or our Container (uid None: a dummy)."""

    @property
    def uid(self) -> int | None: ...

    @property
    def children(self) -> Sequence[Node]: ...


# -- sort keys -----------------------------------------------------------------------------------


@dataclass(slots=True)
class SortKey:
    """What sorting and threading need of one message (a few hundred bytes, never the body)."""

    uid: int
    date: float = 0.0
    """The sent date (Date header) as a UTC timestamp; INTERNALDATE when it cannot be read."""
    arrival: float = 0.0
    size: int = 0
    from_: str = ""
    to: str = ""
    cc: str = ""
    subject: str = ""
    """The base subject (RFC 5256 section 2.1), ASCII upper-cased for i;ascii-casemap."""
    is_reply: bool = False
    message_id: str | None = None
    references: tuple[str, ...] = ()
    """References (else the first In-Reply-To id): oldest ancestor first."""
    references_known: bool = False
    """Whether the References field was fetched (threading needs it, sorting does not)."""


_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_WSP_RUN = re.compile(r"[ \t\r\n]+")
_TRAILER = re.compile(r"(?:[ \t]|\(fwd\))+$", re.I)
_BLOB = r"\[[^\[\]]*\][ \t]*"
_REFWD = re.compile(r"[ \t]*(?:re|fwd?)[ \t]*(?:" + _BLOB + r")?:", re.I)
_LEADER = re.compile(r"(?:(?:" + _BLOB + r")*(?:re|fwd?)[ \t]*(?:" + _BLOB + r")?:|[ \t])", re.I)
_BLOB_ONLY = re.compile(_BLOB)
_MSG_ID = re.compile(r"<[^<>\s]{1,998}>")


def _ids(value: str | bytes | None, limit: int = 500) -> list[str]:
    """The `<id>` tokens of Message-ID / In-Reply-To / References, in order: compared only,
    never shown (so not sanitized)."""
    if not value:
        return []
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    found = _MSG_ID.findall(text)
    return found[:limit]


def casemap(text: str) -> str:
    """i;ascii-casemap (RFC 4790): ASCII letters compared without case, other octets as they are."""
    return text.translate(_ASCII_UPPER)


def base_subject(subject: str | bytes | None) -> tuple[str, bool]:
    """The base subject of RFC 5256 section 2.1, and whether a reply/forward marker was cut.

    Decoded (RFC 2047), whitespace collapsed, `(fwd)` trailers, `Re:` / `Fw:` / `Fwd:` leaders
    and `[blob]` prefixes cut again and again, `[fwd: ...]` unwrapped; compared case-blind.
    """
    if not subject:
        text = ""
    elif subject.__class__ is str and "=?" not in subject:  # nothing to decode (most mail)
        text = _WSP_RUN.sub(" ", subject)  # type: ignore[arg-type]
    else:
        text = _WSP_RUN.sub(" ", decode_header_raw(subject))
    reply = False
    while True:
        # (2) trailers
        cut = _TRAILER.sub("", text)
        if cut != text and "(fwd)" in text[len(cut) :].lower():
            reply = True
        text = cut
        # (3)-(5) leaders and blobs, until nothing changes
        while True:
            before = text
            while True:
                m = _LEADER.match(text)
                if m is None or not m.group(0):
                    break
                if m.group(0).strip(" \t"):
                    reply = True
                text = text[m.end() :]
            m = _BLOB_ONLY.match(text)
            if m is not None and text[m.end() :]:
                text = text[m.end() :]
            if text == before:
                break
        # (6) [fwd: ...]
        if text[:5].lower() == "[fwd:" and text.endswith("]"):
            text = text[5:-1]
            reply = True
            continue
        break
    return casemap(text.strip(" \t")), reply


def _mailbox(addresses: Sequence[Address]) -> str:
    """addr-mailbox of the first address (RFC 5256 FROM / TO / CC), case-mapped; a group's
    first entry is its name, as the server's ENVELOPE gives it."""
    for address in addresses:
        return casemap(address.mailbox) if address.mailbox else ""
    return ""


def _timestamp(value: datetime | None) -> float:
    if value is None:
        return 0.0
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.timestamp()
    except (OverflowError, OSError, ValueError):
        return 0.0


_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
_RFC5322_DATE = re.compile(
    r"[ \t]*(?:[A-Za-z]{3},[ \t]*)?(\d{1,2})[ \t]+([A-Za-z]{3})[ \t]+(\d{4})[ \t]+"
    r"(\d{2}):(\d{2})(?::(\d{2}))?[ \t]+([+-])(\d{2})(\d{2})[ \t]*(?:\(.*\))?[ \t]*$"
)


def sent_date(value: str) -> float:
    """A Date header as a UTC timestamp (0.0 when it cannot be read): the usual RFC 5322 form
    read directly (100,000 of them in a sort), anything else through the lenient parser."""
    m = _RFC5322_DATE.match(value)
    if m is not None:
        month = _MONTHS.get(m[2].lower())
        day, hour, minute, second = int(m[1]), int(m[4]), int(m[5]), int(m[6] or 0)
        if month and 1 <= day <= 28 and hour < 24 and minute < 60 and second < 60:
            offset = (int(m[8]) * 60 + int(m[9])) * 60
            stamp = calendar.timegm((int(m[3]), month, day, hour, minute, second))
            return float(stamp - offset if m[7] == "+" else stamp + offset)
    return _timestamp(parse_date(value))


def sort_key_from(
    uid: int, internaldate: datetime | None, size: int, envelope: Envelope | None
) -> SortKey:
    """The SortKey of one message from its INTERNALDATE, RFC822.SIZE and ENVELOPE; its
    parent is In-Reply-To until `add_references` gives the References field."""
    env = envelope or Envelope()
    arrival = _timestamp(internaldate)
    sent = sent_date(env.date) if env.date else 0.0
    subject, reply = base_subject(env.subject)
    own = _ids(env.message_id, limit=1)
    return SortKey(
        uid,
        date=sent or arrival,
        arrival=arrival,
        size=size,
        from_=_mailbox(env.from_),
        to=_mailbox(env.to),
        cc=_mailbox(env.cc),
        subject=subject,
        is_reply=reply,
        message_id=own[0] if own else None,
        references=tuple(_ids(env.in_reply_to, limit=1)),
    )


def add_references(key: SortKey, header: bytes) -> None:
    """Take the References field (the block of `HEADER.FIELDS (REFERENCES)`) as `key`'s
    ancestry, oldest first; without one, In-Reply-To stays (RFC 5256 section 4, step 1)."""
    # The block holds only the field asked for (HEADER.FIELDS (REFERENCES)): its ids are all.
    refs = _ids(header) if header else []
    if refs:
        key.references = tuple(refs)
    key.references_known = True


_KEY_OF: dict[str, Callable[[SortKey], Any]] = {
    "date": lambda k: k.date,
    "thread-last-date": lambda k: k.date,
    "arrival": lambda k: k.arrival,
    "from": lambda k: k.from_,
    "to": lambda k: k.to,
    "cc": lambda k: k.cc,
    "subject": lambda k: k.subject,
    "size": lambda k: k.size,
}


#: The SORT_CHOICES name of each RFC 5256 sort key the server is asked for.
CHOICE_OF_SORT_KEY = {
    "DATE": "date",
    "ARRIVAL": "arrival",
    "FROM": "from",
    "TO": "to",
    "CC": "cc",
    "SUBJECT": "subject",
    "SIZE": "size",
}


def key_of(sort: str) -> Callable[[SortKey], Any]:
    """The value a SortKey is ordered by for `sort` (a SORT_CHOICES name, or "cc")."""
    return _KEY_OF.get(sort, _KEY_OF["date"])


def sort_uids(keys: Iterable[SortKey], sort: str, reverse: bool) -> list[int]:
    """UIDs in the order of `sort` (a SORT_CHOICES name), as the server's UID SORT gives them.

    Ties go by UID (the mailbox order, RFC 5256) in both directions: REVERSE turns the key
    round, not the tie-break (as Dovecot answers `UID SORT (REVERSE ARRIVAL)`).
    """
    get = _KEY_OF.get(sort, _KEY_OF["date"])
    ordered = sorted(keys, key=lambda k: k.uid)
    ordered.sort(key=get, reverse=reverse)  # stable, also reversed: ties stay by UID
    return [k.uid for k in ordered]


def ranks(order: Iterable[int]) -> dict[int, int]:
    """Each UID's position in `order` (a sort's answer): a key that orders as the sort did."""
    return {uid: i for i, uid in enumerate(order)}


# -- threads (JWZ / RFC 5256 REFERENCES) ---------------------------------------------------------


@dataclass(slots=True, eq=False)
class Container:
    """A thread node: a message (uid) or a dummy for a message we only know from References."""

    uid: int | None = None
    children: list[Container] = field(default_factory=list)
    parent: Container | None = None
    key: SortKey | None = None

    def is_ancestor_of(self, other: Container) -> bool:
        node: Container | None = other
        while node is not None:
            if node is self:
                return True
            node = node.parent
        return False


def _link(parent: Container, child: Container) -> None:
    if child.parent is not None:
        child.parent.children.remove(child)
    child.parent = parent
    parent.children.append(child)


def _unlink(child: Container) -> None:
    if child.parent is not None:
        child.parent.children.remove(child)
        child.parent = None


def _first_key(node: Container, date: Callable[[Container], float]) -> SortKey | None:
    """The message that speaks for `node`: itself, or a dummy's earliest child."""
    if node.key is not None:
        return node.key
    if not node.children:
        return None
    return _first_key(min(node.children, key=date), date)


def jwz_threads(keys: Iterable[SortKey]) -> list[Container]:
    """The REFERENCES threads of these messages (RFC 5256 section 4, JWZ's algorithm).

    Messages are linked by Message-ID / References / In-Reply-To; a parent we never saw is a
    dummy container; dummies are pruned (their children promoted) except at the top of a
    thread with several children; then threads whose base subjects are equal are merged, so
    replies whose parent is missing still join their thread. Roots come in no special order
    (`thread_rows` orders them). Iterative where depth matters: a 10,000-message chain is fine.
    """
    by_id: dict[str, Container] = {}
    messages: list[Container] = []
    for key in keys:
        container: Container | None = None
        if key.message_id is not None:
            known = by_id.get(key.message_id)
            if known is None:
                container = by_id[key.message_id] = Container()
            elif known.uid is None:
                container = known  # a dummy made from someone's References: now we have it
        if container is None:  # no Message-ID, or a duplicate: a message of its own
            container = Container()
        container.uid, container.key = key.uid, key
        messages.append(container)
        # (1)(A) link the References chain, never changing links already made, never a loop
        previous: Container | None = None
        for ref in key.references:
            if ref == key.message_id:
                continue
            node = by_id.get(ref)
            if node is None:
                node = by_id[ref] = Container()
            if (
                previous is not None
                and node.parent is None
                and node is not previous
                and not node.is_ancestor_of(previous)
            ):
                _link(previous, node)
            previous = node
        # (1)(B) the last reference is the parent (the message knows best); none: a root
        if previous is not None and previous is not container:
            if not container.is_ancestor_of(previous):
                _link(previous, container)
        else:
            _unlink(container)
    # (2) the root set; dummies that only ever appeared in References are there too
    seen: set[int] = set()
    roots: list[Container] = []
    for node in [*messages, *by_id.values()]:
        if node.parent is None and id(node) not in seen:
            seen.add(id(node))
            roots.append(node)
    roots = _prune(roots)
    return _group_by_subject(roots)


def _prune(roots: list[Container]) -> list[Container]:
    """(3) Drop empty dummies; promote a dummy's children, except at the top with several."""
    order: list[Container] = []
    stack = list(roots)
    while stack:  # pre-order, so that reversed it visits children before parents
        node = stack.pop()
        order.append(node)
        stack.extend(node.children)
    for node in reversed(order):
        kept: list[Container] = []
        for child in node.children:
            if child.uid is None:
                kept.extend(child.children)  # an empty dummy leaves nothing
            else:
                kept.append(child)
        for child in kept:
            child.parent = node
        node.children = kept
    out: list[Container] = []
    for root in roots:
        if root.uid is None and len(root.children) <= 1:
            for child in root.children:
                child.parent = None
                out.append(child)
        else:
            out.append(root)
    return out


def _group_by_subject(roots: list[Container]) -> list[Container]:
    """(5) Merge threads with the same base subject (a reply whose parent we lack joins)."""

    def date(node: Container) -> float:
        key = node.key
        if key is not None:
            return key.date
        return min((date(c) for c in node.children), default=0.0)

    def speaker(node: Container) -> SortKey | None:
        return _first_key(node, date)

    table: dict[str, Container] = {}
    for root in roots:
        key = speaker(root)
        if key is None or not key.subject:
            continue
        old = table.get(key.subject)
        if old is None:
            table[key.subject] = root
            continue
        old_key = speaker(old)
        old_reply = old_key is not None and old_key.is_reply
        if old.uid is not None and (root.uid is None or (old_reply and not key.is_reply)):
            table[key.subject] = root
    out: list[Container] = []
    for root in roots:
        if root.parent is not None:  # made a child of a thread listed before
            continue
        key = speaker(root)
        target = table.get(key.subject) if key is not None and key.subject else None
        if key is None or target is None or target is root:
            out.append(root)
            continue
        target_key = speaker(target)
        target_reply = target_key is not None and target_key.is_reply
        if target.uid is None and root.uid is None:
            for child in list(root.children):
                _link(target, child)
        elif target.uid is None:
            _link(target, root)
        elif target_reply and not key.is_reply:
            _link(root, target)  # the original message takes the reply in
            table[key.subject] = root
            out.append(root)
        elif key.is_reply and not target_reply:
            _link(target, root)
        else:  # two of a kind: siblings under a new dummy, where the first one stood
            dummy = Container()
            _link(dummy, target)
            _link(dummy, root)
            table[key.subject] = dummy
            out.append(dummy)
    # a thread merged into another after it was listed is listed no more
    return [n for n in dict.fromkeys(out) if n.parent is None]


# -- display ---------------------------------------------------------------------------------------


def thread_rows(
    roots: Iterable[Node],
    date_rank: Mapping[int, float],
    root_rank: Mapping[int, float] | None = None,
    *,
    last: bool = False,
    reverse: bool = True,
) -> tuple[list[int], list[int]]:
    """UIDs in display order and the depth of each row (0 for a thread's first message).

    Inside a thread, replies come in date order (`date_rank`: a UID's date or its place in
    a date sort). Threads are ordered by `root_rank` of their first message (the chosen sort;
    default the date), or with `last` by the date of their newest message (mutt's
    last-date); `reverse` puts the highest first. A dummy at the top of a thread (a parent
    nobody has) shows its first child at depth 0 and the other children under it.
    Iterative, so a 10,000-message chain cannot overflow the stack.
    """
    rank = root_rank if root_rank is not None else date_rank

    def own_date(node: Node) -> float:
        uid = node.uid
        if uid is not None:
            return date_rank.get(uid, float(uid))
        return min((own_date(c) for c in node.children), default=0.0)

    def first_uid(node: Node) -> int:
        while node.uid is None and node.children:
            node = min(node.children, key=own_date)
        return node.uid or 0

    def subtree(node: Node) -> list[Node]:
        found: list[Node] = []
        stack = [node]
        while stack:
            item = stack.pop()
            found.append(item)
            stack.extend(item.children)
        return found

    def thread_key(root: Node) -> tuple[float, int]:
        head = first_uid(root)
        if last:
            newest = max(
                (date_rank.get(n.uid, float(n.uid)) for n in subtree(root) if n.uid is not None),
                default=0.0,
            )
            return newest, head
        return rank.get(head, float(head)), head

    ordered_roots = sorted(roots, key=thread_key, reverse=reverse)
    uids: list[int] = []
    depths: list[int] = []
    for root in ordered_roots:
        stack: list[tuple[Node, int]] = [(root, 0)]
        while stack:
            node, depth = stack.pop()
            children = sorted(node.children, key=lambda c: (own_date(c), first_uid(c)))
            if node.uid is not None:
                uids.append(node.uid)
                depths.append(depth)
                for child in reversed(children):
                    stack.append((child, depth + 1))
            elif children:
                # a dummy: its first child stands for the missing parent, the rest under it
                for child in reversed(children[1:]):
                    stack.append((child, depth + 1))
                stack.append((children[0], depth))
    return uids, depths
