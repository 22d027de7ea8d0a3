"""Undo send (issue 17) against the sandbox SMTP server: with send_delay the message waits in
the outbox, `u` takes it back into compose whole and nothing arrives; without `u` it arrives
once; a run that dies during the delay leaves it on disk and the next run sends it once."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from app.account import Account
from app.main import TermailApp
from app.mime.compose import Draft, Identity
from app.screens.compose import ComposeScreen
from app.smtp.sending import account_outbox
from app.smtp.undo_send import hold
from tests.ui.test_app_sandbox import list_filled, wait_connected, wait_until
from tests.ui.test_compose_sandbox import compose_account, fetch_inbox
from widgets.dialogs import ChoiceDialog, ConfirmDialog
from widgets.status_bar import StatusBar

pytestmark = [pytest.mark.integration, pytest.mark.ui]


def _account(user: Any, data_dir: Path, delay: float) -> Account:
    account = compose_account(user, data_dir)
    account.send_delay = delay
    return account


async def _settle(pilot: Any, seconds: float) -> None:
    """Let the app run for a while (the delay passing), without asserting on speed."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        await pilot.pause(0.1)


def _status(app: TermailApp) -> str:
    return " ".join(str(bar.message) for bar in app.screen.query(StatusBar))


async def test_undo_within_the_delay_then_send_once(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    friend = sandbox.add_user(mail_user.name + "u")
    sandbox.deliver(mail_user.name, b"Subject: hello\r\nFrom: x@y.z\r\n\r\nhi\r\n")
    attachment = tmp_path / "plan.bin"
    payload = os.urandom(3000)
    attachment.write_bytes(payload)
    account = _account(mail_user, tmp_path / "data", 2.0)
    app = TermailApp([account])
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        await pilot.press("m")
        compose = await wait_until(
            pilot,
            lambda: isinstance(app.screen, ComposeScreen) and app.screen.is_mounted and app.screen,
        )
        compose.query_one("#to").value = friend.address
        compose.query_one("#cc").value = "Carol <carol@example.org>"
        compose.query_one("#subject").value = "Undoable plan"
        compose.query_one("#body").text = "The plan, attached.\n"
        assert compose.attach_path(attachment) is None
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: not isinstance(app.screen, ComposeScreen))
        await wait_until(pilot, lambda: "u to undo" in _status(app))
        assert "Sending in" in _status(app)
        assert len(account_outbox(account).list()) == 1  # on disk before the countdown
        await pilot.press("u")
        back = await wait_until(
            pilot,
            lambda: isinstance(app.screen, ComposeScreen) and app.screen.is_mounted and app.screen,
        )
        assert back.query_one("#to").value == friend.address
        assert back.query_one("#cc").value == "Carol <carol@example.org>"
        assert back.query_one("#subject").value == "Undoable plan"
        assert "The plan, attached." in back.query_one("#body").text
        assert back.draft.attachments == [attachment]
        assert "plan.bin" in str(
            back.query_one("#attachments").children[0].query_one("Label").render()
        )
        assert back.draft.from_.address == mail_user.address
        assert account_outbox(account).list() == []
        # Taken back is not "unchanged": Esc asks what to keep instead of dropping it.
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceDialog))
        await pilot.press("escape")  # not now: keep writing
        await wait_until(pilot, lambda: app.screen is back)
        await _settle(pilot, 3.0)  # longer than the delay: still nothing goes out
        assert fetch_inbox(friend, "Undoable") == []
        # Send again and let the delay pass: it arrives, once.
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: not isinstance(app.screen, ComposeScreen))
        await wait_until(pilot, lambda: not account_outbox(account).list(), timeout=30)
        arrived = await wait_until(pilot, lambda: fetch_inbox(friend, "Undoable"), timeout=20)
        await _settle(pilot, 1.0)
        assert len(fetch_inbox(friend, "Undoable")) == 1
        assert b"plan.bin" in arrived[0]
        # `u` now is the ordinary undo again (nothing counts down): no compose opens.
        await pilot.press("u")
        await _settle(pilot, 0.5)
        assert not isinstance(app.screen, ComposeScreen)


async def test_quit_during_the_delay_asks(sandbox: Any, mail_user: Any, tmp_path: Path) -> None:
    friend = sandbox.add_user(mail_user.name + "q")
    account = _account(mail_user, tmp_path / "data", 30.0)
    app = TermailApp([account])
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_connected(pilot, app)
        await pilot.press("m")
        compose = await wait_until(
            pilot,
            lambda: isinstance(app.screen, ComposeScreen) and app.screen.is_mounted and app.screen,
        )
        compose.query_one("#to").value = friend.address
        compose.query_one("#subject").value = "Quit question"
        compose.query_one("#body").text = "Sent at quit.\n"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: "u to undo" in _status(app))
        await pilot.press("q")
        dialog = await wait_until(
            pilot, lambda: isinstance(app.screen, ChoiceDialog) and app.screen
        )
        assert "1 message waits to be sent" in dialog.question
        await pilot.press("c")  # cancel: stays, still counting down
        await wait_until(pilot, lambda: not isinstance(app.screen, ChoiceDialog))
        assert fetch_inbox(friend, "Quit") == []
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceDialog))
        await pilot.press("s")  # send now, then quit
        await wait_until(
            pilot, lambda: app.return_code is not None or not app.is_running, timeout=30
        )
    assert len(fetch_inbox(friend, "Quit")) == 1
    assert account_outbox(account).list() == []


async def test_a_run_killed_during_the_delay_sends_once_at_restart(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    friend = sandbox.add_user(mail_user.name + "k")
    data = tmp_path / "data"
    account = _account(mail_user, data, 10.0)
    draft = Draft(
        from_=Identity("Zoë Tester", mail_user.address),
        to=[friend.address],
        subject="Killed during the delay",
        body="Still sent, once.\n",
    )
    # What a run leaves when SIGKILLed 1 s into a 10 s delay: the entry, due in the future.
    hold(account, draft, 10.0)
    assert len(account_outbox(account).list()) == 1
    app = TermailApp([_account(mail_user, data, 10.0)])
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_connected(pilot, app)
        await wait_until(pilot, lambda: not account_outbox(account).list(), timeout=30)
        await wait_until(pilot, lambda: fetch_inbox(friend, "Killed"), timeout=20)
        await _settle(pilot, 1.0)
    assert len(fetch_inbox(friend, "Killed")) == 1
    # A second start finds nothing left to send.
    app = TermailApp([_account(mail_user, data, 10.0)])
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_connected(pilot, app)
        await _settle(pilot, 1.0)
    assert len(fetch_inbox(friend, "Killed")) == 1


async def test_a_permanent_refusal_after_the_delay_comes_back_into_compose(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    refused = f"refused-{mail_user.name}@example.com"
    sandbox.force_smtp_reply(554, recipient=refused, text="5.7.1 not here")
    account = _account(mail_user, tmp_path / "data", 1.0)
    app = TermailApp([account])
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_connected(pilot, app)
        await pilot.press("m")
        compose = await wait_until(
            pilot,
            lambda: isinstance(app.screen, ComposeScreen) and app.screen.is_mounted and app.screen,
        )
        compose.query_one("#to").value = refused
        compose.query_one("#subject").value = "Refused later"
        compose.query_one("#body").text = "Kept for editing.\n"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: not isinstance(app.screen, ComposeScreen))
        back = await wait_until(
            pilot,
            lambda: isinstance(app.screen, ComposeScreen) and app.screen.is_mounted and app.screen,
            timeout=30,
        )
        assert back.query_one("#to").value == refused
        assert "Kept for editing." in back.query_one("#body").text
        await wait_until(pilot, lambda: "554" in str(back.query_one("#compose-error").render()))
        assert account_outbox(account).list() == []  # not also left failed in the outbox
        await pilot.press("escape")  # counted as written: closing asks what to keep
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceDialog))
