"""A TCP proxy for fault tests: sits between a client and a server and misbehaves on cue.

    async with FaultProxy("127.0.0.1", sandbox.imap_port) as proxy:
        proxy.add(Fault("cut", at=200_000))                 # server->client, first connection
        proxy.add(Fault("stall", at=1000, seconds=5, connections=None))
        proxy.add(Fault("corrupt", at=5000, data=b"\\x00garbage"))
        proxy.add(Fault("slow", at=0, rate=50_000))           # bytes per second from there on
        proxy.add(Fault("cut", after=b"UID MOVE", direction="up"))  # when the client sends it
        proxy.add(Fault("cut", chunk=5, direction="up"))  # before the client's 6th read passes
        proxy.add(Fault("cut", record=4, direction="up"))  # before the 5th TLS record passes
        ... connect the client to ("127.0.0.1", proxy.port) ...

Offsets count the bytes of one direction of one connection (TLS bytes, when the client speaks
TLS through it). `connections` says which connections a fault hits: a set of 0-based indexes,
or None for every one (default: only the first). The proxy records what passed
(`proxy.stats`, with every read as a chunk) so tests can assert where a fault struck.

`chunk` faults strike before the n-th read (0-based) of one direction is passed on; `record`
faults before the n-th TLS record (counted from the first byte, or from just after `after`, as
STARTTLS needs). Through TLS the bytes cannot be matched, but a client that waits for each
reply (SMTP without PIPELINING) sends each command as one TLS record, so "the client's n-th
record" names an SMTP stage, however the records were packed into reads.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

from app.sandbox.relay import RelayBase

__all__ = ["ConnStats", "Fault", "FaultProxy"]


@dataclass
class Fault:
    """One misbehaviour: `kind` is "cut", "stall", "slow" or "corrupt".

    Triggered at byte offset `at` of `direction` ("down" = server to client, "up" = client to
    server), or, when `after` is given, just after those bytes first pass, or, when `chunk` is
    given, just before the chunk-th read of that direction (0-based) is passed on, or, when
    `record` is given, just before the record-th TLS record of that direction (0-based; counted
    from just after `after` when both are given).
    """

    kind: str
    at: int = 0
    direction: str = "down"
    after: bytes | None = None
    chunk: int | None = None
    record: int | None = None
    seconds: float = 0.0  # stall
    rate: float = 0.0  # slow: bytes per second
    data: bytes = b"\xff"  # corrupt: overwrites this many bytes
    connections: set[int] | None = field(default_factory=lambda: {0})

    def __post_init__(self) -> None:
        if self.kind not in ("cut", "stall", "slow", "corrupt"):
            raise ValueError(f"unknown fault kind {self.kind!r}")
        if self.direction not in ("up", "down"):
            raise ValueError("direction is 'up' or 'down'")
        if self.chunk is not None and (self.after is not None or self.record is not None):
            raise ValueError("a `chunk` fault cannot also have `after` or `record`")

    def hits(self, index: int) -> bool:
        return self.connections is None or index in self.connections


class _Records:
    """Finds where TLS records start in one direction's bytes, from offset `base` on.

    A record is a 5-byte header (type, version, 2-byte length) and `length` bytes; the header
    may arrive split over reads.
    """

    def __init__(self, base: int) -> None:
        self.starts = [base]
        self._head = b""

    def feed(self, offset: int, data: bytes) -> None:
        """`data` holds the stream's bytes from `offset` on (reads come in order)."""
        end = offset + len(data)
        while self.starts[-1] + len(self._head) < end:
            i = self.starts[-1] + len(self._head) - offset
            if i < 0:  # the record began before these reads were seen: cannot be parsed
                return
            self._head += data[i : i + 5 - len(self._head)]
            if len(self._head) < 5:
                return
            length = int.from_bytes(self._head[3:5], "big")
            self.starts.append(self.starts[-1] + 5 + length)
            self._head = b""


@dataclass
class ConnStats:
    """What passed through one proxied connection."""

    index: int
    up: int = 0
    down: int = 0
    faults: list[str] = field(default_factory=list)
    closed: bool = False
    chunks: list[tuple[str, int, int]] = field(default_factory=list)
    """Every read: (direction, offset, length), in the order they arrived."""
    records: dict[str, list[int]] = field(default_factory=dict)
    """Offsets where TLS records start, by direction, counted from the first byte (meaningful
    for implicit TLS); the last one is where the next record will start."""

    def count(self, direction: str) -> int:
        """How many reads of `direction` passed (whole or in part)."""
        return sum(1 for d, _, _ in self.chunks if d == direction)


class FaultProxy(RelayBase):
    """Forwards 127.0.0.1:`port` to (`host`, `target_port`), applying the faults added: the
    sandbox's relay (app/sandbox/relay.py) with a pump that misbehaves on cue."""

    refuse_by_reset = True

    def __init__(self, host: str, target_port: int) -> None:
        super().__init__(target_port, host)
        self.faults: list[Fault] = []
        self.stats: list[ConnStats] = []
        self._writers: list[asyncio.StreamWriter] = []

    @property
    def target_port(self) -> int:
        return self.target

    def add(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    def clear(self) -> None:
        self.faults.clear()

    @property
    def connections(self) -> int:
        return len(self.stats)

    async def close(self) -> None:
        """Every connection reset (not closed: a fault test's client must not wait on it)."""
        for writer in self._writers:
            writer.transport.abort()
        await super().close()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    async def _relay(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        stats = ConnStats(len(self.stats))
        self.stats.append(stats)
        server = await self._connect(c_writer)
        if server is None:
            return
        s_reader, s_writer = server
        self._writers += [c_writer, s_writer]
        writers = (c_writer, s_writer)
        up = self._spawn(self._pump(stats, "up", c_reader, s_writer, writers))
        down = self._spawn(self._pump(stats, "down", s_reader, c_writer, writers))
        await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
        # One side finished: let the other drain briefly, then close both.
        await asyncio.wait({up, down}, timeout=1.0)
        for task in (up, down):
            task.cancel()
        for writer in writers:
            writer.close()
        stats.closed = True

    async def _pump(
        self,
        stats: ConnStats,
        direction: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        writers: tuple[asyncio.StreamWriter, asyncio.StreamWriter],
    ) -> None:
        offset = 0
        reads = 0
        rate = 0.0
        tail = b""  # the last bytes seen, to find `after` patterns across chunks
        done: set[int] = set()  # ids of faults already applied on this connection
        resolved: dict[int, int] = {}  # placed faults: id -> offset where they strike
        records = _Records(0)  # TLS records from the first byte
        stats.records[direction] = records.starts
        after_records: dict[int, _Records] = {}  # `after` + `record` faults: from the pattern on

        def pending() -> list[tuple[int, Fault]]:
            """Faults for this side (added at any time), with the offset each strikes at."""
            out = []
            for f in self.faults:
                if id(f) in done or f.direction != direction or not f.hits(stats.index):
                    continue
                placed = f.after is not None or f.chunk is not None or f.record is not None
                at = resolved.get(id(f)) if placed else f.at
                if at is not None:
                    out.append((at, f))
            return out

        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    else:
                        writer.close()
                    return
                mine = [
                    f
                    for f in self.faults
                    if f.direction == direction
                    and f.hits(stats.index)
                    and id(f) not in resolved
                    and id(f) not in done
                ]
                for f in mine:
                    if f.chunk == reads:
                        resolved[id(f)] = offset
                stats.chunks.append((direction, offset, len(data)))
                reads += 1
                records.feed(offset, data)
                for parser in after_records.values():
                    parser.feed(offset, data)
                window = tail + data
                for f in mine:
                    if f.after is not None and id(f) not in after_records:
                        pos = window.find(f.after)
                        if pos >= 0:
                            at = offset - len(tail) + pos + len(f.after)
                            if f.record is None:
                                resolved[id(f)] = at
                            else:
                                after_records[id(f)] = _Records(at)
                                after_records[id(f)].feed(offset, data)
                    if f.record is not None:
                        found = records if f.after is None else after_records.get(id(f))
                        # Placed once a byte of that record is here: a record that starts
                        # where this read ends must not strike before it is even sent.
                        end = offset + len(data)
                        known = found.starts if found is not None else []
                        if len(known) > f.record and known[f.record] < end:
                            resolved[id(f)] = known[f.record]
                tail = window[-64:]
                while True:
                    # A fault due exactly at the end of this chunk strikes after sending it.
                    due = [(at, f) for at, f in pending() if at <= offset + len(data)]
                    if not due:
                        break
                    at, fault = min(due, key=lambda item: item[0])
                    cut = max(0, at - offset)
                    await self._send(writer, data[:cut], rate)
                    offset += cut
                    data = data[cut:]
                    done.add(id(fault))
                    stats.faults.append(f"{fault.kind}@{direction}:{offset}")
                    if fault.kind == "cut":
                        for w in writers:
                            w.transport.abort()
                        return
                    if fault.kind == "stall":
                        await asyncio.sleep(fault.seconds)
                    elif fault.kind == "slow":
                        rate = fault.rate
                    elif fault.kind == "corrupt":
                        n = min(len(fault.data), len(data))
                        data = fault.data[:n] + data[n:]
                await self._send(writer, data, rate)
                offset += len(data)
                if direction == "up":
                    stats.up = offset
                else:
                    stats.down = offset
        except (ConnectionError, OSError):
            for w in writers:
                w.transport.abort()
        finally:
            if direction == "up":
                stats.up = offset
            else:
                stats.down = offset

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, data: bytes, rate: float) -> None:
        if not data:
            return
        if rate <= 0:
            writer.write(data)
            await writer.drain()
            return
        step = max(1, int(rate / 20))  # about 20 writes a second
        for i in range(0, len(data), step):
            writer.write(data[i : i + step])
            await writer.drain()
            await asyncio.sleep(min(len(data) - i, step) / rate)
