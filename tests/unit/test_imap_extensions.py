"""UTF8=ACCEPT (RFC 6855) and LITERAL- (RFC 7888) against a scripted server.

Dovecot 2.3 offers neither, so a small in-process server plays a server that does, answering as
RFC 6855 / 7888 show and recording every byte the engine sends. What is shown: UTF8=ACCEPT is
enabled and mailbox names then go out as UTF-8 (not modified UTF-7); a UTF-8 name in a LIST reply
is read as such; with LITERAL- a literal up to 4,096 bytes is sent without waiting and a bigger
one waits for the server's continuation; without UTF8=ACCEPT names are modified UTF-7.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from app.imap.engine import Connection
from app.imap.parser import ListData, Literal
from app.models import Credentials, ServerSettings, TlsMode

LITERAL = re.compile(rb"\{(\d+)(\+?)\}\r\n$")


class ScriptedServer:
    """Enough of an IMAP server to log in, ENABLE, LIST, CREATE and APPEND, recording commands."""

    def __init__(self, capabilities: str) -> None:
        self.capabilities = capabilities
        self.commands: list[bytes] = []
        self.continuations = 0
        self.enabled: set[str] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(f"* OK [CAPABILITY {self.capabilities}] scripted\r\n".encode())
        try:
            while True:
                command = await self._read_command(reader, writer)
                if command is None:
                    return
                self.commands.append(command)
                tag, _, rest = command.partition(b" ")
                verb = rest.split(b" ", 1)[0].upper()
                writer.write(self._answer(tag, verb, rest))
                await writer.drain()
                if verb == b"LOGOUT":
                    return
        finally:
            writer.close()

    async def _read_command(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bytes | None:
        out = b""
        while True:
            line = await reader.readline()
            if not line:
                return None
            out += line
            m = LITERAL.search(line)
            if m is None:
                return out.rstrip(b"\r\n")
            if not m.group(2):  # synchronising: the client waits for us
                self.continuations += 1
                writer.write(b"+ go ahead\r\n")
                await writer.drain()
            out += await reader.readexactly(int(m.group(1)))

    def _answer(self, tag: bytes, verb: bytes, rest: bytes) -> bytes:
        ok = tag + b" OK done\r\n"
        if verb == b"CAPABILITY":
            return f"* CAPABILITY {self.capabilities}\r\n".encode() + ok
        if verb == b"ENABLE":
            wanted = {w.decode().upper() for w in rest.split()[1:]}
            self.enabled |= wanted & {"UTF8=ACCEPT"}
            return b"* ENABLED " + " ".join(sorted(self.enabled)).encode() + b"\r\n" + ok
        if verb == b"LIST":
            name = "Entwürfe/Café" if "UTF8=ACCEPT" in self.enabled else "Entw&APw-rfe/Caf&AOk-"
            return f'* LIST () "/" "{name}"\r\n'.encode() + ok
        if verb == b"LOGOUT":
            return b"* BYE bye\r\n" + ok
        return ok


@asynccontextmanager
async def scripted(capabilities: str) -> AsyncIterator[tuple[ScriptedServer, Connection]]:
    server = ScriptedServer(capabilities)
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    settings = ServerSettings(
        host="127.0.0.1",
        port=port,
        user="u",
        tls=TlsMode.NONE,
        allow_insecure=True,
        auth="login",
        timeout=5.0,
        compress=False,
    )
    conn = await Connection.open(settings, Credentials("u", "pw"))
    try:
        yield server, conn
    finally:
        await conn.disconnect()
        listener.close()
        await listener.wait_closed()


def sent(server: ScriptedServer, verb: bytes) -> list[bytes]:
    return [c for c in server.commands if c.split(b" ", 2)[1].upper() == verb]


async def test_utf8_accept_is_enabled_and_names_go_out_as_utf8() -> None:
    async with scripted("IMAP4rev1 ENABLE UTF8=ACCEPT") as (server, conn):
        assert "UTF8=ACCEPT" in conn.enabled and conn.utf8
        await conn.execute("CREATE", conn.mailbox_arg("Entwürfe/Café"))
        resp = await conn.execute("LIST", '""', '"*"')
        names = [conn._parse(raw) for raw in resp.untagged]
    assert sent(server, b"ENABLE") and b"UTF8=ACCEPT" in sent(server, b"ENABLE")[0]
    create = sent(server, b"CREATE")[0]
    assert "Entwürfe/Café".encode() in create and b"&" not in create
    listed = [n for n in names if isinstance(n, ListData)]
    assert listed and listed[0].name == "Entwürfe/Café"


async def test_without_utf8_accept_names_are_modified_utf7() -> None:
    async with scripted("IMAP4rev1 ENABLE") as (server, conn):
        assert not conn.utf8
        await conn.execute("CREATE", conn.mailbox_arg("Entwürfe/Café"))
    assert b"Entw&APw-rfe/Caf&AOk-" in sent(server, b"CREATE")[0]
    assert not sent(server, b"ENABLE")  # nothing it wants is offered


async def test_literal_minus_sends_small_literals_without_waiting() -> None:
    small = b"Subject: hi\r\n\r\n" + b"x" * 1000 + b"\r\n"
    big = b"Subject: big\r\n\r\n" + b"y" * 5000 + b"\r\n"
    async with scripted("IMAP4rev1 LITERAL-") as (server, conn):
        await conn.execute("APPEND", conn.mailbox_arg("INBOX"), Literal(small))
        assert server.continuations == 0
        await conn.execute("APPEND", conn.mailbox_arg("INBOX"), Literal(big))
        assert server.continuations == 1  # over 4,096 bytes: synchronising, as RFC 7888 says
    appends = sent(server, b"APPEND")
    # (the recorder strips the command's final CRLF, which here follows the literal's own)
    assert b"{%d+}\r\n" % len(small) in appends[0] and appends[0].endswith(small.rstrip())
    assert b"{%d}\r\n" % len(big) in appends[1] and appends[1].endswith(big.rstrip())


async def test_without_literal_extensions_every_literal_waits() -> None:
    async with scripted("IMAP4rev1") as (server, conn):
        await conn.execute("APPEND", conn.mailbox_arg("INBOX"), Literal(b"a\r\nb"))
    assert server.continuations == 1
