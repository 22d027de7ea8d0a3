"""Typed recipients explained, UTF-8 local parts (RFC 6531/6532), IDNA 2008 domains, replies free
of bidi and invisible characters, the reply's cursor line, and the send path when the outbox
cannot keep a message (issue 20 items 1, 5, 11; issue 13 item 7)."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path
from typing import Any

import pytest

from app.mime.compose import (
    Draft,
    Identity,
    address_problems,
    build_message,
    envelope_recipients,
    forward,
    message_bytes,
    reply,
    reply_cursor_line,
    strip_invisible,
)
from app.models import Credentials, ServerSettings, TlsMode
from app.smtp.outbox import Outbox, OutboxError
from app.smtp.sending import NotQueuedError, send_draft, submit
from app.smtp.submit import SendResult, SmtpConnectError, SmtpError

ME = Identity("Me", "me@example.org")


@pytest.mark.parametrize(
    ("typed", "words"),
    [
        ("demo", "no @"),
        ("foo@", "nothing after the @"),
        ("@example.org", "nothing before the @"),
        ("Name <broken", "'<' without a closing '>'"),
        ("a b@example.org", "space"),
        ("a@b@example.org", "more than one @"),
        ("x@💩.la", "not a valid internationalised domain name"),
        ("zo\u200be@example.org", "invisible"),
        ("a\u202e@example.org", "invisible"),
    ],
)
def test_each_bad_entry_is_explained_in_words(typed: str, words: str) -> None:
    problems = address_problems(f"ok@example.org, {typed}")
    assert [entry for entry, _ in problems] == [typed]
    assert words in problems[0][1]


def test_an_unclosed_bracket_does_not_swallow_the_next_addresses() -> None:
    problems = address_problems("Name <broken, jörg@bücher.de, ann@straße.de")
    assert problems == [("Name <broken", "'<' without a closing '>'")]
    draft = Draft(ME, to=['"Doe, J" <j@x.org>', "k@x.org"], body="x")
    assert envelope_recipients(draft) == ["j@x.org", "k@x.org"]


@pytest.mark.parametrize(
    "typed",
    ["", "a@example.org", "Zoë <zoe@bücher.de>", '"Doe, J" <j@x.org>', "jörg@example.org"],
)
def test_good_entries_have_no_problem(typed: str) -> None:
    assert address_problems(typed) == []


def test_idna_2008_keeps_sharp_s() -> None:
    # IDNA 2003 (the stdlib codec) maps ß to ss: strasse.de is someone else's domain.
    draft = Draft(ME, to=["a@straße.de", "b@bücher.de"], body="x")
    assert envelope_recipients(draft) == ["a@xn--strae-oqa.de", "b@xn--bcher-kva.de"]


def test_utf8_local_part_gets_utf8_headers() -> None:
    draft = Draft(ME, to=["Jörg <jörg@bücher.de>"], subject="Grüße", body="hi\n")
    assert envelope_recipients(draft) == ["jörg@xn--bcher-kva.de"]
    data = message_bytes(build_message(draft, message_id_domain="example.org"))
    assert "To: Jörg <jörg@xn--bcher-kva.de>\r\n".encode() in data  # RFC 6532, no encoded word
    msg = email.message_from_string(data.decode("utf-8"), policy=email.policy.default)
    assert msg["To"].addresses[0].username == "jörg"


def test_ascii_mail_stays_7bit() -> None:
    draft = Draft(ME, to=["Zoë <zoe@bücher.de>"], subject="Grüße", body="hi\n")
    assert message_bytes(build_message(draft, message_id_domain="example.org")).isascii()


HOSTILE = (
    "From: \u202eevil\u202c Name <evil@example.org>\r\n"
    "To: me@example.org, \u200bbob\u200b <bob@example.org>\r\n"
    "Subject: pay \u202egpj.exe\u202c now\u200b\r\n"
    "Message-ID: <1@example.org>\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "\r\n"
    "Open invoice\u202etxt.exe\u202c please\u2066 \u2060\ufeffnow\r\n"
).encode()

BIDI_AND_INVISIBLE = "\u202e\u202c\u2066\u200b\u2060\ufeff"


def test_reply_strips_bidi_and_invisible_everywhere() -> None:
    draft = reply(HOSTILE, ME, reply_all=True, own_addresses=["me@example.org"])
    everything = " ".join([*draft.to, *draft.cc, draft.subject, draft.body])
    assert not any(ch in everything for ch in BIDI_AND_INVISIBLE)
    assert draft.subject == "Re: pay gpj.exe now"
    assert "> Open invoicetxt.exe please now" in draft.body
    assert draft.to[0] == "evil Name <evil@example.org>"
    sent = message_bytes(build_message(draft, message_id_domain="example.org"))
    decoded = email.message_from_bytes(sent, policy=email.policy.default)
    text = str(decoded["Subject"]) + str(decoded["To"]) + decoded.get_content()
    assert not any(ch in text for ch in BIDI_AND_INVISIBLE)


def test_forward_strips_them_too() -> None:
    draft = forward(HOSTILE, ME)
    assert not any(ch in draft.subject + draft.body for ch in BIDI_AND_INVISIBLE)


def test_strip_invisible_keeps_ordinary_text() -> None:
    assert strip_invisible("Grüße, 你好 — ok") == "Grüße, 你好 — ok"


ORIGINAL = (
    b"From: Ann <ann@example.org>\r\nTo: me@example.org\r\nSubject: plan\r\n"
    b"Date: Thu, 05 Nov 2026 10:00:00 +0000\r\nMessage-ID: <p@example.org>\r\n\r\nLunch?\r\n"
)


def test_bottom_reply_cursor_is_on_its_own_line_below_the_quote() -> None:
    draft = reply(ORIGINAL, ME)
    lines = draft.body.split("\n")
    row = reply_cursor_line(draft.body)
    assert lines[row] == ""
    assert lines[row - 1] == ""  # a blank line between the quote and the answer
    assert lines[row - 2] == "> Lunch?"
    assert lines[0].startswith("On ") and lines[0].endswith("Ann wrote:")


def test_top_reply_cursor_is_above_the_attribution() -> None:
    draft = reply(ORIGINAL, ME, position="top")
    lines = draft.body.split("\n")
    assert reply_cursor_line(draft.body, "top") == 0
    assert lines[0] == "" and lines[1] == ""
    assert lines[2].endswith("Ann wrote:") and lines[3] == "> Lunch?"


# -- the send path when the outbox cannot keep the message (issue 20 item 5) -------------------


SETTINGS = ServerSettings(
    host="127.0.0.1", port=1, user="me", tls=TlsMode.NONE, allow_insecure=True
)


async def refuse_451(*args: Any) -> SendResult:
    raise SmtpError("4.3.0 try later", 451)


class FullOutbox(Outbox):
    """An outbox on a disk with no room left (the tmpfs test does it for real)."""

    def add(self, *args: Any, **kwargs: Any) -> str:
        raise OutboxError("cannot write outbox entry x: [Errno 28] No space left on device")


async def test_submit_raises_not_queued_when_the_outbox_is_full(tmp_path: Path) -> None:
    draft = Draft(ME, to=["a@example.org"], subject="s", body="b")
    with pytest.raises(NotQueuedError) as caught:
        await submit(
            draft,
            settings=SETTINGS,
            credentials=Credentials(username="me"),
            outbox=FullOutbox(tmp_path),
            account="me",
            sender=refuse_451,
        )
    assert "No space left" in str(caught.value.outbox_error)
    assert "451" in str(caught.value.smtp_error)


class FakeAccount:
    """The little of Account that send_draft reads before it submits."""

    name = "me"
    smtp_settings = SETTINGS

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def smtp_credentials(self) -> Credentials:
        return Credentials(username="me")


async def test_send_draft_reports_instead_of_raising(tmp_path: Path) -> None:
    draft = Draft(ME, to=["a@example.org"], subject="s", body="b")
    outcome = await send_draft(
        FakeAccount(tmp_path), draft, outbox=FullOutbox(tmp_path), sender=refuse_451
    )
    assert not outcome.sent and not outcome.queued
    assert "No space left" in outcome.message and "451" in outcome.message
    assert "still here" in outcome.message


async def test_send_draft_without_any_outbox_folder_still_reports(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    account = FakeAccount(blocker)  # the outbox cannot even be created under a file

    async def lost(*args: Any) -> SendResult:
        raise SmtpConnectError("connection lost")

    outcome = await send_draft(account, Draft(ME, to=["a@example.org"], body="b"), sender=lost)
    assert not outcome.sent and not outcome.queued
    assert "could not be kept in the outbox" in outcome.message


async def test_partly_sent_names_who_was_not_reached(tmp_path: Path) -> None:
    async def half(data: bytes, sender: str, rcpts: Any, *args: Any) -> SendResult:
        return SendResult(accepted=["a@example.org"], refused={"b@example.org": (451, "later")})

    draft = Draft(ME, to=["a@example.org", "b@example.org"], body="b")
    account = FakeAccount(tmp_path)
    account.folder_by_role = lambda role: None  # type: ignore[attr-defined]
    outcome = await send_draft(account, draft, outbox=FullOutbox(tmp_path), sender=half)
    assert outcome.sent and outcome.unreached == ("b@example.org",)
    assert "outbox could not" in outcome.message


class NoteFailsOutbox(Outbox):
    """The retry's note cannot be written (disk full): the entry itself is on disk already."""

    def mark_attempt(self, *args: Any, **kwargs: Any) -> Any:
        raise OutboxError("cannot write outbox entry: [Errno 28] No space left on device")


async def test_a_retry_on_a_full_disk_keeps_the_entry_and_reports(tmp_path: Path) -> None:
    from app.smtp.outbox import process

    outbox = NoteFailsOutbox(tmp_path)
    entry_id = outbox.add(b"Subject: x\r\n\r\nkept\r\n", "me@example.org", ["a@b.org"], "me")

    async def refuse(entry: Any, data: bytes) -> SendResult:
        raise SmtpError("4.3.0 try later", 451)

    attempts = await process(outbox, refuse)  # raised OutboxError before
    assert [a.status for a in attempts] == ["retry"]
    assert "No space left" in (attempts[0].error or "")
    assert outbox.message(entry_id) == b"Subject: x\r\n\r\nkept\r\n"
