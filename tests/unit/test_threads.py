"""app.store.threads: RFC 5256 base subjects and sort keys, JWZ threading, and the list's thread rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.imap.parser import ThreadNode
from app.models import Address, Envelope
from app.store.threads import (
    SortKey,
    add_references,
    base_subject,
    jwz_threads,
    ranks,
    sort_key_from,
    sort_uids,
    thread_rows,
)


@pytest.mark.parametrize(
    ("subject", "base", "reply"),
    [
        ("Hello", "HELLO", False),
        ("Re: Hello", "HELLO", True),
        ("RE: [list] Re: Fwd: hello (fwd)", "HELLO", True),
        ("[fwd: Re: hi]", "HI", True),
        ("[PATCH] fix it", "FIX IT", False),
        ("[PATCH]", "[PATCH]", False),  # a blob alone is the subject
        ("Re:   re[2]:  x\t y", "X Y", True),
        ("=?UTF-8?B?UmU6IENyw6htZQ==?=", "CRèME", True),  # decoded first; only ASCII case-mapped
        ("", "", False),
        ("Fw: [a] [b] topic  ", "TOPIC", True),
    ],
)
def test_base_subject(subject: str, base: str, reply: bool) -> None:
    assert base_subject(subject) == (base, reply)


def test_sort_key_from_envelope_and_references() -> None:
    envelope = Envelope(
        date="Tue, 01 Dec 2026 10:00:00 +0100",
        subject="Re: [team] Quarterly report",
        from_=(Address("Alice Example", "Alice", "Example.org"),),
        to=(Address(None, "bob", "example.org"), Address(None, "carol", "example.org")),
        in_reply_to="<m2@example.org>",
        message_id="<m3@example.org>",
    )
    header = b"References: <m1@example.org>\r\n <m2@example.org>\r\n\r\n"
    arrived = datetime(2026, 12, 2, tzinfo=UTC)
    key = sort_key_from(7, arrived, 1234, envelope)
    assert key.references == ("<m2@example.org>",) and not key.references_known
    add_references(key, header)
    assert key.date == datetime(2026, 12, 1, 9, tzinfo=UTC).timestamp()
    assert key.arrival == arrived.timestamp() and key.size == 1234
    assert (key.from_, key.to) == ("ALICE", "BOB")  # addr-mailbox, i;ascii-casemap
    assert (key.subject, key.is_reply) == ("QUARTERLY REPORT", True)
    assert key.message_id == "<m3@example.org>"
    assert key.references == ("<m1@example.org>", "<m2@example.org>")


def test_sort_key_date_falls_back_to_internaldate_and_in_reply_to() -> None:
    arrived = datetime(2026, 12, 2, tzinfo=UTC)
    envelope = Envelope(date="not a date", in_reply_to="<p@x> <q@x>")
    key = sort_key_from(1, arrived, 0, envelope)
    assert key.date == arrived.timestamp()
    add_references(key, b"Subject: no references here\r\n")
    assert key.references == ("<p@x>",) and key.references_known
    group = Envelope(to=(Address(None, "undisclosed-recipients", None), Address(None, None, None)))
    assert sort_key_from(2, None, 0, group).to == "UNDISCLOSED-RECIPIENTS"
    assert sort_key_from(3, None, 0, None).date == 0.0


def test_sort_uids_ties_by_uid_and_reverse() -> None:
    keys = [
        SortKey(1, date=5, from_="BOB", subject="B", size=10),
        SortKey(2, date=3, from_="alice", subject="A", size=10),
        SortKey(3, date=5, from_="ALICE", subject="A", size=30),
    ]
    assert sort_uids(keys, "date", False) == [2, 1, 3]
    assert sort_uids(keys, "date", True) == [1, 3, 2]  # REVERSE turns the key, not the tie
    assert sort_uids(keys, "from", False) == [3, 1, 2]  # "ALICE" < "BOB" < "alice": octets
    assert sort_uids(keys, "subject", False) == [2, 3, 1]
    assert sort_uids(keys, "size", True) == [3, 1, 2]
    assert ranks([3, 1, 2]) == {3: 0, 1: 1, 2: 2}


def key(uid: int, mid: str | None, *refs: str, subject: str = "", date: float = 0) -> SortKey:
    base, reply = base_subject(subject)
    return SortKey(
        uid,
        date=date or uid,
        subject=base,
        is_reply=reply,
        message_id=mid,
        references=tuple(refs),
    )


def rows(keys: list[SortKey], **kw: object) -> tuple[list[int], list[int]]:
    dates = {k.uid: k.date for k in keys}
    return thread_rows(jwz_threads(keys), dates, **kw)  # type: ignore[arg-type]


def test_jwz_links_references_and_orders_replies_by_date() -> None:
    keys = [
        key(1, "<a>", subject="Plan"),
        key(2, "<b>", "<a>", subject="Re: Plan", date=30),
        key(3, "<c>", "<a>", subject="Re: Plan", date=20),
        key(4, "<d>", "<a>", "<c>", subject="Re: Plan", date=40),
        key(5, "<e>", subject="Other", date=50),
    ]
    uids, depths = rows(keys)
    # newest thread first (by its first message's date); replies by date, nested
    assert uids == [5, 1, 3, 4, 2]
    assert depths == [0, 0, 1, 2, 1]


def test_replies_whose_parent_is_missing_are_grouped() -> None:
    keys = [
        key(1, "<r1>", "<gone>", subject="Re: Budget", date=10),
        key(2, "<r2>", "<gone>", subject="Re: Budget", date=20),
        key(3, "<x>", subject="Unrelated", date=5),
    ]
    uids, depths = rows(keys, reverse=False)
    # a dummy for <gone>: its first child stands for it, the other under it
    assert uids == [3, 1, 2] and depths == [0, 0, 1]


def test_threads_are_joined_by_subject_when_references_are_missing() -> None:
    keys = [
        key(1, "<lunch>", subject="Lunch?", date=10),
        key(2, "<r>", subject="Re: Lunch?", date=20),  # no References, no In-Reply-To
        key(3, "<other>", subject="Lunch? (fwd)", date=30),
        key(4, "<z>", subject="Zebra", date=40),
    ]
    uids, depths = rows(keys, reverse=False)
    assert uids[:3] == [1, 2, 3] and depths[:3] == [0, 1, 1]
    assert (uids[3], depths[3]) == (4, 0)


def test_two_originals_with_one_subject_share_a_dummy() -> None:
    keys = [key(1, "<p>", subject="Hi", date=1), key(2, "<q>", subject="Hi", date=2)]
    roots = jwz_threads(keys)
    assert len(roots) == 1 and roots[0].uid is None
    assert sorted(c.uid or 0 for c in roots[0].children) == [1, 2]


def test_loops_duplicates_and_missing_ids_do_not_break_threading() -> None:
    keys = [
        key(1, "<a>", "<b>", subject="Loop"),
        key(2, "<b>", "<a>", subject="Loop"),  # each claims the other as parent
        key(3, "<a>", subject="Dup id"),  # a duplicate Message-ID: a message of its own
        key(4, None, "<a>", subject="No id"),
        key(5, "<self>", "<self>", subject="Self"),
    ]
    uids, _ = rows(keys)
    assert sorted(uids) == [1, 2, 3, 4, 5]


def test_long_chain_does_not_recurse() -> None:
    keys = [key(1, "<m1>", subject="chain")]
    for uid in range(2, 12_000):
        keys.append(key(uid, f"<m{uid}>", f"<m{uid - 1}>", subject="Re: chain"))
    uids, depths = rows(keys)
    assert uids == list(range(1, 12_000))
    assert depths[-1] == 11_998


def test_server_threads_ordered_by_date_not_arrival() -> None:
    """The server's tree (THREAD=REFERENCES) ordered by a date rank, newest thread first."""
    old_thread = ThreadNode(1, [ThreadNode(2, [ThreadNode(3)]), ThreadNode(4)])
    new_single = ThreadNode(5)
    dummy = ThreadNode(None, [ThreadNode(7), ThreadNode(6)])
    # arrival order says 7 is newest; the dates say the thread of 1 is
    dates = {1: 90.0, 2: 91, 3: 92, 4: 93, 5: 50, 6: 10, 7: 11}
    uids, depths = thread_rows([old_thread, new_single, dummy], dates)
    assert uids == [1, 2, 3, 4, 5, 6, 7]
    assert depths == [0, 1, 2, 1, 0, 0, 1]
    last, _ = thread_rows([old_thread, new_single, dummy], {**dates, 7: 99}, last=True)
    assert last[:2] == [6, 7]  # the dummy's thread has the newest message
    by_key, _ = thread_rows(
        [old_thread, new_single, dummy], dates, {5: 0, 6: 1, 1: 2}, reverse=False
    )
    assert by_key == [5, 6, 7, 1, 2, 3, 4]


@pytest.mark.parametrize(
    "value",
    [
        "Tue, 01 Dec 2026 10:00:00 +0100",
        "1 Dec 2026 10:00 -0530",
        "Sat, 28 Feb 2026 23:59:59 +0000 (UTC)",
        "Sun, 31 Jan 2010 01:02:03 +1400",
        "Mon, 2 Nov 2026 5:00:00 GMT",
        "Tue, 01 Dec 2026 10:00:00 -0000",
        "Thu, 30 Feb 2026 10:00:00 +0000",
        "garbage",
    ],
)
def test_fast_date_reading_agrees_with_the_lenient_parser(value: str) -> None:
    from app.mime.headers import parse_date
    from app.store.threads import _timestamp, sent_date

    assert sent_date(value) == _timestamp(parse_date(value))
