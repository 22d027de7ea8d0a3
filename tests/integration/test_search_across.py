"""Search across folders and accounts (issue 15) against real servers: every folder of an
account in parallel on a bounded pool of extra connections (each kind), the account's own
connection when no extra one is to be had, and every folder of every account."""

from __future__ import annotations

from typing import Any

import pytest

from app.account import Account
from app.actions.search_all import (
    MAX_EXTRA_CONNECTIONS,
    scope_of,
    search_accounts,
    search_all_folders,
)
from app.sandbox.kinds import KindUser
from tests.integration.kinds import over_kinds
from tests.integration.test_interop import folder_named, make_folder, message, opened, seed
from tests.integration.test_operations import account_for
from tests.integration.test_search_all import make_nested

pytestmark = pytest.mark.integration


def test_scope_prefixes() -> None:
    assert scope_of("in:all from:olga") == ("all", "from:olga")
    assert scope_of("IN:ALL-ACCOUNTS budget") == ("accounts", "budget")
    assert scope_of("in:all-accountsx budget") == ("folder", "in:all-accountsx budget")
    assert scope_of("budget in:all") == ("folder", "budget in:all")


@over_kinds()
async def test_search_over_every_folder(kind_user: KindUser, kind_account: Account) -> None:
    for path in ("Projects", "Projects/2026", "Projects/2026/Q4", "Receipts"):
        make_folder(kind_user, path)
    seed(kind_user, "INBOX", [message(0, "budget meeting"), message(1, "lunch")])
    seed(kind_user, "Projects/2026/Q4", [message(2, "Budget plan for Q4")])
    seed(kind_user, "Receipts", [message(3, "receipt"), message(4, "budget receipt")])
    await opened(kind_account)
    steps: list[tuple[int, int]] = []
    result = await search_all_folders(
        kind_account, "subject:budget", progress=lambda d, t: steps.append((d, t))
    )
    found = sorted((h.folder, h.summary.envelope.subject or "") for h in result.hits)
    q4 = folder_named(kind_account, "Projects/2026/Q4").name
    receipts = folder_named(kind_account, "Receipts").name
    inbox = folder_named(kind_account, "INBOX").name
    assert found == sorted(
        [(inbox, "budget meeting"), (q4, "Budget plan for Q4"), (receipts, "budget receipt")]
    )
    assert {h.account for h in result.hits} == {kind_account.name}
    assert result.total == 3 and not result.failed
    assert 1 <= result.connections <= MAX_EXTRA_CONNECTIONS  # the pool, bounded
    total = steps[-1][1]
    assert steps[-1] == (total, total) and total >= 4 and result.searched == total
    # The account's own connection still has the open folder selected.
    assert len(await kind_account.search("subject:lunch")) == 1
    # No extra connection: the same answer, folder after folder on the account's own.
    alone = await search_all_folders(kind_account, "subject:budget", connections=0)
    assert alone.connections == 0
    assert sorted((h.folder, h.uid) for h in alone.hits) == sorted(
        (h.folder, h.uid) for h in result.hits
    )
    assert len(await kind_account.search("subject:lunch")) == 1


async def test_search_every_account(sandbox: Any, mail_user: Any) -> None:
    nested = make_nested(mail_user)  # Olga's budget plan in Projects/2026/Q4, Ivan's in INBOX
    second = sandbox.add_user(mail_user.name + "b")
    make_nested(second)
    one = await account_for(mail_user)
    two = await account_for(second)
    try:
        seen: list[tuple[str, int, int]] = []
        result = await search_accounts(
            [one, two], "subject:budget", progress=lambda a, d, t: seen.append((a, d, t))
        )
        found = sorted((h.account, h.folder, h.summary.envelope.subject) for h in result.hits)
        assert found == sorted(
            (user.name, folder, subject)
            for user in (mail_user, second)
            for folder, subject in (("INBOX", "Budget meeting"), (nested, "Budget plan for Q4"))
        )
        assert {a for a, _, _ in seen} == {mail_user.name, second.name}
        assert result.total == 4 and not result.failed
        nothing = await search_accounts([one, two], "subject:zzz-nowhere")
        assert nothing.hits == [] and nothing.total == 0 and nothing.searched >= 4
    finally:
        await one.close()
        await two.close()


async def test_an_account_that_cannot_be_reached_is_named(sandbox: Any, mail_user: Any) -> None:
    from dataclasses import replace

    make_nested(mail_user)
    one = await account_for(mail_user)
    creds = mail_user.credentials()
    unreachable = Account(
        "nowhere", replace(one.imap_settings, port=1), lambda: creds
    )  # nothing listens on port 1
    try:
        result = await search_accounts([unreachable, one], "subject:budget")
        assert len(result.hits) == 2
        assert [name for name, _ in result.failed] == ["nowhere: (all folders)"]
    finally:
        await one.close()
