"""The look of an image drawn in half-blocks (the demo PNG, issue 18)."""

from __future__ import annotations

from typing import Any

import pytest
from textual.app import App
from textual.geometry import Region

from app.mime.images import decode_image
from app.sandbox.demo import png_bytes
from widgets.image_view import ImageScreen

pytestmark = pytest.mark.ui


class ImageDemo(App[None]):
    def on_mount(self) -> None:
        self.push_screen(ImageScreen(decode_image(png_bytes(), width=60, height=40), "chart.png"))


def test_demo_png_half_blocks(snap_compare: Any) -> None:
    assert snap_compare(ImageDemo(), terminal_size=(60, 24))


async def test_kitty_terminal_gets_kitty_graphics(capfd: Any) -> None:
    """With textual-image prepared and a Kitty terminal, the image goes out as TGP escapes."""
    from textual_image.widget import TGPImage

    from widgets.image_view import prepare_graphics, usable_protocol

    prepare_graphics("kitty")
    assert usable_protocol("kitty") == "kitty"
    image = decode_image(png_bytes(64, 48), width=300, height=200)

    class KittyDemo(App[None]):
        def on_mount(self) -> None:
            self.push_screen(ImageScreen(image, "chart.png", protocol="kitty"))

    app = KittyDemo()
    async with app.run_test(size=(60, 24)) as pilot:
        await pilot.pause()
        widget = app.screen.query_one("#image-pixels")
        assert isinstance(widget, TGPImage)
        assert (widget.size.width, widget.size.height) == (7, 3)  # 64 x 48 px in 10 x 20 cells
        lines = widget.render_lines(Region(0, 0, 7, 3))
        drawn = "".join(seg.text for line in lines for seg in line)
        assert drawn.count("\U0010eeee") >= 7 * 3  # Kitty's Unicode placeholder in every cell
    sent = capfd.readouterr().out
    assert "\x1b_Gi=" in sent and "f=100" in sent  # the PNG itself went out as TGP
