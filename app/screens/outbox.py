"""The outbox, visible: what waits to be sent, why, when the next try is; retry or cancel."""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Label, OptionList
from textual.widgets.option_list import Option

from widgets.safe import safe_text


def describe_entry(entry: Any, now: float) -> Text:
    """One line per queued message: recipients, state, attempts, next try, last error."""
    if getattr(entry, "corrupt", False):
        return safe_text(f"{entry.id}: unreadable entry (kept on disk, not sent)")
    to = ", ".join(entry.recipients[:3]) + (" …" if len(entry.recipients) > 3 else "")
    if entry.failed:
        state = "failed for good"
    elif entry.next_try > now:
        state = f"next try in {max(0, int(entry.next_try - now))} s"
    else:
        state = "due now"
    line = f"to {to} · {state} · {entry.attempts} attempt(s)"
    if entry.last_error:
        line += f" · {entry.last_code or ''} {entry.last_error}"
    return safe_text(line, single_line=True)


class OutboxScreen(ModalScreen[None]):
    """Messages the server did not take yet (4xx, or no connection); r retries, d cancels."""

    BINDINGS = [
        Binding("escape,q", "dismiss", "Close", id="outbox.close"),
        Binding("r", "retry", "Retry now", id="outbox.retry"),
        Binding("d", "cancel_entry", "Cancel (delete)", id="outbox.cancel"),
    ]

    DEFAULT_CSS = """
    OutboxScreen { align: center middle; }
    OutboxScreen > Vertical {
        width: 90%; height: 70%; border: round $primary; background: $surface; padding: 0 1;
    }
    OutboxScreen OptionList { height: 1fr; }
    """

    def __init__(self, outbox: Any) -> None:
        super().__init__()
        self.outbox = outbox

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Outbox: messages waiting to be sent")
            yield OptionList(id="entries")
        yield Footer()

    def on_mount(self) -> None:
        self.reload()
        self.query_one(OptionList).focus()

    def reload(self) -> None:
        entries = self.outbox.list()
        options = self.query_one(OptionList)
        options.clear_options()
        now = time.time()
        for entry in entries:
            options.add_option(Option(describe_entry(entry, now), id=entry.id))
        if not entries:
            options.add_option(Option(Text("The outbox is empty."), disabled=True))
        else:
            options.highlighted = 0  # r and d act at once on the oldest entry

    def _selected_id(self) -> str | None:
        options = self.query_one(OptionList)
        if options.highlighted is None:
            return None
        option = options.get_option_at_index(options.highlighted)
        return option.id

    def action_retry(self) -> None:
        entry_id = self._selected_id()
        if entry_id is None:
            return
        self.outbox.retry_now(entry_id)
        self.reload()
        flush = getattr(self.app.screen_stack[-2], "flush_outbox", None)
        if flush is not None:
            flush()

    def action_cancel_entry(self) -> None:
        entry_id = self._selected_id()
        if entry_id is None:
            return
        self.outbox.remove(entry_id)
        self.app.notify("Removed from the outbox; it will not be sent", markup=False)
        self.reload()
