"""Reading as in mutt: `q` back to the list (quit from it), `a` saves from the list; new mail
shows even when our connection sees a delivery later than the IDLE watcher does."""

from __future__ import annotations

from typing import Any

import pytest

from app.sandbox.demo import load_demo
from tests.ui.test_app_sandbox import (
    list_filled,
    make_app,
    message_list,
    wait_until,
    wait_watching,
)
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


async def test_a_from_the_list_saves_the_only_attachment(
    sandbox: Any, mail_user: Any, tmp_path: Any
) -> None:
    from tests.ui.test_app_sandbox import open_by_subject
    from widgets.save_prompt import SavePrompt

    load_demo(sandbox, mail_user.name)
    app = make_app(mail_user)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        await open_by_subject(pilot, app, "Gibson")
        assert message_list(app).has_focus  # reading with the focus on the list
        await pilot.press("a")
        dialog = await wait_until(pilot, lambda: isinstance(app.screen, SavePrompt) and app.screen)
        dialog.query_one("Input").value = str(tmp_path)
        await pilot.press("enter")
        await wait_until(pilot, (tmp_path / "gibson-spec.doc").exists)


async def test_a_without_attachment_says_so(sandbox: Any, mail_user: Any) -> None:
    load_demo(sandbox, mail_user.name)
    app = make_app(mail_user)
    async with app.run_test(size=(160, 45)) as pilot:
        await open_first(pilot, app)
        viewer = app.screen.query_one(MessageView)
        if viewer.rendered is not None and viewer.rendered.attachments:
            pytest.skip("the newest demo message has attachments")
        await pilot.press("a")
        await pilot.pause(0.2)
        assert "No attachment" in str(app.screen.query_one("#status").message)


async def test_new_mail_seen_late_by_our_connection_still_appears(
    sandbox: Any, mail_user: Any
) -> None:
    """The watcher's connection saw the delivery; ours answers the first refresh with the old
    list (as a lagging view would): the screen asks again instead of losing the news."""
    sandbox.deliver(mail_user.name, b"Subject: first\r\nFrom: a@b.c\r\n\r\nx\r\n")
    app = make_app(mail_user)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        ml = message_list(app)
        screen: Any = app.screen
        await wait_watching(pilot, app)
        await pilot.pause(0.5)  # the refresh made when the watcher connected is over
        account = screen.account
        real = account.reload_uids
        stale = list(account.current.uids)
        lagging = [True]

        async def reload_uids() -> Any:
            if lagging[0]:
                lagging[0] = False
                return stale  # the delivery not seen yet by this connection
            return await real()

        account.reload_uids = reload_uids
        sandbox.deliver(mail_user.name, b"Subject: late\r\nFrom: a@b.c\r\n\r\ny\r\n")
        await wait_until(pilot, lambda: ml.row_count == 2, timeout=15)
        assert not lagging[0]  # the stale answer was given, and the row came anyway
