"""Keys typed while termail starts act on what the user sees (issue 21: any key typed during
start-up acts on the list the user sees)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ui.test_app_sandbox import make_app, message_list, wait_until
from widgets.message_view import MessageView
from widgets.query_bar import QueryInput

pytestmark = [pytest.mark.integration, pytest.mark.ui]


async def test_a_query_begun_during_start_up_keeps_the_focus(sandbox: Any, mail_user: Any) -> None:
    """`/` pressed before INBOX has opened: opening INBOX took the focus back to the list, so the
    letters typed next ran list keys (`s` opened the move picker) instead of the search."""
    sandbox.deliver(
        mail_user.name,
        b"From: a@example.org\r\nTo: b@example.org\r\nSubject: startup probe\r\n\r\nbody\r\n",
    )
    app = make_app(mail_user)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.screen.query(MessageView))
        await pilot.press("slash")
        assert isinstance(app.focused, QueryInput)
        ml = message_list(app)
        # INBOX opens now (its list arrives), with the query bar open.
        await wait_until(pilot, lambda: ml.row_count > 0)
        await pilot.pause(0.3)
        assert isinstance(app.focused, QueryInput), app.focused
        for ch in "subject:probe":
            await pilot.press(ch)
        await pilot.press("enter")
        await wait_until(pilot, lambda: "match" in str(app.screen.query_one("#status").message))
        assert type(app.screen).__name__ == "MainScreen"
