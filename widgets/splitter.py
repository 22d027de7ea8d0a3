"""A one-cell drag handle between two side-by-side panes.

The splitter knows nothing of the panes around it: while the left button drags it, it posts
`Moved` with the pointer's screen column, and `Released` when the drag ends; the screen that
owns the panes turns the column into a width (with its own bounds) and remembers it. A double
click posts `Reset`. This keeps the bounds and the saving of sizes in one place, the screen.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import RenderResult
from textual.message import Message
from textual.widget import Widget


class Splitter(Widget):
    """A vertical bar one cell wide; drag it with the mouse to resize the panes beside it."""

    DEFAULT_CSS = """
    Splitter {
        width: 1;
        height: 1fr;
        background: $surface;
        color: $foreground-disabled;
        pointer: ew-resize;
        &:hover { color: $accent; background: $boost; }
        &.-dragging { color: $accent; background: $boost; text-style: bold; }
    }
    """

    GLYPH = "│"
    """What the bar is drawn with, one a row."""

    class Moved(Message):
        """The bar is dragged to screen column `x`. Handle with `on_splitter_moved`."""

        def __init__(self, splitter: Splitter, x: int) -> None:
            super().__init__()
            self.splitter = splitter
            self.x = x
            """Screen column of the pointer: where the bar should now be."""

        @property
        def control(self) -> Splitter:
            return self.splitter

    class Released(Message):
        """A drag ended (the moment to remember sizes). Handle with `on_splitter_released`."""

        def __init__(self, splitter: Splitter) -> None:
            super().__init__()
            self.splitter = splitter

        @property
        def control(self) -> Splitter:
            return self.splitter

    class Reset(Message):
        """The bar was double-clicked: back to the default sizes. Handle with `on_splitter_reset`."""

        def __init__(self, splitter: Splitter) -> None:
            super().__init__()
            self.splitter = splitter

        @property
        def control(self) -> Splitter:
            return self.splitter

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,  # noqa: A002 - Textual's name
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._dragging = False
        self._last_x: int | None = None

    @property
    def dragging(self) -> bool:
        """True between the button going down on the bar and coming up."""
        return self._dragging

    def render(self) -> RenderResult:
        height = max(1, self.size.height)
        return Text("\n".join([self.GLYPH] * height), no_wrap=True, end="")

    # -- mouse --------------------------------------------------------------------------------
    def on_mouse_down(self, event: events.MouseDown) -> None:
        if event.button != 1:
            return
        event.stop()
        self._dragging = True
        self._last_x = event.screen_x
        self.add_class("-dragging")
        self.capture_mouse()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if not self._dragging:
            return
        event.stop()
        x = int(event.screen_x)
        if x != self._last_x:
            self._last_x = x
            self.post_message(self.Moved(self, x))

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if not self._dragging:
            return
        event.stop()
        self.release_mouse()
        self._end_drag()

    def on_mouse_release(self, event: events.MouseRelease) -> None:
        # Capture lost some other way (the screen changed): the drag is over all the same.
        self._end_drag()

    def on_click(self, event: events.Click) -> None:
        event.stop()
        if event.chain == 2:
            self.post_message(self.Reset(self))

    def _end_drag(self) -> None:
        if not self._dragging:
            return
        self._dragging = False
        self._last_x = None
        self.remove_class("-dragging")
        self.post_message(self.Released(self))
