"""The protocol log against the sandbox: real Dovecot (IMAP) and the sandbox SMTP server.

An account logs in (LOGIN on one connection, AUTHENTICATE PLAIN with SASL-IR on another),
selects, fetches and sends twice through the real send flow (`send_draft`): the first send
gets a forced 451 after DATA (queued in the outbox), the second a 250, with AUTH LOGIN's two
steps on the SMTP side. The account's log, a second account's log and the `--log-protocol`
file must hold the dialogue with the reply classes named, and no password in any form.
"""

from __future__ import annotations

import base64
import itertools
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app import protolog
from app.account import Account
from app.imap.engine import Connection
from app.mime.compose import Draft
from app.models import TlsMode
from app.smtp.sending import send_draft

pytestmark = pytest.mark.integration

_names = itertools.count()


@pytest.fixture
def rules(sandbox: Any) -> Iterator[Any]:
    sandbox.clear_smtp_rules()
    yield sandbox
    sandbox.clear_smtp_rules()


def _forms(user: str, password: str) -> list[bytes]:
    plain = b"\0" + user.encode() + b"\0" + password.encode()
    return [
        password.encode(),
        base64.b64encode(password.encode()),
        base64.b64encode(plain),
        base64.b64encode(b"\0" + user.encode() + b"\0"),  # the start of any PLAIN blob
    ]


async def test_dialogue_logged_classes_named_no_password(
    rules: Any, mail_user: Any, tmp_path_fast: Path
) -> None:
    friend = rules.add_user(f"{mail_user.name}f{next(_names)}")
    rules.deliver(mail_user.name, b"Subject: first\r\nFrom: x@example.org\r\n\r\nhello\r\n")
    live = tmp_path_fast / "live.log"
    protolog.set_live_file(live)
    account = Account(
        mail_user.name,
        mail_user.imap_settings(TlsMode.STARTTLS, auth="login"),
        mail_user.credentials,
        smtp=mail_user.smtp_settings(TlsMode.STARTTLS, auth="login"),
        addresses=[mail_user.address],
        data_dir=tmp_path_fast / "data",
    )
    plain_settings = mail_user.imap_settings(TlsMode.IMPLICIT, auth="plain")
    other = protolog.ProtocolLog("plain")
    protolog.attach(other, plain_settings)
    try:
        await account.connect()
        folders = await account.load_folders()
        inbox = next(f for f in folders if f.name == "INBOX")
        opened = await account.open_folder(inbox)
        summaries = await account.summaries_for(list(opened.uids))
        assert len(summaries) == 1
        await account.load_message(opened.uids[0])

        rules.force_smtp_reply(451, stage="data", times=1)
        draft = Draft((mail_user.name, mail_user.address), to=[friend.address], subject="one")
        first = await send_draft(account, draft)
        assert first.queued and not first.sent
        draft = Draft((mail_user.name, mail_user.address), to=[friend.address], subject="two")
        second = await send_draft(account, draft)
        assert second.sent

        conn = await Connection.open(plain_settings, mail_user.credentials())
        await conn.select("INBOX")
        await conn.disconnect()
    finally:
        await account.close()
        protolog.detach(other)
        protolog.detach(account.protocol_log)
        protolog.set_live_file(None)

    log = account.protocol_log
    rendered = [line.render(log.name) for line in log.lines]
    text = "\n".join(rendered)
    # IMAP: the commands are there, the password is not.
    assert " LOGIN " + mail_user.name + " <redacted>" in text
    for command in (" SELECT ", " UID FETCH ", " LOGOUT", " APPEND "):
        assert command in text, command
    assert "{" in text and "bytes}" in text  # the Sent copy's literal, by its size
    # SMTP: the two-step AUTH LOGIN, the forced 451, the 250, each class named.
    assert "C: AUTH LOGIN <redacted>" in text
    assert "C: <AUTH response <redacted>>" in text
    assert "S: 334 " in text
    assert "C: RCPT TO:<" + friend.address + ">" in text
    assert "S: 354 " in text and "[3xx more input]" in text
    assert any(
        "S: 451 4.3.0" in row
        and "[4xx temporary failure · 4.3.0 other or undefined mail system status]" in row
        for row in rendered
    )
    assert any(row.count("S: 250 ") and "[2xx success" in row for row in rendered)
    assert "<message: " in text
    # The other connection: AUTHENTICATE PLAIN with SASL-IR (Dovecot offers it).
    other_text = "\n".join(line.render("plain") for line in other.lines)
    assert "AUTHENTICATE PLAIN <redacted>" in other_text
    # No password, in any form, in any buffer or the live file.
    live_bytes = live.read_bytes()
    assert stat.S_IMODE(os.stat(live).st_mode) == 0o600
    assert b" LOGIN " in live_bytes and b"AUTHENTICATE PLAIN <redacted>" in live_bytes
    assert b"451 4.3.0" in live_bytes
    saved = log.save(tmp_path_fast / "saved.log")
    for blob in (text.encode(), other_text.encode(), live_bytes, saved.read_bytes()):
        for secret in _forms(mail_user.name, mail_user.password):
            assert secret not in blob, secret
