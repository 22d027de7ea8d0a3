"""Reading: a message opened from the list, marked read, the next one prefetched; stepping
(`J` `K`, ctrl+n the next unread anywhere), the viewer's keys (`q` `H` `h` `V` `w`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from app.models import Flag, Folder, FolderRole
from app.screens.main.errors import error_text
from app.screens.main.listing import open_folder
from app.screens.main.message_ops import set_flag
from app.screens.main.panes import focus_shown_pane, set_reading
from app.screens.main.watch import show_counts
from widgets.dialogs import PromptDialog
from widgets.folder_tree import display_order
from widgets.message_view import html_switch_note
from widgets.workers import work

if TYPE_CHECKING:
    from app.screens.main.host import Host

__all__ = ["ReadingActions", "in_viewer", "opened"]

log = logging.getLogger(__name__)

#: Seconds a message may take to load before the viewer says "Loading…".
LOADING_AFTER = 0.15


def in_viewer(screen: Host) -> bool:
    """The user is reading: the viewer fills the screen or holds the focus."""
    narrow_reading = screen.has_class("-narrow") and screen.has_class("-reading")
    return screen.has_class("-zoom") or narrow_reading or screen.viewer.has_focus_within


def opened(screen: Host, uid: int) -> None:
    """Enter on a row: the message in the viewer (a draft opens to be finished, not read)."""
    folder = screen.account.current.folder if screen.account.current else None
    if folder is not None and folder.role is FolderRole.DRAFTS:
        screen._open_compose(uid, "draft")
        return
    screen.open_uid = uid
    set_reading(screen, True)
    focus_shown_pane(screen)  # a narrow screen reads full width: the body scrolls on `j`
    screen.load_message(uid)


def _prefetch_after(screen: Host, uid: int) -> None:
    """While the user reads `uid`, get the next message's text into the cache."""
    ml = screen.message_list
    row = ml.cursor_row if ml.cursor_uid == uid else -1
    if 0 <= row < ml.row_count - 1:
        screen.prefetch_message(ml.uids[row + 1])


async def _open_unread_here(screen: Host, *, from_top: bool = False) -> bool:
    """Open the first unread message after the cursor (wrapping); False when none."""
    if screen.account.current is None:
        return False
    unseen = set(await screen.account.search("is:unread"))
    if screen.open_uid is not None:
        unseen.discard(screen.open_uid)  # the one being read (marked \\Seen a moment later)
    ml = screen.message_list
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


async def _folders_with_unread(screen: Host) -> list[Folder]:
    """Other folders with unread mail, in the tree's order after the open one (wrapping).

    Trash, Junk, Sent and Drafts are left out, as mutt's new-mail cycle leaves out what is
    not in its mailboxes list. The STATUS counts held are used first; when none says
    "unread", every folder is asked again (mail may have come since they were read).
    """
    account = screen.account
    skip = (FolderRole.TRASH, FolderRole.JUNK, FolderRole.SENT, FolderRole.DRAFTS)
    ordered = [f for f in display_order(account.folders) if f.selectable]
    current = account.current
    name = current.folder.name if current is not None else None
    names = [f.name for f in ordered]
    at = names.index(name) + 1 if name in names else 0
    candidates = [f for f in ordered[at:] + ordered[:at] if f.name != name and f.role not in skip]

    def with_unread() -> list[Folder]:
        found = []
        for folder in candidates:
            status = account.statuses.get(folder.name)
            if status is not None and status.unseen > 0:
                found.append(folder)
        return found

    found = with_unread()
    if found:
        return found
    for folder in candidates[:200]:
        with contextlib.suppress(Exception):
            show_counts(screen, folder.name, await account.refresh_status(folder.name))
    return with_unread()


class ReadingActions:
    """The message shown: its loading, and the keys that step, switch and save it."""

    @work(exclusive=True, group="message", description="loading message")
    async def load_message(self: Host, uid: int, *, html_switch: bool = False) -> None:
        before = self.viewer.rendered if html_switch else None
        # "Loading…" only when it takes a while: drawn and then replaced at once it is two
        # restyles and repaints of the viewer before the text (issue 21, Enter under load).
        self.viewer.replacing()
        loading = self.set_timer(LOADING_AFTER, lambda: self.viewer.show_loading("Loading…"))
        try:
            rendered = await self.account.load_message(uid, prefer_html=self.prefer_html)
        except Exception as exc:
            self.viewer.show_error(error_text(exc))
            self._report(exc, "Cannot show the message")
            return
        finally:
            loading.stop()  # also when another Enter cancelled this load
        self.viewer.show(rendered)
        self.load_invitation(uid)
        if html_switch:  # H: say what it did, also when nothing could change
            note = html_switch_note(rendered, self.prefer_html, before)
            self.notify(note, markup=False, timeout=4)
        _prefetch_after(self, uid)
        summary = self.message_list.summary(uid)
        # No summary yet (opened right after its folder, e.g. by ctrl+n): marked read all the
        # same; +FLAGS \\Seen on a message already read changes nothing.
        if summary is None or Flag.SEEN not in summary.flags:
            if self.mark_read_delay:
                await asyncio.sleep(self.mark_read_delay)
            if self.open_uid == uid:
                await set_flag(self, [uid], Flag.SEEN, True)

    @work(group="prefetch", description="prefetching the next message")
    async def prefetch_message(self: Host, uid: int) -> None:
        try:
            await self.account.prefetch_message(uid, prefer_html=self.prefer_html)
        except Exception as exc:  # a prefetch is a guess: a failure here is not the user's
            log.debug("prefetch of UID %s failed: %s", uid, exc)

    def action_next_message(self: Host, step: int) -> None:
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
    async def action_next_unread(self: Host) -> None:
        """The next unread message: further down this folder (then from its top), else the
        first unread of the next folder that has some, in the tree's order."""
        try:
            if await _open_unread_here(self):
                return
            for folder in await _folders_with_unread(self):
                self.folder_tree.select_folder(folder.name)
                await open_folder(self, folder)
                current = self.account.current
                if current is None or current.folder.name != folder.name:
                    return  # it could not be opened: open_folder said why
                if await _open_unread_here(self, from_top=True):
                    self.notify(f"Unread mail in {folder.name}", markup=False, timeout=3)
                    return
        except Exception as exc:
            self._report(exc, "Cannot look for unread mail")
            return
        self.notify("No unread message in any folder", markup=False, timeout=4)

    def action_close_viewer(self: Host) -> None:
        if self.viewer.raw_mode and self.viewer.rendered is not None:
            self.viewer.leave_raw()  # from a pipe's output or a text attachment: the message again
            return
        self.remove_class("-zoom")
        set_reading(self, False)
        self.message_list.focus()

    def action_toggle_html(self: Host) -> None:
        self.prefer_html = not self.prefer_html
        if self.open_uid is not None:
            self.load_message(self.open_uid, html_switch=True)
        else:
            self.notify(
                "HTML parts preferred" if self.prefer_html else "Text parts preferred",
                markup=False,
                timeout=3,
            )

    def action_toggle_headers(self: Host) -> None:
        self.viewer.full_headers = not self.viewer.full_headers

    @work(group="message")
    async def action_show_raw(self: Host) -> None:
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
    async def action_save_raw(self: Host) -> None:
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
