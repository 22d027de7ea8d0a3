"""Small purpose-built apps around the widgets, for pilot tests and SVG snapshots (not shipped).

Each app plays the part of the screen: it answers `MessageList.SummariesWanted` from the sample
data as the core would, and records every message the widgets post so tests can assert on them.
Run one by hand with `python -m tests.ui.apps.widgets_demo [list|viewer|gallery] [theme]`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from textual.app import App, ComposeResult
from textual.containers import Horizontal
from textual.message import Message

from app.mime.types import RenderedMessage
from app.themes import load_themes
from tests.ui.apps import samples
from widgets.folder_tree import FolderTree
from widgets.message_list import MessageList
from widgets.message_view import MessageView
from widgets.query_bar import QueryBar
from widgets.status_bar import StatusBar
from widgets.textual_fixes import AnsiThemeVariables


class _DemoApp(AnsiThemeVariables, App[None]):
    """Registers termail's themes and records the widgets' messages."""

    def __init__(self, theme: str | None = None) -> None:
        super().__init__()
        self._theme_choice = theme
        self.posted: list[Message] = []
        self.quit_requested = False

    def on_mount(self) -> None:
        themes, failures = load_themes()
        assert not failures, failures
        for theme in themes:
            self.register_theme(theme)
        if self._theme_choice:
            self.theme = self._theme_choice

    def of_type(self, kind: type[Message]) -> list[Any]:
        return [m for m in self.posted if isinstance(m, kind)]

    async def action_quit(self) -> None:
        # A markup injection that reached an action would land here; the tests check it never does.
        self.quit_requested = True


class ListDemo(_DemoApp):
    """A MessageList over `count` UIDs, answered synchronously (or not at all)."""

    def __init__(
        self,
        count: int = 200,
        *,
        theme: str | None = None,
        answer: bool = True,
        subjects: dict[int, str] | None = None,
        sent_mode: bool = False,
    ) -> None:
        super().__init__(theme)
        self.count = count
        self.answer = answer
        self.subjects = subjects or {}
        self.sent_mode = sent_mode
        self.summaries_asked = 0

    def compose(self) -> ComposeResult:
        yield MessageList(id="list")

    def on_mount(self) -> None:
        super().on_mount()
        messages = self.query_one(MessageList)
        messages.now = lambda: samples.NOW
        messages.sent_mode = self.sent_mode
        messages.set_uids(range(1, self.count + 1))
        messages.focus()

    def on_message_list_summaries_wanted(self, event: MessageList.SummariesWanted) -> None:
        self.posted.append(event)
        self.summaries_asked += len(event.uids)
        if self.answer:
            event.control.update_summaries(
                (samples.summary(uid, subject=self.subjects.get(uid)) for uid in event.uids),
                epoch=event.epoch,
            )

    def on_message_list_highlighted(self, event: MessageList.Highlighted) -> None:
        self.posted.append(event)

    def on_message_list_opened(self, event: MessageList.Opened) -> None:
        self.posted.append(event)

    def on_message_list_marks_changed(self, event: MessageList.MarksChanged) -> None:
        self.posted.append(event)


class ViewerDemo(_DemoApp):
    """A MessageView showing the sample message."""

    def __init__(
        self,
        rendered: RenderedMessage | None = None,
        *,
        theme: str | None = None,
        setup: Callable[[MessageView], None] | None = None,
    ) -> None:
        super().__init__(theme)
        self.rendered = rendered if rendered is not None else samples.rendered_message()
        self.setup = setup

    def compose(self) -> ComposeResult:
        yield MessageView(id="viewer")

    def on_mount(self) -> None:
        super().on_mount()
        viewer = self.query_one(MessageView)
        viewer.show(self.rendered)
        viewer.focus()
        if self.setup is not None:
            self.setup(viewer)

    def on_message_view_save_attachment(self, event: MessageView.SaveAttachment) -> None:
        self.posted.append(event)

    def on_message_view_open_attachment(self, event: MessageView.OpenAttachment) -> None:
        self.posted.append(event)


class GalleryDemo(_DemoApp):
    """Every widget at once, laid out as the main screen does: for the theme snapshots."""

    CSS = """
    #panes { height: 1fr; }
    FolderTree { width: 30; }
    MessageList { width: 1fr; }
    MessageView { width: 1fr; }
    """

    def compose(self) -> ComposeResult:
        with Horizontal(id="panes"):
            yield FolderTree("Folders", id="folders")
            yield MessageList(id="list")
            yield MessageView(id="viewer")
        yield QueryBar(id="query")
        yield StatusBar(id="status")

    def on_mount(self) -> None:
        super().on_mount()
        folders, counts = samples.folders()
        tree = self.query_one(FolderTree)
        tree.set_folders(folders, counts)
        tree.select_folder("INBOX")
        messages = self.query_one(MessageList)
        messages.now = lambda: samples.NOW
        messages.set_uids(range(1, 121))
        messages.focus()
        self.query_one(MessageView).show(samples.rendered_message())
        status = self.query_one(StatusBar)
        status.account = "demo"
        status.connection = "connected"
        status.folder = "INBOX"
        status.set_counts(120, 3)
        status.message = "3 new messages"

    def on_message_list_summaries_wanted(self, event: MessageList.SummariesWanted) -> None:
        event.control.update_summaries(
            (
                samples.summary(uid, subject=samples.INJECTION_SUBJECT if uid == 2 else None)
                for uid in event.uids
            ),
            epoch=event.epoch,
        )


def main(argv: list[str]) -> None:
    kind = argv[0] if argv else "gallery"
    theme = argv[1] if len(argv) > 1 else None
    apps: dict[str, Callable[[], App[None]]] = {
        "list": lambda: ListDemo(100_000, theme=theme),
        "viewer": lambda: ViewerDemo(theme=theme),
        "gallery": lambda: GalleryDemo(theme=theme),
    }
    apps[kind]().run()


if __name__ == "__main__":
    main(sys.argv[1:])
