"""`q` reads like mutt: in the viewer it goes back to the list; from the list it quits."""

from __future__ import annotations

from typing import Any

import pytest

from app.sandbox.demo import load_demo
from tests.ui.test_app_sandbox import list_filled, make_app, message_list, wait_until
from widgets.message_view import MessageView

pytestmark = [pytest.mark.integration, pytest.mark.ui]


async def open_first(pilot: Any, app: Any) -> MessageView:
    await wait_until(pilot, lambda: list_filled(app))
    message_list(app).focus()
    await pilot.press("g", "enter")
    viewer = app.screen.query_one(MessageView)
    await wait_until(pilot, lambda: viewer.rendered is not None)
    return viewer


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_q_leaves_the_viewer_then_quits(sandbox: Any, mail_user: Any, size: Any) -> None:
    load_demo(sandbox, mail_user.name)
    app = make_app(mail_user)
    async with app.run_test(size=size) as pilot:
        viewer = await open_first(pilot, app)
        screen = app.screen
        if size[0] > 100:
            viewer.body.focus()  # wide: reading means the viewer has the focus
            await pilot.press("v")  # and the viewer full screen
            assert screen.has_class("-zoom")
        else:
            assert screen.has_class("-reading") and not message_list(app).display
            assert viewer.region.width == size[0]  # the whole width: no folder pane beside it
        await pilot.press("q")
        await pilot.pause()
        assert app.is_running and app.screen is screen
        assert message_list(app).has_focus and message_list(app).display
        assert not screen.has_class("-zoom") and not screen.has_class("-reading")
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running
