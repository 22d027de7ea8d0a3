"""The protocol log (app/protolog): redaction at the source, elision, bounds, reply classes.

The IMAP cases run the real engine (`Connection.open`) against a tiny in-process IMAP server
written here (no TLS: `allow_insecure`), so what is checked is what the engine logs where the
bytes go, not a hand-fed tap; the SMTP cases feed `SmtpTap` the exact writes and replies
aiosmtplib makes (the sandbox test in tests/integration/test_protolog_sandbox.py runs the real
client).
"""

from __future__ import annotations

import asyncio
import base64
import os
import stat
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from app import protolog
from app.imap.engine import Connection, ImapProtocol, _Pending
from app.imap.errors import ImapAuthError
from app.imap.parser import Literal
from app.models import Credentials, ServerSettings, TlsMode
from app.protolog import (
    BURST,
    ImapTap,
    ProtocolLog,
    SmtpTap,
    enhanced_status,
    imap_command_text,
    imap_response_text,
    reply_class,
    smtp_explain,
)

USER = "ada"
PASSWORD = "pä$$-w0rd secret"
TOKEN = "ya29.TOKEN-abcdef0123456789"


def secrets_of(user: str, password: str) -> list[bytes]:
    """Every form a credential could take on the wire or in a log."""
    plain = b"\0" + user.encode() + b"\0" + password.encode()
    return [
        password.encode(),
        base64.b64encode(password.encode()),
        base64.b64encode(plain),
        base64.b64encode(plain)[:16],
    ]


def all_text(log: ProtocolLog) -> str:
    return "\n".join(line.render(log.name) for line in log.lines)


def assert_no_secret(text: str, secrets: list[bytes]) -> None:
    data = text.encode()
    for secret in secrets:
        assert secret not in data, secret


# -- a tiny IMAP server ----------------------------------------------------------------------


class TinyImap:
    """Greets with `caps`, answers AUTHENTICATE (inline or after "+ "), LOGIN, LOGOUT."""

    def __init__(self, caps: str, *, fail_xoauth2: bool = False) -> None:
        self.caps = caps
        self.fail_xoauth2 = fail_xoauth2
        self.received: list[bytes] = []
        self.port = 0

    async def __aenter__(self) -> TinyImap:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(f"* OK [CAPABILITY {self.caps}] tiny\r\n".encode())
        done = f"OK [CAPABILITY {self.caps}] done\r\n".encode()
        try:
            while line := await reader.readline():
                self.received.append(line)
                tag, _, rest = line.rstrip(b"\r\n").partition(b" ")
                words = rest.split(b" ")
                verb = words[0].upper()
                if verb == b"AUTHENTICATE":
                    if len(words) < 3:
                        writer.write(b"+ \r\n")
                        await writer.drain()
                        self.received.append(await reader.readline())
                    if self.fail_xoauth2 and words[1].upper() == b"XOAUTH2":
                        writer.write(b"+ eyJzdGF0dXMiOiI0MDEifQ==\r\n")
                        await writer.drain()
                        self.received.append(await reader.readline())
                        writer.write(tag + b" NO [AUTHENTICATIONFAILED] Invalid credentials\r\n")
                    else:
                        writer.write(tag + b" " + done)
                elif verb == b"LOGIN":
                    while rest.endswith(b"}"):  # a synchronising literal: go ahead, read it
                        size = int(rest[rest.rindex(b"{") + 1 : -1])
                        writer.write(b"+ go ahead\r\n")
                        await writer.drain()
                        data = await reader.readexactly(size)
                        rest = (await reader.readline()).rstrip(b"\r\n")
                        self.received.append(data + rest)
                    writer.write(tag + b" " + done)
                elif verb == b"LOGOUT":
                    writer.write(b"* BYE bye\r\n" + tag + b" OK bye\r\n")
                else:
                    writer.write(tag + b" OK fine\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


@pytest.fixture
def fresh_log() -> AsyncIterator[Callable[[ServerSettings], ProtocolLog]]:
    made: list[ProtocolLog] = []

    def make(settings: ServerSettings) -> ProtocolLog:
        log = ProtocolLog("test")
        protolog.attach(log, settings)
        made.append(log)
        return log

    yield make  # type: ignore[misc]
    for log in made:
        protolog.detach(log)


def settings_for(port: int, auth: str) -> ServerSettings:
    return ServerSettings(
        host="127.0.0.1",
        port=port,
        user=USER,
        tls=TlsMode.NONE,
        allow_insecure=True,
        auth=auth,
        timeout=5.0,
        compress=False,
    )


async def _login(caps: str, auth: str, creds: Credentials, make: Callable, **kw: bool) -> tuple:
    async with TinyImap(caps, **kw) as server:
        settings = settings_for(server.port, auth)
        log = make(settings)
        conn = await Connection.open(settings, creds)
        await conn.disconnect()
    return log, server


async def test_login_password_redacted(fresh_log: Callable) -> None:
    log, server = await _login("IMAP4rev1", "login", Credentials(USER, PASSWORD), fresh_log)
    assert any(PASSWORD.encode() in r for r in server.received)  # it was sent...
    text = all_text(log)
    assert "LOGIN ada <redacted>" in text  # ...and not kept
    assert_no_secret(text, secrets_of(USER, PASSWORD))


async def test_login_password_as_literal_redacted(fresh_log: Callable) -> None:
    """A password that must go as a literal (a quote, 8-bit) is a Literal arg: still redacted,
    and its size not shown."""
    password = 'quo"te\\ and ünïcode'
    log, server = await _login("IMAP4rev1", "login", Credentials(USER, password), fresh_log)
    assert any(password.encode() in r for r in server.received)
    text = all_text(log)
    assert "LOGIN ada <redacted>" in text
    assert f"{{{len(password.encode())}" not in text
    assert_no_secret(text, secrets_of(USER, password))


async def test_authenticate_plain_sasl_ir_redacted(fresh_log: Callable) -> None:
    log, server = await _login(
        "IMAP4rev1 SASL-IR AUTH=PLAIN", "plain", Credentials(USER, PASSWORD), fresh_log
    )
    blob = base64.b64encode(b"\0ada\0" + PASSWORD.encode())
    assert any(blob in r for r in server.received)
    text = all_text(log)
    assert "AUTHENTICATE PLAIN <redacted>" in text
    assert_no_secret(text, secrets_of(USER, PASSWORD))


async def test_authenticate_plain_continuation_redacted(fresh_log: Callable) -> None:
    log, server = await _login(
        "IMAP4rev1 AUTH=PLAIN", "plain", Credentials(USER, PASSWORD), fresh_log
    )
    blob = base64.b64encode(b"\0ada\0" + PASSWORD.encode())
    assert server.received[1].strip() == blob  # sent after the "+ "
    lines = [(line.way, line.text) for line in log.lines]
    assert ("C", "<AUTHENTICATE PLAIN response redacted>") in lines
    assert any(way == "S" and text.startswith("+") for way, text in lines)
    assert_no_secret(all_text(log), secrets_of(USER, PASSWORD))


async def test_xoauth2_token_redacted_and_failure_logged(fresh_log: Callable) -> None:
    creds = Credentials(USER, oauth2_token=TOKEN)
    async with TinyImap("IMAP4rev1 SASL-IR AUTH=XOAUTH2", fail_xoauth2=True) as server:
        settings = settings_for(server.port, "xoauth2")
        log = fresh_log(settings)
        with pytest.raises(ImapAuthError):
            await Connection.open(settings, creds)
    text = all_text(log)
    assert "AUTHENTICATE XOAUTH2 <redacted>" in text
    assert "(empty response)" in text  # the error challenge answered, so the NO came
    assert "NO [AUTHENTICATIONFAILED]" in text
    blob = base64.b64encode(f"user={USER}\x01auth=Bearer {TOKEN}\x01\x01".encode())
    assert TOKEN not in text
    assert blob.decode()[:20] not in text
    assert log.last_error is not None


# -- lines, literals, bounds --------------------------------------------------------------------


def test_command_text_literal_and_long_args() -> None:
    assert imap_command_text("A1", "LOGIN", ["ada", '"x"']) == "A1 LOGIN ada <redacted>"
    assert imap_command_text("A2", "AUTHENTICATE", ["PLAIN"]) == "A2 AUTHENTICATE PLAIN"
    message = Literal(b"x" * 123456)
    assert imap_command_text("A3", "APPEND", ["INBOX", message]) == "A3 APPEND INBOX {123456 bytes}"
    assert imap_command_text("A4", "UID SEARCH", ["SUBJECT", Literal(b"caf\xc3\xa9")]) == (
        "A4 UID SEARCH SUBJECT {5}café"
    )


def test_response_literal_elided_with_size() -> None:
    body = b"A" * 123456
    resp = b"* 7 FETCH (UID 9 BODY[] {123456}\r\n" + body + b" FLAGS (\\Seen))"
    text = imap_response_text(resp)
    assert text == "* 7 FETCH (UID 9 BODY[] {123456 bytes} FLAGS (\\Seen))"
    long = b"* SEARCH " + b" ".join(str(n).encode() for n in range(100_000))
    cut = imap_response_text(long)
    assert len(cut) < 1100 and cut.endswith(f"({len(long):,} bytes in all)")


def test_ring_is_bounded() -> None:
    log = ProtocolLog("ring", max_lines=50)
    for n in range(200):
        log.add("imap1", "S", f"* {n} EXISTS")
    assert len(log.lines) == 50
    assert log.lines[0].text == "* 150 EXISTS" and log.lines[-1].seq == 200


def test_big_fetch_logs_a_bounded_number_of_lines() -> None:
    """100,000 FETCH responses through the real framer: BURST of them logged, the rest counted."""
    loop = asyncio.new_event_loop()
    try:
        proto = ImapProtocol(loop)
        proto.greeting.set_result(b"* OK")
        log = ProtocolLog("big")
        proto.tap = ImapTap(log, "imap1")
        proto.tap.command("A1", "UID FETCH", ["1:*", "(FLAGS)"])
        cmd = _Pending(loop, "A1", "UID FETCH", lambda raw: None, None)
        cmd.sent = True
        proto.inflight.append(cmd)
        proto.by_tag["A1"] = cmd
        data = b"".join(b"* %d FETCH (UID %d FLAGS ())\r\n" % (n, n) for n in range(1, 100_001))
        proto.data_received(data + b"A1 OK done\r\n")
        assert cmd.future.done()
    finally:
        loop.close()
    texts = [line.text for line in log.lines]
    assert len(texts) == 1 + BURST + 2
    assert texts[-2].startswith(f"… {100_000 - BURST:,} more untagged responses")
    assert texts[-1] == "A1 OK done" and log.lines[-1].kind == "ok"


# -- SMTP --------------------------------------------------------------------------------------


def test_reply_classes_named() -> None:
    assert reply_class(250) == "2xx success"
    assert reply_class(354) == "3xx more input"
    assert reply_class(451) == "4xx temporary failure"
    assert reply_class(550) == "5xx permanent failure"
    assert reply_class(-1) == ""
    assert enhanced_status("5.7.1 Relaying denied") == (
        "5.7.1 delivery not authorized, message refused"
    )
    assert enhanced_status("4.9.99 odd") == "4.9.99 unknown status"
    assert enhanced_status("5.2.77 odd") == "5.2.77 mailbox status"
    assert enhanced_status("OK 5.1.1") == ""
    assert smtp_explain(550, "5.1.1 No such user") == (
        "5xx permanent failure · 5.1.1 bad destination mailbox address"
    )


def test_smtp_auth_login_two_step_redacted() -> None:
    """aiosmtplib's auth_login: "AUTH LOGIN <user>", 334, "<password>", 235."""
    log = ProtocolLog("smtp")
    tap = SmtpTap(log, "smtp1")
    tap.sent(b"AUTH LOGIN " + base64.b64encode(USER.encode()) + b"\r\n")
    tap.reply(334, "UGFzc3dvcmQ6")
    tap.sent(base64.b64encode(PASSWORD.encode()) + b"\r\n")
    tap.reply(235, "2.7.0 Authentication successful")
    tap.sent(b"MAIL FROM:<ada@example.org>\r\n")
    tap.reply(250, "OK")
    texts = [line.text for line in log.lines]
    assert texts == [
        "AUTH LOGIN <redacted>",
        "334 UGFzc3dvcmQ6",
        "<AUTH response <redacted>>",
        "235 2.7.0 Authentication successful",
        "MAIL FROM:<ada@example.org>",
        "250 OK",
    ]
    assert_no_secret(all_text(log), [*secrets_of(USER, PASSWORD), base64.b64encode(b"ada")])


def test_smtp_plain_and_xoauth2_redacted() -> None:
    log = ProtocolLog("smtp")
    tap = SmtpTap(log, "smtp1")
    tap.sent(b"AUTH PLAIN " + base64.b64encode(b"\0ada\0" + PASSWORD.encode()) + b"\r\n")
    tap.reply(535, "5.7.8 Authentication credentials invalid")
    xo = base64.b64encode(f"user={USER}\x01auth=Bearer {TOKEN}\x01\x01".encode())
    tap.sent(b"AUTH XOAUTH2 " + xo + b"\r\n")
    tap.reply(334, "eyJzdGF0dXMiOiI0MDEifQ==")
    tap.sent(b"\r\n")
    tap.reply(535, "5.7.8 Username and Password not accepted")
    text = all_text(log)
    assert_no_secret(text, [*secrets_of(USER, PASSWORD), TOKEN.encode(), xo[:20]])
    assert "[5xx permanent failure · 5.7.8 authentication credentials invalid]" in text
    assert log.last_error == log.lines[-1].seq


def test_smtp_message_and_multiline_reply() -> None:
    log = ProtocolLog("smtp")
    tap = SmtpTap(log, "smtp1")
    tap.reply(250, "localhost\nSIZE 1000\nHELP")
    tap.sent(b"DATA\r\n")
    tap.reply(354, "End data with <CR><LF>.<CR><LF>")
    tap.sent(b"Subject: hi\r\n\r\n" + b"secret body\r\n" * 1000 + b".\r\n")
    tap.reply(451, "4.3.0 Local error in processing")
    texts = [line.text for line in log.lines]
    assert texts[:3] == ["250-localhost", "250-SIZE 1000", "250 HELP"]
    assert texts[5] == "<message: 13,018 bytes, ending with CRLF.CRLF>"
    assert "secret body" not in all_text(log)
    last = log.lines[-1]
    assert last.kind == "4" and last.error
    assert last.explain == "4xx temporary failure · 4.3.0 other or undefined mail system status"


# -- hostile text, files ----------------------------------------------------------------------


def test_escape_sequences_never_kept_raw(tmp_path: Path) -> None:
    live = protolog.set_live_file(tmp_path / "live.log")
    try:
        log = ProtocolLog("hostile")
        tap = ImapTap(log, "imap1")
        tap.response(b"* OK \x1b]0;owned\x07 \x1b[2J\x9b31m\xe2\x80\xae evil")
        SmtpTap(log, "smtp1").reply(550, "5.7.1 \x1b[31mred\x1b[0m")
        saved = log.save(tmp_path / "saved.log")
    finally:
        protolog.set_live_file(None)
    assert live is not None
    for path in (tmp_path / "live.log", saved):
        data = path.read_bytes()
        assert b"\x1b" not in data and b"\x07" not in data and "\u202e".encode() not in data
        assert "␛".encode() in data
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    for line in log.lines:
        assert "\x1b" not in line.text and "\x9b" not in line.text


def test_save_never_overwrites(tmp_path: Path) -> None:
    log = ProtocolLog("s")
    log.add("imap1", "S", "* OK")
    first = log.save(tmp_path / "p.log")
    second = log.save(tmp_path / "p.log")
    assert first.name == "p.log" and second.name == "p (1).log"


def test_live_file_mode_tightened(tmp_path: Path) -> None:
    path = tmp_path / "wide.log"
    path.write_text("old\n")
    path.chmod(0o644)
    protolog.set_live_file(path)
    try:
        ProtocolLog("w").add("smtp1", "C", "QUIT")
    finally:
        protolog.set_live_file(None)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().splitlines()[-1].endswith("w smtp1 C: QUIT")


def test_live_file_leaves_a_device_mode_alone(tmp_path: Path) -> None:
    """`--log-protocol /dev/null` as root made /dev/null 0600 (Cyrus, under its own user,
    then could not open it): only a regular file is tightened. A FIFO stands in for the
    device here."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo, 0o644)
    fifo.chmod(0o644)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        protolog.set_live_file(fifo)
        try:
            ProtocolLog("w").add("smtp1", "C", "QUIT")
        finally:
            protolog.set_live_file(None)
        assert stat.S_IMODE(fifo.stat().st_mode) == 0o644
        assert os.read(reader, 4096).decode().rstrip().endswith("w smtp1 C: QUIT")
    finally:
        os.close(reader)


def test_search() -> None:
    log = ProtocolLog("q")
    log.add("imap1", "C", "A1 SELECT INBOX")
    log.add("smtp2", "S", "550 5.7.1 no", kind="5", explain="5xx permanent failure")
    assert [line.text for line in log.search("select")] == ["A1 SELECT INBOX"]
    assert [line.conn for line in log.search("PERMANENT")] == ["smtp2"]
    assert len(log.search("smtp2")) == 1 and len(log.search("")) == 2
