"""New mail placed on top without a resync (app.store.news, issue 21)."""

from __future__ import annotations

from datetime import UTC, datetime

from app.imap.mailbox import MailboxEvent
from app.models import Envelope, MessageSummary
from app.store.news import TIED_MAX, changed_flags, on_top, told_changes
from app.uids import UidArray


def _msg(uid: int, day: int, second: int = 0) -> MessageSummary:
    date = f"Mon, {day} Jan 2024 10:00:{second:02d} +0000"
    return MessageSummary(
        uid, envelope=Envelope(date=date), internaldate=datetime(2024, 1, day, tzinfo=UTC)
    )


def test_new_mail_newer_than_the_top_goes_in_front_newest_first() -> None:
    order = UidArray([10, 9, 8])
    got = on_top(order, [_msg(10, 5)], [_msg(11, 6), _msg(12, 7)], "REVERSE DATE")
    assert list(got or []) == [12, 11, 10, 9, 8]
    assert list(order) == [10, 9, 8]  # shared arrays are never changed in place


def test_new_mail_not_above_the_top_is_left_to_the_server() -> None:
    order = UidArray([10, 9])
    assert on_top(order, [_msg(10, 5)], [_msg(11, 4)], "REVERSE DATE") is None
    assert on_top(order, [_msg(10, 5)], [_msg(11, 6)], "DATE") is None  # oldest first
    assert on_top(order, [None], [_msg(11, 6)], "REVERSE DATE") is None  # top unknown
    assert on_top(order, [_msg(9, 5)], [_msg(11, 6)], "REVERSE DATE") is None  # not the top


def test_new_mail_dated_as_the_top_goes_after_the_rows_of_that_second() -> None:
    """Ties go by UID ascending in both directions (RFC 5256, as Dovecot answers `UID SORT
    (REVERSE DATE)`): a new UID tying the top comes after every listed row of that second.
    This was a full resync, ~40% of the refreshes under delivery at 2/s (issue 21)."""
    order = UidArray([8, 9, 7, 6])  # 8 and 9 in the same second, 8 first (lower UID)
    listed = [_msg(8, 5, 30), _msg(9, 5, 30), _msg(7, 5, 10), _msg(6, 5, 0)]
    got = on_top(order, listed, [_msg(11, 5, 30), _msg(10, 5, 30)], "REVERSE DATE")
    assert list(got or []) == [8, 9, 10, 11, 7, 6]
    # Newer ones first, then the top's second in UID order, then the rest as listed.
    got = on_top(order, listed, [_msg(12, 5, 31), _msg(10, 5, 30), _msg(11, 5, 31)], "REVERSE DATE")
    assert list(got or []) == [11, 12, 8, 9, 10, 7, 6]
    assert list(order) == [8, 9, 7, 6]


def test_ties_among_new_mail_alone_go_by_uid() -> None:
    order = UidArray([3, 2])
    got = on_top(order, [_msg(3, 1), _msg(2, 1, 0)], [_msg(5, 2), _msg(4, 2)], "REVERSE DATE")
    assert list(got or []) == [4, 5, 3, 2]


def test_a_tie_past_what_is_at_hand_is_left_to_the_server() -> None:
    order = UidArray([5, 4, 3])
    assert on_top(order, [_msg(5, 1), None], [_msg(6, 1)], "REVERSE DATE") is None
    # Every listed row looked at ties (a burst in one second): the resync decides.
    many = UidArray(range(1, TIED_MAX + 3))
    listed = [_msg(u, 1) for u in many[: TIED_MAX + 1]]
    assert on_top(many, listed, [_msg(100, 1)], "REVERSE DATE") is None
    # All of a short list tie: nothing below them to find.
    order = UidArray([3, 4, 5])
    got = on_top(order, [_msg(3, 1), _msg(4, 1), _msg(5, 1)], [_msg(6, 1)], "REVERSE DATE")
    assert list(got or []) == [3, 4, 5, 6]


def test_only_new_mail_and_flags_with_their_uids_are_told() -> None:
    new = MailboxEvent("new", "INBOX", (12, 11))
    flags = MailboxEvent("flags", "INBOX", (), {3: frozenset({"\\Seen"})})
    assert told_changes([new, flags]) == ([11, 12], {3: frozenset({"\\Seen"})})
    assert told_changes([new, MailboxEvent("expunged", "INBOX", (4,))]) is None
    assert told_changes([MailboxEvent("new", "INBOX", ())]) is None  # UIDs not known yet
    assert told_changes([MailboxEvent("flags", "INBOX")]) is None


def test_flag_changes_kept_are_of_cached_messages_and_real() -> None:
    held = {3: _msg(3, 1), 4: MessageSummary(4, flags=frozenset({"\\Seen"}))}
    told = {
        3: frozenset({"\\Seen", "\\Recent"}),
        4: frozenset({"\\Seen"}),
        5: frozenset({"\\Flagged"}),
    }
    assert changed_flags(told, held) == {3: frozenset({"\\Seen"})}
