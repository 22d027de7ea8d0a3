"""Deterministic sample data for the widget tests and the demo apps (not shipped)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.mime.types import AttachmentInfo, RenderedMessage, ShownHeader, StyleSpan
from app.models import (
    Address,
    BodyPart,
    Envelope,
    Flag,
    Folder,
    FolderRole,
    FolderStatus,
    MessageSummary,
    SenderCheck,
    Verdict,
)

#: The fixed "now" of every sample: list dates render the same on every day the tests run.
NOW = datetime(2026, 3, 14, 15, 30, tzinfo=UTC)

INJECTION_SUBJECT = "[bold]x[/] [@click=app.quit]"
"""A subject that would be live markup if a widget parsed it."""

HOSTILE_FOLDER = "[@click=app.quit]evil[b] \x1b[2J\u202e"
"""A folder name with markup, a clear-screen sequence and a bidi override (no delimiter)."""

ESC_SUBJECT = "evil \x1b]0;pwned\x07 \x1b[2J title \u202egnp.exe\u202c \x9b31m end"
"""A subject carrying an OSC title change, a clear screen, bidi override and a C1 CSI."""

_NAMES = [
    ("Alice Example", "alice", "example.org"),
    ("Bob Builder", "bob", "builder.test"),
    ("=?utf-8?q?J=C3=BCrgen_M=C3=BCller?=", "juergen", "example.de"),
    ("Carol", "carol", "example.net"),
    (None, "noreply", "service.example"),
    ("王小明", "xiaoming", "example.cn"),
]

_SUBJECTS = [
    "Quarterly report Q4 draft",
    "Re: lunch on Friday?",
    "Invoice 2026-0042",
    "Meeting notes: the new release plan and what we still have to decide before the freeze",
    "Photos from the trip",
    "[team] weekly sync",
]


def summary(uid: int, *, subject: str | None = None, seen: bool | None = None) -> MessageSummary:
    """A varied but deterministic summary for `uid`."""
    name, mailbox, host = _NAMES[uid % len(_NAMES)]
    flags: set[str] = set()
    if seen if seen is not None else uid % 3 != 0:
        flags.add(Flag.SEEN)
    if uid % 7 == 0:
        flags.add(Flag.FLAGGED)
    if uid % 5 == 0:
        flags.add(Flag.ANSWERED)
    when = NOW - timedelta(hours=uid * 9)
    body = BodyPart("1", "text", "plain")
    if uid % 4 == 0:
        body = BodyPart(
            "",
            "multipart",
            "mixed",
            children=[
                BodyPart("1", "text", "plain"),
                BodyPart(
                    "2",
                    "application",
                    "pdf",
                    disposition="attachment",
                    disposition_params={"filename": "report.pdf"},
                ),
            ],
        )
    return MessageSummary(
        uid=uid,
        flags=frozenset(flags),
        envelope=Envelope(
            date=when.strftime("%a, %d %b %Y %H:%M:%S +0000"),
            subject=subject if subject is not None else _SUBJECTS[uid % len(_SUBJECTS)],
            from_=(Address(name, mailbox, host),),
            to=(Address("Demo User", "demo", "localhost"),),
        ),
        size=900 + uid * 1237 % 5_000_000,
        internaldate=when,
        bodystructure=body,
    )


def _spans_for(body: str, pieces: list[tuple[str, str]]) -> list[StyleSpan]:
    spans: list[StyleSpan] = []
    for needle, style in pieces:
        start = body.index(needle)
        spans.append(StyleSpan(start, start + len(needle), style))
    return spans


SAMPLE_BODY = (
    "Hi Demo,\n"
    "\n"
    "Here is the *bold* plan, some /italic/ words and an _underlined_ one.\n"
    "The report is at https://example.org/q4-report [1].\n"
    "\n"
    "Heading of a section\n"
    "\n"
    "> Alice wrote:\n"
    "> Can we meet on Friday?\n"
    "\n"
    "    fixed width table\n"
    "    col a   col b\n"
    "\n"
    "A literal [bold]x[/] [@click=app.quit] stays text.\n"
    "A tab:\there.\n"
    "\n"
    "-- \n"
    "Bob Builder\n"
)


def rendered_message(*, verdict: Verdict = Verdict.FAILED) -> RenderedMessage:
    """A message exercising every part of the viewer, untrusted text included."""
    body = SAMPLE_BODY
    styles = _spans_for(
        body,
        [
            ("*bold*", "bold"),
            ("/italic/", "italic"),
            ("_underlined_", "underline"),
            ("https://example.org/q4-report", "link"),
            ("Heading of a section", "heading"),
            ("> Alice wrote:\n> Can we meet on Friday?", "quote"),
            ("    fixed width table\n    col a   col b", "fixed"),
            ("-- \nBob Builder", "signature"),
        ],
    )
    headers = [
        ShownHeader("From", "Bob Builder <bob@builder.test>"),
        ShownHeader("To", "Demo User <demo@localhost>"),
        ShownHeader("Date", "Fri, 13 Mar 2026 09:12:00 +0000"),
        ShownHeader("Subject", INJECTION_SUBJECT),
    ]
    full = [
        ShownHeader(
            "Received", "from mx.builder.test (mx.builder.test [192.0.2.7]) by mail.localhost"
        ),
        ShownHeader("Received", "from laptop (unknown [198.51.100.3]) by mx.builder.test"),
        ShownHeader("Authentication-Results", "mail.localhost; dkim=fail; spf=softfail"),
        *headers,
        ShownHeader("Message-ID", "<1234@builder.test>"),
    ]
    summaries = {
        Verdict.VERIFIED: ("DKIM signature of builder.test verified", ()),
        Verdict.FAILED: (
            "DKIM signature does not match",
            ("The From domain differs from the signing domain", "Reply-To points elsewhere"),
        ),
        Verdict.UNKNOWN: ("No authentication results", ()),
    }
    summary_text, warnings = summaries[verdict]
    return RenderedMessage(
        headers=headers,
        full_headers=full,
        sender_check=SenderCheck(verdict, summary_text, tuple(warnings)),
        body=body,
        styles=styles,
        links=["https://example.org/q4-report"],
        attachments=[
            AttachmentInfo(
                "2",
                "report [final].pdf",
                "application/pdf",
                48_213,
                "base64",
                description="Q4 report",
            ),
            AttachmentInfo("3", "photo.jpg", "image/jpeg", 1_204_000, "base64"),
        ],
        notices=["Charset guessed as windows-1252"],
        subject=INJECTION_SUBJECT,
        from_display="Bob Builder",
    )


def folders() -> tuple[list[Folder], dict[str, FolderStatus]]:
    """A small account: roles with odd names, a hierarchy, a \\Noselect parent, a hostile name."""
    listed = [
        Folder("INBOX", "INBOX", "/", role=FolderRole.INBOX),
        Folder("Sent Items", "Sent Items", "/", role=FolderRole.SENT),
        Folder("Drafts", "Drafts", "/", role=FolderRole.DRAFTS),
        Folder("Trash", "Trash", "/", role=FolderRole.TRASH),
        Folder("Spam", "Spam", "/", role=FolderRole.JUNK),
        Folder("Archive", "Archive", "/", role=FolderRole.ARCHIVE),
        Folder("Projects", "Projects", "/", frozenset({"\\Noselect", "\\HasChildren"})),
        Folder("Projects/termail", "Projects/termail", "/"),
        Folder("Projects/website", "Projects/website", "/"),
        Folder("Lists/python-dev", "Lists/python-dev", "/"),
        Folder(HOSTILE_FOLDER, HOSTILE_FOLDER, "/"),
    ]
    counts = {
        "INBOX": FolderStatus(messages=120, unseen=3),
        "Sent Items": FolderStatus(messages=40),
        "Drafts": FolderStatus(messages=1),
        "Trash": FolderStatus(messages=7),
        "Spam": FolderStatus(messages=12, unseen=12),
        "Archive": FolderStatus(messages=1900),
        "Projects/termail": FolderStatus(messages=55, unseen=2),
        "Projects/website": FolderStatus(messages=9),
        "Lists/python-dev": FolderStatus(messages=4500, unseen=120),
    }
    return listed, counts
