"""A scripted line server on 127.0.0.1 for hostile-server tests: a greeting, then canned replies.

    async with ScriptedServer(b"* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n",
                              {b"STARTTLS": b"{tag} BAD \x1b]0;owned\x07\r\n"}) as server:
        ... connect a client to ("127.0.0.1", server.port) ...

Each line the client sends is matched by the first rule whose key is the line's command word
(IMAP: the word after the tag; SMTP: the first word), case-insensitively; `{tag}` in the reply is
replaced by the line's tag. A line no rule matches gets `default` (IMAP: a tagged OK; SMTP: 250).
`close_after` closes the connection after that command's reply. What the client sent is kept in
`received`. Real servers are in the sandbox; this one only says what a hostile server would.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

__all__ = ["ScriptedServer"]


class ScriptedServer:
    """Plays `greeting` to each connection, then answers lines by `rules`."""

    def __init__(
        self,
        greeting: bytes,
        rules: dict[bytes, bytes] | None = None,
        *,
        imap: bool = True,
        close_after: frozenset[bytes] = frozenset(),
        close_after_greeting: bool = False,
    ) -> None:
        self.greeting = greeting
        self.rules = {k.upper(): v for k, v in (rules or {}).items()}
        self.imap = imap
        self.close_after = {c.upper() for c in close_after}
        self.close_after_greeting = close_after_greeting
        self.received: list[bytes] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> ScriptedServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def _reply(self, line: bytes) -> tuple[bytes, bool]:
        words = line.strip().split()
        if self.imap:
            tag = words[0] if words else b"*"
            command = words[1].upper() if len(words) > 1 else b""
        else:
            tag = b""
            command = words[0].upper() if words else b""
        if command in self.rules:
            reply = self.rules[command]
        elif self.imap:
            reply = b"{tag} OK done\r\n"
        else:
            reply = b"250 ok\r\n"
        return reply.replace(b"{tag}", tag), command in self.close_after

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(self.greeting)
            await writer.drain()
            if self.close_after_greeting:
                return
            while line := await reader.readline():
                self.received.append(line)
                reply, close = self._reply(line)
                writer.write(reply)
                await writer.drain()
                if close:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
