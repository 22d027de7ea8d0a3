"""Submission against the sandbox: real TLS, AUTH, forced reply codes, delivery read back over IMAP.

The sandbox's SMTP server delivers through Dovecot's LMTP before it answers 250, so a message is
in the recipient's INBOX as soon as `send` returns. Mail is read back with the stdlib's imaplib
over IMAPS (independent of termail's own IMAP client).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import imaplib
import itertools
import re
import socket
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from app.mime.compose import (
    Attachment,
    Draft,
    Identity,
    build_message,
    envelope_recipients,
    message_bytes,
    reply,
)
from app.models import Credentials, ServerSettings, TlsMode
from app.smtp.outbox import Outbox, process
from app.smtp.sending import file_sent_copy, mark_original, submit
from app.smtp.submit import (
    MessageTooLarge,
    SendResult,
    SmtpAuthError,
    SmtpConnectError,
    SmtpDataError,
    SmtpRecipientsRefused,
    SmtpTlsError,
    check_login,
    probe_size_limit,
    send,
    send_bytes,
)

pytestmark = pytest.mark.integration

_names = itertools.count()


@pytest.fixture
def rules(sandbox: Any) -> Iterator[Any]:
    """Forced SMTP replies for one test, always cleared (the sandbox is shared)."""
    sandbox.clear_smtp_rules()
    yield sandbox
    sandbox.clear_smtp_rules()


def _other(sandbox: Any, base: Any, tag: str) -> Any:
    return sandbox.add_user(f"{base.name}{tag}{next(_names)}")


def _imap(sandbox: Any, user: Any) -> imaplib.IMAP4_SSL:
    conn = imaplib.IMAP4_SSL(
        sandbox.host, sandbox.imaps_port, ssl_context=sandbox.client_ssl_context()
    )
    conn.login(user.name, user.password)
    return conn


def _messages(sandbox: Any, user: Any, folder: str = "INBOX") -> list[tuple[EmailMessage, str]]:
    """Every message in `folder` with its flags, read over IMAPS."""
    conn = _imap(sandbox, user)
    try:
        conn.select(folder)
        _, data = conn.uid("SEARCH", "ALL")
        out = []
        for uid in data[0].split():
            _, parts = conn.uid("FETCH", uid, "(FLAGS BODY.PEEK[])")
            item = parts[0]
            assert isinstance(item, tuple)
            msg = email.message_from_bytes(item[1], policy=email.policy.default)
            assert isinstance(msg, EmailMessage)
            flags = re.search(rb"FLAGS \(([^)]*)\)", item[0])
            out.append((msg, flags.group(1).decode() if flags else ""))
        return out
    finally:
        conn.logout()


def _inbox(sandbox: Any, user: Any) -> list[EmailMessage]:
    return [m for m, _ in _messages(sandbox, user)]


ATTACHMENTS = [
    Attachment("report.pdf", b"%PDF-1.4\n" + bytes(range(256)) * 64, "application/pdf"),
    Attachment("Übersicht März – 日本.xlsx", bytes(reversed(range(256))) * 33, "application/x"),
    Attachment("notes.txt", b"line one\r\nzwei\nthree\rend without newline", "text/plain"),
]
SUBJECT = "Grüße aus Köln — 你好 — ünïcödé subject that is long enough to be folded, surely"


def _draft(sender: Any, to: Any, bcc: Any | None = None) -> Draft:
    return Draft(
        Identity("Ålice Sënder", sender.address),
        to=[f"Bob Empfänger <{to.address}>"],
        bcc=[bcc.address] if bcc else [],
        subject=SUBJECT,
        body="Hallo Bob,\n\nsiehe Anhang.\n\n-- \nÅlice\n",
        attachments=list(ATTACHMENTS),
    )


def _check_delivered(msg: EmailMessage, hidden: str | None) -> None:
    assert msg["Subject"] == SUBJECT
    assert msg["To"].addresses[0].display_name == "Bob Empfänger"
    assert msg["From"].addresses[0].display_name == "Ålice Sënder"
    attachments = list(msg.iter_attachments())
    assert [a.get_filename() for a in attachments] == [a.filename for a in ATTACHMENTS]
    assert [a.get_payload(decode=True) for a in attachments] == [a.data for a in ATTACHMENTS]
    assert "Bcc" not in msg
    if hidden:
        head = msg.as_bytes().split(b"\n\n", 1)[0]
        for line in head.split(b"\n"):
            if not line.lower().startswith((b"delivered-to", b"received", b"\t", b" ")):
                assert hidden.encode() not in line


@pytest.mark.parametrize("tls", [TlsMode.STARTTLS, TlsMode.IMPLICIT])
async def test_attachments_and_subject_arrive_intact_bcc_hidden(
    sandbox: Any, mail_user: Any, tls: TlsMode
) -> None:
    bob = _other(sandbox, mail_user, "bob")
    carol = _other(sandbox, mail_user, "carol")
    draft = _draft(mail_user, bob, carol)
    message = build_message(draft, message_id_domain="localhost")
    recipients = envelope_recipients(draft)
    assert recipients == [bob.address, carol.address]
    result = await send(
        message,
        mail_user.address,
        recipients,
        mail_user.smtp_settings(tls),
        mail_user.credentials(),
    )
    assert result == SendResult(
        [bob.address, carol.address], {}, result.response, size_limit=33_554_432
    )
    (got,) = _inbox(sandbox, bob)
    _check_delivered(got, carol.address)
    assert got["Message-ID"] == message["Message-ID"]
    (hidden_copy,) = _inbox(sandbox, carol)  # the Bcc recipient gets it ...
    _check_delivered(hidden_copy, carol.address)  # ... without any header naming them
    assert _inbox(sandbox, mail_user) == []


async def test_sent_copy_and_original_flags_over_imap(sandbox: Any, mail_user: Any) -> None:
    bob = _other(sandbox, mail_user, "bob")
    original = (
        f"From: Bob <{bob.address}>\r\nTo: {mail_user.address}\r\nSubject: question\r\n"
        f"Message-ID: <q1@localhost>\r\n\r\nWell?\r\n"
    ).encode()
    sandbox.deliver(mail_user.name, original)
    draft = reply(original, Identity("Me", mail_user.address), own_addresses=[mail_user.address])
    draft.body = "Yes.\n\n" + draft.body
    assert envelope_recipients(draft) == [bob.address]
    outbox = Outbox(Path(sandbox.root) / f"data-{mail_user.name}")
    outcome = await submit(
        draft,
        settings=mail_user.smtp_settings(),
        credentials=mail_user.credentials(),
        outbox=outbox,
        account="work",
    )
    assert outcome.status == "sent"
    adapter = ImaplibAdapter(_imap(sandbox, mail_user))
    try:
        await file_sent_copy(adapter, "Sent", outcome.data)
        await mark_original(adapter, "INBOX", 1, forwarded=False)
        await mark_original(adapter, "INBOX", 1, forwarded=True)
    finally:
        adapter.conn.logout()
    ((sent, sent_flags),) = _messages(sandbox, mail_user, "Sent")
    assert "\\Seen" in sent_flags
    assert sent["Message-ID"] == outcome.message["Message-ID"]
    assert sent["In-Reply-To"] == "<q1@localhost>"
    ((_, flags),) = _messages(sandbox, mail_user, "INBOX")
    assert "\\Answered" in flags and "$Forwarded" in flags
    (got,) = _inbox(sandbox, bob)
    assert got["Subject"] == "Re: question" and got["References"] == "<q1@localhost>"


class ImaplibAdapter:
    """The three IMAP calls the send flow makes, done with the stdlib client."""

    def __init__(self, conn: imaplib.IMAP4_SSL) -> None:
        self.conn = conn

    async def append(self, folder: str, data: bytes, *, flags: list[str]) -> object:
        typ, resp = self.conn.append(folder, "(" + " ".join(flags) + ")", None, data)
        assert typ == "OK", resp
        return resp

    async def select(self, name: str) -> object:
        typ, resp = self.conn.select(name)
        assert typ == "OK", resp
        return resp

    async def store_flags(self, uids: list[int], flags: list[str], *, mode: str) -> object:
        uid_set = ",".join(str(u) for u in uids)
        typ, resp = self.conn.uid("STORE", uid_set, f"{mode}FLAGS", "(" + " ".join(flags) + ")")
        assert typ == "OK", resp
        return resp


async def test_451_is_queued_and_a_later_retry_delivers(rules: Any, mail_user: Any) -> None:
    sandbox = rules
    bob = _other(sandbox, mail_user, "bob")
    sandbox.force_smtp_reply(451, recipient=bob.address)
    outbox = Outbox(Path(sandbox.root) / f"data-{mail_user.name}")
    draft = _draft(mail_user, bob)
    outcome = await submit(
        draft,
        settings=mail_user.smtp_settings(),
        credentials=mail_user.credentials(),
        outbox=outbox,
        account="work",
    )
    assert outcome.status == "queued"
    assert isinstance(outcome.error, SmtpRecipientsRefused) and outcome.error.transient
    assert outcome.error.refused[bob.address][0] == 451
    (entry,) = outbox.list()
    assert entry.last_code == 451 and not entry.failed and entry.recipients == (bob.address,)

    async def sender(entry: Any, data: bytes) -> SendResult:
        return await send_bytes(
            data,
            entry.envelope_from,
            list(entry.recipients),
            mail_user.smtp_settings(),
            mail_user.credentials(),
        )

    (attempt,) = await process(outbox, sender, now=entry.next_try)  # still refused
    assert attempt.status == "retry" and attempt.code == 451
    assert outbox.get(entry.id).attempts == 2
    assert _inbox(sandbox, bob) == []
    sandbox.clear_smtp_rules()
    (attempt,) = await process(outbox, sender, now=outbox.get(entry.id).next_try)
    assert attempt.status == "sent"
    assert outbox.list() == []
    (got,) = _inbox(sandbox, bob)
    _check_delivered(got, None)
    assert got["Message-ID"] == outcome.message["Message-ID"]


async def test_451_at_data_is_transient_and_queued(rules: Any, mail_user: Any) -> None:
    sandbox = rules
    bob = _other(sandbox, mail_user, "bob")
    sandbox.force_smtp_reply(451, times=1)
    outbox = Outbox(Path(sandbox.root) / f"data-{mail_user.name}")
    outcome = await submit(
        _draft(mail_user, bob),
        settings=mail_user.smtp_settings(),
        credentials=mail_user.credentials(),
        outbox=outbox,
        account="work",
    )
    assert outcome.status == "queued"
    assert isinstance(outcome.error, SmtpDataError) and outcome.error.code == 451
    assert outcome.error.transient and not outcome.error.permanent
    assert _inbox(sandbox, bob) == []


async def test_550_names_the_refused_recipient(rules: Any, mail_user: Any) -> None:
    sandbox = rules
    bob = _other(sandbox, mail_user, "bob")
    sandbox.force_smtp_reply(550, recipient=bob.address, text="5.1.1 <bob> no such user here")
    message = build_message(_draft(mail_user, bob), message_id_domain="localhost")
    with pytest.raises(SmtpRecipientsRefused) as info:
        await send(
            message,
            mail_user.address,
            [bob.address],
            mail_user.smtp_settings(),
            mail_user.credentials(),
        )
    error = info.value
    assert error.refused == {bob.address: (550, "5.1.1 <bob> no such user here")}
    assert error.permanent and error.code == 550
    assert bob.address in str(error)
    outbox = Outbox(Path(sandbox.root) / f"data-{mail_user.name}")
    with pytest.raises(SmtpRecipientsRefused):
        await submit(
            _draft(mail_user, bob),
            settings=mail_user.smtp_settings(),
            credentials=mail_user.credentials(),
            outbox=outbox,
            account="work",
        )
    assert outbox.list() == []  # a permanent failure is not queued: the draft stays with the user


@pytest.mark.parametrize(
    "code,stage,kind,transient",
    [
        (452, "data", SmtpDataError, True),
        (552, "data", MessageTooLarge, False),
        (554, "data", SmtpDataError, False),
        (452, "rcpt", SmtpRecipientsRefused, True),
        (552, "rcpt", SmtpRecipientsRefused, False),
        (554, "rcpt", SmtpRecipientsRefused, False),
    ],
)
async def test_reply_codes_map_to_typed_errors(
    rules: Any, mail_user: Any, code: int, stage: str, kind: type, transient: bool
) -> None:
    sandbox = rules
    bob = _other(sandbox, mail_user, "bob")
    sandbox.force_smtp_reply(code, recipient=bob.address if stage == "rcpt" else None)
    data = message_bytes(build_message(_draft(mail_user, bob), message_id_domain="localhost"))
    with pytest.raises(kind) as info:
        await send_bytes(
            data,
            mail_user.address,
            [bob.address],
            mail_user.smtp_settings(),
            mail_user.credentials(),
        )
    error = info.value
    assert type(error) is kind
    assert error.code == code and error.transient is transient and error.permanent is not transient
    assert "forced by sandbox" in error.text or "forced by sandbox" in str(error)
    if stage == "rcpt":
        assert list(error.refused) == [bob.address]
    assert _inbox(sandbox, bob) == []


async def test_partial_refusal_is_reported_per_recipient(rules: Any, mail_user: Any) -> None:
    sandbox = rules
    bob = _other(sandbox, mail_user, "bob")
    carol = _other(sandbox, mail_user, "carol")
    dave = _other(sandbox, mail_user, "dave")
    sandbox.force_smtp_reply(550, recipient=bob.address)
    sandbox.force_smtp_reply(451, recipient=dave.address)
    draft = _draft(mail_user, bob)
    draft.cc = [carol.address, dave.address]
    outbox = Outbox(Path(sandbox.root) / f"data-{mail_user.name}")
    outcome = await submit(
        draft,
        settings=mail_user.smtp_settings(),
        credentials=mail_user.credentials(),
        outbox=outbox,
        account="work",
    )
    assert outcome.status == "sent"
    assert outcome.result is not None and outcome.result.accepted == [carol.address]
    assert outcome.refused[bob.address][0] == 550
    assert outcome.refused[dave.address][0] == 451
    assert outcome.permanently_refused == {bob.address: outcome.refused[bob.address]}
    (entry,) = outbox.list()  # only the 4xx one waits for a retry
    assert entry.recipients == (dave.address,)
    (got,) = _inbox(sandbox, carol)
    _check_delivered(got, None)
    assert _inbox(sandbox, bob) == [] and _inbox(sandbox, dave) == []


def _listener() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(5)
    sock.setblocking(False)
    return sock


async def test_plaintext_is_refused_before_connecting(mail_user: Any) -> None:
    listener = _listener()
    try:
        port = listener.getsockname()[1]
        settings = mail_user.smtp_settings(TlsMode.NONE, port=port)
        message = build_message(
            Draft(Identity("", mail_user.address), to=["x@localhost"]),
            message_id_domain="localhost",
        )
        with pytest.raises(SmtpTlsError) as info:
            await send(
                message, mail_user.address, ["x@localhost"], settings, mail_user.credentials()
            )
        assert info.value.permanent
        with pytest.raises(SmtpTlsError):
            await check_login(settings, mail_user.credentials())
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody ever connected: no byte, let alone a password, was sent
    finally:
        listener.close()


async def test_starttls_is_required_not_opportunistic(sandbox: Any, mail_user: Any) -> None:
    """A server that does not offer STARTTLS gets no password (aiosmtplib's default would)."""
    seen: list[bytes] = []

    async def fake_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 plain.example ESMTP\r\n")
        while line := await reader.readline():
            seen.append(line)
            if line.upper().startswith(b"EHLO"):
                writer.write(b"250-plain.example\r\n250 AUTH PLAIN LOGIN\r\n")
            elif line.upper().startswith(b"QUIT"):
                writer.write(b"221 bye\r\n")
                await writer.drain()
                break
            else:
                writer.write(b"502 no\r\n")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(fake_server, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        settings = mail_user.smtp_settings(TlsMode.STARTTLS, port=port)
        with pytest.raises(SmtpTlsError):
            await check_login(settings, mail_user.credentials())
    finally:
        server.close()
        await server.wait_closed()
    assert not any(b"AUTH" in line.upper() for line in seen)
    assert not any(mail_user.password.encode() in line for line in seen)


async def test_wrong_password_and_untrusted_certificate(sandbox: Any, mail_user: Any) -> None:
    wrong = Credentials(username=mail_user.name, password="not-the-password")
    for tls in (TlsMode.STARTTLS, TlsMode.IMPLICIT):
        with pytest.raises(SmtpAuthError) as info:
            await check_login(mail_user.smtp_settings(tls), wrong)
        assert info.value.code == 535 and info.value.permanent
        with pytest.raises(SmtpTlsError):
            await check_login(mail_user.smtp_settings(tls, ca_file=None), mail_user.credentials())
    banner = await check_login(mail_user.smtp_settings(), mail_user.credentials())
    assert isinstance(banner, str) and banner
    assert await check_login(mail_user.smtp_settings(TlsMode.IMPLICIT), mail_user.credentials())


async def test_size_limit_is_checked_before_data(sandbox: Any, mail_user: Any) -> None:
    bob = _other(sandbox, mail_user, "bob")
    big = b"Subject: big\r\n\r\n" + b"x" * 76 + b"\r\n"
    data = big * (33_554_432 // len(big) + 10)  # over aiosmtpd's announced SIZE 33554432
    with pytest.raises(MessageTooLarge) as info:
        await send_bytes(
            data,
            mail_user.address,
            [bob.address],
            mail_user.smtp_settings(),
            mail_user.credentials(),
        )
    assert info.value.limit == 33_554_432 and info.value.size > info.value.limit
    assert info.value.permanent
    assert _inbox(sandbox, bob) == []


@pytest.mark.parametrize("tls", [TlsMode.STARTTLS, TlsMode.IMPLICIT])
async def test_probe_learns_the_announced_size(sandbox: Any, mail_user: Any, tls: TlsMode) -> None:
    settings = mail_user.smtp_settings(tls)
    assert await probe_size_limit(settings) == 33_554_432
    assert await probe_size_limit(settings, mail_user.credentials()) == 33_554_432


async def test_a_send_reports_the_announced_size(sandbox: Any, mail_user: Any) -> None:
    bob = _other(sandbox, mail_user, "bob")
    result = await send_bytes(
        b"Subject: sized\r\n\r\nsmall\r\n",
        mail_user.address,
        [bob.address],
        mail_user.smtp_settings(),
        mail_user.credentials(),
    )
    assert result.accepted == [bob.address] and result.size_limit == 33_554_432


async def test_probe_without_size_and_with_a_small_one() -> None:
    async with RecordingServer() as server:
        assert await probe_size_limit(_plain(server.port)) is None
    assert not any(line.upper().startswith(b"AUTH") for line in server.lines)
    async with RecordingServer(size=1000) as server:
        assert await probe_size_limit(_plain(server.port)) == 1000
        settings = _plain(server.port)
        assert await probe_size_limit(settings, Credentials("me", password="pw")) == 1000
    assert any(line.upper().startswith(b"AUTH PLAIN") for line in server.lines)


async def test_probe_of_an_unreachable_server_is_a_typed_transient_error() -> None:
    with _listener() as sock:
        port = sock.getsockname()[1]
    with pytest.raises(SmtpConnectError) as info:
        await probe_size_limit(_plain(port))
    assert info.value.transient


def _plain(port: int, auth: str = "auto") -> ServerSettings:
    """Plaintext to a local fake server: allowed because the account says so."""
    return ServerSettings(
        host="127.0.0.1", port=port, user="me", tls=TlsMode.NONE, allow_insecure=True, auth=auth
    )


class RecordingServer:
    """A tiny plaintext SMTP server offering AUTH XOAUTH2 PLAIN LOGIN; records what it is sent."""

    def __init__(self, size: int | None = None) -> None:
        self.lines: list[bytes] = []
        self.size = size
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> RecordingServer:
        self.server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 rec.example ESMTP\r\n")
        while line := await reader.readline():
            self.lines.append(line.rstrip(b"\r\n"))
            word = line.split(b" ", 1)[0].upper().strip()
            if word == b"EHLO":
                size = f"250-SIZE {self.size}\r\n".encode() if self.size else b""
                writer.write(b"250-rec.example\r\n" + size + b"250 AUTH XOAUTH2 PLAIN LOGIN\r\n")
            elif word == b"AUTH" and line.split()[1].upper() == b"LOGIN":
                writer.write(b"334 UGFzc3dvcmQ6\r\n")
                await writer.drain()
                self.lines.append((await reader.readline()).rstrip(b"\r\n"))
                writer.write(b"235 2.7.0 ok\r\n")
            elif word == b"AUTH":
                writer.write(b"235 2.7.0 ok\r\n")
            elif word == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                break
            else:
                writer.write(b"502 5.5.1 not here\r\n")
            await writer.drain()
        writer.close()


@pytest.mark.parametrize(
    "auth,credentials,expected",
    [
        ("auto", Credentials("me", oauth2_token="tok-123"), b"AUTH XOAUTH2 "),
        ("xoauth2", Credentials("me", oauth2_token="tok-123"), b"AUTH XOAUTH2 "),
        ("auto", Credentials("me", password="pw"), b"AUTH PLAIN "),
        ("plain", Credentials("me", password="pw"), b"AUTH PLAIN "),
        ("login", Credentials("me", password="pw"), b"AUTH LOGIN "),
    ],
)
async def test_auth_mechanisms(auth: str, credentials: Credentials, expected: bytes) -> None:
    import base64

    async with RecordingServer() as server:
        settings = _plain(server.port, auth=auth)
        assert await check_login(settings, credentials) == "rec.example ESMTP"
    (auth_line,) = [line for line in server.lines if line.upper().startswith(b"AUTH")]
    assert auth_line.startswith(expected)
    if expected == b"AUTH XOAUTH2 ":
        decoded = base64.b64decode(auth_line.split()[2])
        assert decoded == b"user=me\x01auth=Bearer tok-123\x01\x01"
    elif expected == b"AUTH PLAIN ":
        assert base64.b64decode(auth_line.split()[2]) == b"\x00me\x00pw"
    else:
        assert base64.b64decode(server.lines[-2]) == b"pw"


async def test_auth_refused_without_a_usable_mechanism() -> None:
    async with RecordingServer() as server:
        settings = _plain(server.port, auth="xoauth2")
        with pytest.raises(SmtpAuthError, match="OAuth2 token"):
            await check_login(settings, Credentials("me", password="pw"))
        settings = _plain(server.port, auth="cram-md5")
        with pytest.raises(SmtpAuthError):
            await check_login(settings, Credentials("me", password="pw"))
    assert not any(line.upper().startswith(b"AUTH") for line in server.lines)


async def test_small_announced_size_stops_before_mail_from() -> None:
    async with RecordingServer(size=1000) as server:
        settings = _plain(server.port)
        with pytest.raises(MessageTooLarge) as info:
            await send_bytes(
                b"Subject: x\r\n\r\n" + b"y" * 2000,
                "me@example.org",
                ["you@example.org"],
                settings,
                Credentials("me", password="pw"),
            )
    assert info.value.limit == 1000
    assert not any(line.upper().startswith((b"MAIL", b"RCPT", b"DATA")) for line in server.lines)


async def test_send_draft_with_a_live_account_files_sent_and_flags(
    sandbox: Any, mail_user: Any
) -> None:
    """The whole App-side flow: send, Sent copy, \\Answered, Drafts copy replaced then removed."""
    pytest.importorskip("app.imap.client", reason="app.imap.client (ImapClient) is not written yet")
    from app.account import Account
    from app.mime.compose import draft_from_message
    from app.models import FolderRole
    from app.smtp.sending import postpone, send_draft

    bob = _other(sandbox, mail_user, "bob")
    carol = _other(sandbox, mail_user, "carol")
    original = (
        f"From: Bob <{bob.address}>\r\nTo: {mail_user.address}\r\nSubject: lunch?\r\n"
        f"Message-ID: <lunch@localhost>\r\n\r\nToday?\r\n"
    ).encode()
    sandbox.deliver(mail_user.name, original)
    account = Account(
        "work",
        mail_user.imap_settings(),
        mail_user.credentials,
        smtp=mail_user.smtp_settings(),
        addresses=[mail_user.address],
        display_name="Me",
        data_dir=Path(sandbox.root) / f"data-{mail_user.name}",
    )
    await account.connect()
    try:
        await account.load_folders()
        inbox = account.folder("INBOX")
        assert inbox is not None and account.folder_by_role(FolderRole.SENT) is not None
        await account.open_folder(inbox)
        (uid,) = account.current.uids if account.current else (None,)
        draft = reply(original, Identity("Me", mail_user.address), own_addresses=account.addresses)
        draft.bcc = [carol.address]
        assert await postpone(account, draft) is not None
        ((saved, saved_flags),) = _messages(sandbox, mail_user, "Drafts")
        assert "\\Draft" in saved_flags and saved["Bcc"] == carol.address
        resumed = draft_from_message(saved.as_bytes(), Identity("Me", mail_user.address))
        assert resumed.bcc == [carol.address] and resumed.in_reply_to == "<lunch@localhost>"
        resumed.meta["drafts_uid"] = draft.meta["drafts_uid"]
        outcome = await send_draft(
            account, resumed, original_uid=uid, original_folder="INBOX", mode="reply"
        )
        assert outcome.sent and not outcome.warnings, outcome.message
    finally:
        await account.close()
    ((sent, sent_flags),) = _messages(sandbox, mail_user, "Sent")
    assert "\\Seen" in sent_flags and sent["Subject"] == "Re: lunch?" and "Bcc" not in sent
    ((_, flags),) = _messages(sandbox, mail_user, "INBOX")
    assert "\\Answered" in flags
    assert _messages(sandbox, mail_user, "Drafts") == []
    (got,) = _inbox(sandbox, bob)
    assert got["In-Reply-To"] == "<lunch@localhost>" and "Bcc" not in got
    assert len(_inbox(sandbox, carol)) == 1
