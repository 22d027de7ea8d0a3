"""Start-up and the connection: the cached INBOX drawn before the server answers, connecting
with backoff, the first folder opened, the server's alerts, and the outbox retried."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, Any

from app.account import OpenFolder
from app.memory import trim_heap_later
from app.models import FolderRole
from app.screens.main.errors import error_text, is_fatal
from app.screens.main.listing import (
    INBOX,
    ask_unanswered,
    focus_list_unless_typing,
    held_source,
    open_folder,
    reload_folders,
)
from app.screens.main.watch import watch_counts
from widgets.workers import screen_going, work

if TYPE_CHECKING:
    from app.screens.main.host import Host

__all__ = ["ConnectionWorkers", "show_alert"]


def show_alert(screen: Host, alert: Any) -> None:
    """A server's ALERT (RFC 3501 §7.1: it MUST be shown), sanitized, once, as a notice."""
    from app.mime.sanitize import clean_line

    screen.notify(
        clean_line(alert.text, max_len=500),
        title=clean_line(f"Alert from {alert.server}", max_len=100),
        severity="warning",
        timeout=30,
        markup=False,
    )


def _adopt_listed_inbox(screen: Host) -> None:
    """INBOX was opened before the folder list came: take the listed folder (its real
    attributes and delimiter) and its counts."""
    current = screen.account.current
    listed = screen.account.folder(INBOX.name)
    if current is None or listed is None or current.folder.name != listed.name:
        return
    current.folder = listed
    screen.folder_tree.select_folder(listed.name)
    status = screen.account.statuses.get(listed.name)
    if status is not None:
        screen.status.set_counts(status.messages, status.unseen)


def show_early_inbox(screen: Host) -> OpenFolder | None:
    """A cold start whose INBOX the server answered while Textual was imported: its rows go
    into the list now (from the screen's mount, so they are in its first frame, not one
    frame after an empty list). None when that answer is not there (yet)."""
    opened = screen.account.early_inbox()
    if opened is None:
        return None
    screen._folder_uids = opened.uids
    ml = screen.message_list
    ml.set_uids(opened.uids, keep_cursor=False)
    ml.held_source = held_source(screen)
    ml.update_summaries(screen.account.held_summaries(opened.uids[: screen.account.first_fetch]))
    focus_list_unless_typing(screen)
    screen.viewer.show_loading("Select a message and press Enter")  # as the server's list says
    screen.status.folder = INBOX.name
    if opened.provisional:
        from app.actions.operations import plural

        screen.status.message = f"{plural(len(opened.uids), 'message')} (newest first, sorting…)"
    return opened


def _show_cached_inbox(screen: Host) -> OpenFolder | None:
    """Before the server answers (or when it cannot be reached): the INBOX as last cached.
    None when nothing is cached; else the list shown, which the user may move in (End)
    until the server's list replaces it, keeping the cursor's message."""
    try:
        cached = screen.account.open_folder_cached(INBOX)
    except Exception:
        return None
    if cached is None:
        return None
    screen._folder_uids = cached.uids
    screen.message_list.set_uids(cached.uids, keep_cursor=False)
    screen.message_list.held_source = held_source(screen)
    # The first rows' summaries at once, not after a round of SummariesWanted.
    screen.message_list.update_summaries(
        screen.account.held_summaries(cached.uids[: screen.account.first_fetch])
    )
    focus_list_unless_typing(screen)
    screen.viewer.show_loading("Select a message and press Enter")  # as a cold start says
    screen.status.folder = "INBOX"
    from app.actions.operations import plural

    screen.status.message = f"{plural(len(cached.uids), 'message')} (from the cache)"
    _show_cached_folders(screen)
    return cached


def _show_cached_folders(screen: Host) -> None:
    """The folder tree and counts as last listed, until the server's LIST and STATUS."""
    try:
        got = screen.account.cached_folders()
    except Exception:
        return
    if got is None or screen.account.folders:
        return
    folders, counts = got
    if not getattr(screen.ui, "show_unsubscribed", True):  # as `show_folders` does
        folders = [f for f in folders if f.subscribed or f.name.upper() == "INBOX"]
    screen.folder_tree.set_folders(folders, counts)
    screen.folder_tree.select_folder(INBOX.name)
    status = counts.get(INBOX.name)
    if status is not None:
        screen.status.set_counts(status.messages, status.unseen)


def _reload_outbox_screen(screen: Host) -> None:
    """An open outbox shows what the retry changed (a sent entry leaves it)."""
    outbox = sys.modules.get("app.screens.outbox")
    if outbox is None:
        return  # never opened (and not imported for nothing)
    for pushed in screen.app.screen_stack:
        if isinstance(pushed, outbox.OutboxScreen) and pushed.is_mounted:
            pushed.reload()


class ConnectionWorkers:
    """The screen's long-running workers: connecting, the counts, the outbox, old drafts."""

    _early_shown: OpenFolder | None

    @work(exclusive=True, group="connect", description="connecting")
    async def connect_account(self: Host, shown: OpenFolder | None = None) -> None:
        """`shown`: the list on screen already (`show_early_inbox`, handed in `_early_shown`);
        else the cached INBOX."""
        self.status.connection = "connecting"
        if shown is None:
            shown, self._early_shown = self._early_shown, None
        if shown is None:
            shown = _show_cached_inbox(self)
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
                from app.screens.protolog_actions import error_with_hint

                said = error_with_hint(exc, error_text(exc))
                if is_fatal(exc):
                    self.status.connection = "offline"
                    self.notify(said, title="Cannot connect", severity="error", markup=False)
                    return
                self.status.set_offline(delay, error_text(exc))
                self.notify(said, title="Connection failed", severity="warning", markup=False)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5)  # capped low: a restarted server is back at once
        self.status.connection = "connected"
        self.status.account = self.account.name
        if self.account.may_have_outbox():
            from app.screens import undo_send_actions

            undo_send_actions.send_left_over(self)  # held by a run that died: sent now
        ask_unanswered(self)
        chosen = self.account.current
        if chosen is not None and chosen.cached and chosen.folder.name != INBOX.name:
            # Another cached folder was opened from the cached tree during start-up: that one.
            await reload_folders(self)
            folder = self.account.folder(chosen.folder.name) or chosen.folder
            self.folder_tree.select_folder(folder.name)
            await open_folder(self, folder, shown=chosen)
        elif "inbox" not in self.account.folder_roles:
            # INBOX exists on every server: open it first, and list the folder tree (LIST and
            # a STATUS of every folder) after, so the first screen does not wait for the tree.
            self.folder_tree.select_folder("INBOX")
            await open_folder(self, INBOX, shown=shown)
            await reload_folders(self)
            if not screen_going(self):
                _adopt_listed_inbox(self)
        else:
            await reload_folders(self)
            inbox = self.account.folder_by_role(FolderRole.INBOX) or self.account.folder("INBOX")
            if inbox is not None:
                self.folder_tree.select_folder(inbox.name)
                await open_folder(self, inbox, shown=shown if inbox.name == INBOX.name else None)
        self.resume_drafts()
        # Start-up is done (the list, the tree): the heap it freed goes back to the system
        # (app/memory.py), in a thread (the GIL is let go meanwhile), and what it keeps is
        # frozen out of later collections (not under a test's pilot).
        trim_heap_later(freeze=not self.app.is_headless)

    @work(exclusive=True, group="counts", description="folder counts")
    async def watch_counts(self: Host) -> None:
        """Counts true without opening folders: after our own commands, and other folders'
        new mail on a timer (`app.actions.counts`, issue 14)."""
        await watch_counts(self)

    @work(group="drafts")
    async def resume_drafts(self: Host) -> None:
        if not self.account.may_have_drafts():
            return  # none: the compose screen is not imported for nothing
        from app.screens.compose import offer_unfinished_drafts

        await offer_unfinished_drafts(self, self.account)

    @work(exclusive=True, group="outbox")
    async def flush_outbox(self: Host) -> None:
        """Retry what waits in the outbox (a 4xx earlier); shown, never silent."""
        if not self.account.may_have_outbox():
            return
        from app.screens.protolog_actions import with_log_hint
        from app.smtp.sending import flush_outbox

        try:
            attempts = await flush_outbox(self.account)
        except Exception as exc:
            self._report(exc, "Outbox retry failed")
            return
        _reload_outbox_screen(self)
        for attempt in attempts:
            text = {"sent": "A queued message was sent", "retry": "Still waiting to send"}.get(
                attempt.status, "A queued message failed"
            )
            if attempt.error:
                text += f": {attempt.error}"
            text = with_log_hint(text)
            if attempt.status == "failed":
                self.notify(text, title="Outbox", severity="error", markup=False)
            else:
                self.notify(text, title="Outbox", markup=False)

    def action_show_outbox(self: Host) -> None:
        from app.screens.outbox import OutboxScreen
        from app.smtp.sending import account_outbox

        self.app.push_screen(OutboxScreen(account_outbox(self.account)))
