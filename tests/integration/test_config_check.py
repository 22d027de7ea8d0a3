"""`termail config check` against the sandbox: two accounts at once, good and bad passwords."""

from __future__ import annotations

import asyncio
import importlib.util
import io
import json
import shlex
from pathlib import Path
from typing import Any

import pytest

from app.config.commands import (
    _smtp_login_direct,
    check_account,
    check_smtp_login,
    config_check,
)
from app.config.credentials import forget_prompted, resolve_credentials
from app.config.model import load_config
from app.models import Credentials, TlsMode

pytestmark = pytest.mark.integration

HAS_IMAP_CLIENT = importlib.util.find_spec("app.imap.client") is not None
needs_imap_client = pytest.mark.skipif(
    not HAS_IMAP_CLIENT,
    reason="app.imap.client (ImapClient.connect) is not written yet; config check's IMAP login "
    "test needs it",
)


@pytest.fixture(autouse=True)
def _no_remembered_prompts() -> None:
    forget_prompted()


def _printf(secret: str) -> str:
    return f"printf '%s\\n' {shlex.quote(secret)}"


def write_config(
    tmp_path: Path, sandbox: Any, alice: Any, bob: Any, *, alice_pw: str, bob_env: str
) -> Path:
    """alice: IMAPS + SMTP STARTTLS, password_command; bob: IMAP STARTTLS + SMTPS, env var."""
    q = json.dumps
    text = f"""\
default_account = "bob"

[accounts.alice]
address = {q(alice.address)}
display_name = "Alice"

[accounts.alice.imap]
host = "localhost"
port = {sandbox.imaps_port}
tls = "implicit"
user = {q(alice.name)}
ca_file = {q(str(sandbox.ca_file))}
password_command = {q(_printf(alice_pw))}
keyring = false

[accounts.alice.smtp]
host = "127.0.0.1"
port = {sandbox.smtp_port}
tls = "starttls"
ca_file = {q(str(sandbox.ca_file))}

[accounts.bob]
address = {q(bob.address)}

[accounts.bob.imap]
host = "127.0.0.1"
port = {sandbox.imap_port}
tls = "starttls"
user = {q(bob.name)}
ca_file = {q(str(sandbox.ca_file))}
password_env = {q(bob_env)}
keyring = false

[accounts.bob.smtp]
host = "localhost"
port = {sandbox.smtps_port}
tls = "implicit"
ca_file = {q(str(sandbox.ca_file))}
"""
    path = tmp_path / "config.toml"
    path.write_text(text)
    path.chmod(0o600)
    return path


@pytest.fixture
def bob(sandbox: Any, mail_user: Any) -> Any:
    return sandbox.add_user(mail_user.name + "b")


def test_two_sandbox_accounts_load_and_resolve(
    tmp_path: Path, sandbox: Any, mail_user: Any, bob: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOB_PW", bob.password)
    path = write_config(
        tmp_path, sandbox, mail_user, bob, alice_pw=mail_user.password, bob_env="BOB_PW"
    )
    config = load_config(path)
    assert list(config.accounts) == ["alice", "bob"]
    assert config.default_account.name == "bob"
    alice_cfg, bob_cfg = config.accounts["alice"], config.accounts["bob"]
    assert alice_cfg.imap_settings() == mail_user.imap_settings(
        TlsMode.IMPLICIT, host="localhost", timeout=30.0
    )
    assert bob_cfg.imap_settings() == bob.imap_settings(TlsMode.STARTTLS)
    assert resolve_credentials(alice_cfg, "imap") == mail_user.credentials()
    assert resolve_credentials(alice_cfg, "smtp") == mail_user.credentials()
    assert resolve_credentials(bob_cfg, "imap") == bob.credentials()
    assert resolve_credentials(bob_cfg, "smtp") == bob.credentials()


async def test_smtp_login_check_for_both_accounts(
    tmp_path: Path, sandbox: Any, mail_user: Any, bob: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOB_PW", bob.password)
    path = write_config(
        tmp_path, sandbox, mail_user, bob, alice_pw=mail_user.password, bob_env="BOB_PW"
    )
    config = load_config(path)
    for account in config.accounts.values():
        settings = account.smtp_settings()
        creds = resolve_credentials(account, "smtp")
        await check_smtp_login(settings, creds)
        await _smtp_login_direct(settings, creds)  # the aiosmtplib fallback, too


async def test_smtp_login_check_with_a_bad_password(sandbox: Any, mail_user: Any) -> None:
    wrong = "not-the-password-81x"
    for tls in (TlsMode.STARTTLS, TlsMode.IMPLICIT):
        settings = mail_user.smtp_settings(tls)
        with pytest.raises(Exception) as info:
            await check_smtp_login(settings, Credentials(mail_user.name, wrong))
        assert wrong not in str(info.value)
        with pytest.raises(Exception) as info:
            await _smtp_login_direct(settings, Credentials(mail_user.name, wrong))
        assert "535" in str(info.value) and wrong not in str(info.value)


async def test_direct_smtp_check_refuses_plaintext_auth(sandbox: Any, mail_user: Any) -> None:
    settings = mail_user.smtp_settings(TlsMode.NONE)
    with pytest.raises(ConnectionError, match="without TLS"):
        await _smtp_login_direct(settings, mail_user.credentials())


@needs_imap_client
def test_config_check_good_passwords(
    tmp_path: Path, sandbox: Any, mail_user: Any, bob: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOB_PW", bob.password)
    path = write_config(
        tmp_path, sandbox, mail_user, bob, alice_pw=mail_user.password, bob_env="BOB_PW"
    )
    out = io.StringIO()
    assert config_check(["--config", str(path)], out=out) == 0, out.getvalue()
    text = out.getvalue()
    assert "valid; 2 account(s): alice, bob (default: bob)" in text
    for line in (
        f"alice: IMAP ok ({mail_user.name} at localhost:{sandbox.imaps_port}, implicit TLS)",
        f"alice: SMTP ok ({mail_user.name} at 127.0.0.1:{sandbox.smtp_port}, STARTTLS)",
        f"bob: IMAP ok ({bob.name} at 127.0.0.1:{sandbox.imap_port}, STARTTLS)",
        f"bob: SMTP ok ({bob.name} at localhost:{sandbox.smtps_port}, implicit TLS)",
    ):
        assert line in text
    assert "All 4 logins work." in text
    assert mail_user.password not in text and bob.password not in text


@needs_imap_client
def test_config_check_bad_password(
    tmp_path: Path,
    sandbox: Any,
    mail_user: Any,
    bob: Any,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    wrong = "wrong-Pa55word-for-alice"
    monkeypatch.setenv("BOB_PW", bob.password)
    path = write_config(tmp_path, sandbox, mail_user, bob, alice_pw=wrong, bob_env="BOB_PW")
    out = io.StringIO()
    assert config_check(["--config", str(path)], out=out) == 1
    text = out.getvalue()
    assert "alice: IMAP FAILED" in text and "alice: SMTP FAILED" in text
    assert "bob: IMAP ok" in text and "bob: SMTP ok" in text
    assert "2 of 4 logins failed." in text
    captured = capsys.readouterr()
    assert wrong not in text + captured.out + captured.err


@needs_imap_client
async def test_check_account_reports_a_missing_password_source(
    sandbox: Any, mail_user: Any
) -> None:
    from app.config.model import config_from_dict

    data = {
        "accounts": {
            "a": {
                "address": mail_user.address,
                "imap": {"host": "127.0.0.1", "port": sandbox.imaps_port, "user": mail_user.name,
                         "ca_file": str(sandbox.ca_file), "keyring": False},
                "smtp": {"host": "127.0.0.1", "port": sandbox.smtps_port,
                         "ca_file": str(sandbox.ca_file)},
            }
        }
    }  # fmt: skip
    account = config_from_dict(data, "<test>").default_account
    results = await asyncio.wait_for(check_account(account, prompt=None), 60)
    assert [(r.which, r.ok) for r in results] == [("imap", False), ("smtp", False)]
    assert "no password" in results[0].error
    results = await check_account(account, prompt=lambda q: mail_user.password)
    assert [(r.which, r.ok) for r in results] == [("imap", True), ("smtp", True)]


@needs_imap_client
def test_config_check_log_protocol_shows_why_a_login_fails(
    tmp_path: Path, sandbox: Any, mail_user: Any, bob: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--log-protocol FILE`: the refused LOGIN and AUTH with the servers' answers, classes
    named, and neither the wrong password nor the right one (nor an AUTH payload) in FILE."""
    import base64

    wrong = "wrong-Pa55word-for-alice"
    monkeypatch.setenv("BOB_PW", bob.password)
    path = write_config(tmp_path, sandbox, mail_user, bob, alice_pw=wrong, bob_env="BOB_PW")
    log = tmp_path / "check.log"
    out = io.StringIO()
    assert config_check(["--config", str(path), "--log-protocol", str(log)], out=out) == 1
    assert f"The dialogue is in {log}." in out.getvalue()
    text = log.read_text()
    alice = [line for line in text.splitlines() if " alice " in line]
    assert any(" C: " in line and "AUTHENTICATE PLAIN <redacted>" in line for line in alice)
    assert any(" S: " in line and "NO [AUTHENTICATIONFAILED]" in line for line in alice)
    assert any("S: 535" in line and "[5xx permanent failure" in line for line in alice)
    assert any(" bob " in line and "S: 235" in line for line in text.splitlines())
    for secret in (wrong, bob.password):
        assert secret not in text
        for user in (mail_user.name, bob.name):
            plain = base64.b64encode(f"\0{user}\0{secret}".encode()).decode()
            assert plain not in text
    # Without it, a failure says where to look.
    assert config_check(["--config", str(path)], out=(out := io.StringIO())) == 1
    assert "--log-protocol FILE" in out.getvalue()


def test_config_check_log_protocol_that_cannot_be_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        'default_account = "a"\n[accounts.a]\naddress = "a@example.org"\n'
        '[accounts.a.imap]\nhost = "imap.example.org"\nuser = "a"\n'
        '[accounts.a.smtp]\nhost = "smtp.example.org"\nuser = "a"\n'
    )
    bad = tmp_path / "no folder" / "x.log"
    assert config_check(["--config", str(config), "--log-protocol", str(bad)]) == 2
    assert "cannot write the protocol log" in capsys.readouterr().err
