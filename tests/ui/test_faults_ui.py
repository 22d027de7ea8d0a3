"""Server faults through the whole app, driven with Textual's pilot as a person would.

Dovecot and the SMTP server are killed and restarted while the user browses, flags, moves and
sends. After each fault: the app is still on its main screen and the status bar tells of the
reconnection (no crash screen); flags and moves made during the fault are on the server exactly
once (checked with a connection of its own); an interrupted send waits in the outbox and one
retry delivers it exactly once. All along, a `KeyProbe` presses keys and times how long the UI
takes to handle each: the longest must stay under the account's timeout + 2 s (a correctness
bound: the UI never waits on the network, not a speed goal).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input, TextArea

from app.account import Account
from app.main import TermailApp
from app.models import Flag, TlsMode
from app.screens.compose import ComposeScreen
from app.screens.main import MainScreen
from app.screens.outbox import OutboxScreen
from app.smtp.outbox import Outbox
from tests.faults.proxy import Fault, FaultProxy
from tests.faults.servers import (
    KeyProbe,
    Outage,
    copies_by_message_id,
    deliver_numbered,
    flags_by_message_id,
)
from widgets.dialogs import ConfirmDialog, FolderPicker
from widgets.message_list import MessageList
from widgets.message_view import MessageView

pytestmark = [pytest.mark.integration, pytest.mark.ui]

#: The accounts' network timeout in these tests.
TIMEOUT = 4.0
#: The longest a key press may wait for the UI (see the module docstring).
FREEZE_BOUND = TIMEOUT + 2.0


@pytest.fixture
def dovecot(sandbox: Any) -> Iterator[Outage]:
    outage = Outage(sandbox, "dovecot")
    yield outage
    outage.restore()


@pytest.fixture
def smtpd(sandbox: Any) -> Iterator[Outage]:
    outage = Outage(sandbox, "smtp")
    yield outage
    outage.restore()


def mid(i: int) -> str:
    return f"<ui-fault{i}@faults.test>"


def deliver(sandbox: Any, user: Any, n: int) -> None:
    deliver_numbered(sandbox, user, n, "ui fault", mid)


def make_app(
    user: Any, data_dir: Path, *, smtp_port: int | None = None, smtp_tls: TlsMode = TlsMode.STARTTLS
) -> TermailApp:
    smtp = user.smtp_settings(smtp_tls, timeout=TIMEOUT)
    if smtp_port is not None:
        smtp = user.smtp_settings(smtp_tls, timeout=TIMEOUT, port=smtp_port)
    account = Account(
        user.name,
        user.imap_settings(TlsMode.IMPLICIT, timeout=TIMEOUT),
        user.credentials,
        smtp=smtp,
        addresses=[user.address],
        display_name="Fault Tester",
        data_dir=data_dir,
    )
    return TermailApp([account])


def main_screen(app: TermailApp) -> MainScreen:
    screen = app.screen
    assert isinstance(screen, MainScreen), f"not on the main screen: {screen!r}"
    return screen


def connection(app: TermailApp) -> str:
    return str(main_screen(app).status.connection) if isinstance(app.screen, MainScreen) else ""


def list_ready(app: TermailApp, rows: int) -> bool:
    if not isinstance(app.screen, MainScreen):
        return False
    ml = app.screen.query_one(MessageList)
    return ml.row_count == rows and all(ml.summary(u) is not None for u in ml.uids)


async def start(pilot: Any, app: TermailApp, probe: KeyProbe, rows: int) -> MessageList:
    await probe.until(lambda: connection(app) == "connected" and list_ready(app, rows))
    ml = main_screen(app).query_one(MessageList)
    ml.focus()
    await pilot.press("g")
    return ml


def is_flagged(ml: MessageList, uid: int) -> bool:
    summary = ml.summary(uid)
    return summary is not None and summary.flagged


def uid_with(ml: MessageList, message_id: str) -> int:
    for uid in ml.uids:
        summary = ml.summary(uid)
        if summary is not None and summary.envelope.message_id == message_id:
            return uid
    raise AssertionError(f"{message_id} not listed")


async def put_cursor_on(pilot: Any, ml: MessageList, uid: int) -> None:
    await pilot.press("g")
    for _ in range(ml.uids.index(uid)):
        await pilot.press("down")
    assert ml.cursor_uid == uid


async def move_to(pilot: Any, app: TermailApp, folder: str) -> None:
    await pilot.press("s")
    while not isinstance(app.screen, FolderPicker):
        await pilot.pause(0.05)
    for ch in folder:
        await pilot.press(ch)
    await pilot.press("enter")


async def browse_still_works(pilot: Any, app: TermailApp, probe: KeyProbe) -> None:
    """Enter on a message shows it: the app browses again after the fault."""
    screen = main_screen(app)
    ml = screen.query_one(MessageList)
    ml.focus()
    await pilot.press("g", "enter")
    viewer = screen.query_one(MessageView)
    rendered = await probe.until(lambda: viewer.rendered, what="a message shown")
    assert "Body of message" in rendered.body


# -- Dovecot killed ---------------------------------------------------------------------------------


async def test_short_dovecot_outage_while_flagging_and_moving(
    sandbox: Any, mail_user: Any, tmp_path_fast: Path, dovecot: Outage
) -> None:
    deliver(sandbox, mail_user, 5)
    app = make_app(mail_user, tmp_path_fast)
    async with app.run_test(size=(140, 40)) as pilot:
        probe = KeyProbe(pilot)
        ml = await start(pilot, app, probe, 5)
        flagged, moved = uid_with(ml, mid(1)), uid_with(ml, mid(2))
        # Flag during the outage.
        await dovecot.stop()
        restart = asyncio.ensure_future(dovecot.restart_after(0.5))
        await put_cursor_on(pilot, ml, flagged)
        await pilot.press("F")
        await probe.until(lambda: restart.done(), what="Dovecot back")
        await probe.until(lambda: is_flagged(ml, flagged), what="the flag shown")
        # Move during another outage.
        await dovecot.stop()
        restart = asyncio.ensure_future(dovecot.restart_after(0.5))
        await put_cursor_on(pilot, ml, moved)
        await move_to(pilot, app, "Archive")
        await probe.until(lambda: restart.done() and moved not in ml.uids, what="the move")
        await probe.until(lambda: connection(app) == "connected", what="connected")
        await probe.during(1.0)  # whatever the IDLE connection does after the restart
        assert connection(app) == "connected"
        await browse_still_works(pilot, app, probe)
        print(f"longest key wait {probe.longest:.3f} s over {len(probe.gaps)} presses")
        assert probe.longest < FREEZE_BOUND
    copies = await copies_by_message_id(mail_user, ("INBOX", "Archive"))
    assert copies["Archive"] == {mid(2): 1}
    assert copies["INBOX"] == {mid(i): 1 for i in (1, 3, 4, 5)}
    assert Flag.FLAGGED in (await flags_by_message_id(mail_user, "INBOX"))[mid(1)]


async def test_long_dovecot_outage_shows_offline_then_reconnects(
    sandbox: Any, mail_user: Any, tmp_path_fast: Path, dovecot: Outage
) -> None:
    deliver(sandbox, mail_user, 3)
    app = make_app(mail_user, tmp_path_fast)
    async with app.run_test(size=(140, 40)) as pilot:
        probe = KeyProbe(pilot)
        ml = await start(pilot, app, probe, 3)
        flagged = uid_with(ml, mid(1))
        await dovecot.stop()
        await put_cursor_on(pilot, ml, flagged)
        await pilot.press("F")  # fails once the client's retries are spent
        await probe.until(lambda: connection(app).startswith("offline"), what="offline shown")
        status = main_screen(app).status
        await probe.until(lambda: "retrying" in status.text, what="the retry countdown")
        # Not applied, and not applied later behind the user's back.
        await dovecot.start()
        await probe.until(lambda: connection(app) == "connected", what="reconnected")
        await probe.until(lambda: list_ready(app, 3), what="the list again")
        assert Flag.FLAGGED not in (await flags_by_message_id(mail_user, "INBOX"))[mid(1)]
        ml = main_screen(app).query_one(MessageList)
        assert not is_flagged(ml, flagged)
        # The user repeats it: applied once.
        ml.focus()
        await put_cursor_on(pilot, ml, flagged)
        await pilot.press("F")
        await probe.until(lambda: is_flagged(ml, flagged), what="the flag shown")
        await browse_still_works(pilot, app, probe)
        print(f"longest key wait {probe.longest:.3f} s over {len(probe.gaps)} presses")
        assert probe.longest < FREEZE_BOUND
    assert Flag.FLAGGED in (await flags_by_message_id(mail_user, "INBOX"))[mid(1)]


# -- SMTP -------------------------------------------------------------------------------------------


async def compose_and_send(
    pilot: Any,
    app: TermailApp,
    probe: KeyProbe,
    to: str,
    subject: str,
    before_send: Callable[[], Awaitable[None]] | None = None,
) -> bool:
    """m, fill in, ctrl+s, (`before_send`), y; returns once the compose screen is gone,
    saying whether its "sending" bar was seen moving meanwhile."""
    await pilot.press("m")
    await probe.until(lambda: isinstance(app.screen, ComposeScreen), what="compose")
    screen = app.screen
    screen.query_one("#to", Input).value = to
    screen.query_one("#subject", Input).value = subject
    screen.query_one("#body", TextArea).text = "Sent through a fault.\n"
    await pilot.press("ctrl+s")
    await probe.until(lambda: isinstance(app.screen, ConfirmDialog), what="confirm")
    if before_send is not None:
        await before_send()
    await pilot.press("y")
    # While it sends, keys that do nothing in the editor (f11) measure the UI.
    quiet = KeyProbe(pilot, keys=("f11",), gaps=probe.gaps)
    busy_seen: list[bool] = []

    def back_on_main() -> bool:
        if isinstance(app.screen, ComposeScreen):
            busy_seen.append(bool(app.screen.query_one("#compose-busy").display))
        return isinstance(app.screen, MainScreen)

    await quiet.until(back_on_main, timeout=TIMEOUT * 3)
    return any(busy_seen)


async def retry_from_outbox(pilot: Any, app: TermailApp, probe: KeyProbe, outbox: Outbox) -> None:
    """O, r (the oldest entry is highlighted on opening), then wait until the outbox is empty."""
    await pilot.press("O")
    await probe.until(lambda: isinstance(app.screen, OutboxScreen), what="the outbox screen")
    await pilot.press("r")
    quiet = KeyProbe(pilot, keys=("f11",), gaps=probe.gaps)
    await quiet.until(lambda: outbox.list() == [], timeout=TIMEOUT * 3, what="the outbox emptied")
    await pilot.press("escape")


async def delivered(friend: Any, subject_id: str) -> int:
    copies = await copies_by_message_id(friend, ("INBOX",))
    return copies["INBOX"].get(subject_id, 0)


def queued_message_id(outbox: Outbox) -> str:
    import email

    [entry] = outbox.list()
    return str(email.message_from_bytes(outbox.message(entry.id))["Message-ID"])


async def test_send_while_the_smtp_server_is_down(
    sandbox: Any, mail_user: Any, tmp_path_fast: Path, smtpd: Outage
) -> None:
    friend = sandbox.add_user(mail_user.name + "u")
    deliver(sandbox, mail_user, 1)
    app = make_app(mail_user, tmp_path_fast)
    outbox = Outbox(tmp_path_fast)
    async with app.run_test(size=(140, 40)) as pilot:
        probe = KeyProbe(pilot)
        await start(pilot, app, probe, 1)
        await smtpd.stop()
        await compose_and_send(pilot, app, probe, friend.address, "while the server is down")
        message_id = queued_message_id(outbox)
        assert connection(app) == "connected"  # IMAP is not affected
        await smtpd.start()
        await retry_from_outbox(pilot, app, probe, outbox)
        await probe.until(lambda: isinstance(app.screen, MainScreen), what="back")
        await browse_still_works(pilot, app, probe)
        print(f"longest key wait {probe.longest:.3f} s over {len(probe.gaps)} presses")
        assert probe.longest < FREEZE_BOUND
    assert await delivered(friend, message_id) == 1
    assert (await copies_by_message_id(mail_user, ("Sent",)))["Sent"] == {message_id: 1}


#: Cuts and a stall of the send's connection, by the client's TLS records (implicit TLS port):
#: 5 = MAIL, 7 = DATA, 8 = the message (see tests/integration/test_faults.py).
UI_STAGES = {
    "cut-at-mail": Fault("cut", record=5, direction="up"),
    "cut-at-data": Fault("cut", record=7, direction="up"),
    "cut-in-message": Fault("cut", record=8, direction="up"),
    "stall-at-data": Fault("stall", record=7, direction="up", seconds=60),
}


@pytest.mark.parametrize("stage", list(UI_STAGES))
async def test_send_interrupted_by_the_network(
    sandbox: Any, mail_user: Any, tmp_path_fast: Path, stage: str
) -> None:
    friend = sandbox.add_user(f"{mail_user.name}n{list(UI_STAGES).index(stage)}")
    deliver(sandbox, mail_user, 1)
    outbox = Outbox(tmp_path_fast)
    template = UI_STAGES[stage]
    fault = Fault(**{k: getattr(template, k) for k in template.__dataclass_fields__})
    async with FaultProxy(sandbox.host, sandbox.smtps_port) as proxy:

        async def arm() -> None:
            """The fault hits the send's connection (compose opens one to learn the size
            limit; it must be over first)."""
            await probe.until(lambda: all(s.closed for s in proxy.stats), what="probe done")
            fault.connections = {proxy.connections}
            proxy.add(fault)

        app = make_app(mail_user, tmp_path_fast, smtp_port=proxy.port, smtp_tls=TlsMode.IMPLICIT)
        async with app.run_test(size=(140, 40)) as pilot:
            probe = KeyProbe(pilot)
            await start(pilot, app, probe, 1)
            busy = await compose_and_send(pilot, app, probe, friend.address, stage, arm)
            if stage.startswith("stall"):
                assert busy  # a send that hangs shows its moving bar, not a frozen screen
            assert [s.faults for s in proxy.stats if s.faults], proxy.stats
            message_id = queued_message_id(outbox)
            assert await delivered(friend, message_id) == 0
            await retry_from_outbox(pilot, app, probe, outbox)  # a new connection: no fault
            await probe.during(0.3)
            assert isinstance(app.screen, MainScreen)
            print(f"{stage}: longest key wait {probe.longest:.3f} s over {len(probe.gaps)}")
            assert probe.longest < FREEZE_BOUND
    assert await delivered(friend, message_id) == 1


async def test_retry_right_after_opening_the_outbox(
    sandbox: Any, mail_user: Any, tmp_path_fast: Path, smtpd: Outage
) -> None:
    friend = sandbox.add_user(mail_user.name + "o")
    deliver(sandbox, mail_user, 1)
    app = make_app(mail_user, tmp_path_fast)
    outbox = Outbox(tmp_path_fast)
    async with app.run_test(size=(140, 40)) as pilot:
        probe = KeyProbe(pilot)
        await start(pilot, app, probe, 1)
        await smtpd.stop()
        await compose_and_send(pilot, app, probe, friend.address, "retry at once")
        await smtpd.start()
        await pilot.press("O")
        await probe.until(lambda: isinstance(app.screen, OutboxScreen), what="the outbox screen")
        await pilot.press("r")
        quiet = KeyProbe(pilot, keys=("f11",))
        await quiet.until(lambda: outbox.list() == [], timeout=3.0, what="sent")


async def test_imap_connection_stalls_while_opening_a_message(
    sandbox: Any, mail_user: Any, tmp_path_fast: Path
) -> None:
    """The server stops answering mid-session: the UI answers keys meanwhile, the timeout drops
    the connection, and the message opens on a new one."""
    deliver(sandbox, mail_user, 3)
    async with FaultProxy(sandbox.host, sandbox.imaps_port) as proxy:
        account = Account(
            mail_user.name,
            mail_user.imap_settings(TlsMode.IMPLICIT, timeout=TIMEOUT, port=proxy.port),
            mail_user.credentials,
            addresses=[mail_user.address],
            data_dir=tmp_path_fast,
        )
        app = TermailApp([account])
        async with app.run_test(size=(140, 40)) as pilot:
            probe = KeyProbe(pilot)
            await start(pilot, app, probe, 3)
            await probe.during(0.5)  # let the IDLE watcher settle on its own connection
            proxy.add(Fault("stall", at=proxy.stats[0].down, seconds=120))
            viewer = main_screen(app).query_one(MessageView)
            await pilot.press("enter")
            rendered = await probe.until(
                lambda: viewer.rendered, timeout=TIMEOUT * 4, what="the message shown"
            )
            assert "Body of message" in rendered.body
            assert proxy.stats[0].faults and proxy.connections >= 3
            assert connection(app) == "connected"
            print(f"longest key wait {probe.longest:.3f} s over {len(probe.gaps)} presses")
            assert probe.longest < FREEZE_BOUND
