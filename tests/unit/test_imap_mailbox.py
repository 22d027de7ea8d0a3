"""MailboxState: untagged EXISTS / EXPUNGE / VANISHED / FETCH folded into the selected folder."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.imap import parser
from app.imap.mailbox import MailboxState


def fold(state: MailboxState, *raws: bytes) -> None:
    for raw in raws:
        state.apply(parser.parse_untagged(raw))


def fresh(uids: list[int]) -> MailboxState:
    state = MailboxState("INBOX", uidvalidity=7)
    state.set_uids(uids)
    return state


def test_expunge_removes_by_sequence_number() -> None:
    state = fresh([3, 5, 8, 13])
    fold(state, b"* 2 EXPUNGE", b"* 2 EXPUNGE")  # 5, then 8 (sequence numbers shift down)
    assert state.uids == [3, 13] and state.exists == 2
    assert [e.uids for e in state.take_events()] == [(5,), (8,)]
    assert state.take_events() == []


def test_exists_then_new_uids() -> None:
    state = fresh([1, 2])
    fold(state, b"* 4 EXISTS", b"* 1 RECENT")
    assert state.exists == 4 and state.unknown_new == 2 and state.recent == 1
    [event] = state.take_events()
    assert event.kind == "new" and event.uids == () and event.exists == 4
    assert state.add_new_uids([2, 9, 10]) == (9, 10)
    assert state.uids == [1, 2, 9, 10] and state.unknown_new == 0


def test_expunge_of_a_message_not_yet_known() -> None:
    state = fresh([1, 2])
    fold(state, b"* 3 EXISTS", b"* 3 EXPUNGE")
    assert state.uids == [1, 2] and state.exists == 2 and state.unknown_new == 0


def test_vanished_and_vanished_earlier() -> None:
    state = fresh([1, 2, 3, 4, 5])
    fold(state, b"* VANISHED 2:3,9")
    assert state.uids == [1, 4, 5] and state.exists == 3
    assert state.take_events()[0].uids == (2, 3)
    fold(state, b"* VANISHED (EARLIER) 4")
    assert state.uids == [1, 5] and state.exists == 2


def test_fetch_flags_by_uid_or_by_sequence() -> None:
    state = fresh([10, 20, 30])
    fold(state, b"* 2 FETCH (FLAGS (\\Seen) MODSEQ (44))", b"* 3 FETCH (UID 30 FLAGS ())")
    events = state.take_events()
    assert [(e.kind, e.uids) for e in events] == [("flags", (20,)), ("flags", (30,))]
    assert events[0].flags == {20: frozenset({"\\Seen"})} and state.highestmodseq == 44


def test_response_codes_and_uidvalidity_change() -> None:
    state = fresh([1])
    fold(state, b"* OK [UIDNEXT 50] next", b"* OK [HIGHESTMODSEQ 9] m")
    assert state.uidnext == 50 and state.highestmodseq == 9 and state.take_events() == []
    fold(state, b"* OK [UIDVALIDITY 8] changed")
    assert state.uids is None and state.take_events()[0].kind == "resync"


def test_a_shrinking_exists_means_resync() -> None:
    state = fresh([1, 2, 3])
    fold(state, b"* 1 EXISTS")
    assert state.uids is None and state.take_events()[-1].kind == "resync"


def test_without_a_uid_list_only_counts_change() -> None:
    state = MailboxState("INBOX", exists=5)
    fold(state, b"* 3 EXPUNGE", b"* 6 EXISTS", b"* 1 FETCH (FLAGS ())")
    assert state.exists == 6 and state.uids is None
    # The flag change cannot be placed, but is news: "flags" without UIDs (refresh).
    events = state.take_events()
    assert [e.kind for e in events] == ["expunged", "new", "flags"] and events[2].uids == ()


@given(
    uids=st.lists(st.integers(1, 10_000), min_size=1, max_size=40, unique=True),
    picks=st.lists(st.integers(0, 10_000), max_size=30),
)
def test_expunges_agree_with_a_model(uids: list[int], picks: list[int]) -> None:
    state = fresh(uids)
    model = sorted(uids)
    for pick in picks:
        if not model:
            break
        seq = pick % len(model) + 1
        fold(state, b"* %d EXPUNGE" % seq)
        gone = model.pop(seq - 1)
        assert state.take_events()[-1].uids == (gone,)
    assert state.uids == model and state.exists == len(model)


def test_a_list_in_display_order_is_shared_until_sequence_order_is_needed() -> None:
    listed = parser.UidArray([30, 10, 40, 20])  # a UID SORT answer
    state = MailboxState("INBOX")
    state.set_uids(listed)
    assert state.has_uids and state.known == 4 and state.exists == 4 and state.last_uid == 40
    fold(state, b"* 5 EXISTS")
    assert state.unknown_new == 1 and state.add_new_uids([41, 40]) == (41,)
    assert listed == [30, 10, 40, 20]  # the caller's list is never changed
    fold(state, b"* 1 EXPUNGE")  # needs sequence order: sorted now, on a copy
    assert state.uids == [20, 30, 40, 41] and listed == [30, 10, 40, 20]
    assert state.take_events()[-1].uids == (10,)


def test_vanished_on_a_shared_list_leaves_it_alone() -> None:
    listed = parser.UidArray([5, 3, 9])
    state = MailboxState("INBOX")
    state.set_uids(listed)
    fold(state, b"* VANISHED 9,11")
    assert listed == [5, 3, 9] and state.uids == [3, 5] and state.last_uid == 5
    assert state.take_events()[-1].uids == (9,)


def test_without_a_list_new_uids_count_from_uidnext() -> None:
    state = MailboxState("INBOX", exists=3, uidnext=8)
    fold(state, b"* 4 EXISTS")
    assert not state.has_uids and state.take_events()[0].kind == "new"
    assert state.add_new_uids([7, 8, 9]) == (8, 9)
    assert state.uidnext == 10 and state.uids is None


@given(st.lists(st.integers(1, 10_000), max_size=60))
def test_ascending_uids(uids: list[int]) -> None:
    from app.imap.mailbox import ascending_uids

    assert ascending_uids(uids) == sorted(set(uids))
    assert ascending_uids(sorted(set(uids), reverse=True)) == sorted(set(uids))


def test_a_counted_uid_list_becomes_the_sequence_map_only_when_consistent() -> None:
    """After a SELECT the state has no list; a resync that counted the folder (no listing)
    hands it the UIDs, so `* 2 FETCH (FLAGS ...)` without a UID is placed (issue 14 item 9)."""
    state = MailboxState("INBOX", uidvalidity=7, exists=3)
    fold(state, b"* 2 FETCH (FLAGS (\\Flagged))")
    [unknown] = state.take_events()  # without a map: only that something changed
    assert unknown.kind == "flags" and unknown.uids == () and not unknown.flags
    assert state.learn_uids([30, 10, 20])  # display order: sequence order made when needed
    fold(state, b"* 2 FETCH (FLAGS (\\Flagged))")
    [event] = state.take_events()
    assert event.uids == (20,) and event.flags == {20: frozenset({"\\Flagged"})}
    assert not state.learn_uids([1, 2, 3])  # a list held wins
    other = MailboxState("INBOX", uidvalidity=7, exists=3)
    assert not other.learn_uids([1, 2])  # EXISTS says 3
    fold(other, b"* 4 EXISTS")
    assert not other.learn_uids([1, 2, 3, 4])  # a change is pending: the next resync says
    assert not other.has_uids
