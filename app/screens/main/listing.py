"""Opening a folder into the list: the header cache's rows at once, the server's over them,
the rows' summaries fetched as the list asks for them, and the folder tree."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from app.account import OpenFolder
from app.models import Folder, FolderRole, MessageSummary
from app.screens.main.arrange import arrange_list
from app.screens.main.watch import start_idle, stop_idle
from widgets.query_bar import QueryInput
from widgets.workers import screen_going, work

if TYPE_CHECKING:
    from app.screens.main.host import Host

__all__ = [
    "INBOX",
    "ListWorkers",
    "ask_unanswered",
    "connecting",
    "focus_list_unless_typing",
    "held_source",
    "open_folder",
    "reload_folders",
    "show_folders",
]

#: The INBOX before the folder list is known (RFC 3501: every server has it, by this name).
INBOX = Folder("INBOX", "INBOX", "/", frozenset(), FolderRole.INBOX)


def connecting(screen: Host) -> bool:
    """Start-up (or a reconnect) before the server has answered."""
    return screen.status.connection == "connecting"


def held_source(screen: Host) -> Callable[[Sequence[int]], list[MessageSummary]]:
    """The list's rows at hand (memory, cache) in the folder open now, drawn filled; none
    once another folder (or UIDVALIDITY) is open, whose UIDs mean other messages."""
    account = screen.account
    current = account.current
    key = (current.folder.name, current.uidvalidity) if current is not None else None

    def held(uids: Sequence[int]) -> list[MessageSummary]:
        now = account.current
        if now is None or (now.folder.name, now.uidvalidity) != key:
            return []
        return account.held_summaries(uids)

    return held


def focus_list_unless_typing(screen: Host) -> None:
    """The list takes the focus when a folder opens, but not from a query the user began to
    type while it was opening (`/` pressed during start-up kept losing its letters)."""
    if not isinstance(screen.app.focused, QueryInput):
        screen.message_list.focus()


def show_folders(screen: Host) -> None:
    """The folder list into the tree; unsubscribed folders left out when the config says
    `show_unsubscribed = false` (INBOX and the open folder always stay)."""
    folders = screen.account.folders
    if not getattr(screen.ui, "show_unsubscribed", True):
        open_name = screen.account.current.folder.name if screen.account.current else None
        folders = [
            f for f in folders if f.subscribed or f.name.upper() == "INBOX" or f.name == open_name
        ]
    screen.folder_tree.set_folders(folders, screen.account.statuses)
    _offer_to_pickers(screen)


def picker_names(screen: Host) -> list[str] | None:
    """What a folder picker offers, in the tree's order: the server's list, else the cached one
    the tree shows before LIST answers; None while neither is there (a cold start)."""
    from widgets.folder_tree import display_order

    folders = screen.account.folders or screen.folder_tree.folders
    return [f.name for f in display_order(folders) if f.selectable] if folders else None


def _offer_to_pickers(screen: Host) -> None:
    """A picker opened over this screen before LIST answered gets the server's list now."""
    from widgets.dialogs import FolderPicker

    stack: list[object] = list(screen.app.screen_stack)
    at = next((i for i, pushed in enumerate(stack) if pushed is screen), len(stack))
    pickers = [s for s in stack[at + 1 :] if isinstance(s, FolderPicker) and s.is_mounted]
    names = picker_names(screen) if pickers else None
    for picker in pickers:
        picker.offer(names or [])


async def reload_folders(screen: Host) -> bool:
    """List the folders into the tree; a failure is reported and the tree kept (issue 14:
    an error here ended the app at every start). False when it failed."""
    try:
        await screen.account.load_folders()
    except Exception as exc:
        screen._report(exc, "Cannot list the folders")
        return False
    if screen_going(screen):
        return False
    show_folders(screen)
    return True


async def open_folder(screen: Host, folder: Folder, *, shown: OpenFolder | None = None) -> None:
    """Open `folder`: its cached list at once, then the server's over it. `shown`: its
    cached list is already on screen (the warm start), where the user may have moved."""
    from app.actions.operations import plural

    account = screen.account
    screen.status.folder = folder.name
    screen.status.message = f"Opening {folder.name}…"
    # The old folder's watcher goes now, not once this one is open: its connection and its
    # copy of the old UID list are freed before the new list is loaded (peak memory).
    watched = screen._idle_folder
    stop_idle(screen)
    ml = screen.message_list
    # Focus first: the footer's re-layout for the list's keys runs while the server works.
    focus_list_unless_typing(screen)
    # The header cache's list first (no server), then the server's answer over it.
    cached = shown if shown is not None else account.open_folder_cached(folder)
    if cached is not None and shown is None:
        _show_list(screen, folder, cached)
        count = plural(len(cached.uids), "message")
        screen.status.message = f"{count} (checking with the server…)"
    elif shown is not None and shown.provisional:  # start-up's newest rows (show_early_inbox)
        screen.status.message = f"{plural(len(shown.uids), 'message')} (newest first, sorting…)"
    if cached is not None and account.client is None and connecting(screen):
        # Start-up: the cached list stays; `connect_account` checks it once connected.
        screen.status.message = f"{plural(len(cached.uids), 'message')} (from the cache)"
        return
    try:
        with screen.status.job(f"Opening {folder.name}"):
            if cached is None:
                # Nothing cached: the newest rows now, the server's order when SORT answers.
                cached = await account.open_folder_newest(folder)
                if cached is not None:
                    _show_list(screen, folder, cached)
                    count = plural(len(cached.uids), "message")
                    screen.status.message = f"{count} (newest first, sorting…)"
            opened = await account.open_folder(folder)
    except Exception as exc:
        screen._report(exc, f"Cannot open {folder.name}")
        # Not "Opening …" for good: the status bar says it failed (issue 13).
        screen.status.message = f"Cannot open {folder.name}"
        current = account.current
        if watched is not None and current is not None and current.folder.name == watched.name:
            start_idle(screen, watched)  # still on the folder watched before
        return
    screen._folder_uids = opened.uids
    screen.status.message = ""
    if account.statuses.get(folder.name) is None:  # STATUS counts replace it when known
        screen.status.set_counts(len(opened.uids), None)
    if cached is not None and cached.uidvalidity == opened.uidvalidity:
        # Same messages: keep what the list holds, and the cursor if the user moved it
        # (or the results of a search started meanwhile); unchanged, nothing is redrawn.
        if screen._search_uids is None and not ml.share_uids(opened.uids):
            # End pressed meanwhile stays at the end: the last row is the oldest in either list.
            at_end = ml.row_count > 1 and ml.cursor_row == ml.row_count - 1
            ml.set_uids(opened.uids, keep_cursor=ml.cursor_row > 0, reset_summaries=False)
            if at_end:
                ml.action_last()
        ml.update_summaries(opened.updated)
        from app.screens import pattern_actions

        pattern_actions.after_open(screen)  # a limit made from the cache: the server's now
    else:
        _show_list(screen, folder, opened)
    status = account.statuses.get(folder.name)
    if status is not None:
        screen.status.set_counts(status.messages, status.unseen)
    # The watcher's connection (TLS, login, SELECT) after this folder's rows are drawn.
    screen.call_after_refresh(start_idle, screen, folder)
    # Threads stay on from folder to folder; without SORT the order arrives after the
    # list by UID was drawn.
    if screen.threaded or not opened.ordered:
        await arrange_list(screen, keep_cursor=ml.cursor_row > 0)


def _show_list(screen: Host, folder: Folder, shown: OpenFolder) -> None:
    """A folder's list drawn anew (cursor on the first row), with the summaries at hand."""
    account, ml = screen.account, screen.message_list
    screen._search_uids = None
    screen.remove_class("-reading", "-zoom")  # the new folder's list is shown
    screen._folder_uids = shown.uids
    ml.sent_mode = folder.role in (FolderRole.SENT, FolderRole.DRAFTS)
    ml.set_uids(shown.uids, keep_cursor=False)
    ml.held_source = held_source(screen)
    # The first rows' summaries at once, not after a round of SummariesWanted.
    ml.update_summaries(account.held_summaries(shown.uids[: account.first_fetch]))
    screen.viewer.show_loading("Select a message and press Enter")


def ask_unanswered(screen: Host) -> None:
    """Connected: the rows asked for while offline that the cache did not have."""
    if screen._unanswered:
        uids, screen._unanswered = screen._unanswered, set()
        screen.message_list.forget_requested(uids)


@contextlib.contextmanager
def _header_progress(screen: Host, count: int) -> Iterator[None]:
    """One status-bar job for all header fetches in flight: "Fetching headers 150/400"."""
    screen._headers_wanted += count
    screen.status.update_job(
        "headers", screen._headers_done, screen._headers_wanted, "Fetching headers"
    )
    try:
        yield
    finally:
        screen._headers_done += count
        if screen._headers_done >= screen._headers_wanted:
            screen._headers_wanted = screen._headers_done = 0
            screen.status.end_job("headers")
        else:
            screen.status.update_job("headers", screen._headers_done, screen._headers_wanted)


class ListWorkers:
    """The workers that fill the list: a folder opened, the summaries of the rows shown."""

    @work(exclusive=True, group="folder", description="opening folder")
    async def open_folder(self: Host, folder: Folder) -> None:
        await open_folder(self, folder)

    @work(group="summaries", description="fetching headers")
    async def fetch_summaries(self: Host, uids: list[int], epoch: int | None = None) -> None:
        try:
            with _header_progress(self, len(uids)):
                summaries = await self.account.summaries_for(uids)
        except Exception as exc:
            self.message_list.forget_requested(uids)
            self._report(exc, "Fetching headers failed")
            return
        if screen_going(self):
            return  # the app quit meanwhile
        self.message_list.update_summaries(summaries, epoch=epoch)
        if self.account.client is None and len(summaries) < len(uids):
            # Not connected yet (start-up) and not in the cache: asked again once connected,
            # not left "loading…" for good.
            got = {s.uid for s in summaries}
            self._unanswered.update(u for u in uids if u not in got)
