"""Regression tests for app/imap/engine.py: each measured aioimaplib 2.0.3 bug, shown failing on the
unpatched library and fixed by the engine, against a tiny scripted IMAP server on 127.0.0.1.

The unpatched runs use short timeouts: their failure *is* a hang, so it shows as a timeout.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aioimaplib import aioimaplib as aio
from hypothesis import given
from hypothesis import strategies as st

from app.imap import client as client_module
from app.imap import parser
from app.imap.engine import Connection, ImapProtocol, Response, _Pending
from app.imap.errors import (
    ImapAuthError,
    ImapConnectionError,
    ImapNoError,
    ImapProtocolError,
    ImapTimeout,
    ImapTlsError,
)
from app.imap.parser import Literal
from app.models import Credentials, ServerSettings, TlsMode

SHORT = 0.6  # seconds an unpatched client is given before its hang counts as a failure
CAPS = b"IMAP4rev1 IDLE LITERAL+ AUTH=PLAIN SASL-IR UIDPLUS"

# -- the fake server ---------------------------------------------------------------------------


class Peer:
    """One client connection as the fake server sees it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def readline(self) -> bytes:
        return await self.reader.readline()

    def close(self) -> None:
        self.writer.close()


Handler = bytes | Callable[[Peer, bytes, bytes], Awaitable[None]]
CLOSE = b"<close>"


class FakeServer:
    """Replays scripted answers: `handlers` maps a verb ("SELECT", "UID FETCH") to the bytes to
    send back ("{tag}" is replaced by the command's tag; CLOSE closes the connection) or to a
    coroutine `(peer, tag, line)` for interactive scripts. Every received command is recorded."""

    def __init__(
        self, handlers: dict[str, Handler] | None = None, greeting: bytes = b"* OK fake ready\r\n"
    ) -> None:
        self.handlers: dict[str, Handler] = {
            "CAPABILITY": b"* CAPABILITY " + CAPS + b"\r\n{tag} OK done\r\n",
            "LOGIN": b"{tag} OK logged in\r\n",
            "AUTHENTICATE": b"{tag} OK logged in\r\n",
            "SELECT": b"* 3 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n{tag} OK [READ-WRITE] done\r\n",
            "NOOP": b"{tag} OK noop\r\n",
            "CREATE": b"{tag} OK created\r\n",
            "LOGOUT": b"* BYE bye\r\n{tag} OK bye\r\n",
        }
        self.handlers.update(handlers or {})
        self.greeting = greeting
        self.received: list[bytes] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._peers: list[Peer] = []

    async def __aenter__(self) -> FakeServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for peer in self._peers:
            peer.close()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _read_command(self, peer: Peer) -> bytes:
        line = await peer.readline()
        while True:
            m = re.search(rb"\{(\d+)(\+?)\}\r\n$", line)
            if m is None:
                return line
            if not m.group(2):
                peer.send(b"+ go ahead\r\n")
            line += await peer.reader.readexactly(int(m.group(1)))
            line += await peer.readline()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = Peer(reader, writer)
        self._peers.append(peer)
        try:
            peer.send(self.greeting)
            while True:
                line = await self._read_command(peer)
                if not line:
                    return
                self.received.append(line)
                tag, _, rest = line.rstrip(b"\r\n").partition(b" ")
                words = rest.split(b" ")
                verb = words[0].upper().decode()
                if verb == "UID" and len(words) > 1:
                    verb = "UID " + words[1].upper().decode()
                handler = self.handlers.get(verb, b"{tag} BAD unknown command\r\n")
                if isinstance(handler, bytes):
                    if handler == CLOSE:
                        writer.close()
                        return
                    peer.send(handler.replace(b"{tag}", tag))
                else:
                    await handler(peer, tag, line)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    def commands(self) -> list[bytes]:
        """Received commands without their tags."""
        return [line.partition(b" ")[2].rstrip(b"\r\n") for line in self.received]

    # -- clients --

    def settings(self, **overrides: Any) -> ServerSettings:
        values: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": self.port,
            "user": "u",
            "tls": TlsMode.NONE,
            "allow_insecure": True,
            "auth": "login",
            "timeout": 3.0,
        }
        values.update(overrides)
        return ServerSettings(**values)

    async def patched(self, **overrides: Any) -> Connection:
        conn = await Connection.open(self.settings(**overrides), Credentials("u", "p"))
        if "SELECT" in self.handlers:
            (await conn.select("INBOX")).check()
        return conn

    async def unpatched(self, timeout: float = SHORT) -> aio.IMAP4:
        client = aio.IMAP4("127.0.0.1", self.port, timeout=timeout)
        await client.wait_hello_from_server()
        await client.login("u", "p")
        await client.select("INBOX")
        return client


async def _close_unpatched(client: aio.IMAP4) -> None:
    if client.protocol.transport is not None:
        client.protocol.transport.close()
    for task in list(client.tasks):
        task.cancel()
    await asyncio.sleep(0)


def _fetch_lines(n: int, start: int = 1) -> bytes:
    return b"".join(b"* %d FETCH (UID %d FLAGS (\\Seen))\r\n" % (i, i) for i in range(start, n + 1))


# -- 1. upstream #118: recursion per response line ---------------------------------------------


async def test_large_fetch_does_not_recurse_upstream_118() -> None:
    n = 12_000
    handlers: dict[str, Handler] = {"UID FETCH": _fetch_lines(n) + b"{tag} OK done\r\n"}
    async with FakeServer(handlers) as server:
        old = await server.unpatched()
        # Unpatched: RecursionError inside data_received kills the transport, and the FETCH
        # hangs (the error even lands between cancelling and re-arming the command's timer).
        with pytest.raises((aio.CommandTimeout, TimeoutError)):
            await asyncio.wait_for(old.uid("fetch", "1:*", "(UID FLAGS)"), 2 * SHORT)
        await _close_unpatched(old)

        conn = await server.patched()
        resp = (await conn.execute("UID FETCH", "1:*", "(UID FLAGS)")).check()
        assert len(resp.untagged) == n
        uids = [parser.parse_untagged(r).uid for r in resp.untagged]  # type: ignore[union-attr]
        assert uids == list(range(1, n + 1))
        await conn.disconnect()


# -- 2. quadratic FETCH handling -----------------------------------------------------------------


class _NullTransport:
    def __init__(self) -> None:
        self.written = bytearray()

    def write(self, data: bytes) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass


def _unpatched_wait_data_visits(n: int) -> int:
    """Lines FetchCommand.wait_data looks at while n FETCH lines arrive one by one."""
    visits = 0

    class Counting(aio.FetchCommand):  # type: ignore[misc]
        def wait_data(self) -> bool:
            nonlocal visits
            visits += len(self._resp_lines)
            return bool(super().wait_data())

    loop = asyncio.get_running_loop()
    proto = aio.IMAP4ClientProtocol(loop)
    proto.connection_made(_NullTransport())
    proto.state = aio.SELECTED
    proto.pending_async_commands["FETCH"] = Counting("A1", "1:*", "(UID)", loop=loop)
    for line in _fetch_lines(n).splitlines(keepends=True):
        proto.data_received(line)
    return visits


def _patched_framer(loop: asyncio.AbstractEventLoop) -> tuple[ImapProtocol, list[bytes]]:
    proto = ImapProtocol(loop)
    proto.connection_made(_NullTransport())
    proto.data_received(b"* OK greeting\r\n")
    got: list[bytes] = []
    cmd = _Pending(loop, "A1", "UID FETCH", got.append, None)
    proto.inflight.append(cmd)
    proto.by_tag["A1"] = cmd
    return proto, got


async def test_fetch_framing_is_linear_not_quadratic() -> None:
    # Unpatched: every new line makes wait_data re-scan all lines so far (n^2 / 2).
    small, big = _unpatched_wait_data_visits(300), _unpatched_wait_data_visits(600)
    assert small >= 300 * 300 // 2 - 300
    assert big >= 3.5 * small
    # Patched: the framer examines each received byte a bounded number of times.
    loop = asyncio.get_running_loop()
    for n in (300, 600, 5000):
        proto, got = _patched_framer(loop)
        before = proto.work
        data = _fetch_lines(n)
        for line in data.splitlines(keepends=True):
            proto.data_received(line)
        assert len(got) == n
        assert proto.work - before <= len(data) + n


_RESPONSE = st.one_of(
    st.binary(max_size=30).map(lambda b: b"* 1 FETCH (X " + b.replace(b"\r\n", b"..") + b")"),
    st.binary(max_size=40).map(lambda b: b"* 2 FETCH (BODY[] {%d}\r\n" % len(b) + b + b" UID 9)"),
    st.binary(max_size=20).map(lambda b: b"* 3 FETCH (A ~{%d}\r\n" % len(b) + b + b" B {0}\r\n)"),
)


@given(
    responses=st.lists(_RESPONSE, min_size=1, max_size=8),
    cuts=st.lists(st.integers(min_value=1, max_value=23), max_size=40),
)
async def test_framing_is_independent_of_how_bytes_arrive(
    responses: list[bytes], cuts: list[int]
) -> None:
    loop = asyncio.get_running_loop()
    proto, got = _patched_framer(loop)
    stream = b"".join(r + b"\r\n" for r in responses)
    pos = 0
    for cut in cuts:
        proto.data_received(stream[pos : pos + cut])
        pos += cut
    proto.data_received(stream[pos:])
    assert got == responses
    # Each byte looked at a bounded number of times whatever the chunking.
    assert proto.work <= 2 * len(stream) + 2 * len(cuts) + 64


# -- 3. "* " removed from the middle of responses ---------------------------------------------


async def test_star_space_inside_a_response_is_kept() -> None:
    line = b'* 1 FETCH (UID 1 ENVELOPE (NIL "Message number 0 * star" NIL NIL NIL NIL NIL NIL NIL NIL))\r\n'
    async with FakeServer({"UID FETCH": line + b"{tag} OK done\r\n"}) as server:
        old = await server.unpatched(timeout=3)
        resp = await old.uid("fetch", "1", "(UID ENVELOPE)")
        joined = b" ".join(bytes(x) for x in resp.lines)
        assert b"Message number 0 star" in joined  # the unpatched library corrupts the subject
        assert b"0 * star" not in joined
        await _close_unpatched(old)

        conn = await server.patched()
        resp2 = (await conn.execute("UID FETCH", "1", "(UID ENVELOPE)")).check()
        data = parser.parse_untagged(resp2.untagged[0])
        assert isinstance(data, parser.FetchData) and data.envelope is not None
        assert data.envelope.subject == "Message number 0 * star"
        await conn.disconnect()


# -- 4. mailbox arguments sent unquoted ---------------------------------------------------------


async def test_mailbox_names_are_quoted_and_encoded() -> None:
    async with FakeServer() as server:
        old = await server.unpatched(timeout=3)
        await old.create("My Folder")
        assert server.commands()[-1] == b"CREATE My Folder"  # a server creates "My"
        await _close_unpatched(old)

        conn = await server.patched()
        (await conn.create("My Folder")).check()
        assert server.commands()[-1] == b'CREATE "My Folder"'
        (await conn.create("Entwürfe & Co")).check()
        assert server.commands()[-1] == b'CREATE "Entw&APw-rfe &- Co"'
        (await conn.create('a"b\\c')).check()
        assert server.commands()[-1] == b'CREATE "a\\"b\\\\c"'
        with pytest.raises(ValueError):
            await conn.execute("CREATE", "x\r\nA2 DELETE INBOX")
        await conn.disconnect()


# -- 5. state after the connection died ---------------------------------------------------------


async def test_dead_connection_is_known_at_once() -> None:
    async def select_then_close(peer: Peer, tag: bytes, line: bytes) -> None:
        peer.send(b"* 1 EXISTS\r\n" + tag + b" OK [READ-WRITE] done\r\n")
        await peer.writer.drain()
        await asyncio.sleep(0.05)
        peer.close()

    async with FakeServer({"SELECT": select_then_close}) as server:
        old = await server.unpatched()
        await asyncio.sleep(0.2)
        assert old.get_state() == aio.SELECTED  # unpatched: still "selected" on a dead socket
        with pytest.raises(TimeoutError):
            await old.noop()  # and a command waits for the whole timeout
        await _close_unpatched(old)

        conn = await server.patched()
        await asyncio.sleep(0.2)
        assert conn.closed and conn.get_state() == aio.LOGOUT
        with pytest.raises(ImapConnectionError) as info:
            await conn.noop()
        assert info.value.applied is False and info.value.retryable


async def test_command_in_flight_fails_when_the_server_goes_away() -> None:
    async with FakeServer({"UID FETCH": CLOSE}) as server:
        conn = await server.patched()
        with pytest.raises(ImapConnectionError) as info:
            await conn.execute("UID FETCH", "1:*", "(FLAGS)")
        assert info.value.applied is None  # it was sent: the server may have acted on it
        assert not isinstance(info.value, ImapTimeout)


# -- 6. idle_start hangs when the server closes (upstream #110); BYE during IDLE ----------------


async def test_idle_start_does_not_hang_when_the_server_closes_upstream_110() -> None:
    async with FakeServer({"IDLE": CLOSE}) as server:
        old = await server.unpatched()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(old.idle_start(), 1.0)
        await _close_unpatched(old)

        conn = await server.patched()
        with pytest.raises(ImapConnectionError):
            await conn.idle_start()
        assert conn.closed


async def test_bye_during_idle_ends_the_wait() -> None:
    async def idle_then_bye(peer: Peer, tag: bytes, line: bytes) -> None:
        peer.send(b"+ idling\r\n")
        await peer.writer.drain()
        await asyncio.sleep(0.1)
        peer.send(b"* BYE server shutting down\r\n")
        await peer.writer.drain()
        peer.close()

    async with FakeServer({"IDLE": idle_then_bye}) as server:
        old = await server.unpatched(timeout=3)
        idle = await old.idle_start(timeout=5)
        pushed = await old.wait_server_push(timeout=2)
        assert any(b"BYE" in bytes(x) for x in pushed)
        await asyncio.sleep(0.2)
        assert not idle.done()  # unpatched: the IDLE command never completes
        idle.cancel()
        await _close_unpatched(old)

        conn = await server.patched()
        await conn.idle_start()
        seen: list[bytes] = []
        with pytest.raises(ImapConnectionError) as info:
            for _ in range(5):
                seen += await conn.idle_wait(2.0)
        assert seen == [b"* BYE server shutting down"]
        assert "shutting down" in str(info.value)


# -- 7. unmatched "(" in a quoted string (upstream #51) -----------------------------------------


async def test_paren_inside_quoted_string_keeps_responses_apart_upstream_51() -> None:
    body = (
        b'* 1 FETCH (UID 1 ENVELOPE (NIL "Re: (tick" NIL NIL NIL NIL NIL NIL NIL NIL))\r\n'
        b'* 2 FETCH (UID 2 ENVELOPE (NIL "fine" NIL NIL NIL NIL NIL NIL NIL NIL))\r\n'
    )
    async with FakeServer({"UID FETCH": body + b"{tag} OK done\r\n"}) as server:
        old = await server.unpatched(timeout=3)
        resp = await old.uid("fetch", "1:2", "(UID ENVELOPE)")
        assert any(bytes(x).startswith(b"* 2 FETCH") for x in resp.lines)  # glued, prefix kept
        await _close_unpatched(old)

        conn = await server.patched()
        resp2 = (await conn.execute("UID FETCH", "1:2", "(UID ENVELOPE)")).check()
        parsed = [parser.parse_untagged(r) for r in resp2.untagged]
        assert [p.uid for p in parsed] == [1, 2]  # type: ignore[union-attr]
        assert parsed[0].envelope.subject == "Re: (tick"  # type: ignore[union-attr]
        await conn.disconnect()


# -- 8. untagged EXISTS / EXPUNGE during a FETCH -------------------------------------------------


async def test_exists_and_expunge_during_fetch_reach_the_caller() -> None:
    body = (
        b"* 1 FETCH (UID 1 FLAGS ())\r\n* 4 EXISTS\r\n* 2 EXPUNGE\r\n* 2 FETCH (UID 3 FLAGS ())\r\n"
    )
    async with FakeServer({"UID FETCH": body + b"{tag} OK done\r\n"}) as server:
        old = await server.unpatched(timeout=3)
        resp = await old.uid("fetch", "1:3", "(UID FLAGS)")
        joined = b"|".join(bytes(x) for x in resp.lines)
        assert b"EXISTS" not in joined and b"EXPUNGE" not in joined  # unpatched: dropped
        await _close_unpatched(old)

        conn = await server.patched()
        resp2 = (await conn.execute("UID FETCH", "1:3", "(UID FLAGS)")).check()
        assert b"* 4 EXISTS" in resp2.untagged and b"* 2 EXPUNGE" in resp2.untagged
        await conn.disconnect()


async def test_untagged_between_commands_are_kept_as_unsolicited() -> None:
    async def noop_then_push(peer: Peer, tag: bytes, line: bytes) -> None:
        peer.send(tag + b" OK noop\r\n* 5 EXISTS\r\n")

    async with FakeServer({"NOOP": noop_then_push}) as server:
        conn = await server.patched()
        await conn.noop()
        await asyncio.sleep(0.1)
        assert conn.take_unsolicited() == [b"* 5 EXISTS"]
        assert conn.take_unsolicited() == []
        await conn.disconnect()


# -- 9. XOAUTH2 failure hangs -------------------------------------------------------------------


async def test_xoauth2_failure_is_an_auth_error_not_a_hang() -> None:
    challenge = base64.b64encode(b'{"status":"401","schemes":"bearer"}')

    async def xoauth2(peer: Peer, tag: bytes, line: bytes) -> None:
        peer.send(b"+ " + challenge + b"\r\n")
        await peer.writer.drain()
        answer = await peer.readline()  # the client must answer the error challenge
        peer.received = answer  # type: ignore[attr-defined]
        peer.send(tag + b" NO [AUTHENTICATIONFAILED] Invalid credentials\r\n")

    caps = b"* CAPABILITY IMAP4rev1 AUTH=XOAUTH2 SASL-IR\r\n{tag} OK done\r\n"
    async with FakeServer({"AUTHENTICATE": xoauth2, "CAPABILITY": caps}) as server:
        old = aio.IMAP4("127.0.0.1", server.port, timeout=SHORT)
        await old.wait_hello_from_server()
        with pytest.raises(TimeoutError):
            await old.xoauth2("u", "token")  # unpatched: never answers the "+" line
        await _close_unpatched(old)

        settings = server.settings(auth="xoauth2")
        with pytest.raises(ImapAuthError) as info:
            await Connection.open(settings, Credentials("u", oauth2_token="token"))
        assert info.value.code_name == "AUTHENTICATIONFAILED"
        assert "Invalid credentials" in str(info.value)


# -- 10. CommandTimeout is not a TimeoutError; a timeout wedges the connection ----------------


async def _never_answer(peer: Peer, tag: bytes, line: bytes) -> None:
    return None


async def test_timeout_is_a_timeout_error_and_drops_the_connection() -> None:
    async with FakeServer({"UID FETCH": _never_answer}) as server:
        old = await server.unpatched()
        with pytest.raises(aio.CommandTimeout) as old_info:
            await old.uid("fetch", "1", "(FLAGS)")
        assert not isinstance(
            old_info.value, TimeoutError
        )  # unpatched: escapes `except TimeoutError`
        await _close_unpatched(old)

        conn = await server.patched(timeout=0.5)
        with pytest.raises(TimeoutError) as info:
            await conn.execute("UID FETCH", "1", "(FLAGS)")
        assert isinstance(info.value, ImapTimeout) and info.value.retryable
        assert conn.closed
        with pytest.raises(ImapConnectionError) as again:
            await conn.noop()
        assert again.value.applied is False


async def test_unpatched_timeout_on_a_sync_command_wedges_the_next_one() -> None:
    handlers: dict[str, Handler] = {"EXAMINE": _never_answer}
    async with FakeServer(handlers) as server:
        old = await server.unpatched()
        with pytest.raises(TimeoutError):
            await old.examine("INBOX")
        with pytest.raises(TimeoutError):
            await old.noop()  # the server would answer at once, but the client is wedged
        await _close_unpatched(old)

        conn = await server.patched(timeout=0.5)
        with pytest.raises(ImapTimeout):
            await conn.examine("INBOX")
        # A new connection is the way on; the old one says so immediately.
        with pytest.raises(ImapConnectionError):
            await conn.noop()


async def test_slow_but_steady_data_is_not_a_timeout() -> None:
    async def trickle(peer: Peer, tag: bytes, line: bytes) -> None:
        for i in range(1, 8):
            peer.send(b"* %d FETCH (UID %d)\r\n" % (i, i))
            await peer.writer.drain()
            await asyncio.sleep(0.1)
        peer.send(tag + b" OK done\r\n")

    async with FakeServer({"UID FETCH": trickle}) as server:
        conn = await server.patched(timeout=0.35)
        resp = (await conn.execute("UID FETCH", "1:*", "(UID)")).check()
        assert len(resp.untagged) == 7
        await conn.disconnect()


# -- connection set-up: TLS policy, PREAUTH, auth ---------------------------------------------


async def test_starttls_required_but_not_offered_sends_no_credentials() -> None:
    async with FakeServer() as server:
        with pytest.raises(ImapTlsError, match="STARTTLS"):
            await Connection.open(server.settings(tls=TlsMode.STARTTLS), Credentials("u", "p"))
        assert not any(b"LOGIN" in c or b"AUTHENTICATE" in c for c in server.commands())


async def test_plaintext_login_refused_unless_allowed() -> None:
    async with FakeServer() as server:
        settings = server.settings(allow_insecure=False)
        with pytest.raises(ImapTlsError, match="allow_insecure"):
            await Connection.open(settings, Credentials("u", "p"))
        assert not any(b"LOGIN" in c or b"AUTHENTICATE" in c for c in server.commands())


async def test_preauth_where_starttls_is_required_is_refused() -> None:
    greeting = b"* PREAUTH [CAPABILITY " + CAPS + b"] welcome\r\n"
    async with FakeServer(greeting=greeting) as server:
        with pytest.raises(ImapTlsError, match="PREAUTH"):
            await Connection.open(server.settings(tls=TlsMode.STARTTLS), Credentials("u", "p"))
        with pytest.raises(ImapAuthError, match="PREAUTH"):
            await Connection.open(server.settings(), Credentials("u", "p"))
        assert server.received == []  # not one byte was sent


async def test_preauth_without_credentials_is_accepted() -> None:
    greeting = b"* PREAUTH [CAPABILITY " + CAPS + b"] welcome\r\n"
    async with FakeServer(greeting=greeting) as server:
        conn = await Connection.open(server.settings(), None)
        assert conn.preauth and conn.state == aio.AUTH
        assert conn.has_capability("IDLE")
        await conn.disconnect()


async def test_starttls_injection_is_refused() -> None:
    caps = b"* CAPABILITY IMAP4rev1 STARTTLS\r\n{tag} OK done\r\n"
    injected = b"{tag} OK Begin TLS\r\n* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected\r\n"
    async with FakeServer({"CAPABILITY": caps, "STARTTLS": injected}) as server:
        with pytest.raises(ImapTlsError, match="after STARTTLS"):
            await Connection.open(server.settings(tls=TlsMode.STARTTLS), Credentials("u", "p"))
        assert not any(b"LOGIN" in c for c in server.commands())


async def test_bad_greetings_are_typed_errors() -> None:
    async with FakeServer(greeting=b"* BYE too many connections\r\n") as server:
        with pytest.raises(ImapConnectionError, match="too many connections"):
            await Connection.open(server.settings(), Credentials("u", "p"))
    async with FakeServer(greeting=b"HTTP/1.1 400 Bad Request\r\n") as server:
        with pytest.raises(ImapProtocolError):
            await Connection.open(server.settings(), Credentials("u", "p"))
    with pytest.raises(ImapConnectionError) as info:
        await Connection.open(ServerSettings("127.0.0.1", 1, "u", tls=TlsMode.NONE), None)
    assert info.value.applied is False


async def test_login_failure_carries_the_server_text() -> None:
    handlers: dict[str, Handler] = {
        "LOGIN": b"{tag} NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
    }
    async with FakeServer(handlers) as server:
        with pytest.raises(ImapAuthError) as info:
            await Connection.open(server.settings(), Credentials("u", "wrong"))
        assert info.value.code_name == "AUTHENTICATIONFAILED"
        assert info.value.text == "Authentication failed."


async def test_authenticate_plain_with_and_without_sasl_ir() -> None:
    blob = base64.b64encode(b"\0u\0p\xc3\xa9").decode()
    async with FakeServer() as server:
        conn = await Connection.open(server.settings(auth="plain"), Credentials("u", "pé"))
        assert f"AUTHENTICATE PLAIN {blob}".encode() in server.commands()
        await conn.disconnect()

    async def no_ir(peer: Peer, tag: bytes, line: bytes) -> None:
        peer.send(b"+ \r\n")
        await peer.writer.drain()
        answer = await peer.readline()
        ok = answer.strip() == blob.encode()
        peer.send(tag + (b" OK in\r\n" if ok else b" NO wrong\r\n"))

    caps = b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n{tag} OK done\r\n"
    async with FakeServer({"AUTHENTICATE": no_ir, "CAPABILITY": caps}) as server:
        conn = await Connection.open(server.settings(auth="auto"), Credentials("u", "pé"))
        assert b"AUTHENTICATE PLAIN" in server.commands()
        await conn.disconnect()


async def test_capabilities_are_asked_again_after_login() -> None:
    login = b"{tag} OK [CAPABILITY IMAP4rev1 IDLE MOVE ENABLE CONDSTORE] logged in\r\n"
    enable = b"* ENABLED CONDSTORE\r\n{tag} OK enabled\r\n"
    async with FakeServer({"LOGIN": login, "ENABLE": enable}) as server:
        conn = await Connection.open(server.settings(), Credentials("u", "p"))
        assert conn.has_capability("MOVE") and not conn.has_capability("AUTH=PLAIN")
        assert conn.enabled == frozenset({"CONDSTORE"})
        assert b"ENABLE CONDSTORE" in server.commands()
        await conn.disconnect()


# -- literals ------------------------------------------------------------------------------------


async def test_literals_wait_for_continuation_without_literal_plus() -> None:
    caps = b"* CAPABILITY IMAP4rev1\r\n{tag} OK done\r\n"
    async with FakeServer({"CAPABILITY": caps}) as server:
        conn = await Connection.open(server.settings(), Credentials("u", "pässword"))
        login = next(r for r in server.received if b"LOGIN" in r)
        assert login.endswith(b"LOGIN u {9}\r\np\xc3\xa4ssword\r\n")
        resp = await conn.execute("APPEND", "INBOX", Literal(b"Subject: x\r\n\r\nhi\r\n"))
        assert resp.status == "BAD"  # the fake has no APPEND; the literal went through
        await conn.disconnect()


async def test_literal_plus_sends_at_once() -> None:
    async with FakeServer({"APPEND": b"{tag} OK [APPENDUID 7 12] done\r\n"}) as server:
        conn = await server.patched()
        resp = (await conn.execute("APPEND", "INBOX", Literal(b"abc"))).check()
        assert resp.code == parser.ResponseCode("APPENDUID", (7, [12]))
        assert server.received[-1].endswith(b"APPEND INBOX {3+}\r\nabc\r\n")
        await conn.disconnect()


async def test_literal_refused_before_data_is_a_no() -> None:
    async def refuse(peer: Peer, tag: bytes, line: bytes) -> None:
        peer.send(tag + b" NO [TRYCREATE] no such mailbox\r\n")

    caps = b"* CAPABILITY IMAP4rev1\r\n{tag} OK done\r\n"

    class Refusing(FakeServer):
        async def _read_command(self, peer: Peer) -> bytes:
            return await peer.readline()  # never sends "+": answers the command line instead

    async with Refusing({"CAPABILITY": caps, "APPEND": refuse}) as server:
        conn = await server.patched()
        with pytest.raises(ImapNoError) as info:
            (await conn.execute("APPEND", "Nope", Literal(b"abc"))).check()
        assert info.value.code_name == "TRYCREATE"
        await conn.disconnect()


# -- robustness ------------------------------------------------------------------------------


async def test_cancelled_command_does_not_steal_the_next_ones_responses() -> None:
    async def slow_fetch(peer: Peer, tag: bytes, line: bytes) -> None:
        await asyncio.sleep(0.2)
        peer.send(_fetch_lines(3) + tag + b" OK done\r\n")

    async def search(peer: Peer, tag: bytes, line: bytes) -> None:
        peer.send(b"* SEARCH 1 2 3\r\n" + tag + b" OK done\r\n")

    async with FakeServer({"UID FETCH": slow_fetch, "UID SEARCH": search}) as server:
        conn = await server.patched()
        task = asyncio.ensure_future(conn.execute("UID FETCH", "1:*", "(FLAGS)"))
        await asyncio.sleep(0.05)
        task.cancel()
        resp = (await conn.execute("UID SEARCH", "ALL")).check()
        assert resp.untagged == [b"* SEARCH 1 2 3"]
        await conn.disconnect()


async def test_unknown_tag_closes_the_connection() -> None:
    async with FakeServer({"NOOP": b"ZZZ9 OK what\r\n"}) as server:
        conn = await server.patched()
        with pytest.raises(ImapConnectionError, match="unknown tag"):
            await conn.noop()
        assert conn.closed


async def test_pipeline_keeps_every_response() -> None:
    async def fetch(peer: Peer, tag: bytes, line: bytes) -> None:
        lo, hi = re.search(rb"UID FETCH (\d+):(\d+)", line).groups()  # type: ignore[union-attr]
        peer.send(_fetch_lines(int(hi), int(lo)) + tag + b" OK done\r\n")

    async with FakeServer({"UID FETCH": fetch}) as server:
        conn = await server.patched()
        got: list[bytes] = []
        commands = [
            ("UID FETCH", (f"{i * 100 + 1}:{i * 100 + 100}", "(UID FLAGS)")) for i in range(10)
        ]
        responses = await conn.pipeline(commands, on_untagged=got.append)
        assert [r.status for r in responses] == ["OK"] * 10
        assert len(got) == 1000
        await conn.disconnect()


async def test_response_check_raises_typed_errors() -> None:
    no = Response("NO", [], parser.ResponseCode("TRYCREATE"), "no such mailbox", "COPY")
    with pytest.raises(ImapNoError) as info:
        no.check()
    assert info.value.code_name == "TRYCREATE" and "no such mailbox" in str(info.value)
    assert Response("OK", [], None, "fine").check().ok


# -- the GC pause of bulk loads (app/imap/client.py, used by fetch_summaries) -----------------


def test_gc_pause_restores_the_collector_and_promotes_what_it_kept() -> None:
    """During a bulk load the collector is off; afterwards it is back on, and what was built
    meanwhile sits in the oldest generation, so no collection has to walk it all at once."""
    assert gc.isenabled()
    frozen_before = gc.get_freeze_count()
    with client_module._gc_paused():
        with client_module._gc_paused():  # nested loads share one pause
            assert not gc.isenabled()
            kept = [[i] for i in range(5000)]
        assert not gc.isenabled()
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen_before
    if frozen_before == 0:  # otherwise the promotion is skipped on purpose (next test)
        young = {id(o) for o in gc.get_objects(generation=0)}
        assert not any(id(o) in young for o in kept)
    with client_module._gc_paused(pause=False):
        assert gc.isenabled()


def test_gc_pause_leaves_objects_frozen_by_others_alone() -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert frozen > 0
        with client_module._gc_paused():
            assert not gc.isenabled()
        # Not unfrozen (that would empty the permanent generation); a few frozen objects may
        # die meanwhile (pytest-xdist's worker has a thread of its own: 2 of 637,536 seen).
        assert gc.isenabled() and gc.get_freeze_count() > frozen // 2
    finally:
        gc.unfreeze()


def test_the_installed_aioimaplib_is_the_one_the_engine_was_written_for() -> None:
    import importlib.metadata

    from app.imap.engine import AIOIMAPLIB_VERSION

    assert importlib.metadata.version("aioimaplib") == AIOIMAPLIB_VERSION
