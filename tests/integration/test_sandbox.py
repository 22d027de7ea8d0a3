"""The sandbox itself: real Dovecot and SMTP servers, as every other integration test uses them."""

from __future__ import annotations

import email
import email.policy
import imaplib
import os
import smtplib
import ssl
import subprocess
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

import pytest

from app.sandbox.demo import DEMO_USER, FOLDERS, load_demo
from app.sandbox.server import Sandbox

pytestmark = pytest.mark.integration


def _imap_starttls(sandbox: Sandbox, context: ssl.SSLContext) -> imaplib.IMAP4:
    conn = imaplib.IMAP4(sandbox.host, sandbox.imap_port)
    conn.starttls(ssl_context=context)
    return conn


def test_login_over_starttls_and_imaps_with_the_sandbox_ca(sandbox: Sandbox, mail_user) -> None:
    context = ssl.create_default_context(cafile=str(sandbox.ca_file))
    conn = _imap_starttls(sandbox, context)
    assert conn.login(mail_user.name, mail_user.password)[0] == "OK"
    conn.logout()
    conn2 = imaplib.IMAP4_SSL(sandbox.host, sandbox.imaps_port, ssl_context=context)
    assert conn2.login(mail_user.name, mail_user.password)[0] == "OK"
    conn2.logout()


def test_certificate_is_refused_without_the_ca(sandbox: Sandbox) -> None:
    context = ssl.create_default_context()  # the system store does not know the sandbox CA
    with pytest.raises(ssl.SSLCertVerificationError):
        imaplib.IMAP4_SSL(sandbox.host, sandbox.imaps_port, ssl_context=context)
    with pytest.raises(ssl.SSLCertVerificationError):
        _imap_starttls(sandbox, context)


def test_special_use_folders_are_listed(sandbox: Sandbox, mail_user) -> None:
    conn = imaplib.IMAP4_SSL(
        sandbox.host, sandbox.imaps_port, ssl_context=sandbox.client_ssl_context()
    )
    conn.login(mail_user.name, mail_user.password)
    typ, lines = conn.list()
    conn.logout()
    listing = b"\n".join(line for line in lines if isinstance(line, bytes))
    for use, name in [
        (b"\\Drafts", b"Drafts"),
        (b"\\Sent", b"Sent"),
        (b"\\Trash", b"Trash"),
        (b"\\Junk", b"Junk"),
        (b"\\Archive", b"Archive"),
    ]:
        assert any(use in line and line.endswith(name) for line in listing.splitlines()), use


def test_capabilities_after_login(sandbox: Sandbox, mail_user) -> None:
    conn = imaplib.IMAP4_SSL(
        sandbox.host, sandbox.imaps_port, ssl_context=sandbox.client_ssl_context()
    )
    conn.login(mail_user.name, mail_user.password)
    typ, data = conn.capability()
    caps = set(data[0].decode().upper().split())
    conn.logout()
    for cap in ("IDLE", "CONDSTORE", "QRESYNC", "MOVE", "SPECIAL-USE", "SORT", "THREAD=REFERENCES"):
        assert cap in caps


def test_sent_attachment_arrives_byte_identical(sandbox: Sandbox, mail_user) -> None:
    recipient = sandbox.add_user(mail_user.name + "r")
    payload = os.urandom(70_000) + b"\r\n\x00end"
    msg = EmailMessage()
    msg["From"] = mail_user.address
    msg["To"] = recipient.address
    msg["Subject"] = "Sandbox delivery check"
    msg["Message-ID"] = "<sandbox-delivery@termail.test>"
    msg.set_content("See the attachment.\n")
    msg.add_attachment(payload, maintype="application", subtype="octet-stream", filename="blob.bin")
    with smtplib.SMTP(sandbox.host, sandbox.smtp_port, timeout=10) as smtp:
        smtp.starttls(context=sandbox.client_ssl_context())
        smtp.login(mail_user.name, mail_user.password)
        refused = smtp.send_message(msg)
    assert refused == {}
    conn = imaplib.IMAP4_SSL(
        sandbox.host, sandbox.imaps_port, ssl_context=sandbox.client_ssl_context()
    )
    conn.login(recipient.name, recipient.password)
    found: list[bytes] = []
    for _ in range(50):
        conn.select("INBOX")
        typ, data = conn.uid(
            "SEARCH", None, "HEADER", "Message-ID", "sandbox-delivery@termail.test"
        )
        found = data[0].split()
        if found:
            break
        time.sleep(0.1)
    assert found, "the message did not arrive"
    typ, fetched = conn.uid("FETCH", found[0], "(BODY.PEEK[])")
    conn.logout()
    raw = fetched[0][1]
    received = email.message_from_bytes(raw, policy=email.policy.default)
    parts = [p for p in received.iter_attachments()]
    assert len(parts) == 1
    assert parts[0].get_filename() == "blob.bin"
    assert parts[0].get_payload(decode=True) == payload


def test_smtp_refuses_auth_before_starttls(sandbox: Sandbox, mail_user) -> None:
    with smtplib.SMTP(sandbox.host, sandbox.smtp_port, timeout=10) as smtp:
        smtp.ehlo()
        assert "auth" not in smtp.esmtp_features
        code, _ = smtp.mail(mail_user.address)
        assert code == 530


@pytest.mark.parametrize("code", [451, 452, 550, 552, 554])
def test_forced_smtp_reply_codes(sandbox: Sandbox, mail_user, code: int) -> None:
    target = f"forced{code}@example.com"
    sandbox.force_smtp_reply(code, recipient=target, times=1)
    with smtplib.SMTP_SSL(
        sandbox.host, sandbox.smtps_port, context=sandbox.client_ssl_context(), timeout=10
    ) as smtp:
        smtp.login(mail_user.name, mail_user.password)
        with pytest.raises(smtplib.SMTPRecipientsRefused) as info:
            smtp.sendmail(mail_user.address, [target], b"Subject: x\r\n\r\nbody\r\n")
    assert info.value.recipients[target][0] == code
    # times=1: the rule is used up, the next try is accepted (an external recipient).
    with smtplib.SMTP_SSL(
        sandbox.host, sandbox.smtps_port, context=sandbox.client_ssl_context(), timeout=10
    ) as smtp:
        smtp.login(mail_user.name, mail_user.password)
        assert smtp.sendmail(mail_user.address, [target], b"Subject: x\r\n\r\nbody\r\n") == {}


def test_unknown_local_recipient_is_refused_at_rcpt(sandbox: Sandbox, mail_user) -> None:
    with smtplib.SMTP_SSL(
        sandbox.host, sandbox.smtps_port, context=sandbox.client_ssl_context(), timeout=10
    ) as smtp:
        smtp.login(mail_user.name, mail_user.password)
        refused = smtp.sendmail(
            mail_user.address,
            [mail_user.address, "nobody-here@localhost"],
            b"Subject: x\r\n\r\nb\r\n",
        )
    assert refused["nobody-here@localhost"][0] == 550


def test_forced_reply_at_data_stage(sandbox: Sandbox, mail_user) -> None:
    sandbox.force_smtp_reply(552, stage="data", times=1)
    with smtplib.SMTP_SSL(
        sandbox.host, sandbox.smtps_port, context=sandbox.client_ssl_context(), timeout=10
    ) as smtp:
        smtp.login(mail_user.name, mail_user.password)
        with pytest.raises(smtplib.SMTPDataError) as info:
            smtp.sendmail(mail_user.address, [mail_user.address], b"Subject: x\r\n\r\nbody\r\n")
    assert info.value.smtp_code == 552


def test_seeding_is_indexed_by_dovecot(sandbox: Sandbox, mail_user) -> None:
    assert sandbox.seed_generated(mail_user.name, 2000) == 2000
    conn = imaplib.IMAP4_SSL(
        sandbox.host, sandbox.imaps_port, ssl_context=sandbox.client_ssl_context()
    )
    conn.login(mail_user.name, mail_user.password)
    typ, data = conn.select("INBOX")
    assert int(data[0]) == 2000
    typ, data = conn.uid("SEARCH", None, "UNSEEN")
    assert len(data[0].split()) >= 50
    conn.logout()


def test_tunnel_command_speaks_preauth_imap(sandbox: Sandbox, mail_user) -> None:
    proc = subprocess.run(
        sandbox.tunnel_command(mail_user.name),
        shell=True,
        input=b'a LIST "" "*"\r\nb LOGOUT\r\n',
        capture_output=True,
        timeout=20,
    )
    assert proc.stdout.startswith(b"* PREAUTH")
    assert b"\\Sent" in proc.stdout and b"a OK" in proc.stdout


def test_demo_mailbox(sandbox: Sandbox) -> None:
    load_demo(sandbox)
    demo = sandbox.user(DEMO_USER)
    conn = imaplib.IMAP4_SSL(
        sandbox.host, sandbox.imaps_port, ssl_context=sandbox.client_ssl_context()
    )
    conn.login(demo.name, demo.password)
    typ, lines = conn.list()
    names = {line.rsplit(b'"/" ', 1)[1].decode() for line in lines if isinstance(line, bytes)}
    assert set(FOLDERS) <= names
    typ, data = conn.select("INBOX")
    assert int(data[0]) >= 250
    typ, data = conn.uid("SEARCH", None, "SUBJECT", "title")  # the gb2312 seed message
    assert data[0].split()
    conn.logout()


def test_stop_leaves_no_process_and_no_folder() -> None:
    root = Path(
        tempfile.mkdtemp(
            prefix="termail-stoptest-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None
        )
    )
    sandbox = Sandbox(root)
    sandbox.add_user("someone", "pw")
    sandbox.start()
    from app.sandbox.server import _group_members

    members = [pid for pgid in sandbox.pids() for pid in _group_members(pgid)]
    assert len(members) >= 3  # dovecot master, its children, the SMTP server
    sandbox.stop(remove=True)
    for pid in members:
        assert not Path(f"/proc/{pid}").exists(), f"process {pid} left behind"
    assert not root.exists()
