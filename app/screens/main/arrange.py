"""The list's order: threads (`T`), the sort menu (`o`), and the order made here when the
server has no SORT; one arrangement at a time."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from widgets.workers import work

if TYPE_CHECKING:
    from app.screens.main.host import Host

__all__ = ["ArrangeActions", "arrange_list", "progress_of"]


def progress_of(screen: Host, key: str) -> Callable[[int, int], None]:
    """A progress callback for the core that moves the status bar's job `key`."""

    def progress(done: int, total: int) -> None:
        screen.status.update_job(key, done, total)

    return progress


async def arrange_list(screen: Host, *, keep_cursor: bool = True, asked: bool = False) -> bool:
    """Show the open folder as threads (when on) or in the order made here (no SORT on
    the server), after the list by UID was drawn; False when it failed (reported).

    `asked`: the user just asked for threads (`T`, `o`), so a failure turns them off
    again; after a folder change or new mail they stay on (the next refresh retries).
    One arrangement at a time: a call while one runs (new mail, `o` during the fetch)
    has it run once more when done, with the state of then."""
    if screen._arranging:
        screen._arrange_again = True
        return True
    screen._arranging = True
    try:
        while True:
            screen._arrange_again = False
            done = await _arrange_once(screen, keep_cursor=keep_cursor, asked=asked)
            if not done or not screen._arrange_again:
                return done
            keep_cursor = True
    finally:
        screen._arranging = False


async def _arrange_once(screen: Host, *, keep_cursor: bool, asked: bool) -> bool:
    account = screen.account
    try:
        if screen.threaded:
            with screen.status.job("Threading") as key:
                uids, depths = await account.thread_view(progress_of(screen, key))
            screen._thread_rows = (uids, depths)
            if screen._search_uids is None:
                screen.message_list.set_uids(
                    uids, keep_cursor=keep_cursor, reset_summaries=False, depths=depths
                )
            return True
        with screen.status.job("Sorting") as key:
            ordered = await account.local_order(progress_of(screen, key))
    except Exception as exc:
        if screen.threaded:
            screen.threaded = not asked
            screen._report(exc, "Threads are not available")
        else:
            screen._report(exc, "Sorting failed")
        return False
    if ordered is not None:
        screen._folder_uids = ordered
        if screen._search_uids is None:
            screen.message_list.set_uids(ordered, keep_cursor=keep_cursor, reset_summaries=False)
    return True


class ArrangeActions:
    """`o` the sort menu, `T` threads on and off."""

    _thread_rows: tuple[list[int], list[int]] | None  # the screen's state (MainScreen.__init__)

    @work(group="folder")
    async def action_sort(self: Host) -> None:
        """The sort menu; the choice orders the flat list and, with threads on, the threads."""
        from app.store.threads import DEFAULT_REVERSE
        from widgets.sort_menu import ENTRIES, SortMenu, direction_words

        account = self.account
        choice = await self.app.push_screen_wait(
            SortMenu(account.sort, account.reverse, DEFAULT_REVERSE, threaded=self.threaded)
        )
        if choice is None:
            return
        if choice.sort == "thread-last-date":
            self.threaded = True  # an order of threads: they are shown
        label = next((lbl for name, _, lbl in ENTRIES if name == choice.sort), choice.sort)
        try:
            with self.status.job(f"Sorting by {label.lower()}") as key:
                uids = await account.resort(choice.sort, choice.reverse, progress_of(self, key))
        except Exception as exc:
            self._report(exc, "Sorting failed")
            return
        self._folder_uids = uids
        if self.threaded:
            if not await arrange_list(self, asked=True):
                return
        elif self._search_uids is None:
            self.message_list.set_uids(uids, keep_cursor=True, reset_summaries=False)
        words = direction_words(choice.sort, choice.reverse)
        said = label if choice.sort == "thread-last-date" else f"Sorted by {label.lower()}"
        self.notify(f"{said}, {words}", markup=False)

    @work(group="folder")
    async def action_toggle_threads(self: Host) -> None:
        """Threads (the server's THREAD=REFERENCES, else made here) or the flat list."""
        self.threaded = not self.threaded
        if not self.threaded:
            self._thread_rows = None
            if self._search_uids is None:
                self.message_list.set_uids(
                    self._folder_uids, keep_cursor=True, reset_summaries=False
                )
            self.notify("Threads off", markup=False)
            return
        if await arrange_list(self, asked=True):
            self.notify("Threads on", markup=False)
