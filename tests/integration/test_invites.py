"""An invitation's answer takes the normal send path: outbox on a 4xx, retried from there."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest

from app.account import Account
from app.actions.invites import answer_draft, answer_identity, send_answer
from app.mime.calendar import parse_invitation
from app.models import TlsMode
from app.sandbox.demo import invitation_ics
from app.smtp.sending import account_outbox, flush_outbox
from tests.ui.test_compose_sandbox import fetch_inbox

pytestmark = pytest.mark.integration


async def test_answer_waits_in_the_outbox_after_a_temporary_failure(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    organizer = sandbox.add_user(mail_user.name + "o")
    sandbox.force_smtp_reply(451, recipient=organizer.address, times=1)
    creds = mail_user.credentials()
    account = Account(
        mail_user.name,
        mail_user.imap_settings(TlsMode.IMPLICIT),
        lambda: creds,
        smtp=mail_user.smtp_settings(TlsMode.STARTTLS),
        addresses=[mail_user.address],
        data_dir=tmp_path,
    )
    ics = invitation_ics(organizer=organizer.address, attendee=mail_user.address, sequence=4)
    inv = parse_invitation(ics.encode(), tz=ZoneInfo("UTC"))
    assert inv is not None
    identity, invited = answer_identity(account, inv)
    assert invited and identity.address == mail_user.address
    draft = answer_draft(inv, "TENTATIVE", identity=identity)
    await account.connect()
    try:
        await account.load_folders()
        outcome = await send_answer(account, draft, original_uid=None, original_folder=None)
        assert outcome.queued and not outcome.sent, outcome.message
        outbox = account_outbox(account)
        [entry] = outbox.list()
        queued = email.message_from_bytes(outbox.message(entry.id), policy=email.policy.default)
        [part] = [p for p in queued.walk() if p.get_content_type() == "text/calendar"]
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        event = icalendar.Calendar.from_ical(payload).walk("VEVENT")[0]
        assert event["ATTENDEE"].params["PARTSTAT"] == "TENTATIVE"
        assert int(event["SEQUENCE"]) == 4
        outbox.retry_now(entry.id)
        attempts = await flush_outbox(account)
        assert attempts and outbox.list() == []
    finally:
        await account.close()
    # Delivered by LMTP before the server's 250: it is in the organizer's INBOX now.
    assert len(fetch_inbox(organizer, "Tentative")) == 1
