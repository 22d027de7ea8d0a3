"""The compose screen against the sandbox: send with an attachment, $EDITOR, drafts kept."""

from __future__ import annotations

import email
import email.policy
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from app.account import Account
from app.main import TermailApp
from app.models import Identity, TlsMode
from app.screens.compose import ComposeScreen
from tests.ui.test_app_sandbox import imap, list_filled, wait_connected, wait_until
from widgets.dialogs import ChoiceDialog, ConfirmDialog
from widgets.path_input import PathPrompt

pytestmark = [pytest.mark.integration, pytest.mark.ui]


def compose_account(
    user: Any, data_dir: Path, *, name: str = "Zoë Tester", identities: Sequence[Identity] = ()
) -> Account:
    """The sandbox user as the compose tests' account: IMAPS, submission with STARTTLS."""
    return Account(
        user.name,
        user.imap_settings(TlsMode.IMPLICIT),
        user.credentials,
        smtp=user.smtp_settings(TlsMode.STARTTLS),
        addresses=[user.address],
        display_name=name,
        identities=identities,
        data_dir=data_dir,
    )


def make_app(user: Any, data_dir: Path) -> TermailApp:
    return TermailApp([compose_account(user, data_dir)])


async def open_compose(pilot: Any, app: TermailApp) -> ComposeScreen:
    """Press `m` on the main screen and wait for the compose screen."""
    await pilot.press("m")
    screen: ComposeScreen = await wait_until(
        pilot,
        lambda: isinstance(app.screen, ComposeScreen) and app.screen.is_mounted and app.screen,
    )
    return screen


async def type_text(pilot: Any, text: str) -> None:
    for ch in text:
        await pilot.press({" ": "space", "@": "at", ".": "full_stop"}.get(ch, ch))


def fetch_inbox(user: Any, subject_word: str) -> list[bytes]:
    conn = imap(user)
    conn.select("INBOX")
    _, data = conn.uid("SEARCH", None, "SUBJECT", subject_word)
    found = []
    for uid in data[0].split():
        _, fetched = conn.uid("FETCH", uid, "(BODY.PEEK[])")
        found.append(fetched[0][1])
    conn.logout()
    return found


async def test_compose_and_send_with_attachment(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    friend = sandbox.add_user(mail_user.name + "f")
    sandbox.deliver(mail_user.name, b"Subject: hello\r\nFrom: x@y.z\r\n\r\nhi\r\n")
    attachment = tmp_path / "Überblick.bin"
    payload = os.urandom(50_000)
    attachment.write_bytes(payload)
    app = make_app(mail_user, tmp_path / "data")
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        screen = await open_compose(pilot, app)
        screen.query_one("#to").value = friend.address
        screen.query_one("#subject").value = "Grüße aus dem Test"
        screen.query_one("#body").text = "Hello,\n\nthe file is attached.\n"
        await pilot.press("ctrl+t")
        prompt = await wait_until(pilot, lambda: isinstance(app.screen, PathPrompt) and app.screen)
        prompt.query_one("Input").value = str(attachment)
        await pilot.press("enter")
        await wait_until(pilot, lambda: len(screen.draft.attachments) == 1)
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: not isinstance(app.screen, ComposeScreen), timeout=30)
    arrived: list[bytes] = []
    for _ in range(50):
        arrived = fetch_inbox(friend, "Test")
        if arrived:
            break
        import time

        time.sleep(0.1)
    assert len(arrived) == 1
    msg = email.message_from_bytes(arrived[0], policy=email.policy.default)
    assert str(msg["Subject"]) == "Grüße aus dem Test"
    parts = list(msg.iter_attachments())
    assert parts[0].get_filename() == "Überblick.bin"
    assert parts[0].get_payload(decode=True) == payload
    conn = imap(mail_user)
    _, data = conn.status("Sent", "(MESSAGES)")
    conn.logout()
    assert b"MESSAGES 1" in data[0]


async def test_editor_round_trip(
    sandbox: Any, mail_user: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf "Written in the editor.\\n" >> "$1"\n')
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("VISUAL", str(editor))
    app = make_app(mail_user, tmp_path / "data")
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_connected(pilot, app)
        screen = await open_compose(pilot, app)
        screen.query_one("#body").text = "Typed in termail.\n"
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: "Written in the editor." in screen.query_one("#body").text)
        assert screen.query_one("#body").text.startswith("Typed in termail.")


async def test_unsent_draft_is_offered_again(sandbox: Any, mail_user: Any, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    app = make_app(mail_user, data_dir)
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_connected(pilot, app)
        screen = await open_compose(pilot, app)
        screen.query_one("#to").focus()
        await type_text(pilot, "someone@example.org")
        screen.query_one("#subject").value = "Unfinished thoughts"
        screen.query_one("#body").text = "Half a sentence that must not be lost"
        screen._dirty = True
        await pilot.pause(3.5)  # the autosave interval
    # The app is gone without sending or closing the draft, as after a crash.
    assert list((data_dir / "drafts").glob("*.json"))
    app2 = make_app(mail_user, data_dir)
    async with app2.run_test(size=(120, 35)) as pilot:
        await wait_until(pilot, lambda: isinstance(app2.screen, ChoiceDialog))
        await pilot.press("o")  # open it
        screen = await wait_until(
            pilot, lambda: isinstance(app2.screen, ComposeScreen) and app2.screen
        )
        assert screen.query_one("#subject").value == "Unfinished thoughts"
        assert "must not be lost" in screen.query_one("#body").text
        assert screen.query_one("#to").value == "someone@example.org"


async def test_postpone_then_finish_from_drafts(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    friend = sandbox.add_user(mail_user.name + "d")
    app = make_app(mail_user, tmp_path / "data")
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_connected(pilot, app)
        main = app.screen
        screen = await open_compose(pilot, app)
        screen.query_one("#to").value = friend.address
        screen.query_one("#subject").value = "Postponed plan"
        screen.query_one("#body").text = "To be finished later.\n"
        await pilot.press("ctrl+d")
        await wait_until(pilot, lambda: app.screen is main, timeout=20)
        conn = imap(mail_user)
        _, data = conn.status("Drafts", "(MESSAGES)")
        assert b"MESSAGES 1" in data[0]
        drafts = main.account.folder("Drafts")
        main.open_folder(drafts)
        ml = main.message_list
        await wait_until(
            pilot, lambda: main.account.current.folder.name == "Drafts" and ml.row_count == 1
        )
        ml.focus()
        await pilot.press("g", "enter")
        screen = await wait_until(
            pilot,
            lambda: isinstance(app.screen, ComposeScreen) and app.screen.is_mounted and app.screen,
        )
        assert screen.query_one("#subject").value == "Postponed plan"
        assert screen.query_one("#to").value == friend.address
        # Closed unchanged, it is still in Drafts, and says so (it said "nothing kept")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is main)
        said = [str(n.message) for n in app._notifications]
        assert "Draft not changed: it stays in Drafts" in said, said
        assert "Message not changed: nothing kept" not in said
        await pilot.press("enter")
        screen = await wait_until(
            pilot,
            lambda: isinstance(app.screen, ComposeScreen) and app.screen.is_mounted and app.screen,
        )
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(
            pilot, lambda: not isinstance(app.screen, (ComposeScreen, ConfirmDialog)), timeout=30
        )
        await pilot.pause(0.5)
        conn.select("Drafts")
        _, data = conn.uid("SEARCH", None, "NOT", "DELETED")
        conn.logout()
        assert data[0].split() == []  # the server copy is gone once sent
    for _ in range(50):
        if fetch_inbox(friend, "Postponed"):
            break
        import time

        time.sleep(0.1)
    assert fetch_inbox(friend, "Postponed")


async def test_temporary_failure_goes_to_the_visible_outbox(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    from app.screens.outbox import OutboxScreen

    target = f"later-{mail_user.name}@example.com"
    sandbox.force_smtp_reply(451, recipient=target)
    app = make_app(mail_user, tmp_path / "data")
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            await wait_connected(pilot, app)
            main = app.screen
            screen = await open_compose(pilot, app)
            screen.query_one("#to").value = target
            screen.query_one("#subject").value = "Try again later"
            screen.query_one("#body").text = "Queued.\n"
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            await pilot.press("y")
            await wait_until(pilot, lambda: app.screen is main, timeout=30)
            await pilot.press("O")
            outbox = await wait_until(
                pilot, lambda: isinstance(app.screen, OutboxScreen) and app.screen
            )
            entries = outbox.outbox.list()
            assert len(entries) == 1 and entries[0].last_code == 451
            from textual.widgets import OptionList

            text = str(outbox.query_one(OptionList).get_option_at_index(0).prompt)
            assert target in text and "451" in text
            # Cancel it: gone from disk, never sent.
            outbox.query_one(OptionList).highlighted = 0
            await pilot.press("d")
            await wait_until(pilot, lambda: outbox.outbox.list() == [])
    finally:
        sandbox.clear_smtp_rules()


def drafts_on_disk(data_dir: Path) -> list[Path]:
    return list((data_dir / "drafts").glob("*.json"))


async def test_closing_an_unchanged_message_keeps_nothing(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    app = make_app(mail_user, data_dir)
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_connected(pilot, app)
        await open_compose(pilot, app)
        await pilot.pause(3.5)  # an autosave tick passes: nothing was written, nothing saved
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ComposeScreen | ChoiceDialog))
    assert drafts_on_disk(data_dir) == []
    app2 = make_app(mail_user, data_dir)
    async with app2.run_test(size=(120, 35)) as pilot:
        await wait_connected(pilot, app2)
        await pilot.pause(0.5)
        assert not isinstance(app2.screen, ChoiceDialog)  # nothing offered after a restart


@pytest.mark.parametrize(("key", "kept"), [("d", False), ("l", True)])
async def test_closing_a_changed_message_asks_discard_or_leave(
    sandbox: Any, mail_user: Any, tmp_path: Path, key: str, kept: bool
) -> None:
    data_dir = tmp_path / "data"
    app = make_app(mail_user, data_dir)
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_connected(pilot, app)
        screen = await open_compose(pilot, app)
        screen.query_one("#subject").value = "Second thoughts"
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceDialog))
        assert drafts_on_disk(data_dir)  # saved before the question
        await pilot.press("escape")  # not now: back to writing, nothing lost
        await wait_until(pilot, lambda: app.screen is screen)
        assert screen.query_one("#subject").value == "Second thoughts"
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ChoiceDialog))
        await pilot.press(key)
        await wait_until(pilot, lambda: not isinstance(app.screen, ComposeScreen | ChoiceDialog))
    assert bool(drafts_on_disk(data_dir)) is kept


async def test_a_draft_offered_at_start_can_be_discarded(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    app = make_app(mail_user, data_dir)
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_connected(pilot, app)
        screen = await open_compose(pilot, app)
        screen.query_one("#subject").value = "Never mind"
        screen._dirty = True
        await pilot.pause(3.5)
    assert drafts_on_disk(data_dir)
    app2 = make_app(mail_user, data_dir)
    async with app2.run_test(size=(120, 35)) as pilot:
        await wait_until(pilot, lambda: isinstance(app2.screen, ChoiceDialog))
        await pilot.press("d")
        await wait_until(pilot, lambda: not isinstance(app2.screen, ChoiceDialog))
    assert drafts_on_disk(data_dir) == []
