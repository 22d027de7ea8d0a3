"""The protocol log screen (`P`): the current account's IMAP and SMTP dialogue, live.

One row per line of `app.protolog.ProtocolLog`: time, connection ("imap1", "smtp3"), direction
(`C:` we sent, `S:` the server said, `-` a note), the text, and for replies their meaning. SMTP
replies are coloured by class and named ("5xx permanent failure · 5.7.1 delivery not
authorized, message refused"), IMAP NO/BAD in the error colour. New lines arrive while it is
open; the view follows the end unless scrolled up. `/` searches (only the matching lines are
shown, `Esc` shows all again), `s` saves what is shown to a file (0600, never over another
file), `Esc` closes. Every text is drawn as `rich.text.Text` through `widgets.safe` (a server
can send escape sequences): nothing here is markup.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Input, RichLog, Static

from app.protolog import LogLine, ProtocolLog
from widgets.safe import safe_line, safe_text
from widgets.workers import work

__all__ = ["ProtocolLogScreen", "line_text"]

#: Style of a reply by its kind (SMTP class digit, IMAP status).
KIND_STYLES = {
    "2": "bold green",
    "3": "bold cyan",
    "4": "bold yellow",
    "5": "bold red",
    "ok": "green",
    "no": "bold red",
    "bad": "bold red",
}
WAY_STYLES = {"C": "bold magenta", "S": "bold blue", "-": "dim"}


def line_text(line: LogLine) -> Text:
    """One log line as a row: never markup, every part sanitized again."""
    stamp = time.strftime("%H:%M:%S", time.localtime(line.at))
    row = Text(no_wrap=True, end="")
    row.append(stamp + " ", style="dim")
    row.append(safe_line(line.conn, max_len=12).ljust(6) + " ", style="dim")
    row.append(f"{line.way}: " if line.way != "-" else "-  ", style=WAY_STYLES.get(line.way, ""))
    body_style = KIND_STYLES.get(line.kind, "")
    if line.way == "-":
        body_style = "bold red" if line.error else "italic dim"
    row.append_text(safe_text(line.text, body_style, single_line=True))
    if line.explain:
        row.append("   ")
        row.append_text(
            safe_text(f"[{line.explain}]", KIND_STYLES.get(line.kind, "bold"), single_line=True)
        )
    return row


class ProtocolLogScreen(Screen[None]):
    """The dialogue of one account; closes with Esc (after clearing a search)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close the log", id="protolog.close"),
        Binding("slash", "search", "Search the log", id="protolog.search"),
        Binding("s", "save", "Save the log", id="protolog.save"),
        Binding("g,home", "top", "First line", id="protolog.top", show=False),
        Binding("G,end", "bottom", "Last line (follow)", id="protolog.bottom", show=False),
        Binding("e", "last_error", "Last error", id="protolog.error", show=False),
    ]

    DEFAULT_CSS = """
    ProtocolLogScreen {
        layout: vertical;
        & #plog-title { height: 1; background: $primary 30%; text-style: bold; padding: 0 1; }
        & #plog-lines { height: 1fr; background: $surface; scrollbar-gutter: stable; }
        & #plog-search { height: 1; border: none; padding: 0 1; background: $boost; display: none; }
        & #plog-search.shown { display: block; }
        & #plog-status { height: 1; color: $text-muted; padding: 0 1; }
    }
    """

    def __init__(self, log: ProtocolLog, *, account: str = "", show_error: bool = False) -> None:
        """Args:
        log: The account's protocol log.
        account: The account's name, for the title.
        show_error: Scroll to the newest error line instead of the end.
        """
        super().__init__()
        self.log_source = log
        self.account = account or log.name
        self.show_error = show_error
        self._note = ""
        """What the status line says before its counts ("line 40: the last error"); kept while
        new lines arrive, dropped when the lines shown change (a search)."""
        self.query_text = ""
        self.shown: list[LogLine] = []

    def compose(self) -> ComposeResult:
        title = Text("Protocol log: ", end="")
        title.append_text(safe_text(self.account, single_line=True, max_len=80))
        title.append("  (IMAP and SMTP dialogue; passwords and tokens are never kept)")
        yield Static(title, id="plog-title")
        yield RichLog(id="plog-lines", wrap=False, markup=False, highlight=False, auto_scroll=True)
        yield Input(placeholder="search the log (Enter; Esc: all lines)", id="plog-search")
        yield Static(Text("", end=""), id="plog-status")

    @property
    def lines_view(self) -> RichLog:
        return self.query_one("#plog-lines", RichLog)

    def on_mount(self) -> None:
        self._fill()
        self.log_source.subscribe(self._arrived)
        view = self.lines_view
        view.focus()
        if self.show_error and self.log_source.last_error is not None:
            self.call_after_refresh(self._scroll_to_seq, self.log_source.last_error)
        self.log_source.error_seen = self.log_source.last_error or 0

    def on_unmount(self) -> None:
        self.log_source.unsubscribe(self._arrived)

    # -- content --

    def _fill(self) -> None:
        view = self.lines_view
        view.clear()
        self.shown = self.log_source.search(self.query_text)
        for line in self.shown:
            view.write(line_text(line), scroll_end=False)
        if not self.show_error:
            view.scroll_end(animate=False)
        self._say("")

    def _say(self, extra: str | None = None) -> None:
        """The status line: `extra` (when given, else the note said last) and the counts."""
        if extra is not None:
            self._note = extra
        extra = self._note
        total = len(self.log_source.lines)
        if self.query_text:
            text = f"{len(self.shown):,} of {total:,} lines match {self.query_text!r}"
        else:
            text = f"{total:,} lines"
        text += "   /: search   s: save   e: last error   g/G: top/end   q/Esc: close"
        if extra:
            text = extra + "   " + text
        self.query_one("#plog-status", Static).update(safe_text(text, single_line=True))

    def _arrived(self, line: LogLine) -> None:
        if not self.is_mounted:
            return
        if self.query_text and not self.log_source.search(self.query_text, [line]):
            return
        self.shown.append(line)
        view = self.lines_view
        follow = view.scroll_offset.y >= view.max_scroll_y - 1
        view.write(line_text(line), scroll_end=follow)
        self._say()

    def _scroll_to_seq(self, seq: int) -> None:
        for index, line in enumerate(self.shown):
            if line.seq >= seq:
                view = self.lines_view
                view.scroll_to(y=max(0, index - 3), animate=False)
                self._say(f"line {index + 1}: the last error")
                return

    # -- actions --

    def action_close(self) -> None:
        search = self.query_one("#plog-search", Input)
        if search.has_class("shown"):
            search.remove_class("shown")
            self.lines_view.focus()
            return
        if self.query_text:
            self.query_text = ""
            self._fill()
            return
        self.dismiss(None)

    def action_search(self) -> None:
        search = self.query_one("#plog-search", Input)
        search.add_class("shown")
        search.value = self.query_text
        search.focus()

    @on(Input.Submitted, "#plog-search")
    def _searched(self, event: Input.Submitted) -> None:
        event.stop()
        event.input.remove_class("shown")
        self.query_text = event.value.strip()
        self._fill()
        self.lines_view.focus()

    def action_top(self) -> None:
        self.lines_view.scroll_home(animate=False)
        self._say("")

    def action_bottom(self) -> None:
        self.lines_view.scroll_end(animate=False)
        self._say("")

    def action_last_error(self) -> None:
        seq = self.log_source.last_error
        if seq is None:
            self._say("no error in the log")
            return
        self._scroll_to_seq(seq)

    @work(exclusive=True, group="protolog-save")
    async def action_save(self) -> None:
        from widgets.save_prompt import SavePrompt, short_path

        stamp = time.strftime("%Y%m%d-%H%M%S")
        name = f"termail-protocol-{safe_line(self.account, max_len=40)}-{stamp}.log"
        name = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        target: Any = await self.app.push_screen_wait(
            SavePrompt(name, _save_folder(), size=f"{len(self.shown):,} lines")
        )
        if target is None:
            return
        try:
            if target.create:
                target.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            path = self.log_source.save(target.folder / (target.name or name), self.shown)
        except OSError as exc:
            self.app.notify(
                f"Cannot save the log: {exc.strerror or exc}", severity="error", markup=False
            )
            return
        self.app.notify(f"Saved {len(self.shown):,} lines to {short_path(path)}", markup=False)


def _save_folder() -> Path:
    """The folder attachments were saved to last, else the home folder."""
    try:
        from app.state import recall

        last = recall("attachments.folder")
    except Exception:
        last = None
    if isinstance(last, str) and last and Path(last).is_dir():
        return Path(last)
    return Path.home()
