"""Item 6 of issue 14: folder names under the server's personal namespace (NAMESPACE).

Courier and Debian's Cyrus keep folders under `INBOX.` with `.` between levels. The user types
`Zeta` or `Lists/python-dev` and sees those names in the tree; termail sends `INBOX.Zeta`.
On today's code the CREATE was refused there ("Invalid mailbox name", "Permission denied").
"""

from __future__ import annotations

import pytest

from app.account import Account
from app.models import FolderRole
from app.sandbox.kinds import KindUser
from tests.integration.kinds import over_kinds
from tests.integration.test_interop import (
    make_folder,
    message,
    seed,
    server_folders,
    server_uids,
)

pytestmark = pytest.mark.integration


@over_kinds()
async def test_create_under_the_personal_namespace(
    kind_user: KindUser, kind_account: Account
) -> None:
    await kind_account.create_folder("Lists/python-dev")
    await kind_account.create_folder("Zeta")
    on_server = server_folders(kind_user)
    assert kind_user.mailbox("Lists/python-dev") in on_server, on_server
    assert kind_user.mailbox("Zeta") in on_server, on_server
    await kind_account.load_folders()
    shown = [f.name for f in kind_account.folders]
    assert "Lists/python-dev" in shown and "Zeta" in shown and "INBOX" in shown, shown
    prefix = kind_user.server.prefix
    if prefix:
        assert not [name for name in shown if name.startswith(prefix)], shown


@over_kinds()
async def test_folders_made_elsewhere_are_shown_without_the_prefix(
    kind_user: KindUser, kind_account: Account
) -> None:
    """Folders another client made (with the server's names) open and take mail by the
    names shown."""
    make_folder(kind_user, "Lists/python-dev")
    seed(kind_user, "Lists/python-dev", [message(0, "PEP 8 again")])
    await kind_account.load_folders()
    folder = next(f for f in kind_account.folders if f.name == "Lists/python-dev")
    assert folder.parts == ["Lists", "python-dev"]
    opened = await kind_account.open_folder(folder)
    assert len(opened.uids) == 1
    uid = await kind_account.append("Lists/python-dev", message(1, "second"))
    assert uid is None or uid > opened.uids[0]
    assert len(server_uids(kind_user, "Lists/python-dev")) == 2
    assert kind_account.statuses["Lists/python-dev"].messages == 1  # the count LIST saw
    status = await kind_account.refresh_status("Lists/python-dev")
    assert status.messages >= 1  # Courier answers STATUS of the open folder from its snapshot


@over_kinds(only=["cyrus", "courier"])
async def test_special_folders_shown_plainly(kind_user: KindUser, kind_account: Account) -> None:
    shown = {f.name for f in kind_account.folders}
    assert {"INBOX", "Trash", "Sent", "Drafts"} <= shown, shown
    assert kind_account.client.personal_namespace == "INBOX."
    if kind_user.server.kind == "cyrus":  # SPECIAL-USE there: roles still found
        trash = kind_account.folder_by_role(FolderRole.TRASH)
        assert trash is not None and trash.name == "Trash"


@over_kinds(only=["cyrus", "courier"])
async def test_separator_in_a_typed_name(kind_user: KindUser, kind_account: Account) -> None:
    """A "." in a new name where "." separates levels is refused unsent: the server would make
    a subfolder Q3/report while termail said "Created Q3.report"."""
    from app.imap.namespace import FolderNameError

    with pytest.raises(FolderNameError, match="Q3/report"):
        await kind_account.create_folder("Q3.report")
    assert kind_user.mailbox("Q3/report") not in server_folders(kind_user)
    assert kind_user.mailbox("Q3") not in server_folders(kind_user)


@over_kinds(only=["dovecot", "cyrus", "courier"])
async def test_new_mail_watched_in_a_subfolder(kind_user: KindUser, kind_account: Account) -> None:
    """The watcher has a connection of its own that never lists folders: it must still find
    `Lists/python-dev` (INBOX.Lists.python-dev on the server)."""
    import asyncio

    from app.imap.idle import IdleWatcher
    from app.imap.mailbox import MailboxEvent

    make_folder(kind_user, "Lists/python-dev")
    seen: asyncio.Queue[MailboxEvent] = asyncio.Queue()
    watcher = IdleWatcher(
        kind_user.imap_settings(),
        kind_user.credentials(),
        "Lists/python-dev",
        seen.put_nowait,
        poll_interval=0.2,
        backoff=(0.2,),
    )
    watcher.start()
    try:
        await asyncio.wait_for(watcher.connected.wait(), 30)
        await asyncio.to_thread(seed, kind_user, "Lists/python-dev", [message(0, "new")])
        while (await asyncio.wait_for(seen.get(), 30)).kind != "new":
            pass
    finally:
        await watcher.stop()
    assert watcher.error is None
