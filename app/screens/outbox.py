"""The outbox, visible: what waits to be sent, why, when the next try is; retry or cancel."""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from widgets.footer import Footer
from widgets.safe import safe_text


def describe_entry(entry: Any, now: float, subject: str = "") -> Text:
    """One line per queued message: subject, recipients, state, attempts, next try, last error."""
    if getattr(entry, "corrupt", False):
        return safe_text(f"{entry.id}: unreadable entry (kept on disk, not sent)")
    to = ", ".join(entry.recipients[:3]) + (" …" if len(entry.recipients) > 3 else "")
    if entry.failed:
        state = "failed for good"
    elif entry.next_try > now:
        state = f"next try in {max(0, int(entry.next_try - now))} s"
    else:
        state = "due now"
    line = f"{subject or '(no subject)'} · to {to} · {state} · {entry.attempts} attempt(s)"
    if entry.last_error:
        line += " · " + error_text(entry.last_code, entry.last_error)
    return safe_text(line, single_line=True)


def error_text(code: int | None, error: str) -> str:
    """The last error once: an SmtpError's text already starts with its code ("451 ...")."""
    error = error.strip()
    if code is None or error.startswith(f"{code} ") or error == str(code):
        return error
    return f"{code} {error}"


def entry_subject(outbox: Any, entry_id: str) -> str:
    """The queued message's Subject, decoded (empty when it has none or cannot be read)."""
    from email.parser import BytesHeaderParser
    from email.policy import default

    try:
        data = outbox.message(entry_id)
    except Exception:
        return ""
    head, _, _ = data.partition(b"\r\n\r\n")
    try:
        value = BytesHeaderParser(policy=default).parsebytes(head + b"\r\n\r\n").get("Subject")
    except Exception:
        return ""
    return str(value or "")


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
        self._subjects: dict[str, str] = {}
        """Subjects by entry id: an entry's message never changes, so it is read once."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Outbox: messages waiting to be sent")
            yield OptionList(id="entries")
        yield Footer()

    def on_mount(self) -> None:
        self.reload()
        self.query_one(OptionList).focus()
        # The countdown ("next try in 20 s") and entries sent or queued meanwhile.
        self.set_interval(2.0, self.reload)

    def reload(self) -> None:
        """Show the outbox as it is on disk now, the highlight kept on the same entry."""
        try:
            entries = self.outbox.list()
        except Exception as exc:
            entries = []
            self.app.notify(f"Cannot read the outbox: {exc}", severity="error", markup=False)
        options = self.query_one(OptionList)
        keep = self._selected_id()
        options.clear_options()
        now = time.time()
        for entry in entries:
            subject = self._subjects.get(entry.id)
            if subject is None and not getattr(entry, "corrupt", False):
                subject = self._subjects[entry.id] = entry_subject(self.outbox, entry.id)
            options.add_option(Option(describe_entry(entry, now, subject or ""), id=entry.id))
        if not entries:
            options.add_option(Option(Text("The outbox is empty."), disabled=True))
            return
        ids = [entry.id for entry in entries]
        # r and d act at once on the oldest entry, or on the one the user highlighted.
        options.highlighted = ids.index(keep) if keep in ids else 0

    def _selected_id(self) -> str | None:
        options = self.query_one(OptionList)
        if options.highlighted is None:
            return None
        try:
            option = options.get_option_at_index(options.highlighted)
        except Exception:
            return None
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
