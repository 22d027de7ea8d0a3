"""The outbox and the draft store: atomic files, backoff, retry outcomes, SIGKILL safety."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from app.mime.compose import Attachment, Draft, Identity
from app.smtp.outbox import (
    BACKOFF_CAP,
    DraftNotFound,
    DraftStore,
    DraftStoreError,
    EntryNotFound,
    Outbox,
    OutboxEntry,
    OutboxError,
    backoff_delay,
    process,
)
from app.smtp.submit import (
    SendResult,
    SmtpConnectError,
    SmtpDataError,
    SmtpRecipientsRefused,
)

ROOT = Path(__file__).resolve().parents[2]
MSG = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nbody\r\n"


@pytest.fixture
def outbox(tmp_path_fast: Path) -> Outbox:
    return Outbox(tmp_path_fast)


def test_add_list_message_remove(outbox: Outbox) -> None:
    first = outbox.add(MSG, "a@example.org", ["b@example.org", "c@example.org"], "work")
    second = outbox.add(MSG + b"2", "a@example.org", ["d@example.org"], "home")
    entries = outbox.list()
    assert [e.id for e in entries] == [first, second]
    entry = entries[0]
    assert entry.recipients == ("b@example.org", "c@example.org")
    assert entry.account == "work" and entry.envelope_from == "a@example.org"
    assert entry.size == len(MSG) and entry.state == "queued"
    assert outbox.message(first) == MSG
    assert outbox.message(second) == MSG + b"2"
    assert os.listdir(outbox.tmp) == []
    assert oct(os.stat(outbox.cur / first).st_mode & 0o777) == "0o600"
    outbox.remove(first)
    assert [e.id for e in outbox.list()] == [second]
    with pytest.raises(EntryNotFound):
        outbox.remove(first)
    with pytest.raises(EntryNotFound):
        outbox.get("../../etc/passwd")
    with pytest.raises(OutboxError):
        outbox.add(MSG, "a@example.org", [], "work")


def test_backoff_doubles_and_is_capped() -> None:
    delays = [backoff_delay(n) for n in range(1, 12)]
    assert delays[:5] == [30, 60, 120, 240, 480]
    assert delays[-1] == BACKOFF_CAP == 3600
    assert all(a <= b for a, b in itertools.pairwise(delays))
    assert backoff_delay(0) == 0 and backoff_delay(10_000) == 3600


def test_mark_attempt_due_and_retry_now(outbox: Outbox) -> None:
    entry_id = outbox.add(MSG, "a@example.org", ["b@example.org"], "work")
    assert [e.id for e in outbox.due(0)] == [entry_id]
    entry = outbox.mark_attempt(entry_id, SmtpConnectError("refused"), now=1000.0)
    assert entry.attempts == 1 and entry.next_try == 1030.0 and not entry.failed
    assert entry.state == "retrying"
    assert outbox.due(1029.0) == [] and [e.id for e in outbox.due(1030.0)] == [entry_id]
    entry = outbox.mark_attempt(entry_id, "again", now=2000.0)
    assert entry.attempts == 2 and entry.next_try == 2060.0
    entry = outbox.mark_attempt(entry_id, SmtpDataError("5.7.1 no", 554), now=3000.0)
    assert entry.failed and entry.last_code == 554 and "5.7.1 no" in (entry.last_error or "")
    assert outbox.due(10**12) == []
    assert outbox.get(entry_id).state == "failed"
    assert outbox.message(entry_id) == MSG  # the message survives every rewrite
    entry = outbox.retry_now(entry_id, now=5.0)
    assert not entry.failed and [e.id for e in outbox.due(5.0)] == [entry_id]


def test_a_failed_write_leaves_nothing(outbox: Outbox, monkeypatch: pytest.MonkeyPatch) -> None:
    kept = outbox.add(MSG, "a@example.org", ["b@example.org"], "work")

    def broken_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OutboxError):
        outbox.add(MSG, "a@example.org", ["c@example.org"], "work")
    with pytest.raises(OutboxError):
        outbox.mark_attempt(kept, "x")
    monkeypatch.undo()
    assert [e.id for e in outbox.list()] == [kept]
    assert outbox.get(kept).attempts == 0
    assert os.listdir(outbox.tmp) == []


def test_corrupt_entry_is_shown_never_sent_never_deleted(outbox: Outbox) -> None:
    good = outbox.add(MSG, "a@example.org", ["b@example.org"], "work")
    (outbox.cur / "1.bad.host").write_bytes(b"garbage\n{not json\n")
    damaged = outbox.add(MSG, "a@example.org", ["b@example.org"], "work")
    path = outbox.cur / damaged
    path.write_bytes(path.read_bytes()[:-3])  # bytes lost behind our back
    entries = {e.id: e for e in outbox.list()}
    assert entries["1.bad.host"].corrupt and entries["1.bad.host"].state == "failed"
    assert {e.id for e in outbox.due(10**12)} == {good, damaged}
    with pytest.raises(OutboxError):
        outbox.message("1.bad.host")
    with pytest.raises(OutboxError, match="checksum"):
        outbox.message(damaged)
    outbox.remove("1.bad.host")


def test_stale_tmp_files_are_cleaned(tmp_path_fast: Path) -> None:
    Outbox(tmp_path_fast)
    leftover = tmp_path_fast / "outbox" / "tmp" / "123.half.tmp"
    leftover.write_bytes(b"half")
    Outbox(tmp_path_fast)  # recent: maybe another process is writing it
    assert leftover.exists()
    Outbox(tmp_path_fast, stale_tmp_seconds=-1)
    assert not leftover.exists()


# -- process ----------------------------------------------------------------------------------


class FakeSender:
    """Answers each call from a script: a SendResult, or an exception to raise."""

    def __init__(self, *answers: object) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[tuple[str, ...], bytes]] = []

    async def __call__(self, entry: OutboxEntry, data: bytes) -> SendResult:
        self.calls.append((entry.recipients, data))
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        assert isinstance(answer, SendResult)
        return answer


async def test_process_success_removes(outbox: Outbox) -> None:
    entry_id = outbox.add(MSG, "a@example.org", ["b@example.org"], "work")
    sender = FakeSender(SendResult(["b@example.org"]))
    (attempt,) = await process(outbox, sender, now=0)
    assert attempt.status == "sent" and attempt.entry_id == entry_id
    assert sender.calls == [(("b@example.org",), MSG)]
    assert outbox.list() == []


async def test_process_transient_keeps_with_backoff_then_delivers(outbox: Outbox) -> None:
    entry_id = outbox.add(MSG, "a@example.org", ["b@example.org"], "work")
    sender = FakeSender(
        SmtpConnectError("connection refused"),
        SmtpDataError("4.3.0 try later", 451),
        SendResult(["b@example.org"]),
    )
    (attempt,) = await process(outbox, sender, now=100.0)
    assert attempt.status == "retry"
    assert outbox.get(entry_id).next_try == 130.0
    assert await process(outbox, sender, now=129.0) == []  # not due yet
    (attempt,) = await process(outbox, sender, now=130.0)
    assert attempt.status == "retry" and attempt.code == 451
    assert outbox.get(entry_id).next_try == 190.0
    (attempt,) = await process(outbox, sender, now=190.0)
    assert attempt.status == "sent" and outbox.list() == []


async def test_process_permanent_keeps_failed(outbox: Outbox) -> None:
    entry_id = outbox.add(MSG, "a@example.org", ["b@example.org"], "work")
    sender = FakeSender(SmtpDataError("5.7.1 rejected", 554))
    (attempt,) = await process(outbox, sender, now=0)
    assert attempt.status == "failed" and attempt.code == 554
    entry = outbox.get(entry_id)
    assert entry.failed and entry.last_code == 554 and "rejected" in (entry.last_error or "")
    assert await process(outbox, sender, now=10**12) == []  # not retried by itself


async def test_process_unexpected_exception_keeps_the_mail(outbox: Outbox) -> None:
    entry_id = outbox.add(MSG, "a@example.org", ["b@example.org"], "work")
    (attempt,) = await process(outbox, FakeSender(RuntimeError("bug")), now=0)
    assert attempt.status == "retry" and "bug" in (attempt.error or "")
    assert outbox.get(entry_id).attempts == 1


async def test_process_partial_refusals_per_recipient(outbox: Outbox) -> None:
    rcpts = ["a@x.org", "b@x.org", "c@x.org", "d@x.org"]
    entry_id = outbox.add(MSG, "me@x.org", rcpts, "work")
    sender = FakeSender(
        SendResult(
            ["a@x.org", "d@x.org"],
            {"b@x.org": (451, "4.3.0 later"), "c@x.org": (550, "5.1.1 no such user")},
        ),
        SendResult(["b@x.org"]),
    )
    (attempt,) = await process(outbox, sender, now=0)
    assert attempt.status == "retry"
    assert attempt.accepted == ("a@x.org", "d@x.org")
    assert attempt.refused == {
        "b@x.org": (451, "4.3.0 later"),
        "c@x.org": (550, "5.1.1 no such user"),
    }
    entry = outbox.get(entry_id)
    assert entry.recipients == ("b@x.org", "c@x.org")
    assert entry.refused == {"c@x.org": (550, "5.1.1 no such user")}
    assert entry.pending == ("b@x.org",)
    (attempt,) = await process(outbox, sender, now=10**6)
    assert sender.calls[1][0] == ("b@x.org",)  # only the one worth retrying
    assert attempt.status == "failed"  # c@x.org's refusal is still there for the user
    entry = outbox.get(entry_id)
    assert entry.failed and entry.recipients == ("c@x.org",)


async def test_process_all_refused_mixed_codes(outbox: Outbox) -> None:
    entry_id = outbox.add(MSG, "me@x.org", ["a@x.org", "b@x.org"], "work")
    refused = SmtpRecipientsRefused({"a@x.org": (452, "4.5.3 full"), "b@x.org": (550, "no")})
    assert refused.permanent
    (attempt,) = await process(outbox, FakeSender(refused), now=0)
    assert attempt.status == "retry"
    entry = outbox.get(entry_id)
    assert entry.pending == ("a@x.org",) and entry.refused == {"b@x.org": (550, "no")}


async def test_process_skips_entries_cancelled_while_sending(outbox: Outbox) -> None:
    entry_id = outbox.add(MSG, "a@example.org", ["b@example.org"], "work")

    async def cancelling_sender(entry: OutboxEntry, data: bytes) -> SendResult:
        outbox.remove(entry_id)
        raise SmtpConnectError("lost")

    (attempt,) = await process(outbox, cancelling_sender, now=0)
    assert attempt.status == "skipped" and outbox.list() == []


async def test_process_does_nothing_while_another_holds_the_lock(outbox: Outbox) -> None:
    outbox.add(MSG, "a@example.org", ["b@example.org"], "work")
    sender = FakeSender()
    with outbox._lock() as locked:
        assert locked
        assert await process(outbox, sender, now=0) == []
    assert sender.calls == []


# -- drafts -----------------------------------------------------------------------------------


def _draft(subject: str = "Grüße") -> Draft:
    return Draft(
        Identity("Me", "me@example.org"),
        to=["Ann <ann@example.org>"],
        bcc=["b@example.org"],
        subject=subject,
        body="text with ümlauts\n> quoted\n",
        attachments=[Path("/home/me/report.pdf"), Attachment("x.bin", b"\x00\xff", "a/b")],
        meta={"reply_uid": 7},
    )


def test_draft_store_round_trip(tmp_path_fast: Path) -> None:
    store = DraftStore(tmp_path_fast)
    first, second = store.new_id(), store.new_id()
    assert first != second
    store.save(first, _draft("old"), now=100.0)
    store.save(second, _draft("new"), now=200.0)
    store.save(first, _draft("old, edited"), now=150.0)
    assert store.load(first) == _draft("old, edited")
    assert [(d.draft_id, d.subject) for d in store.list_unfinished()] == [
        (second, "new"),
        (first, "old, edited"),
    ]
    assert store.list_unfinished()[0].to == ("Ann <ann@example.org>",)
    store.discard(first)
    store.discard(first)  # already gone: fine
    with pytest.raises(DraftNotFound):
        store.load(first)
    with pytest.raises(DraftNotFound):
        store.load("../escape")
    assert os.listdir(store.tmp) == []


def test_draft_store_skips_corrupt_files(tmp_path_fast: Path) -> None:
    store = DraftStore(tmp_path_fast)
    store.save("good", _draft())
    (store.root / "bad.json").write_text("{truncated")
    (store.root / "wrong.json").write_text(json.dumps({"draft": {"from": 5}}))
    assert [d.draft_id for d in store.list_unfinished()] == ["good"]
    with pytest.raises(DraftStoreError):
        store.load("bad")
    with pytest.raises(DraftStoreError):
        store.load("wrong")
    assert (store.root / "bad.json").exists()  # left for the user, not deleted


# -- SIGKILL ------------------------------------------------------------------------------------

_WRITER = textwrap.dedent(
    """
    import hashlib, os, sys, time
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from app.smtp.outbox import DraftStore, Outbox
    from app.mime.compose import Draft, Identity

    data_dir, mode = Path(sys.argv[2]), sys.argv[3]
    outbox, drafts = Outbox(data_dir), DraftStore(data_dir)
    real_write = os.write

    def stalling_write(fd, data):
        # Write half of the big entry, say so, and wait to be killed.
        if len(data) > 1_000_000:
            real_write(fd, bytes(data[: len(data) // 2]))
            print("MID", flush=True)
            time.sleep(60)
        return real_write(fd, data)

    def stalling_replace(src, dst):
        print("MID", flush=True)
        time.sleep(60)

    for i in range(3):
        body = bytes([65 + i]) * 1000
        outbox.add(body, "a@example.org", ["b@example.org"], "work")
        drafts.save("d", Draft(Identity("Me", "me@example.org"), body=str(i) * 5000))
    print("READY", flush=True)
    if mode == "write":
        os.write = stalling_write
    elif mode == "rename":
        os.replace = stalling_replace
    i = 0
    while True:  # "loop": keep rewriting until killed, wherever that lands
        i += 1
        outbox.add(os.urandom(2_000_000), "a@example.org", ["b@example.org"], "work")
        drafts.save("d", Draft(Identity("Me", "me@example.org"), body=str(i % 10) * 200_000))
    """
)


def _check_intact(data_dir: Path) -> int:
    outbox = Outbox(data_dir)
    entries = outbox.list()
    for entry in entries:
        assert not entry.corrupt, entry
        data = outbox.message(entry.id)  # raises on a checksum mismatch
        assert hashlib.sha256(data).hexdigest() == entry.sha256
    draft = DraftStore(data_dir).load("d")
    assert len(set(draft.body)) == 1  # one whole save, never a mix of two
    return len(entries)


@pytest.mark.parametrize("mode", ["write", "rename", "loop"])
def test_sigkill_mid_write_leaves_no_corrupt_entry(tmp_path_fast: Path, mode: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(ROOT), str(tmp_path_fast), mode],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "READY"
        if mode == "loop":
            while len(os.listdir(tmp_path_fast / "outbox" / "cur")) < 6:
                time.sleep(0.005)
        else:
            assert proc.stdout.readline().strip() == "MID"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    entries = _check_intact(tmp_path_fast)
    assert entries >= 3
    if mode != "loop":
        assert entries == 3  # the interrupted entry never became visible
        assert os.listdir(tmp_path_fast / "outbox" / "tmp")  # its half file is in tmp/ only
    Outbox(tmp_path_fast, stale_tmp_seconds=-1)
    assert os.listdir(tmp_path_fast / "outbox" / "tmp") == []


# -- the send flow (app.smtp.sending) with a fake server and a fake account ------------------------------

from collections.abc import Sequence  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402

from app.models import Credentials, Flag, Folder, FolderRole, ServerSettings  # noqa: E402
from app.smtp.sending import account_outbox, flush_outbox, postpone, send_draft, submit  # noqa: E402
from app.smtp.submit import SmtpAuthError  # noqa: E402

SETTINGS = ServerSettings(host="smtp.example.org", port=587, user="me")
CREDS = Credentials(username="me", password="pw")


def _send_draft() -> Draft:
    return Draft(
        Identity("Me", "me@example.org"),
        to=["a@example.org"],
        cc=["b@example.org"],
        bcc=["c@example.org"],
        subject="hello",
        body="text\n",
    )


class ScriptedSmtp:
    """Stands in for send_bytes: records the envelope and answers from a script."""

    def __init__(self, *answers: object) -> None:
        self.answers = list(answers)
        self.calls: list[tuple[bytes, str, list[str]]] = []

    async def __call__(
        self,
        data: bytes,
        envelope_from: str,
        recipients: Sequence[str],
        settings: ServerSettings,
        credentials: Credentials,
    ) -> SendResult:
        self.calls.append((data, envelope_from, list(recipients)))
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        assert isinstance(answer, SendResult)
        return answer


async def test_submit_sends_envelope_apart_from_header(outbox: Outbox) -> None:
    smtp = ScriptedSmtp(SendResult(["a@example.org", "b@example.org", "c@example.org"]))
    outcome = await submit(
        _send_draft(), settings=SETTINGS, credentials=CREDS, outbox=outbox, account="w", sender=smtp
    )
    assert outcome.status == "sent" and outcome.outbox_id is None
    ((data, envelope_from, rcpts),) = smtp.calls
    assert envelope_from == "me@example.org"
    assert rcpts == ["a@example.org", "b@example.org", "c@example.org"]
    assert not re.search(rb"[^\w.]c@example\.org", data) and b"\r\nBcc:" not in data
    assert outbox.list() == []


async def test_submit_queues_on_4xx_and_raises_on_5xx(outbox: Outbox) -> None:
    smtp = ScriptedSmtp(SmtpDataError("4.3.0 later", 451))
    outcome = await submit(
        _send_draft(), settings=SETTINGS, credentials=CREDS, outbox=outbox, account="w", sender=smtp
    )
    assert outcome.status == "queued" and outcome.error is not None
    (entry,) = outbox.list()
    assert entry.id == outcome.outbox_id and entry.last_code == 451 and not entry.failed
    assert entry.recipients == ("a@example.org", "b@example.org", "c@example.org")
    assert outbox.message(entry.id) == outcome.data
    for error in (
        SmtpRecipientsRefused({"a@example.org": (550, "no")}),
        SmtpAuthError("bad password", 535),
        SmtpDataError("5.7.1 spam", 554),
    ):
        with pytest.raises(type(error)):
            await submit(
                _send_draft(),
                settings=SETTINGS,
                credentials=CREDS,
                outbox=outbox,
                account="w",
                sender=ScriptedSmtp(error),
            )
    assert len(outbox.list()) == 1  # nothing queued for a permanent failure


async def test_submit_partial_queues_only_the_transient_ones(outbox: Outbox) -> None:
    smtp = ScriptedSmtp(
        SendResult(
            ["a@example.org"],
            {"b@example.org": (452, "4.2.2 full"), "c@example.org": (550, "5.1.1 unknown")},
        )
    )
    outcome = await submit(
        _send_draft(), settings=SETTINGS, credentials=CREDS, outbox=outbox, account="w", sender=smtp
    )
    assert outcome.status == "sent"
    assert outcome.permanently_refused == {"c@example.org": (550, "5.1.1 unknown")}
    (entry,) = outbox.list()
    assert entry.recipients == ("b@example.org",) and entry.sent_copy_filed


@dataclass
class _Current:
    folder: Folder


class FakeClient:
    def __init__(self, log: list[tuple[object, ...]]) -> None:
        self.log = log

    async def select(self, name: str) -> None:
        self.log.append(("select", name))

    async def store_flags(self, uids: list[int], flags: list[str], mode: str = "+") -> None:
        self.log.append(("store", tuple(uids), tuple(flags), mode))

    async def expunge(self, uids: list[int] | None = None) -> None:
        self.log.append(("expunge", tuple(uids or ())))


@dataclass
class FakeAccount:
    """The parts of app.account.Account the send flow uses."""

    data_dir: Path
    name: str = "work"
    smtp_settings: ServerSettings | None = SETTINGS
    log: list[tuple[object, ...]] = field(default_factory=list)
    current: _Current | None = None

    def __post_init__(self) -> None:
        import asyncio

        self.lock = asyncio.Lock()
        self.client = FakeClient(self.log)
        self.current = _Current(Folder("INBOX", "INBOX", "/"))

    def smtp_credentials(self) -> Credentials:
        return CREDS

    def folder_by_role(self, role: FolderRole) -> Folder | None:
        names = {FolderRole.SENT: "Sent", FolderRole.DRAFTS: "Drafts"}
        return Folder(names[role], names[role], "/", role=role) if role in names else None

    async def append(self, folder: str, data: bytes, flags: Sequence[str] = ()) -> int:
        self.log.append(("append", folder, tuple(flags), data))
        return 77

    async def set_flag(self, uids: Sequence[int], flag: str, on: bool) -> None:
        self.log.append(("set_flag", tuple(uids), flag, on))


async def test_send_draft_files_sent_copy_and_flags(tmp_path_fast: Path) -> None:
    smtp = ScriptedSmtp(SendResult(["a@example.org", "b@example.org", "c@example.org"]))
    account = FakeAccount(tmp_path_fast)
    draft = _send_draft()
    draft.meta["drafts_uid"] = 5
    outcome = await send_draft(
        account, draft, original_uid=9, original_folder="INBOX", mode="reply", sender=smtp
    )
    assert outcome.sent and not outcome.queued and "Sent to 3 recipients" in outcome.message
    append = account.log[0]
    assert append[:3] == ("append", "Sent", (Flag.SEEN,))
    assert not re.search(rb"[^\w.]c@example\.org", append[3])  # type: ignore[operator]
    assert ("set_flag", (9,), Flag.ANSWERED, True) in account.log
    assert ("store", (5,), (Flag.DELETED,), "+") in account.log
    assert account.log[-1] == ("select", "INBOX")  # the open folder is selected again

    account.log.clear()
    smtp.answers.append(SendResult(["a@example.org"]))
    await send_draft(
        account, _send_draft(), original_uid=3, original_folder="Lists", mode="forward", sender=smtp
    )
    assert ("select", "Lists") in account.log
    assert ("store", (3,), (Flag.FORWARDED,), "+") in account.log

    smtp.answers.append(SmtpAuthError("5.7.8 bad", 535))
    outcome = await send_draft(account, _send_draft(), sender=smtp)
    assert not outcome.sent and not outcome.queued and "535" in outcome.message


async def test_send_draft_queues_then_flush_delivers_and_files(tmp_path_fast: Path) -> None:
    smtp = ScriptedSmtp(
        SmtpDataError("4.3.0 later", 451),
        SendResult(["a@example.org", "b@example.org", "c@example.org"]),
    )
    account = FakeAccount(tmp_path_fast)
    outcome = await send_draft(account, _send_draft(), sender=smtp)
    assert outcome.queued and not outcome.sent and "outbox" in outcome.message
    assert account.log == []  # nothing filed in Sent yet
    outbox = account_outbox(account)
    (entry,) = outbox.list()
    outbox.retry_now(entry.id)
    (attempt,) = await flush_outbox(account, sender=smtp)
    assert attempt.status == "sent" and outbox.list() == []
    assert [e[:2] for e in account.log] == [("append", "Sent")]


async def test_postpone_keeps_bcc_and_replaces_the_old_copy(tmp_path_fast: Path) -> None:
    account = FakeAccount(tmp_path_fast)
    draft = _send_draft()
    draft.meta["drafts_uid"] = 4
    uid = await postpone(account, draft)
    assert uid == 77 and draft.meta["drafts_uid"] == 77
    append = account.log[0]
    assert append[:3] == ("append", "Drafts", (Flag.DRAFT, Flag.SEEN))
    assert re.search(rb"[^\w.]c@example\.org", append[3])  # type: ignore[operator]
    assert ("store", (4,), (Flag.DELETED,), "+") in account.log


async def test_postpone_keeps_recipients_that_are_not_addresses_yet(tmp_path_fast: Path) -> None:
    """Postponing is for unfinished work: a half-typed recipient ("bob@", a bare name) was a
    refusal ("not a valid address"), so a draft could be neither postponed nor, with the
    disk full, kept at all (walked in tmux). It is saved as typed and comes back on resume."""
    from app.mime.compose import InvalidAddressError, build_message, draft_from_message

    account = FakeAccount(tmp_path_fast)
    draft = Draft(
        Identity("Me", "me@example.org"),
        to=["a@example.org, Hello"],
        cc=["Zoë"],
        bcc=["bob@"],
        subject="unfinished",
        body="keep me\n",
    )
    await postpone(account, draft)
    data = account.log[0][3]
    assert isinstance(data, bytes)
    back = draft_from_message(data)
    assert back.to == ["a@example.org", "Hello"]
    assert back.cc == ["Zoë"] and back.bcc == ["bob@"]
    assert back.body == "keep me\n"
    with pytest.raises(InvalidAddressError):  # sending it is still refused
        build_message(draft, message_id_domain="example.org")
