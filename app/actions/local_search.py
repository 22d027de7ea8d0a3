"""The search language (`app.imap.search`) answered from cached summaries, as the server would.

`l` (limit) shows this answer at once, offline too, and the server's SEARCH replaces it when it
comes. Only what the header cache holds can be answered here: from, to, cc, bcc, subject (the
ENVELOPE), since/before/on (INTERNALDATE), larger/smaller (RFC822.SIZE), is: (the flags) and
has:attachment (BODYSTRUCTURE, the `$HasAttachment` keyword); a query with body: or text: gets
None ("ask the server"), and so does a message whose summary is not cached.

The semantics follow RFC 3501 section 6.4.4 as Dovecot implements them:

* strings match as substrings under i;unicode-casemap (RFC 5051: each character titlecased,
  then NFKD), so `chloe` finds `Chloé` (but `STRASSE` not `Straße`: simple mappings only);
* an address field matches its addresses written back as `Name <mailbox@host>` (the name
  RFC 2047-decoded), one at a time, the way Dovecot normalises address headers;
* the subject matches RFC 2047-decoded, unfolded; free text (`word`) is SUBJECT OR FROM;
* SINCE / BEFORE / ON compare the date of INTERNALDATE in its own zone, ignoring the time;
  LARGER / SMALLER are strict.
"""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING

from app.imap.search import And, Node, Not, Or, Query, Term, parse_query
from app.mime.headers import decode_envelope_address, decode_header_raw
from app.models import Address, Flag, MessageSummary

if TYPE_CHECKING:
    from app.account import Account

__all__ = ["answerable", "filter_summaries", "matches", "search_cached", "unicode_casemap"]

#: Fields the cache cannot answer: the body is not in it.
_SERVER_ONLY = frozenset({"body", "text"})

_IS_FLAGS: dict[str, tuple[str, bool]] = {
    "SEEN": (Flag.SEEN, True),
    "UNSEEN": (Flag.SEEN, False),
    "FLAGGED": (Flag.FLAGGED, True),
    "UNFLAGGED": (Flag.FLAGGED, False),
    "ANSWERED": (Flag.ANSWERED, True),
    "UNANSWERED": (Flag.ANSWERED, False),
    "DELETED": (Flag.DELETED, True),
    "UNDELETED": (Flag.DELETED, False),
    "DRAFT": (Flag.DRAFT, True),
}


def _title(ch: str) -> str:
    title = ch.title()
    return title if len(title) == 1 else ch  # the simple mapping only: ß stays ß, as Dovecot's


def unicode_casemap(text: str) -> str:
    """i;unicode-casemap (RFC 5051): each character's simple titlecase mapping, then NFKD."""
    return unicodedata.normalize("NFKD", "".join(map(_title, text)))


def _needle(value: str) -> str:
    return unicode_casemap(" ".join(value.split()) if value.strip() else value)


def answerable(query: Query) -> bool:
    """True when the cache holds every field `query` asks about."""

    def walk(node: Node) -> bool:
        if isinstance(node, Term):
            return node.field not in _SERVER_ONLY
        if isinstance(node, Not):
            return walk(node.child)
        return all(walk(c) for c in node.children)

    return query.root is None or walk(query.root)


def _address_text(addr: Address) -> str:
    if addr.host is None:  # a group marker: the group's name only
        return decode_header_raw(addr.mailbox or "") if addr.mailbox else ""
    name, _email = decode_envelope_address(addr)
    email = addr.email
    return f"{name} <{email}>" if name else f"<{email}>"


def _addresses(addrs: Iterable[Address]) -> list[str]:
    return [unicode_casemap(_address_text(a)) for a in addrs]


def _subject(summary: MessageSummary) -> str:
    raw = summary.envelope.subject
    return unicode_casemap(" ".join(decode_header_raw(raw).split())) if raw else ""


def _internal_day(summary: MessageSummary) -> date | None:
    when = summary.internaldate
    return when.date() if when is not None else None


def _has_attachment(summary: MessageSummary) -> bool:
    if "$HasAttachment" in summary.flags or "$hasattachment" in {f.lower() for f in summary.flags}:
        return True
    top = summary.bodystructure
    if top is None:
        return False
    kind = top.mime_type
    return kind == "multipart/mixed" or kind.startswith("application/")


def _term(term: Term, summary: MessageSummary) -> bool:
    field = term.field
    value = term.value
    env = summary.envelope
    if field in ("from", "to", "cc", "bcc", "word", "subject"):
        assert isinstance(value, str)
        needle = _needle(value)
        if field == "subject":
            return needle in _subject(summary)
        if field == "word":
            return needle in _subject(summary) or any(needle in a for a in _addresses(env.from_))
        addrs = {"from": env.from_, "to": env.to, "cc": env.cc, "bcc": env.bcc}[field]
        return any(needle in a for a in _addresses(addrs))
    if field in ("since", "before", "on"):
        assert isinstance(value, date)
        day = _internal_day(summary)
        if day is None:
            return False
        if field == "since":
            return day >= value
        if field == "before":
            return day < value
        return day == value
    if field == "larger":
        assert isinstance(value, int)
        return summary.size > value
    if field == "smaller":
        assert isinstance(value, int)
        return summary.size < value
    if field == "is":
        flag, wanted = _IS_FLAGS[str(value)]
        return (flag in summary.flags) is wanted
    if field == "has":
        return _has_attachment(summary)
    raise ValueError(f"the cache cannot answer {field}:")


def _eval(node: Node, summary: MessageSummary) -> bool:
    if isinstance(node, Term):
        return _term(node, summary)
    if isinstance(node, Not):
        return not _eval(node.child, summary)
    if isinstance(node, And):
        return all(_eval(c, summary) for c in node.children)
    assert isinstance(node, Or)
    return any(_eval(c, summary) for c in node.children)


def matches(query: Query, summary: MessageSummary) -> bool | None:
    """Whether `summary` matches `query`; None when the query needs the body."""
    if not answerable(query):
        return None
    return query.root is None or _eval(query.root, summary)


def filter_summaries(
    query: Query, uids: Iterable[int], summaries: dict[int, MessageSummary]
) -> list[int] | None:
    """The UIDs of `uids` (their order kept) whose cached summary matches `query`; None when
    the query needs the body. UIDs without a summary are left out (the server says)."""
    if not answerable(query):
        return None
    root = query.root
    out: list[int] = []
    for uid in uids:
        summary = summaries.get(uid)
        if summary is not None and (root is None or _eval(root, summary)):
            out.append(uid)
    return out


async def search_cached(account: Account, query_text: str) -> tuple[list[int], int] | None:
    """The open folder's UIDs (in the list's order) whose summary in memory or the header
    cache matches `query_text`, and how many UIDs had no summary at hand; no server.

    None when the query needs what the cache does not hold (body:, text:) or no folder is
    open. Raises `QueryError` for a bad query."""
    query = parse_query(query_text)
    current = account.current
    if current is None or not answerable(query):
        return None
    name, validity = current.folder.name, current.uidvalidity
    uids = list(current.uids)
    held: dict[int, MessageSummary] = {}
    missing: list[int] = []
    for uid in uids:
        summary = account.summaries.get(name, validity, uid)
        if summary is None:
            missing.append(uid)
        else:
            held[uid] = summary
    cache = account.header_cache

    def rest() -> list[int] | None:
        # The SQLite reads and the match over a big folder, off the UI's thread; the
        # summaries read are not kept in memory (a 100,000-message folder would evict all).
        if missing and cache is not None and validity is not None:
            held.update(cache.get_summaries(name, validity, missing))
        return filter_summaries(query, uids, held)

    found = await asyncio.to_thread(rest)
    if found is None:
        return None
    return found, len(uids) - len(held)
