"""Finding an account's password or OAuth2 token, without ever writing it anywhere.

Sources, in order (the first that gives a secret wins):

1. a secret held in memory by an account built in code (`ServerConfig.secret_override`);
2. the OS keyring, when the `keyring` module is importable and has a usable backend
   (service "termail", entry the account name unless the block sets `keyring = "entry"`);
3. `password_command`, run through the shell with a timeout: the first line it prints;
4. `oauth2_token_command`: the same, giving an XOAUTH2 access token;
5. the environment variable named by `password_env`;
6. a prompt callback given by the caller; the answer is remembered in this process only.

An SMTP block that names no source of its own uses the IMAP block's. Secrets never reach a log
line, an exception's text or a `repr`: errors name the source (`accounts.work.imap.password_command
exited with status 1`), never the command's output.
"""

from __future__ import annotations

import importlib
import logging
import os
import subprocess
from collections.abc import Callable
from typing import TYPE_CHECKING

from app.config.model import format_key
from app.models import Credentials

if TYPE_CHECKING:
    from app.config.model import AccountConfig, ServerConfig

__all__ = [
    "KEYRING_SERVICE",
    "CredentialError",
    "forget_prompted",
    "keyring_available",
    "redact",
    "resolve_credentials",
]

log = logging.getLogger(__name__)

KEYRING_SERVICE = "termail"
"""The service name of termail's entries in the OS keyring."""

Prompt = Callable[[str], str]

_prompted: dict[tuple[str, str, str], str] = {}
"""Answers to the prompt, by (account, block, user): asked once a run, kept in memory only."""


class CredentialError(Exception):
    """No secret could be had. The text names the account and the source, never a secret."""


def forget_prompted(account: str | None = None) -> None:
    """Drop remembered prompt answers (all, or one account's), e.g. after a refused login."""
    for key in list(_prompted):
        if account is None or key[0] == account:
            del _prompted[key]


def redact(text: str, *secrets: str | None) -> str:
    """`text` with every occurrence of the given secrets replaced, for server error messages."""
    for secret in secrets:
        if secret and len(secret) >= 1:
            text = text.replace(secret, "<hidden>")
    return text


def _keyring_module() -> object | None:
    """The `keyring` module when it is installed and has a backend that can store secrets."""
    try:
        module = importlib.import_module("keyring")
    except ImportError:
        return None
    except Exception as exc:  # a broken install must not stop the client
        log.warning("the keyring module failed to import (%s); skipping it", type(exc).__name__)
        return None
    try:
        backend = module.get_keyring()
        priority = getattr(backend, "priority", 1)
        if callable(priority):
            priority = priority()
        usable = isinstance(priority, (int, float)) and priority > 0
    except Exception as exc:
        log.warning("no usable keyring backend (%s); skipping it", type(exc).__name__)
        return None
    if not usable:
        log.debug("keyring backend %s is not usable; skipping it", type(backend).__name__)
        return None
    return module


def keyring_available() -> bool:
    """Whether the OS keyring can be asked (the module is there and has a real backend)."""
    return _keyring_module() is not None


def _from_keyring(entry: str, label: str) -> str | None:
    module = _keyring_module()
    if module is None:
        return None
    try:
        secret = module.get_password(KEYRING_SERVICE, entry)  # type: ignore[attr-defined]
    except Exception as exc:  # a locked or broken keyring falls through
        log.warning(
            "%s: keyring lookup failed (%s); trying the next source", label, type(exc).__name__
        )
        return None
    if isinstance(secret, str) and secret:
        return secret
    log.debug("%s: no entry %r in the keyring", label, entry)
    return None


def run_secret_command(command: str, timeout: float, label: str) -> str:
    """Run `command` through the shell and return the first line it prints.

    stdin is closed (the TUI owns the terminal) and stderr is swallowed, since a mistyped
    command's complaint may quote it; errors say only the status and where the key is.
    """
    try:
        proc = subprocess.run(
            command,
            shell=True,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise CredentialError(f"{label} gave no answer within {timeout:g} seconds") from None
    except OSError as exc:
        raise CredentialError(f"{label} could not be run ({exc.strerror or 'error'})") from None
    if proc.returncode != 0:
        raise CredentialError(
            f"{label} exited with status {proc.returncode}; run it in a shell to see why"
        )
    try:
        text = proc.stdout.decode("utf-8")
    except UnicodeDecodeError:
        raise CredentialError(f"{label} printed something that is not UTF-8") from None
    first = text.split("\n", 1)[0].rstrip("\r")
    if not first.strip():
        raise CredentialError(f"{label} printed an empty first line; expected the secret there")
    return first


def _label(account: AccountConfig, which: str, key: str) -> str:
    return format_key(("accounts", account.name, which, key))


def resolve_credentials(
    account: AccountConfig,
    which: str,
    prompt: Prompt | None = None,
) -> Credentials:
    """The username and secret for one account's IMAP or SMTP server.

    Args:
        account: the configured account.
        which: "imap" or "smtp".
        prompt: asked `prompt(label)` as the last resort; its answer is remembered in memory.

    Raises:
        CredentialError: a configured source failed, or none gave a secret.
    """
    if which not in ("imap", "smtp"):
        raise ValueError(f"which must be 'imap' or 'smtp', not {which!r}")
    server: ServerConfig = account.imap if which == "imap" else account.smtp
    source = account.imap if server.inherits_credentials else server
    source_block = "imap" if server.inherits_credentials else which
    token_mode = server.effective_auth == "xoauth2"
    kind = "token" if token_mode else "password"

    def made(secret: str, origin: str, *, token: bool = token_mode) -> Credentials:
        log.info("account %s, %s: %s from %s", account.name, which.upper(), kind, origin)
        if token:
            return Credentials(username=server.user, oauth2_token=secret)
        return Credentials(username=server.user, password=secret)

    if server.secret_override is not None:
        return made(server.secret_override, "memory")
    if source.keyring:
        secret = _from_keyring(source.keyring, _label(account, source_block, "keyring"))
        if secret is not None:
            return made(secret, f"the OS keyring (entry {source.keyring!r})")
    if source.password_command:
        label = _label(account, source_block, "password_command")
        secret = run_secret_command(source.password_command, source.command_timeout, label)
        return made(secret, "password_command")
    if source.oauth2_token_command:
        label = _label(account, source_block, "oauth2_token_command")
        secret = run_secret_command(source.oauth2_token_command, source.command_timeout, label)
        return made(secret, "oauth2_token_command", token=True)
    if source.password_env:
        value = os.environ.get(source.password_env)
        if value:
            return made(value, f"${source.password_env}")
        log.info("account %s, %s: $%s is not set", account.name, which.upper(), source.password_env)
    key = (account.name, source_block, server.user)
    remembered = _prompted.get(key)
    if remembered is not None:
        return made(remembered, "the prompt (remembered)")
    if prompt is not None:
        where = f"{server.user} on {server.host}" if server.host else server.user
        question = f"{kind.capitalize()} for {where} (account {account.name}, {which.upper()})"
        try:
            answer = prompt(question)
        except EOFError:
            raise CredentialError(f"account {account.name}: no {kind} given") from None
        except CredentialError:
            raise
        except Exception as exc:  # the caller's prompt, reported as ours
            raise CredentialError(f"account {account.name}: {exc}") from None
        if not isinstance(answer, str) or not answer:
            raise CredentialError(f"account {account.name}: no {kind} given")
        _prompted[key] = answer
        return made(answer, "the prompt")
    raise CredentialError(
        f"account {account.name}: no {kind} for {which.upper()}: set password_command, "
        f"password_env or oauth2_token_command in [accounts.{account.name}.{source_block}], or "
        f"store it with `keyring set {KEYRING_SERVICE} {source.keyring or account.name}`"
    )
