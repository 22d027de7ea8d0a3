"""Folded threads act whole, and the two-key fold sequences (issue 15), against the sandbox.

`za` `zM` `zR` as in vim and aerc (a pending `z` shows in the status bar; any other key cancels
it and does nothing else), mutt's Esc-v / Esc-V kept; `d` `F` `N` `t` on a folded line act on
its whole thread and say how many; the folded line shows the thread's newest date.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from app.main import screen_commands
from tests.ui.test_app_sandbox import imap, wait_until
from tests.ui.test_thread_fold_ui import make_app, row_text, seed, threads_on
from widgets.help_screen import collect_bindings

pytestmark = [pytest.mark.integration, pytest.mark.ui]


def status_text(app: Any) -> str:
    return str(app.screen.query_one("#status").message)


def toasts(app: Any) -> str:
    return " | ".join(str(n.message) for n in app._notifications)


def folder_count(user: Any, folder: str) -> int:
    conn = imap(user)
    _, data = conn.select(folder, readonly=True)
    conn.logout()
    return int(data[0])


def folded_row(ml: Any) -> int:
    return next(r for r in range(len(ml.uids)) if ml._hidden.get(ml.uids[r]))


async def test_za_zm_zr_and_a_wrong_second_key(sandbox: Any, mail_user: Any) -> None:
    seed(sandbox, mail_user.name)
    app = make_app(mail_user)
    async with app.run_test(size=(140, 40)) as pilot:
        ml = await threads_on(pilot, app)
        ml.select_uid(ml.uids[5])
        await pilot.press("z")
        await wait_until(pilot, lambda: status_text(app).startswith("z-"))
        assert "za fold/unfold  zM fold all  zR unfold all" in status_text(app)
        assert len(ml.uids) == 32  # nothing happened yet
        await pilot.press("a")
        await wait_until(pilot, lambda: len(ml.uids) == 3)
        assert not status_text(app).startswith("z-")
        await pilot.press("z", "R")
        await wait_until(pilot, lambda: len(ml.uids) == 32)
        await pilot.press("z", "M")
        await wait_until(pilot, lambda: len(ml.uids) == 3)
        await pilot.press("alt+shift+v")  # mutt's Esc-V (collapse all) is kept
        await wait_until(pilot, lambda: len(ml.uids) == 3)
        await pilot.press("plus")
        await wait_until(pilot, lambda: len(ml.uids) == 32)
        # z then x: cancelled, said, nothing else done
        await pilot.press("z", "x")
        await wait_until(pilot, lambda: "z x: not a key here" in status_text(app))
        assert len(ml.uids) == 32
        # z then d: the d is the sequence's (not one), so nothing is deleted
        await pilot.press("z", "d")
        await wait_until(pilot, lambda: "z d: not a key here" in status_text(app))
        await pilot.pause(0.3)
        assert len(ml.uids) == 32
        assert folder_count(mail_user, "INBOX") == 32
        # z then Esc: cancelled quietly, the status as before
        await pilot.press("z", "escape")
        await wait_until(pilot, lambda: not status_text(app).startswith("z-"))
        assert ml.pending_prefix is None
        assert "not a key here" not in status_text(app)  # the old note is not given back
        # `?` help lists the sequences beside the single keys
        rows = {d: k for _, group in collect_bindings(app.screen) for k, d in group}
        assert rows["Fold/unfold thread"].startswith("za")
        assert "alt+v" in rows["Fold/unfold thread"]
        assert rows["Fold all threads"].startswith("zM")
        assert rows["Unfold all threads"].startswith("zR")
        # and the palette, each sequence running its action
        commands = {c.action: c for c in screen_commands(app.screen)}
        assert commands["fold_thread"].keys[:2] == ["za", "alt+v"]
        assert commands["fold_all"].keys[0] == "zM" and "key: zM" in commands["fold_all"].help
        commands["fold_all"].run()
        await wait_until(pilot, lambda: len(ml.uids) == 3)


async def test_actions_on_a_folded_line_take_the_whole_thread(sandbox: Any, mail_user: Any) -> None:
    seed(sandbox, mail_user.name)
    app = make_app(mail_user)
    async with app.run_test(size=(140, 40)) as pilot:
        ml = await threads_on(pilot, app)
        ml.now = lambda: datetime(2026, 12, 2, 12, tzinfo=UTC)
        await pilot.press("z", "M")
        await wait_until(pilot, lambda: len(ml.uids) == 3)
        row = folded_row(ml)
        ml.select_uid(ml.uids[row])
        await wait_until(pilot, lambda: "+29 (3 unread)" in row_text(ml, row))
        ml._invalidate_all()
        # the first message is of Nov 1; the thread's newest of Nov 28
        assert "Nov 28" in row_text(ml, row) and "Nov  1" not in row_text(ml, row)
        # N on the folded line: all 30 read, said, the count follows
        await pilot.press("N")
        await wait_until(pilot, lambda: "Marked 30 messages read" in toasts(app))
        await wait_until(pilot, lambda: "unread" not in row_text(ml, row))
        assert "+29 " in row_text(ml, row)
        # F flags the whole thread
        await pilot.press("F")
        await wait_until(pilot, lambda: "Flagged 30 messages" in toasts(app))
        # t marks the whole thread; t again unmarks all of it
        await pilot.press("t")
        await wait_until(pilot, lambda: len(ml.marked) == 30)
        ml.select_uid(ml.uids[row])
        await pilot.press("t")
        await wait_until(pilot, lambda: not ml.marked)
        # d moves all 30 to Trash
        ml.select_uid(ml.uids[row])
        await pilot.press("d")
        await wait_until(pilot, lambda: "Deleted 30 messages" in toasts(app))
        await wait_until(pilot, lambda: len(ml.uids) == 2)
    assert folder_count(mail_user, "INBOX") == 2
    assert folder_count(mail_user, "Trash") == 30


async def test_reading_one_keeps_the_folded_count_true(sandbox: Any, mail_user: Any) -> None:
    seed(sandbox, mail_user.name)
    app = make_app(mail_user)
    async with app.run_test(size=(140, 40)) as pilot:
        ml = await threads_on(pilot, app)
        await pilot.press("z", "M")
        await wait_until(pilot, lambda: len(ml.uids) == 3)
        row = folded_row(ml)
        root = ml.uids[row]
        await wait_until(pilot, lambda: "+29 (3 unread)" in row_text(ml, row))
        hidden_unread = next(u for u in ml._hidden[root] if not ml.summary(u).seen)
        ml.select_uid(hidden_unread)  # unfolds the thread onto that message
        await wait_until(pilot, lambda: len(ml.uids) == 32)
        await pilot.press("enter")
        await wait_until(pilot, lambda: ml.summary(hidden_unread).seen)
        ml.focus()
        await pilot.press("z", "a")
        await wait_until(pilot, lambda: len(ml.uids) == 3)
        row = ml.uids.index(root)
        await wait_until(pilot, lambda: "+29 (2 unread)" in row_text(ml, row))


async def test_threads_by_newest_put_the_folded_thread_by_its_newest_date(
    sandbox: Any, mail_user: Any
) -> None:
    from tests.integration.test_sort_threads import mail
    from tests.ui.test_app_sandbox import list_filled, message_list
    from widgets.sort_menu import SortMenu

    user = mail_user.name
    sandbox.deliver(user, mail("Old thread", "a@example.org", 1, "<r0@n.example>"), "INBOX", "S")
    sandbox.deliver(user, mail("Middle", "b@example.org", 20, "<m@n.example>"), "INBOX", "S")
    reply = mail("Re: Old thread", "c@example.org", 29, "<r1@n.example>", "<r0@n.example>")
    sandbox.deliver(user, reply, "INBOX", "S")
    app = make_app(mail_user)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        ml = message_list(app)
        ml.now = lambda: datetime(2026, 12, 2, 12, tzinfo=UTC)
        ml.focus()
        await pilot.press("o")
        await wait_until(pilot, lambda: isinstance(app.screen, SortMenu))
        await pilot.press("l")  # threads by newest message, newest first
        await wait_until(pilot, lambda: ml._depths is not None and len(ml.uids) == 3)
        await pilot.press("z", "M")
        await wait_until(pilot, lambda: len(ml.uids) == 2)
        await wait_until(pilot, lambda: "+1 " in row_text(ml, 0))
        ml._invalidate_all()
        first, second = row_text(ml, 0), row_text(ml, 1)
        assert "Old thread" in first and "Nov 29" in first  # its reply's date, and first
        assert "Middle" in second and "Nov 20" in second
