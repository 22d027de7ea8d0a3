"""New mail placed on top without a resync (app.store.news, issue 21)."""

from __future__ import annotations

from datetime import UTC, datetime

from app.imap.mailbox import MailboxEvent
from app.models import Envelope, MessageSummary
from app.store.news import changed_flags, on_top, told_changes
from app.uids import UidArray


def _msg(uid: int, day: int) -> MessageSummary:
    date = f"Mon, {day} Jan 2024 10:00:00 +0000"
    return MessageSummary(
        uid, envelope=Envelope(date=date), internaldate=datetime(2024, 1, day, tzinfo=UTC)
    )


def test_new_mail_newer_than_the_top_goes_in_front_newest_first() -> None:
    order = UidArray([10, 9, 8])
    got = on_top(order, _msg(10, 5), [_msg(11, 6), _msg(12, 7)], "REVERSE DATE")
    assert list(got or []) == [12, 11, 10, 9, 8]
    assert list(order) == [10, 9, 8]  # shared arrays are never changed in place


def test_new_mail_not_above_the_top_is_left_to_the_server() -> None:
    order = UidArray([10, 9])
    assert on_top(order, _msg(10, 5), [_msg(11, 4)], "REVERSE DATE") is None
    assert on_top(order, _msg(10, 5), [_msg(11, 5)], "REVERSE DATE") is None  # a tie
    assert on_top(order, _msg(10, 5), [_msg(11, 6)], "DATE") is None  # oldest first
    assert on_top(order, None, [_msg(11, 6)], "REVERSE DATE") is None  # top unknown


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
