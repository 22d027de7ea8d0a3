"""Address completion learns from the cached INBOX and Sent, against the sandbox Dovecot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

from app.account import Account
from app.main import TermailApp
from app.models import Folder, FolderRole, TlsMode
from app.screens.compose import ComposeScreen
from tests.ui.test_app_sandbox import wait_connected, wait_until

pytestmark = pytest.mark.integration


def message(frm: str, to: str, subject: str) -> bytes:
    return (
        f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        "Date: Sun, 29 Nov 2026 10:00:00 +0000\r\n\r\nhello\r\n"
    ).encode()


def make_account(user: Any, data_dir: Path) -> Account:
    return Account(
        user.name,
        user.imap_settings(TlsMode.IMPLICIT),
        user.credentials,
        smtp=user.smtp_settings(TlsMode.STARTTLS),
        addresses=[user.address],
        data_dir=data_dir,
    )


def seed(sandbox: Any, user: Any) -> None:
    sandbox.deliver(user.name, message("Ana García <ana@example.org>", user.address, "hi"))
    for i in range(2):
        sandbox.deliver(
            user.name,
            message(user.address, "Zed Zimmer <zed@example.net>", f"to zed {i}"),
            mailbox="Sent",
        )


async def test_address_book_from_the_cache_ranks_sent_recipients_first(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    seed(sandbox, mail_user)
    account = make_account(mail_user, tmp_path / "data")
    await account.connect()
    try:
        await account.load_folders()
        sent = account.folder_by_role(FolderRole.SENT)
        assert sent is not None
        await account.open_folder(sent)
        await account.open_folder(Folder("INBOX", "INBOX", "/", frozenset(), FolderRole.INBOX))
    finally:
        await account.close()
    # A later session, offline: the book comes from the cache file alone.
    later = make_account(mail_user, tmp_path / "data")
    book = await later.address_book()
    assert book[:2] == ["Zed Zimmer <zed@example.net>", "Ana García <ana@example.org>"]
    assert mail_user.address not in " ".join(book)


@pytest.mark.ui
async def test_compose_completes_from_the_address_book(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    seed(sandbox, mail_user)
    first = make_account(mail_user, tmp_path / "data")
    await first.connect()
    try:
        await first.load_folders()
        sent = first.folder_by_role(FolderRole.SENT)
        assert sent is not None
        await first.open_folder(sent)
    finally:
        await first.close()
    app = TermailApp([make_account(mail_user, tmp_path / "data")])
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_connected(pilot, app)
        await pilot.press("m")
        screen: ComposeScreen = await wait_until(
            pilot,
            lambda: isinstance(app.screen, ComposeScreen) and app.screen.is_mounted and app.screen,
        )
        await wait_until(pilot, lambda: "Zed Zimmer <zed@example.net>" in screen.known_addresses)
        to = screen.query_one("#to", Input)
        to.focus()
        await pilot.press("z", "e")
        expected = "Zed Zimmer <zed@example.net>"  # inserted as it is known, not as typed
        await wait_until(pilot, lambda: expected in getattr(to, "candidates", []))
        await pilot.press("tab")  # insert the highlighted candidate
        assert to.value.rstrip(", ") == expected
