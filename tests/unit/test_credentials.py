"""Credential sources: their order, their failures, and secrets kept out of logs, errors, reprs."""

from __future__ import annotations

import json
import logging
import shlex
import sys
import traceback
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.config import credentials as creds_mod
from app.config.credentials import (
    CredentialError,
    forget_prompted,
    keyring_available,
    redact,
    resolve_credentials,
)
from app.config.model import AccountConfig, Config, config_from_dict
from app.models import Credentials, ServerSettings

SECRET = "s3cr3t-Tr0ub4dor&3"
KEYRING_SECRET = "from-the-keyring-9f2"
ENV_SECRET = "from-the-env-7c1"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No real keyring, no remembered prompt answers between tests."""
    monkeypatch.setitem(sys.modules, "keyring", None)  # import keyring -> ImportError
    forget_prompted()
    yield
    forget_prompted()


class FakeKeyring(types.ModuleType):
    """Stands in for the `keyring` package: a dict of (service, entry) -> secret."""

    def __init__(self, entries: dict[tuple[str, str], str], priority: float = 5) -> None:
        super().__init__("keyring")
        self.entries = entries
        self.calls: list[tuple[str, str]] = []
        self.fail = False
        backend = types.SimpleNamespace(priority=priority)
        self.get_keyring = lambda: backend  # type: ignore[method-assign]

    def get_password(self, service: str, entry: str) -> str | None:
        self.calls.append((service, entry))
        if self.fail:
            raise RuntimeError("keyring is locked")
        return self.entries.get((service, entry))


def install_keyring(monkeypatch: pytest.MonkeyPatch, fake: FakeKeyring) -> FakeKeyring:
    monkeypatch.setitem(sys.modules, "keyring", fake)
    return fake


def printf(secret: str) -> str:
    """A password_command printing `secret` and a second line that must be ignored."""
    return f"printf '%s\\n%s\\n' {shlex.quote(secret)} 'login: ada'"


def account(
    imap: dict[str, object] | None = None, smtp: dict[str, object] | None = None
) -> AccountConfig:
    data = {
        "accounts": {
            "work": {
                "address": "ada@example.com",
                "imap": {"host": "imap.example.com", "user": "ada", **(imap or {})},
                "smtp": {"host": "smtp.example.com", **(smtp or {})},
            }
        }
    }
    return config_from_dict(data, "<test>").default_account


# -- precedence ---------------------------------------------------------------------------------


def test_keyring_comes_first(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = install_keyring(monkeypatch, FakeKeyring({("termail", "work"): KEYRING_SECRET}))
    monkeypatch.setenv("WORK_PW", ENV_SECRET)
    acc = account({"password_command": printf(SECRET), "password_env": "WORK_PW"})
    creds = resolve_credentials(acc, "imap", prompt=lambda q: pytest.fail("prompted"))
    assert creds == Credentials("ada", KEYRING_SECRET)
    assert fake.calls == [("termail", "work")]
    assert keyring_available()


def test_custom_keyring_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    install_keyring(monkeypatch, FakeKeyring({("termail", "work-imap"): KEYRING_SECRET}))
    acc = account({"keyring": "work-imap"})
    assert resolve_credentials(acc, "imap").password == KEYRING_SECRET


def test_no_keyring_entry_falls_to_password_command(monkeypatch: pytest.MonkeyPatch) -> None:
    install_keyring(monkeypatch, FakeKeyring({}))
    monkeypatch.setenv("WORK_PW", ENV_SECRET)
    acc = account({"password_command": printf(SECRET), "password_env": "WORK_PW"})
    assert resolve_credentials(acc, "imap") == Credentials("ada", SECRET)  # first line only


def test_keyring_disabled_or_unusable_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = install_keyring(monkeypatch, FakeKeyring({("termail", "work"): KEYRING_SECRET}))
    acc = account({"keyring": False, "password_command": printf(SECRET)})
    assert resolve_credentials(acc, "imap").password == SECRET
    assert fake.calls == []
    fake_fail = install_keyring(
        monkeypatch, FakeKeyring({("termail", "work"): KEYRING_SECRET}, priority=0)
    )
    assert not keyring_available()  # e.g. keyring.backends.fail.Keyring
    assert (
        resolve_credentials(account({"password_command": printf(SECRET)}), "imap").password
        == SECRET
    )
    assert fake_fail.calls == []


def test_broken_keyring_falls_through_without_leaking(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fake = install_keyring(monkeypatch, FakeKeyring({("termail", "work"): KEYRING_SECRET}))
    fake.fail = True
    caplog.set_level(logging.DEBUG)
    acc = account({"password_command": printf(SECRET)})
    assert resolve_credentials(acc, "imap").password == SECRET
    assert "keyring lookup failed (RuntimeError)" in caplog.text
    assert SECRET not in caplog.text and KEYRING_SECRET not in caplog.text


def test_password_command_comes_before_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORK_PW", ENV_SECRET)
    acc = account({"password_command": printf(SECRET), "password_env": "WORK_PW"})
    assert resolve_credentials(acc, "imap").password == SECRET


def test_oauth2_token_command_gives_a_token() -> None:
    acc = account({"oauth2_token_command": printf("ya29.token")})
    creds = resolve_credentials(acc, "imap")
    assert creds.oauth2_token == "ya29.token" and creds.password is None
    assert acc.imap_settings().auth == "xoauth2"


def test_env_then_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORK_PW", ENV_SECRET)
    acc = account({"password_env": "WORK_PW"})
    assert resolve_credentials(acc, "imap", prompt=lambda q: pytest.fail("prompted")).password == (
        ENV_SECRET
    )
    monkeypatch.delenv("WORK_PW")
    questions: list[str] = []

    def prompt(question: str) -> str:
        questions.append(question)
        return SECRET

    assert resolve_credentials(acc, "imap", prompt=prompt).password == SECRET
    assert questions == ["Password for ada on imap.example.com (account work, IMAP)"]


def test_env_can_hold_a_token_for_xoauth2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKEN", "tok")
    acc = account({"password_env": "TOKEN", "auth": "xoauth2"})
    assert resolve_credentials(acc, "imap").oauth2_token == "tok"


def test_prompt_answer_is_remembered_in_memory_and_shared_with_smtp() -> None:
    calls: list[str] = []

    def prompt(question: str) -> str:
        calls.append(question)
        return SECRET

    acc = account({"keyring": False})
    assert resolve_credentials(acc, "imap", prompt).password == SECRET
    assert resolve_credentials(acc, "imap", prompt).password == SECRET
    smtp = resolve_credentials(acc, "smtp", prompt)  # SMTP named no source: IMAP's are used
    assert smtp == Credentials("ada", SECRET)
    assert len(calls) == 1
    forget_prompted("other")
    resolve_credentials(acc, "imap", prompt)
    assert len(calls) == 1
    forget_prompted("work")
    resolve_credentials(acc, "imap", prompt)
    assert len(calls) == 2


def test_smtp_with_its_own_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_PW", ENV_SECRET)
    acc = account({"password_command": printf(SECRET)}, {"password_env": "SMTP_PW", "user": "ada2"})
    assert resolve_credentials(acc, "smtp") == Credentials("ada2", ENV_SECRET)
    assert resolve_credentials(acc, "imap") == Credentials("ada", SECRET)


def test_in_memory_secret_wins_over_everything(monkeypatch: pytest.MonkeyPatch) -> None:
    install_keyring(monkeypatch, FakeKeyring({("termail", "demo"): KEYRING_SECRET}))
    settings = ServerSettings(host="127.0.0.1", port=1, user="demo")
    acc = AccountConfig.in_memory("demo", settings, settings, Credentials("demo", SECRET))
    assert resolve_credentials(acc, "imap") == Credentials("demo", SECRET)
    assert resolve_credentials(acc, "smtp") == Credentials("demo", SECRET)
    token_acc = AccountConfig.in_memory(
        "t", settings, settings, Credentials("demo", oauth2_token="tok")
    )
    assert resolve_credentials(token_acc, "imap").oauth2_token == "tok"
    assert token_acc.imap_settings().auth == "xoauth2"


def test_no_source_at_all_says_what_to_set() -> None:
    with pytest.raises(CredentialError) as info:
        resolve_credentials(account(), "imap")
    text = str(info.value)
    assert "password_command" in text and "keyring set termail work" in text
    with pytest.raises(ValueError):
        resolve_credentials(account(), "pop3")


def test_prompt_failures_become_credential_errors() -> None:
    def eof(question: str) -> str:
        raise EOFError

    with pytest.raises(CredentialError, match="no password given"):
        resolve_credentials(account(), "imap", eof)
    with pytest.raises(CredentialError, match="no password given"):
        resolve_credentials(account(), "imap", lambda q: "")

    def no_tty(question: str) -> str:
        raise RuntimeError("no terminal to ask on")

    with pytest.raises(CredentialError, match="no terminal"):
        resolve_credentials(account(), "imap", no_tty)


# -- command failures ---------------------------------------------------------------------------


def test_failing_command_error_names_the_key_not_the_output() -> None:
    cmd = f"echo {SECRET}; echo {SECRET} >&2; exit 3"
    with pytest.raises(CredentialError) as info:
        resolve_credentials(account({"password_command": cmd}), "imap")
    text = str(info.value)
    assert "accounts.work.imap.password_command exited with status 3" in text
    assert SECRET not in text and SECRET not in repr(info.value)
    assert SECRET not in "".join(traceback.format_exception(info.value))


def test_mistyped_secret_as_command_is_not_echoed() -> None:
    """`password_command = "hunter2"`: the shell's "not found" quotes it; we never show that."""
    with pytest.raises(CredentialError) as info:
        resolve_credentials(account({"password_command": SECRET}), "imap")
    assert SECRET not in str(info.value)
    assert "status 127" in str(info.value)


def test_empty_output_and_timeout() -> None:
    with pytest.raises(CredentialError, match="empty first line"):
        resolve_credentials(account({"password_command": "printf '\\n'"}), "imap")
    with pytest.raises(CredentialError, match="no answer within 1 seconds") as info:
        resolve_credentials(
            account({"password_command": f"echo {SECRET}; sleep 5", "command_timeout": 1}), "imap"
        )
    assert SECRET not in "".join(traceback.format_exception(info.value))


def test_smtp_inherits_a_failing_command_label() -> None:
    with pytest.raises(CredentialError, match=r"accounts\.work\.imap\.password_command"):
        resolve_credentials(account({"password_command": "exit 1"}), "smtp")


# -- secrets stay out of logs, exception texts and reprs -----------------------------------------


def test_secrets_absent_from_logs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    install_keyring(monkeypatch, FakeKeyring({("termail", "k"): KEYRING_SECRET}))
    monkeypatch.setenv("WORK_PW", ENV_SECRET)
    resolve_credentials(account({"keyring": "k"}), "imap")
    resolve_credentials(account({"keyring": False, "password_command": printf(SECRET)}), "imap")
    resolve_credentials(account({"keyring": False, "password_env": "WORK_PW"}), "imap")
    resolve_credentials(account({"keyring": False}), "imap", lambda q: "typed-" + SECRET)
    text = caplog.text
    assert "password from the OS keyring" in text and "password from password_command" in text
    assert "password from $WORK_PW" in text and "password from the prompt" in text
    for secret in (SECRET, KEYRING_SECRET, ENV_SECRET):
        assert secret not in text


def test_secrets_absent_from_reprs() -> None:
    creds = resolve_credentials(account({"password_command": printf(SECRET)}), "imap")
    assert SECRET not in repr(creds) and SECRET not in str(creds)
    settings = ServerSettings(host="h", port=1, user="u")
    acc = AccountConfig.in_memory("demo", settings, settings, Credentials("u", SECRET))
    config = Config(accounts={"demo": acc})
    for obj in (acc, acc.imap, acc.smtp, config):
        assert SECRET not in repr(obj) and SECRET not in str(obj)


def test_redact() -> None:
    assert redact(f"LOGIN failed for {SECRET}!", SECRET, None, "") == "LOGIN failed for <hidden>!"


def test_credentials_are_resolved_by_their_own_module() -> None:
    """`app.config.model` no longer re-exports the resolver (that import made a circle)."""
    from app.config import model as config

    acc = account({"password_command": printf(SECRET)})
    assert creds_mod.resolve_credentials(acc, "imap").password == SECRET
    assert not hasattr(config, "resolve_credentials")
    assert creds_mod.KEYRING_SERVICE == "termail"


def test_password_command_runs_from_a_loaded_file(tmp_path: Path) -> None:
    from app.config.model import load_config

    path = tmp_path / "c.toml"
    path.write_text(
        '[accounts.w]\naddress = "a@b.c"\n[accounts.w.imap]\nhost = "h"\n'
        f"password_command = {json.dumps(printf(SECRET))}\n"
        '[accounts.w.smtp]\nhost = "h"\n'
    )
    acc = load_config(path).default_account
    assert resolve_credentials(acc, "smtp") == Credentials("a@b.c", SECRET)
