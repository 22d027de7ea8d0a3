"""The whole app on a hostile IMAP server (issue 13 items 4 and 5), driven with the pilot.

The account is our own small server on 127.0.0.1 (`tests/faults/hostile.py`). What is shown:
an endless `* OK [ALERT] xxx...` stream answering AUTHENTICATE leaves the app on its main
screen, answering keys, telling the user the server sent too much, and reconnecting with
backoff, each attempt cut after about 1,000 lines (the bytes the server managed to write are
counted: bounded); an ALERT with escape sequences and markup is shown once, as a warning
notice, as plain safe text; `* 4294967295 EXISTS` gives a clear error instead of "Opening
INBOX…" for good.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app.account import Account
from app.main import TermailApp
from app.models import Credentials, ServerSettings, TlsMode
from app.screens.main import MainScreen
from tests.faults.hostile import PASSWORD, USER, Attack, HostileImap
from tests.faults.servers import KeyProbe
from widgets.message_list import MessageList

pytestmark = [pytest.mark.ui]


def _settings(port: int) -> ServerSettings:
    return ServerSettings(
        host="127.0.0.1",
        port=port,
        user=USER,
        tls=TlsMode.NONE,
        allow_insecure=True,
        timeout=4.0,
        compress=False,
    )


@pytest.fixture
async def server(request: Any) -> AsyncIterator[HostileImap]:
    kind, on = request.param
    srv = HostileImap(Attack(kind, on))
    srv.port = await srv.start()  # type: ignore[attr-defined]
    yield srv
    await srv.stop()


class Recorder:
    """Every notification the app is asked to show: (title, message, severity)."""

    def __init__(self, app: TermailApp) -> None:
        self.seen: list[tuple[str, str, str]] = []
        original = app.notify

        def notify(message: Any, *args: Any, **kw: Any) -> None:
            self.seen.append((str(kw.get("title", "")), str(message), str(kw.get("severity"))))
            original(message, *args, **kw)

        app.notify = notify  # type: ignore[method-assign]

    def titled(self, start: str) -> list[tuple[str, str, str]]:
        return [n for n in self.seen if n[0].startswith(start)]


def make_app(server: HostileImap, tmp_path: Path) -> TermailApp:
    account = Account(
        "hostile",
        _settings(server.port),  # type: ignore[attr-defined]
        lambda: Credentials(USER, PASSWORD),
        addresses=["hostile@example.com"],
        data_dir=tmp_path,
    )
    return TermailApp([account])


def screen_of(app: TermailApp) -> MainScreen:
    assert isinstance(app.screen, MainScreen), f"not on the main screen: {app.screen!r}"
    return app.screen


def _unsafe(text: str) -> bool:
    return any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or c in "\u202a\u202e\u2066" for c in text)


@pytest.mark.parametrize("server", [("alert-flood", "AUTHENTICATE")], indirect=True)
async def test_endless_alert_stream_keeps_the_app_usable_and_bounded(
    server: HostileImap, tmp_path: Path
) -> None:
    app = make_app(server, tmp_path)
    notes = Recorder(app)
    async with app.run_test(size=(120, 35)) as pilot:
        probe = KeyProbe(pilot, keys=("down", "up", "j", "k"))
        await probe.until(lambda: server.connections >= 2, timeout=30, what="a reconnection")
        await probe.until(
            lambda: any("sent too much" in n[1] for n in notes.seen), timeout=10, what="an error"
        )
        screen = screen_of(app)
        assert str(screen.status.connection).startswith(("offline", "connecting"))
        error = next(n for n in notes.seen if "sent too much" in n[1])
        assert error[1].startswith("AUTHENTICATE: the server sent too much: more than 1000")
        # The ALERT text is shown, once, however many connections brought it.
        assert [n[1] for n in notes.titled("Alert from")] == ["x" * 200]
        assert probe.longest < 6.0
    # Each connection was cut after about 1,000 lines: a few hundred KB per attempt, not GBs.
    assert server.flood_bytes < 20 * server.connections << 20


@pytest.mark.parametrize("server", [("alert", "SELECT")], indirect=True)
async def test_alert_is_shown_once_as_safe_plain_text(server: HostileImap, tmp_path: Path) -> None:
    app = make_app(server, tmp_path)
    notes = Recorder(app)
    async with app.run_test(size=(120, 35)) as pilot:
        probe = KeyProbe(pilot)
        await probe.until(
            lambda: (
                isinstance(app.screen, MainScreen)
                and app.screen.query_one(MessageList).row_count == 2
            ),
            timeout=20,
            what="INBOX listed",
        )
        await probe.until(lambda: notes.titled("Alert from"), timeout=10, what="the ALERT")
        await probe.during(1.0)  # the IDLE watcher's SELECT brings the same ALERT again
        alerts = notes.titled("Alert from")
        assert len(alerts) == 1
        title, text, severity = alerts[0]
        assert severity == "warning" and title == f"Alert from 127.0.0.1:{server.port}"  # type: ignore[attr-defined]
        assert "over [b]quota[/b]" in text and "98% used" in text
        assert not _unsafe(text) and not _unsafe(title)
        assert server.attack.times >= 1


@pytest.mark.parametrize("server", [("huge-exists", "NONE")], indirect=True)
async def test_huge_exists_gives_a_clear_error_not_opening_for_ever(
    server: HostileImap, tmp_path: Path
) -> None:
    app = make_app(server, tmp_path)
    notes = Recorder(app)
    async with app.run_test(size=(120, 35)) as pilot:
        probe = KeyProbe(pilot)
        await probe.until(
            lambda: notes.titled("Cannot open INBOX"), timeout=20, what="the error for INBOX"
        )
        text = notes.titled("Cannot open INBOX")[0][1]
        assert "more messages than any mailbox holds" in text
        screen = screen_of(app)
        assert "Opening" not in str(screen.status.message)
        # The folder tree still came: the app goes on (another folder opens).
        await probe.until(
            lambda: screen.account.folder("Archive") is not None, timeout=10, what="the tree"
        )
