"""Round trips of the IMAP handshake, counted by a relay of ours between the client and the
sandbox Dovecot (issue 21: what does not depend on an answer is pipelined, RFC 9051 5.5)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.imap.client import ImapClient
from app.models import TlsMode
from tests.integration.turns import TurnRelay

pytestmark = pytest.mark.integration


async def test_login_costs_two_round_trips_id_and_enable_pipelined(
    sandbox: Any, mail_user: Any
) -> None:
    async with TurnRelay(sandbox.imap_port, one_way=0) as relay:
        settings = mail_user.imap_settings(
            TlsMode.NONE, port=relay.port, allow_insecure=True, compress=False
        )
        client = await ImapClient.connect(settings, mail_user.credentials())
        try:
            # The greeting carries the capabilities: LOGIN, then ID + ENABLE together.
            assert relay.first.turns == 2
            assert client.has_capability("ENABLE")
            assert "CONDSTORE" in {c.upper() for c in client.enabled}
            words = b"\r\n".join(line for flight in relay.first.flights for line in flight)
            assert b" ID (" in words and b" ENABLE " in words
        finally:
            await client.close()


# -- the first screen and opening a message, through a delaying relay (tests/integration/turns.py)

from pathlib import Path  # noqa: E402

from app.account import Account  # noqa: E402
from app.models import Folder, FolderRole  # noqa: E402
from tests.integration.kinds import make_kind_account, over_kinds  # noqa: E402

INBOX = Folder("INBOX", "INBOX", "/", frozenset(), FolderRole.INBOX)
ROWS = 48  # the first screen's rows in a 160x48 terminal, fewer than Account.first_fetch


def _deliver(sandbox: Any, user: Any, count: int, start: int = 0) -> None:
    for n in range(start, start + count):
        sandbox.deliver(
            user.name,
            f"From: a{n}@example.org\r\nTo: u@localhost\r\nSubject: turn {n:03d}\r\n"
            f"Date: Mon, 2 Nov 2026 {n // 60:02d}:{n % 60:02d}:00 +0000\r\n"
            f"Message-ID: <t{n}@example.org>\r\n\r\nbody of {n}\r\n".encode(),
        )


def _account(user: Any, port: int, data: Path, **settings: Any) -> Account:
    imap = user.imap_settings(
        TlsMode.NONE, port=port, allow_insecure=True, **{"compress": False, **settings}
    )
    return Account(user.name, imap, user.credentials, data_dir=data)


async def _first_screen(account: Account, relay: TurnRelay | None = None) -> list[Any]:
    """What MainScreen.connect_account does up to the first screen: connect, open INBOX (the
    cached list first when there is one; cold, the newest rows before the server's SORT),
    the summaries of the visible rows. `relay.shown_at`: its turns at that moment. The
    folder is then opened to the end (the server's order, the cache written), as the screen
    goes on to do."""
    account.open_folder_cached(INBOX)
    await account.connect()
    newest = await account.open_folder_newest(INBOX)
    opened = newest or await account.open_folder(INBOX)
    rows = await account.summaries_for(opened.uids[:ROWS])
    assert len(rows) == min(ROWS, len(opened.uids))
    if relay is not None:
        relay.shown_at = relay.first.turns
    if newest is not None:
        await account.open_folder(INBOX)
    return rows


@contextlib.asynccontextmanager
async def _cold_screen(
    sandbox: Any, user: Any, data: Path, **settings: Any
) -> AsyncIterator[tuple[Account, TurnRelay, list[Any]]]:
    """An account behind a turn-counting relay, brought to its first screen; closed after."""
    async with TurnRelay(sandbox.imap_port) as relay:
        account = _account(user, relay.port, data, **settings)
        try:
            yield account, relay, await _first_screen(account, relay)
        finally:
            await account.close()


async def test_cold_first_screen_costs_three_round_trips(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    _deliver(sandbox, mail_user, 60)
    async with _cold_screen(sandbox, mail_user, tmp_path / "data") as (account, relay, rows):
        talk = relay.first
        # LOGIN; ID + ENABLE + NAMESPACE + SELECT + FETCH * (UID) together (the newest
        # UID is EXISTS: the UIDs are 1..EXISTS, no search); the newest rows' FETCH. The
        # server's SORT only after.
        assert relay.shown_at == 3, talk.flights
        batch = b"\n".join(talk.commands(2))
        for word in (b"ID (", b"ENABLE ", b"NAMESPACE", b"SELECT INBOX", b"FETCH * (UID)"):
            assert word in batch, talk.flights
        assert talk.turn_of(b"ENVELOPE") == 3
        assert (talk.turn_of(b"UID SEARCH") or 4) > 3, talk.flights
        assert account.current.uids == list(range(60, 0, -1))
        assert (talk.turn_of(b"UID SORT") or 0) > 3, talk.flights
        assert rows[0].envelope.subject == "turn 059"
        assert account.current is not None and not account.current.provisional


async def test_cold_first_screen_of_a_folder_with_gaps_costs_three_round_trips(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    """UIDs with gaps (expunged mail): the newest UID is not EXISTS, so the UID SEARCH goes
    with the newest rows' FETCH (by sequence number) in the third round trip, not a fourth."""
    _deliver(sandbox, mail_user, 30)
    client = await ImapClient.connect(
        mail_user.imap_settings(TlsMode.NONE, allow_insecure=True), mail_user.credentials()
    )
    try:
        await client.select("INBOX")
        await client.store_flags([3, 17, 30], ["\\Deleted"])
        await client.expunge()
    finally:
        await client.close()
    async with _cold_screen(sandbox, mail_user, tmp_path / "data") as (
        account,
        relay,
        rows,
    ):
        talk = relay.first
        assert relay.shown_at == 3, talk.flights
        assert talk.turn_of(b"UID SEARCH") == 3 == talk.turn_of(b"ENVELOPE"), talk.flights
        expected = [u for u in range(29, 0, -1) if u not in (3, 17)]
        assert [r.uid for r in rows] == expected
        assert [r.envelope.subject for r in rows[:2]] == ["turn 028", "turn 027"]
        assert account.current is not None and sorted(account.current.uids) == sorted(expected)


async def test_warm_first_screen_with_qresync_costs_two_round_trips(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    _deliver(sandbox, mail_user, 60)
    data = tmp_path / "data"
    first = _account(mail_user, sandbox.imap_port, data)
    await _first_screen(first)
    await first.close()
    async with TurnRelay(sandbox.imap_port) as relay:
        account = _account(mail_user, relay.port, data)
        try:
            rows = await _first_screen(account)
            talk = relay.first
            # LOGIN; ID + ENABLE + NAMESPACE + SELECT (QRESYNC ...): nothing had changed.
            assert talk.turns == 2, talk.flights
            assert talk.turn_of(b"(QRESYNC (") == 2
            assert account.current is not None and account.current.uids[0] == rows[0].uid
        finally:
            await account.close()


async def test_warm_first_screen_with_new_mail_costs_three_round_trips(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    _deliver(sandbox, mail_user, 30)
    data = tmp_path / "data"
    first = _account(mail_user, sandbox.imap_port, data)
    await _first_screen(first)
    await first.close()
    _deliver(sandbox, mail_user, 3, start=30)
    async with TurnRelay(sandbox.imap_port) as relay:
        account = _account(mail_user, relay.port, data)
        try:
            rows = await _first_screen(account)
            # LOGIN; the batch with SELECT (QRESYNC); the new mail's FETCH with UID SORT.
            assert relay.first.turns == 3, relay.first.flights
            assert [r.envelope.subject for r in rows[:3]] == ["turn 032", "turn 031", "turn 030"]
        finally:
            await account.close()


async def test_opening_a_message_costs_one_round_trip(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    _deliver(sandbox, mail_user, 10)
    async with TurnRelay(sandbox.imap_port) as relay:
        account = _account(mail_user, relay.port, tmp_path / "data")
        try:
            rows = await _first_screen(account)
            before = relay.first.turns
            shown = await account.load_message(rows[3].uid)
            # Header and text part in one FETCH (the structure came with the summary).
            assert relay.first.turns - before == 1, relay.first.flights[-2:]
            assert "body of 6" in str(getattr(shown, "text", shown))
        finally:
            await account.close()


async def test_cold_first_screen_with_compress_costs_three_round_trips(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    """COMPRESS ends the login's follow-up round trip; the UID list comes deflated after it,
    with the newest rows' FETCH by sequence number (was a round trip of its own: 4)."""
    _deliver(sandbox, mail_user, 20)
    async with _cold_screen(sandbox, mail_user, tmp_path / "data", compress=True) as (
        account,
        relay,
        rows,
    ):
        assert account.client.connection.is_compressed
        assert relay.shown_at == 3, relay.first.flights[:3]
        assert rows[0].envelope.subject == "turn 019"


@over_kinds()
async def test_first_screen_round_trips_on_every_kind(
    server_kind: Any, kind_user: Any, tmp_path_fast: Path
) -> None:
    """Cold at most 4 round trips, warm at most 3 where QRESYNC is offered, on every kind
    (minimal: no ENABLE, SORT, ESEARCH; gmail-like: no SORT; cyrus/courier: INBOX. prefix);
    the list is the server's in both."""
    from app.imap.client import ImapClient

    client = await ImapClient.connect(kind_user.imap_settings(), kind_user.credentials())
    try:
        for n in range(5):
            await client.append(
                "INBOX",
                f"From: k{n}@example.org\r\nSubject: kind {n}\r\nDate: Mon, 2 Nov 2026 "
                f"10:0{n}:00 +0000\r\nMessage-ID: <k{n}@example.org>\r\n\r\nk {n}\r\n".encode(),
            )
        qresync = client.has_capability("QRESYNC")
        await client.select("INBOX")
        expected = sorted(await client.uid_list())
    finally:
        await client.close()
    plain = kind_user.server.imap_port
    for warm, goal in ((False, 4), (True, 3)):
        async with TurnRelay(plain, host=kind_user.server.host) as relay:
            settings = kind_user.imap_settings(
                TlsMode.NONE, port=relay.port, allow_insecure=True, compress=False
            )
            account = make_kind_account(kind_user, tmp_path_fast / "cache.sqlite")
            account.imap_settings = settings
            try:
                await _first_screen(account, relay)
                assert account.current is not None
                assert sorted(account.current.uids) == expected
                if not warm or qresync:
                    assert relay.shown_at <= goal, (warm, relay.first.flights)
            finally:
                await account.close()
