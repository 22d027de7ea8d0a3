"""The results of a search of every folder: folder, date, from, subject; Enter opens one.

The screen runs `app.actions.search_all.search_all_folders` in a worker and draws its typed results,
every server string through the sanitizer as `Text`. It is dismissed with the chosen
`FolderHit` (Enter) or None (Esc); the main screen opens the message in its folder.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from app.actions.search_all import AllFoldersResult, FolderHit, search_all_folders
from widgets.message_list import message_date
from widgets.safe import addresses_text, decode_header_text, safe_line

if TYPE_CHECKING:
    from app.account import Account


def _date_text(hit: FolderHit) -> str:
    when = message_date(hit.summary)
    if when is None:
        return "?"
    if when.tzinfo is not None:
        when = when.astimezone()
    today = datetime.now(UTC).astimezone().date()
    return when.strftime("%H:%M" if when.date() == today else "%Y-%m-%d")


class SearchResultsScreen(Screen[FolderHit | None]):
    """Every folder's matches for one query, newest first."""

    DEFAULT_CSS = """
    SearchResultsScreen {
        & > #results-title { height: auto; padding: 0 1; background: $panel; }
        & > #results-note { height: auto; padding: 0 1; color: $text-muted; }
        & > DataTable { height: 1fr; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back", id="search_all.close"),
        Binding("q", "close", "Back", id="search_all.quit", show=False),
    ]

    def __init__(self, account: Account, query: str) -> None:
        super().__init__()
        self.account = account
        self.query_text = query
        self.result: AllFoldersResult | None = None
        self._hits: dict[str, FolderHit] = {}

    def compose(self) -> ComposeResult:
        title = Text("Search all folders: ", style="bold")
        title.append(safe_line(self.query_text or "(everything)", max_len=200))
        yield Static(title, id="results-title")
        yield Static(Text("Searching every folder…"), id="results-note")
        table: DataTable[Text] = DataTable(cursor_type="row", zebra_stripes=True)
        yield table
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("Folder", key="folder")
        table.add_column("Date", key="date")
        table.add_column("From", key="from")
        table.add_column("Subject", key="subject")
        table.focus()
        self.run_search()

    @work(exclusive=True, group="search-all", description="searching every folder")
    async def run_search(self) -> None:
        note = self.query_one("#results-note", Static)
        try:
            result = await search_all_folders(self.account, self.query_text)
        except Exception as exc:  # a bad query is caught before the screen opens
            text = safe_line(str(exc) or type(exc).__name__, max_len=300)
            note.update(Text(f"Search failed: {text}", style="bold red"))
            return
        self.result = result
        self.show(result)

    def show(self, result: AllFoldersResult) -> None:
        table: DataTable[Text] = self.query_one(DataTable)
        table.clear()
        self._hits.clear()
        hits = sorted(
            result.hits,
            key=lambda h: message_date(h.summary) or datetime.min.replace(tzinfo=UTC),
            reverse=True,
        )
        for i, hit in enumerate(hits):
            envelope = hit.summary.envelope
            sender = addresses_text(envelope.from_ or envelope.sender) or "?"
            subject = decode_header_text(envelope.subject) or "(no subject)"
            key = f"{i}"
            self._hits[key] = hit
            table.add_row(
                Text(safe_line(hit.folder, max_len=60)),
                Text(_date_text(hit)),
                Text(safe_line(sender, max_len=40)),
                Text(safe_line(subject, max_len=200)),
                key=key,
            )
        folders = f"{result.searched} folder" + ("" if result.searched == 1 else "s")
        if not hits:
            message = f"No message matches in {folders}. Esc goes back."
        else:
            message = f"{result.total} match{'' if result.total == 1 else 'es'} in {folders}"
            if result.truncated:
                message += f" (the newest {len(hits)} shown)"
            message += "; Enter opens, Esc goes back."
        if result.failed:
            names = ", ".join(safe_line(name, max_len=60) for name, _ in result.failed[:5])
            message += f" Not searched (refused): {names}"
        self.query_one("#results-note", Static).update(Text(message))

    @on(DataTable.RowSelected)
    def _chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        hit = self._hits.get(str(event.row_key.value))
        if hit is not None:
            self.dismiss(hit)

    def action_close(self) -> None:
        self.dismiss(None)
