"""A TCP relay between a client and a real server, for the tests and the benchmarks (issue 21).

It counts conversation turns (the server answering after the client spoke, the way
../shared/peers/delayproxy.py counts); each connection keeps its own count and the client's
command lines of every flight (what it sent between two answers), so a test can say which
commands shared a round trip. Every chunk is held `one_way` seconds in each direction, in
order, as on a distant server: commands written together then reach the server together, and
the count does not depend on how fast the machine is. Two ways to hold the server back for as
long as a test needs: `gated` (no connection reaches the server until `open()`) and `hold` (the
client's data from one command on waits for `release()`).

One relay for tests/integration/turns.py (`TurnRelay`), the warm-start tests' gate and
bench/peers.py's delay proxy (which runs it on a thread of its own). `RelayBase` is what it
shares with the fault tests' proxy (tests/faults/proxy.py): the listening port, one task a
connection, the connection to the server, the stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, Self

__all__ = ["Conversation", "Relay", "RelayBase"]


@dataclass
class Conversation:
    """One connection through the relay."""

    flights: list[list[bytes]] = field(default_factory=list)
    """The client's lines, one list per flight; flight k (from 0) is answered in turn k + 1."""
    turns: int = 0
    _last: str = "down"  # the greeting is the server's first word, not an answer
    _partial: bytes = b""

    def sent(self, data: bytes) -> None:
        if self._last == "down":
            self.flights.append([])
        self._last = "up"
        lines = (self._partial + data).split(b"\r\n")
        self._partial = lines.pop()
        self.flights[-1].extend(line for line in lines if line)

    def answered(self) -> None:
        if self._last == "up":
            self.turns += 1
        self._last = "down"

    def turn_of(self, needle: bytes) -> int | None:
        """The turn (from 1) that answered the first command line containing `needle`."""
        for index, flight in enumerate(self.flights):
            if any(needle in line for line in flight):
                return index + 1
        return None

    def commands(self, turn: int) -> list[bytes]:
        """The command lines answered in `turn` (from 1), tags removed."""
        flight = self.flights[turn - 1] if 0 < turn <= len(self.flights) else []
        return [line.partition(b" ")[2] for line in flight]


class RelayBase:
    """Listens on 127.0.0.1 (a free port, `port` once entered) and hands each client, with a
    connection of its own to (`host`, `target`), to `_relay` (a subclass's): how the bytes
    pass is all that differs between a relay that counts and one that misbehaves."""

    #: A client whose server cannot be reached is reset (True) or closed (False).
    refuse_by_reset = False

    def __init__(self, target: int, host: str = "127.0.0.1") -> None:
        self.host, self.target = host, target
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """No new connections; every connection's tasks cancelled and waited for."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """A task of this relay's, cancelled by `close`."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._spawn(self._relay(reader, writer))

    async def _connect(
        self, c_writer: asyncio.StreamWriter
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """The server's side of a new connection, or None (the client refused) when it
        cannot be reached."""
        try:
            return await asyncio.open_connection(self.host, self.target)
        except OSError:
            if self.refuse_by_reset:
                c_writer.transport.abort()
            else:
                c_writer.close()
            return None

    async def _relay(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError


class Relay(RelayBase):
    """127.0.0.1:`port` relayed to (`host`, `target`), each connection a `Conversation`."""

    def __init__(
        self,
        target: int,
        host: str = "127.0.0.1",
        one_way: float = 0.0,
        hold: bytes | None = None,
        *,
        gated: bool = False,
    ) -> None:
        super().__init__(target, host)
        self.one_way = one_way
        self.hold = hold
        """A command (b"UID SORT"): the client's data from it on waits for `release()`, as
        a server slow to answer it would (issue 21: a cold SORT of 1,000,000 messages)."""
        self.holding = asyncio.Event()
        """Set once a held command arrived."""
        self._released = asyncio.Event()
        self._opened = asyncio.Event()
        if not gated:
            self._opened.set()
        self.conversations: list[Conversation] = []
        self.shown_at = 0
        """A test's note: the first connection's turns when its first screen was ready."""

    def open(self) -> None:
        """A gated relay lets its connections (waiting and new) through to the server."""
        self._opened.set()

    def release(self) -> None:
        """The held command (and what followed it) goes on to the server; no more holding."""
        self._released.set()

    @property
    def first(self) -> Conversation:
        """The first connection (the account's own; watchers connect later)."""
        assert self.conversations, "nobody connected through the relay"
        return self.conversations[0]

    @property
    def turns(self) -> int:
        """The turns of every connection."""
        return sum(talk.turns for talk in self.conversations)

    async def _relay(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        talk = Conversation()
        self.conversations.append(talk)
        await self._opened.wait()
        server = await self._connect(c_writer)
        if server is None:
            return
        s_reader, s_writer = server

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, up: bool) -> None:
            queue: asyncio.Queue[tuple[float, bytes | None]] = asyncio.Queue()

            async def deliver() -> None:
                while True:
                    due, data = await queue.get()
                    if data is None:
                        break
                    wait = due - time.monotonic()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    dst.write(data)
                    with contextlib.suppress(Exception):
                        await dst.drain()
                with contextlib.suppress(Exception):
                    dst.close()

            sender = asyncio.ensure_future(deliver())
            try:
                with contextlib.suppress(Exception):
                    while data := await src.read(65536):
                        if up:
                            talk.sent(data)
                            if self.hold and self.hold in data and not self._released.is_set():
                                self.holding.set()
                                await self._released.wait()
                        else:
                            talk.answered()
                        queue.put_nowait((time.monotonic() + self.one_way, data))
                queue.put_nowait((0.0, None))
                await sender
            finally:
                sender.cancel()

        await asyncio.gather(pump(c_reader, s_writer, True), pump(s_reader, c_writer, False))
