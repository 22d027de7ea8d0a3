"""`termail config init` and `termail config check`.

`init` writes a commented example config (never over an existing file) from answers on a
terminal or from flags; `check` validates the file and then logs in to every account's IMAP and
SMTP servers, printing what worked. Neither prints a secret: server error texts are redacted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import os
import re
import ssl
import sys
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from app.config.credentials import CredentialError, redact, resolve_credentials
from app.config.model import AccountConfig, Config, ConfigError, config_from_dict, load_config
from app.mime.sanitize import clean_line
from app.mime.termout import say
from app.models import Credentials, ServerSettings, TlsMode
from app.paths import config_path, config_path_is_default, private_dir

__all__ = [
    "CheckResult",
    "check_account",
    "check_imap_login",
    "check_smtp_login",
    "config_check",
    "config_init",
    "example_config",
]

Ask = Callable[[str], str]


# -- init ---------------------------------------------------------------------------------------


def _toml_str(value: str) -> str:
    """A TOML basic string (JSON's escapes are all valid TOML ones)."""
    return json.dumps(value, ensure_ascii=False)


def _default_port(which: str, tls: str) -> int:
    if which == "imap":
        return 993 if tls == "implicit" else 143
    return {"implicit": 465, "starttls": 587}.get(tls, 25)


@dataclass
class InitAnswers:
    """What `config init` needs to write a working file."""

    account: str
    address: str
    name: str
    imap_host: str
    imap_tls: str
    imap_port: int
    smtp_host: str
    smtp_tls: str
    smtp_port: int
    user: str
    password_command: str | None = None
    ca_file: str | None = None


def example_config(a: InitAnswers) -> str:
    """The commented config `config init` writes: every key shown, defaults commented out."""
    acc = a.account if re.fullmatch(r"[A-Za-z0-9_-]+", a.account) else _toml_str(a.account)
    if a.password_command:
        password_line = f"password_command = {_toml_str(a.password_command)}"
    else:
        password_line = f'# password_command = "pass show mail/{a.account}"'
    user_line = f"user = {_toml_str(a.user)}"
    ca_line = (
        f"ca_file = {_toml_str(a.ca_file)}"
        if a.ca_file
        else '# ca_file = "~/certs/my-ca.pem"      # a private CA to trust (PEM)'
    )
    return f"""\
# termail configuration, written by `termail config init` on {date.today().isoformat()}.
# Lines starting with # show a default or an example; remove the # to use them.
# Test it with: termail config check
#
# No password goes in this file (termail refuses one). It is fetched, in this order, from:
#   the OS keyring   `keyring set termail {a.account}` (needs the Python keyring package)
#   password_command a command printing it on its first line, e.g. "pass show mail/{a.account}"
#   oauth2_token_command  a command printing an OAuth2 access token (XOAUTH2)
#   password_env     the name of an environment variable holding it
#   or a prompt at start, remembered until termail exits.

# default_account = {_toml_str(a.account)}   # the first account is the default

[accounts.{acc}]
address = {_toml_str(a.address)}
display_name = {_toml_str(a.name)}
# signature = "-- \\nYour Name"
# signature_file = "~/.config/termail/signature.txt"
# reply_from = ["you+*@example.com"]   # replies to these addresses are sent from this one
#
# More addresses: replace address/display_name/signature above by tables like
# [[accounts.{acc}.identities]]
# name = "Your Name"
# address = "you@example.com"
# reply_from = ["*@example.com"]

[accounts.{acc}.imap]
host = {_toml_str(a.imap_host)}
port = {a.imap_port}
tls = {_toml_str(a.imap_tls)}   # "implicit" (993), "starttls" (143), "none" (needs allow_insecure)
{user_line}
{password_line}
# keyring = {_toml_str(a.account)}             # the OS keyring entry (false: do not ask it)
# oauth2_token_command = "oama access {a.address}"
# password_env = "TERMAIL_{re.sub(r"[^A-Z0-9]", "_", a.account.upper())}_PASSWORD"
{ca_line}
# tunnel = "ssh mailhost /usr/lib/dovecot/imap"   # IMAP over a command instead of TCP
# allow_insecure = false
# auth = "auto"                  # "auto", "plain", "login" or "xoauth2"
# timeout = 30                   # seconds
# command_timeout = 60           # seconds for password_command

[accounts.{acc}.smtp]
host = {_toml_str(a.smtp_host)}
port = {a.smtp_port}
tls = {_toml_str(a.smtp_tls)}   # "implicit" (465) or "starttls" (587)
{ca_line}
# user and the password sources default to the [imap] block's

# Without SPECIAL-USE folder markers termail takes the usual names (Trash, Deleted Items,
# Sent Items, ...); set a role here only when yours differs (the INBOX. prefix may be left out).
# `termail config check` says which folder it uses for each role.
# [accounts.{acc}.folders]
# sent = "Sent Items"
# drafts = "Drafts"
# trash = "Deleted Items"
# junk = "Junk"
# archive = "Archive"

[ui]
# theme = "textual-dark"
# mark_read_delay = 0.0           # seconds a message is shown before it is marked read
# prefer_html = false             # show the HTML part when a message has both
# date_format_today = "%H:%M"
# date_format_this_year = "%b %d"
# date_format = "%Y-%m-%d"
# date_format_full = "%a, %d %b %Y %H:%M"
# folder_pane_width = 28          # columns
# message_list_height = 40        # percent of the right side
# editor = "vim"                  # default: $VISUAL, then $EDITOR, then vi
# reply_position = "bottom"       # reply below the quote (mutt's way), or "top"
# show_unsubscribed = true        # false: leave unsubscribed folders out of the tree
# hyperlinks = "auto"             # OSC 8 links in the viewer: "auto", "on" or "off"
# browser = "firefox --new-tab %s"  # opens links (1-9, 0); default $BROWSER, then xdg-open
# send_delay = 10                 # seconds to undo a send (u); 0 sends at once; also per account

[keys]
# binding id = key(s); the help screen (?) lists the ids
# "app.quit" = "q"
"""


def _account_name_from(address: str) -> str:
    domain = address.rpartition("@")[2].lower()
    label = domain.split(".")[0] if domain else ""
    label = re.sub(r"[^a-z0-9_-]", "", label)
    return label or "mail"


def _ask_with_default(ask: Ask, question: str, default: str) -> str:
    answer = ask(f"{question} [{default}]: " if default else f"{question}: ").strip()
    return answer or default


def _ask_choice(ask: Ask, question: str, choices: tuple[str, ...], default: str) -> str:
    while True:
        answer = _ask_with_default(ask, f"{question} ({'/'.join(choices)})", default).lower()
        if answer in choices:
            return answer
        say(f"  please answer one of: {', '.join(choices)}", file=sys.stderr)


def _init_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="termail config init",
        description="Write a commented example config. Asks on a terminal; flags skip questions.",
    )
    parser.add_argument("--config", type=Path, default=None, help="where to write it")
    parser.add_argument("--account", help="account name (default: from the address's domain)")
    parser.add_argument("--address", help="your email address")
    parser.add_argument("--name", help="your name, as shown in From")
    parser.add_argument("--imap-host")
    parser.add_argument("--imap-port", type=int)
    parser.add_argument("--imap-tls", choices=("implicit", "starttls", "none"))
    parser.add_argument("--smtp-host")
    parser.add_argument("--smtp-port", type=int)
    parser.add_argument("--smtp-tls", choices=("implicit", "starttls", "none"))
    parser.add_argument("--user", help="login name (default: the address)")
    parser.add_argument("--password-command", help='e.g. "pass show mail/work"')
    parser.add_argument("--ca-file", help="a PEM file of CAs to trust (private servers)")
    return parser


def _gather(args: argparse.Namespace, ask: Ask | None) -> InitAnswers:
    """Flags first; what they leave out is asked on a terminal, or guessed from the address."""
    address = args.address
    if not address:
        if ask is None:
            raise ConfigError("no terminal to ask on: give --address (and --imap-host ...)")
        while not address or "@" not in address:
            address = ask("Your email address: ").strip()
    domain = address.rpartition("@")[2]

    def value(flag: Any, question: str, default: str) -> str:
        if flag:
            return str(flag)
        return _ask_with_default(ask, question, default) if ask else default

    def choice(flag: str | None, question: str, default: str) -> str:
        if flag:
            return flag
        return _ask_choice(ask, question, ("implicit", "starttls"), default) if ask else default

    name = value(args.name, "Your name", "")
    imap_host = value(args.imap_host, "IMAP server", f"imap.{domain}")
    imap_tls = choice(args.imap_tls, "IMAP security", "implicit")
    smtp_host = value(args.smtp_host, "SMTP server", f"smtp.{domain}")
    smtp_tls = choice(args.smtp_tls, "SMTP security", "implicit")
    user = value(args.user, "Login name", address)
    if args.password_command is not None:
        password_command: str | None = args.password_command
    elif ask is not None:
        password_command = ask(
            "Command printing your password (e.g. pass show mail/work; empty: ask at start): "
        ).strip()
    else:
        password_command = None
    return InitAnswers(
        account=args.account or _account_name_from(address),
        address=address.strip(),
        name=name,
        imap_host=imap_host.strip(),
        imap_tls=imap_tls,
        imap_port=args.imap_port or _default_port("imap", imap_tls),
        smtp_host=smtp_host.strip(),
        smtp_tls=smtp_tls,
        smtp_port=args.smtp_port or _default_port("smtp", smtp_tls),
        user=user.strip(),
        password_command=password_command or None,
        ca_file=str(Path(args.ca_file).expanduser().resolve()) if args.ca_file else None,
    )


def config_init(
    argv: list[str],
    *,
    ask: Ask | None = None,
    interactive: bool | None = None,
) -> int:
    """`termail config init`: write an example config; 0 done, 1 file exists, 2 bad input.

    Args:
        argv: the arguments after `config init`.
        ask: the question function (default `input`), for tests.
        interactive: ask questions (default: when stdin and stdout are terminals).
    """
    args = _init_parser().parse_args(argv)
    path = config_path(args.config)
    if path.exists():
        say(
            f"termail: {path} exists; not overwriting it. Edit it, check it with "
            "`termail config check`, or move it away first.",
            file=sys.stderr,
        )
        return 1
    if interactive is None:
        interactive = sys.stdin.isatty() and sys.stdout.isatty()
    question = (ask or input) if interactive else None
    try:
        if interactive:
            say(f"Writing a termail config to {path}. Press Enter to accept [defaults].")
        answers = _gather(args, question)
        text = example_config(answers)
        config_from_dict(tomllib.loads(text), str(path), text=text, base_dir=path.parent)
    except (EOFError, KeyboardInterrupt):
        say("\ntermail: cancelled; nothing written", file=sys.stderr)
        return 2
    except ConfigError as exc:
        say(f"termail: {exc}", file=sys.stderr)
        return 2
    except tomllib.TOMLDecodeError as exc:  # a value the template could not hold
        say(f"termail: cannot write these answers: {exc}", file=sys.stderr)
        return 2
    try:
        private_dir(path.parent)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        say(f"termail: {path} exists; not overwriting it", file=sys.stderr)
        return 1
    except OSError as exc:
        say(f"termail: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    say(f"Wrote {path}")
    if not answers.password_command:
        say(
            "No password source set: termail will ask for the password at start. To avoid that,\n"
            f"set password_command in [accounts.{answers.account}.imap], or run "
            f"`keyring set termail {answers.account}`."
        )
    hint = "" if config_path_is_default(args.config) else f" --config {path}"
    say(f"Next: termail config check{hint}")
    return 0


# -- check --------------------------------------------------------------------------------------


@dataclass
class CheckResult:
    """The outcome of one login test."""

    account: str
    which: str
    ok: bool
    where: str
    error: str = ""
    details: tuple[tuple[bool, str], ...] = ()
    """(fine, text) lines under the result: the folder used for each role (IMAP)."""
    alerts: tuple[str, ...] = ()
    """ALERT texts the server sent (RFC 3501 §7.1: they must be shown), already sanitized."""

    def line(self) -> str:
        """One printable line; the error often quotes what a server said, so it is cleaned."""
        status = "ok" if self.ok else "FAILED"
        text = f"{self.account}: {self.which.upper()} {status} ({self.where})"
        text = text if self.ok else f"{text}: {self.error}"
        text = clean_line(text, max_len=2000)
        for fine, detail in self.details:  # folder names: server text too
            text += f"\n    {'' if fine else 'warning: '}{clean_line(detail, max_len=500)}"
        for alert in self.alerts:  # sanitized by the core already; cleaned again, cheaply
            text += f"\n    server ALERT: {clean_line(alert, max_len=2000)}"
        return text


def _where(settings: ServerSettings) -> str:
    if settings.tunnel:
        return "tunnel command"
    tls = {
        TlsMode.IMPLICIT: "implicit TLS",
        TlsMode.STARTTLS: "STARTTLS",
        TlsMode.NONE: "no TLS",
    }[settings.tls]
    return f"{settings.user} at {settings.host}:{settings.port}, {tls}"


def _ssl_context(settings: ServerSettings) -> ssl.SSLContext | None:
    if settings.tls is TlsMode.NONE:
        return None
    return ssl.create_default_context(cafile=settings.ca_file)


async def check_imap_login(
    settings: ServerSettings,
    credentials: Credentials | None,
    roles: Mapping[str, str] | None = None,
    alerts: list[str] | None = None,
) -> list[tuple[bool, str]]:
    """Log in to the IMAP server, list the folders and out again; raises what the IMAP
    client raises. Returns (fine, text) per folder role: the folder termail uses for Trash,
    Sent, Drafts, Junk (SPECIAL-USE, the config's `[folders]`, or guessed from the name), and a
    warning for a role no folder has. The server's ALERT texts (sanitized, each once) are
    added to `alerts`."""
    from app.imap.client import ImapClient  # type: ignore[import-not-found, unused-ignore]
    from app.imap.roles import assign_roles, describe_roles
    from app.mime.sanitize import clean_line

    def on_alert(alert: Any) -> None:
        if alerts is not None and alert.text not in alerts:
            alerts.append(alert.text)

    client = await ImapClient.connect(settings, credentials, on_alert=on_alert)  # type: ignore[arg-type]
    try:
        folders = await client.list_folders()
    except Exception as exc:  # the login worked: a failed LIST is a warning, not a failure
        return [(False, clean_line(f"cannot list the folders: {type(exc).__name__}: {exc}"))]
    finally:
        await client.close()
    namespace = getattr(client, "personal_namespace", None)
    _, report = assign_roles(folders, roles, namespace if isinstance(namespace, str) else None)
    return [(fine, clean_line(text)) for fine, text in describe_roles(report)]


async def _smtp_login_direct(settings: ServerSettings, credentials: Credentials) -> None:
    import aiosmtplib

    if settings.tls is TlsMode.NONE and not settings.allow_insecure:
        raise ConnectionError("refusing to send a password without TLS (allow_insecure is off)")
    smtp = aiosmtplib.SMTP(
        hostname=settings.host,
        port=settings.port,
        timeout=settings.timeout,
        use_tls=settings.tls is TlsMode.IMPLICIT,
        start_tls=settings.tls is TlsMode.STARTTLS,
        tls_context=_ssl_context(settings),
    )
    await smtp.connect()
    try:
        user = credentials.username
        if settings.auth == "xoauth2" or credentials.oauth2_token is not None:
            await smtp.auth_xoauth2(user, credentials.oauth2_token or "")
        elif settings.auth == "plain":
            await smtp.auth_plain(user, credentials.password or "")
        elif settings.auth == "login":
            await smtp.auth_login(user, credentials.password or "")
        else:
            await smtp.login(user, credentials.password or "")
    finally:
        try:
            await smtp.quit()
        except Exception:
            smtp.close()


async def check_smtp_login(settings: ServerSettings, credentials: Credentials) -> None:
    """Log in to the SMTP server; `app.smtp.submit.check_login` when it exists, else aiosmtplib."""
    try:
        from app.smtp.submit import check_login  # type: ignore[import-not-found, attr-defined, unused-ignore]
    except ImportError:
        await _smtp_login_direct(settings, credentials)
        return
    result = check_login(settings, credentials)
    if asyncio.iscoroutine(result):
        await result


def _describe_error(exc: BaseException, *secrets: str | None) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = getattr(exc, "verify_message", None) or exc.strerror or str(exc)
        text = (
            f"the server's certificate is not trusted ({reason}); "
            "set ca_file if it uses a private CA"
        )
    elif isinstance(exc, asyncio.TimeoutError | TimeoutError):
        text = "timed out"
    else:
        detail = str(exc).strip()
        text = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
    # Server replies (a greeting, a refusal of STARTTLS) end up in `str(exc)`, and reach the
    # terminal before TLS protects anything: never as they came.
    return clean_line(redact(text, *secrets), max_len=2000)


async def check_account(
    account: AccountConfig,
    prompt: Callable[[str], str] | None = None,
    emit: Callable[[CheckResult], None] | None = None,
) -> list[CheckResult]:
    """Test one account's IMAP and SMTP logins; every failure becomes a result, never raises."""
    results: list[CheckResult] = []
    for which in ("imap", "smtp"):
        settings = account.imap_settings() if which == "imap" else account.smtp_settings()
        where = _where(settings)
        credentials: Credentials | None = None
        try:
            if not (which == "imap" and settings.tunnel):
                credentials = resolve_credentials(account, which, prompt)
        except CredentialError as exc:
            result = CheckResult(account.name, which, False, where, str(exc))
        else:
            secrets = (
                (credentials.password, credentials.oauth2_token) if credentials else (None, None)
            )
            details: list[tuple[bool, str]] = []
            alerts: list[str] = []
            try:
                if which == "imap":
                    details = await asyncio.wait_for(
                        check_imap_login(settings, credentials, account.folders, alerts),
                        settings.timeout + 5,
                    )
                else:
                    assert credentials is not None
                    coro = check_smtp_login(settings, credentials)
                    await asyncio.wait_for(coro, settings.timeout + 5)
            except ImportError as exc:
                result = CheckResult(account.name, which, False, where, f"cannot test yet: {exc}")
            except Exception as exc:
                result = CheckResult(
                    account.name, which, False, where, _describe_error(exc, *secrets)
                )
            else:
                result = CheckResult(account.name, which, True, where, details=tuple(details))
            result.alerts = tuple(redact(a, *secrets) for a in alerts)
        results.append(result)
        if emit is not None:
            emit(result)
    return results


def _terminal_prompt(label: str) -> str:
    if not sys.stdin.isatty():
        raise CredentialError(f"no password source and no terminal to ask on ({label})")
    return getpass.getpass(f"{label}: ")


def _open_protocol_log(path: Path | None, accounts: list[AccountConfig]) -> list[Any] | None:
    """`--log-protocol FILE`: every login's dialogue written to FILE as it happens (the
    client's protocol log, `app.protolog`: LOGIN's password, AUTH payloads and tokens are never
    written). The logs attached, [] without FILE; None, said on stderr, when FILE cannot be
    opened."""
    if path is None:
        return []
    from app import protolog

    try:
        protolog.set_live_file(path)
    except OSError as exc:
        say(
            f"termail: cannot write the protocol log {path}: {exc.strerror or exc}", file=sys.stderr
        )
        return None
    logs: list[Any] = []
    for account in accounts:
        log = protolog.ProtocolLog(account.name)
        servers: list[Any] = []
        for settings in (account.imap_settings, account.smtp_settings):
            with contextlib.suppress(Exception):  # a bad server entry: its check says why
                servers.append(settings())
        protolog.attach(log, *servers)
        logs.append(log)
    return logs


def _close_protocol_log(logs: list[Any]) -> None:
    if not logs:
        return
    from app import protolog

    for log in logs:
        protolog.detach(log)
    protolog.set_live_file(None)


def config_check(argv: list[str], *, out: TextIO | None = None) -> int:
    """`termail config check`: 0 all logins work, 1 one failed, 2 the config is invalid."""
    parser = argparse.ArgumentParser(
        prog="termail config check",
        description="Validate the config, then test each account's IMAP and SMTP login.",
    )
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--account", default=None, help="check only this account")
    parser.add_argument("--offline", action="store_true", help="validate only; no login")
    parser.add_argument(
        "--log-protocol",
        type=Path,
        default=None,
        metavar="FILE",
        help="append the IMAP and SMTP dialogue of the logins to FILE (credentials redacted)",
    )
    args = parser.parse_args(argv)
    stream = out if out is not None else sys.stdout
    path = config_path(args.config)
    try:
        config: Config = load_config(path)
    except ConfigError as exc:
        say(f"termail: {exc}", file=sys.stderr)
        if exc.message == "no such file":
            say("  Create it with: termail config init", file=sys.stderr)
        return 2
    names = list(config.accounts)
    if args.account is not None:
        if args.account not in config.accounts:
            say(
                f"termail: no account {args.account!r}; the config has: {', '.join(names)}",
                file=sys.stderr,
            )
            return 2
        names = [args.account]
    say(
        f"{path}: valid; {len(config.accounts)} account(s): {', '.join(config.accounts)} "
        f"(default: {config.default_account.name})",
        file=stream,
    )
    if args.offline:
        return 0

    def emit(result: CheckResult) -> None:
        say("  " + result.line(), file=stream, flush=True)

    async def run() -> list[CheckResult]:
        results: list[CheckResult] = []
        for name in names:
            results += await check_account(config.accounts[name], _terminal_prompt, emit)
        return results

    logs = _open_protocol_log(args.log_protocol, [config.accounts[n] for n in names])
    if logs is None:
        return 2
    try:
        results = asyncio.run(run())
    finally:
        _close_protocol_log(logs)
    failed = [r for r in results if not r.ok]
    if args.log_protocol is not None:
        say(f"The dialogue is in {args.log_protocol}.", file=stream)
    if failed:
        say(f"{len(failed)} of {len(results)} logins failed.", file=stream)
        if args.log_protocol is None:
            say("  --log-protocol FILE shows what the servers said (no secrets).", file=stream)
        return 1
    say(f"All {len(results)} logins work.", file=stream)
    return 0
