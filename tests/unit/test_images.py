"""Images: decoded within limits; a pixel bomb is refused from its header, not decoded."""

from __future__ import annotations

import struct
import time
import tracemalloc
import zlib

import pytest

from app.mime.images import ImageRefused, decode_image
from app.sandbox.demo import png_bytes


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def pixel_bomb(width: int = 30_000, height: int = 30_000) -> bytes:
    """A valid 1-bit PNG of black pixels; at 30,000 x 30,000: ~110 KB that inflate to ~112 MB
    of rows and 900 million pixels (3.6 GB as RGBA)."""
    row = b"\x00" * (1 + (width + 7) // 8)
    comp = zlib.compressobj(9)
    body = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", body) + _chunk(b"IEND", b"")
    )


def test_the_demo_png_decodes_scaled() -> None:
    image = decode_image(png_bytes(64, 48), width=32, height=32)
    assert image.size == (32, 24) and image.mode == "RGBA"


def test_pixel_bomb_is_refused_without_decoding() -> None:
    bomb = pixel_bomb()
    assert len(bomb) < 1_000_000
    tracemalloc.start()
    start = time.perf_counter()
    with pytest.raises(ImageRefused, match=r"Not shown: .*(too large|more than)"):
        decode_image(bomb, width=100, height=100)
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"pixel bomb refused in {elapsed * 1000:.1f} ms, peak {peak / 1024:.0f} KB traced")
    assert peak < 20 * 1024 * 1024  # the header was read, no pixel buffer was made


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image", png_bytes()[:40], b"\x89PNG\r\n\x1a\n" + b"\x00" * 100],
)
def test_broken_images_are_refused_with_a_word(data: bytes) -> None:
    with pytest.raises(ImageRefused, match="Not shown"):
        decode_image(data, width=10, height=10)


def test_more_pixels_than_termail_decodes_is_refused_by_its_own_limit() -> None:
    with pytest.raises(ImageRefused, match="8000 x 7000 pixels is more than"):
        decode_image(pixel_bomb(8000, 7000), width=10, height=10)  # 56 M: under Pillow's limit
