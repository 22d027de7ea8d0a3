"""The results of a search of every folder: folder, date, from, subject; Enter opens one.

The screen runs `app.actions.search_all.search_all_folders` in a worker and draws its typed results,
every server string through the sanitizer as `Text`. It is dismissed with the chosen
`FolderHit` (Enter) or None (Esc); the main screen opens the message in its folder.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Static

from app.actions.search_all import (
    AllFoldersResult,
    FolderHit,
    search_accounts,
    search_all_folders,
)
from widgets.footer import Footer
from widgets.message_list import message_date
from widgets.safe import addresses_text, decode_header_text, safe_line
from widgets.workers import work

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

    def __init__(self, account: Account, query: str, accounts: list[Account] | None = None) -> None:
        """`accounts`: search every folder of each of them (`in:all-accounts`); else of
        `account` only."""
        super().__init__()
        self.account = account
        self.accounts = accounts
        self.query_text = query
        self.result: AllFoldersResult | None = None
        self._hits: dict[str, FolderHit] = {}

    def compose(self) -> ComposeResult:
        what = "all accounts" if self.accounts else "all folders"
        title = Text(f"Search {what}: ", style="bold")
        title.append(safe_line(self.query_text or "(everything)", max_len=200))
        yield Static(title, id="results-title")
        yield Static(Text("Searching every folder…"), id="results-note")  # then: n of m
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

        def progress(done: int, total: int, account: str = "") -> None:
            where = f" of {safe_line(account, max_len=60)}" if account and self.accounts else ""
            note.update(Text(f"Searching every folder{where}… {done} of {total} done"))

        try:
            if self.accounts:
                result = await search_accounts(
                    self.accounts, self.query_text, progress=lambda a, d, t: progress(d, t, a)
                )
            else:
                result = await search_all_folders(self.account, self.query_text, progress=progress)
        except Exception as exc:  # a bad query is caught before the screen opens
            from app.screens.protolog_actions import error_with_hint

            text = safe_line(str(exc) or type(exc).__name__, max_len=300)
            note.update(Text(error_with_hint(exc, f"Search failed: {text}"), style="bold red"))
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
            where = f"{hit.account}: {hit.folder}" if self.accounts else hit.folder
            table.add_row(
                Text(safe_line(where, max_len=80)),
                Text(_date_text(hit)),
                Text(safe_line(sender, max_len=40)),
                Text(safe_line(subject, max_len=200)),
                key=key,
            )
        folders = f"{result.searched} folder" + ("" if result.searched == 1 else "s")
        if self.accounts:
            folders += f" of {len(self.accounts)} account" + (
                "" if len(self.accounts) == 1 else "s"
            )
        if not hits:
            message = f"No message matches in {folders}. Esc goes back."
        else:
            matches = f"{result.total} match{'' if result.total == 1 else 'es'}"
            if result.truncated:  # the folders of the hits not fetched are not known
                message = f"{matches}, {folders} searched (the newest {len(hits)} shown)"
            else:
                holding = len({(hit.account, hit.folder) for hit in hits})
                message = f"{matches} in {holding} of {folders}"
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


def open_results(
    screen: Any, text: str, rest: str, chosen: Callable[[FolderHit | None], None]
) -> None:
    """`in:all …` / `in:all-accounts …` from the main screen's query bar: the results screen;
    Enter there opens the hit (in its account, switching to it when it is another)."""
    from app.actions.search_all import scope_of

    scope, _ = scope_of(text)
    accounts = list(screen.app.accounts) if scope == "accounts" else None
    screen.app.push_screen(SearchResultsScreen(screen.account, rest, accounts=accounts), chosen)


def open_elsewhere(screen: Any, hit: FolderHit) -> bool:
    """A hit of another account: show that account's screen and open the hit there."""
    if not hit.account or hit.account == screen.account.name:
        return False
    app = screen.app
    names = [a.name for a in app.accounts]
    if hit.account not in names:
        return False
    app._show_account(names.index(hit.account))
    other = app._screens.get(hit.account)
    if other is not None:
        other.call_after_refresh(other.open_hit, hit)
    return True
