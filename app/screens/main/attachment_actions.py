"""Attachments of the message shown: `a` saves (from the list too), `o` opens (mailcap, text
in the viewer, xdg-open: `app/screens/tools.py`); the prompts are `app/screens/attachments.py`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.screens import attachments
from widgets.workers import work

if TYPE_CHECKING:
    from app.screens.main.host import Host

__all__ = ["AttachmentActions"]


class AttachmentActions:
    """`a` save attachment; the workers behind the viewer's save and open messages."""

    def action_save_attachment(self: Host) -> None:
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

    @work(group="attachment", description="saving attachment")
    async def save_attachment(self: Host, info: Any) -> None:
        """Ask where (Tab completes, the name can be changed, ctrl+s saves them all); save."""
        uid = self.open_uid
        if uid is None:
            return
        every = list(self.viewer.attachment_list.attachments) or [info]

        async def save(item: Any, folder: Path, name: str) -> Path:
            return await self._save_one(uid, item, folder, name)

        await attachments.save_attachments(self, info, every, save, self._report)

    @work(group="attachment", description="opening attachment")
    async def open_attachment(self: Host, info: Any) -> None:
        """A mailcap entry, else text in the viewer, else xdg-open (app/screens/tools.py)."""
        from app.screens import tools

        await tools.open_attachment(self, info)

    async def _save_one(self: Host, uid: int, info: Any, folder: Path, name: str) -> Path:
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

    async def _open_with_xdg(self: Host, info: Any) -> None:
        """Hand a private temporary copy to xdg-open; ask first when it may be a program."""
        uid = self.open_uid
        if uid is None:
            return

        async def save(item: Any, folder: Path, name: str) -> Path:
            return await self._save_one(uid, item, folder, name)

        await attachments.open_with_xdg(self, info, save, self._report)

    async def _confirm_run(self: Host, filename: str, reason: str) -> bool:
        return await attachments.confirm_run(self, filename, reason)
