"""`i` on an image attachment: fetch it, decode it within limits, draw it (issue 18)."""

from __future__ import annotations

import asyncio
from typing import Any

from app.mime.images import MAX_IMAGE_BYTES, ImageRefused, decode_image
from app.mime.sanitize import clean_line

__all__ = ["view_image"]


async def view_image(screen: Any) -> None:
    """Show the highlighted attachment of the open message if it is an image."""
    from widgets.image_view import ImageScreen

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
    width = max(8, screen.app.size.width - 6)
    height = max(4, (screen.app.size.height - 6) * 2)  # two pixels per cell, one above another
    try:
        image = await asyncio.to_thread(decode_image, data, width=width, height=height)
    except ImageRefused as exc:
        screen.notify(f"{name}: {exc}", severity="warning", markup=False)
        return
    screen.app.push_screen(ImageScreen(image, f"{name} ({image.width} x {image.height} shown)"))
