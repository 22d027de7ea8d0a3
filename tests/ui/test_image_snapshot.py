"""The look of an image drawn in half-blocks (the demo PNG, issue 18)."""

from __future__ import annotations

from typing import Any

import pytest
from textual.app import App

from app.mime.images import decode_image
from app.sandbox.demo import png_bytes
from widgets.image_view import ImageScreen

pytestmark = pytest.mark.ui


class ImageDemo(App[None]):
    def on_mount(self) -> None:
        self.push_screen(ImageScreen(decode_image(png_bytes(), width=60, height=40), "chart.png"))


def test_demo_png_half_blocks(snap_compare: Any) -> None:
    assert snap_compare(ImageDemo(), terminal_size=(60, 24))
