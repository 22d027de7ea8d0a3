"""Invitations: corpus calendars, malformed ones, times in the user's zone, the iTIP REPLY."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest

from app.actions.invites import answer_draft
from app.mime.calendar import (
    CALENDAR_TYPES,
    build_reply,
    parse_invitation,
    recurrence_words,
)
from app.mime.compose import Identity, build_message
from app.sandbox.demo import invitation_ics

BERLIN = ZoneInfo("Europe/Berlin")


def corpus_calendars(shared: Path) -> list[tuple[str, bytes, str]]:
    found = []
    for path in sorted((shared / "corpus").iterdir()):
        if not path.is_file():
            continue
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for part in msg.walk():
            if part.get_content_type() in CALENDAR_TYPES:
                data = part.get_payload(decode=True)
                assert isinstance(data, bytes)
                found.append((path.name, data, str(part.get_param("method") or "")))
    return found


def test_every_corpus_calendar_parses_without_crashing(shared_dir: Path) -> None:
    calendars = corpus_calendars(shared_dir)
    names = {name for name, _, _ in calendars}
    assert {
        "thunderbird__invite.eml",
        "thunderbird__outlook-test-invite.eml",
        "thunderbird__teams-meeting-invite.eml",
        "thunderbird__cancel-single-event.eml",
    } <= names
    for name, data, method in calendars:
        inv = parse_invitation(data, tz=BERLIN, method_hint=method)
        assert inv is not None, name
        assert inv.when, name  # every corpus event has a start
        if inv.answerable:
            reply = icalendar.Calendar.from_ical(build_reply(inv, address="x@example.org",
                                                             partstat="DECLINED"))  # fmt: skip
            assert str(reply["METHOD"]) == "REPLY"


def test_corpus_fields(shared_dir: Path) -> None:
    by_name = {n: parse_invitation(d, tz=BERLIN, method_hint=m) for n, d, m in
               corpus_calendars(shared_dir)}  # fmt: skip
    outlook = by_name["thunderbird__outlook-test-invite.eml"]
    assert outlook is not None
    assert outlook.title == "Testaus"
    assert outlook.headline == "Invitation"
    # 09:00 in FLE Standard Time (UTC+2) is 08:00 in Berlin; the original zone is named.
    assert outlook.when == "Sat 27 Nov 2021 08:00–08:30 CET (09:00 FLE Standard Time)"
    assert outlook.organizer is not None and outlook.organizer.address == "marge@example.org"
    assert [(a.address, a.answer) for a in outlook.attendees] == [
        ("homer@example.org", "not answered")
    ]
    cancel = by_name["thunderbird__cancel-single-event.eml"]
    assert cancel is not None
    assert cancel.headline == "Cancelled event"
    assert not cancel.answerable
    assert "cancelled" in " ".join(cancel.notices)
    assert cancel.location == "Somewhere"
    teams = by_name["thunderbird__teams-meeting-invite.eml"]
    assert teams is not None and teams.title == "Teams meeting" and teams.description


@pytest.mark.parametrize(
    "data",
    [
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:Half\\, written\r\nDTSTART:20261201T1000"
        b"00Z\r\nATTENDEE;CN=A;PARTSTAT=ACCEPTED:mailto:a@b.example\r\nBEGIN:VALARM\r\n",
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART;TZID=Nowhere/Land:2026XX01\r\nEND:VEVENT\r\n"
        b"END:VCALENDAR\r\n",
        b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:\x1b[31mred\x1b[0m \xff\xfe\r\nRRULE:FREQ=W"
        b"EEKLY;BYDAY=XX,3ZZ;COUNT=abc\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        b"BEGIN:VCALENDAR\r\n" + b"X-JUNK:" + b"a" * 100_000 + b"\r\nEND:VCALENDAR\r\n",
    ],
)
def test_malformed_calendars_are_shown_as_far_as_they_parse(data: bytes) -> None:
    inv = parse_invitation(data, tz=BERLIN)
    assert inv is not None
    for text in (inv.title, inv.when, inv.description, *inv.notices):
        assert "\x1b" not in text
    if b"Half" in data:
        assert inv.title == "Half, written"
        assert not inv.parsed and not inv.answerable
        assert inv.attendees[0].answer == "accepted"
        assert inv.when.startswith("Tue 01 Dec 2026 11:00")  # 10:00 UTC in Berlin


def test_not_a_calendar_and_too_big() -> None:
    assert parse_invitation(b"hello", tz=BERLIN) is None
    big = parse_invitation(b"BEGIN:VCALENDAR\r\n" + b"x" * 2_000_000, tz=BERLIN)
    assert big is not None and "too large" in big.notices[0]


def test_generated_invitation_in_the_users_zone() -> None:
    inv = parse_invitation(invitation_ics().encode(), tz=BERLIN)
    assert inv is not None
    assert inv.when == "Tue 01 Dec 2026 16:00–16:30 CET (10:00 America/New_York)"
    assert inv.recurrence == "weekly on Tuesday, 10 times"
    assert inv.answerable
    same_zone = parse_invitation(invitation_ics().encode(), tz=ZoneInfo("America/New_York"))
    assert same_zone is not None and same_zone.when == "Tue 01 Dec 2026 10:00–10:30 EST"
    updated = parse_invitation(invitation_ics(sequence=3).encode(), tz=BERLIN)
    assert updated is not None and updated.headline == "Updated invitation"
    assert "revision 3" in updated.notices[0]


def test_recurrence_words() -> None:
    assert recurrence_words({"FREQ": ["MONTHLY"], "BYDAY": ["-1FR"]}) == (
        "every month on the last Friday"
    )
    assert recurrence_words({"FREQ": ["WEEKLY"], "INTERVAL": [2], "BYDAY": ["MO", "WE"]}) == (
        "every 2 weeks on Monday and Wednesday"
    )
    until = datetime(2027, 3, 1, tzinfo=UTC)
    assert recurrence_words({"FREQ": ["DAILY"], "UNTIL": [until]}) == "daily, until 01 Mar 2027"
    assert recurrence_words({"FREQ": ["YEARLY"], "BYMONTH": [3]}) == "every year in March"
    assert recurrence_words({"FREQ": ["BOGUS"]}) == "repeats"


def test_reply_keeps_uid_sequence_and_says_the_answer() -> None:
    inv = parse_invitation(invitation_ics(sequence=2).encode(), tz=BERLIN)
    assert inv is not None
    draft = answer_draft(
        inv, "ACCEPTED", identity=Identity("Demo User", "demo@localhost"), comment="See you"
    )
    assert draft.to == ["friend@localhost"]
    assert draft.subject == "Accepted: Weekly termail sync"
    msg = build_message(draft, message_id_domain="localhost")
    parts = {p.get_content_type(): p for p in msg.walk()}
    assert msg.get_content_type() == "multipart/alternative"
    cal_part = parts["text/calendar"]
    assert cal_part.get_param("method") == "REPLY"
    payload = cal_part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    cal = icalendar.Calendar.from_ical(payload)
    assert str(cal["METHOD"]) == "REPLY"
    event = cal.walk("VEVENT")[0]
    assert str(event["UID"]) == "weekly-sync-2026@demo.example"
    assert int(event["SEQUENCE"]) == 2
    attendee = event["ATTENDEE"]
    assert str(attendee).lower() == "mailto:demo@localhost"
    assert attendee.params["PARTSTAT"] == "ACCEPTED"
    assert str(event["COMMENT"]) == "See you"
    assert str(event["ORGANIZER"]).lower() == "mailto:friend@localhost"
    assert cal.walk("VTIMEZONE"), "the zone DTSTART names travels with the reply"


def test_cancelled_or_unparsed_cannot_be_answered() -> None:
    cancel = parse_invitation(invitation_ics(method="CANCEL").encode(), tz=BERLIN)
    assert cancel is not None and not cancel.answerable
    with pytest.raises(ValueError):
        answer_draft(cancel, "ACCEPTED", identity=Identity("", "demo@localhost"))
    inv = parse_invitation(invitation_ics().encode(), tz=BERLIN)
    assert inv is not None
    with pytest.raises(ValueError):
        answer_draft(inv, "MAYBE", identity=Identity("", "demo@localhost"))


def test_reply_to_a_uid_with_control_characters_keeps_the_original_uid() -> None:
    ics = invitation_ics(uid="odd\\,uid-" + "x" * 600)
    inv = parse_invitation(ics.encode(), tz=BERLIN)
    assert inv is not None and inv.answerable
    reply = icalendar.Calendar.from_ical(
        build_reply(inv, address="demo@localhost", partstat="ACCEPTED")
    )
    assert str(reply.walk("VEVENT")[0]["UID"]) == "odd,uid-" + "x" * 600
