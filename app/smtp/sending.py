"""The send flow around a draft: build, submit, queue what must wait, file the Sent copy.

`submit` returns once the server took the message (or once it is safely queued in the
outbox after a transient failure); a permanent failure raises, so the caller keeps the draft
open. After a send the App files the copy in Sent and flags the original with the two helpers
below, which only need an IMAP client with `append`, `select` and `store_flags`
(`app.imap.client.ImapClient`, typed here by a Protocol so this module stands on its own).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal, Protocol

from app.crypto.engine import CryptoError
from app.mime.compose import (
    ComposeError,
    Draft,
    build_message,
    envelope_recipients,
    message_bytes,
    split_address,
)
from app.models import Credentials, Flag, FolderRole, ServerSettings
from app.smtp.outbox import Attempt, Outbox, OutboxEntry, OutboxError, process
from app.smtp.submit import (
    MessageTooLarge,
    SendResult,
    SmtpAuthError,
    SmtpError,
    SmtpRecipientsRefused,
    SmtpTlsError,
    probe_size_limit,
    send_bytes,
)

__all__ = [
    "SIZE_LIMITS",
    "ImapAppender",
    "NotQueuedError",
    "PostponeError",
    "SendOutcome",
    "SizeLimits",
    "SubmitOutcome",
    "account_outbox",
    "describe_error",
    "encoded_attachment_size",
    "estimate_message_size",
    "file_sent_copy",
    "flush_outbox",
    "learn_size_limit",
    "mark_original",
    "postpone",
    "send_draft",
    "submit",
]

BytesSender = Callable[
    [bytes, str, Sequence[str], ServerSettings, Credentials], Awaitable[SendResult]
]


class ImapAppender(Protocol):
    """The part of the IMAP client the send flow uses."""

    async def append(self, folder: str, data: bytes, *, flags: list[str]) -> object: ...

    async def select(self, name: str) -> object: ...

    async def store_flags(self, uids: list[int], flags: list[str], *, mode: str) -> object: ...


class NotQueuedError(Exception):
    """A temporary failure (4xx, connection lost), and the outbox could not keep the message
    (disk full, read-only): nothing was sent, nothing was queued, the caller keeps the draft."""

    def __init__(self, smtp_error: SmtpError | str, outbox_error: OutboxError) -> None:
        super().__init__(f"{smtp_error}; the outbox could not keep it: {outbox_error}")
        self.smtp_error = smtp_error
        self.outbox_error = outbox_error


class _NoOutbox(Outbox):
    """Stands for an outbox that could not even be created: queueing raises its reason."""

    def __init__(self, error: OutboxError) -> None:  # no folders touched
        self.error = error

    def add(self, *args: Any, **kwargs: Any) -> str:
        raise self.error


@dataclass(frozen=True, slots=True)
class SubmitOutcome:
    """What happened to a submitted draft.

    `sent`: the server took it (`result`; some recipients may be in `result.refused`). Those
    refused with a 4xx were queued in the outbox (`outbox_id`). `queued`: nothing was sent
    yet, the whole message waits in the outbox after a transient error (`error`).
    """

    status: Literal["sent", "queued"]
    message: EmailMessage
    data: bytes
    envelope_from: str
    recipients: list[str]
    result: SendResult | None = None
    outbox_id: str | None = None
    error: SmtpError | None = None
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)
    """Every recipient refused at this try (4xx queued for retry, 5xx final)."""
    unqueued: tuple[str, ...] = ()
    """Recipients refused with a 4xx whom the outbox could not keep (`queue_error` says why):
    the message reached the others, not them, and nothing will retry."""
    queue_error: str | None = None

    @property
    def permanently_refused(self) -> dict[str, tuple[int, str]]:
        return {r: v for r, v in self.refused.items() if not 400 <= v[0] < 500}


async def submit(
    draft: Draft,
    *,
    settings: ServerSettings,
    credentials: Credentials,
    outbox: Outbox,
    account: str,
    message_id_domain: str | None = None,
    sender: BytesSender | None = None,
) -> SubmitOutcome:
    """Build the draft's message and submit it; queue it in the outbox on a 4xx.

    Raises ComposeError (the draft cannot be built) or a permanent SmtpError (5xx, TLS,
    authentication): nothing was queued, the caller keeps the draft for editing. A transient
    failure the outbox cannot keep (disk full) raises NotQueuedError, the same way.
    """
    sender = sender or send_bytes
    domain = message_id_domain or draft.from_.address.rpartition("@")[2] or "localhost"
    message = build_message(draft, message_id_domain=domain)
    data = message_bytes(message)
    if draft.pgp_sign or draft.pgp_encrypt:  # PGP/MIME (app/crypto); CryptoError: not sent
        from app.crypto.view import default_engine
        from app.crypto.writing import protect_bytes

        data = await asyncio.to_thread(
            protect_bytes,
            data,
            draft,
            sign=draft.pgp_sign,
            encrypt=draft.pgp_encrypt,
            engine=default_engine(),
            sign_key=draft.pgp_key,
        )
    recipients = envelope_recipients(draft)
    envelope_from = split_address(draft.from_.address)[1]

    def queue(rcpts: list[str], error: SmtpError | str, *, filed: bool = False) -> str:
        """Queue for a retry; NotQueuedError when the outbox cannot hold the message."""
        try:
            entry_id = outbox.add(data, envelope_from, rcpts, account, sent_copy_filed=filed)
        except OutboxError as exc:
            raise NotQueuedError(error, exc) from exc
        # The message is safe on disk now; failing to note the error only loses the backoff.
        with contextlib.suppress(OutboxError):
            outbox.mark_attempt(entry_id, error, permanent=False)
        return entry_id

    try:
        result = await sender(data, envelope_from, recipients, settings, credentials)
    except SmtpRecipientsRefused as exc:
        if not exc.transient:
            raise
        entry_id = queue(list(exc.refused), exc)
        return SubmitOutcome(
            "queued",
            message,
            data,
            envelope_from,
            recipients,
            outbox_id=entry_id,
            error=exc,
            refused=dict(exc.refused),
        )
    except SmtpError as exc:
        if not exc.transient:
            raise
        entry_id = queue(recipients, exc)
        return SubmitOutcome(
            "queued", message, data, envelope_from, recipients, outbox_id=entry_id, error=exc
        )
    retry = [r for r, (code, _) in result.refused.items() if 400 <= code < 500]
    outbox_id = None
    unqueued: tuple[str, ...] = ()
    queue_error = None
    if retry:
        listing = "; ".join(f"{r}: {result.refused[r][0]} {result.refused[r][1]}" for r in retry)
        try:
            outbox_id = queue(retry, f"refused: {listing}", filed=True)
        except NotQueuedError as exc:
            unqueued, queue_error = tuple(retry), str(exc.outbox_error)
    return SubmitOutcome(
        "sent",
        message,
        data,
        envelope_from,
        recipients,
        result=result,
        outbox_id=outbox_id,
        refused=dict(result.refused),
        unqueued=unqueued,
        queue_error=queue_error,
    )


async def file_sent_copy(imap_client: ImapAppender, sent_folder: str, message_bytes: bytes) -> None:
    """APPEND the sent message to the Sent folder, already read (\\Seen)."""
    await imap_client.append(sent_folder, message_bytes, flags=[Flag.SEEN])


async def mark_original(imap_client: ImapAppender, folder: str, uid: int, forwarded: bool) -> None:
    """Flag the message replied to (\\Answered) or forwarded ($Forwarded).

    Selects `folder` on this client, so use a connection whose selected folder may change.
    """
    await imap_client.select(folder)
    await imap_client.store_flags([uid], [Flag.FORWARDED if forwarded else Flag.ANSWERED], mode="+")


# -- the server's SIZE limit, known while composing ----------------------------------------------

HEADER_ALLOWANCE = 2048
"""Bytes counted for the header block and the MIME boundaries: generous, so a warning comes early."""

PART_ALLOWANCE = 320
"""Bytes counted for each attachment's part header (type, disposition, RFC 2231 name)."""


def encoded_attachment_size(size: int) -> int:
    """What `size` bytes take as base64 in 76-character lines ending in CRLF (about 4/3 + 3%)."""
    chars = 4 * ((max(size, 0) + 2) // 3)
    return chars + 2 * ((chars + 75) // 76)


_ASCII = bytes(range(128))


def _body_size(body: str) -> int:
    """The text part as sent: CRLF line ends; quoted-printable (3 bytes a non-ASCII byte) if needed."""
    data = body.encode("utf-8", "replace")
    size = len(data) + data.count(b"\n")
    non_ascii = len(data.translate(None, _ASCII))
    if non_ascii:
        size += 2 * (non_ascii + data.count(b"="))
        size += 3 * (size // 75)  # soft line breaks
    return size


def estimate_message_size(body: str, attachment_sizes: Sequence[int]) -> int:
    """The submitted size of a message with this body and attachments of these raw sizes.

    An estimate on the safe side (headers and part headers are allowances), cheap enough to
    run on every change in the compose screen without reading any attachment.
    """
    total = HEADER_ALLOWANCE + _body_size(body)
    for size in attachment_sizes:
        total += PART_ALLOWANCE + encoded_attachment_size(size)
    return total


class SizeLimits:
    """The SIZE each account's server announced (RFC 1870), learned by a probe or a send.

    Kept in memory only, per account and server: a server may change its limit, and learning
    it again costs one EHLO per run. `None` remembered means "announces no limit".
    """

    def __init__(self) -> None:
        self._limits: dict[tuple[str, str, int], int | None] = {}

    @staticmethod
    def _key(account: Any) -> tuple[str, str, int] | None:
        settings = getattr(account, "smtp_settings", None)
        if settings is None:
            return None
        return (str(getattr(account, "name", "")), str(settings.host), int(settings.port))

    def known(self, account: Any) -> bool:
        """True once the account's limit (or its absence) was learned."""
        key = self._key(account)
        return key is not None and key in self._limits

    def get(self, account: Any) -> int | None:
        """The remembered limit in bytes; None when unknown or when the server has none."""
        key = self._key(account)
        return self._limits.get(key) if key is not None else None

    def remember(self, account: Any, limit: int | None) -> None:
        key = self._key(account)
        if key is not None:
            self._limits[key] = limit if limit is None or limit > 0 else None

    def forget(self, account: Any) -> None:
        key = self._key(account)
        if key is not None:
            self._limits.pop(key, None)


SIZE_LIMITS = SizeLimits()
"""The App's memory of SIZE limits (one per process)."""


SizeProber = Callable[[ServerSettings, Credentials | None], Awaitable[int | None]]


async def learn_size_limit(
    account: Any, *, limits: SizeLimits | None = None, prober: SizeProber | None = None
) -> int | None:
    """The account's SIZE limit: remembered from a send or an earlier probe, else probed now.

    One EHLO without AUTH (`app.smtp.submit.probe_size_limit`); the answer is remembered. Raises
    SmtpError when the server cannot be asked (nothing is remembered: a later call retries).
    """
    limits = limits if limits is not None else SIZE_LIMITS
    settings = getattr(account, "smtp_settings", None)
    if settings is None:
        return None
    if limits.known(account):
        return limits.get(account)
    limit = await (prober or probe_size_limit)(settings, None)
    limits.remember(account, limit)
    return limit


# -- the App's entry points (the compose screen calls these) --------------------------------------


class PostponeError(Exception):
    """The draft could not be stored in the server's Drafts folder (the local copy stays)."""


class DraftWouldBeReadable(PostponeError):
    """A draft marked encrypt, and no key of the sender's to encrypt it to: stored only when
    the caller asks again with `readable_ok` (the user said yes)."""


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """What the compose screen shows after Send: `message` is one line for the user."""

    sent: bool
    queued: bool
    message: str
    submitted: SubmitOutcome | None = None
    error: BaseException | None = None
    warnings: tuple[str, ...] = ()
    unreached: tuple[str, ...] = ()
    """Sent, but not to these (a 4xx the outbox could not keep): the draft must stay open."""


def _data_dir(account: Any) -> Path:
    base = getattr(account, "data_dir", None)
    if base is not None:
        return Path(base)
    from app.paths import data_dir

    return data_dir() / str(account.name)


def account_outbox(account: Any) -> Outbox:
    """The outbox of an account (in its data folder)."""
    return Outbox(_data_dir(account))


def describe_error(exc: BaseException) -> str:
    """One line for the user, the server's code and words kept."""
    if isinstance(exc, SmtpRecipientsRefused):
        return "Refused by the server: " + "; ".join(
            f"{rcpt} ({code} {text})" for rcpt, (code, text) in exc.refused.items()
        )
    if isinstance(exc, MessageTooLarge):
        return f"Too large for the server: {exc.text}"
    if isinstance(exc, SmtpAuthError):
        return f"The server refused the login: {exc}"
    if isinstance(exc, SmtpTlsError):
        return f"No secure connection: {exc.text}"
    if isinstance(exc, SmtpError):
        return f"Not sent: {exc}"
    if isinstance(exc, CryptoError):
        return f"Not sent, {exc}"
    if isinstance(exc, ComposeError):
        return f"Cannot build the message: {exc}"
    return f"Not sent: {type(exc).__name__}: {exc}"


def _is_current(account: Any, folder: str) -> bool:
    current = getattr(account, "current", None)
    return current is not None and current.folder.name == folder


async def _in_folder(account: Any, folder: str, action: Callable[[Any], Awaitable[object]]) -> None:
    """Run `action(client)` with `folder` selected, then select the open folder again."""
    async with account.lock:
        await account.client.select(folder)
        try:
            await action(account.client)
        finally:
            current = getattr(account, "current", None)
            if current is not None and current.folder.name != folder:
                await account.client.select(current.folder.name)


async def _remove_server_copy(account: Any, folder: str, uid: int) -> None:
    async def delete(client: Any) -> None:
        await client.store_flags([uid], [Flag.DELETED], "+")
        await client.expunge([uid])

    await _in_folder(account, folder, delete)


async def send_draft(
    account: Any,
    draft: Draft,
    *,
    original_uid: int | None = None,
    original_folder: str | None = None,
    mode: str = "new",
    outbox: Outbox | None = None,
    sender: BytesSender | None = None,
) -> SendOutcome:
    """Send a draft for `account` and do what follows a send.

    Success: the copy goes to Sent (\\Seen), the original gets \\Answered or $Forwarded, a
    server Drafts copy (`draft.meta["drafts_uid"]`) is removed; a failure there is a warning,
    the mail is sent. 4xx: queued in the outbox. 5xx and the rest: not sent, `message` says why.
    """
    settings = getattr(account, "smtp_settings", None)
    if settings is None:
        return SendOutcome(False, False, "No SMTP server is configured for this account.")
    credentials = account.smtp_credentials()
    if credentials is None:
        credentials = Credentials(username=settings.user)
    if outbox is None:
        try:
            outbox = account_outbox(account)
        except OutboxError as exc:  # sending may still work; only a retry would need it
            outbox = _NoOutbox(exc)
    try:
        outcome = await submit(
            draft,
            settings=settings,
            credentials=credentials,
            outbox=outbox,
            account=account.name,
            sender=sender,
        )
    except NotQueuedError as exc:
        text = (
            f"Not sent ({exc.smtp_error}), and it could not be kept in the outbox to retry: "
            f"{exc.outbox_error}. The message is still here: send it again once there is room."
        )
        return SendOutcome(False, False, text, error=exc)
    except (SmtpError, ComposeError) as exc:
        if isinstance(exc, MessageTooLarge) and exc.limit is not None:
            SIZE_LIMITS.remember(account, exc.limit)
        return SendOutcome(False, False, describe_error(exc), error=exc)
    if outcome.result is not None:
        SIZE_LIMITS.remember(account, outcome.result.size_limit)
    if outcome.status == "queued":
        error = outcome.error
        reason = f"{error}" if error is not None else "temporary failure"
        return SendOutcome(
            False,
            True,
            f"Not sent yet ({reason}): kept in the outbox and retried automatically.",
            submitted=outcome,
            error=error,
        )
    warnings: list[str] = []
    sent_folder = account.folder_by_role(FolderRole.SENT)
    if sent_folder is None:
        warnings.append("no Sent folder: no copy kept")
    else:
        try:
            await file_sent_copy(account, sent_folder.name, outcome.data)
        except Exception as exc:
            warnings.append(f"the copy in {sent_folder.name} failed: {exc}")
    if original_uid is not None and original_folder and mode in ("reply", "reply_all", "forward"):
        forwarded = mode == "forward"
        try:
            if _is_current(account, original_folder):
                flag = Flag.FORWARDED if forwarded else Flag.ANSWERED
                await account.set_flag([original_uid], flag, True)
            else:

                async def mark(client: Any) -> None:
                    await mark_original(client, original_folder, original_uid, forwarded)

                await _in_folder(account, original_folder, mark)
        except Exception as exc:
            warnings.append(f"the original could not be flagged: {exc}")
    drafts_uid = draft.meta.get("drafts_uid")
    drafts_folder = account.folder_by_role(FolderRole.DRAFTS)
    if isinstance(drafts_uid, int) and drafts_folder is not None:
        try:
            await _remove_server_copy(account, drafts_folder.name, drafts_uid)
        except Exception as exc:
            warnings.append(f"the copy in {drafts_folder.name} could not be removed: {exc}")
    result = outcome.result
    accepted = len(result.accepted) if result else 0
    text = f"Sent to {accepted} recipient{'s' if accepted != 1 else ''}."
    if outcome.refused:
        parts = []
        for rcpt, (code, reason) in outcome.refused.items():
            later = " (will retry)" if 400 <= code < 500 else ""
            if rcpt in outcome.unqueued:
                later = " (not kept for a retry: the outbox could not store it)"
            parts.append(f"{rcpt}: {code} {reason}{later}")
        text += " Refused: " + "; ".join(parts) + "."
    if outcome.queue_error:
        warnings.append(f"the outbox could not keep the message: {outcome.queue_error}")
    if warnings:
        text += " Warning: " + "; ".join(warnings) + "."
    return SendOutcome(
        True,
        False,
        text,
        submitted=outcome,
        warnings=tuple(warnings),
        unreached=outcome.unqueued,
    )


async def postpone(account: Any, draft: Draft, *, readable_ok: bool = False) -> int | None:
    """Store the draft in the server's Drafts folder (\\Draft, Bcc kept); returns its UID.

    The earlier server copy of the same draft (`draft.meta["drafts_uid"]`) is replaced. A draft
    marked encrypt is stored encrypted to the sender (app/crypto/writing.py `seal_draft`);
    without a key of the sender's, DraftWouldBeReadable, unless `readable_ok`.
    """
    folder = account.folder_by_role(FolderRole.DRAFTS)
    if folder is None:
        raise PostponeError("the server has no Drafts folder")
    domain = draft.from_.address.rpartition("@")[2] or "localhost"
    message = build_message(draft, message_id_domain=domain, include_bcc=True, keep_unfinished=True)
    data = message_bytes(message, keep_bcc=True)
    if draft.pgp_encrypt:
        from app.crypto.view import default_engine
        from app.crypto.writing import seal_draft

        sealed = await asyncio.to_thread(seal_draft, data, draft, default_engine())
        if sealed is None and not readable_ok:
            raise DraftWouldBeReadable(
                f"no encryption key of yours ({draft.from_.address}) to encrypt the draft to"
            )
        data = sealed or data
    uid = await account.append(folder.name, data, flags=[Flag.DRAFT, Flag.SEEN])
    old = draft.meta.get("drafts_uid")
    if isinstance(old, int) and old != uid:
        with contextlib.suppress(Exception):
            await _remove_server_copy(account, folder.name, old)
    draft.meta["drafts_uid"] = uid if isinstance(uid, int) else None
    return uid if isinstance(uid, int) else None


async def flush_outbox(
    account: Any, *, outbox: Outbox | None = None, sender: BytesSender | None = None
) -> list[Attempt]:
    """Retry the account's due outbox entries; each one sent gets its copy in Sent."""
    settings = getattr(account, "smtp_settings", None)
    if settings is None:
        return []
    outbox = outbox or account_outbox(account)
    credentials = account.smtp_credentials() or Credentials(username=settings.user)
    send = sender or send_bytes

    async def send_entry(entry: OutboxEntry, data: bytes) -> SendResult:
        result = await send(
            data, entry.envelope_from, list(entry.recipients), settings, credentials
        )
        if result.accepted and not entry.sent_copy_filed:
            sent_folder = account.folder_by_role(FolderRole.SENT)
            if sent_folder is not None:
                with contextlib.suppress(Exception):
                    await file_sent_copy(account, sent_folder.name, data)
        return result

    return await process(outbox, send_entry, account=account.name)
