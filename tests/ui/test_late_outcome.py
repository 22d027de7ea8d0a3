"""A worker that ends after the user quit (the server was slow to answer a flag change, the IDLE
watcher saw its connection drop) must not raise into a screen whose widgets are gone: seen as a
NoMatches traceback from `show_outcome` at quit (test_faults_ui, one run in a loaded suite)."""

from __future__ import annotations

from typing import Any

from app.actions.operations import Outcome
from app.screens.main import message_ops
from tests.ui.test_app_sandbox import list_filled, make_app, message_list, wait_until


async def test_an_outcome_after_quit_draws_nothing_and_raises_nothing(
    sandbox: Any, mail_user: Any
) -> None:
    sandbox.deliver(mail_user.name, b"Subject: late\r\nFrom: a@b.c\r\n\r\nx\r\n")
    app = make_app(mail_user)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        screen: Any = app.screen
        uid = message_list(app).uids[0]
        assert screen.display
    assert not screen.display  # closed with the app: its list and status bar are gone
    message_ops.show_outcome(screen, Outcome(message="Flagged", changed=[uid]))
