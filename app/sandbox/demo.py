"""The demo mailbox: a few hundred varied messages in a nested folder tree.

Built with the stdlib's email package so every message is well formed where it should be; the
lecture's four messages are included as they are (some are deliberately odd).
"""

from __future__ import annotations

import random
import struct
import zlib
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from importlib import resources
from typing import TYPE_CHECKING

from app.sandbox.seed import generate

if TYPE_CHECKING:
    from app.sandbox.server import Sandbox

DEMO_USER = "demo"
DEMO_PASSWORD = "demo"
FRIEND_USER = "friend"
FRIEND_PASSWORD = "friend"

FOLDERS = [
    "Projects",
    "Projects/2026",
    "Projects/2026/Q4",
    "Projects/2025",
    "Lists",
    "Lists/textual",
    "Lists/python-dev",
    "Receipts",
]

NOW = datetime(2026, 11, 28, 9, 30, tzinfo=UTC)


DATA = "termail-data"
"""The demo accounts' data folder inside the demo's folder (`app.main.demo_data_dir`)."""


def png_bytes(width: int = 32, height: int = 32) -> bytes:
    """A small valid PNG (a colour gradient), made without any imaging library."""
    raw = b"".join(
        b"\x00" + b"".join(bytes((x * 8 % 256, y * 8 % 256, 160)) for x in range(width))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def pdf_bytes(title: str) -> bytes:
    """A one-page PDF saying `title` (ASCII)."""
    text = title.encode("ascii", "replace")
    stream = b"BT /F1 24 Tf 72 720 Td (" + text + b") Tj ET"
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for n, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def _base(
    subject: str, sender: str, when: datetime, to: str = "Demo User <demo@localhost>"
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = make_msgid(domain="demo.example")
    return msg


def _thread(rng: random.Random, start: datetime) -> list[tuple[EmailMessage, str]]:
    """A four-message discussion with proper In-Reply-To and References."""
    people = ["Ana García <ana@example.org>", "Jürgen Müller <juergen@example.de>",
              "Demo User <demo@localhost>", "Mei Tanaka <mei@example.jp>"]  # fmt: skip
    subject = "Release plan for termail 1.0"
    out: list[tuple[EmailMessage, str]] = []
    refs: list[str] = []
    for k in range(4):
        msg = _base(("Re: " if k else "") + subject, people[k], start + timedelta(hours=k * 3))
        body = f"Point {k + 1}: we should ship the message list first.\n"
        if out:
            prev = out[-1][0]
            msg["In-Reply-To"] = prev["Message-ID"]
            msg["References"] = " ".join(refs)
            quoted = "\n".join("> " + line for line in prev.get_content().splitlines())
            body += f"\nOn {prev['Date']}, {prev['From']} wrote:\n{quoted}\n"
        refs.append(msg["Message-ID"])
        msg.set_content(body)
        out.append((msg, "S" if k < 3 else ""))
    return out


def invitation_ics(
    *,
    uid: str = "weekly-sync-2026@demo.example",
    organizer: str = "friend@localhost",
    attendee: str = "demo@localhost",
    sequence: int = 0,
    method: str = "REQUEST",
) -> str:
    """A weekly meeting planned in New York (10 Tuesdays at 10:00 America/New_York)."""
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//termail demo//EN", f"METHOD:{method}",
        "BEGIN:VTIMEZONE", "TZID:America/New_York",
        "BEGIN:STANDARD", "DTSTART:19701101T020000", "RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU",
        "TZOFFSETFROM:-0400", "TZOFFSETTO:-0500", "TZNAME:EST", "END:STANDARD",
        "BEGIN:DAYLIGHT", "DTSTART:19700308T020000", "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU",
        "TZOFFSETFROM:-0500", "TZOFFSETTO:-0400", "TZNAME:EDT", "END:DAYLIGHT",
        "END:VTIMEZONE",
        "BEGIN:VEVENT", f"UID:{uid}", f"SEQUENCE:{sequence}", "DTSTAMP:20261127T120000Z",
        "DTSTART;TZID=America/New_York:20261201T100000",
        "DTEND;TZID=America/New_York:20261201T103000",
        "RRULE:FREQ=WEEKLY;BYDAY=TU;COUNT=10",
        "SUMMARY:Weekly termail sync", "LOCATION:Video call (link in the description)",
        "DESCRIPTION:Status of the release\\, open issues\\, next steps.\\nhttps://meet.example/termail",
        f"ORGANIZER;CN=Friend:mailto:{organizer}",
        f"ATTENDEE;CN=Friend;PARTSTAT=ACCEPTED;ROLE=CHAIR:mailto:{organizer}",
        f"ATTENDEE;CN=Demo User;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:{attendee}",
        "ATTENDEE;CN=Mei Tanaka;PARTSTAT=TENTATIVE:mailto:mei@example.jp",
        "END:VEVENT", "END:VCALENDAR",
    ]  # fmt: skip
    return "\r\n".join(lines) + "\r\n"


def invitation_message(
    when: datetime = NOW,
    *,
    organizer: str = "friend@localhost",
    attendee: str = "demo@localhost",
    sequence: int = 0,
) -> EmailMessage:
    """An iMIP invitation (RFC 6047): text, and the calendar as its alternative."""
    msg = _base("Invitation: Weekly termail sync", f"Friend <{organizer}>", when, to=attendee)
    msg.set_content("You are invited to the weekly termail sync, Tuesdays 10:00 New York time.\n")
    ics = invitation_ics(organizer=organizer, attendee=attendee, sequence=sequence)
    msg.add_alternative(ics, subtype="calendar", params={"method": "REQUEST"})
    return msg


def list_message(
    when: datetime = NOW,
    *,
    post: str = "friend@localhost",
    unsubscribe: str = "<mailto:friend@localhost?subject=unsubscribe>",
    one_click: bool = False,
    subject: str = "[textual-users] Line API question",
) -> EmailMessage:
    """A message from a mailing list with List-Id, List-Post and List-Unsubscribe."""
    msg = _base(subject, "Ana García <ana@example.org>", when, to=f"Textual users <{post}>")
    msg["List-Id"] = "Textual users <textual-users.lists.example>"
    msg["List-Post"] = f"<mailto:{post}>"
    msg["List-Unsubscribe"] = unsubscribe
    if one_click:
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content("How do I draw a million rows without lag?\n\nAna\n")
    return msg


def build_messages() -> dict[str, list[tuple[bytes, str, float]]]:
    """Folder name -> list of (message bytes, Maildir flags, date timestamp)."""
    rng = random.Random(2026)
    folders: dict[str, list[tuple[bytes, str, float]]] = {name: [] for name in ["INBOX", *FOLDERS]}

    def add(folder: str, msg: EmailMessage | bytes, flags: str, when: datetime) -> None:
        data = msg if isinstance(msg, bytes) else msg.as_bytes()
        folders[folder].append((data, flags, when.timestamp()))

    # The lecture's four messages, as they are.
    data_dir = resources.files("app.sandbox") / "data"
    for k, name in enumerate(sorted(p.name for p in data_dir.iterdir() if p.name.endswith(".eml"))):
        add("INBOX", (data_dir / name).read_bytes(), "", NOW - timedelta(days=30 - k))

    # Generated everyday mail: 240 in INBOX, some in lists and projects.
    base = NOW
    for i in range(240):
        data, flags, ts = generate(99_000 + i, rng, base)
        folders["INBOX"].append((data, flags, ts))
    for i in range(60):
        data, flags, ts = generate(98_000 + i, rng, base)
        folders["Lists/textual" if i % 2 else "Lists/python-dev"].append((data, flags, ts))

    # An invitation (organizer in New York, weekly) and two mailing-list messages.
    add("INBOX", invitation_message(NOW - timedelta(minutes=20)), "", NOW - timedelta(minutes=20))
    add("INBOX", list_message(NOW - timedelta(minutes=40)), "", NOW - timedelta(minutes=40))
    one_click = list_message(
        NOW - timedelta(minutes=50),
        unsubscribe="<https://lists.example.invalid/unsubscribe?u=demo>",
        one_click=True,
        subject="[textual-users] Weekly digest",
    )
    add("INBOX", one_click, "S", NOW - timedelta(minutes=50))

    # A discussion thread.
    for msg, flags in _thread(rng, NOW - timedelta(days=2)):
        add("INBOX", msg, flags, msg["Date"].datetime)

    # HTML-only newsletter, with a remote image that must never be fetched.
    html = _base("Textual weekly: 5 tips for virtual lists", "Textual News <news@textual.example>",
                 NOW - timedelta(hours=5))  # fmt: skip
    html.set_content(
        "<html><head><style>p{color:red}</style><script>alert(1)</script></head><body>"
        "<h1>Textual weekly</h1><p>Use the <b>Line API</b> for <i>big</i> lists.</p>"
        "<ul><li>Tip one</li><li>Tip two</li></ul>"
        '<p><a href="https://textual.textualize.io/">Read more</a></p>'
        '<img src="https://tracker.example/pixel.gif" alt="tracker"></body></html>',
        subtype="html",
    )
    add("Lists/textual", html, "", NOW - timedelta(hours=5))

    # multipart/alternative.
    alt = _base("Café opening — you're invited ☕", "Chloé Dubois <chloe@example.fr>",
                NOW - timedelta(hours=30))  # fmt: skip
    alt.set_content("Bonjour !\n\nThe café opens on Friday. Crème brûlée for everyone.\n")
    alt.add_alternative("<p>Bonjour !</p><p>The <b>café</b> opens on Friday.</p>", subtype="html")
    add("INBOX", alt, "", NOW - timedelta(hours=30))

    # Attachments: PDF, PNG, text, a 5 MB file.
    att = _base("Q4 report with figures", "Olga Ivanova <olga@example.ru>", NOW - timedelta(days=1))
    att.set_content("Hi,\n\nthe Q4 report and the chart are attached.\n\nOlga\n")
    att.add_attachment(pdf_bytes("Q4 report"), maintype="application", subtype="pdf",
                       filename="Q4-report.pdf")  # fmt: skip
    att.add_attachment(png_bytes(), maintype="image", subtype="png", filename="chart.png")
    att.add_attachment("a,b\n1,2\n3,4\n", subtype="csv", filename="numbers.csv")
    add("Projects/2026/Q4", att, "F", NOW - timedelta(days=1))

    big = _base("Dataset (5 MB)", "Hiroshi Kim <hiroshi@example.kr>", NOW - timedelta(days=3))
    big.set_content("The full dataset is attached. Don't open it on a phone.\n")
    big.add_attachment(rng.randbytes(5 * 1024 * 1024), maintype="application",
                       subtype="octet-stream", filename="dataset.bin")  # fmt: skip
    add("Projects/2026", big, "S", NOW - timedelta(days=3))

    # Non-ASCII names and subjects in several charsets.
    for charset, subject, name, text in [
        ("iso-8859-1", "Réunion à propos du budget", "Søren Andersen", "Voilà le résumé."),
        ("koi8-r", "Привет из Москвы", "Ольга Иванова", "Всё хорошо."),
        ("shift_jis", "会議の議事録", "田中 浩", "よろしくお願いします。"),
        ("gb2312", "中文 邮件 测试", "王 伟", "你好，世界。"),
        ("utf-8", "Zażółć gęślą jaźń 🎉", "Łukasz Nowak", "Wszystko działa."),
    ]:
        msg = _base(
            subject, f"{name} <intl@example.net>", NOW - timedelta(hours=rng.randrange(100))
        )
        msg.set_content(text + "\n", charset=charset)
        add("INBOX", msg, "" if charset != "utf-8" else "S", NOW - timedelta(hours=50))

    # Flagged, answered and old project mail.
    for k in range(20):
        msg = _base(f"Project note {k}", "Walter Rossi <walter@example.it>",
                    NOW - timedelta(days=400 + k))  # fmt: skip
        msg.set_content(f"Note {k}: archived project details.\n")
        add("Projects/2025", msg, "S" + ("F" if k % 5 == 0 else "") + ("R" if k % 3 == 0 else ""),
            NOW - timedelta(days=400 + k))  # fmt: skip
    for k in range(10):
        msg = _base(
            f"Receipt #{1000 + k}", "Shop <billing@shop.example>", NOW - timedelta(days=k * 7)
        )
        msg.set_content(f"Total: {9.99 * (k + 1):.2f} EUR\n")
        add("Receipts", msg, "S", NOW - timedelta(days=k * 7))
    return folders


def load_demo(sandbox: Sandbox, user: str | None = None) -> None:
    """Fill `user`'s folders with the demo mailbox (by default: create the demo users)."""
    if user is None:
        user = DEMO_USER
        if DEMO_USER not in sandbox.users:
            sandbox.add_user(DEMO_USER, DEMO_PASSWORD)
        if FRIEND_USER not in sandbox.users:
            sandbox.add_user(FRIEND_USER, FRIEND_PASSWORD)
    for folder, messages in build_messages().items():
        sandbox.ensure_maildir(user, folder)
        for data, flags, ts in messages:
            sandbox.deliver(user, data, folder, flags or "", when=ts)
