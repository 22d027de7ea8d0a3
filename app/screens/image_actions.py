"""`i` on an image attachment, `I` for an HTML message's inline (cid:) images (issue 18).

Each image is fetched from the message's own parts, decoded within limits and drawn. Remote
images (an `<img src="https://...">`) are never fetched: only parts of the message are shown.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from app.mime.images import MAX_IMAGE_BYTES, ImageRefused, decode_image
from app.mime.sanitize import clean_line

__all__ = ["MAX_INLINE_IMAGES", "view_image", "view_inline_images"]

MAX_INLINE_IMAGES = 6
"""At most this many inline images are fetched and drawn for one `I`."""


async def view_image(screen: Any) -> None:
    """Show the highlighted attachment of the open message if it is an image."""
    from widgets.image_caps import graphics_protocol
    from widgets.image_view import ImageScreen, usable_protocol

    protocol = usable_protocol(graphics_protocol(os.environ))
    viewer = screen.viewer
    info = viewer.highlighted_attachment if viewer.rendered is not None else None
    uid = screen.open_uid
    if info is None or uid is None:
        screen.notify("Open a message and highlight an image attachment.", markup=False)
        return
    name = clean_line(info.filename, max_len=200)
    if not info.mime_type.lower().startswith("image/"):
        screen.notify(f"{name} is not an image.", severity="warning", markup=False)
        return
    if info.size > MAX_IMAGE_BYTES:
        screen.notify(f"Not shown: {name} is too large.", severity="warning", markup=False)
        return
    try:
        with screen.status.job(f"Fetching {name}"):
            data = await screen.account.fetch_attachment(uid, info.part_id, info.encoding)
    except Exception as exc:
        screen._report(exc, "Cannot fetch the image")
        return
    width, height = _pixels_for(protocol, screen.app.size.width - 6, screen.app.size.height - 6)
    try:
        image = await asyncio.to_thread(decode_image, data, width=width, height=height)
    except ImageRefused as exc:
        screen.notify(f"{name}: {exc}", severity="warning", markup=False)
        return
    title = f"{name} ({image.width} x {image.height} shown)"
    screen.app.push_screen(ImageScreen(image, title, protocol=protocol))


def _pixels_for(protocol: str, cells_wide: int, cells_high: int) -> tuple[int, int]:
    """The pixels an image is scaled to so it fits `cells_wide` x `cells_high` cells."""
    from widgets.image_view import CELL_PIXELS

    cells_wide, cells_high = max(8, cells_wide), max(2, cells_high)
    if protocol == "halfblocks":
        return cells_wide, cells_high * 2  # two pixels per cell, one above another
    return cells_wide * CELL_PIXELS[0], cells_high * CELL_PIXELS[1]


async def view_inline_images(screen: Any) -> None:
    """Show the inline images of the open message: its image parts with a Content-ID (what an
    HTML body names as `cid:`); nothing from the network."""
    from widgets.image_caps import graphics_protocol
    from widgets.image_view import ImageScreen, usable_protocol

    protocol = usable_protocol(graphics_protocol(os.environ))
    viewer = screen.viewer
    rendered = viewer.rendered
    uid = screen.open_uid
    if rendered is None or uid is None:
        screen.notify("Open a message first.", markup=False)
        return
    parts = [
        a for a in rendered.attachments if a.content_id and a.mime_type.lower().startswith("image/")
    ]
    if not parts:
        screen.notify("This message has no inline images.", markup=False)
        return
    shown = parts[:MAX_INLINE_IMAGES]
    rows = (screen.app.size.height - 4) // len(shown) - 1
    width, height = _pixels_for(protocol, screen.app.size.width - 6, rows)
    images: list[tuple[Any, str]] = []
    refused: list[str] = []
    for info in shown:
        name = clean_line(info.filename, max_len=200)
        if info.size > MAX_IMAGE_BYTES:
            refused.append(f"{name}: too large")
            continue
        try:
            with screen.status.job(f"Fetching {name}"):
                data = await screen.account.fetch_attachment(uid, info.part_id, info.encoding)
        except Exception as exc:
            screen._report(exc, "Cannot fetch the image")
            return
        try:
            image = await asyncio.to_thread(decode_image, data, width=width, height=height)
        except ImageRefused as exc:
            refused.append(f"{name}: {exc}")
            continue
        images.append((image, f"{name} ({image.width} x {image.height} shown)"))
    if len(parts) > len(shown):
        refused.append(f"{len(parts) - len(shown)} more inline images not shown")
    if refused:
        screen.notify("; ".join(refused), severity="warning", markup=False)
    if images:
        first, title = images[0]
        screen.app.push_screen(ImageScreen(first, title, more=images[1:], protocol=protocol))
