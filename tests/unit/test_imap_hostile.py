"""The IMAP core against a hostile server (issue 13 items 4 and 5): bounded memory, a deadline
per command, sane EXISTS/UID ranges, and ALERTs passed on once as typed events.

The server is our own small asyncio server on 127.0.0.1 (`tests/faults/hostile.py`). Where a
bound would take long to reach on a 2-core box at its default (128 MiB collected), the test
gives the connection smaller `Limits`: what is shown is that the bound exists and what passing
it does, not the figure (bench/hostile_rss.py prints the figure under the real defaults).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from app.imap.client import ImapClient
from app.imap.engine import DEFAULT_LIMITS, Connection, Limits, ServerAlert
from app.imap.errors import ImapConnectionError, ImapLimitError, ImapTimeout
from app.models import Credentials, ServerSettings, TlsMode
from tests.faults.hostile import ALERT_TEXT, PASSWORD, USER, Attack, HostileImap

SMALL = Limits(
    max_collected_bytes=1 << 20,
    max_unsolicited_bytes=1 << 20,
    max_idle_bytes=1 << 20,
)


def settings(port: int, timeout: float = 5.0) -> ServerSettings:
    return ServerSettings(
        host="127.0.0.1",
        port=port,
        user=USER,
        tls=TlsMode.NONE,
        allow_insecure=True,
        timeout=timeout,
        compress=False,
    )


CREDS = Credentials(USER, PASSWORD)


@asynccontextmanager
async def hostile(kind: str, on: str, **kw: Any) -> AsyncIterator[tuple[HostileImap, int]]:
    server = HostileImap(Attack(kind, on, **kw))
    port = await server.start()
    try:
        yield server, port
    finally:
        await server.stop()


async def test_endless_alert_stream_to_authenticate_is_cut_and_the_alert_shown_once() -> None:
    alerts: list[ServerAlert] = []
    async with hostile("alert-flood", "AUTHENTICATE") as (server, port):
        with pytest.raises(ImapLimitError) as info:
            await Connection.open(settings(port), CREDS, on_alert=alerts.append)
        sent = server.flood_bytes
    assert str(info.value).startswith(
        "AUTHENTICATE: the server sent too much: more than 1000 untagged status"
    )
    assert isinstance(info.value, ImapConnectionError)  # so the account reconnects
    # Cut after about 1,000 lines (200 KB), not after the 32 s and 5.8 GB of issue 13.
    assert sent < 50 << 20
    assert [a.text for a in alerts] == ["x" * 200]
    assert alerts[0].command == "AUTHENTICATE" and alerts[0].server == f"127.0.0.1:{port}"


async def test_endless_untagged_stream_collected_by_a_command_is_cut() -> None:
    async with hostile("untagged-flood", "SELECT") as (_, port):
        conn = await Connection.open(settings(port), CREDS, limits=SMALL)
        try:
            with pytest.raises(
                ImapLimitError,
                match=r"^SELECT: the server sent too much: .* untagged responses to one command",
            ):
                await conn.select("INBOX")
            assert conn.closed
        finally:
            await conn.disconnect()


async def test_endless_unsolicited_stream_between_commands_is_cut() -> None:
    async with hostile("unsolicited-flood", "NONE") as (server, port):
        server.attack.kind = "unsolicited-flood"
        conn = await Connection.open(settings(port), CREDS, limits=SMALL)
        try:
            (await conn.select("INBOX")).check()
            for _ in range(200):
                if conn.closed:
                    break
                await asyncio.sleep(0.05)
            assert conn.closed
            assert len(conn.protocol.unsolicited) == 0  # dropped with the connection
            with pytest.raises(ImapConnectionError, match="while no command ran"):
                await conn.noop()
        finally:
            await conn.disconnect()


async def test_endless_stream_during_idle_is_cut() -> None:
    async with hostile("untagged-flood", "IDLE") as (_, port):
        conn = await Connection.open(settings(port), CREDS, limits=SMALL)
        try:
            (await conn.select("INBOX")).check()
            with pytest.raises(ImapLimitError, match="during IDLE"):
                await conn.idle_start()
                while True:
                    await conn.idle_wait(1.0)
        finally:
            await conn.disconnect()


async def test_idle_keepalives_are_counted_per_read_not_per_idle() -> None:
    """A server's `* OK still here` over a long IDLE is not a flood: the count restarts
    each time the pushes are read, so only a burst between two reads is cut."""
    limits = Limits(max_status_responses=5)
    async with hostile("none", "NONE") as (_, port):
        conn = await Connection.open(settings(port), CREDS, limits=limits)
        try:
            (await conn.select("INBOX")).check()
            await conn.idle_start()
            for _ in range(4):  # 4 x 4 = 16 keepalives in one IDLE, never 5 unread at once
                for _ in range(4):
                    conn.protocol._dispatch(b"* OK still here")
                assert len(await conn.idle_wait(0.1)) == 4
            assert not conn.closed
            (await conn.idle_done()).check()
        finally:
            await conn.disconnect()


async def test_a_command_kept_busy_for_ever_meets_its_deadline() -> None:
    """`* OK still working` every 0.2 s restarts the 0.5 s inactivity timeout for ever; the
    deadline (at least 4 timeouts, here 2 s) ends the command and drops the connection."""
    async with hostile("trickle", "SELECT", interval=0.2) as (_, port):
        conn = await Connection.open(
            settings(port, timeout=0.5), CREDS, limits=Limits(command_deadline=1.0)
        )
        try:
            assert conn.command_deadline == 2.0
            with pytest.raises(ImapTimeout, match="not finished after 2 s"):
                await conn.select("INBOX")
            assert conn.closed
        finally:
            await conn.disconnect()


def test_the_default_deadline_is_at_least_four_timeouts() -> None:
    assert DEFAULT_LIMITS.command_deadline >= 60
    conn_deadline = max(DEFAULT_LIMITS.command_deadline, 4 * 30.0)
    assert conn_deadline == 120.0


async def test_a_gigantic_literal_is_refused_when_announced() -> None:
    async with hostile("huge-literal", "FETCH") as (server, port):
        client = await ImapClient.connect(settings(port), CREDS, retries=0)
        try:
            await client.select("INBOX")
            with pytest.raises(ImapConnectionError, match="literal of 1073741824 bytes"):
                await client.fetch_raw(1)
            received = server.flood_bytes
        finally:
            await client.close()
    assert received < 64 << 20  # refused at the announcement, not after buffering 1 GiB


async def test_the_client_reconnects_after_a_cut_and_goes_on() -> None:
    """Past a bound the connection goes, and the next command runs on a new one."""
    async with hostile("untagged-flood", "SEARCH", once=True) as (server, port):
        client = await ImapClient.connect(settings(port), CREDS, limits=SMALL, backoff=(0.0,))
        try:
            await client.select("INBOX")
            uids = await client.uid_list()  # cut once, repeated on a new connection
            assert list(uids) == [1, 2]
            assert client.reconnects == 1 and server.connections == 2
        finally:
            await client.close()


async def test_alert_in_greeting_and_tagged_no_are_passed_on_once_each() -> None:
    alerts: list[ServerAlert] = []
    async with hostile("alert", "SELECT") as (_, port):
        client = await ImapClient.connect(settings(port), CREDS, on_alert=alerts.append)
        try:
            conn = client.connection
            assert conn is not None
            conn.protocol._dispatch(b"* OK [ALERT] System going down at 18:00")
            conn.protocol._dispatch(b"* OK [ALERT] System going down at 18:00")  # again: once
            await client.select("INBOX")
            await client.select("INBOX")  # the same ALERT again: not passed on again
        finally:
            await client.close()
    texts = [a.text for a in alerts]
    assert texts[0] == "System going down at 18:00"
    assert len(texts) == 2
    shown = texts[1]
    # Made safe: no ESC, BEL, bidi controls; the markup is kept as literal text.
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in shown)
    assert "\u202e" not in shown and "\x1b" not in shown
    assert "[b]quota[/b]" in shown and "98% used" in shown
    assert shown != ALERT_TEXT
    assert alerts[1].command == "SELECT"


async def test_alert_in_a_tagged_refusal_is_passed_on() -> None:
    alerts: list[ServerAlert] = []
    conn = Connection(settings(1), on_alert=alerts.append)
    proto = conn.protocol
    proto.greeting.set_result(b"* OK hi")
    from app.imap.engine import _Pending

    cmd = _Pending(proto.loop, "A1", "LOGIN", None, None)
    proto.inflight.append(cmd)
    proto.by_tag["A1"] = cmd
    proto._dispatch(b"A1 NO [ALERT] Your account is locked; call 555-0100")
    assert cmd.future.result().status == "NO"
    assert [a.text for a in alerts] == ["Your account is locked; call 555-0100"]
    await conn.disconnect(logout=False)


async def test_at_most_twenty_distinct_alerts_per_connection() -> None:
    alerts: list[ServerAlert] = []
    conn = Connection(settings(1), on_alert=alerts.append)
    conn.protocol.greeting.set_result(b"* OK hi")
    for i in range(500):
        conn.protocol._dispatch(b"* OK [ALERT] alert number %d" % i)
    assert len(alerts) == 20
    await conn.disconnect(logout=False)


# -- EXISTS and UID ranges ------------------------------------------------------------------


def test_vanished_of_every_uid_is_never_expanded() -> None:
    from app.imap import parser
    from app.imap.mailbox import MailboxState

    data = parser.parse_untagged(b"* VANISHED 1:4294967295")
    assert isinstance(data, parser.VanishedData)
    assert data.too_large and len(data.uids) == 0
    assert data.ranges == ((1, 4294967295),)
    state = MailboxState("INBOX")
    state.set_uids([3, 5, 9])
    state.apply(data)
    assert state.uids is not None and list(state.uids) == []
    assert [e.kind for e in state.events] == ["expunged"]
    assert state.events[0].uids == (3, 5, 9)
    # Without a list what went cannot be told: the folder is reloaded.
    bare = MailboxState("INBOX", exists=3)
    bare.apply(data)
    assert [e.kind for e in bare.events] == ["resync"]


def test_vanished_ranges_cover_only_what_they_say() -> None:
    from app.imap import parser
    from app.imap.mailbox import MailboxState

    data = parser.parse_untagged(b"* VANISHED (EARLIER) 2000000:4294967295,5,7:8,1")
    assert isinstance(data, parser.VanishedData) and data.too_large and data.earlier
    assert data.ranges == ((1, 1), (5, 5), (7, 8), (2000000, 4294967295))
    state = MailboxState("INBOX")
    state.set_uids([1, 2, 5, 6, 8, 1999999, 2000000, 3000000])
    state.apply(data)
    assert state.uids is not None and list(state.uids) == [2, 6, 1999999]


def test_exists_beyond_any_mailbox_is_refused() -> None:
    from app.imap import parser

    with pytest.raises(parser.ParseError, match="more messages than any mailbox holds"):
        parser.parse_untagged(b"* 4294967295 EXISTS")
    assert isinstance(parser.parse_untagged(b"* 1000000 EXISTS"), parser.NumberData)


def test_a_million_flag_pushes_become_one_reload() -> None:
    from app.imap import parser
    from app.imap.mailbox import MAX_PENDING_EVENTS, MailboxState

    state = MailboxState("INBOX")
    state.set_uids([1, 2, 3])
    push = parser.parse_untagged(b"* 1 FETCH (UID 1 FLAGS (\\Seen))")
    for _ in range(MAX_PENDING_EVENTS * 3):
        state.apply(push)
    assert [e.kind for e in state.events] == ["resync"]


async def test_huge_exists_server_opens_with_a_clear_error() -> None:
    """`* 4294967295 EXISTS` in SELECT: the open fails saying why (no wait for ever), and the
    connection stays usable for other commands."""
    from app.imap.errors import ImapProtocolError

    async with hostile("huge-exists", "NONE") as (_, port):
        client = await ImapClient.connect(settings(port), CREDS)
        try:
            with pytest.raises(ImapProtocolError, match="more messages than any mailbox holds"):
                await client.select("INBOX")
            folders = await client.list_folders()
            assert [f.name for f in folders] == ["INBOX", "Archive"]
        finally:
            await client.close()


# -- "]" and "[" in mailbox names (issue 14 item 8) -----------------------------------------


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        (b'* LIST (\\HasNoChildren) "/" Projects]2024', "Projects]2024"),
        (b'* LSUB () "/" a]b', "a]b"),
        (b'* LIST (\\HasNoChildren) "/" [Gmail]/Trash', "[Gmail]/Trash"),
        (b'* LIST () "." ]x[', "]x["),
        (b'* LIST () "/" "quoted]name" ("CHILDINFO" ("SUBSCRIBED"))', "quoted]name"),
    ],
)
def test_list_names_may_hold_brackets(raw: bytes, name: str) -> None:
    from app.imap import parser

    data = parser.parse_untagged(raw)
    assert isinstance(data, parser.ListData)
    assert data.name == name and data.raw_name == name


def test_status_names_may_hold_brackets() -> None:
    from app.imap import parser

    data = parser.parse_untagged(b"* STATUS Projects]2024 (MESSAGES 3 UNSEEN 1)")
    assert isinstance(data, parser.StatusData)
    assert data.raw_name == "Projects]2024" and data.counts == {"MESSAGES": 3, "UNSEEN": 1}


def test_bracket_names_are_sent_quoted() -> None:
    from app.imap import parser

    assert parser.astring_arg("Projects]2024") == '"Projects]2024"'
    assert parser.astring_arg("[Gmail]/Trash") == '"[Gmail]/Trash"'
    assert parser.astring_arg("INBOX") == "INBOX"


def test_brackets_still_refused_where_they_mean_structure() -> None:
    from app.imap import parser

    with pytest.raises(parser.ParseError):
        parser.parse_untagged(b"* 1 FETCH (UID 1 FLAGS ] )")


# -- config check ---------------------------------------------------------------------------


async def test_config_check_prints_the_alert_safely(tmp_path: Any) -> None:
    from app.config.commands import check_account
    from app.config.model import load_config

    async with hostile("alert", "AUTHENTICATE") as (_, port):
        path = tmp_path / "config.toml"
        path.write_text(
            f"""\
[accounts.hostile]
address = "hostile@example.com"

[accounts.hostile.imap]
host = "127.0.0.1"
port = {port}
tls = "none"
allow_insecure = true
user = "{USER}"
password_command = "printf {PASSWORD}"
keyring = false

[accounts.hostile.smtp]
host = "127.0.0.1"
port = 1
tls = "none"
allow_insecure = true
"""
        )
        path.chmod(0o600)
        config = load_config(path)
        results = await check_account(config.accounts["hostile"])
    imap = results[0]
    assert imap.which == "imap" and imap.ok
    assert len(imap.alerts) == 1
    line = imap.line()
    assert "\n    server ALERT: Mailbox " in line and "98% used" in line
    assert "\x1b" not in line and "\x07" not in line and "\u202e" not in line


async def test_config_check_shows_the_flood_as_a_clear_failure(tmp_path: Any) -> None:
    from app.config.commands import check_imap_login

    alerts: list[str] = []
    async with hostile("alert-flood", "AUTHENTICATE") as (_, port):
        with pytest.raises(ImapLimitError, match="the server sent too much"):
            await check_imap_login(settings(port), CREDS, alerts=alerts)
    assert alerts == ["x" * 200]


async def test_a_big_message_on_a_slow_link_is_not_cut_by_the_deadline() -> None:
    """600 KB at about 200 KB/s takes 3 s, past the 2 s deadline given here: the deadline
    grows by a second per 64 KiB received, so a steady download finishes."""
    async with hostile("slow-literal", "FETCH") as (_, port):
        client = await ImapClient.connect(
            settings(port, timeout=0.5), CREDS, limits=Limits(command_deadline=1.0)
        )
        try:
            await client.select("INBOX")
            assert client.connection is not None and client.connection.command_deadline == 2.0
            data = await client.fetch_raw(1)
        finally:
            await client.close()
    assert data == b"z" * 600_000
