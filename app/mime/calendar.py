"""Calendar invitations (iCalendar RFC 5545, iTIP RFC 5546, iMIP RFC 6047), without any UI.

`parse_invitation` turns a text/calendar part into an `Invitation` the viewer can show: the
title, organizer, the time in the user's zone with the original zone named, the place, the
attendees with their answers, the recurrence in words and the description, plus what the
METHOD means (a new invitation, an update, a cancellation). A calendar that `icalendar` cannot
parse is read line by line as far as it goes; nothing here raises on bad input.

`build_reply` writes the iTIP REPLY (METHOD:REPLY, the user's PARTSTAT, the same UID and
SEQUENCE) that `app.actions.invites` sends through the normal send path.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.mime.sanitize import clean, clean_line
from app.models import BodyPart

__all__ = [
    "ANSWER_WORDS",
    "CALENDAR_TYPES",
    "MAX_CALENDAR_BYTES",
    "PARTSTATS",
    "Attendee",
    "Invitation",
    "build_reply",
    "calendar_part",
    "parse_invitation",
    "recurrence_words",
    "user_timezone",
]

CALENDAR_TYPES = frozenset({"text/calendar", "application/ics", "text/x-vcalendar"})
MAX_CALENDAR_BYTES = 1024 * 1024
"""A bigger calendar part is not parsed (an invitation is a few KB)."""
MAX_ATTENDEES = 200
MAX_TEXT = 20_000

PARTSTATS = {
    "ACCEPTED": "accepted",
    "DECLINED": "declined",
    "TENTATIVE": "tentative",
    "DELEGATED": "delegated",
    "NEEDS-ACTION": "not answered",
    "COMPLETED": "completed",
    "IN-PROCESS": "in process",
}
"""PARTSTAT values (RFC 5545 3.2.12) in words."""

_DAYS = {
    "MO": "Monday",
    "TU": "Tuesday",
    "WE": "Wednesday",
    "TH": "Thursday",
    "FR": "Friday",
    "SA": "Saturday",
    "SU": "Sunday",
}
_ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", -1: "last"}
_UNITS = {
    "SECONDLY": "second",
    "MINUTELY": "minute",
    "HOURLY": "hour",
    "DAILY": "day",
    "WEEKLY": "week",
    "MONTHLY": "month",
    "YEARLY": "year",
}
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


@dataclass(frozen=True, slots=True)
class Attendee:
    """One ATTENDEE (or the ORGANIZER): name, address and answer, all plain text."""

    name: str
    address: str
    partstat: str = "NEEDS-ACTION"
    role: str = ""

    @property
    def answer(self) -> str:
        return PARTSTATS.get(self.partstat, self.partstat.lower() or "not answered")

    @property
    def label(self) -> str:
        if self.name and self.address and self.name.lower() != self.address.lower():
            return f"{self.name} <{self.address}>"
        return self.address or self.name


@dataclass(frozen=True, slots=True)
class Invitation:
    """What a text/calendar part says, ready to show (every string is plain, cleaned text)."""

    method: str
    """REQUEST, CANCEL, REPLY, PUBLISH, ... ("" when the calendar names none)."""
    title: str = ""
    uid: str = ""
    sequence: int = 0
    organizer: Attendee | None = None
    when: str = ""
    """The time in the user's zone, the original zone named when it differs."""
    start: datetime | date | None = None
    """The start in the user's zone (a date for an all-day event)."""
    location: str = ""
    attendees: tuple[Attendee, ...] = ()
    more_attendees: int = 0
    recurrence: str = ""
    description: str = ""
    status: str = ""
    notices: tuple[str, ...] = ()
    """What the reader should know: an update, a cancellation, parse problems."""
    raw: bytes = field(default=b"", repr=False)
    """The calendar as received (the REPLY copies from it)."""
    parsed: bool = True
    """False: `icalendar` could not read it; fields come from a line-by-line reading and no
    reply can be built."""

    @property
    def headline(self) -> str:
        """One line saying what this is."""
        if self.method == "CANCEL" or self.status == "CANCELLED":
            return "Cancelled event"
        if self.method == "REPLY":
            return "Answer to an invitation"
        if self.method == "REQUEST":
            return "Updated invitation" if self.sequence > 0 else "Invitation"
        if self.method == "COUNTER":
            return "Counter-proposal"
        return "Event"

    @property
    def answerable(self) -> bool:
        """Accept/tentative/decline make sense: a REQUEST (iTIP; a calendar without METHOD is
        only published) with a UID and an organizer."""
        return (
            self.parsed
            and self.method == "REQUEST"
            and bool(self.uid)
            and self.organizer is not None
            and bool(self.organizer.address)
            and self.status != "CANCELLED"
        )

    def attendee_for(self, addresses: Iterable[str]) -> Attendee | None:
        """The attendee that is one of the user's addresses."""
        own = {a.strip().lower() for a in addresses if a}
        for attendee in self.attendees:
            if attendee.address.lower() in own:
                return attendee
        return None


# -- finding the part ----------------------------------------------------------------------------
def calendar_part(structure: BodyPart) -> BodyPart | None:
    """The message's first calendar part (in an alternative or attached), if any."""
    for node in structure.walk():
        if node.mime_type in CALENDAR_TYPES:
            return node
        if node.mime_type == "application/octet-stream" and (node.filename or "").lower().endswith(
            ".ics"
        ):
            return node
    return None


def user_timezone() -> tzinfo:
    """The user's zone: $TZ when it names a known zone, else the system's local zone."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    local = datetime.now().astimezone().tzinfo
    return local if local is not None else UTC


# -- parsing -------------------------------------------------------------------------------------
def _text(value: object, max_len: int = 500) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        value = value[0] if value else ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return clean_line(str(value), max_len=max_len)


def _address(value: object) -> str:
    text = _text(value, 320)
    if text.lower().startswith("mailto:"):
        text = text[7:]
    return text.strip()


def _person(prop: Any) -> Attendee:
    params = getattr(prop, "params", {}) or {}
    address = _address(prop)
    if not address or "@" not in address:
        address = _address(params.get("EMAIL", "")) or address
    return Attendee(
        name=_text(params.get("CN", ""), 200),
        address=address,
        partstat=_text(params.get("PARTSTAT", "NEEDS-ACTION"), 40).upper() or "NEEDS-ACTION",
        role=_text(params.get("ROLE", ""), 40).upper(),
    )


def _zone_name(prop: Any, value: datetime | date) -> str:
    """The zone as the sender named it: the TZID parameter, else UTC or "floating"."""
    params = getattr(prop, "params", {}) or {}
    tzid = params.get("TZID")
    if tzid:
        return _text(tzid, 80)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return ""
        return _text(value.tzname() or "UTC", 80)
    return ""


def _fmt(value: datetime, *, with_date: bool = True) -> str:
    return value.strftime("%a %d %b %Y %H:%M" if with_date else "%H:%M")


def describe_when(
    start: datetime | date | None,
    end: datetime | date | None,
    zone_name: str,
    tz: tzinfo,
) -> tuple[str, datetime | date | None]:
    """(words, start in the user's zone): local time first, the original zone named after."""
    if start is None:
        return "", None
    if not isinstance(start, datetime):  # an all-day event (a DATE): no zone to convert
        text = start.strftime("%a %d %b %Y") + ", all day"
        if isinstance(end, date) and not isinstance(end, datetime):
            last = end - timedelta(days=1)  # DTEND of a DATE event is exclusive
            if last > start:
                text = f"{start.strftime('%a %d %b %Y')} – {last.strftime('%a %d %b %Y')}, all day"
        return text, start
    if start.tzinfo is None:  # floating: the same wall time everywhere
        text = _fmt(start)
        if isinstance(end, datetime) and end.tzinfo is None and end > start:
            text += "–" + _fmt(end, with_date=end.date() != start.date())
        return text + " (floating time, no zone given)", start
    local = start.astimezone(tz)
    local_end = end.astimezone(tz) if isinstance(end, datetime) and end.tzinfo else None
    text = _fmt(local)
    if local_end is not None and local_end > local:
        text += "–" + _fmt(local_end, with_date=local_end.date() != local.date())
    text += f" {local.tzname() or ''}".rstrip()
    same_zone = start.utcoffset() == local.utcoffset() and (
        not zone_name or zone_name in (local.tzname(), getattr(tz, "key", None))
    )
    if not same_zone:
        original = _fmt(start, with_date=start.date() != local.date())
        text += f" ({original} {zone_name or start.tzname() or 'UTC'})"
    return text, local


def recurrence_words(rule: Any) -> str:
    """An RRULE (an icalendar vRecur or a dict of lists) in words: "every 2 weeks on Monday"."""
    try:
        parts = {str(k).upper(): v if isinstance(v, list) else [v] for k, v in dict(rule).items()}
    except (TypeError, ValueError):
        return "repeats"
    freq = str((parts.get("FREQ") or [""])[0]).upper()
    unit = _UNITS.get(freq)
    if unit is None:
        return "repeats"
    try:
        interval = int((parts.get("INTERVAL") or [1])[0])
    except (TypeError, ValueError):
        interval = 1
    words = f"every {interval} {unit}s" if interval > 1 else f"every {unit}"
    if unit == "day" and interval == 1:
        words = "daily"
    elif unit == "week" and interval == 1:
        words = "weekly"
    days: list[str] = []
    for item in parts.get("BYDAY", []):
        m = re.fullmatch(r"([+-]?\d{0,2})([A-Z]{2})", str(item).upper())
        if m is None or m.group(2) not in _DAYS:
            continue
        name = _DAYS[m.group(2)]
        if m.group(1) and m.group(1) not in ("+", "-"):
            n = int(m.group(1))
            name = f"the {_ORDINALS.get(n, f'{n}.')} {name}"
        days.append(name)
    if days:
        words += " on " + _join(days)
    monthdays = [str(d) for d in parts.get("BYMONTHDAY", []) if re.fullmatch(r"-?\d{1,2}", str(d))]
    if monthdays:
        words += " on day " + _join(["last" if d == "-1" else d for d in monthdays])
    months = []
    for item in parts.get("BYMONTH", []):
        with_number = str(item)
        if with_number.isdigit() and 1 <= int(with_number) <= 12:
            months.append(_MONTHS[int(with_number) - 1])
    if months:
        words += " in " + _join(months)
    count = (parts.get("COUNT") or [None])[0]
    until = (parts.get("UNTIL") or [None])[0]
    if count is not None and str(count).isdigit():
        words += f", {int(str(count))} times"
    elif isinstance(until, datetime | date):
        words += ", until " + until.strftime("%d %b %Y")
    return clean_line(words, max_len=200)


def _join(items: Sequence[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _notices(method: str, sequence: int, status: str, events: int) -> list[str]:
    out: list[str] = []
    if method == "CANCEL" or status == "CANCELLED":
        out.append("The organizer cancelled this event.")
    elif method == "REQUEST" and sequence > 0:
        out.append(f"This invitation was updated (revision {sequence}); it replaces earlier ones.")
    elif method == "REPLY":
        out.append("An attendee's answer to an invitation.")
    if events > 1:
        out.append(f"The calendar holds {events} events; the first is shown.")
    return out


def parse_invitation(
    data: bytes, *, tz: tzinfo | None = None, method_hint: str = ""
) -> Invitation | None:
    """The invitation in a calendar part; None when it holds no calendar at all.

    `method_hint` is the Content-Type's `method` parameter (iMIP says it matches METHOD; it is
    used when the calendar itself names none). Never raises.
    """
    tz = tz or user_timezone()
    if len(data) > MAX_CALENDAR_BYTES:
        return Invitation(
            method=_text(method_hint, 20).upper(),
            notices=(f"The calendar is too large to show ({len(data) // 1024} KB).",),
            raw=b"",
            parsed=False,
        )
    if b"BEGIN:VCALENDAR" not in data.upper():
        return None
    try:
        return _parse_with_icalendar(data, tz, method_hint)
    except Exception as exc:  # hostile input: fall back to reading the lines
        return _parse_lines(data, tz, method_hint, f"{type(exc).__name__}: {exc}")


def _parse_with_icalendar(data: bytes, tz: tzinfo, method_hint: str) -> Invitation:
    import icalendar

    cal = icalendar.Calendar.from_ical(data)
    if isinstance(cal, list):
        cal = cal[0]
    method = (_text(cal.get("METHOD"), 20) or _text(method_hint, 20)).upper()
    events = [c for c in cal.walk("VEVENT")]
    if not events:
        events = [c for c in cal.walk() if c.name in ("VTODO", "VJOURNAL")]
    if not events:
        return Invitation(method=method, notices=("The calendar holds no event.",), raw=data)
    masters = [e for e in events if e.get("RECURRENCE-ID") is None]
    event = masters[0] if masters else events[0]
    try:
        sequence = int(str(event.get("SEQUENCE", 0)))
    except ValueError:
        sequence = 0
    start_prop = event.get("DTSTART")
    start = getattr(start_prop, "dt", None)
    end_prop = event.get("DTEND")
    end = getattr(end_prop, "dt", None)
    if end is None and isinstance(start, datetime | date):
        duration = getattr(event.get("DURATION"), "dt", None)
        if isinstance(duration, timedelta):
            end = start + duration
    zone = _zone_name(start_prop, start) if isinstance(start, datetime | date) else ""
    when, local_start = describe_when(
        start if isinstance(start, datetime | date) else None,
        end if isinstance(end, datetime | date) else None,
        zone,
        tz,
    )
    raw_attendees = event.get("ATTENDEE", [])
    if not isinstance(raw_attendees, list):
        raw_attendees = [raw_attendees]
    attendees = [_person(a) for a in raw_attendees[:MAX_ATTENDEES]]
    organizer_prop = event.get("ORGANIZER")
    organizer = _person(organizer_prop) if organizer_prop is not None else None
    rule = event.get("RRULE")
    if isinstance(rule, list):
        rule = rule[0] if rule else None
    status = _text(event.get("STATUS"), 20).upper()
    notices = _notices(method, sequence, status, len(masters) or len(events))
    errors = getattr(event, "errors", None) or []
    if errors:
        notices.append(
            f"{len(errors)} propert{'y' if len(errors) == 1 else 'ies'} could not be read."
        )
    return Invitation(
        method=method,
        title=_text(event.get("SUMMARY"), 300),
        uid=_text(event.get("UID"), 500),
        sequence=sequence,
        organizer=organizer,
        when=when,
        start=local_start,
        location=_text(event.get("LOCATION"), 500),
        attendees=tuple(attendees),
        more_attendees=max(0, len(raw_attendees) - MAX_ATTENDEES),
        recurrence=recurrence_words(rule) if rule is not None else "",
        description=clean(_text_block(event.get("DESCRIPTION")), max_len=MAX_TEXT),
        status=status,
        notices=tuple(notices),
        raw=data,
    )


def _text_block(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value).replace("\r\n", "\n").strip()


# -- the line-by-line fallback ------------------------------------------------------------------
_LINE = re.compile(r"^([A-Za-z0-9-]+)((?:;[^:]*)?):(.*)$")


def _unescape(value: str) -> str:
    return re.sub(r"\\([nN,;\\])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def _parse_lines(data: bytes, tz: tzinfo, method_hint: str, error: str) -> Invitation:
    """What can be read from a calendar `icalendar` refused: the first event's plain fields."""
    text = data.decode("utf-8", "replace").replace("\r\n", "\n")
    text = re.sub(r"\n[ \t]", "", text)  # unfold
    fields: dict[str, tuple[str, str]] = {}
    attendees: list[Attendee] = []
    method = ""
    depth_event = False
    for line in text.split("\n")[:20_000]:
        m = _LINE.match(line)
        if m is None:
            continue
        name, params, value = m.group(1).upper(), m.group(2), m.group(3)
        if name == "BEGIN" and value.strip().upper() == "VEVENT":
            if depth_event or "SUMMARY" in fields:
                break
            depth_event = True
            continue
        if name == "END" and value.strip().upper() == "VEVENT":
            break
        if name == "METHOD" and not depth_event:
            method = value.strip().upper()
        elif depth_event and name == "ATTENDEE" and len(attendees) < MAX_ATTENDEES:
            cn = re.search(r";CN=\"?([^;:\"]*)", params, re.I)
            ps = re.search(r";PARTSTAT=([A-Za-z-]+)", params, re.I)
            attendees.append(
                Attendee(
                    name=clean_line(cn.group(1), max_len=200) if cn else "",
                    address=_address(value),
                    partstat=(ps.group(1).upper() if ps else "NEEDS-ACTION"),
                )
            )
        elif depth_event and name not in fields:
            fields[name] = (params, value)

    def get(name: str, limit: int = 500) -> str:
        return clean_line(_unescape(fields.get(name, ("", ""))[1]), max_len=limit)

    organizer = None
    if "ORGANIZER" in fields:
        params, value = fields["ORGANIZER"]
        cn = re.search(r";CN=\"?([^;:\"]*)", params, re.I)
        organizer = Attendee(clean_line(cn.group(1), max_len=200) if cn else "", _address(value))
    start_raw = get("DTSTART", 80)
    when = start_raw
    start_value: datetime | None = None
    m = re.fullmatch(r"(\d{8}T\d{6})(Z?)", start_raw)
    if m:
        try:
            start_value = datetime.strptime(m.group(1), "%Y%m%dT%H%M%S")
            if m.group(2):
                start_value = start_value.replace(tzinfo=UTC)
            when, _ = describe_when(start_value, None, "UTC" if m.group(2) else "", tz)
        except ValueError:
            pass
    method = method or _text(method_hint, 20).upper()
    try:
        sequence = int(get("SEQUENCE", 10) or 0)
    except ValueError:
        sequence = 0
    notices = _notices(method, sequence, get("STATUS", 20).upper(), 1)
    notices.append("The calendar is malformed; shown as far as it could be read.")
    notices.append(clean_line(error, max_len=200))
    return Invitation(
        method=method,
        title=get("SUMMARY", 300),
        uid=get("UID"),
        sequence=sequence,
        organizer=organizer,
        when=when,
        start=start_value,
        location=get("LOCATION"),
        attendees=tuple(attendees),
        description=clean(_unescape(fields.get("DESCRIPTION", ("", ""))[1]), max_len=MAX_TEXT),
        status=get("STATUS", 20).upper(),
        notices=tuple(notices),
        raw=data,
        parsed=False,
    )


# -- answering ------------------------------------------------------------------------------------
_REPLY_COPY = ("UID", "SEQUENCE", "RECURRENCE-ID", "DTSTART", "DTEND", "DURATION", "SUMMARY")


def build_reply(
    invitation: Invitation,
    *,
    address: str,
    name: str = "",
    partstat: str,
    comment: str = "",
    now: datetime | None = None,
) -> str:
    """The iTIP REPLY (RFC 5546 3.2.3) to `invitation` from attendee `address`.

    METHOD:REPLY; the event's UID, SEQUENCE (and RECURRENCE-ID, DTSTART, SUMMARY so that
    clients can match and show it); the ORGANIZER; one ATTENDEE, the user, with `partstat`;
    the optional COMMENT; the VTIMEZONEs the copied times refer to. Raises ValueError when the
    invitation cannot be answered.
    """
    import icalendar

    partstat = partstat.upper()
    if partstat not in ("ACCEPTED", "TENTATIVE", "DECLINED"):
        raise ValueError(f"not an answer: {partstat}")
    if not invitation.answerable or not invitation.raw:
        raise ValueError("this calendar cannot be answered")
    original = icalendar.Calendar.from_ical(invitation.raw)
    if isinstance(original, list):
        original = original[0]
    every = list(original.walk("VEVENT"))
    events = [e for e in every if _text(e.get("UID"), 500) == invitation.uid] or every
    masters = [e for e in events if e.get("RECURRENCE-ID") is None]
    if not events or "ORGANIZER" not in events[0] or "UID" not in events[0]:
        raise ValueError("this calendar cannot be answered")
    source = (masters or events)[0]

    reply = icalendar.Calendar()
    reply.add("PRODID", "-//termail//iTIP reply//EN")
    reply.add("VERSION", "2.0")
    reply.add("METHOD", "REPLY")
    zones_used: set[str] = set()
    event = icalendar.Event()
    for key in _REPLY_COPY:
        if key == "DURATION" and "DTEND" in source:
            continue  # RFC 5545: DTEND or DURATION, never both
        if key in source:
            event[key] = source[key]
            tzid = getattr(source[key], "params", {}).get("TZID")
            if tzid:
                zones_used.add(str(tzid))
    if "SEQUENCE" not in event:
        event.add("SEQUENCE", 0)
    event.add("DTSTAMP", now or datetime.now(UTC))
    event["ORGANIZER"] = source["ORGANIZER"]
    attendee = icalendar.vCalAddress(f"mailto:{address}")
    attendee.params["PARTSTAT"] = partstat
    if name:
        attendee.params["CN"] = name
    event.add("ATTENDEE", attendee)
    comment = clean(comment.strip(), max_len=MAX_TEXT)
    if comment:
        event.add("COMMENT", comment)
    for zone in original.walk("VTIMEZONE"):
        if str(zone.get("TZID", "")) in zones_used:
            reply.add_component(zone)
    reply.add_component(event)
    return str(reply.to_ical().decode("utf-8"))


ANSWER_WORDS = {"ACCEPTED": "Accepted", "TENTATIVE": "Tentative", "DECLINED": "Declined"}
