"""An image attachment drawn with Unicode half-blocks (rich-pixels), on request (`i`).

Two pixels per cell (upper and lower half), so it works in any truecolor/256-colour terminal.
The screen decodes the image (`app.mime.images.decode_image`, with its limits) in a worker and
pushes this screen with the result; Esc, q or i closes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from rich.text import Text
from rich_pixels import Pixels
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from widgets.safe import safe_text

__all__ = ["ImageScreen"]


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

    def __init__(self, image: Any, title: str, *, more: Sequence[tuple[Any, str]] = ()) -> None:
        """`more`: further (image, title) pairs drawn below the first (an HTML message's
        inline images)."""
        super().__init__()
        self.image = image
        self.image_title = title
        self.more = list(more)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield from self._drawn(self.image, self.image_title, "image-title", "image-pixels")
            for n, (image, title) in enumerate(self.more, start=2):
                yield from self._drawn(image, title, f"image-title-{n}", f"image-pixels-{n}")
            yield Static(Text("Esc: close", end=""), id="image-hint")

    @staticmethod
    def _drawn(image: Any, title: str, title_id: str, pixels_id: str) -> ComposeResult:
        yield Static(safe_text(title, single_line=True), id=title_id, classes="image-title")
        pixels = Static(Pixels.from_image(image), id=pixels_id, classes="image-pixels")
        # Pixels has no measure of its own: the cells it fills, two pixel rows a cell.
        pixels.styles.width = image.width
        pixels.styles.height = (image.height + 1) // 2
        yield pixels

    def action_close(self) -> None:
        self.dismiss(None)
