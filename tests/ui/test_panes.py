"""The main screen's panes: drag handles, keyboard resizing, bounds, remembered sizes.

Runs the real App on the recorded account of the snapshot tests (no server), with the state
file (where sizes are remembered, beside the theme) in a private folder per test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from app.config.model import UiSettings
from app.main import TermailApp
from tests.ui.test_app_snapshots import RecordedAccount, _settle
from widgets.folder_tree import FolderTree
from widgets.message_list import MessageList
from widgets.message_view import MessageView
from widgets.splitter import Splitter

pytestmark = pytest.mark.ui


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Sizes remembered here, not in the suite's shared state (the snapshots read that)."""
    monkeypatch.setenv("TERMAIL_STATE_DIR", str(tmp_path))
    return tmp_path


def make_app(ui: UiSettings | None = None) -> TermailApp:
    return TermailApp([RecordedAccount()], theme="termail-dark", ui=ui)


def remembered(state_dir: Path) -> dict[str, Any]:
    panes: dict[str, Any] = json.loads((state_dir / "state.json").read_text())["panes"]
    return panes


async def drag(pilot: Pilot[None], splitter: Splitter, to_x: int) -> None:
    """Press on the bar, move the pointer to screen column `to_x`, let go."""
    y = splitter.region.y + 2
    await pilot.mouse_down(None, offset=(splitter.region.x, y))
    await pilot.hover(None, offset=(to_x, y))
    await pilot.mouse_up(None, offset=(to_x, y))
    await pilot.pause()


def widths(app: TermailApp) -> tuple[int, int, int]:
    screen = app.screen
    return (
        screen.query_one(FolderTree).region.width,
        screen.query_one(MessageList).region.width,
        screen.query_one(MessageView).region.width,
    )


async def test_dragging_the_folder_splitter_resizes_within_bounds(state_dir: Path) -> None:
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await _settle(pilot)
        split = app.screen.query_one("#split-folders", Splitter)
        assert split.region.x == 28 and widths(app)[0] == 28
        await drag(pilot, split, 40)
        assert widths(app)[0] == 40 and split.region.x == 40
        assert remembered(state_dir)["folders"] == 40
        await drag(pilot, split, 2)  # too narrow: the minimum
        assert widths(app)[0] == 12
        await drag(pilot, split, 110)  # too wide: at most half the screen
        assert widths(app)[0] == 60
        assert not split.dragging and not split.has_class("-dragging")


async def test_dragging_the_viewer_splitter_moves_the_list_edge(state_dir: Path) -> None:
    app = make_app()
    async with app.run_test(size=(160, 30)) as pilot:
        await _settle(pilot)
        folders, listed, viewer = widths(app)
        assert abs(listed - viewer) <= 1  # no config: half and half
        split = app.screen.query_one("#split-viewer", Splitter)
        await drag(pilot, split, split.region.x + 30)
        folders2, listed2, viewer2 = widths(app)
        assert folders2 == folders
        assert abs(listed2 - (listed + 30)) <= 1 and listed2 + viewer2 == listed + viewer
        share = remembered(state_dir)["list"]
        assert 65 < share < 75
        await drag(pilot, split, 159)  # the viewer keeps its minimum
        assert widths(app)[2] >= 20


async def test_keys_resize_the_focused_pane_and_equals_resets(state_dir: Path) -> None:
    app = make_app()
    async with app.run_test(size=(160, 30)) as pilot:
        await _settle(pilot)
        screen: Any = app.screen
        start = widths(app)
        screen.query_one(FolderTree).focus()
        await pilot.press("greater_than_sign", "greater_than_sign")
        await pilot.pause()
        assert widths(app)[0] == start[0] + 4
        await pilot.press("less_than_sign")
        await pilot.pause()
        assert widths(app)[0] == start[0] + 2
        screen.query_one(MessageList).focus()
        before = widths(app)
        await pilot.press("greater_than_sign")
        await pilot.pause()
        after = widths(app)
        assert after[1] > before[1] and after[2] < before[2]  # the list grew into the viewer
        screen.query_one(MessageView).focus()
        await pilot.press("greater_than_sign", "greater_than_sign")
        await pilot.pause()
        assert widths(app)[2] > after[2]  # and now the viewer grows
        assert remembered(state_dir)["folders"] == start[0] + 2
        await pilot.press("equals_sign")
        await pilot.pause()
        assert widths(app) == start
        assert remembered(state_dir)["folders"] == 28


async def test_sizes_are_remembered_until_the_config_changes(state_dir: Path) -> None:
    ui = UiSettings(folder_pane_width=30, message_list_height=40)
    app = make_app(ui)
    async with app.run_test(size=(160, 30)) as pilot:
        await _settle(pilot)
        assert widths(app)[0] == 30
        await drag(pilot, app.screen.query_one("#split-folders", Splitter), 36)
        await drag(pilot, app.screen.query_one("#split-viewer", Splitter), 100)
        sizes = widths(app)
    assert sizes[0] == 36
    again = make_app(ui)
    async with again.run_test(size=(160, 30)) as pilot:
        await _settle(pilot)
        assert widths(again) == sizes  # as they were left
    edited = make_app(UiSettings(folder_pane_width=24, message_list_height=40))
    async with edited.run_test(size=(160, 30)) as pilot:
        await _settle(pilot)
        assert widths(edited)[0] == 24  # the config was edited since: it wins


async def test_small_and_large_terminals(state_dir: Path) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await _settle(pilot)
        screen: Any = app.screen
        assert not screen.query_one("#split-viewer").display  # narrow: no viewer beside the list
        folders, listed, _ = widths(app)
        assert folders == 28 and listed == 80 - 28 - 1
        screen.query_one(MessageList).focus()
        await pilot.press("greater_than_sign")  # only the folder splitter: the list grows
        await pilot.pause()
        assert widths(app)[:2] == (26, listed + 2)
        await drag(pilot, screen.query_one("#split-folders", Splitter), 70)
        assert widths(app)[0] == 40  # half of 80 at most
        await pilot.press("ctrl+b")  # still collapsible, handle and all
        await pilot.pause()
        assert not screen.query_one(FolderTree).display
        assert not screen.query_one("#split-folders").display
        assert widths(app)[1] == 80
    app = make_app()
    async with app.run_test(size=(250, 70)) as pilot:
        await _settle(pilot)
        folders, listed, viewer = widths(app)
        assert folders == 40 and listed > 100 and viewer > 100  # 40: remembered from above
        app.screen.query_one(MessageList).focus()
        await pilot.press("v")  # the viewer takes the whole screen: no handles
        await pilot.pause()
        assert not any(s.display for s in app.screen.query(Splitter))
        assert widths(app)[2] == 250


async def test_double_click_on_a_splitter_resets(state_dir: Path) -> None:
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await _settle(pilot)
        split = app.screen.query_one("#split-folders", Splitter)
        await drag(pilot, split, 44)
        assert widths(app)[0] == 44
        await pilot.click(split, offset=(0, 3), times=2)
        await pilot.pause()
        assert widths(app)[0] == 28
