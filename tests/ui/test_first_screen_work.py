"""What Textual does before the main screen's first frame: nothing twice (issue 21).

Counted, not timed, on the real App over a local account (tests/ui/test_app_snapshots.py):
no widget restyled again after its mount only because start-up set a class or a reactive to
what it already had to be (the footer's keys, the viewer's "-no-message", the screen's first
resume), no full frame rendered while the App's start-up batch holds (App._display drops it),
and no second parse of the stylesheet for the start theme.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from textual._compositor import Compositor
from textual.css.stylesheet import Stylesheet
from textual.dom import DOMNode

from tests.ui.test_app_snapshots import RecordedAccount, SnapshotApp, _settle
from widgets.message_list import MessageList

pytestmark = pytest.mark.ui


class Counts:
    def __init__(self) -> None:
        self.restyled: Counter[str] = Counter()
        """Widgets whose styles were applied again (a class or pseudo-class changed), by type,
        with the size of the subtree restyled: "MainScreen/30"."""
        self.batched_renders = 0
        self.reparses = 0
        self.frames = 0


@pytest.fixture
def counts(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counts]:
    got = Counts()
    restyle = DOMNode.update_node_styles
    render = Compositor.render_update
    reparse = Stylesheet.reparse

    def counted_restyle(self: DOMNode, animate: bool = True) -> None:
        size = sum(1 for _ in self.walk_children(with_self=True))
        got.restyled[f"{type(self).__name__}/{size}"] += 1
        restyle(self, animate)

    def counted_render(self: Compositor, *args: Any, **kwargs: Any) -> Any:
        from textual._context import active_app

        got.frames += 1
        if active_app.get()._batch_count:
            got.batched_renders += 1
        return render(self, *args, **kwargs)

    def counted_reparse(self: Stylesheet) -> None:
        got.reparses += 1
        reparse(self)

    monkeypatch.setattr(DOMNode, "update_node_styles", counted_restyle)
    monkeypatch.setattr(Compositor, "render_update", counted_render)
    monkeypatch.setattr(Stylesheet, "reparse", counted_reparse)
    yield got


async def test_the_first_screen_is_styled_and_drawn_once(counts: Counts) -> None:
    app = SnapshotApp([RecordedAccount()], theme="termail-dark")
    async with app.run_test(size=(160, 48)) as pilot:
        await _settle(pilot)
        assert app.screen.query_one(MessageList).row_count  # the rows are there
        restyled = dict(counts.restyled)
        assert counts.frames  # the screen was drawn
    assert not [k for k in restyled if k.startswith("FooterKey/")], restyled
    assert not [k for k in restyled if k.startswith("MessageView/")], restyled
    assert not [k for k in restyled if k.startswith("MainScreen/")], restyled
    assert counts.batched_renders == 0
    assert counts.reparses == 0


async def test_a_later_theme_change_still_restyles(counts: Counts) -> None:
    """The skipped refresh is only the start theme's: choosing another one re-parses."""
    app = SnapshotApp([RecordedAccount()], theme="termail-dark")
    async with app.run_test(size=(100, 30)) as pilot:
        await _settle(pilot)
        assert counts.reparses == 0
        app.theme = "termail-light"
        await pilot.pause(0.2)
        assert counts.reparses == 1
        assert app.stylesheet._variables["background"] == app.get_css_variables()["background"]
