"""The real app's start-up round trips (issue 21), counted by a delaying relay between it and
the sandbox Dovecot (tests/integration/turns.py): an assertion on a count, never on time."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from app.account import Account
from app.main import TermailApp
from app.models import TlsMode
from tests.integration.turns import TurnRelay
from tests.ui.test_app_sandbox import list_filled, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.ui]


def _app(user: Any, port: int, data: Path) -> TermailApp:
    settings = replace(
        user.imap_settings(TlsMode.NONE), port=port, allow_insecure=True, compress=False
    )
    return TermailApp([Account(user.name, settings, user.credentials, data_dir=data)])


def _checked(app: TermailApp) -> bool:
    """The list on screen is the server's (not the cache's) and its rows are filled."""
    current = app.screen.account.current if hasattr(app.screen, "account") else None
    return bool(
        current is not None
        and not current.cached
        and not current.provisional  # the newest rows before the server's SORT: not yet
        and list_filled(app)
    )


async def test_app_cold_and_warm_start_round_trips(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    for n in range(40):
        sandbox.deliver(
            mail_user.name,
            f"Subject: start {n:02d}\r\nFrom: a@b.c\r\nDate: Mon, 2 Nov 2026 10:{n:02d}:00 +0000"
            f"\r\n\r\nbody {n}\r\n".encode(),
        )
    data = tmp_path / "data"
    async with TurnRelay(sandbox.imap_port) as relay:
        app = _app(mail_user, relay.port, data)
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_until(pilot, lambda: _checked(app))
            talk = relay.first
            # LOGIN; ID + ENABLE + NAMESPACE + SELECT + FETCH * (UID) (no gaps: the UIDs are
            # 1..EXISTS, no search); the newest rows' FETCH; the server's SORT after them.
            assert talk.turn_of(b"FETCH * (UID)") == 2, talk.flights[:4]
            assert (talk.turn_of(b"UID SEARCH") or 4) > 3, talk.flights[:4]
            assert talk.turn_of(b"ENVELOPE") == 3, talk.flights[:4]
            assert (talk.turn_of(b"UID SORT") or 0) > 3, talk.flights[:6]
            await wait_until(pilot, lambda: app.screen.folder_tree.folder("INBOX"))
    async with TurnRelay(sandbox.imap_port) as relay:
        app = _app(mail_user, relay.port, data)
        async with app.run_test(size=(160, 48)) as pilot:
            await wait_until(pilot, lambda: _checked(app))
            talk = relay.first
            # LOGIN; ID + ENABLE + NAMESPACE + SELECT (QRESYNC): the cached list is confirmed.
            assert talk.turn_of(b"(QRESYNC (") == 2, talk.flights[:4]
            assert talk.turn_of(b"UID SORT") is None and talk.turn_of(b"ENVELOPE") is None
