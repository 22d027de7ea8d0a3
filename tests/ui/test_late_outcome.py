"""A worker that ends after the user quit (the server was slow to answer a flag change, the IDLE
watcher saw its connection drop) must not raise into a screen whose widgets are gone: seen as a
NoMatches traceback from `show_outcome` at quit (test_faults_ui, one run in a loaded suite)."""

from __future__ import annotations

import asyncio
from typing import Any

from textual.app import App, ComposeResult
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Label
from textual.worker import Worker, WorkerState

from app.actions.operations import Outcome
from app.screens.main import message_ops
from tests.ui.test_app_sandbox import list_filled, make_app, message_list, wait_until
from widgets.workers import work


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


def _late_app() -> tuple[App[None], list[str], asyncio.Event]:
    """A screen whose worker waits for an answer that comes while the screen is being taken
    down (the release is its last widget's unmount): the shape of CI's stop-25 failure, where
    `fetch_summaries` came back from the server after quit and asked for the gone list."""
    release = asyncio.Event()
    resumed: list[str] = []

    class Late(Label):
        def on_unmount(self) -> None:
            release.set()

    class Waiting(Screen[None]):
        def compose(self) -> ComposeResult:
            yield Late("waiting", id="late")

        @work(group="late")
        async def wait_then_touch(self) -> None:
            await release.wait()
            resumed.append("resumed")
            self.query_one("#late", Label).update("answered")

        @work(group="broken", exit_on_error=False)
        async def broken(self) -> None:
            self.query_one("#missing", Label)

    class LateApp(App[None]):
        def on_mount(self) -> None:
            self.push_screen(Waiting())

    return LateApp(), resumed, release


async def test_a_worker_answered_while_its_screen_goes_ends_quietly() -> None:
    app, resumed, _ = _late_app()
    async with app.run_test() as pilot:
        await pilot.pause()
        app.screen.wait_then_touch()  # type: ignore[attr-defined]
        await pilot.pause()
        assert resumed == []
    # run_test re-raises a worker's failure here (WorkerFailed) with Textual's own `work`
    assert resumed == ["resumed"]


async def test_a_worker_failing_while_its_screen_is_up_still_fails() -> None:
    app, _, _ = _late_app()
    async with app.run_test() as pilot:
        await pilot.pause()
        worker: Worker[Any] = app.screen.broken()  # type: ignore[attr-defined]
        await pilot.pause()
        await pilot.pause()
        assert worker.state is WorkerState.ERROR
        assert isinstance(worker.error, NoMatches)
