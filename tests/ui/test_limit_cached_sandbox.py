"""`l` limits from the cache at once (issue 15): before the server answers (here: held back by a
gate) the cached summaries are filtered with the query language, and the server's SEARCH
replaces that answer once it comes (it knows of mail the cache has not seen)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.models import TlsMode
from tests.ui.test_app_sandbox import list_filled, message_list, wait_connected, wait_until
from tests.ui.test_limit_tag_sandbox import status_text, type_query
from tests.ui.test_warm_start import _app, gate

pytestmark = [pytest.mark.integration, pytest.mark.ui]

COUNT = 40


def _note(n: int, sender: str) -> bytes:
    return (
        f"Subject: note {n:03d}\r\nFrom: {sender}\r\nDate: Mon, 2 Nov 2026 "
        f"{n // 60:02d}:{n % 60:02d}:00 +0000\r\n\r\nbody{n:03d}\r\n"
    ).encode()


async def _fill_cache(user: Any, data: Path) -> set[int]:
    """A first run that sees every row, so the cache holds every summary; Olga's UIDs."""
    app = _app(user, data)
    async with app.run_test(size=(120, 50)) as pilot:
        await wait_connected(pilot, app)
        ml = message_list(app)
        await wait_until(pilot, lambda: list_filled(app) and ml.row_count == COUNT)
        await wait_until(pilot, lambda: all(ml.summary(u) for u in ml.uids))
        # The newest rows show before the server's order: the cache is written with that.
        account = app.screen.account
        await wait_until(pilot, lambda: account.current and not account.current.provisional)
        await wait_until(pilot, lambda: app.screen.folder_tree.folder("INBOX"))
        return {
            u
            for u in ml.uids
            if "olga" in (ml.summary(u).envelope.from_[0].mailbox or "")  # type: ignore[union-attr]
        }


async def test_limit_from_the_cache_then_the_servers_answer(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    for n in range(COUNT):
        sender = "Olga <olga@example.org>" if n % 4 == 0 else "a@b.c"
        sandbox.deliver(mail_user.name, _note(n, sender))
    data = tmp_path / "data"
    olga = await _fill_cache(mail_user, data)
    assert len(olga) == COUNT // 4
    # New mail the cache has not seen: only the server's answer has it.
    sandbox.deliver(mail_user.name, _note(99, "Olga <olga@example.org>"))
    host = mail_user.imap_settings(TlsMode.IMPLICIT).host
    async with gate(host, sandbox.imaps_port) as held:
        app = _app(mail_user, data, held.port)
        async with app.run_test(size=(120, 30)) as pilot:
            await wait_until(pilot, lambda: list_filled(app))
            ml = message_list(app)
            assert app.screen.status.connection == "connecting"
            ml.focus()
            await type_query(pilot, app, "l", "from:olga")
            await wait_until(pilot, lambda: "from the cache" in status_text(app))
            assert set(ml.uids) == olga  # the cache's answer, the server still silent
            assert f"Limited to: from:olga ({len(olga)} of {COUNT}, from the cache" in (
                status_text(app)
            )
            held.open()
            await wait_connected(pilot, app)
            final = f"Limited to: from:olga ({len(olga) + 1} of {COUNT + 1}); Esc shows all"
            await wait_until(pilot, lambda: status_text(app) == final)
            assert len(ml.uids) == len(olga) + 1 and olga < set(ml.uids)
            await pilot.press("escape")
            await wait_until(pilot, lambda: ml.row_count == COUNT + 1)


async def test_limit_with_a_body_query_waits_for_the_server(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    for n in range(COUNT):
        sandbox.deliver(mail_user.name, _note(n, "a@b.c"))
    data = tmp_path / "data"
    await _fill_cache(mail_user, data)
    host = mail_user.imap_settings(TlsMode.IMPLICIT).host
    async with gate(host, sandbox.imaps_port) as held:
        app = _app(mail_user, data, held.port)
        async with app.run_test(size=(120, 30)) as pilot:
            await wait_until(pilot, lambda: list_filled(app))
            ml = message_list(app)
            ml.focus()
            await type_query(pilot, app, "l", "body:body007")
            await wait_until(pilot, lambda: "waiting for the server" in status_text(app))
            assert ml.row_count == COUNT  # nothing the cache could say: the list stays
            held.open()
            await wait_connected(pilot, app)
            await wait_until(pilot, lambda: "Limited to: body:body007 (1 of" in status_text(app))
            assert ml.row_count == 1
