"""A cold start draws the newest rows before the server's SORT answers, and what the user did
meanwhile (End, a move) is kept when the server's order replaces them (issue 21).

The real sandbox Dovecot, its SORT held back by a relay (tests/integration/turns.py) until the
test releases it, as a fresh server sorting 1,000,000 messages would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.account import Account
from app.main import TermailApp
from app.models import TlsMode
from tests.integration.test_newest_first import COUNT, by_date_newest_first, deliver
from tests.integration.turns import TurnRelay
from tests.ui.test_app_sandbox import list_filled, message_list, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.ui]


def _app(user: Any, port: int, data: Path) -> TermailApp:
    imap = user.imap_settings(TlsMode.NONE, port=port, allow_insecure=True, compress=False)
    return TermailApp([Account(user.name, imap, user.credentials, data_dir=data)])


@pytest.mark.parametrize("keys", [["end"], ["down", "down", "down"]], ids=["end", "moved"])
async def test_keys_pressed_before_sort_answers_are_kept(
    sandbox: Any, mail_user: Any, tmp_path: Path, keys: list[str]
) -> None:
    deliver(sandbox, mail_user)
    async with TurnRelay(sandbox.imap_port, one_way=0, hold=b"UID SORT") as relay:
        app = _app(mail_user, relay.port, tmp_path / "data")
        async with app.run_test(size=(120, 30)) as pilot:
            await wait_until(pilot, lambda: list_filled(app))
            ml = message_list(app)
            await wait_until(pilot, relay.holding.is_set)
            # The newest by UID first, every row there, before the server has sorted.
            assert ml.row_count == COUNT
            assert list(ml.uids) == list(range(COUNT, 0, -1))
            summary = ml.summary(ml.uids[0])
            assert summary is not None and summary.envelope.subject == f"newest {COUNT - 1:03d}"
            assert "sorting" in app.screen.status.message
            for key in keys:
                await pilot.press(key)
            await pilot.pause()
            row, uid = ml.cursor_row, ml.cursor_uid
            assert row == (COUNT - 1 if keys == ["end"] else len(keys))
            relay.release()
            expected = by_date_newest_first()
            await wait_until(pilot, lambda: list(ml.uids) == expected)
            await pilot.pause()
            if keys == ["end"]:
                assert ml.cursor_row == COUNT - 1  # still at the end
            else:
                assert ml.cursor_uid == uid  # the same message, at its sorted place
                assert ml.cursor_row == expected.index(uid)
            assert "sorting" not in app.screen.status.message


async def test_enter_while_a_big_folder_sorts_opens_the_message(
    sandbox: Any, mail_user: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SORT of a big folder is asked apart (`app.account.SORT_APART_FROM`): Enter on a
    row shown before it answers shows that message then, not when the server has sorted."""
    from widgets.message_view import MessageView

    monkeypatch.setattr("app.account.SORT_APART_FROM", 0)
    deliver(sandbox, mail_user)
    async with TurnRelay(sandbox.imap_port, one_way=0, hold=b"UID SORT") as relay:
        app = _app(mail_user, relay.port, tmp_path / "data")
        async with app.run_test(size=(120, 30)) as pilot:
            await wait_until(pilot, lambda: list_filled(app))
            await wait_until(pilot, relay.holding.is_set)
            ml = message_list(app)
            ml.focus()
            await pilot.press("down", "down", "enter")
            viewer = app.screen.query_one(MessageView)
            await wait_until(pilot, lambda: viewer.rendered is not None, timeout=10)
            assert viewer.rendered.subject == f"newest {COUNT - 3:03d}"
            assert "sorting" in app.screen.status.message  # the SORT is still held
            relay.release()
            expected = by_date_newest_first()
            await wait_until(pilot, lambda: list(ml.uids) == expected)
