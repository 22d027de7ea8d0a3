"""SVG snapshots of the message list, the viewer and every theme (`--snapshot-update` to accept)."""

from __future__ import annotations

from typing import Any

import pytest
from textual.pilot import Pilot

from tests.ui.apps import samples
from tests.ui.apps.widgets_demo import GalleryDemo, ListDemo, ViewerDemo
from widgets.message_view import MessageView

pytestmark = pytest.mark.ui

SnapCompare = Any


def test_list_80x24(snap_compare: SnapCompare) -> None:
    app = ListDemo(200, subjects={3: samples.INJECTION_SUBJECT, 5: samples.ESC_SUBJECT})
    assert snap_compare(app, press=["j", "t", "t", "j"], terminal_size=(80, 24))


def test_list_100k_at_the_end_250x70(snap_compare: SnapCompare) -> None:
    assert snap_compare(ListDemo(100_000), press=["end", "k"], terminal_size=(250, 70))


def test_list_sent_mode_with_placeholders(snap_compare: SnapCompare) -> None:
    app = ListDemo(60, sent_mode=True, answer=False)

    async def answer_half(pilot: Pilot[None]) -> None:
        await pilot.pause()
        app.query_one("#list").update_summaries(samples.summary(uid) for uid in range(1, 60, 2))  # type: ignore[attr-defined]
        await pilot.pause()

    assert snap_compare(app, terminal_size=(100, 20), run_before=answer_half)


def test_viewer_80x24(snap_compare: SnapCompare) -> None:
    assert snap_compare(ViewerDemo(), terminal_size=(80, 24))


def test_viewer_full_headers_120x40(snap_compare: SnapCompare) -> None:
    def full(viewer: MessageView) -> None:
        viewer.full_headers = True

    assert snap_compare(ViewerDemo(setup=full), terminal_size=(120, 40))


def test_viewer_raw_source(snap_compare: SnapCompare) -> None:
    raw = (
        "Received: from mx.builder.test by mail.localhost with LMTP; Fri, 13 Mar 2026 09:12:01\r\n"
        "Subject: =?utf-8?q?evil_=1B=5B2J?= [@click=app.quit]\r\n"
        "X-Long: " + "z" * 200 + "\r\n\r\nBody \x1b]0;title\x07 text\r\n"
    )

    def raw_mode(viewer: MessageView) -> None:
        viewer.show_raw(raw)

    assert snap_compare(ViewerDemo(setup=raw_mode), terminal_size=(80, 24))


@pytest.mark.parametrize("theme", ["termail-dark", "termail-light", "termail-high-contrast"])
def test_gallery_theme(snap_compare: SnapCompare, theme: str) -> None:
    assert snap_compare(GalleryDemo(theme=theme), press=["j", "j"], terminal_size=(160, 45))


def test_gallery_80x24(snap_compare: SnapCompare) -> None:
    assert snap_compare(GalleryDemo(theme="termail-dark"), terminal_size=(80, 24))
