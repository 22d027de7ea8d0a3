"""COMPRESS=DEFLATE (RFC 4978): a raw-deflate layer slid under the IMAP protocol object.

Mutt (`imap_deflate`, on by default) and isync do the same: on a slow link the header and text
fetches shrink several times over. After the server's tagged OK to `COMPRESS DEFLATE`, both
directions are one raw DEFLATE stream each (no zlib header, sync-flushed after every write).

`DeflateTransport` wraps the connection's transport: what the protocol writes is compressed before
it goes out, and what arrives is inflated before the protocol sees it (through `_Inflate`, which
becomes the real transport's protocol). A corrupt stream aborts the connection; the protocol then
sees a lost connection with the reason, as for any broken link.
"""

from __future__ import annotations

import asyncio
import zlib
from typing import Any

#: Inflated bytes handed to the protocol per call: a small compressed burst that expands a lot (a
#: hostile or broken server) is fed in slices instead of one huge buffer.
SLICE = 1 << 20


class CompressionError(ConnectionError):
    """The server's compressed stream could not be inflated."""


class DeflateTransport(asyncio.Transport):
    """`inner` seen through DEFLATE by `protocol` (the IMAP protocol object)."""

    def __init__(
        self, inner: asyncio.Transport, protocol: asyncio.Protocol, *, level: int = 6
    ) -> None:
        super().__init__()
        self._inner = inner
        self._protocol = protocol
        self._deflate = zlib.compressobj(level, zlib.DEFLATED, -15)
        self._inflate = zlib.decompressobj(-15)
        self.bytes_in = 0
        """Compressed bytes received: with `bytes_out_plain`, what compression saved."""
        self.bytes_in_plain = 0
        self._failed = False
        inner.set_protocol(_Inflate(self))

    # -- the read side ------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Inflate bytes read from the wire and hand them to the protocol."""
        if self._failed or not data:
            return
        self.bytes_in += len(data)
        try:
            out = self._inflate.decompress(data, SLICE)
            while True:
                if out:
                    self.bytes_in_plain += len(out)
                    self._protocol.data_received(out)
                tail = self._inflate.unconsumed_tail
                if not tail or self._failed:
                    break
                out = self._inflate.decompress(tail, SLICE)
        except zlib.error as exc:
            self._fail(CompressionError(f"the server's compressed stream is corrupt: {exc}"))

    def _fail(self, exc: Exception) -> None:
        self._failed = True
        self._protocol.connection_lost(exc)
        self._inner.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._failed:
            self._failed = True
            self._protocol.connection_lost(exc)

    def eof_received(self) -> bool | None:
        return self._protocol.eof_received()

    # -- the write side -----------------------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data or self._inner.is_closing():
            return
        blob = self._deflate.compress(bytes(data)) + self._deflate.flush(zlib.Z_SYNC_FLUSH)
        self._inner.write(blob)

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(list_of_data))

    def can_write_eof(self) -> bool:
        return False

    def write_eof(self) -> None:
        raise NotImplementedError("a compressed IMAP stream is closed, not half-closed")

    # -- everything else is the inner transport's ---------------------------------------------

    def close(self) -> None:
        self._inner.close()

    def abort(self) -> None:
        self._inner.abort()

    def is_closing(self) -> bool:
        return self._inner.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "compression":
            return "DEFLATE"
        return self._inner.get_extra_info(name, default)

    def pause_reading(self) -> None:
        self._inner.pause_reading()

    def resume_reading(self) -> None:
        self._inner.resume_reading()

    def is_reading(self) -> bool:
        return self._inner.is_reading()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._inner.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        return self._inner.get_write_buffer_size()

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._protocol

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol  # type: ignore[assignment]


class _Inflate(asyncio.Protocol):
    """The real transport's protocol while compression is on: passes everything up inflated."""

    def __init__(self, outer: DeflateTransport) -> None:
        self._outer = outer

    def data_received(self, data: bytes) -> None:
        self._outer.feed(data)

    def eof_received(self) -> bool | None:
        return self._outer.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._outer.connection_lost(exc)

    def pause_writing(self) -> None:
        self._outer.get_protocol().pause_writing()

    def resume_writing(self) -> None:
        self._outer.get_protocol().resume_writing()
