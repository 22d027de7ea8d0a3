"""SVG snapshots of the real screens: the main screen and the viewer on the lecture's messages.

The main screen runs on an `Account` whose server calls answer from local data (the four lecture
messages and generated rows), so the picture does not depend on ports, clocks or timing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from app.account import Account, OpenFolder
from app.main import TermailApp, ViewerApp
from app.mime.render import render_message
from app.models import (
    Address,
    Envelope,
    Folder,
    FolderRole,
    FolderStatus,
    MessageSummary,
    ServerSettings,
)
from widgets.message_list import MessageList

pytestmark = pytest.mark.ui

SEED = Path(__file__).parent.parent / "data" / "seed"
SEEDS = sorted(p.name for p in SEED.glob("*.eml"))
FIXED_NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


class RecordedAccount(Account):
    """An account answering from local data: for pictures that must not change."""

    def __init__(self) -> None:
        super().__init__(
            "demo", ServerSettings(host="localhost", port=993, user="demo"), lambda: None
        )
        self.raw = {i + 1: (SEED / name).read_bytes() for i, name in enumerate(SEEDS)}

    async def connect(self) -> None:
        return None

    async def load_folders(self) -> list[Folder]:
        def folder(
            name: str, role: FolderRole = FolderRole.NONE, attrs: frozenset[str] = frozenset()
        ) -> Folder:
            return Folder(name, name, "/", attrs, role)

        self.folders = [
            folder("INBOX", FolderRole.INBOX),
            folder("Drafts", FolderRole.DRAFTS),
            folder("Sent", FolderRole.SENT),
            folder("Trash", FolderRole.TRASH),
            folder("Lists", attrs=frozenset({"\\Noselect"})),
            folder("Lists/textual"),
        ]
        self.statuses = {
            "INBOX": FolderStatus(messages=24, unseen=3),
            "Lists/textual": FolderStatus(31, 6),
        }
        return self.folders

    async def open_folder(self, folder: Folder) -> OpenFolder:
        self.current = OpenFolder(folder, list(range(24, 0, -1)), 1, 24)
        return self.current

    async def summaries_for(self, uids: Sequence[int]) -> list[MessageSummary]:
        out = []
        for uid in uids:
            subject = f"Generated message number {uid}" if uid > 4 else None
            sender = (Address("Ana García", "ana", "example.org"),)
            if uid <= 4:
                rendered = render_message(self.raw[uid])
                subject = rendered.subject
                sender = (Address(rendered.from_display, None, None),)
            out.append(
                MessageSummary(
                    uid,
                    frozenset({"\\Seen"} if uid % 3 else set()),
                    Envelope(
                        date=f"Sat, {uid} Nov 2026 10:00:00 +0000", subject=subject, from_=sender
                    ),
                    size=1000 * uid,
                )
            )
        return out

    async def load_message(self, uid: int, *, prefer_html: bool = False) -> Any:
        return render_message(self.raw.get(uid, self.raw[1]), prefer_html=prefer_html)


class SnapshotApp(TermailApp):
    """The real App, with the list's clock fixed so dates always read the same."""

    def on_mount(self) -> None:
        super().on_mount()
        self.call_after_refresh(self._fix_clock)

    def _fix_clock(self) -> None:
        for ml in self.screen.query(MessageList):
            ml.now = lambda: FIXED_NOW
            ml.refresh()


async def _settle(pilot: Pilot[None]) -> None:
    for _ in range(40):
        await pilot.pause(0.05)
        ml = pilot.app.screen.query_one(MessageList)
        if ml.row_count and ml.summary(ml.uids[-1]) is not None:
            break
    await pilot.pause(0.2)


def test_main_screen_80x24(snap_compare: Any) -> None:
    app = SnapshotApp([RecordedAccount()], theme="termail-dark")
    assert snap_compare(app, terminal_size=(80, 24), run_before=_settle)


def test_main_screen_reading_250x70(snap_compare: Any) -> None:
    app = SnapshotApp([RecordedAccount()], theme="termail-dark")

    async def open_last(pilot: Pilot[None]) -> None:
        await _settle(pilot)
        pilot.app.screen.query_one(MessageList).focus()
        await pilot.press("G", "enter")
        await pilot.pause(0.5)

    assert snap_compare(app, terminal_size=(250, 70), run_before=open_last)


@pytest.mark.parametrize("theme", ["termail-dark", "termail-light", "termail-high-contrast"])
def test_main_screen_themes(snap_compare: Any, theme: str) -> None:
    app = SnapshotApp([RecordedAccount()], theme=theme)
    assert snap_compare(app, terminal_size=(120, 30), run_before=_settle)


@pytest.mark.parametrize("name", SEEDS)
def test_viewer_on_lecture_messages(snap_compare: Any, name: str) -> None:
    app = ViewerApp((SEED / name).read_bytes(), name)
    assert snap_compare(app, terminal_size=(100, 30))
