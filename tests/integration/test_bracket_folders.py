"""Folder names holding "]" (issue 14 item 8) on the sandbox Dovecot, and folder-list errors
that must never end the app (a hostile server of our own refuses LIST).

`Projects]2024` is a legal astring (RFC 3501 / 9051: ASTRING-CHAR = ATOM-CHAR / "]"); the old
tokenizer refused the `* LIST ... Projects]2024` line and the start of the app died with it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.account import Account
from app.imap.client import ImapClient
from app.main import TermailApp
from app.models import Credentials, ServerSettings, TlsMode
from app.screens.main import MainScreen
from tests.faults.hostile import PASSWORD, USER, Attack, HostileImap
from tests.faults.servers import KeyProbe
from widgets.folder_tree import FolderTree
from widgets.message_list import MessageList

NAMES = ("Projects]2024", "a]b", "[Old]")

MESSAGE = (
    b"From: Ann <ann@example.org>\r\nTo: u@example.org\r\nSubject: in a bracket folder\r\n"
    b"Date: Mon, 02 Mar 2026 10:00:00 +0000\r\nMessage-ID: <br1@example.org>\r\n\r\nHi.\r\n"
)


async def _make_folders(user: Any) -> None:
    client = await ImapClient.connect(user.imap_settings(TlsMode.IMPLICIT), user.credentials())
    try:
        for name in NAMES:
            await client.create_folder(name)
            await client.subscribe(name)
        await client.append("Projects]2024", MESSAGE)
    finally:
        await client.close()


@pytest.mark.integration
async def test_bracket_names_listed_with_counts_and_opened(mail_user: Any) -> None:
    await _make_folders(mail_user)
    client = await ImapClient.connect(
        mail_user.imap_settings(TlsMode.IMPLICIT), mail_user.credentials()
    )
    try:
        pairs = await client.list_with_status()
        by_name = {f.name: (f, s) for f, s in pairs}
        for name in NAMES:
            assert name in by_name, sorted(by_name)
            folder, status = by_name[name]
            assert folder.subscribed and status is not None
        assert by_name["Projects]2024"][1].messages == 1  # type: ignore[union-attr]
        subscribed = {f.name for f in await client.list_folders(subscribed_only=True)}
        assert set(NAMES) <= subscribed
        assert (await client.status("a]b")).messages == 0
        info = await client.select(by_name["Projects]2024"][0])
        assert info.exists == 1
        assert len(await client.uid_list()) == 1
        assert client.skipped_responses == 0
    finally:
        await client.close()


@pytest.mark.integration
@pytest.mark.ui
async def test_the_app_starts_with_a_bracket_folder_and_opens_it(
    mail_user: Any, tmp_path: Path
) -> None:
    await _make_folders(mail_user)
    account = Account(
        mail_user.name,
        mail_user.imap_settings(TlsMode.IMPLICIT, timeout=4.0),
        mail_user.credentials,
        addresses=[mail_user.address],
        data_dir=tmp_path,
    )
    app = TermailApp([account])
    async with app.run_test(size=(120, 35)) as pilot:
        probe = KeyProbe(pilot)

        def tree() -> FolderTree | None:
            if not isinstance(app.screen, MainScreen):
                return None
            t = app.screen.query_one(FolderTree)
            return t if t.folder("Projects]2024") is not None else None

        folder_tree = await probe.until(tree, timeout=30, what="the tree with Projects]2024")
        assert all(folder_tree.folder(n) is not None for n in NAMES)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        folder = folder_tree.folder("Projects]2024")
        assert folder is not None
        screen.open_folder(folder)
        ml = screen.query_one(MessageList)
        await probe.until(lambda: ml.row_count == 1, timeout=20, what="its one message listed")
        assert isinstance(app.screen, MainScreen)


def _hostile_settings(port: int) -> ServerSettings:
    return ServerSettings(
        host="127.0.0.1",
        port=port,
        user=USER,
        tls=TlsMode.NONE,
        allow_insecure=True,
        timeout=4.0,
        compress=False,
    )


@pytest.mark.ui
@pytest.mark.parametrize("kind", ["list-refused", "list-garbage"])
async def test_a_folder_list_error_is_a_message_not_the_end(kind: str, tmp_path: Path) -> None:
    server = HostileImap(Attack(kind, "NONE"))
    port = await server.start()
    seen: list[tuple[str, str]] = []
    account = Account(
        "hostile",
        _hostile_settings(port),
        lambda: Credentials(USER, PASSWORD),
        addresses=["hostile@example.com"],
        data_dir=tmp_path,
    )
    app = TermailApp([account])
    original = app.notify

    def notify(message: Any, *args: Any, **kw: Any) -> None:
        seen.append((str(kw.get("title", "")), str(message)))
        original(message, *args, **kw)

    app.notify = notify  # type: ignore[method-assign]
    try:
        async with app.run_test(size=(120, 35)) as pilot:
            probe = KeyProbe(pilot)

            def inbox_listed() -> bool:
                screen = app.screen
                return isinstance(screen, MainScreen) and (
                    screen.query_one(MessageList).row_count == 2
                )

            await probe.until(inbox_listed, timeout=20, what="INBOX listed")
            if kind == "list-refused":
                await probe.until(
                    lambda: any(t == "Cannot list the folders" for t, _ in seen),
                    timeout=10,
                    what="the folder-list error",
                )
                text = next(m for t, m in seen if t == "Cannot list the folders")
                assert "folder listing is broken here" in text
            else:
                tree = app.screen.query_one(FolderTree)
                await probe.until(lambda: tree.folder("Archive") is not None, what="the tree")
                assert account.client.skipped_responses >= 1
            await probe.during(0.5)
            assert isinstance(app.screen, MainScreen)  # still running, on its main screen
    finally:
        await server.stop()
