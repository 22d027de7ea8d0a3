"""Mail submission over SMTP (aiosmtplib), with every outcome typed.

The envelope (MAIL FROM, RCPT TO) is built apart from the header: the caller gives the
recipients (To + Cc + Bcc) and the bytes sent never carry a Bcc header. TLS is never left to
chance: implicit TLS or a required STARTTLS, and plaintext only when the account allows it in so
many words (aiosmtplib's default "STARTTLS if offered" would send the password in the clear to a
server that does not offer it). Reply codes keep their first-digit meaning: a 4xx error is
`transient` (keep the message and retry), a 5xx `permanent` (tell the user, keep the draft).
"""

from __future__ import annotations

import contextlib
import re
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import Message
from typing import cast

import aiosmtplib
from aiosmtplib import errors as smtp_errors
from aiosmtplib.protocol import SMTPProtocol
from aiosmtplib.response import SMTPResponse

from app.mime.compose import ComposeError, message_bytes
from app.models import Credentials, ServerSettings, TlsMode
from app.protolog import SmtpTap, smtp_tap

__all__ = [
    "MessageTooLarge",
    "SendResult",
    "SmtpAuthError",
    "SmtpConnectError",
    "SmtpDataError",
    "SmtpError",
    "SmtpRecipientsRefused",
    "SmtpSenderRefused",
    "SmtpTlsError",
    "SmtpUtf8Unsupported",
    "check_login",
    "probe_size_limit",
    "send",
    "send_bytes",
]


class SmtpError(Exception):
    """A failed submission: the server's `code` (None when none was given) and `text`.

    `transient` means trying again later may work (4xx, a lost connection); `permanent` means
    it will not (5xx, a refused certificate, a message too large).
    """

    def __init__(self, text: str, code: int | None = None, *, transient: bool | None = None):
        super().__init__(f"{code} {text}" if code else text)
        self.code = code
        self.text = text
        if transient is None:
            transient = code is not None and 400 <= code < 500
        self.transient = transient

    @property
    def permanent(self) -> bool:
        return not self.transient


class SmtpConnectError(SmtpError):
    """The server could not be reached, dropped the connection or sent a 4xx greeting.

    Transient unless the server answered with a 5xx (554 "no service here").
    """

    def __init__(self, text: str, code: int | None = None, *, transient: bool | None = None):
        if transient is None:
            transient = code is None or 400 <= code < 500
        super().__init__(text, code, transient=transient)


class SmtpTlsError(SmtpError):
    """TLS could not be set up (bad certificate, no STARTTLS) or plaintext was not allowed."""

    def __init__(self, text: str, code: int | None = None, *, transient: bool | None = False):
        super().__init__(text, code, transient=transient)


class SmtpAuthError(SmtpError):
    """The server refused the credentials, or offers no usable mechanism."""

    def __init__(self, text: str, code: int | None = None, *, transient: bool | None = None):
        if transient is None:
            transient = code is not None and 400 <= code < 500
        super().__init__(text, code, transient=transient)


class SmtpSenderRefused(SmtpError):
    """MAIL FROM was refused."""

    def __init__(self, text: str, code: int | None, sender: str) -> None:
        super().__init__(text, code)
        self.sender = sender


class SmtpRecipientsRefused(SmtpError):
    """Every recipient was refused; `refused` maps each to its (code, text).

    Transient only when every refusal was a 4xx.
    """

    def __init__(self, refused: dict[str, tuple[int, str]]) -> None:
        self.refused = dict(refused)
        listing = "; ".join(f"{rcpt}: {code} {text}" for rcpt, (code, text) in refused.items())
        codes = [code for code, _ in refused.values()]
        first = codes[0] if codes else None
        transient = bool(codes) and all(400 <= c < 500 for c in codes)
        super().__init__(f"recipients refused: {listing}", first, transient=transient)


class SmtpUtf8Unsupported(SmtpError):
    """An address needs SMTPUTF8 (RFC 6531: non-ASCII before the @) and the server does not
    offer it. Permanent: this server will never take it; `addresses` are the ones concerned."""

    def __init__(self, addresses: Sequence[str]) -> None:
        self.addresses = list(addresses)
        listing = ", ".join(self.addresses)
        super().__init__(
            f"the server does not offer SMTPUTF8, so it cannot send to or from {listing} "
            "(non-ASCII characters before the @); use an ASCII address for this recipient",
            transient=False,
        )


class SmtpDataError(SmtpError):
    """The message itself was refused after DATA (452 storage, 554 policy, ...)."""


class MessageTooLarge(SmtpDataError):
    """Larger than the server takes: found from SIZE before sending, or a 552 after DATA."""

    def __init__(self, text: str, code: int | None = 552, *, size: int, limit: int | None):
        super().__init__(text, code)
        self.transient = False
        self.size = size
        self.limit = limit


@dataclass(frozen=True, slots=True)
class SendResult:
    """A message the server took: for `accepted` recipients; `refused` ones with (code, text)."""

    accepted: list[str]
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)
    response: str = ""
    """The server's answer to DATA (often holds its queue id)."""
    size_limit: int | None = None
    """The SIZE the server announced in EHLO (RFC 1870); None when it announced no limit."""


_ADDR_RE = re.compile(r"^[^\s<>()\[\],;:\\\"@]+@[^\s<>()\[\],;:\\\"@]+$")


def _tls_context(settings: ServerSettings) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=settings.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise SmtpTlsError(f"cannot load the CA file {settings.ca_file}: {exc}") from exc


class _TappedProtocol(SMTPProtocol):
    """aiosmtplib's protocol with every write and every reply passed to the protocol log.

    `_LoggedSMTP` turns its connection's protocol into this class once the greeting is read
    (aiosmtplib makes the protocol inside `_create_connection`, with no hook): `write` sees
    each command, AUTH answer and the message, `read_response` each reply (DATA's 354 and
    STARTTLS's 220 too, which aiosmtplib's own methods keep to themselves)."""

    tap: SmtpTap

    def write(self, data: bytes) -> None:
        self.tap.sent(data)
        super().write(data)

    async def read_response(self, timeout: float | None = None) -> SMTPResponse:
        try:
            response = await super().read_response(timeout)
        except smtp_errors.SMTPResponseException as exc:
            self.tap.reply(exc.code, exc.message)
            raise
        except (smtp_errors.SMTPException, OSError) as exc:
            self.tap.note(f"no reply: {exc}", error=True)
            raise
        self.tap.reply(response.code, response.message)
        return response


class _LoggedSMTP(aiosmtplib.SMTP):
    """An SMTP client whose dialogue goes to the account's protocol log (`app.protolog`)."""

    def __init__(self, tap: SmtpTap, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.tap = tap

    async def _create_connection(self, timeout: float | None) -> SMTPResponse:
        self.tap.note(f"connecting to {self.hostname}:{self.port}")
        try:
            response = await super()._create_connection(timeout)
        except smtp_errors.SMTPConnectResponseError as exc:
            self.tap.reply(exc.code, exc.message)
            raise
        except (smtp_errors.SMTPException, OSError) as exc:
            self.tap.note(f"cannot connect: {exc}", error=True)
            raise
        self.tap.reply(response.code, response.message)
        protocol = self.protocol
        if protocol is not None and type(protocol) is SMTPProtocol:
            protocol.__class__ = _TappedProtocol
            cast(_TappedProtocol, protocol).tap = self.tap
        return response

    def close(self) -> None:
        if self.protocol is not None:
            self.tap.note("connection closed")
        super().close()


def _client(settings: ServerSettings) -> aiosmtplib.SMTP:
    """An unconnected client, its TLS mode always explicit; refuses plaintext unless allowed."""
    tls = settings.tls
    if tls is TlsMode.NONE and not settings.allow_insecure:
        raise SmtpTlsError(
            f"refusing to connect to {settings.host}:{settings.port} without TLS "
            "(set allow_insecure for this account to permit it)"
        )
    context = None if tls is TlsMode.NONE else _tls_context(settings)
    options: dict[str, object] = {
        "hostname": settings.host,
        "port": settings.port,
        "timeout": settings.timeout,
        "use_tls": tls is TlsMode.IMPLICIT,
        "start_tls": tls is TlsMode.STARTTLS,
        "tls_context": context,
        "local_hostname": "[127.0.0.1]",  # no DNS lookup, no host name given away
    }
    tap = smtp_tap(settings)
    if tap is not None:
        return _LoggedSMTP(tap, **options)
    return aiosmtplib.SMTP(**options)  # type: ignore[arg-type]


def _tls_cause(exc: BaseException) -> ssl.SSLError | None:
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


async def _connect(client: aiosmtplib.SMTP, settings: ServerSettings) -> str:
    """Connect (and STARTTLS when asked); returns the banner. Errors come out typed."""
    where = f"{settings.host}:{settings.port}"
    try:
        response = await client.connect()
    except smtp_errors.SMTPConnectResponseError as exc:
        raise SmtpConnectError(f"{where} refused the session: {exc.message}", exc.code) from exc
    except smtp_errors.SMTPResponseException as exc:
        if exc.code < 0:  # aiosmtplib's "malformed response": not an SMTP server at all
            raise SmtpConnectError(f"{where} does not speak SMTP: {exc.message[:80]}") from exc
        if settings.tls is TlsMode.STARTTLS:
            raise SmtpTlsError(f"STARTTLS failed at {where}: {exc.message}", exc.code) from exc
        raise SmtpConnectError(f"{where}: {exc.message}", exc.code) from exc
    except (TimeoutError, smtp_errors.SMTPException, OSError) as exc:
        tls = _tls_cause(exc)
        if tls is not None:
            reason = getattr(tls, "verify_message", None) or tls.reason or str(tls)
            raise SmtpTlsError(f"TLS with {where} failed: {reason}") from exc
        text = str(exc) or type(exc).__name__
        if "STARTTLS" in text and "not supported" in text:
            raise SmtpTlsError(f"{where} does not offer STARTTLS") from exc
        raise SmtpConnectError(f"cannot connect to {where}: {text}") from exc
    return response.message


async def _ehlo(client: aiosmtplib.SMTP) -> None:
    """EHLO once per session (and again after STARTTLS), so the extensions are known."""
    if not client.is_ehlo_or_helo_needed:
        return
    try:
        await client.ehlo()
    except smtp_errors.SMTPResponseException as exc:
        raise SmtpConnectError(f"EHLO refused: {exc.message}", exc.code) from exc
    except (TimeoutError, smtp_errors.SMTPException, OSError) as exc:
        raise SmtpConnectError(f"connection lost at EHLO: {exc}") from exc


async def _authenticate(
    client: aiosmtplib.SMTP, settings: ServerSettings, credentials: Credentials
) -> None:
    """AUTH with the mechanism the account asks for, or the best one the server offers."""
    if credentials.password is None and credentials.oauth2_token is None:
        return
    await _ehlo(client)
    offered = [m.lower() for m in client.server_auth_methods]
    wanted = settings.auth.lower()
    if wanted == "auto":
        if credentials.oauth2_token is not None:
            wanted = "xoauth2"
        elif "plain" in offered:
            wanted = "plain"
        elif "login" in offered:
            wanted = "login"
        else:
            raise SmtpAuthError(
                f"the server offers no PLAIN or LOGIN authentication (it offers: "
                f"{', '.join(offered) or 'none'})"
            )
    if wanted not in offered:
        raise SmtpAuthError(f"the server does not offer AUTH {wanted.upper()}")
    try:
        if wanted == "xoauth2":
            if credentials.oauth2_token is None:
                raise SmtpAuthError("XOAUTH2 needs an OAuth2 token")
            await client.auth_xoauth2(credentials.username, credentials.oauth2_token)
        elif wanted in ("plain", "login"):
            if credentials.password is None:
                raise SmtpAuthError(f"AUTH {wanted.upper()} needs a password")
            method = client.auth_plain if wanted == "plain" else client.auth_login
            await method(credentials.username, credentials.password)
        else:
            raise SmtpAuthError(f"unsupported authentication mechanism: {wanted}")
    except smtp_errors.SMTPAuthenticationError as exc:
        raise SmtpAuthError(f"authentication failed: {exc.message}", exc.code) from exc
    except smtp_errors.SMTPResponseException as exc:
        raise SmtpAuthError(f"authentication failed: {exc.message}", exc.code) from exc
    except (TimeoutError, smtp_errors.SMTPException, OSError) as exc:
        raise SmtpConnectError(f"connection lost during AUTH: {exc}") from exc


async def _quit(client: aiosmtplib.SMTP) -> None:
    with contextlib.suppress(Exception):
        if client.is_connected:
            await client.quit()
    client.close()


def _announced_size(client: aiosmtplib.SMTP) -> int | None:
    """The SIZE limit from the last EHLO; None when absent, zero ("no fixed limit") or garbled."""
    text = client.esmtp_extensions.get("size", "").strip()
    if not text.isdigit() or len(text) > 18:
        return None
    limit = int(text)
    return limit if limit > 0 else None


def _normalized_size(data: bytes) -> int:
    """The size as transmitted: every line end counted as CRLF (RFC 1870)."""
    return len(re.sub(rb"\r\n|\r|\n", b"\r\n", data))


async def send_bytes(
    data: bytes,
    envelope_from: str,
    recipients: Sequence[str],
    settings: ServerSettings,
    credentials: Credentials,
) -> SendResult:
    """Submit prepared message bytes (no Bcc header in them) to `recipients`.

    Returns when the server took the message for at least one recipient; raises an SmtpError
    subclass otherwise, before any DATA when the message is over the announced SIZE.
    """
    rcpts = list(dict.fromkeys(r.strip() for r in recipients if r.strip()))
    if not rcpts:
        raise SmtpError("no recipients", transient=False)
    for addr in [envelope_from, *rcpts]:
        if not _ADDR_RE.match(addr):
            raise SmtpError(f"not a valid address: {addr!r}", transient=False)
    client = _client(settings)
    await _connect(client, settings)
    try:
        await _authenticate(client, settings, credentials)
        await _ehlo(client)
        size = _normalized_size(data)
        limit = _announced_size(client)
        if limit is not None and size > limit:
            raise MessageTooLarge(
                f"the message is {size} bytes, the server takes at most {limit}",
                None,
                size=size,
                limit=limit,
            )
        options: list[str] = []
        if not data.isascii() and client.supports_extension("8bitmime"):
            options.append("BODY=8BITMIME")
        utf8 = [a for a in [envelope_from, *rcpts] if not a.isascii()]
        if utf8:
            if not client.supports_extension("smtputf8"):
                raise SmtpUtf8Unsupported(utf8)
            options.append("SMTPUTF8")
        try:
            refused, response = await client.sendmail(
                envelope_from, rcpts, data, mail_options=options
            )
        except smtp_errors.SMTPRecipientsRefused as exc:
            raise SmtpRecipientsRefused(
                {r.recipient: (r.code, r.message) for r in exc.recipients}
            ) from exc
        except smtp_errors.SMTPSenderRefused as exc:
            raise SmtpSenderRefused(
                f"sender {exc.sender} refused: {exc.message}", exc.code, exc.sender
            ) from exc
        except smtp_errors.SMTPDataError as exc:
            if exc.code == 552:
                raise MessageTooLarge(
                    f"refused after DATA: {exc.message}", exc.code, size=size, limit=limit
                ) from exc
            raise SmtpDataError(f"message refused: {exc.message}", exc.code) from exc
        except smtp_errors.SMTPResponseException as exc:
            raise SmtpError(exc.message, exc.code) from exc
        except (TimeoutError, smtp_errors.SMTPException, OSError) as exc:
            raise SmtpConnectError(f"connection lost while sending: {exc}") from exc
        except ValueError as exc:
            raise SmtpError(f"cannot send: {exc}", transient=False) from exc
    finally:
        await _quit(client)
    refused_map = {r: (resp.code, resp.message) for r, resp in refused.items()}
    accepted = [r for r in rcpts if r not in refused_map]
    return SendResult(accepted=accepted, refused=refused_map, response=response, size_limit=limit)


async def send(
    message: Message,
    envelope_from: str,
    recipients: list[str],
    settings: ServerSettings,
    credentials: Credentials,
) -> SendResult:
    """Submit `message` (any Bcc header is removed from the bytes) to `recipients`."""
    try:
        data = message_bytes(message)
    except ComposeError as exc:
        raise SmtpError(str(exc), transient=False) from exc
    return await send_bytes(data, envelope_from, recipients, settings, credentials)


async def probe_size_limit(
    settings: ServerSettings, credentials: Credentials | None = None
) -> int | None:
    """Connect (TLS as for sending), EHLO and quit: the SIZE the server announces, or None.

    Lets the compose screen warn about a message too large while it is written, not only at
    send. Without `credentials` nothing is authenticated (EHLO after TLS is enough for most
    servers); with them the limit is read after AUTH, for servers that announce it only then.
    Raises the same typed SmtpError subclasses as `send_bytes`.
    """
    client = _client(settings)
    await _connect(client, settings)
    try:
        if credentials is not None:
            await _authenticate(client, settings, credentials)
        await _ehlo(client)
        return _announced_size(client)
    finally:
        await _quit(client)


async def check_login(settings: ServerSettings, credentials: Credentials) -> str:
    """Connect, authenticate and quit: the server's banner, or the typed reason it failed."""
    client = _client(settings)
    banner = await _connect(client, settings)
    try:
        await _authenticate(client, settings, credentials)
    finally:
        await _quit(client)
    return banner
