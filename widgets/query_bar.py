"""The search bar: `/` opens it, Enter submits (and hides it), Escape closes and clears the search.

An error in the query (from `app.imap.search`) is shown under the input with a caret under the
position it names, and the input cursor is put there so the user can fix it at once.
"""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Static

from widgets.safe import safe_line

PLACEHOLDER = 'from:alice subject:"q4 report" since:2026-01-01 is:unread has:attachment'


class QueryInput(Input):
    """The query text; Up/Down walk the history of this session's queries."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "history(-1)", "Previous query", id="query.previous", show=False),
        Binding("down", "history(1)", "Next query", id="query.next", show=False),
        Binding("escape", "cancel", "Close search", id="query.close", show=False),
    ]

    def action_history(self, step: int) -> None:
        bar = self.parent
        if isinstance(bar, QueryBar):
            bar.step_history(step)

    def action_cancel(self) -> None:
        bar = self.parent
        if isinstance(bar, QueryBar):
            bar.close(clear=True)


class QueryBar(Vertical):
    """A hidden bar with a query input and an error line; `open()` shows it."""

    DEFAULT_CSS = """
    QueryBar {
        display: none;
        height: auto;
        background: $panel;
        padding: 0 1;
        &.-open { display: block; }
        & > QueryInput { border: tall $primary-muted; }
        & > QueryInput:focus { border: tall $primary; }
        & > #query-error { display: none; height: auto; color: $text-error; padding: 0 1; }
        &.-error > #query-error { display: block; }
        &.-error > QueryInput { border: tall $error; }
    }
    """

    class Submitted(Message):
        """A query to run. Handle with `on_query_bar_submitted`."""

        def __init__(self, bar: QueryBar, text: str) -> None:
            super().__init__()
            self.bar = bar
            self.text = text

        @property
        def control(self) -> QueryBar:
            return self.bar

    class Cleared(Message):
        """The search was closed or emptied: show the whole folder again.

        Handle with `on_query_bar_cleared`.
        """

        def __init__(self, bar: QueryBar) -> None:
            super().__init__()
            self.bar = bar

        @property
        def control(self) -> QueryBar:
            return self.bar

    def __init__(
        self,
        *,
        placeholder: str = PLACEHOLDER,
        name: str | None = None,
        id: str | None = None,  # noqa: A002 - Textual's name
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._placeholder = placeholder
        self._history: list[str] = []
        self._history_index = 0
        self._error_value: str | None = None

    def compose(self) -> ComposeResult:
        yield QueryInput(placeholder=self._placeholder, id="query-input")
        yield Static(id="query-error")

    @property
    def input(self) -> QueryInput:
        return self.query_one(QueryInput)

    @property
    def is_open(self) -> bool:
        return self.has_class("-open")

    @property
    def value(self) -> str:
        return self.input.value

    @property
    def history(self) -> list[str]:
        """Queries submitted in this session, oldest first."""
        return list(self._history)

    def open(self, text: str | None = None) -> None:
        """Show the bar and focus the input (optionally with `text` in it)."""
        self.add_class("-open")
        field = self.input
        if text is not None:
            field.value = text
        field.cursor_position = len(field.value)
        field.focus()

    def close(self, *, clear: bool = False) -> None:
        """Hide the bar; with `clear`, also drop the query and post `Cleared`."""
        self.remove_class("-open", "-error")
        if clear:
            self.input.value = ""
            self.post_message(self.Cleared(self))

    def show_error(self, message: str, position: int | None = None) -> None:
        """Explain what is wrong with the query, a caret under `position` (a character index)."""
        self.add_class("-open", "-error")
        field = self.input
        query = field.value
        self._error_value = query
        text = Text(end="")
        if position is not None and 0 <= position <= len(query):
            shown = safe_line(query)
            text.append(shown + "\n", "dim")
            text.append(" " * cell_len(shown[:position]) + "^ ")
            field.cursor_position = position
        text.append(safe_line(message, max_len=500))
        self.query_one("#query-error", Static).update(text)
        field.focus()

    def clear_error(self) -> None:
        self.remove_class("-error")
        self.query_one("#query-error", Static).update("")

    def step_history(self, step: int) -> None:
        if not self._history:
            return
        self._history_index = min(max(self._history_index + step, 0), len(self._history))
        field = self.input
        field.value = (
            self._history[self._history_index] if self._history_index < len(self._history) else ""
        )
        field.cursor_position = len(field.value)

    @on(Input.Submitted, "#query-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        self.clear_error()
        if not text:
            self.close(clear=True)
            return
        if not self._history or self._history[-1] != text:
            self._history.append(text)
        self._history_index = len(self._history)
        # Hidden while the search runs; `show_error` opens it again on a bad query.
        self.remove_class("-open")
        self.post_message(self.Submitted(self, text))

    @on(Input.Changed, "#query-input")
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        if self.has_class("-error") and event.value != self._error_value:
            self.clear_error()
