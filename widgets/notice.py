"""A notice that is updated in place (new mail): one box, its text replaced, its time restarted.

Textual's toasts cannot be changed once shown, and the only way to take one back is private
(`App._unnotify`), so a notice that must stay one (issue 21: seven "N new message(s)" toasts
stacked over the viewer under steady delivery) is a widget of our own. It looks like a toast
(bottom right, above the footer) and is drawn on a layer of its own, over the panes: the
parent declares the layer `notice` (`layers: default notice`). Hidden until `show`; hidden again
after its timeout, or when clicked.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Container
from textual.events import Click
from textual.timer import Timer
from textual.widgets import Static

from widgets.safe import safe_text

__all__ = ["Notice"]


class Notice(Container):
    """One notice: `show(text, title=...)` puts it up or replaces what it says."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"notice--title"}

    DEFAULT_CSS = """
    Notice {
        layer: notice;
        dock: bottom;
        width: 1fr;
        height: auto;
        align: right bottom;
        margin-bottom: 1;
        visibility: hidden;  /* the row beside the box: clicks go to what is under it */
        display: none;
        &.-shown { display: block; }
        & > Static {
            width: 60;
            max-width: 50%;
            height: auto;
            visibility: visible;
            padding: 1 1;
            background: $panel-lighten-1;
            border-left: outer $success;
            &:ansi { background: $ansi-background; }
        }
        & > .notice--title { text-style: bold; color: $text-success; }
    }
    """

    def __init__(
        self,
        *,
        timeout: float | None = None,
        id: str | None = None,  # noqa: A002 - Textual's name
    ) -> None:
        """Args:
        timeout: Seconds it stays after each `show`; None: the App's NOTIFICATION_TIMEOUT.
        """
        super().__init__(id=id)
        self.timeout = timeout
        self.text = ""
        self.title = ""
        self._timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="notice-box")

    @property
    def shown(self) -> bool:
        """Up on the screen now (not yet timed out or clicked away)."""
        return self.has_class("-shown")

    def show(self, text: str, *, title: str = "") -> None:
        """Put the notice up saying `text` (untrusted: sanitized), or say it instead of what it
        said; its time starts again."""
        same_shape = self.shown and (len(text), title) == (len(self.text), self.title)
        self.text, self.title = text, title
        body = safe_text(text)
        if title:
            heading = safe_text(
                title, self.get_component_rich_style("notice--title"), single_line=True
            )
            body = Text.assemble(heading, "\n", body)
        # Under steady delivery the count changes, not the box's size: a layout pass would lay
        # out the whole screen once per delivery (issue 21, CPU per delivered message).
        self.query_one("#notice-box", Static).update(body, layout=not same_shape)
        self.add_class("-shown")
        if self._timer is not None:
            self._timer.stop()
        timeout = self.timeout if self.timeout is not None else self.app.NOTIFICATION_TIMEOUT
        self._timer = self.set_timer(timeout, self.hide)

    def hide(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self.remove_class("-shown")

    def on_click(self, event: Click) -> None:
        event.stop()
        self.hide()
