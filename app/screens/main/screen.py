"""The main screen: folder tree | message list | viewer, with the status bar and the query bar.

The screen owns the state (which account, which folder, which message) and the routing: its
bindings, the widgets' messages, and the steps its helpers share. What each key does lives in
a module of this package (see ARCHITECTURE.md, "app/screens/main"):

    panes.py              pane sizes and `v` ctrl+b `>` `<` `=`
    connection.py         start-up, connecting, the server's alerts, the outbox
    listing.py            a folder opened into the list, its rows' summaries, the tree
    watch.py              the IDLE watcher on the open folder, refresh, counts
    arrange.py            threads and sort (`T`, `o`)
    message_ops.py        flag, delete, undo, move, copy, expunge (`F` `N` `d` `u` `s` `C` `$` `c`)
    folder_ops.py         folder create, rename, delete, subscribe (`A` `E` `X` `S`), ctrl+l
    search.py             the query bar: search, limit, mark by pattern, `in:all`
    reading.py            the message shown, `J` `K` ctrl+n, the viewer's keys
    attachment_actions.py `a`, the viewer's save and open
    writing.py            compose, reply, forward, edit as new
    tool_keys.py          pipe, archive, bounce, invitations, lists, images (app/screens/*.py)

Each of those is a mixin of `action_*` methods and workers (`self: Host`, app/screens/main/
host.py) over plain functions; the screen only composes them. Every network call runs in a
worker; widgets only get data by method calls and answer with messages.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.screen import Screen

from app.account import Account, OpenFolder
from app.models import Folder, FolderStatus
from app.screens.host import QueryMode
from app.screens.main import (
    errors,
    folder_ops,
    listing,
    message_ops,
    panes,
    reading,
    search,
    watch,
    writing,
)
from app.screens.main.arrange import ArrangeActions
from app.screens.main.attachment_actions import AttachmentActions
from app.screens.main.connection import ConnectionWorkers, show_alert, show_early_inbox
from app.screens.main.folder_ops import FolderActions
from app.screens.main.listing import ListWorkers
from app.screens.main.message_ops import MessageActions
from app.screens.main.panes import PaneActions
from app.screens.main.reading import ReadingActions
from app.screens.main.search import SearchActions
from app.screens.main.tool_keys import ToolActions
from app.screens.main.writing import WritingActions
from widgets.folder_tree import FolderTree
from widgets.footer import Footer
from widgets.link_list import link_bindings
from widgets.message_list import MessageList
from widgets.message_view import MessageView
from widgets.notice import Notice
from widgets.query_bar import QueryBar
from widgets.splitter import Splitter
from widgets.status_bar import StatusBar

__all__ = ["MainScreen"]


class MainScreen(
    ConnectionWorkers,
    ListWorkers,
    MessageActions,
    FolderActions,
    ArrangeActions,
    SearchActions,
    ReadingActions,
    AttachmentActions,
    WritingActions,
    ToolActions,
    PaneActions,
    Screen[None],
):
    """Three panes over one account."""

    BINDINGS = [
        Binding("d", "delete", "Delete", id="msg.delete"),
        Binding(
            "u",
            "undo",
            "Undo",
            id="msg.undo",
            tooltip="a send counting down first (undo send: back into compose), "
            "else the newest delete or move",
        ),
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
        Binding("ctrl+k", "fetch_key", "Fetch signer's key", id="pgp.fetch_key", show=False),
        *link_bindings(),
    ]

    DEFAULT_CSS = """
    MainScreen { layers: default notice; }  /* the new-mail notice over the panes */
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
        self.query_mode: QueryMode = "search"
        """What the query bar's next query is for: search, limit, tag or untag (`l`, ctrl+t/u)."""
        self.limit_text: str | None = None
        """The query the list is limited to (`l`), offered again by the next `l`."""
        self._folder_uids: Sequence[int] = []
        self._early_shown: OpenFolder | None = None
        """The start-up list on screen, for `connect_account` (not its argument: a worker keeps
        its arguments while the tasks it started run, here a 100k folder's UIDs; issue 21)."""
        self._unanswered: set[int] = set()
        """UIDs asked for before the connection was up, and not in the cache."""
        self._idle_task: asyncio.Task[None] | None = None
        self._idle_folder: Folder | None = None
        self._new_mail_counts: dict[str, int] = {}  # what the one new-mail notice says
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
        self._resumed_once = False
        self._paint_pending = False

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
        yield Notice(id="new-mail")

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

    @property
    def new_mail_notice(self) -> Notice:
        return self.query_one("#new-mail", Notice)

    def _apply_ui_settings(self) -> None:
        """The config's [ui] choices: HTML preference, pane sizes, date formats, editor."""
        ui = self.ui
        panes.load_pane_sizes(self)
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
        panes.apply_width(self, self.size.width)
        self._early_shown = show_early_inbox(self)
        self.connect_account()
        self.set_interval(60, self.flush_outbox)
        self.watch_counts()

    def on_resize(self) -> None:
        panes.apply_width(self, self.size.width)

    def _on_screen_resume(self, event: events.ScreenResume) -> None:
        """(Textual dispatches this name instead of `on_screen_resume` on this class.)

        The first resume is the push that mounted the screen: every widget was styled as it
        was mounted, and restyling the whole screen again (Textual's default on every resume)
        cost a tenth of a cold start's style work before the first frame. Later resumes (from
        compose, a dialog) restyle as Textual does.
        """
        if not self._resumed_once:
            self._resumed_once = True
            event.refresh_styles = False
        writing.compose_closed(self)
        panes.focus_shown_pane(self)

    def _compositor_refresh(self) -> None:
        """Textual renders the first frame while the App's start-up batch still holds
        (`App.batch_update` around its mount, where this screen is pushed), and
        `App._display` drops it: one full render of every row thrown away before the frame
        the user sees. While a batch holds, nothing is rendered: the compositor keeps its
        dirty regions and the frame is drawn once the batch is over (by Textual's next
        refresh, or the timer set here, whichever comes first)."""
        if self.app._batch_count and self is self.app.screen:
            if not self._paint_pending:
                self._paint_pending = True
                self.set_timer(0.005, self._paint_after_batch)
            return
        super()._compositor_refresh()

    def _paint_after_batch(self) -> None:
        self._paint_pending = False
        self._compositor_refresh()  # sets the timer again if the batch still holds

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "close_viewer":
            return self._in_viewer()  # False: the key goes on to the app's quit
        return True

    def _show_alert(self, alert: Any) -> None:
        show_alert(self, alert)

    # -- the widgets' messages ----------------------------------------------------------------------
    @on(FolderTree.FolderSelected)
    def _folder_selected(self, event: FolderTree.FolderSelected) -> None:
        self.open_folder(event.folder)

    @on(MessageList.PendingKey)
    def _pending_key(self, event: MessageList.PendingKey) -> None:
        from app.screens import fold_actions

        fold_actions.show_pending(self, event.prefix, event.note)

    @on(MessageList.SummariesWanted)
    def _summaries_wanted(self, event: MessageList.SummariesWanted) -> None:
        self.fetch_summaries(list(event.uids), event.epoch)

    @on(MessageList.Opened)
    def _opened(self, event: MessageList.Opened) -> None:
        reading.opened(self, event.uid)

    @on(QueryBar.Submitted)
    def _query_submitted(self, event: QueryBar.Submitted) -> None:
        search.query_submitted(self, event.text)

    @on(QueryBar.Cleared)
    def _query_cleared(self) -> None:
        search.query_cleared(self)

    @on(MessageView.SaveAttachment)
    def _save_attachment(self, event: MessageView.SaveAttachment) -> None:
        self.save_attachment(event.info)

    @on(MessageView.OpenAttachment)
    def _open_attachment(self, event: MessageView.OpenAttachment) -> None:
        self.open_attachment(event.info)

    @on(Splitter.Moved, "#split-folders")
    def _drag_folders(self, event: Splitter.Moved) -> None:
        panes.drag_folders(self, event.x)

    @on(Splitter.Moved, "#split-viewer")
    def _drag_viewer(self, event: Splitter.Moved) -> None:
        panes.drag_viewer(self, event.x)

    @on(Splitter.Released)
    def _drag_done(self) -> None:
        panes.remember_panes(self)

    @on(Splitter.Reset)
    def _splitter_reset(self) -> None:
        self.action_reset_panes()

    # -- the steps the helpers share (app/screens/host.py) ------------------------------------------
    def _report(self, exc: BaseException, title: str) -> None:
        errors.report(self, exc, title)

    def _targets(self) -> list[int]:
        return message_ops.targets(self)

    def _in_viewer(self) -> bool:
        return reading.in_viewer(self)

    def _current_folder(self) -> Folder | None:
        return folder_ops.current_folder(self)

    async def _run_op(self, op: Any, title: str, job: str | None = None) -> Any:
        return await message_ops.run_op(self, op, title, job)

    def _show_outcome(self, outcome: Any, *, quiet: bool = False) -> None:
        message_ops.show_outcome(self, outcome, quiet=quiet)

    def _show_counts(self, name: str, status: FolderStatus | None) -> None:
        watch.show_counts(self, name, status)

    async def _open_folder(self, folder: Folder, *, shown: OpenFolder | None = None) -> None:
        """Open `folder` now (in the caller's worker): listing.open_folder."""
        await listing.open_folder(self, folder, shown=shown)
