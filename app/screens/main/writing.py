"""Writing from the main screen: compose, reply, forward, edit as new (`m` `r` `R` `f`
ctrl+f `e`), a draft opened from Drafts, and what is redrawn when the compose screen closes."""

from __future__ import annotations

import contextlib
import sys
from typing import TYPE_CHECKING

from app.models import FolderRole
from app.screens.main.reading import in_viewer
from app.screens.main.watch import show_counts
from widgets.workers import work

if TYPE_CHECKING:
    from app.screens.main.host import Host

__all__ = ["WritingActions", "compose_closed"]


def compose_closed(screen: Host) -> None:
    """Back from compose: the send flagged the original (\\Answered or $Forwarded) in the
    account's memory and cache (`app.smtp.sending.send_draft`); its row is drawn again from
    there, and the Sent and Drafts counts are read again."""
    compose = sys.modules.get("app.screens.compose")
    if compose is None:
        return  # never opened: nothing to draw again (and its import stays off the first screen)
    composing = any(isinstance(pushed, compose.ComposeScreen) for pushed in screen.app.screen_stack)
    if screen._composed and not composing:
        screen._composed = False
        screen._refresh_compose_counts()
    uid = screen._answering
    if uid is None:
        return
    if not composing:
        screen._answering = None
    screen.message_list.update_summaries(screen.account.held_summaries([uid]))


class WritingActions:
    """The keys that open the compose screen, and its workers."""

    _answering: int | None  # the screen's state these keys write (MainScreen.__init__)

    def action_compose(self: Host) -> None:
        self._open_compose(None, "new")

    def action_reply(self: Host) -> None:
        self._open_compose(self.message_list.cursor_uid, "reply")

    def action_reply_all(self: Host) -> None:
        self._open_compose(self.message_list.cursor_uid, "reply_all")

    def action_forward(self: Host) -> None:
        self._open_compose(self.message_list.cursor_uid, "forward")

    def action_forward_attached(self: Host) -> None:
        """Forward the whole message as a message/rfc822 attachment, its bytes as they are."""
        self._open_compose(self.message_list.cursor_uid, "forward_attached")

    def action_edit_new(self: Host) -> None:
        """The message (sent or received) as a new draft, its attachments kept."""
        uid = self.open_uid if in_viewer(self) and self.open_uid else self.message_list.cursor_uid
        if uid is None:
            self.status.show_message("No message to edit as new", timeout=4)
            return
        self._open_compose(uid, "edit_new")

    @work(group="compose")
    async def _open_compose(self: Host, uid: int | None, mode: str) -> None:
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

    @work(group="compose-counts", exclusive=True, exit_on_error=False)
    async def _refresh_compose_counts(self: Host) -> None:
        """Sent and Drafts counts in the tree after a compose screen closed: a send or a
        postpone appended there (the tree said Sent 0 after three sends)."""
        if self.account.client is None:
            return
        for role in (FolderRole.SENT, FolderRole.DRAFTS):
            folder = self.account.folder_by_role(role)
            if folder is not None:
                with contextlib.suppress(Exception):  # a courtesy: the mail is where it went
                    show_counts(self, folder.name, await self.account.refresh_status(folder.name))
