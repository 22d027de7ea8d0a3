"""Invitations at the user level: find and read a message's calendar, answer it.

The screen calls these from workers and shows the typed results; nothing here knows about the
UI. An answer is a normal message (a text part and the iTIP REPLY as a text/calendar
alternative, RFC 6047) sent to the organizer through `app.smtp.sending.send_draft`, so it takes the
outbox on a temporary failure and leaves a copy in Sent like any other mail.
"""

from __future__ import annotations

import asyncio
from typing import Any

from app.mime.calendar import (
    ANSWER_WORDS,
    MAX_CALENDAR_BYTES,
    Invitation,
    build_reply,
    calendar_part,
    parse_invitation,
    user_timezone,
)
from app.mime.compose import Draft, Identity
from app.models import BodyPart

__all__ = ["answer_draft", "answer_identity", "load_invitation", "send_answer"]


def _param(part: BodyPart, name: str) -> str:
    for key, value in part.params.items():
        if key.lower() == name:
            return str(value)
    return ""


async def load_invitation(account: Any, uid: int, structure: BodyPart | None) -> Invitation | None:
    """The invitation of message `uid` (None when it has no calendar part).

    Only the calendar part is fetched, and only when it is small enough to be one.
    """
    if structure is None:
        return None
    part = calendar_part(structure)
    if part is None:
        return None
    method = _param(part, "method").upper()
    if part.size > 2 * MAX_CALENDAR_BYTES:  # encoded size: base64 is 4/3 of it
        return Invitation(
            method=method,
            notices=(f"The calendar is too large to show ({part.size // 1024} KB).",),
            parsed=False,
        )
    data: bytes = await account.fetch_attachment(uid, part.part_id, part.encoding, text=True)
    return await asyncio.to_thread(parse_invitation, data, tz=user_timezone(), method_hint=method)


def answer_draft(
    invitation: Invitation,
    partstat: str,
    *,
    identity: Identity,
    comment: str = "",
    subject: str = "",
    message_id: str = "",
) -> Draft:
    """The answer as a draft to the organizer: a short text and the iTIP REPLY.

    Raises ValueError when the invitation cannot be answered (no organizer, not a REQUEST,
    a calendar that does not parse).
    """
    if not invitation.answerable or invitation.organizer is None:
        raise ValueError("This invitation cannot be answered.")
    partstat = partstat.upper()
    word = ANSWER_WORDS.get(partstat)
    if word is None:
        raise ValueError(f"Not an answer: {partstat}")
    ics = build_reply(
        invitation,
        address=identity.address,
        name=identity.name,
        partstat=partstat,
        comment=comment,
    )
    title = invitation.title or subject or "(no title)"
    who = identity.name or identity.address
    body = f"{who} has {'answered tentatively to' if partstat == 'TENTATIVE' else word.lower()}"
    body += f" the invitation: {title}\n"
    if invitation.when:
        body += f"When: {invitation.when}\n"
    if comment.strip():
        body += "\n" + comment.strip() + "\n"
    return Draft(
        from_=identity,
        to=[invitation.organizer.address],
        subject=f"{word}: {title}",
        body=body,
        in_reply_to=message_id or None,
        references=[message_id] if message_id else [],
        calendar=("REPLY", ics),
    )


def answer_identity(account: Any, invitation: Invitation) -> tuple[Identity, bool]:
    """Who answers: the attendee that is one of the user's addresses (True), else the
    account's identity for the message (False: the organizer did not invite this address)."""
    own = list(getattr(account, "addresses", []) or [])
    attendee = invitation.attendee_for(own)
    chosen = account.identity_for([attendee.address] if attendee else [])
    if attendee is not None:
        name = chosen.name if chosen is not None else attendee.name
        return Identity(name or "", attendee.address), True
    if chosen is not None:
        return Identity(chosen.name, chosen.address), False
    return Identity("", own[0] if own else ""), False


async def send_answer(
    account: Any,
    draft: Draft,
    *,
    original_uid: int | None,
    original_folder: str | None,
    sender: Any = None,
) -> Any:
    """Send the answer through the normal send path; returns its `SendOutcome`."""
    from app.smtp.sending import send_draft

    return await send_draft(
        account,
        draft,
        original_uid=original_uid,
        original_folder=original_folder,
        mode="reply",
        sender=sender,
    )
