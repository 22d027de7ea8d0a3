"""Bounce (remail) a message: RFC 5322 §3.6.6 Resent-* fields on top, the rest unchanged.

mutt's `bounce-message`. The original bytes go out as they are, with a Resent-From / Resent-To /
Resent-Date / Resent-Message-ID block prepended; the envelope goes to the new recipients only
(never to the original's To/Cc). A transient failure leaves it in the outbox like any mail.
"""

from __future__ import annotations

import email.policy
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from app.mime.compose import (
    Identity,
    InvalidAddressError,
    format_address,
    split_address,
    split_addresses,
)
from app.models import Credentials
from app.smtp.sending import BytesSender, SendOutcome, account_outbox, describe_error
from app.smtp.submit import SmtpError, SmtpRecipientsRefused, send_bytes

__all__ = ["BounceRequest", "bounce", "bounce_bytes", "parse_bounce_addresses", "resent_block"]


@dataclass(frozen=True, slots=True)
class BounceRequest:
    """Checked recipients: their display forms (for Resent-To) and bare addresses (envelope)."""

    shown: list[str]
    addresses: list[str]


def parse_bounce_addresses(text: str) -> BounceRequest:
    """The typed list, each entry checked; InvalidAddressError names the first bad one."""
    entries = split_addresses(text)
    if not entries:
        raise InvalidAddressError("no address given")
    shown: list[str] = []
    addresses: list[str] = []
    for entry in entries:
        name, address = split_address(entry)
        if address.lower() in (a.lower() for a in addresses):
            continue
        shown.append(format_address(name, address))
        addresses.append(address)
    return BounceRequest(shown, addresses)


def _line_end(raw: bytes) -> bytes:
    first = raw.find(b"\n")
    return b"\r\n" if first > 0 and raw[first - 1 : first] == b"\r" else b"\n"


def resent_block(
    sender: Identity,
    recipients: Sequence[str],
    *,
    date: datetime | None = None,
    message_id: str | None = None,
    linesep: str = "\r\n",
) -> bytes:
    """The Resent-* header lines (encoded and folded as any header we write), ending in linesep."""
    msg = EmailMessage(policy=email.policy.SMTP.clone(linesep=linesep, max_line_length=78))
    domain = sender.address.rpartition("@")[2] or "localhost"
    msg["Resent-From"] = format_address(sender.name, sender.address)
    msg["Resent-To"] = ", ".join(recipients)
    msg["Resent-Date"] = format_datetime(date or datetime.now().astimezone())
    msg["Resent-Message-ID"] = message_id or make_msgid(domain=domain)
    data = msg.as_bytes()
    # Only headers were set: the generator ends them with an empty line, dropped here.
    return data[: -len(linesep)] if data.endswith(linesep.encode() * 2) else data


def bounce_bytes(
    raw: bytes,
    sender: Identity,
    recipients: Sequence[str],
    *,
    date: datetime | None = None,
    message_id: str | None = None,
) -> bytes:
    """`raw` with the Resent-* block in front, in the line ends `raw` already uses."""
    linesep = _line_end(raw).decode()
    return resent_block(sender, recipients, date=date, message_id=message_id, linesep=linesep) + raw


async def bounce(
    account: Any,
    raw: bytes,
    request: BounceRequest,
    *,
    sender: BytesSender | None = None,
) -> SendOutcome:
    """Send the bounced copy through the account's SMTP server; 4xx: queued in the outbox."""
    settings = getattr(account, "smtp_settings", None)
    if settings is None:
        return SendOutcome(False, False, "No SMTP server is configured for this account.")
    credentials = account.smtp_credentials() or Credentials(username=settings.user)
    chosen = account.identity_for([])
    identity = (
        Identity(chosen.name, chosen.address)
        if chosen is not None
        else Identity("", account.addresses[0] if account.addresses else "")
    )
    if not identity.address:
        return SendOutcome(False, False, "No sender address is configured for this account.")
    data = bounce_bytes(raw, identity, request.shown)
    envelope_from = identity.address
    send = sender or send_bytes
    try:
        result = await send(data, envelope_from, request.addresses, settings, credentials)
    except SmtpError as exc:
        if not exc.transient:
            return SendOutcome(False, False, describe_error(exc), error=exc)
        rcpts = list(exc.refused) if isinstance(exc, SmtpRecipientsRefused) else request.addresses
        outbox = account_outbox(account)
        entry = outbox.add(data, envelope_from, rcpts, account.name, sent_copy_filed=True)
        outbox.mark_attempt(entry, exc, permanent=False)
        return SendOutcome(
            False,
            True,
            f"Not bounced yet ({exc}): kept in the outbox and retried automatically.",
            error=exc,
        )
    count = len(result.accepted)
    text = f"Bounced to {count} recipient{'s' if count != 1 else ''}."
    if result.refused:
        listing = "; ".join(f"{r}: {c} {t}" for r, (c, t) in result.refused.items())
        text += f" Refused: {listing}."
        retry = [r for r, (c, _) in result.refused.items() if 400 <= c < 500]
        if retry:
            outbox = account_outbox(account)
            entry = outbox.add(data, envelope_from, retry, account.name, sent_copy_filed=True)
            outbox.mark_attempt(entry, f"refused: {listing}", permanent=False)
    return SendOutcome(True, False, text)
