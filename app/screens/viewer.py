"""`termail view FILE.eml`: the app's viewer on a local message file, no server.

Every key the viewer has in the client works here too: `h` full headers, `H` HTML/text, `V` raw
source, `a`/`o` save or open an attachment (decoded from the file itself), `?` the keys.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer

from app.mime.types import AttachmentInfo
from widgets.link_list import link_bindings
from widgets.message_view import MessageView, html_switch_note


def _save_from_file(raw: bytes, info: AttachmentInfo, folder: Path, name: str) -> Path:
    """Decode attachment `info` of the message `raw` into a new file `name` in `folder`."""
    from app.mime.attachments import SaveError, is_text_type, save_part
    from app.mime.render import extract_part

    found = extract_part(raw, info.part_id)
    if found is None:
        raise SaveError(f"part {info.part_id} is not in the file")
    data, encoding = found
    return save_part(
        data,
        encoding or info.encoding,
        folder,
        name or "attachment",
        text=is_text_type(info.mime_type),
    )


class FileViewerScreen(Screen[None]):
    """One message from a file, read as in the client's viewer."""

    BINDINGS = [
        Binding("h", "toggle_headers", "Headers", id="view.headers"),
        Binding("H", "toggle_html", "HTML/text", id="view.html"),
        Binding("V", "show_raw", "Raw source", id="view.raw"),
        Binding("question_mark", "help", "Help", id="app.help"),
        *link_bindings(),
    ]

    AUTO_FOCUS = "#mv-body"

    def __init__(self, raw: bytes, name: str, *, prefer_html: bool = False) -> None:
        super().__init__()
        self.raw = raw
        self.file_name = name
        self.prefer_html = prefer_html

    def compose(self) -> ComposeResult:
        yield MessageView(id="viewer")
        yield Footer()

    @property
    def viewer(self) -> MessageView:
        return self.query_one(MessageView)

    def on_mount(self) -> None:
        self._show_message()
        self.viewer.focus()

    def _show_message(self) -> None:
        from app.mime.render import render_message

        self.viewer.show(render_message(self.raw, prefer_html=self.prefer_html))

    # -- keys ---------------------------------------------------------------------------------
    @work(group="links", exclusive=True)
    async def action_open_link(self, number: int = 0) -> None:
        from app.screens import link_actions

        await link_actions.open_link(self, number or None)

    def action_toggle_headers(self) -> None:
        self.viewer.full_headers = not self.viewer.full_headers

    def action_toggle_html(self) -> None:
        before = self.viewer.rendered
        self.prefer_html = not self.prefer_html
        self._show_message()
        rendered = self.viewer.rendered
        if rendered is not None:
            note = html_switch_note(rendered, self.prefer_html, before)
            self.notify(note, markup=False, timeout=4)

    def action_show_raw(self) -> None:
        if self.viewer.raw_mode:
            self.viewer.leave_raw()
        else:
            self.viewer.show_raw(self.raw.decode("utf-8", "replace"))

    def action_help(self) -> None:
        from widgets.help_screen import HelpScreen

        self.app.push_screen(HelpScreen(self))

    # -- attachments --------------------------------------------------------------------------
    @on(MessageView.SaveAttachment)
    def _save_attachment(self, event: MessageView.SaveAttachment) -> None:
        self.save_attachment(event.info)

    @work(group="attachment", description="saving attachment")
    async def save_attachment(self, info: AttachmentInfo) -> None:
        """The client's save prompt (Tab completes, the name can be changed, ctrl+s saves
        them all), decoding from the file instead of fetching from a server."""
        from app.paths import private_dir
        from app.screens.main import MainScreen
        from app.state import remember
        from widgets.safe import human_size
        from widgets.save_prompt import SavePrompt, short_path

        every = list(self.viewer.attachment_list.attachments) or [info]
        size = ("~" if info.size_is_estimate else "") + human_size(info.size)
        target = await self.app.push_screen_wait(
            SavePrompt(info.filename, MainScreen._save_folder(), size=size, count=len(every))
        )
        if target is None:
            return
        folder = target.folder
        created = ""
        if target.create:
            try:
                private_dir(folder)
            except OSError as exc:
                self._error(f"Cannot create {short_path(folder)}", exc)
                return
            created = f"Created {short_path(folder)}; "
        chosen = (
            [(info, target.name)] if target.name is not None else [(a, a.filename) for a in every]
        )
        saved: list[Path] = []
        for item, name in chosen:
            try:
                saved.append(await asyncio.to_thread(_save_from_file, self.raw, item, folder, name))
            except Exception as exc:
                self._error(f"Saving {item.filename} failed", exc)
                break
        if not saved:
            return
        remember("attachments.folder", str(folder))
        if len(saved) == 1:
            what = f"saved {short_path(saved[0])}"
        else:
            what = f"saved {len(saved)} attachments into {short_path(folder)}"
        text = created + what
        self.notify(text[:1].upper() + text[1:], markup=False)

    def _error(self, title: str, exc: BaseException) -> None:
        from app.mime.sanitize import clean_line

        self.notify(
            clean_line(str(exc) or type(exc).__name__)[:500],
            title=title,
            severity="error",
            markup=False,
        )

    @on(MessageView.OpenAttachment)
    def _open_attachment(self, event: MessageView.OpenAttachment) -> None:
        self.open_attachment(event.info)

    @work(group="attachment", description="opening attachment")
    async def open_attachment(self, info: AttachmentInfo) -> None:
        """A private temporary copy to xdg-open (removed at exit); asks first when the name,
        type or content looks like a program, as the client does."""
        from app.actions.opened import new_open_folder
        from app.mime.attachments import executable_reason

        opener = shutil.which("xdg-open")
        if opener is None:
            self.notify(
                "No xdg-open here: save the attachment instead (a)",
                severity="warning",
                markup=False,
            )
            return
        reason = executable_reason(info.filename, info.mime_type)
        if reason is not None and not await self._confirm_run(info.filename, reason):
            return
        try:
            folder = new_open_folder()
            path = await asyncio.to_thread(_save_from_file, self.raw, info, folder, info.filename)
        except Exception as exc:
            self._error("Opening the attachment failed", exc)
            return
        if reason is None:
            try:
                with open(path, "rb") as f:
                    head = f.read(64)
            except OSError:
                head = b""
            reason = executable_reason("", None, head)
            if reason is not None and not await self._confirm_run(info.filename, reason):
                shutil.rmtree(folder, ignore_errors=True)
                return
        await asyncio.create_subprocess_exec(
            opener,
            str(path),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        self.notify(f"Opened {path.name}", markup=False, timeout=3)

    async def _confirm_run(self, filename: str, reason: str) -> bool:
        from widgets.dialogs import ConfirmDialog

        question = (
            f"{filename} may be a program ({reason}): opening it could run it. Open it anyway?"
        )
        answer: bool = await self.app.push_screen_wait(ConfirmDialog(question, yes="Open"))
        return answer
