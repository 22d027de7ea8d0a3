"""An image drawn on request (`i`, `I`): Kitty graphics or Sixel (textual-image) where the
terminal has them (`widgets.image_caps`), else Unicode half-blocks (rich-pixels).

Half-blocks are two pixels per cell (upper and lower half): any truecolor/256-colour terminal.
rich-pixels draws them, since it measured faster and smaller than textual-image's half-cells
(`python -m bench.images`); textual-image is used only for the two graphics protocols.
The screen decodes the image (`app.mime.images.decode_image`, with its limits) in a worker and
pushes this screen with the result; Esc, q or i closes it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, ClassVar

from rich.text import Text
from rich_pixels import Pixels
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Static

from widgets.image_caps import GraphicsProtocol
from widgets.safe import safe_text

__all__ = ["CELL_PIXELS", "ImageScreen", "prepare_graphics", "usable_protocol"]

CELL_PIXELS = (10, 20)
"""Pixels of one cell assumed when decoding for Kitty/Sixel (the VT340's; textual-image measures
the real size when it is imported and scales to it)."""


def prepare_graphics(protocol: GraphicsProtocol) -> None:
    """Import textual-image before Textual starts, when a graphics protocol will be used: it
    reads the cell size from the terminal at import, which cannot work once Textual reads the
    input. Half-blocks never import it."""
    if protocol != "halfblocks":
        try:
            import textual_image.widget  # noqa: F401
        except Exception:  # not installed, or the terminal did not answer: half-blocks
            return


def usable_protocol(protocol: GraphicsProtocol) -> GraphicsProtocol:
    """`protocol`, or half-blocks when textual-image was not prepared before Textual started
    (importing it now would query a terminal whose input Textual is reading)."""
    if protocol != "halfblocks" and "textual_image.widget" not in sys.modules:
        return "halfblocks"
    return protocol


class ImageScreen(ModalScreen[None]):
    """One decoded image, centred, with its name."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,i", "close", "Close image", id="image.close"),
    ]

    DEFAULT_CSS = """
    ImageScreen {
        align: center middle;
        background: $background 70%;
        & > Vertical {
            width: auto; height: auto; max-width: 100%; max-height: 100%;
            background: $panel; border: thick $primary; padding: 0 1;
        }
        & .image-title { width: auto; color: $text-primary; text-style: bold; }
        & .image-pixels { width: auto; height: auto; }
        & #image-hint { width: auto; color: $text-muted; }
    }
    """

    def __init__(
        self,
        image: Any,
        title: str,
        *,
        more: Sequence[tuple[Any, str]] = (),
        protocol: GraphicsProtocol = "halfblocks",
    ) -> None:
        """`more`: further (image, title) pairs drawn below the first (an HTML message's
        inline images); `protocol`: how to draw them (`image_caps.graphics_protocol`)."""
        super().__init__()
        self.protocol = protocol
        self.image = image
        self.image_title = title
        self.more = list(more)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield from self._drawn(self.image, self.image_title, "")
            for n, (image, title) in enumerate(self.more, start=2):
                yield from self._drawn(image, title, f"-{n}")
            yield Static(Text("Esc: close", end=""), id="image-hint")

    def _drawn(self, image: Any, title: str, suffix: str) -> ComposeResult:
        yield Static(
            safe_text(title, single_line=True), id=f"image-title{suffix}", classes="image-title"
        )
        pixels: Widget
        if self.protocol == "halfblocks":
            pixels = Static(Pixels.from_image(image))
            # Pixels has no measure of its own: the cells it fills, two pixel rows a cell.
            pixels.styles.width = image.width
            pixels.styles.height = (image.height + 1) // 2
        else:
            from textual_image.widget import SixelImage, TGPImage

            kind = TGPImage if self.protocol == "kitty" else SixelImage
            pixels = kind(image)
            cell_w, cell_h = CELL_PIXELS
            pixels.styles.width = max(1, -(-image.width // cell_w))
            pixels.styles.height = max(1, -(-image.height // cell_h))
        pixels.id = f"image-pixels{suffix}"
        pixels.add_class("image-pixels")
        yield pixels

    def action_close(self) -> None:
        self.dismiss(None)
