"""The main screen: folder tree | message list | viewer, with the status bar and the query bar.

The screen owns the state (which account, which folder, which message) and runs every network
call in a worker; widgets only get data by method calls and answer with messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer

from app.account import Account, OpenFolder
from app.actions.search_all import FolderHit, split_scope
from app.models import Flag, Folder, FolderRole, FolderStatus, MessageSummary
from app.screens import pattern_actions
from app.state import recall, remember
from widgets.dialogs import ConfirmDialog, FolderPicker, PromptDialog
from widgets.folder_tree import FolderTree, display_order
from widgets.message_list import MessageList
from widgets.message_view import MessageView, html_switch_note
from widgets.query_bar import QueryBar, QueryInput
from widgets.splitter import Splitter
from widgets.status_bar import StatusBar

log = logging.getLogger(__name__)


#: The INBOX before the folder list is known (RFC 3501: every server has it, by this name).
_INBOX = Folder("INBOX", "INBOX", "/", frozenset(), FolderRole.INBOX)


class MainScreen(Screen[None]):
    """Three panes over one account."""

    BINDINGS = [
        Binding("d", "delete", "Delete", id="msg.delete"),
        Binding("u", "undo", "Undo", id="msg.undo"),
        Binding("F", "toggle_flag", "Flag", id="msg.flag"),
        Binding("N", "toggle_unread", "Unread", id="msg.unread"),
        Binding("s", "move", "Move", id="msg.move"),
        Binding("C", "copy", "Copy", id="msg.copy"),
        Binding("dollar_sign", "expunge", "Expunge", id="folder.expunge", show=False),
        Binding("r", "reply", "Reply", id="msg.reply"),
        Binding("R", "reply_all", "Reply all", id="msg.reply_all"),
        Binding("f", "forward", "Forward", id="msg.forward"),
        Binding(
            "ctrl+f",
            "forward_attached",
            "Forward as attachment",
            id="msg.forward_attached",
            show=False,
        ),
        Binding("m", "compose", "Compose", id="msg.compose"),
        Binding("vertical_line", "pipe", "Pipe", id="msg.pipe", show=False),
        Binding("B", "bounce", "Bounce", id="msg.bounce", show=False),
        Binding("e", "edit_new", "Edit as new", id="msg.edit_new", show=False),
        Binding("y", "archive", "Archive", id="msg.archive", show=False),
        Binding("c", "change_folder", "Folder", id="folder.change"),
        Binding("slash", "search", "Search", id="search.open"),
        Binding("n", "next_match", "Next match", id="search.next", show=False),
        Binding("escape", "clear_search", "Clear search", id="search.clear", show=False),
        Binding("l", "limit", "Limit", id="list.limit", show=False),
        Binding("ctrl+t", "tag_pattern", "Mark matching", id="msg.tag_pattern", show=False),
        Binding("ctrl+u", "untag_pattern", "Unmark matching", id="msg.untag_pattern", show=False),
        Binding("v", "toggle_viewer", "Viewer", id="view.zoom", show=False),
        # j/k scroll the viewer and move the list's cursor already: J/K open the next or the
        # previous message from either (mutt's pager moves to the next message too).
        Binding("J", "next_message(1)", "Next message", id="view.next_message", show=False),
        Binding("K", "next_message(-1)", "Previous message", id="view.prev_message", show=False),
        # mutt's Tab (next new) and `c` Tab (next mailbox with new mail) in one key: Tab itself
        # moves the focus between the panes here.
        Binding(
            "ctrl+n", "next_unread", "Next unread (any folder)", id="folder.next_unread", show=False
        ),
        # q in the viewer goes back to the list, as in mutt's pager; from the list it quits.
        Binding("q", "close_viewer", "Back to the list", id="view.close", show=False),
        Binding("H", "toggle_html", "HTML/text", id="view.html", show=False),
        Binding("h", "toggle_headers", "Headers", id="view.headers", show=False),
        Binding("V", "show_raw", "Raw source", id="view.raw", show=False),
        Binding("w", "save_raw", "Save source", id="msg.save_raw", show=False),
        # From the list too (mutt: save from the index): one attachment is saved at once,
        # with several the attachment list takes the focus to choose.
        Binding("a", "save_attachment", "Save attachment", id="msg.save_attachment", show=False),
        Binding("A", "create_folder", "New folder", id="folder.create", show=False),
        Binding("E", "rename_folder", "Rename folder", id="folder.rename", show=False),
        Binding("X", "delete_folder", "Delete folder", id="folder.delete", show=False),
        Binding("S", "toggle_subscribe", "(Un)subscribe", id="folder.subscribe", show=False),
        Binding("o", "sort", "Sort", id="list.sort", show=False),
        Binding("T", "toggle_threads", "Threads", id="list.threads", show=False),
        Binding("O", "show_outbox", "Outbox", id="outbox.show", show=False),
        Binding("ctrl+b", "toggle_folders", "Folders pane", id="view.folders", show=False),
        Binding("greater_than_sign", "resize_pane(1)", "Wider pane", id="view.wider", show=False),
        Binding(
            "less_than_sign", "resize_pane(-1)", "Narrower pane", id="view.narrower", show=False
        ),
        Binding("equals_sign", "reset_panes", "Default pane sizes", id="view.reset", show=False),
        Binding("ctrl+l", "refresh", "Refresh", id="folder.refresh", show=False),
        Binding("Y", "invite('ACCEPTED')", "Accept invitation", id="invite.accept", show=False),
        Binding(
            "M", "invite('TENTATIVE')", "Tentative (invitation)", id="invite.tentative", show=False
        ),
        Binding("D", "invite('DECLINED')", "Decline invitation", id="invite.decline", show=False),
        Binding("L", "list_reply", "List reply", id="list.reply", show=False),
        Binding("U", "unsubscribe", "Unsubscribe", id="list.unsubscribe", show=False),
        Binding("i", "view_image", "View image", id="msg.view_image", show=False),
        Binding("I", "view_inline_images", "Inline images", id="view.images", show=False),
    ]

    DEFAULT_CSS = """
    MainScreen #panes { height: 1fr; }
    MainScreen FolderTree { width: 28; }
    MainScreen MessageList { width: 1fr; }
    MainScreen MessageView { width: 1fr; }
    MainScreen.-zoom FolderTree, MainScreen.-zoom MessageList { display: none; }
    MainScreen.-no-folders FolderTree { display: none; }
    MainScreen.-narrow MessageView { display: none; }
    MainScreen.-narrow.-reading MessageList, MainScreen.-narrow.-reading FolderTree {
        display: none;  /* a narrow screen reads full width, as mutt's pager */
    }
    MainScreen.-narrow.-reading #split-folders { display: none; }
    MainScreen.-narrow.-reading MessageView { display: block; width: 1fr; }
    MainScreen.-zoom Splitter, MainScreen.-no-folders #split-folders { display: none; }
    MainScreen.-narrow #split-viewer { display: none; }
    """

    #: The list has the focus from the start: no other widget's bindings get into the footer
    #: first (each focus change rebuilds the footer while the first screen is drawn).
    AUTO_FOCUS = "#messages"

    open_uid: reactive[int | None] = reactive(None)
    prefer_html: reactive[bool] = reactive(False)

    def __init__(self, account: Account, *, mark_read_delay: float = 0.0) -> None:
        super().__init__()
        self.ui: Any = None
        """The config's UiSettings, set by the App before mounting (None: defaults)."""
        self.account = account
        self.mark_read_delay = mark_read_delay
        self._search_uids: list[int] | None = None
        self.query_mode: pattern_actions.Mode = "search"
        """What the query bar's next query is for: search, limit, tag or untag (`l`, ctrl+t/u)."""
        self.limit_text: str | None = None
        """The query the list is limited to (`l`), offered again by the next `l`."""
        self._folder_uids: Sequence[int] = []
        self._unanswered: set[int] = set()
        """UIDs asked for before the connection was up, and not in the cache."""
        self._idle_task: asyncio.Task[None] | None = None
        self._idle_folder: Folder | None = None
        self.idle_watcher: Any = None
        self._last_dest: str | None = None
        """The folder the last move or copy went to: highlighted first in the next picker."""
        self.threaded = False
        """Threads shown (`T`); stays on from folder to folder and through `o`."""
        self._thread_rows: tuple[list[int], list[int]] | None = None
        """The open folder's thread rows (UIDs, depths), shown again when a search is cleared."""
        self._arranging = False
        self._arrange_again = False
        self.folder_width = 28
        """Preferred columns of the folder tree (narrower when the terminal is)."""
        self.list_share = 50.0
        """Percent of the width right of the folder tree given to the list (the rest: viewer)."""
        self._headers_wanted = 0
        self._headers_done = 0
        self.counts_interval = 120.0
        """Seconds between STATUS rounds over the subscribed folders (new mail elsewhere)."""
        self._answering: int | None = None
        """The message a compose screen opened from here replies to or forwards."""
        self._composed = False  # a compose screen was opened: counts to read when it closes
        self._leaving: set[int] = set()
        """UIDs being deleted or moved now: a second `d` before the first is done skips them."""

    # -- layout -------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="panes"):
            yield FolderTree("Folders", id="folders")
            yield Splitter(id="split-folders")
            yield MessageList(id="messages")
            yield Splitter(id="split-viewer")
            yield MessageView(id="viewer")
        yield QueryBar(id="query")
        yield StatusBar(id="status")
        yield Footer()

    @property
    def folder_tree(self) -> FolderTree:
        return self.query_one(FolderTree)

    @property
    def message_list(self) -> MessageList:
        return self.query_one(MessageList)

    @property
    def viewer(self) -> MessageView:
        return self.query_one(MessageView)

    @property
    def status(self) -> StatusBar:
        return self.query_one(StatusBar)

    @property
    def query_bar(self) -> QueryBar:
        return self.query_one(QueryBar)

    def _apply_ui_settings(self) -> None:
        """The config's [ui] choices: HTML preference, pane sizes, date formats, editor."""
        ui = self.ui
        self._load_pane_sizes()
        if ui is None:
            return
        self.prefer_html = bool(getattr(ui, "prefer_html", False))
        self.message_list.date_formats = (
            ui.date_format_today,
            ui.date_format_this_year,
            ui.date_format,
        )
        editor = getattr(ui, "editor", None)
        if editor:
            self.app.editor_command = editor  # type: ignore[attr-defined]

    def on_mount(self) -> None:
        self._apply_ui_settings()
        self.account.listen_alerts(self._show_alert)
        self.status.account = self.account.name
        self._apply_width(self.size.width)
        self.connect_account()
        self.set_interval(60, self.flush_outbox)
        self.watch_counts()

    @work(exclusive=True, group="counts", description="folder counts")
    async def watch_counts(self) -> None:
        """Counts true without opening folders: after our own commands, and other folders'
        new mail on a timer (`app.actions.counts`, issue 14)."""
        from textual.css.query import NoMatches

        from app.actions.counts import CountsUpdate, FolderCounts
        from app.actions.operations import plural
        from app.mime.sanitize import clean_line

        def on_update(update: CountsUpdate) -> None:
            try:
                self._show_counts(update.folder, update.status)
            except NoMatches:  # the screen is being taken down (quit): nothing to draw on
                return
            current = self.account.current
            if update.new_mail and (current is None or current.folder.name != update.folder):
                self.notify(
                    f"{plural(update.new_mail, 'new message')} in {clean_line(update.folder)}",
                    title="New mail",
                    markup=False,
                )

        await FolderCounts(self.account, interval=self.counts_interval).run(on_update)

    def on_resize(self) -> None:
        self._apply_width(self.size.width)

    def _apply_width(self, width: int) -> None:
        self.set_class(width < 100, "-narrow")
        self._apply_pane_sizes()

    # -- connection ---------------------------------------------------------------------------------
    @work(exclusive=True, group="connect", description="connecting")
    async def connect_account(self) -> None:
        self.status.connection = "connecting"
        shown = self._show_cached_inbox()
        if shown is not None:
            # Its rows are drawn first; connecting (imports, TLS) would hold that frame back.
            drawn = asyncio.Event()
            self.call_after_refresh(drawn.set)
            await drawn.wait()
        delay = 1.0
        while True:
            try:
                await self.account.connected()  # started at app start (`connect_soon`)
                break
            except Exception as exc:
                if _is_fatal(exc):
                    self.status.connection = "offline"
                    self.notify(
                        _error_text(exc), title="Cannot connect", severity="error", markup=False
                    )
                    return
                self.status.set_offline(delay, _error_text(exc))
                self.notify(
                    _error_text(exc), title="Connection failed", severity="warning", markup=False
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60)
        self.status.connection = "connected"
        self.status.account = self.account.name
        self._ask_unanswered()
        chosen = self.account.current
        if chosen is not None and chosen.cached and chosen.folder.name != _INBOX.name:
            # Another cached folder was opened from the cached tree during start-up: that one.
            await self._reload_folders()
            folder = self.account.folder(chosen.folder.name) or chosen.folder
            self.folder_tree.select_folder(folder.name)
            await self._open_folder(folder, shown=chosen)
        elif "inbox" not in self.account.folder_roles:
            # INBOX exists on every server: open it first, and list the folder tree (LIST and
            # a STATUS of every folder) after, so the first screen does not wait for the tree.
            self.folder_tree.select_folder("INBOX")
            await self._open_folder(_INBOX, shown=shown)
            await self._reload_folders()
            self._adopt_listed_inbox()
        else:
            await self._reload_folders()
            inbox = self.account.folder_by_role(FolderRole.INBOX) or self.account.folder("INBOX")
            if inbox is not None:
                self.folder_tree.select_folder(inbox.name)
                await self._open_folder(inbox, shown=shown if inbox.name == _INBOX.name else None)
        self.resume_drafts()

    def _show_alert(self, alert: Any) -> None:
        """A server's ALERT (RFC 3501 §7.1: it MUST be shown), sanitized, once, as a notice."""
        from app.mime.sanitize import clean_line

        self.notify(
            clean_line(alert.text, max_len=500),
            title=clean_line(f"Alert from {alert.server}", max_len=100),
            severity="warning",
            timeout=30,
            markup=False,
        )

    def _adopt_listed_inbox(self) -> None:
        """INBOX was opened before the folder list came: take the listed folder (its real
        attributes and delimiter) and its counts."""
        current = self.account.current
        listed = self.account.folder(_INBOX.name)
        if current is None or listed is None or current.folder.name != listed.name:
            return
        current.folder = listed
        self.folder_tree.select_folder(listed.name)
        status = self.account.statuses.get(listed.name)
        if status is not None:
            self.status.set_counts(status.messages, status.unseen)

    @work(group="drafts")
    async def resume_drafts(self) -> None:
        from app.screens.compose import offer_unfinished_drafts

        await offer_unfinished_drafts(self, self.account)

    def action_show_outbox(self) -> None:
        from app.screens.outbox import OutboxScreen
        from app.smtp.sending import account_outbox

        self.app.push_screen(OutboxScreen(account_outbox(self.account)))

    @work(exclusive=True, group="outbox")
    async def flush_outbox(self) -> None:
        """Retry what waits in the outbox (a 4xx earlier); shown, never silent."""
        from app.smtp.sending import flush_outbox

        try:
            attempts = await flush_outbox(self.account)
        except Exception as exc:
            self._report(exc, "Outbox retry failed")
            return
        self._reload_outbox_screen()
        for attempt in attempts:
            text = {"sent": "A queued message was sent", "retry": "Still waiting to send"}.get(
                attempt.status, "A queued message failed"
            )
            if attempt.error:
                text += f": {attempt.error}"
            if attempt.status == "failed":
                self.notify(text, title="Outbox", severity="error", markup=False)
            else:
                self.notify(text, title="Outbox", markup=False)

    def _reload_outbox_screen(self) -> None:
        """An open outbox shows what the retry changed (a sent entry leaves it)."""
        from app.screens.outbox import OutboxScreen

        for screen in self.app.screen_stack:
            if isinstance(screen, OutboxScreen) and screen.is_mounted:
                screen.reload()

    def _show_cached_inbox(self) -> OpenFolder | None:
        """Before the server answers (or when it cannot be reached): the INBOX as last cached.
        None when nothing is cached; else the list shown, which the user may move in (End)
        until the server's list replaces it, keeping the cursor's message."""
        try:
            cached = self.account.open_folder_cached(_INBOX)
        except Exception:
            return None
        if cached is None:
            return None
        self._folder_uids = cached.uids
        self.message_list.set_uids(cached.uids, keep_cursor=False)
        self.message_list.held_source = self._held_source()
        # The first rows' summaries at once, not after a round of SummariesWanted.
        self.message_list.update_summaries(
            self.account.held_summaries(cached.uids[: self.account.first_fetch])
        )
        self._focus_list_unless_typing()
        self.status.folder = "INBOX"
        from app.actions.operations import plural

        self.status.message = f"{plural(len(cached.uids), 'message')} (from the cache)"
        self._show_cached_folders()
        return cached

    def _show_cached_folders(self) -> None:
        """The folder tree and counts as last listed, until the server's LIST and STATUS."""
        try:
            got = self.account.cached_folders()
        except Exception:
            return
        if got is None or self.account.folders:
            return
        folders, counts = got
        if not getattr(self.ui, "show_unsubscribed", True):  # as `_show_folders` does
            folders = [f for f in folders if f.subscribed or f.name.upper() == "INBOX"]
        self.folder_tree.set_folders(folders, counts)
        self.folder_tree.select_folder(_INBOX.name)
        status = counts.get(_INBOX.name)
        if status is not None:
            self.status.set_counts(status.messages, status.unseen)

    def _connecting(self) -> bool:
        """Start-up (or a reconnect) before the server has answered."""
        return self.status.connection == "connecting"

    def _held_source(self) -> Callable[[Sequence[int]], list[MessageSummary]]:
        """The list's rows at hand (memory, cache) in the folder open now, drawn filled; none
        once another folder (or UIDVALIDITY) is open, whose UIDs mean other messages."""
        current = self.account.current
        key = (current.folder.name, current.uidvalidity) if current is not None else None

        def held(uids: Sequence[int]) -> list[MessageSummary]:
            now = self.account.current
            if now is None or (now.folder.name, now.uidvalidity) != key:
                return []
            return self.account.held_summaries(uids)

        return held

    def _focus_list_unless_typing(self) -> None:
        """The list takes the focus when a folder opens, but not from a query the user began to
        type while it was opening (`/` pressed during start-up kept losing its letters)."""
        if not isinstance(self.app.focused, QueryInput):
            self.message_list.focus()

    async def _reload_folders(self) -> bool:
        """List the folders into the tree; a failure is reported and the tree kept (issue 14:
        an error here ended the app at every start). False when it failed."""
        try:
            await self.account.load_folders()
        except Exception as exc:
            self._report(exc, "Cannot list the folders")
            return False
        self._show_folders()
        return True

    async def _reconnect(self) -> None:
        """A dropped connection: reconnect with backoff and reopen the folder."""
        await self.account.close()
        self.connect_account()

    # -- folders ------------------------------------------------------------------------------------
    @on(FolderTree.FolderSelected)
    def _folder_selected(self, event: FolderTree.FolderSelected) -> None:
        self.open_folder(event.folder)

    @work(exclusive=True, group="folder", description="opening folder")
    async def open_folder(self, folder: Folder) -> None:
        await self._open_folder(folder)

    async def _open_folder(self, folder: Folder, *, shown: OpenFolder | None = None) -> None:
        """Open `folder`: its cached list at once, then the server's over it. `shown`: its
        cached list is already on screen (the warm start), where the user may have moved."""
        self.status.folder = folder.name
        self.status.message = f"Opening {folder.name}…"
        # The old folder's watcher goes now, not once this one is open: its connection and its
        # copy of the old UID list are freed before the new list is loaded (peak memory).
        watched = self._idle_folder
        self._stop_idle()
        ml = self.message_list
        # Focus first: the footer's re-layout for the list's keys runs while the server works.
        self._focus_list_unless_typing()
        # The header cache's list first (no server), then the server's answer over it.
        cached = shown if shown is not None else self.account.open_folder_cached(folder)
        if cached is not None and shown is None:
            self._search_uids = None
            self.remove_class("-reading")
            self._folder_uids = cached.uids
            ml.sent_mode = folder.role in (FolderRole.SENT, FolderRole.DRAFTS)
            ml.set_uids(cached.uids, keep_cursor=False)
            ml.held_source = self._held_source()
            # The first rows' summaries at once, not after a round of SummariesWanted.
            ml.update_summaries(
                self.account.held_summaries(cached.uids[: self.account.first_fetch])
            )
            self.viewer.show_loading("Select a message and press Enter")
            from app.actions.operations import plural

            count = plural(len(cached.uids), "message")
            self.status.message = f"{count} (checking with the server…)"
        if cached is not None and self.account.client is None and self._connecting():
            # Start-up: the cached list stays; `connect_account` checks it once connected.
            from app.actions.operations import plural

            self.status.message = f"{plural(len(cached.uids), 'message')} (from the cache)"
            return
        try:
            with self.status.job(f"Opening {folder.name}"):
                opened = await self.account.open_folder(folder)
        except Exception as exc:
            self._report(exc, f"Cannot open {folder.name}")
            # Not "Opening …" for good: the status bar says it failed (issue 13).
            self.status.message = f"Cannot open {folder.name}"
            current = self.account.current
            if watched is not None and current is not None and current.folder.name == watched.name:
                self._start_idle(watched)  # still on the folder watched before
            return
        self._folder_uids = opened.uids
        self.status.message = ""
        if self.account.statuses.get(folder.name) is None:  # STATUS counts replace it when known
            self.status.set_counts(len(opened.uids), None)
        if cached is not None and cached.uidvalidity == opened.uidvalidity:
            # Same messages: keep what the list holds, and the cursor if the user moved it
            # (or the results of a search started meanwhile); unchanged, nothing is redrawn.
            if self._search_uids is None and opened.uids != ml.uids:
                ml.set_uids(opened.uids, keep_cursor=ml.cursor_row > 0, reset_summaries=False)
            ml.update_summaries(opened.updated)
        else:
            self._search_uids = None
            self.remove_class("-reading")
            ml.sent_mode = folder.role in (FolderRole.SENT, FolderRole.DRAFTS)
            ml.set_uids(opened.uids, keep_cursor=False)
            ml.held_source = self._held_source()
            ml.update_summaries(
                self.account.held_summaries(opened.uids[: self.account.first_fetch])
            )
            self.viewer.show_loading("Select a message and press Enter")
        status = self.account.statuses.get(folder.name)
        if status is not None:
            self.status.set_counts(status.messages, status.unseen)
        # The watcher's connection (TLS, login, SELECT) after this folder's rows are drawn.
        self.call_after_refresh(self._start_idle, folder)
        # Threads stay on from folder to folder; without SORT the order arrives after the
        # list by UID was drawn.
        if self.threaded or not opened.ordered:
            await self._arrange_list(keep_cursor=ml.cursor_row > 0)

    def _start_idle(self, folder: Folder) -> None:
        self._stop_idle()
        self._idle_task = asyncio.create_task(self._idle_loop(folder))
        self._idle_folder = folder

    def _stop_idle(self) -> None:
        if self._idle_task is not None:
            self._idle_task.cancel()
            self._idle_task = None
        self._idle_folder = None

    async def _idle_loop(self, folder: Folder) -> None:
        """A second connection waits in IDLE on the open folder and tells us of changes."""
        try:
            from app.imap.idle import IdleWatcher
        except ImportError:
            return
        changed = asyncio.Event()
        expected: set[int] = set()  # UIDs the watcher saw arrive, until the list shows them

        def on_change(event: object) -> None:
            if getattr(event, "kind", "") == "new":
                expected.update(getattr(event, "uids", ()))
            changed.set()

        watcher = IdleWatcher(
            self.account.imap_settings,
            None if self.account.imap_settings.tunnel else self.account._credentials(),
            folder.name,
            on_change,
            on_alert=self.account.report_alert,
        )
        self.idle_watcher = watcher
        watcher.start()
        try:
            # Mail that arrived between our SELECT and the watcher's: one refresh covers it.
            await watcher.connected.wait()
            await self._refresh_open_folder(notify_new=True)
            retries = 0
            while True:
                await changed.wait()
                changed.clear()
                await asyncio.sleep(0.2)  # fold bursts of updates into one refresh
                await self._refresh_open_folder(notify_new=True)
                # Our connection may see a delivery a moment after the watcher's does: ask
                # again (a few times, backing off) rather than lose the news until the next.
                missing = {uid for uid in expected if uid not in self._folder_uids}
                expected.clear()
                if missing and retries < 3:
                    retries += 1
                    expected.update(missing)
                    await asyncio.sleep(0.5 * retries)
                    changed.set()
                else:
                    retries = 0
        except asyncio.CancelledError:
            pass
        finally:
            with contextlib.suppress(BaseException):
                await watcher.stop()

    async def _refresh_open_folder(self, *, notify_new: bool = False) -> None:
        previous = self._folder_uids
        try:
            uids = await self.account.reload_uids()
        except Exception as exc:
            self._report(exc, "Refresh failed")
            return
        self._folder_uids = uids
        if self.account.reloaded_flags:  # another client's flag changes: repaint those rows
            self.message_list.refresh_uids(self.account.reloaded_flags)
        # Nothing changed (the same list back): no set over the whole folder (4 MB at 100,000).
        unchanged = uids is previous
        current = self.account.current
        if self.threaded or (current is not None and not current.ordered):
            with contextlib.suppress(Exception):
                await self._arrange_list()
        elif self._search_uids is None and not unchanged:
            self.message_list.set_uids(uids, keep_cursor=True, reset_summaries=False)
        before = set() if unchanged else set(previous)
        new = [] if unchanged else [u for u in uids if u not in before]
        if notify_new and new:
            from app.actions.operations import plural

            self.notify(f"{plural(len(new), 'new message')} in {self.status.folder}", markup=False)
        with contextlib.suppress(Exception):
            if self.account.current is not None:
                name = self.account.current.folder.name
                self._show_counts(name, await self.account.refresh_status(name))

    def _show_counts(self, name: str, status: FolderStatus | None) -> None:
        """New counts of folder `name`: in the tree, and in the status bar if it is open."""
        if status is None:
            return
        self.folder_tree.update_counts(name, status)
        current = self.account.current
        if current is not None and current.folder.name == name:
            self.status.set_counts(status.messages, status.unseen)

    # -- the list -----------------------------------------------------------------------------------
    @on(MessageList.SummariesWanted)
    def _summaries_wanted(self, event: MessageList.SummariesWanted) -> None:
        self.fetch_summaries(list(event.uids), event.epoch)

    @work(group="summaries", description="fetching headers")
    async def fetch_summaries(self, uids: list[int], epoch: int | None = None) -> None:
        try:
            with self._header_progress(len(uids)):
                summaries = await self.account.summaries_for(uids)
        except Exception as exc:
            self.message_list.forget_requested(uids)
            self._report(exc, "Fetching headers failed")
            return
        if not self.is_attached:
            return  # the app quit meanwhile
        self.message_list.update_summaries(summaries, epoch=epoch)
        if self.account.client is None and len(summaries) < len(uids):
            # Not connected yet (start-up) and not in the cache: asked again once connected,
            # not left "loading…" for good.
            got = {s.uid for s in summaries}
            self._unanswered.update(u for u in uids if u not in got)

    def _ask_unanswered(self) -> None:
        """Connected: the rows asked for while offline that the cache did not have."""
        if self._unanswered:
            uids, self._unanswered = self._unanswered, set()
            self.message_list.forget_requested(uids)

    @on(MessageList.Opened)
    def _opened(self, event: MessageList.Opened) -> None:
        folder = self.account.current.folder if self.account.current else None
        if folder is not None and folder.role is FolderRole.DRAFTS:
            self._open_compose(event.uid, "draft")  # a draft opens to be finished, not read
            return
        self.open_uid = event.uid
        self.add_class("-reading")
        self.load_message(event.uid)

    @work(exclusive=True, group="message", description="loading message")
    async def load_message(self, uid: int, *, html_switch: bool = False) -> None:
        before = self.viewer.rendered if html_switch else None
        self.viewer.show_loading("Loading…")
        try:
            rendered = await self.account.load_message(uid, prefer_html=self.prefer_html)
        except Exception as exc:
            self.viewer.show_error(_error_text(exc))
            self._report(exc, "Cannot show the message")
            return
        self.viewer.show(rendered)
        self.load_invitation(uid)
        if html_switch:  # H: say what it did, also when nothing could change
            note = html_switch_note(rendered, self.prefer_html, before)
            self.notify(note, markup=False, timeout=4)
        self._prefetch_after(uid)
        summary = self.message_list.summary(uid)
        # No summary yet (opened right after its folder, e.g. by ctrl+n): marked read all the
        # same; +FLAGS \\Seen on a message already read changes nothing.
        if summary is None or Flag.SEEN not in summary.flags:
            if self.mark_read_delay:
                await asyncio.sleep(self.mark_read_delay)
            if self.open_uid == uid:
                await self._set_flag([uid], Flag.SEEN, True)

    def _prefetch_after(self, uid: int) -> None:
        """While the user reads `uid`, get the next message's text into the cache."""
        ml = self.message_list
        row = ml.cursor_row if ml.cursor_uid == uid else -1
        if 0 <= row < ml.row_count - 1:
            self.prefetch_message(ml.uids[row + 1])

    @work(group="prefetch", description="prefetching the next message")
    async def prefetch_message(self, uid: int) -> None:
        try:
            await self.account.prefetch_message(uid, prefer_html=self.prefer_html)
        except Exception as exc:  # a prefetch is a guess: a failure here is not the user's
            log.debug("prefetch of UID %s failed: %s", uid, exc)

    # -- message actions ----------------------------------------------------------------------------
    def _targets(self) -> list[int]:
        marked = sorted(self.message_list.marked)
        if marked:
            return marked
        uid = self.message_list.cursor_uid
        return [uid] if uid is not None else []

    async def _set_flag(self, uids: list[int], flag: str, on: bool) -> None:
        from app.actions import operations as ops

        try:
            outcome = await ops.flag(self.account, uids, flag, on)
        except Exception as exc:
            self._report(exc, "Changing flags failed")
            return
        self._show_outcome(outcome)

    async def _ask_question(self, question: Any) -> bool:
        """Ask what an operation's `Outcome.question` calls for (y/n), as a dialog."""
        answer = await self.app.push_screen_wait(
            ConfirmDialog(question.text, yes=question.yes, no=question.no, danger=question.danger)
        )
        return bool(answer)

    async def _run_op(self, op: Any, title: str, job: str | None = None) -> Any:
        """Run an `app.actions.operations` coroutine (asking its questions); errors are reported and
        give None."""
        from app.actions import operations as ops

        try:
            if job is None:
                return await ops.run_asking(op, self._ask_question)
            with self.status.job(job):
                return await ops.run_asking(op, self._ask_question)
        except Exception as exc:
            self._report(exc, title)
            return None

    def _show_outcome(self, outcome: Any, *, quiet: bool = False) -> None:
        """Render what an operation did: the list, the flags, and one sentence of toast."""
        if outcome.removed:
            self._after_removal(list(outcome.removed))
        if outcome.changed:
            ml = self.message_list
            ml.update_summaries(s for s in (ml.summary(u) for u in outcome.changed) if s)
        if outcome.message and not (quiet and outcome.done):
            text = outcome.message + ("; u to undo" if outcome.undoable else "")
            self.notify(
                text, severity="warning" if outcome.warning else "information", markup=False
            )

    @work(group="action")
    async def action_toggle_flag(self) -> None:
        uids = self._targets()
        first = self.message_list.summary(uids[0]) if uids else None
        on = first is None or Flag.FLAGGED not in first.flags
        await self._set_flag(uids, Flag.FLAGGED, on)

    @work(group="action")
    async def action_toggle_unread(self) -> None:
        uids = self._targets()
        first = self.message_list.summary(uids[0]) if uids else None
        on = first is not None and Flag.SEEN not in first.flags
        await self._set_flag(uids, Flag.SEEN, on)

    @work(group="action")
    async def action_delete(self) -> None:
        from app.actions import operations as ops

        uids = [u for u in self._targets() if u not in self._leaving]
        if not uids:
            return
        self._leaving.update(uids)
        try:
            outcome = await self._run_op(
                lambda answers: ops.delete(self.account, uids, answers),
                "Delete failed",
                f"Deleting {ops.plural(len(uids), 'message')}",
            )
        finally:
            self._leaving.difference_update(uids)
        if outcome is not None:
            await self._after_op(outcome)

    async def _after_op(self, outcome: Any) -> None:
        self._show_outcome(outcome)
        if outcome.refresh:
            await self._refresh_open_folder()
        for name in outcome.touched:  # the tree's counts of the other folders (Trash, the dest)
            with contextlib.suppress(Exception):  # a courtesy: the operation is done
                self._show_counts(name, await self.account.refresh_status(name))

    def _after_removal(self, uids: list[int]) -> None:
        gone = set(uids)
        self._folder_uids = [u for u in self._folder_uids if u not in gone]
        if self._search_uids is not None:
            self._search_uids = [u for u in self._search_uids if u not in gone]
        if self._thread_rows is not None:
            rows = [(u, d) for u, d in zip(*self._thread_rows, strict=True) if u not in gone]
            self._thread_rows = ([u for u, _ in rows], [d for _, d in rows])
        self.message_list.marked.difference_update(gone)
        self.message_list.remove_uids(uids)

    @work(group="action")
    async def action_undo(self) -> None:
        from app.actions import operations as ops

        outcome = await self._run_op(lambda _answers: ops.undo(self.account), "Undo failed")
        if outcome is not None:
            await self._after_op(outcome)

    async def _pick_folder(self, title: str, current: str | None = None) -> str | None:
        """A folder chosen by name, in the tree's order; `current` is highlighted first."""
        names = [f.name for f in display_order(self.account.folders) if f.selectable]
        result: str | None = await self.app.push_screen_wait(
            FolderPicker(title, names, current=current)
        )
        return result

    @work(group="action")
    async def action_move(self) -> None:
        from app.actions import operations as ops

        uids = self._targets()
        if not uids:
            return
        what = ops.plural(len(uids), "message")
        dest = await self._pick_folder(f"Move {what} to", self._last_dest)
        if not dest:
            return
        self._last_dest = dest  # offered first next time, as mutt does
        uids = [u for u in uids if u not in self._leaving]
        if not uids:
            return
        self._leaving.update(uids)
        try:
            outcome = await self._run_op(
                lambda answers: ops.move(self.account, uids, dest, answers),
                "Move failed",
                f"Moving {what}",
            )
        finally:
            self._leaving.difference_update(uids)
        if outcome is not None:
            await self._after_op(outcome)

    @work(group="action")
    async def action_copy(self) -> None:
        from app.actions import operations as ops

        uids = self._targets()
        if not uids:
            return
        what = ops.plural(len(uids), "message")
        dest = await self._pick_folder(f"Copy {what} to", self._last_dest)
        if not dest:
            return
        self._last_dest = dest
        outcome = await self._run_op(
            lambda _answers: ops.copy(self.account, uids, dest), "Copy failed", f"Copying {what}"
        )
        if outcome is not None:
            await self._after_op(outcome)

    @work(group="action")
    async def action_expunge(self) -> None:
        from app.actions import operations as ops

        outcome = await self._run_op(
            lambda answers: ops.expunge(self.account, answers), "Expunge failed"
        )
        if outcome is not None:
            await self._after_op(outcome)

    @work(group="action")
    async def action_change_folder(self) -> None:
        current = self.account.current
        dest = await self._pick_folder("Open folder", current.folder.name if current else None)
        folder = self.account.folder(dest) if dest else None
        if folder is not None:
            self.folder_tree.select_folder(folder.name)
            await self._open_folder(folder)

    # -- compose ------------------------------------------------------------------------------------
    def action_compose(self) -> None:
        self._open_compose(None, "new")

    def action_reply(self) -> None:
        self._open_compose(self.message_list.cursor_uid, "reply")

    def action_reply_all(self) -> None:
        self._open_compose(self.message_list.cursor_uid, "reply_all")

    def action_forward(self) -> None:
        self._open_compose(self.message_list.cursor_uid, "forward")

    def action_forward_attached(self) -> None:
        """Forward the whole message as a message/rfc822 attachment, its bytes as they are."""
        self._open_compose(self.message_list.cursor_uid, "forward_attached")

    def action_edit_new(self) -> None:
        """The message (sent or received) as a new draft, its attachments kept."""
        uid = self.open_uid if self._in_viewer() and self.open_uid else self.message_list.cursor_uid
        if uid is None:
            self.status.show_message("No message to edit as new", timeout=4)
            return
        self._open_compose(uid, "edit_new")

    @work(group="pipe", description="piping")
    async def action_pipe(self) -> None:
        from app.screens import tools

        await tools.pipe(self)

    @work(group="action", description="archiving")
    async def action_archive(self) -> None:
        from app.screens import tools

        await tools.archive(self)

    @work(group="bounce", description="bouncing")
    async def action_bounce(self) -> None:
        from app.screens import tools

        await tools.bounce(self)

    @work(group="compose")
    async def _open_compose(self, uid: int | None, mode: str) -> None:
        if uid is None and mode != "new":  # r/R/f in an empty folder: not a blank new message
            self.notify("No message selected", markup=False)
            return
        try:
            from app.screens.compose import open_compose
        except ImportError:
            self.notify("Compose is not available yet", severity="warning")
            return
        original = None
        attachments = None
        if uid is not None and mode == "forward":
            # The text and each attachment part by part, so forward keeps the attachments.
            def progress(done: int, total: int) -> None:
                self.status.show_message(f"Fetching the attachments… {done * 100 // (total or 1)}%")

            try:
                original, attachments = await self.account.forward_source(uid, progress)
            except Exception as exc:
                self._report(exc, "Cannot load the original")
                return
            self.status.show_message("")
        elif uid is not None and mode != "new":
            try:
                original = await self.account.fetch_raw(uid)
            except Exception as exc:
                self._report(exc, "Cannot load the original")
                return
        await open_compose(self, self.account, mode, original, uid, attachments=attachments)
        self._composed = True  # back on this screen: Sent and Drafts counts are read again
        if uid is not None and mode in ("reply", "reply_all", "forward"):
            self._answering = uid  # its row shows r / the flag once the send flagged it

    def on_screen_resume(self) -> None:
        """Back from compose: the send flagged the original (\\Answered or $Forwarded) in the
        account's memory and cache (`app.smtp.sending.send_draft`); its row is drawn again from there."""
        from app.screens.compose import ComposeScreen

        composing = any(isinstance(screen, ComposeScreen) for screen in self.app.screen_stack)
        if self._composed and not composing:
            self._composed = False
            self._refresh_compose_counts()
        uid = self._answering
        if uid is None:
            return
        if not composing:
            self._answering = None
        self.message_list.update_summaries(self.account.held_summaries([uid]))

    @work(group="compose-counts", exclusive=True, exit_on_error=False)
    async def _refresh_compose_counts(self) -> None:
        """Sent and Drafts counts in the tree after a compose screen closed: a send or a
        postpone appended there (the tree said Sent 0 after three sends)."""
        if self.account.client is None:
            return
        for role in (FolderRole.SENT, FolderRole.DRAFTS):
            folder = self.account.folder_by_role(role)
            if folder is not None:
                with contextlib.suppress(Exception):  # a courtesy: the mail is where it went
                    self._show_counts(folder.name, await self.account.refresh_status(folder.name))

    # -- invitations and lists (app/screens/invite_actions.py) -----------------------------------
    @work(exclusive=True, group="invite-load", description="reading the invitation")
    async def load_invitation(self, uid: int) -> None:
        from app.screens import invite_actions

        await invite_actions.load_invitation(self, uid)

    @work(group="invite")
    async def action_invite(self, partstat: str) -> None:
        from app.screens import invite_actions

        await invite_actions.answer_invitation(self, partstat)

    @work(group="list")
    async def action_list_reply(self) -> None:
        from app.screens import invite_actions

        await invite_actions.list_reply(self)

    @work(group="list")
    async def action_unsubscribe(self) -> None:
        from app.screens import invite_actions

        await invite_actions.unsubscribe(self)

    @work(group="image", description="showing the image")
    async def action_view_image(self) -> None:
        from app.screens import image_actions

        await image_actions.view_image(self)

    @work(group="image", description="showing the inline images")
    async def action_view_inline_images(self) -> None:
        from app.screens import image_actions

        await image_actions.view_inline_images(self)

    # -- search -------------------------------------------------------------------------------------
    def action_search(self) -> None:
        pattern_actions.open_bar(self, "search")

    def action_limit(self) -> None:
        pattern_actions.open_bar(self, "limit")

    def action_tag_pattern(self) -> None:
        pattern_actions.open_bar(self, "tag")

    def action_untag_pattern(self) -> None:
        pattern_actions.open_bar(self, "untag")

    @work(exclusive=True, group="search", description="searching")
    async def run_pattern(self, mode: pattern_actions.Mode, text: str) -> None:
        await pattern_actions.run_pattern(self, mode, text)

    @on(QueryBar.Submitted)
    def _query_submitted(self, event: QueryBar.Submitted) -> None:
        # The bar hides itself: the focus goes back to the list now, not to whatever Textual
        # picks next (the viewer); a bad query gives it back to the bar (`show_error`).
        self.message_list.focus()
        mode, self.query_mode = self.query_mode, "search"
        if mode != "search":
            self.run_pattern(mode, event.text)
            return
        everywhere, rest = split_scope(event.text)
        if everywhere:
            self._search_all(event.text, rest)
            return
        self.limit_text = None  # a search replaces the limit
        self.run_search(event.text)

    def _search_all(self, text: str, rest: str) -> None:
        """`in:all ...`: check the query here (the caret goes under the typo), then list the
        matches of every folder on their own screen; Enter there opens one in its folder."""
        from app.imap.search import QueryError, parse_query
        from app.screens.search_results import SearchResultsScreen

        try:
            parse_query(rest)
        except QueryError as exc:
            self.query_bar.show_error(exc.message, exc.position + text.find(rest) if rest else 0)
            return
        self.app.push_screen(SearchResultsScreen(self.account, rest), self._open_hit)

    def _open_hit(self, hit: FolderHit | None) -> None:
        if isinstance(hit, FolderHit):
            self.open_hit(hit)

    @work(exclusive=True, group="folder", description="opening the found message")
    async def open_hit(self, hit: FolderHit) -> None:
        """Open the folder `hit` is in (unless open) and the message in it."""
        folder = self.account.folder(hit.folder)
        if folder is None:  # made since the tree was loaded
            await self.account.load_folders()
            folder = self.account.folder(hit.folder)
        if folder is None:
            from app.mime.sanitize import clean_line

            self.notify(f"No folder {clean_line(hit.folder)!r} any more", markup=False)
            return
        current = self.account.current
        if current is None or current.folder.name != folder.name:
            self.folder_tree.select_folder(folder.name)
            await self._open_folder(folder)
            current = self.account.current
            if current is None or current.folder.name != folder.name:
                return  # it could not be opened: _open_folder said why
        if not self.message_list.select_uid(hit.uid):
            self.notify("That message is no longer in its folder", markup=False, timeout=4)
            return
        self.message_list.action_open()

    @work(exclusive=True, group="search", description="searching")
    async def run_search(self, text: str) -> None:
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
            self.status.show_message(f"Search failed: {_error_text(exc)}", error=True)
            self._report(exc, "Search failed")
            return
        self._search_uids = found
        self.remove_class("-reading")
        self.message_list.set_uids(found, keep_cursor=False, reset_summaries=False)
        from app.actions.operations import plural

        self.status.message = f"{plural(len(found), 'match', 'matches')} for {text!r}; Esc clears"
        self.message_list.focus()

    @on(QueryBar.Cleared)
    def _query_cleared(self) -> None:
        mode, self.query_mode = self.query_mode, "search"
        if mode in ("tag", "untag"):  # Esc on a mark-by-pattern prompt keeps the list as it is
            self.message_list.focus()
            return
        self.remove_class("-reading")  # the search is cleared, not only the reading view
        self.action_clear_search()
        self.message_list.focus()  # Esc in the bar (empty, refused or not) returns to the list

    def action_clear_search(self) -> None:
        if self.has_class("-reading"):
            self.remove_class("-reading")  # narrow screens: back from the viewer to the list
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

    def action_next_match(self) -> None:
        if self._search_uids is not None:
            self.message_list.action_cursor_down()

    # -- viewer -------------------------------------------------------------------------------------
    def action_toggle_viewer(self) -> None:
        self.toggle_class("-zoom")

    def _in_viewer(self) -> bool:
        """The user is reading: the viewer fills the screen or holds the focus."""
        narrow_reading = self.has_class("-narrow") and self.has_class("-reading")
        return self.has_class("-zoom") or narrow_reading or self.viewer.has_focus_within

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "close_viewer":
            return self._in_viewer()  # False: the key goes on to the app's quit
        return True

    def action_save_attachment(self) -> None:
        viewer = self.viewer
        items = viewer.attachment_list.attachments if viewer.rendered is not None else []
        if not items:
            self.status.show_message("No attachment in the message shown", timeout=4)
            return
        if len(items) == 1:
            viewer.action_save_attachment()
            return
        viewer.attachment_list.focus()
        if viewer.attachment_list.highlighted is None:
            viewer.attachment_list.highlighted = 0
        self.status.show_message(
            f"{len(items)} attachments: choose one (↑ ↓), a saves it (ctrl+s there: all), o opens it",
            timeout=6,
        )

    def action_next_message(self, step: int) -> None:
        """Open the message after (1) or before (-1) the one open, in the list's order."""
        ml = self.message_list
        uids = ml.uids
        if not uids:
            return
        # From the list's cursor, as mutt's pager steps from the index's: keys pressed faster
        # than the messages load still step one message each.
        row = ml.cursor_row
        target = row + step if self.open_uid is not None else row
        if not 0 <= target < len(uids):
            self.notify(
                "No next message" if step > 0 else "No previous message", markup=False, timeout=3
            )
            return
        ml.select_uid(uids[target])
        ml.action_open()

    @work(exclusive=True, group="next-unread", description="looking for unread mail")
    async def action_next_unread(self) -> None:
        """The next unread message: further down this folder (then from its top), else the
        first unread of the next folder that has some, in the tree's order."""
        try:
            if await self._open_unread_here():
                return
            for folder in await self._folders_with_unread():
                self.folder_tree.select_folder(folder.name)
                await self._open_folder(folder)
                current = self.account.current
                if current is None or current.folder.name != folder.name:
                    return  # it could not be opened: _open_folder said why
                if await self._open_unread_here(from_top=True):
                    self.notify(f"Unread mail in {folder.name}", markup=False, timeout=3)
                    return
        except Exception as exc:
            self._report(exc, "Cannot look for unread mail")
            return
        self.notify("No unread message in any folder", markup=False, timeout=4)

    async def _open_unread_here(self, *, from_top: bool = False) -> bool:
        """Open the first unread message after the cursor (wrapping); False when none."""
        if self.account.current is None:
            return False
        unseen = set(await self.account.search("is:unread"))
        if self.open_uid is not None:
            unseen.discard(self.open_uid)  # the one being read (marked \\Seen a moment later)
        ml = self.message_list
        uids = ml.uids
        if not unseen or not uids:
            return False
        start = 0 if from_top else ml.cursor_row + 1
        count = len(uids)
        for offset in range(count):
            uid = uids[(start + offset) % count]
            if uid in unseen:
                ml.select_uid(uid)
                ml.action_open()
                return True
        return False

    async def _folders_with_unread(self) -> list[Folder]:
        """Other folders with unread mail, in the tree's order after the open one (wrapping).

        Trash, Junk, Sent and Drafts are left out, as mutt's new-mail cycle leaves out what is
        not in its mailboxes list. The STATUS counts held are used first; when none says
        "unread", every folder is asked again (mail may have come since they were read).
        """
        skip = (FolderRole.TRASH, FolderRole.JUNK, FolderRole.SENT, FolderRole.DRAFTS)
        ordered = [f for f in display_order(self.account.folders) if f.selectable]
        current = self.account.current
        name = current.folder.name if current is not None else None
        names = [f.name for f in ordered]
        at = names.index(name) + 1 if name in names else 0
        candidates = [
            f for f in ordered[at:] + ordered[:at] if f.name != name and f.role not in skip
        ]

        def with_unread() -> list[Folder]:
            found = []
            for folder in candidates:
                status = self.account.statuses.get(folder.name)
                if status is not None and status.unseen > 0:
                    found.append(folder)
            return found

        found = with_unread()
        if found:
            return found
        for folder in candidates[:200]:
            with contextlib.suppress(Exception):
                self._show_counts(folder.name, await self.account.refresh_status(folder.name))
        return with_unread()

    def action_close_viewer(self) -> None:
        if self.viewer.raw_mode and self.viewer.rendered is not None:
            self.viewer.leave_raw()  # from a pipe's output or a text attachment: the message again
            return
        self.remove_class("-zoom")
        self.remove_class("-reading")
        self.message_list.focus()

    def action_toggle_folders(self) -> None:
        self.toggle_class("-no-folders")
        self._apply_pane_sizes()

    # -- panes --------------------------------------------------------------------------------------
    # Sizes live here, not in the splitters: the screen knows the bounds, what is shown (zoom,
    # narrow, folders hidden) and where sizes are remembered (app.state, beside the theme).
    FOLDERS_MIN = 12
    LIST_MIN = 20
    VIEWER_MIN = 20

    def _pane_defaults(self) -> tuple[int, float]:
        """The config's sizes (or the built-in ones): folder columns, list percent."""
        ui = self.ui
        if ui is None:
            return 28, 50.0
        folders = int(getattr(ui, "folder_pane_width", 28))
        share = max(10, min(90, int(getattr(ui, "message_list_height", 50))))
        return folders, float(share)

    def _load_pane_sizes(self) -> None:
        """The config's sizes, unless the user resized the panes since (then the remembered ones).

        The remembered sizes carry the config's values they were made under: a config edited
        afterwards wins again.
        """
        folders, share = self._pane_defaults()
        remembered = recall("panes")
        if isinstance(remembered, dict) and remembered.get("config") == [folders, share]:
            width = remembered.get("folders")
            if isinstance(width, int) and not isinstance(width, bool):
                folders = width
            value = remembered.get("list")
            if isinstance(value, int | float) and not isinstance(value, bool):
                share = float(value)
        self.folder_width = max(self.FOLDERS_MIN, min(500, folders))
        self.list_share = max(10.0, min(90.0, share))
        self._apply_pane_sizes()

    def _remember_panes(self) -> None:
        with contextlib.suppress(OSError, TypeError, ValueError):
            remember(
                "panes",
                {
                    "folders": self.folder_width,
                    "list": self.list_share,
                    "config": list(self._pane_defaults()),
                },
            )

    def _folders_fit(self, cells: int, width: int) -> int:
        """`cells` within what a `width`-column screen allows the folder tree."""
        upper = max(self.FOLDERS_MIN, min(width // 2, width - self.LIST_MIN - 2))
        return max(self.FOLDERS_MIN, min(upper, cells))

    def _apply_pane_sizes(self) -> None:
        """Put the preferred sizes on the panes, within what this terminal's width allows.

        The list gets whole columns (its share of what is right of the folder tree) and the
        viewer the rest, so no column is lost to rounding; recomputed on every resize.
        """
        if not self.is_mounted:
            return
        width = self.size.width or self.app.size.width
        folders = self._folders_fit(self.folder_width, width)
        self.folder_tree.styles.width = folders
        if self.has_class("-narrow"):
            self.message_list.styles.width = "1fr"  # alone beside the tree
            return
        right = width - (0 if self.has_class("-no-folders") else folders + 1) - 1
        cells = round(right * self.list_share / 100)
        if right >= self.LIST_MIN + self.VIEWER_MIN:
            cells = max(self.LIST_MIN, min(right - self.VIEWER_MIN, cells))
        self.message_list.styles.width = max(1, cells)
        self.viewer.styles.width = "1fr"

    def _set_folder_width(self, cells: int) -> None:
        self.folder_width = self._folders_fit(cells, self.size.width)
        self._apply_pane_sizes()

    def _set_list_share(self, share: float) -> None:
        self.list_share = round(max(10.0, min(90.0, share)), 1)
        self._apply_pane_sizes()

    @on(Splitter.Moved, "#split-folders")
    def _drag_folders(self, event: Splitter.Moved) -> None:
        self._set_folder_width(event.x - self.folder_tree.region.x)

    @on(Splitter.Moved, "#split-viewer")
    def _drag_viewer(self, event: Splitter.Moved) -> None:
        listed, viewer = self.message_list.region, self.viewer.region
        right = listed.width + viewer.width
        if right > 0:
            self._set_list_share((event.x - listed.x) * 100 / right)

    @on(Splitter.Released)
    def _drag_done(self) -> None:
        self._remember_panes()

    @on(Splitter.Reset)
    def _splitter_reset(self) -> None:
        self.action_reset_panes()

    def action_resize_pane(self, direction: int) -> None:
        """`>` widens the focused pane, `<` narrows it, by moving the nearest splitter."""
        zoom, narrow = self.has_class("-zoom"), self.has_class("-narrow")
        folders_shown = not zoom and not self.has_class("-no-folders")
        list_shown = not zoom and not (narrow and self.has_class("-reading"))
        viewer_shown = not narrow or self.has_class("-reading")
        between = list_shown and viewer_shown  # the list | viewer splitter is there
        share_step = 5.0 * direction
        folder_step = 2 * direction
        if self.folder_tree.has_focus:
            if folders_shown:
                self._set_folder_width(self.folder_width + folder_step)
        elif self.viewer.has_focus_within:
            if between:
                self._set_list_share(self.list_share - share_step)
            elif folders_shown:
                self._set_folder_width(self.folder_width - folder_step)
        elif between:
            self._set_list_share(self.list_share + share_step)
        elif folders_shown:
            self._set_folder_width(self.folder_width - folder_step)
        self._remember_panes()

    def action_reset_panes(self) -> None:
        """Back to the config's pane sizes (and forget the remembered ones)."""
        self.folder_width, self.list_share = self._pane_defaults()
        self._apply_pane_sizes()
        self._remember_panes()

    @contextlib.contextmanager
    def _header_progress(self, count: int) -> Iterator[None]:
        """One status-bar job for all header fetches in flight: "Fetching headers 150/400"."""
        self._headers_wanted += count
        self.status.update_job(
            "headers", self._headers_done, self._headers_wanted, "Fetching headers"
        )
        try:
            yield
        finally:
            self._headers_done += count
            if self._headers_done >= self._headers_wanted:
                self._headers_wanted = self._headers_done = 0
                self.status.end_job("headers")
            else:
                self.status.update_job("headers", self._headers_done, self._headers_wanted)

    def action_toggle_html(self) -> None:
        self.prefer_html = not self.prefer_html
        if self.open_uid is not None:
            self.load_message(self.open_uid, html_switch=True)
        else:
            self.notify(
                "HTML parts preferred" if self.prefer_html else "Text parts preferred",
                markup=False,
                timeout=3,
            )

    def action_toggle_headers(self) -> None:
        self.viewer.full_headers = not self.viewer.full_headers

    @work(group="message")
    async def action_show_raw(self) -> None:
        if self.viewer.raw_mode:  # V again: back to the message
            self.viewer.leave_raw()
            return
        uid = self.open_uid or self.message_list.cursor_uid
        if uid is None:
            return
        try:
            raw = await self.account.fetch_raw(uid)
        except Exception as exc:
            self._report(exc, "Cannot fetch the source")
            return
        self.viewer.show_raw(raw.decode("utf-8", "replace"))

    @work(group="message")
    async def action_save_raw(self) -> None:
        uid = self.open_uid or self.message_list.cursor_uid
        if uid is None:
            return
        path_text = await self.app.push_screen_wait(
            PromptDialog("Save the message source to", str(Path.home() / f"message-{uid}.eml"))
        )
        if not path_text:
            return
        try:
            raw = await self.account.fetch_raw(uid)
            path = Path(path_text).expanduser()
            # 0600: a message is private (open(..., "xb") gave 0644 under the usual umask).
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(raw)
        except FileExistsError:
            self.notify(f"{path_text} exists; not overwritten", severity="error", markup=False)
            return
        except Exception as exc:
            self._report(exc, "Cannot save the source")
            return
        self.notify(f"Saved to {path}", markup=False)

    @on(MessageView.SaveAttachment)
    def _save_attachment(self, event: MessageView.SaveAttachment) -> None:
        self.save_attachment(event.info)

    @staticmethod
    def _save_folder() -> Path:
        """The folder used last (kept across runs), else ~/Downloads (created on demand)."""
        last = recall("attachments.folder")
        if isinstance(last, str) and last and Path(last).is_dir():
            return Path(last)
        return Path.home() / "Downloads"

    @work(group="attachment", description="saving attachment")
    async def save_attachment(self, info: Any) -> None:
        """Ask where (Tab completes, the name can be changed, ctrl+s saves them all); save."""
        from app.paths import private_dir
        from widgets.safe import human_size
        from widgets.save_prompt import SavePrompt, short_path

        uid = self.open_uid
        if uid is None:
            return
        every = list(self.viewer.attachment_list.attachments) or [info]
        size = ("~" if info.size_is_estimate else "") + human_size(info.size)
        target = await self.app.push_screen_wait(
            SavePrompt(info.filename, self._save_folder(), size=size, count=len(every))
        )
        if target is None:
            return
        folder = target.folder
        created = ""
        if target.create:
            try:
                private_dir(folder)
            except OSError as exc:
                self._report(exc, f"Cannot create {short_path(folder)}")
                return
            created = f"Created {short_path(folder)}; "
        chosen = (
            [(info, target.name)] if target.name is not None else [(a, a.filename) for a in every]
        )
        saved: list[Path] = []
        for item, name in chosen:
            try:
                saved.append(await self._save_one(uid, item, folder, name))
            except Exception as exc:
                self._report(exc, f"Saving {item.filename} failed")
                break
        if not saved:
            return
        remember("attachments.folder", str(folder))
        if len(saved) == 1:
            what = f"saved {short_path(saved[0])}"
        else:
            what = f"saved {len(saved)} attachments into {short_path(folder)}"
        self.notify((created + what)[:1].upper() + (created + what)[1:], markup=False)

    async def _save_one(self, uid: int, info: Any, folder: Path, name: str) -> Path:
        from app.mime.attachments import is_text_type

        def progress(done: int, total: int | None) -> None:
            self.viewer.set_progress(done, total or info.encoded_size or done)

        path: Path = await self.account.save_attachment(
            uid,
            info.part_id,
            info.encoding,
            folder,
            name,
            progress,
            size_hint=info.encoded_size or None,
            text=is_text_type(info.mime_type),
        )
        return path

    @on(MessageView.OpenAttachment)
    def _open_attachment(self, event: MessageView.OpenAttachment) -> None:
        self.open_attachment(event.info)

    @work(group="attachment", description="opening attachment")
    async def open_attachment(self, info: Any) -> None:
        """A mailcap entry, else text in the viewer, else xdg-open (app/screens/tools.py)."""
        from app.screens import tools

        await tools.open_attachment(self, info)

    async def _open_with_xdg(self, info: Any) -> None:
        """Hand a private temporary copy to xdg-open; ask first when it may be a program."""
        import shutil

        from app.actions.opened import new_open_folder
        from app.mime.attachments import executable_reason

        uid = self.open_uid
        opener = shutil.which("xdg-open")
        if uid is None:
            return
        if opener is None:
            self.notify("No xdg-open here: save the attachment instead (a)", severity="warning")
            return
        reason = executable_reason(info.filename, info.mime_type)
        if reason is not None and not await self._confirm_run(info.filename, reason):
            return
        try:
            folder = new_open_folder()
            path = await self._save_one(uid, info, folder, info.filename)
        except Exception as exc:
            self._report(exc, "Opening the attachment failed")
            return
        if reason is None:
            try:
                with open(path, "rb") as f:
                    head = f.read(64)
            except OSError:
                head = b""
            reason = executable_reason("", None, head)
            if reason is not None and not await self._confirm_run(info.filename, reason):
                shutil.rmtree(folder, ignore_errors=True)  # not opened: no copy kept
                return
        await asyncio.create_subprocess_exec(
            opener,
            str(path),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )

    async def _confirm_run(self, filename: str, reason: str) -> bool:
        question = (
            f"{filename} may be a program ({reason}): opening it could run it. Open it anyway?"
        )
        answer: bool = await self.app.push_screen_wait(ConfirmDialog(question, yes="Open"))
        return answer

    # -- folder management --------------------------------------------------------------------------
    def _folder_target(self) -> Folder | str | None:
        """The folder E/X/S act on: the one under the tree's cursor while the tree has the
        focus (a path part the server did not list comes back as its name), else the open
        folder."""
        tree = self.folder_tree
        node = tree.cursor_node if tree.has_focus else None
        if node is not None and node.data is not None:
            listed = self.account.folder(node.data.name)
            return listed if listed is not None else node.data.name
        return self._current_folder()

    def _current_folder(self) -> Folder | None:
        current = self.account.current
        if current is None:
            return None
        return self.account.folder(current.folder.name) or current.folder

    def _show_folders(self) -> None:
        """The folder list into the tree; unsubscribed folders left out when the config says
        `show_unsubscribed = false` (INBOX and the open folder always stay)."""
        folders = self.account.folders
        if not getattr(self.ui, "show_unsubscribed", True):
            open_name = self.account.current.folder.name if self.account.current else None
            folders = [
                f
                for f in folders
                if f.subscribed or f.name.upper() == "INBOX" or f.name == open_name
            ]
        self.folder_tree.set_folders(folders, self.account.statuses)

    async def _after_folder_op(self, outcome: Any) -> None:
        self._show_outcome(outcome)
        if outcome.folders_changed:
            self._show_folders()
            if outcome.folder and self.folder_tree.has_focus:
                self.call_after_refresh(self._tree_cursor_to, outcome.folder)
        target = self.account.folder(outcome.reopen) if outcome.reopen else None
        if target is None and not outcome.closed:
            self._resume_watch()  # the open folder stays open: watch it again if stopped
        if target is None and outcome.closed:
            self.message_list.set_uids([], keep_cursor=False)
            self._folder_uids = []
            target = self.account.folder("INBOX") or _INBOX
        if target is not None:
            self.folder_tree.select_folder(target.name)
            await self._open_folder(target)

    def _tree_cursor_to(self, name: str) -> None:
        node = self.folder_tree.node_for(name)
        if node is not None:
            self.folder_tree.move_cursor(node)

    def _resume_watch(self) -> None:
        current = self.account.current
        if self._idle_task is None and current is not None:
            self._start_idle(current.folder)

    def _leave_watched(self, name: str | None) -> None:
        """Stop the IDLE watcher's connection when it has `name` open (it is renamed or deleted:
        Courier refuses that while a session has the folder selected)."""
        if name is not None and self._idle_folder is not None and self._idle_folder.name == name:
            self._stop_idle()

    @work(group="folders")
    async def action_create_folder(self) -> None:
        from app.actions import operations as ops

        name = await self.app.push_screen_wait(PromptDialog("New folder name", ""))
        if not name:
            return
        outcome = await self._run_op(
            lambda _answers: ops.create_folder(self.account, name), f"Cannot create {name}"
        )
        if outcome is not None:
            await self._after_folder_op(outcome)

    @work(group="folders")
    async def action_rename_folder(self) -> None:
        from app.actions import operations as ops

        folder = self._folder_target()
        if folder is None:
            return
        name = folder if isinstance(folder, str) else folder.name
        new = await self.app.push_screen_wait(PromptDialog(f"Rename {name} to", name))
        if not new or new == name:
            return
        self._leave_watched(name)
        outcome = await self._run_op(
            lambda _answers: ops.rename_folder(self.account, folder, new), f"Cannot rename {name}"
        )
        if outcome is None:
            await self._reload_folders_quietly()
            return
        await self._after_folder_op(outcome)

    async def _reload_folders_quietly(self) -> None:
        """After a failed folder change: the tree as the server lists it now, and the watcher
        back on the open folder if `_leave_watched` stopped it."""
        self._resume_watch()
        with contextlib.suppress(Exception):
            await self.account.load_folders()
            self._show_folders()

    @work(group="folders")
    async def action_delete_folder(self) -> None:
        from app.actions import operations as ops

        folder = self._folder_target()
        if folder is None:
            return
        name = folder if isinstance(folder, str) else folder.name

        async def ask(question: Any) -> bool:
            answer = await self._ask_question(question)
            if answer:
                self._leave_watched(name)
            return answer

        try:
            outcome = await ops.run_asking(
                lambda answers: ops.delete_folder(self.account, folder, answers), ask
            )
        except Exception as exc:
            self._report(exc, f"Cannot delete {name}")
            await self._reload_folders_quietly()
            return
        await self._after_folder_op(outcome)

    @work(group="folders")
    async def action_toggle_subscribe(self) -> None:
        from app.actions import operations as ops

        folder = self._folder_target()
        if folder is None:
            return
        outcome = await self._run_op(
            lambda _answers: ops.set_subscribed(self.account, folder), "Subscription change failed"
        )
        if outcome is not None:
            await self._after_folder_op(outcome)

    @work(group="folder")
    async def action_sort(self) -> None:
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
                uids = await account.resort(choice.sort, choice.reverse, self._progress(key))
        except Exception as exc:
            self._report(exc, "Sorting failed")
            return
        self._folder_uids = uids
        if self.threaded:
            if not await self._arrange_list(asked=True):
                return
        elif self._search_uids is None:
            self.message_list.set_uids(uids, keep_cursor=True, reset_summaries=False)
        words = direction_words(choice.sort, choice.reverse)
        said = label if choice.sort == "thread-last-date" else f"Sorted by {label.lower()}"
        self.notify(f"{said}, {words}", markup=False)

    @work(group="folder")
    async def action_toggle_threads(self) -> None:
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
        if await self._arrange_list(asked=True):
            self.notify("Threads on", markup=False)

    def _progress(self, key: str) -> Callable[[int, int], None]:
        """A progress callback for the core that moves the status bar's job `key`."""

        def progress(done: int, total: int) -> None:
            self.status.update_job(key, done, total)

        return progress

    async def _arrange_list(self, *, keep_cursor: bool = True, asked: bool = False) -> bool:
        """Show the open folder as threads (when on) or in the order made here (no SORT on
        the server), after the list by UID was drawn; False when it failed (reported).

        `asked`: the user just asked for threads (`T`, `o`), so a failure turns them off
        again; after a folder change or new mail they stay on (the next refresh retries).
        One arrangement at a time: a call while one runs (new mail, `o` during the fetch)
        has it run once more when done, with the state of then."""
        if self._arranging:
            self._arrange_again = True
            return True
        self._arranging = True
        try:
            while True:
                self._arrange_again = False
                done = await self._arrange_once(keep_cursor=keep_cursor, asked=asked)
                if not done or not self._arrange_again:
                    return done
                keep_cursor = True
        finally:
            self._arranging = False

    async def _arrange_once(self, *, keep_cursor: bool, asked: bool) -> bool:
        account = self.account
        try:
            if self.threaded:
                with self.status.job("Threading") as key:
                    uids, depths = await account.thread_view(self._progress(key))
                self._thread_rows = (uids, depths)
                if self._search_uids is None:
                    self.message_list.set_uids(
                        uids, keep_cursor=keep_cursor, reset_summaries=False, depths=depths
                    )
                return True
            with self.status.job("Sorting") as key:
                ordered = await account.local_order(self._progress(key))
        except Exception as exc:
            if self.threaded:
                self.threaded = not asked
                self._report(exc, "Threads are not available")
            else:
                self._report(exc, "Sorting failed")
            return False
        if ordered is not None:
            self._folder_uids = ordered
            if self._search_uids is None:
                self.message_list.set_uids(ordered, keep_cursor=keep_cursor, reset_summaries=False)
        return True

    @work(group="folder")
    async def action_refresh(self) -> None:
        await self._refresh_open_folder()

    # -- errors -------------------------------------------------------------------------------------
    def _report(self, exc: BaseException, title: str) -> None:
        self.notify(_error_text(exc), title=title, severity="error", markup=False)
        if _is_connection_error(exc):
            self.status.connection = "offline"
            self.run_worker(self._reconnect(), group="reconnect", exclusive=True)


def _error_text(exc: BaseException) -> str:
    from app.mime.sanitize import clean_line

    text = str(exc) or type(exc).__name__
    return clean_line(text)[:500]


def _is_connection_error(exc: BaseException) -> bool:
    try:
        from app.imap.errors import ImapConnectionError, ImapTimeout
    except ImportError:
        return isinstance(exc, (ConnectionError, TimeoutError))
    return isinstance(exc, (ImapConnectionError, ImapTimeout, ConnectionError, TimeoutError))


def _is_fatal(exc: BaseException) -> bool:
    """Errors that retrying cannot fix: bad password, TLS refused, bad config."""
    try:
        from app.imap.errors import ImapAuthError, ImapTlsError
    except ImportError:
        return False
    return isinstance(exc, (ImapAuthError, ImapTlsError))
