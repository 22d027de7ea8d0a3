"""The query bar: search (`/`, `n`, Esc), limit and mark by pattern (`l`, ctrl+t, ctrl+u:
`app/screens/pattern_actions.py`), and `in:all` searches listed on their own screen."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.actions.search_all import FolderHit, split_scope
from app.screens import pattern_actions
from app.screens.main.errors import error_text
from app.screens.main.listing import open_folder
from app.screens.main.panes import set_reading
from widgets.workers import work

if TYPE_CHECKING:
    from app.screens.main.host import Host

__all__ = ["SearchActions", "query_cleared", "query_submitted"]


def query_submitted(screen: Host, text: str) -> None:
    """Enter in the query bar: a search, an `in:all` search, or what `l`/ctrl+t/ctrl+u asked."""
    # The bar hides itself: the focus goes back to the list now, not to whatever Textual
    # picks next (the viewer); a bad query gives it back to the bar (`show_error`).
    screen.message_list.focus()
    mode, screen.query_mode = screen.query_mode, "search"
    if mode != "search":
        screen.run_pattern(mode, text)
        return
    everywhere, rest = split_scope(text)
    if everywhere:
        _search_all(screen, text, rest)
        return
    screen.limit_text = None  # a search replaces the limit
    screen.run_search(text)


def query_cleared(screen: Host) -> None:
    """Esc in the query bar."""
    mode, screen.query_mode = screen.query_mode, "search"
    if mode in ("tag", "untag"):  # Esc on a mark-by-pattern prompt keeps the list as it is
        screen.message_list.focus()
        return
    screen.remove_class("-reading")  # the search is cleared, not only the reading view
    screen.action_clear_search()
    screen.message_list.focus()  # Esc in the bar (empty, refused or not) returns to the list


def _search_all(screen: Host, text: str, rest: str) -> None:
    """`in:all ...`: check the query here (the caret goes under the typo), then list the
    matches of every folder on their own screen; Enter there opens one in its folder."""
    from app.imap.search import QueryError, parse_query
    from app.screens.search_results import open_results

    try:
        parse_query(rest)
    except QueryError as exc:
        screen.query_bar.show_error(exc.message, exc.position + text.find(rest) if rest else 0)
        return

    def chosen(hit: FolderHit | None) -> None:
        if isinstance(hit, FolderHit):
            screen.open_hit(hit)

    open_results(screen, text, rest, chosen)  # in:all or in:all-accounts


class SearchActions:
    """`/` search, `n` next match, Esc clear, `l` limit, ctrl+t / ctrl+u mark by pattern."""

    # The screen's state these keys write (declared in MainScreen.__init__).
    _search_uids: list[int] | None
    limit_text: str | None

    def action_search(self: Host) -> None:
        pattern_actions.open_bar(self, "search")

    def action_limit(self: Host) -> None:
        pattern_actions.open_bar(self, "limit")

    def action_tag_pattern(self: Host) -> None:
        pattern_actions.open_bar(self, "tag")

    def action_untag_pattern(self: Host) -> None:
        pattern_actions.open_bar(self, "untag")

    def action_next_match(self: Host) -> None:
        if self._search_uids is not None:
            self.message_list.action_cursor_down()

    def action_clear_search(self: Host) -> None:
        if self.has_class("-reading") or self.has_class("-zoom"):
            # Back from the viewer to the list: a narrow screen's, or the one `v` zoomed.
            self.remove_class("-zoom")
            set_reading(self, False)  # a wide screen is not restyled for it (issue 21)
            self.message_list.focus()
            return
        if self._search_uids is None:
            return
        self._search_uids = None
        self.limit_text = None
        if self.threaded and self._thread_rows is not None:
            uids, depths = self._thread_rows
            self.message_list.set_uids(uids, keep_cursor=True, reset_summaries=False, depths=depths)
        else:
            self.message_list.set_uids(self._folder_uids, keep_cursor=True, reset_summaries=False)
        self.status.message = ""  # the folder's counts are shown beside it

    @work(exclusive=True, group="search", description="searching")
    async def run_pattern(self: Host, mode: pattern_actions.Mode, text: str) -> None:
        await pattern_actions.run_pattern(self, mode, text)

    @work(exclusive=True, group="search", description="searching")
    async def run_search(self: Host, text: str) -> None:
        from app.imap.search import QueryError

        self.status.message = "Searching…"
        try:
            with self.status.job("Searching"):
                found = await self.account.search(text)
        except QueryError as exc:
            self.query_bar.show_error(exc.message, exc.position)
            self.status.message = ""
            return
        except Exception as exc:
            # Never leave "Searching…" behind: the status says what failed, the list is kept.
            self.status.show_message(f"Search failed: {error_text(exc)}", error=True)
            self._report(exc, "Search failed")
            return
        self._search_uids = found
        set_reading(self, False)
        self.message_list.set_uids(found, keep_cursor=False, reset_summaries=False)
        from app.actions.operations import plural

        self.status.message = f"{plural(len(found), 'match', 'matches')} for {text!r}; Esc clears"
        self.message_list.focus()

    @work(exclusive=True, group="folder", description="opening the found message")
    async def open_hit(self: Host, hit: FolderHit) -> None:
        """Open the folder `hit` is in (unless open) and the message in it."""
        from app.screens.search_results import open_elsewhere

        if open_elsewhere(self, hit):  # another account's (in:all-accounts)
            return
        folder = self.account.folder(hit.folder)
        if folder is None:  # made since the tree was loaded, or not connected yet
            try:
                if self.account.client is None:  # a screen just shown (in:all-accounts)
                    await self.account.connected()
                await self.account.load_folders()
            except Exception as exc:
                self._report(exc, "Could not open the found message")
                return
            folder = self.account.folder(hit.folder)
        if folder is None:
            from app.mime.sanitize import clean_line

            self.notify(f"No folder {clean_line(hit.folder)!r} any more", markup=False)
            return
        current = self.account.current
        if current is None or current.folder.name != folder.name:
            self.folder_tree.select_folder(folder.name)
            await open_folder(self, folder)
            current = self.account.current
            if current is None or current.folder.name != folder.name:
                return  # it could not be opened: open_folder said why
        if not self.message_list.select_uid(hit.uid):
            self.notify("That message is no longer in its folder", markup=False, timeout=4)
            return
        self.message_list.action_open()
