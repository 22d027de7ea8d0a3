"""Identities in compose, against the sandbox: reply from the address written to, swap signatures.

An account with two identities (the user's own and a support address with a `reply_from`
pattern) receives a message sent to the support address. Replying picks the support identity
and its signature (mutt's reverse_name); choosing the other identity in the From field swaps the
signature; the message sent carries the From chosen.
"""

from __future__ import annotations

import email
import email.policy
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Select, TextArea

from app.account import Account
from app.main import TermailApp
from app.models import Identity, TlsMode
from app.screens.compose import ComposeScreen, _swap_signature
from tests.ui.apps.screen import screen_text
from tests.ui.test_app_sandbox import list_filled, wait_connected, wait_until
from tests.ui.test_compose_sandbox import fetch_inbox
from widgets.dialogs import ConfirmDialog
from widgets.message_list import MessageList

pytestmark = [pytest.mark.integration, pytest.mark.ui]

SUPPORT_SIG = "Support team\nhttps://support.example"


def make_app(user: Any, data_dir: Path) -> TermailApp:
    identities = [
        Identity("Zoë Tester", user.address, "Zoë"),
        Identity("Support", f"support-{user.name}@localhost", SUPPORT_SIG, ["help-*@localhost"]),
    ]
    account = Account(
        user.name,
        user.imap_settings(TlsMode.IMPLICIT),
        user.credentials,
        smtp=user.smtp_settings(TlsMode.STARTTLS),
        addresses=[i.address for i in identities],
        identities=identities,
        data_dir=data_dir,
    )
    return TermailApp([account])


def question(to: str) -> bytes:
    return (
        "From: Customer <customer@example.org>\r\n"
        f"To: {to}\r\n"
        "Subject: My order\r\nDate: Sun, 29 Nov 2026 09:00:00 +0000\r\n"
        "Message-ID: <order-1@example.org>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "Where is my order?\r\n"
    ).encode()


def test_swap_signature() -> None:
    assert _swap_signature("hi\n-- \nA", "A", "B") == "hi\n-- \nB"
    assert _swap_signature("hi\n-- \nA", "A", "") == "hi"
    assert _swap_signature("hi", "", "B") == "hi\n-- \nB"
    assert _swap_signature("hi\n-- \nmine", "A", "B") == "hi\n-- \nmine"  # edited: left alone


@pytest.mark.parametrize("to", ["support-{name}@localhost", "help-desk@localhost"])
async def test_reply_comes_from_the_identity_written_to(
    sandbox: Any, mail_user: Any, tmp_path: Path, to: str
) -> None:
    sandbox.deliver(mail_user.name, question(to.format(name=mail_user.name)))
    app = make_app(mail_user, tmp_path / "data")
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_connected(pilot, app)
        await wait_until(pilot, lambda: list_filled(app))
        app.screen.query_one(MessageList).focus()
        await pilot.press("r")
        screen: ComposeScreen = await wait_until(
            pilot,
            lambda: isinstance(app.screen, ComposeScreen) and app.screen.is_mounted and app.screen,
        )
        assert screen.draft.from_.address == f"support-{mail_user.name}@localhost"
        select = screen.query_one("#from", Select)
        assert select.value == 1
        select.value = 0
        await pilot.pause(0.1)
        shown = screen_text(app)
        assert f"Zoë Tester <{mail_user.address}>" in shown and "=?utf-8?" not in shown
        select.value = 1
        await pilot.pause(0.1)
        body = screen.query_one("#body", TextArea)
        assert body.text.endswith("\n-- \n" + SUPPORT_SIG)
        assert "> Where is my order?" in body.text


async def test_choosing_another_identity_swaps_signature_and_sends_as_it(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    friend = sandbox.add_user(mail_user.name + "f")
    sandbox.deliver(mail_user.name, question(f"support-{mail_user.name}@localhost"))
    app = make_app(mail_user, tmp_path / "data")
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_connected(pilot, app)
        await wait_until(pilot, lambda: list_filled(app))
        app.screen.query_one(MessageList).focus()
        await pilot.press("r")
        screen: ComposeScreen = await wait_until(
            pilot,
            lambda: isinstance(app.screen, ComposeScreen) and app.screen.is_mounted and app.screen,
        )
        screen.query_one("#from", Select).value = 0
        await pilot.pause(0.2)
        body = screen.query_one("#body", TextArea)
        assert body.text.endswith("\n-- \nZoë") and SUPPORT_SIG not in body.text
        assert screen.draft.from_.address == mail_user.address
        screen.query_one("#to").value = friend.address
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: not isinstance(app.screen, ComposeScreen | ConfirmDialog))
    received = await_one(friend)
    msg = email.message_from_bytes(received, policy=email.policy.default)
    assert msg["From"].addresses[0].addr_spec == mail_user.address
    assert msg["From"].addresses[0].display_name == "Zoë Tester"


def await_one(user: Any) -> bytes:
    import time

    for _ in range(100):
        found = fetch_inbox(user, "order")
        if found:
            return found[0]
        time.sleep(0.1)
    raise AssertionError("the reply did not arrive")
