"""Server faults at the Account level: Dovecot and the SMTP server killed mid-operation and
restarted, and a send cut at each SMTP stage by the fault proxy.

What must hold after each fault: the account keeps working once the server is back; a flag or a
move made during the fault is applied exactly once (checked on the server with a connection of
its own); a send that did not complete leaves the message in the outbox, byte for byte, and a
later retry delivers it exactly once.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.account import Account
from app.imap.client import ImapClient
from app.imap.errors import ImapConnectionError
from app.mime.compose import Draft, Identity
from app.models import Flag, TlsMode
from app.smtp.outbox import Outbox
from app.smtp.sending import SendOutcome, flush_outbox, send_draft
from tests.faults.proxy import Fault, FaultProxy
from tests.faults.servers import (
    Outage,
    copies_by_message_id,
    deliver_numbered,
    flags_by_message_id,
    wait_for,
)

pytestmark = pytest.mark.integration

#: The accounts' network timeout here: short, so a stalled connection fails fast.
TIMEOUT = 4.0
#: The client's reconnection backoff here: a short outage is bridged by the retries.
BACKOFF = (0.1, 0.3, 0.6)


@pytest.fixture
def dovecot(sandbox: Any) -> Iterator[Outage]:
    """Kill/restart Dovecot; running again after the test whatever happened."""
    outage = Outage(sandbox, "dovecot")
    yield outage
    outage.restore()


@pytest.fixture
def smtpd(sandbox: Any) -> Iterator[Outage]:
    outage = Outage(sandbox, "smtp")
    yield outage
    outage.restore()
    sandbox.clear_smtp_rules()


def mid(i: int) -> str:
    return f"<fault{i}@faults.test>"


def deliver(sandbox: Any, user: Any, n: int) -> None:
    deliver_numbered(sandbox, user, n, "fault test", mid)


def make_account(
    user: Any,
    data_dir: Path,
    *,
    imap_port: int | None = None,
    imap_tls: TlsMode = TlsMode.IMPLICIT,
    smtp_port: int | None = None,
    smtp_tls: TlsMode = TlsMode.STARTTLS,
    **imap_overrides: Any,
) -> Account:
    if imap_tls is TlsMode.NONE:  # the proxy matches commands: no COMPRESS to hide them
        imap_overrides.setdefault("compress", False)
    imap = user.imap_settings(imap_tls, timeout=TIMEOUT, **imap_overrides)
    if imap_port is not None:
        imap = user.imap_settings(imap_tls, timeout=TIMEOUT, port=imap_port, **imap_overrides)
    smtp = user.smtp_settings(smtp_tls, timeout=TIMEOUT)
    if smtp_port is not None:
        smtp = user.smtp_settings(smtp_tls, timeout=TIMEOUT, port=smtp_port)
    return Account(
        user.name,
        imap,
        user.credentials,
        smtp=smtp,
        addresses=[user.address],
        display_name="Fault Tester",
        data_dir=data_dir,
    )


async def open_inbox(account: Account) -> list[int]:
    await account.connect()
    account.client.backoff = BACKOFF
    await account.load_folders()
    inbox = account.folder("INBOX")
    assert inbox is not None
    opened = await account.open_folder(inbox)
    return opened.uids


async def uid_of(account: Account, message_id: str) -> int:
    assert account.current is not None
    for summary in await account.summaries_for(account.current.uids):
        if summary.envelope.message_id == message_id:
            return summary.uid
    raise AssertionError(f"{message_id} not in the open folder")


async def still_browsing(account: Account, message_id: str) -> None:
    """The account works again: the folder reopens and a message renders."""
    inbox = account.folder("INBOX")
    assert inbox is not None
    await account.open_folder(inbox)
    rendered = await account.load_message(await uid_of(account, message_id))
    assert rendered.message_id == message_id and "Body of message" in rendered.body


# -- Dovecot killed ---------------------------------------------------------------------------------


async def test_short_dovecot_outage_flag_and_move_applied_once(
    sandbox: Any, mail_user: Any, tmp_path_fast: Path, dovecot: Outage
) -> None:
    deliver(sandbox, mail_user, 4)
    account = make_account(mail_user, tmp_path_fast)
    await open_inbox(account)
    flagged, moved = await uid_of(account, mid(1)), await uid_of(account, mid(2))
    await dovecot.stop()
    restart = asyncio.ensure_future(dovecot.restart_after(0.3))
    # Both made while the server is down; the client reconnects within its retries.
    await account.set_flag([flagged], Flag.FLAGGED, True)
    await account.move([moved], "Archive")
    await restart
    assert account.client.reconnects >= 1
    copies = await copies_by_message_id(mail_user, ("INBOX", "Archive"))
    assert copies["Archive"] == {mid(2): 1}
    assert copies["INBOX"] == {mid(1): 1, mid(3): 1, mid(4): 1}
    assert Flag.FLAGGED in (await flags_by_message_id(mail_user, "INBOX"))[mid(1)]
    assert account.current is not None and moved not in account.current.uids
    await still_browsing(account, mid(3))
    await account.close()


async def test_long_dovecot_outage_fails_cleanly_and_a_repeat_applies_once(
    sandbox: Any, mail_user: Any, tmp_path_fast: Path, dovecot: Outage
) -> None:
    deliver(sandbox, mail_user, 3)
    account = make_account(mail_user, tmp_path_fast)
    await open_inbox(account)
    flagged, moved = await uid_of(account, mid(1)), await uid_of(account, mid(2))
    await dovecot.stop()
    # Down for longer than the client's retries: each action fails, saying it was not applied.
    with pytest.raises(ImapConnectionError) as flag_error:
        await account.set_flag([flagged], Flag.FLAGGED, True)
    assert flag_error.value.applied is False and "can be repeated safely" in str(flag_error.value)
    with pytest.raises(ImapConnectionError) as move_error:
        await account.move([moved], "Archive")
    assert move_error.value.applied is False, str(move_error.value)
    await dovecot.start()
    # Nothing was applied behind the user's back.
    copies = await copies_by_message_id(mail_user, ("INBOX", "Archive"))
    assert copies == {"INBOX": {mid(1): 1, mid(2): 1, mid(3): 1}, "Archive": {}}
    assert Flag.FLAGGED not in (await flags_by_message_id(mail_user, "INBOX"))[mid(1)]
    # The user repeats both: each lands exactly once.
    await account.set_flag([flagged], Flag.FLAGGED, True)
    await account.move([moved], "Archive")
    copies = await copies_by_message_id(mail_user, ("INBOX", "Archive"))
    assert copies == {"INBOX": {mid(1): 1, mid(3): 1}, "Archive": {mid(2): 1}}
    assert Flag.FLAGGED in (await flags_by_message_id(mail_user, "INBOX"))[mid(1)]
    await still_browsing(account, mid(3))
    await account.close()


async def test_dovecot_killed_in_the_middle_of_a_fetch(
    sandbox: Any, mail_user: Any, tmp_path_fast: Path, dovecot: Outage
) -> None:
    sandbox.seed_generated(mail_user.name, 500)
    async with FaultProxy(sandbox.host, sandbox.imap_port) as proxy:
        account = make_account(
            mail_user,
            tmp_path_fast,
            imap_port=proxy.port,
            imap_tls=TlsMode.NONE,
            allow_insecure=True,
        )
        await account.connect()
        account.client.backoff = BACKOFF
        await account.client.select("INBOX")
        uids = await account.client.uid_list()
        # The FETCH is on its way (its first bytes passed) when the server is killed.
        proxy.add(Fault("stall", after=b"UID FETCH", direction="up", seconds=0.5))
        fetch = asyncio.ensure_future(account.client.fetch_summaries(uids))
        await wait_for(lambda: proxy.stats[0].faults, 10, what="the stall")
        await dovecot.stop()
        await dovecot.restart_after(0.2)
        summaries = await fetch
        assert [s.uid for s in summaries] == uids and len(uids) == 500
        assert all(s.envelope.subject for s in summaries)
        assert account.client.reconnects >= 1
        await account.close()


async def _move_interrupted(
    sandbox: Any, user: Any, data_dir: Path, dovecot: Outage, fault: Fault
) -> tuple[Account, ImapConnectionError]:
    """Open INBOX through a plaintext proxy; kill Dovecot while `fault` holds the MOVE."""
    async with FaultProxy(sandbox.host, sandbox.imap_port) as proxy:
        account = make_account(
            user, data_dir, imap_port=proxy.port, imap_tls=TlsMode.NONE, allow_insecure=True
        )
        await open_inbox(account)
        moved = await uid_of(account, mid(2))
        proxy.add(fault)
        move = asyncio.ensure_future(account.move([moved], "Archive"))
        await wait_for(lambda: proxy.stats[-1].faults or move.done(), 10, what="the stall")
        await dovecot.stop()
        await dovecot.start()
        with pytest.raises(ImapConnectionError) as info:
            await move
        return account, info.value


async def test_dovecot_killed_before_a_move_arrived_nothing_applied(
    sandbox: Any, mail_user: Any, tmp_path_fast: Path, dovecot: Outage
) -> None:
    deliver(sandbox, mail_user, 3)
    # The command's first bytes reach the server, the rest is held: it never completes.
    fault = Fault("stall", after=b"UID MOVE", direction="up", seconds=1.0)
    account, error = await _move_interrupted(sandbox, mail_user, tmp_path_fast, dovecot, fault)
    assert error.applied in (None, False) and "moving 1 message" in str(error)
    copies = await copies_by_message_id(mail_user, ("INBOX", "Archive"))
    assert copies == {"INBOX": {mid(1): 1, mid(2): 1, mid(3): 1}, "Archive": {}}
    await account.close()


async def test_dovecot_killed_before_a_move_was_answered_applied_once(
    sandbox: Any, mail_user: Any, tmp_path_fast: Path, dovecot: Outage
) -> None:
    deliver(sandbox, mail_user, 3)
    # The whole command reaches the server; its answer is held until the server is gone.
    answer_held = Fault("stall", after=b"COPYUID", direction="down", seconds=1.0)
    async with FaultProxy(sandbox.host, sandbox.imap_port) as proxy:
        account = make_account(
            mail_user,
            tmp_path_fast,
            imap_port=proxy.port,
            imap_tls=TlsMode.NONE,
            allow_insecure=True,
        )
        await open_inbox(account)
        moved = await uid_of(account, mid(2))
        proxy.add(answer_held)
        move = asyncio.ensure_future(account.move([moved], "Archive"))
        await wait_for(lambda: proxy.stats[-1].faults or move.done(), 10, what="the stall")
        await dovecot.stop()
        await dovecot.start()
        try:
            await move
        except ImapConnectionError as exc:
            # Never repeated blindly: the user is told it may have happened.
            assert exc.applied is None and "may or may not" in str(exc)
    copies = await copies_by_message_id(mail_user, ("INBOX", "Archive"))
    assert copies == {"INBOX": {mid(1): 1, mid(3): 1}, "Archive": {mid(2): 1}}
    await account.close()


# -- SMTP -------------------------------------------------------------------------------------------


def draft_for(user: Any, friend: Any, subject: str) -> Draft:
    return Draft(
        from_=Identity("Fault Tester", user.address),
        to=[friend.address],
        subject=subject,
        body="Sent through a fault.\n",
    )


def message_id(outcome: SendOutcome) -> str:
    assert outcome.submitted is not None, outcome.message
    return str(outcome.submitted.message["Message-ID"])


async def delivered(friend: Any, message_id: str) -> int:
    copies = await copies_by_message_id(friend, ("INBOX",))
    return copies["INBOX"].get(message_id, 0)


async def retry_all(account: Account, outbox: Outbox) -> list[Any]:
    """What the outbox screen's "retry now" does, for every entry."""
    for entry in outbox.list():
        outbox.retry_now(entry.id)
    return await flush_outbox(account, outbox=outbox)


async def test_send_while_the_smtp_server_is_down_is_queued_and_delivered_once(
    sandbox: Any, mail_user: Any, tmp_path_fast: Path, smtpd: Outage
) -> None:
    friend = sandbox.add_user(mail_user.name + "r")
    account = make_account(mail_user, tmp_path_fast)
    await open_inbox(account)
    outbox = Outbox(tmp_path_fast)
    await smtpd.stop()
    outcome = await send_draft(account, draft_for(mail_user, friend, "while down"), outbox=outbox)
    assert outcome.queued and not outcome.sent, outcome.message
    [entry] = outbox.list()
    assert outbox.message(entry.id) == outcome.submitted.data  # type: ignore[union-attr]
    await smtpd.start()
    attempts = await retry_all(account, outbox)
    assert [a.status for a in attempts] == ["sent"]
    assert outbox.list() == []
    assert await delivered(friend, message_id(outcome)) == 1
    sent = await copies_by_message_id(mail_user, ("Sent",))
    assert sent["Sent"] == {message_id(outcome): 1}
    await account.close()


async def test_smtp_server_killed_while_the_message_is_in_transit(
    sandbox: Any, mail_user: Any, tmp_path_fast: Path, smtpd: Outage
) -> None:
    friend = sandbox.add_user(mail_user.name + "k")
    outbox = Outbox(tmp_path_fast)
    async with FaultProxy(sandbox.host, sandbox.smtps_port) as proxy:
        account = make_account(
            mail_user, tmp_path_fast, smtp_port=proxy.port, smtp_tls=TlsMode.IMPLICIT
        )
        # The message's TLS record is held at the proxy while the server is killed.
        proxy.add(Fault("stall", record=8, direction="up", seconds=0.5))
        draft = draft_for(mail_user, friend, "killed in transit")
        send = asyncio.ensure_future(send_draft(account, draft, outbox=outbox))
        await wait_for(lambda: proxy.stats and proxy.stats[0].faults, 10, what="the stall")
        await smtpd.stop()
        outcome = await send
        assert outcome.queued, outcome.message
        assert await delivered(friend, message_id(outcome)) == 0
        await smtpd.start()
        attempts = await retry_all(account, outbox)
    assert [a.status for a in attempts] == ["sent"]
    assert await delivered(friend, message_id(outcome)) == 1


#: Where a send is cut. STARTTLS port: by the plaintext commands. Implicit TLS port: by the
#: client's TLS records (0 ClientHello, 1 ChangeCipherSpec, 2 Finished, 3 EHLO, 4 AUTH,
#: 5 MAIL, 6 RCPT, 7 DATA, 8 the message), checked by a clean send in `test_record_layout`.
STAGES: dict[str, tuple[TlsMode, Fault]] = {
    "connect": (TlsMode.STARTTLS, Fault("cut", at=0, direction="down")),
    "greeting": (TlsMode.STARTTLS, Fault("cut", at=10, direction="down")),
    "ehlo": (TlsMode.STARTTLS, Fault("cut", after=b"EHLO", direction="up")),
    "starttls": (TlsMode.STARTTLS, Fault("cut", after=b"STARTTLS\r\n", direction="up")),
    "tls-handshake": (TlsMode.IMPLICIT, Fault("cut", record=1, direction="up")),
    "auth": (TlsMode.IMPLICIT, Fault("cut", record=4, direction="up")),
    "mail": (TlsMode.IMPLICIT, Fault("cut", record=5, direction="up")),
    "rcpt": (TlsMode.IMPLICIT, Fault("cut", record=6, direction="up")),
    "data": (TlsMode.IMPLICIT, Fault("cut", record=7, direction="up")),
    "message": (TlsMode.IMPLICIT, Fault("cut", record=8, direction="up")),
    "stall-at-mail": (TlsMode.IMPLICIT, Fault("stall", record=5, direction="up", seconds=30)),
}


def _port(sandbox: Any, tls: TlsMode) -> int:
    return int(sandbox.smtps_port if tls is TlsMode.IMPLICIT else sandbox.smtp_port)


async def _clean_send_records(sandbox: Any, user: Any, friend: Any, data_dir: Path) -> Any:
    """A send through a proxy without faults; the connection's stats."""
    async with FaultProxy(sandbox.host, sandbox.smtps_port) as proxy:
        account = make_account(user, data_dir, smtp_port=proxy.port, smtp_tls=TlsMode.IMPLICIT)
        outcome = await send_draft(
            account, draft_for(user, friend, "calibration"), outbox=Outbox(data_dir)
        )
        assert outcome.sent, outcome.message
        await asyncio.sleep(0.1)
        return proxy.stats[0]


async def test_record_layout(sandbox: Any, mail_user: Any, tmp_path_fast: Path) -> None:
    """The client's TLS records are as STAGES says: commands of known sizes, one a record."""
    friend = sandbox.add_user(mail_user.name + "l")
    stats = await _clean_send_records(sandbox, mail_user, friend, tmp_path_fast)
    starts = stats.records["up"]
    sizes = [b - a - 22 for a, b in itertools.pairwise(starts)]  # AES-GCM overhead
    assert sizes[3] == len("EHLO [127.0.0.1]\r\n")
    assert sizes[5] >= len(f"MAIL FROM:<{mail_user.address}>\r\n")
    assert sizes[6] == len(f"RCPT TO:<{friend.address}>\r\n")
    assert sizes[7] == len("DATA\r\n")
    assert sizes[9] == len("QUIT\r\n")


@pytest.mark.parametrize("stage", list(STAGES))
async def test_send_cut_at_each_smtp_stage_is_queued_and_delivered_once(
    sandbox: Any, mail_user: Any, tmp_path_fast: Path, stage: str
) -> None:
    friend = sandbox.add_user(f"{mail_user.name}s{list(STAGES).index(stage)}")
    tls, template = STAGES[stage]
    fault = Fault(**{k: getattr(template, k) for k in template.__dataclass_fields__})
    outbox = Outbox(tmp_path_fast)
    async with FaultProxy(sandbox.host, _port(sandbox, tls)) as proxy:
        account = make_account(mail_user, tmp_path_fast, smtp_port=proxy.port, smtp_tls=tls)
        proxy.add(fault)
        started = time.monotonic()
        outcome = await send_draft(account, draft_for(mail_user, friend, stage), outbox=outbox)
        took = time.monotonic() - started
        assert proxy.stats[0].faults, f"the fault never struck: {proxy.stats[0].chunks}"
        assert outcome.queued and not outcome.sent, outcome.message
        print(f"{stage}: queued after {took:.2f} s: {outcome.message}")
        [entry] = outbox.list()
        assert outbox.message(entry.id) == outcome.submitted.data  # type: ignore[union-attr]
        assert await delivered(friend, message_id(outcome)) == 0
        attempts = await retry_all(account, outbox)  # connection 1: no fault
    assert [a.status for a in attempts] == ["sent"]
    assert outbox.list() == []
    assert await delivered(friend, message_id(outcome)) == 1


async def test_send_cut_after_the_message_before_the_reply(
    sandbox: Any, mail_user: Any, tmp_path_fast: Path
) -> None:
    """The server took the message but its 250 never arrives: SMTP cannot tell (RFC 1047).

    Kept and retried, so nothing is lost; the price is a second copy, with the same
    Message-ID so the recipient's client can fold them.
    """
    friend = sandbox.add_user(mail_user.name + "p")
    calibration = await _clean_send_records(sandbox, mail_user, friend, tmp_path_fast)
    body_at = calibration.records["up"][8]
    order = calibration.chunks
    k = next(i for i, (d, o, n) in enumerate(order) if d == "up" and o <= body_at < o + n)
    reply_at = next(o for d, o, _ in order[k:] if d == "down")
    reply_record = calibration.records["down"].index(reply_at)
    outbox = Outbox(tmp_path_fast / "p")
    async with FaultProxy(sandbox.host, sandbox.smtps_port) as proxy:
        account = make_account(
            mail_user, tmp_path_fast, smtp_port=proxy.port, smtp_tls=TlsMode.IMPLICIT
        )
        proxy.add(Fault("cut", record=reply_record, direction="down"))
        outcome = await send_draft(account, draft_for(mail_user, friend, "reply"), outbox=outbox)
        assert proxy.stats[0].faults
        assert outcome.queued, outcome.message
        assert await delivered(friend, message_id(outcome)) == 1  # it did arrive
        attempts = await retry_all(account, outbox)
    assert [a.status for a in attempts] == ["sent"] and outbox.list() == []
    assert await delivered(friend, message_id(outcome)) == 2


@pytest.mark.parametrize(
    ("stage", "code"), [("rcpt", 450), ("rcpt", 451), ("data", 451), ("data", 421)]
)
async def test_forced_temporary_reply_is_queued_and_delivered_once(
    sandbox: Any, mail_user: Any, tmp_path_fast: Path, smtpd: Outage, stage: str, code: int
) -> None:
    friend = sandbox.add_user(f"{mail_user.name}c{code}{stage[0]}")
    sandbox.force_smtp_reply(code, recipient=friend.address if stage == "rcpt" else None, times=1)
    account = make_account(mail_user, tmp_path_fast)
    outbox = Outbox(tmp_path_fast)
    outcome = await send_draft(account, draft_for(mail_user, friend, "forced"), outbox=outbox)
    assert outcome.queued, outcome.message
    assert [e.last_code for e in outbox.list()] == [code]
    assert await delivered(friend, message_id(outcome)) == 0
    attempts = await retry_all(account, outbox)
    assert [a.status for a in attempts] == ["sent"]
    assert await delivered(friend, message_id(outcome)) == 1


async def test_imap_reconnect_through_a_cut_tls_handshake(
    sandbox: Any, mail_user: Any, tmp_path_fast: Path
) -> None:
    """A connection cut during the TLS handshake is a network fault, not a TLS refusal."""
    deliver(sandbox, mail_user, 2)
    async with FaultProxy(sandbox.host, sandbox.imaps_port) as proxy:
        settings = mail_user.imap_settings(TlsMode.IMPLICIT, port=proxy.port, timeout=TIMEOUT)
        client = await ImapClient.connect(settings, mail_user.credentials(), backoff=BACKOFF)
        await client.select("INBOX")
        client.connection.protocol.transport.abort()  # type: ignore[union-attr]
        # The reconnection's handshake is cut; the next one works.
        proxy.add(Fault("cut", record=1, direction="up", connections={1}))
        assert len(await client.uid_list()) == 2
        assert proxy.connections >= 3 and proxy.stats[1].faults
        await client.close()
