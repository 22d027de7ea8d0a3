"""Images decoded for the terminal, with limits (issue 18): never a decompression bomb.

`decode_image` reads the image's header first (Pillow's `open` is lazy): a file too big, an
image with too many pixels or an unknown format is refused with one sentence before any pixel
is decoded, so a 30,000 x 30,000 PNG costs a header read, not gigabytes. What is decoded is
scaled down to the cells it will fill. No UI here: the widget draws the returned image.
"""

from __future__ import annotations

import io
import warnings
from typing import Any

__all__ = ["MAX_IMAGE_BYTES", "MAX_PIXELS", "ImageRefused", "decode_image"]

MAX_IMAGE_BYTES = 25 * 1024 * 1024
MAX_PIXELS = 50_000_000
"""About 8,000 x 6,000: a big photo still shows; a bomb does not get decoded."""


class ImageRefused(ValueError):
    """The image is not decoded; the message says why, in words for the user."""


def decode_image(data: bytes, *, width: int, height: int) -> Any:
    """The image scaled to fit `width` x `height` pixels (an RGBA PIL image).

    Raises ImageRefused for too many bytes or pixels, an unknown format or a broken file.
    """
    from PIL import Image, UnidentifiedImageError

    if len(data) > MAX_IMAGE_BYTES:
        raise ImageRefused(f"Not shown: the image is {len(data) // (1024 * 1024)} MB.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))  # reads the header only
            w, h = image.size
            if w <= 0 or h <= 0 or w * h > MAX_PIXELS:
                raise ImageRefused(
                    f"Not shown: {w} x {h} pixels is more than termail decodes ({MAX_PIXELS:,})."
                )
            image.draft("RGB", (max(1, width), max(1, height)))  # JPEG: decode smaller
            image.seek(0)  # an animation: its first frame
            image.load()
            shown = image.convert("RGBA")
            shown.thumbnail((max(1, width), max(1, height)))
            return shown
    except ImageRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRefused("Not shown: the image is too large to decode.") from exc
    except UnidentifiedImageError as exc:
        raise ImageRefused("Not shown: not an image format termail can read.") from exc
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as exc:
        raise ImageRefused(f"Not shown: the image is damaged ({type(exc).__name__}).") from exc
