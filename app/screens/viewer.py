"""`termail view FILE.eml`: the app's viewer on a local message file, no server.

Every key the viewer has in the client works here too: `h` full headers, `H` HTML/text, `V` raw
source, `a`/`o` save or open an attachment (decoded from the file itself), `?` the keys.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen

from app.mime.types import AttachmentInfo
from widgets.footer import Footer
from widgets.link_list import link_bindings
from widgets.message_view import MessageView, html_switch_note
from widgets.workers import work


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
        Binding("ctrl+k", "fetch_key", "Fetch signer's key", id="pgp.fetch_key", show=False),
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
        from app.crypto.view import might_be_protected
        from app.mime.render import render_message

        self.viewer.show(render_message(self.raw, prefer_html=self.prefer_html))
        if might_be_protected(self.raw):  # gpg runs in a thread: a hanging one freezes nothing
            self._check_crypto(self.prefer_html)

    @work(exclusive=True, group="crypto", exit_on_error=False)
    async def _check_crypto(self, prefer_html: bool) -> None:
        """The OpenPGP / S/MIME verdicts (and a decrypted body), shown once gpg answered."""
        import asyncio

        from app.crypto.view import render_protected

        rendered = await asyncio.to_thread(render_protected, self.raw, prefer_html=prefer_html)
        if prefer_html == self.prefer_html and not self.viewer.raw_mode:
            self.viewer.show(rendered)

    # -- keys ---------------------------------------------------------------------------------
    @work(group="pgp-key", exclusive=True)
    async def action_fetch_key(self) -> None:
        """ctrl+k: fetch an unknown signer's key with the user's gpg (after asking)."""
        from app.screens import pgp_key_actions

        await pgp_key_actions.fetch_key(self, lambda _uid: self._show_message())

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
        """The client's save prompt (app/screens/attachments.py), decoding from the file
        instead of fetching from a server."""
        from app.screens.attachments import save_attachments

        every = list(self.viewer.attachment_list.attachments) or [info]

        async def save(item: AttachmentInfo, folder: Path, name: str) -> Path:
            return await asyncio.to_thread(_save_from_file, self.raw, item, folder, name)

        await save_attachments(self, info, every, save, lambda exc, title: self._error(title, exc))

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
        from app.screens.attachments import open_with_xdg

        async def save(item: AttachmentInfo, folder: Path, name: str) -> Path:
            return await asyncio.to_thread(_save_from_file, self.raw, item, folder, name)

        path = await open_with_xdg(self, info, save, lambda exc, title: self._error(title, exc))
        if path is not None:
            self.notify(f"Opened {path.name}", markup=False, timeout=3)
