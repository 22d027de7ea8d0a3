"""Undo send: a sent message waits `send_delay` seconds in the outbox before it goes out.

`hold` builds the message exactly as a send would and writes it to the outbox (fsynced, the
outbox's never-lose guarantee) with `next_try` at the end of the delay, before any countdown is
shown. Then one of three things happens to the entry, each under the outbox's lock, so the
message is sent at most once and never lost:

- `take_back`: the user pressed `u`; the entry is removed and the `Draft` (kept in memory,
  attachments, identity and recipients included) goes back into compose.
- `release`: the countdown ended (or "send now" at quit); the entry is sent like any outbox
  entry (Sent copy, then the original flagged and a server Drafts copy removed). A 4xx leaves it
  in the outbox with the usual backoff; a 5xx leaves it there marked failed, with the words.
- termail stops (quit "keep in outbox", a crash, SIGKILL): the entry stays on disk, due once
  its time has passed, and the next run's outbox flush sends it (or shows it in `O`).

UI-free; the App's side is `app.screens.undo_send_actions`.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

from app.mime.compose import Draft, build_message, envelope_recipients, message_bytes, split_address
from app.models import Credentials, Flag, FolderRole
from app.smtp.outbox import Attempt, OutboxEntry, process
from app.smtp.sending import (
    BytesSender,
    SendOutcome,
    _in_folder,
    _is_current,
    _remove_server_copy,
    account_outbox,
    file_sent_copy,
    mark_original,
)
from app.smtp.submit import SendResult, send_bytes

__all__ = ["HeldSend", "delay_for", "hold", "release", "take_back"]

DEFAULT_DELAY = 10.0


def delay_for(account: Any, ui: Any) -> float:
    """The account's `send_delay`, else `[ui] send_delay`; 0 without a configuration (tests
    and the demo build the App without one)."""
    own = getattr(account, "send_delay", None)
    if isinstance(own, (int, float)) and not isinstance(own, bool):
        return max(0.0, float(own))
    if ui is None:
        return 0.0
    value = getattr(ui, "send_delay", DEFAULT_DELAY)
    return max(0.0, float(value)) if isinstance(value, (int, float)) else DEFAULT_DELAY


@dataclass(slots=True)
class HeldSend:
    """A message waiting out its delay: its outbox entry, and what is needed to take it back
    into compose or to finish the send."""

    account: Any
    entry_id: str
    draft: Draft
    deadline: float
    """time.time() at which it is sent."""
    mode: str = "new"
    original_uid: int | None = None
    original_folder: str | None = None
    recipients: tuple[str, ...] = ()
    data: bytes = field(default=b"", repr=False)

    def remaining(self, now: float | None = None) -> float:
        return max(0.0, self.deadline - (time.time() if now is None else now))


def hold(
    account: Any,
    draft: Draft,
    delay: float,
    *,
    mode: str = "new",
    original_uid: int | None = None,
    original_folder: str | None = None,
    now: float | None = None,
) -> HeldSend:
    """Build the message and put it in the outbox, due in `delay` seconds.

    Raises ComposeError (it cannot be built) or OutboxError (it cannot be stored: the caller
    sends at once instead, without an undo)."""
    domain = draft.from_.address.rpartition("@")[2] or "localhost"
    data = message_bytes(build_message(draft, message_id_domain=domain))
    recipients = envelope_recipients(draft)
    envelope_from = split_address(draft.from_.address)[1]
    deadline = (time.time() if now is None else now) + max(0.0, delay)
    outbox = account_outbox(account)
    entry_id = outbox.add(data, envelope_from, recipients, account.name, next_try=deadline)
    return HeldSend(
        account,
        entry_id,
        draft,
        deadline,
        mode,
        original_uid,
        original_folder,
        tuple(recipients),
        data,
    )


def take_back(held: HeldSend) -> bool:
    """Take the message out of the outbox before it goes: True when it was (the draft is the
    caller's again), False when it is already sent or being sent."""
    return account_outbox(held.account).take(held.entry_id)


async def release(held: HeldSend, *, sender: BytesSender | None = None) -> SendOutcome | None:
    """Send the held message now. None when the outbox is busy with another send (try again
    in a moment); else what happened, in words, as `send_draft` says it."""
    account = held.account
    settings = getattr(account, "smtp_settings", None)
    if settings is None:
        return SendOutcome(False, True, "No SMTP server is configured: it waits in the outbox.")
    credentials = account.smtp_credentials() or Credentials(username=settings.user)
    send = sender or send_bytes
    outbox = account_outbox(account)
    warnings: list[str] = []

    async def send_entry(entry: OutboxEntry, data: bytes) -> SendResult:
        result = await send(
            data, entry.envelope_from, list(entry.recipients), settings, credentials
        )
        if result.accepted:
            sent_folder = account.folder_by_role(FolderRole.SENT)
            if sent_folder is None:
                warnings.append("no Sent folder: no copy kept")
            else:
                try:
                    await file_sent_copy(account, sent_folder.name, data)
                except Exception as exc:
                    warnings.append(f"the copy in {sent_folder.name} failed: {exc}")
        return result

    attempts = await process(outbox, send_entry, account=account.name, only=(held.entry_id,))
    if not attempts:
        try:
            outbox.get(held.entry_id)
        except Exception:  # gone: sent by another run's flush, or cancelled in `O`
            return SendOutcome(False, False, "It had left the outbox already (sent or cancelled).")
        return None  # the lock was held: another send is under way
    attempt: Attempt = attempts[0]
    if attempt.status == "skipped":
        return SendOutcome(False, False, "It had left the outbox already (cancelled).")
    if attempt.status == "failed":
        # `sent` when some recipients took it: then it must not go back into compose whole.
        return SendOutcome(
            bool(attempt.accepted),
            False,
            f"Not sent: {attempt.error}. It waits in the outbox (O) to be retried or cancelled.",
        )
    if attempt.status == "retry":
        return SendOutcome(
            bool(attempt.accepted),
            True,
            f"Not sent yet ({attempt.error}): kept in the outbox and retried automatically.",
        )
    await _after_send(held, warnings)
    count = len(attempt.accepted)
    text = f"Sent to {count} recipient{'s' if count != 1 else ''}."
    if warnings:
        text += " Warning: " + "; ".join(warnings) + "."
    return SendOutcome(True, False, text, warnings=tuple(warnings))


async def _after_send(held: HeldSend, warnings: list[str]) -> None:
    """What follows a send: the original flagged, a server Drafts copy removed."""
    account = held.account
    folder = held.original_folder
    if held.original_uid is not None and folder and held.mode in ("reply", "reply_all", "forward"):
        forwarded = held.mode == "forward"
        uid = held.original_uid
        try:
            if _is_current(account, folder):
                await account.set_flag([uid], Flag.FORWARDED if forwarded else Flag.ANSWERED, True)
            else:

                async def mark(client: Any) -> None:
                    await mark_original(client, folder, uid, forwarded)

                await _in_folder(account, folder, mark)
        except Exception as exc:
            warnings.append(f"the original could not be flagged: {exc}")
    drafts_uid = held.draft.meta.get("drafts_uid")
    drafts_folder = account.folder_by_role(FolderRole.DRAFTS)
    if isinstance(drafts_uid, int) and drafts_folder is not None:
        with contextlib.suppress(Exception):
            await _remove_server_copy(account, drafts_folder.name, drafts_uid)
