"""The DEFLATE layer (RFC 4978) on its own, over a recording fake transport."""

from __future__ import annotations

import asyncio
import zlib
from typing import Any

from app.imap.compress import SLICE, CompressionError, DeflateTransport


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.protocol: Any = None
        self.aborted = False

    def write(self, data: Any) -> None:
        self.written.append(bytes(data))

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self.protocol

    def is_closing(self) -> bool:
        return self.aborted

    def abort(self) -> None:
        self.aborted = True
        self.protocol.connection_lost(None)


class Recorder(asyncio.Protocol):
    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.lost: list[Exception | None] = []

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.append(exc)


def server_stream() -> Any:
    return zlib.compressobj(6, zlib.DEFLATED, -15)


def test_reads_are_inflated_in_order_across_arbitrary_splits() -> None:
    inner, proto = FakeTransport(), Recorder()
    DeflateTransport(inner, proto)
    server = server_stream()
    lines = [b"* 1 EXISTS\r\n", b"* 1 FETCH (UID 1 FLAGS (\\Seen))\r\n", b"a OK done\r\n"]
    wire = b"".join(server.compress(line) + server.flush(zlib.Z_SYNC_FLUSH) for line in lines)
    for i in range(0, len(wire), 3):  # the network may cut anywhere
        inner.protocol.data_received(wire[i : i + 3])
    assert b"".join(proto.chunks) == b"".join(lines)
    assert proto.lost == []


def test_writes_are_one_sync_flushed_deflate_stream() -> None:
    inner, proto = FakeTransport(), Recorder()
    transport = DeflateTransport(inner, proto)
    transport.write(b"a1 NOOP\r\n")
    transport.write(b"a2 UID FETCH 1 (FLAGS)\r\n")
    # Each write is complete on its own (sync flush): the server can act on it at once.
    inflate = zlib.decompressobj(-15)
    assert inflate.decompress(inner.written[0]) == b"a1 NOOP\r\n"
    assert inflate.decompress(inner.written[1]) == b"a2 UID FETCH 1 (FLAGS)\r\n"


def test_a_bomb_is_fed_in_bounded_slices() -> None:
    inner, proto = FakeTransport(), Recorder()
    DeflateTransport(inner, proto)
    server = server_stream()
    wire = server.compress(b"\0" * (5 * SLICE)) + server.flush(zlib.Z_SYNC_FLUSH)
    assert len(wire) < 10_000
    inner.protocol.data_received(wire)
    assert sum(map(len, proto.chunks)) == 5 * SLICE
    assert max(map(len, proto.chunks)) <= SLICE


def test_a_corrupt_stream_is_a_lost_connection_with_the_reason() -> None:
    inner, proto = FakeTransport(), Recorder()
    DeflateTransport(inner, proto)
    inner.protocol.data_received(b"\xff\xff\xff\xff this is not deflate")
    inner.protocol.data_received(b"more")  # ignored after the failure
    assert inner.aborted
    assert len(proto.lost) == 1 and isinstance(proto.lost[0], CompressionError)
    assert proto.chunks == []


def test_connection_lost_and_extra_info_pass_through() -> None:
    inner, proto = FakeTransport(), Recorder()
    transport = DeflateTransport(inner, proto)
    assert transport.get_extra_info("compression") == "DEFLATE"
    assert transport.get_protocol() is proto
    inner.protocol.connection_lost(None)
    inner.protocol.connection_lost(None)
    assert proto.lost == [None]
