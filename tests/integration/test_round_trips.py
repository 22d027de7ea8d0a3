"""Round trips of the IMAP handshake, counted by a relay of ours between the client and the
sandbox Dovecot (issue 21: what does not depend on an answer is pipelined, RFC 9051 5.5)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest

from app.imap.client import ImapClient
from app.models import TlsMode

pytestmark = pytest.mark.integration


class TurnCounter:
    """A TCP relay counting turns: the server answering after the client spoke."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.port = 0
        self.turns = 0
        self.sent: list[bytes] = []
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> TurnCounter:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _accept(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        s_reader, s_writer = await asyncio.open_connection("127.0.0.1", self.target)
        last = ["down"]

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, way: str) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    if way == "down" and last[0] == "up":
                        self.turns += 1
                    if way == "up":
                        self.sent.append(data)
                    last[0] = way
                    dst.write(data)
                    await dst.drain()
            with contextlib.suppress(Exception):
                dst.close()

        await asyncio.gather(pump(c_reader, s_writer, "up"), pump(s_reader, c_writer, "down"))


async def test_login_costs_two_round_trips_id_and_enable_pipelined(
    sandbox: Any, mail_user: Any
) -> None:
    async with TurnCounter(sandbox.imap_port) as relay:
        settings = mail_user.imap_settings(
            TlsMode.NONE, port=relay.port, allow_insecure=True, compress=False
        )
        client = await ImapClient.connect(settings, mail_user.credentials())
        try:
            # The greeting carries the capabilities: LOGIN, then ID + ENABLE together.
            assert relay.turns == 2
            assert client.has_capability("ENABLE")
            assert "CONDSTORE" in {c.upper() for c in client.enabled}
            words = b"".join(relay.sent)
            assert b" ID (" in words and b" ENABLE " in words
        finally:
            await client.close()
