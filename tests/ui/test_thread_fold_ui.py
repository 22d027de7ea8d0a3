"""Thread folding (issue 15, Threads): `za` folds the thread under the cursor onto one line that
says its size and unread count, `-` folds every thread, `+` unfolds them; folds survive new mail.

Driven with the pilot against the sandbox: a 30-message thread (Message-ID, In-Reply-To,
References chained), three of them unread, and two single messages.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.account import Account
from app.main import TermailApp
from app.models import TlsMode
from tests.integration.test_sort_threads import mail
from tests.ui.test_app_sandbox import list_filled, message_list, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.ui]

UNREAD = {5, 17, 29}  # positions in the thread left unread


def seed(sandbox: Any, user: str) -> None:
    refs: list[str] = []
    for i in range(30):
        mid = f"<t{i}@fold.example>"
        data = mail("Long thread", f"p{i % 4}@example.org", 1 + i % 28, mid, " ".join(refs[-10:]))
        sandbox.deliver(user, data, "INBOX", "" if i in UNREAD else "S")
        refs.append(mid)
    sandbox.deliver(user, mail("Alone one", "a@example.org", 29, "<a1@fold.example>"), "INBOX", "S")
    sandbox.deliver(user, mail("Alone two", "b@example.org", 30, "<a2@fold.example>"), "INBOX", "S")


def make_app(user: Any) -> TermailApp:
    creds = user.credentials()
    account = Account(
        user.name, user.imap_settings(TlsMode.IMPLICIT), lambda: creds, addresses=[user.address]
    )
    return TermailApp([account])


def row_text(ml: Any, row: int) -> str:
    return "".join(seg.text for seg in ml._render_row(row, 120))


async def threads_on(pilot: Any, app: TermailApp) -> Any:
    await wait_until(pilot, lambda: list_filled(app))
    ml = message_list(app)
    ml.focus()
    await pilot.press("T")
    await wait_until(pilot, lambda: ml._depths is not None and len(ml.uids) == 32)
    return ml


async def test_folding_a_30_message_thread_shows_one_line(sandbox: Any, mail_user: Any) -> None:
    seed(sandbox, mail_user.name)
    app = make_app(mail_user)
    async with app.run_test(size=(140, 40)) as pilot:
        ml = await threads_on(pilot, app)
        depths = list(ml._depths)
        root_row = depths.index(max(depths))
        while depths[root_row] > 0:
            root_row -= 1
        ml.select_uid(ml.uids[root_row + 12])  # the cursor deep inside the thread
        await pilot.press("z", "a")
        await wait_until(pilot, lambda: len(ml.uids) == 3)
        assert ml.cursor_row == ml.uids.index(ml.cursor_uid)
        folded = ml.uids.index(ml.cursor_uid)
        assert ml._depths == [0, 0, 0]
        await wait_until(pilot, lambda: "+29 (3 unread)" in row_text(ml, folded))
        assert "Long thread" in row_text(ml, folded)
        assert row_text(ml, folded)[1] == "●"  # the first message is read, three replies are not
        await pilot.press("z", "a")  # unfold: every message again
        await wait_until(pilot, lambda: len(ml.uids) == 32)
        assert max(ml._depths) >= 29
        assert not any("+29" in row_text(ml, r) for r in range(len(ml.uids)))
        await pilot.press("alt+v")  # mutt's Esc-v folds it again
        await wait_until(pilot, lambda: len(ml.uids) == 3)


async def test_fold_all_unfold_all_and_new_mail_keeps_folds(sandbox: Any, mail_user: Any) -> None:
    seed(sandbox, mail_user.name)
    app = make_app(mail_user)
    async with app.run_test(size=(140, 40)) as pilot:
        ml = await threads_on(pilot, app)
        await pilot.press("minus")
        await wait_until(pilot, lambda: len(ml.uids) == 3)
        await pilot.press("plus")
        await wait_until(pilot, lambda: len(ml.uids) == 32)
        await pilot.press("minus")
        await wait_until(pilot, lambda: len(ml.uids) == 3)
        # a reply to the thread and a new single message arrive; the refresh keeps the fold
        sandbox.deliver(
            mail_user.name,
            mail(
                "Re: Long thread", "c@example.org", 28, "<t30@fold.example>", "<t29@fold.example>"
            ),
        )
        sandbox.deliver(mail_user.name, mail("Alone three", "d@example.org", 30, "<a3@x>"))
        await pilot.press("ctrl+l")
        await wait_until(pilot, lambda: len(ml.uids) == 4 and ml._tree is not None)
        await wait_until(pilot, lambda: len(ml._tree[0]) == 34)
        row = next(r for r in range(4) if ml._hidden.get(ml.uids[r]))
        await wait_until(pilot, lambda: "+30 (4 unread)" in row_text(ml, row))
        await pilot.press("plus")
        await wait_until(pilot, lambda: len(ml.uids) == 34)


async def test_fold_with_threads_off_says_so(sandbox: Any, mail_user: Any) -> None:
    seed(sandbox, mail_user.name)
    app = make_app(mail_user)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        ml = message_list(app)
        ml.focus()
        await pilot.press("z", "a")
        await wait_until(
            pilot, lambda: any("Threads are off" in str(n.message) for n in app._notifications)
        )
        assert len(ml.uids) == 32
