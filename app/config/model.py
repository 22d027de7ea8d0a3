"""The user's TOML configuration: accounts, identities, servers, UI settings and key bindings.

The file is the user's, kept in their dotfiles, and termail never rewrites it. It holds no
secret: a `password` key is refused with a message saying where to move it (see
`app.config.credentials` for the sources a password is fetched from). Every mistake raises a
`ConfigError` naming the file, the line, the key path and what was expected; `load_or_exit`
prints that and exits with status 2 without a traceback.

Example::

    [accounts.work]
    address = "ada@example.com"
    display_name = "Ada Lovelace"

    [accounts.work.imap]
    host = "imap.example.com"
    password_command = "pass show mail/work"

    [accounts.work.smtp]
    host = "smtp.example.com"
    port = 587
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
import stat
import sys
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, NoReturn

from app.models import (
    Credentials,
    FolderRole,
    Identity,
    ServerSettings,
    TlsMode,
    choose_identity,
)

__all__ = [
    "AccountConfig",
    "Config",
    "ConfigError",
    "Identity",
    "ServerConfig",
    "UiSettings",
    "config_from_dict",
    "first_run_message",
    "load_config",
    "load_or_exit",
]

KeyPart = str | int
KeyPath = tuple[KeyPart, ...]

MAX_CONFIG_BYTES = 1_000_000
"""A config larger than this is certainly not one: refuse it rather than parse it."""

DEFAULT_KEYRING_SERVICE = "termail"
"""The OS keyring service name; the entry name defaults to the account name."""


class ConfigError(Exception):
    """A configuration mistake, located: file, line, key path and what was expected.

    The text never holds a value from the file (it might be a secret put in the wrong key).
    """

    def __init__(
        self,
        message: str,
        *,
        source: str = "<config>",
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.message = message
        self.source = source
        self.line = line
        self.key = key
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        if self.key:
            return f"{where}: {self.key}: {self.message}"
        return f"{where}: {self.message}"


# -- the typed settings -------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerConfig:
    """One `[imap]` or `[smtp]` block: where the server is, and where its secret comes from.

    `secret_override` is a secret held in memory only (the demo and tests build accounts in
    code with it); it is never shown by `repr` and never read from a file.
    """

    host: str
    port: int
    user: str
    tls: TlsMode = TlsMode.IMPLICIT
    ca_file: str | None = None
    tunnel: str | None = None
    allow_insecure: bool = False
    auth: str = "auto"
    timeout: float = 30.0
    compress: bool = True
    """IMAP only: COMPRESS=DEFLATE where offered (on a slow link it shrinks fetches severalfold)."""
    password_command: str | None = None
    oauth2_token_command: str | None = None
    password_env: str | None = None
    keyring: str | None = None
    """Entry name in the OS keyring (service "termail"), or None to not ask the keyring."""
    command_timeout: float = 60.0
    inherits_credentials: bool = False
    """SMTP only: the block named no credential source, so the IMAP block's are used."""
    secret_override: str | None = field(default=None, repr=False, compare=False)

    def settings(self) -> ServerSettings:
        """The connection settings the IMAP and SMTP layers take (no secret in them)."""
        return ServerSettings(
            host=self.host,
            port=self.port,
            user=self.user,
            tls=self.tls,
            ca_file=self.ca_file,
            tunnel=self.tunnel,
            allow_insecure=self.allow_insecure,
            auth=self.effective_auth,
            timeout=self.timeout,
            compress=self.compress,
        )

    @property
    def effective_auth(self) -> str:
        """`auto` becomes `xoauth2` when the secret is an OAuth2 token."""
        if self.auth == "auto" and self.oauth2_token_command:
            return "xoauth2"
        return self.auth

    @classmethod
    def from_settings(
        cls, settings: ServerSettings, credentials: Credentials | None = None
    ) -> ServerConfig:
        """A block built in code from `ServerSettings`, its secret (if any) kept in memory."""
        secret = None
        auth = settings.auth
        if credentials is not None:
            if credentials.oauth2_token is not None:
                secret = credentials.oauth2_token
                auth = "xoauth2"
            else:
                secret = credentials.password
        return cls(
            host=settings.host,
            port=settings.port,
            user=credentials.username if credentials is not None else settings.user,
            tls=settings.tls,
            ca_file=settings.ca_file,
            tunnel=settings.tunnel,
            allow_insecure=settings.allow_insecure,
            auth=auth,
            timeout=settings.timeout,
            compress=settings.compress,
            secret_override=secret,
        )


@dataclass(frozen=True)
class AccountConfig:
    """One configured account: its identities, servers and folder-role overrides."""

    name: str
    identities: list[Identity]
    imap: ServerConfig
    smtp: ServerConfig
    folders: dict[str, str] = field(default_factory=dict)
    """Role name (`sent`, `drafts`, `trash`, ...) to folder name, for servers lacking SPECIAL-USE."""
    send_delay: float | None = None
    """Seconds a sent message waits (undo send) for this account; None: `[ui] send_delay`."""

    def imap_settings(self) -> ServerSettings:
        return self.imap.settings()

    def smtp_settings(self) -> ServerSettings:
        return self.smtp.settings()

    @property
    def address(self) -> str:
        """The main address: the first identity's."""
        return self.identities[0].address if self.identities else ""

    def identity_for(self, recipients: Iterable[str]) -> Identity:
        """The identity to reply from, given the addresses a message was sent to.

        An identity whose own address is among the recipients wins, then one whose `reply_from`
        pattern matches, then the first identity.
        """
        found = choose_identity(self.identities, recipients)
        assert found is not None  # an account has at least one identity
        return found

    @classmethod
    def in_memory(
        cls,
        name: str,
        imap: ServerSettings,
        smtp: ServerSettings,
        credentials: Credentials | None,
        *,
        identities: Sequence[Identity] = (),
        smtp_credentials: Credentials | None = None,
        folders: Mapping[str, str] | None = None,
    ) -> AccountConfig:
        """An account built in code (the demo, tests) with its secret held in memory only."""
        _check_account_name(name)
        ids = list(identities) or [Identity(name="", address=imap.user)]
        return cls(
            name=name,
            identities=ids,
            imap=ServerConfig.from_settings(imap, credentials),
            smtp=ServerConfig.from_settings(smtp, smtp_credentials or credentials),
            folders=dict(folders or {}),
        )


def _default_editor() -> str:
    return os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"


@dataclass(frozen=True)
class UiSettings:
    """What the screen looks like and how it behaves; every field has a working default."""

    theme: str | None = None
    """A built-in or user theme name; None keeps Textual's default."""
    mark_read_delay: float = 0.0
    """Seconds a message stays open before it is marked read (0: at once)."""
    prefer_html: bool = False
    """Show the HTML part (as text) rather than the plain-text part when both exist."""
    date_format_today: str = "%H:%M"
    date_format_this_year: str = "%b %d"
    date_format: str = "%Y-%m-%d"
    """Dates in the message list: today, earlier this year, older."""
    date_format_full: str = "%a, %d %b %Y %H:%M"
    """The date in the message view's header."""
    folder_pane_width: int = 28
    """Columns of the folder tree."""
    message_list_height: int = 40
    """Percent of the right side given to the message list (the rest to the preview)."""
    editor: str = field(default_factory=_default_editor)
    """The compose editor command line: `editor` in the file, else $VISUAL, $EDITOR, vi."""
    archive: str = "flat"
    """Where `y` archives to: "flat" (the Archive folder), "year" or "month" (Archive/2026/12)."""
    reply_position: str = "bottom"
    """Where a reply's cursor starts: "bottom" below the quote (mutt's way), or "top"."""
    show_unsubscribed: bool = True
    """Show folders one is not subscribed to in the tree (marked "unsubscribed")."""
    hyperlinks: str = "auto"
    """OSC 8 hyperlinks in the viewer: "auto" (where the terminal is known to have them),
    "on" or "off"."""
    browser: str = ""
    """The command that opens a link (`%s`: the URL; else it is the last argument); "" uses
    $BROWSER, else xdg-open. Run without a shell."""
    send_delay: float = 10.0
    """Seconds a sent message waits in the outbox, `u` taking it back (0: sent at once)."""


@dataclass(frozen=True)
class Config:
    """The whole configuration. `accounts` keeps the file's order."""

    accounts: dict[str, AccountConfig]
    default_account_name: str = ""
    ui: UiSettings = field(default_factory=UiSettings)
    keys: dict[str, str] = field(default_factory=dict)
    """Binding id (`app.quit`, `message.reply`) to key(s), as Textual's `set_keymap` takes."""
    source: Path | None = None

    def __post_init__(self) -> None:
        if not self.accounts:
            raise ConfigError("no account configured", source=str(self.source or "<config>"))
        if not self.default_account_name:
            object.__setattr__(self, "default_account_name", next(iter(self.accounts)))
        elif self.default_account_name not in self.accounts:
            raise ConfigError(
                f"expected one of the account names: {', '.join(self.accounts)}",
                source=str(self.source or "<config>"),
                key="default_account",
            )

    @property
    def default_account(self) -> AccountConfig:
        return self.accounts[self.default_account_name]


# -- locating keys in the TOML text -------------------------------------------------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def format_key(path: KeyPath) -> str:
    """`accounts.work.imap.port`, `accounts."my mail".identities[0].address`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            piece = part if _BARE_KEY.fullmatch(part) else json.dumps(part, ensure_ascii=False)
            out += ("." if out else "") + piece
    return out


def _parse_key(s: str, i: int) -> tuple[list[str], int] | None:
    """A dotted TOML key starting at `s[i]`: its parts and the index after it."""
    parts: list[str] = []
    n = len(s)
    while True:
        while i < n and s[i] in " \t":
            i += 1
        if i >= n:
            return None
        if s[i] == '"':
            j = i + 1
            while j < n and s[j] != '"':
                j += 2 if s[j] == "\\" else 1
            if j >= n:
                return None
            try:
                parts.append(json.loads(s[i : j + 1]))
            except ValueError:
                parts.append(s[i + 1 : j])
            i = j + 1
        elif s[i] == "'":
            j = s.find("'", i + 1)
            if j < 0:
                return None
            parts.append(s[i + 1 : j])
            i = j + 1
        else:
            match = _BARE_KEY.match(s, i)
            if match is None:
                return None
            parts.append(match.group())
            i = match.end()
        while i < n and s[i] in " \t":
            i += 1
        if i < n and s[i] == ".":
            i += 1
            continue
        return parts, i


def index_key_lines(text: str) -> dict[KeyPath, int]:
    """Map every key and table path of a TOML text to the line (1-based) where it appears.

    A light scan, not a parser: it runs only on text tomllib has accepted, skips multi-line
    strings, and numbers arrays of tables (`[[accounts.work.identities]]`) as the parser does.
    """
    index: dict[KeyPath, int] = {}
    arrays: dict[KeyPath, int] = {}
    current: KeyPath = ()
    in_multiline: str | None = None

    def resolve(parts: list[str]) -> KeyPath:
        path: KeyPath = ()
        for part in parts[:-1]:
            path += (part,)
            if path in arrays:
                path += (arrays[path] - 1,)
        return (*path, parts[-1])

    for lineno, line in enumerate(text.splitlines(), 1):
        if in_multiline is not None:
            if in_multiline in line:
                in_multiline = None
            continue
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if s.startswith("[["):
            parsed = _parse_key(s, 2)
            if parsed is not None and s[parsed[1] : parsed[1] + 2] == "]]":
                array = resolve(parsed[0])
                count = arrays.get(array, 0)
                arrays[array] = count + 1
                current = (*array, count)
                index.setdefault(array, lineno)
                index.setdefault(current, lineno)
            continue
        if s.startswith("["):
            parsed = _parse_key(s, 1)
            if parsed is not None and s[parsed[1] : parsed[1] + 1] == "]":
                current = resolve(parsed[0])
                index.setdefault(current, lineno)
            continue
        parsed = _parse_key(s, 0)
        if parsed is None:
            continue
        parts, end = parsed
        rest = s[end:]
        if not rest.startswith("="):
            continue
        full = current + tuple(parts)
        for k in range(len(current) + 1, len(full) + 1):
            index.setdefault(full[:k], lineno)
        value = rest[1:].lstrip()
        for delim in ('"""', "'''"):
            if value.startswith(delim) and delim not in value[3:]:
                in_multiline = delim
    return index


# -- reading and checking tables ----------------------------------------------------------------


def _type_name(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, (datetime, date, time)):
        return "a date/time"
    return "a value of another type"


class _Context:
    """Where errors point: the file name, its text (for line numbers), its folder."""

    def __init__(self, source: str, text: str | None, base_dir: Path) -> None:
        self.source = source
        self.text = text
        self.base_dir = base_dir
        self._index: dict[KeyPath, int] | None = None

    def line_of(self, path: KeyPath) -> int | None:
        if self.text is None:
            return None
        if self._index is None:
            try:
                self._index = index_key_lines(self.text)
            except Exception:  # a line number is a nicety, never a crash
                self._index = {}
        for k in range(len(path), 0, -1):
            line = self._index.get(path[:k])
            if line is not None:
                return line
        return None

    def error(self, path: KeyPath, message: str) -> ConfigError:
        return ConfigError(
            message,
            source=self.source,
            line=self.line_of(path),
            key=format_key(path) or None,
        )

    def path(self, value: str) -> Path:
        """A path from the file: `~` expanded, relative to the config file's folder."""
        p = Path(value)
        try:
            p = p.expanduser()
        except RuntimeError:  # `~someone` for an unknown user: leave it, it will not exist
            pass
        return p if p.is_absolute() else self.base_dir / p


def _password_message(path: KeyPath) -> str:
    account = str(path[1]) if len(path) > 1 and path[0] == "accounts" else "NAME"
    return (
        "a password in the config file is refused: anyone who reads the file, its backups or "
        "your dotfiles repository would have it. Delete this line, then either keep the "
        f'password in a password manager and set password_command = "pass show mail/{account}" '
        f"(the first line it prints is used), or store it in the OS keyring with "
        f"`keyring set termail {account}`, or set password_env to the name of an environment "
        "variable holding it; otherwise termail asks for it at start"
    )


_MISSING: Any = object()


class _Table:
    """A TOML table being validated: typed getters that raise located errors."""

    def __init__(
        self,
        ctx: _Context,
        data: Mapping[str, Any],
        path: KeyPath,
        allowed: Iterable[str] | None,
    ) -> None:
        self.ctx = ctx
        self.data = data
        self.path = path
        if allowed is None:
            return
        known = set(allowed)
        if "password" in data and "password" not in known:
            raise self.err("password", _password_message(path))
        for key in data:
            if key not in known:
                close = difflib.get_close_matches(key, sorted(known), n=1)
                hint = f' (did you mean "{close[0]}"?)' if close else ""
                raise self.err(
                    key, f"unknown key{hint}; expected one of: {', '.join(sorted(known))}"
                )

    def err(self, key: KeyPart | None, message: str) -> ConfigError:
        path = self.path if key is None else (*self.path, key)
        return self.ctx.error(path, message)

    def fail(self, key: KeyPart | None, message: str) -> NoReturn:
        raise self.err(key, message)

    def has(self, key: str) -> bool:
        return key in self.data

    def _get(self, key: str) -> Any:
        return self.data.get(key, _MISSING)

    def opt_str(self, key: str, *, allow_empty: bool = False) -> str | None:
        value = self._get(key)
        if value is _MISSING:
            return None
        if not isinstance(value, str):
            self.fail(key, f"expected a string, got {_type_name(value)}")
        if not allow_empty and not value.strip():
            self.fail(key, "expected a non-empty string")
        if "\x00" in value:
            self.fail(key, "expected a string without NUL characters")
        return value

    def req_str(self, key: str, what: str = "a non-empty string") -> str:
        value = self.opt_str(key)
        if value is None:
            self.fail(key, f"missing; expected {what}")
        return value

    def integer(self, key: str, default: int | None, low: int, high: int) -> int | None:
        value = self._get(key)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, f"expected an integer from {low} to {high}, got {_type_name(value)}")
        if not low <= value <= high:
            self.fail(key, f"expected an integer from {low} to {high}")
        return value

    def number(self, key: str, default: float, low: float, high: float) -> float:
        value = self._get(key)
        if value is _MISSING:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(key, f"expected a number from {low:g} to {high:g}, got {_type_name(value)}")
        number = float(value)
        if not math.isfinite(number) or not low <= number <= high:
            self.fail(key, f"expected a number from {low:g} to {high:g}")
        return number

    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key)
        if value is _MISSING:
            return default
        if not isinstance(value, bool):
            self.fail(key, f"expected true or false, got {_type_name(value)}")
        return value

    def choice(self, key: str, choices: Sequence[str]) -> str | None:
        value = self._get(key)
        if value is _MISSING:
            return None
        expected = ", ".join(f'"{c}"' for c in choices)
        if not isinstance(value, str):
            self.fail(key, f"expected one of {expected}, got {_type_name(value)}")
        lowered = value.strip().lower()
        if lowered not in choices:
            self.fail(key, f"expected one of {expected}")
        return lowered

    def str_list(self, key: str) -> list[str]:
        value = self._get(key)
        if value is _MISSING:
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            self.fail(key, f"expected an array of strings, got {_type_name(value)}")
        out: list[str] = []
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise self.ctx.error(
                    (*self.path, key, i), f"expected a non-empty string, got {_type_name(item)}"
                )
            out.append(item.strip())
        return out

    def sub(self, key: str, allowed: Iterable[str] | None) -> _Table | None:
        value = self._get(key)
        if value is _MISSING:
            return None
        if not isinstance(value, dict):
            self.fail(key, f"expected a table, got {_type_name(value)}")
        return _Table(self.ctx, value, (*self.path, key), allowed)

    def tables(self, key: str, allowed: Iterable[str]) -> list[_Table]:
        value = self._get(key)
        if value is _MISSING:
            return []
        if isinstance(value, dict):
            value = [value]
        if not isinstance(value, list):
            self.fail(key, f"expected an array of tables, got {_type_name(value)}")
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                raise self.ctx.error(
                    (*self.path, key, i), f"expected a table, got {_type_name(item)}"
                )
            out.append(_Table(self.ctx, item, (*self.path, key, i), allowed))
        return out


# -- the schema ---------------------------------------------------------------------------------

_ACCOUNT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BINDING_ID = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")

_TOP_KEYS = ("accounts", "default_account", "ui", "keys")
_PGP_KEYS = ("pgp_sign", "pgp_key", "pgp_encrypt_if_possible")
_IDENTITY_KEYS = ("name", "address", "signature", "signature_file", "reply_from", *_PGP_KEYS)
_ACCOUNT_KEYS = (
    "identities",
    "address",
    "display_name",
    "signature",
    "signature_file",
    "reply_from",
    *_PGP_KEYS,
    "imap",
    "smtp",
    "folders",
    "send_delay",
)
_CREDENTIAL_KEYS = (
    "password_command",
    "oauth2_token_command",
    "password_env",
    "keyring",
    "command_timeout",
)
_SERVER_KEYS = (
    "host",
    "port",
    "tls",
    "user",
    "ca_file",
    "allow_insecure",
    "auth",
    "timeout",
    *_CREDENTIAL_KEYS,
)
_IMAP_KEYS = (*_SERVER_KEYS, "tunnel", "compress")
_TLS_CHOICES = ("implicit", "starttls", "none")
_AUTH_CHOICES = ("auto", "plain", "login", "xoauth2")
_FOLDER_ROLES = tuple(r.value for r in FolderRole if r is not FolderRole.NONE)
_UI_KEYS = (
    "theme",
    "mark_read_delay",
    "prefer_html",
    "date_format_today",
    "date_format_this_year",
    "date_format",
    "date_format_full",
    "folder_pane_width",
    "message_list_height",
    "editor",
    "archive",
    "reply_position",
    "show_unsubscribed",
    "hyperlinks",
    "browser",
    "send_delay",
)
_MAX_SIGNATURE = 64_000
#: Longest undo-send delay accepted (seconds).
MAX_SEND_DELAY = 600.0


def _check_account_name(name: str) -> None:
    if not _ACCOUNT_NAME.fullmatch(name):
        raise ConfigError(
            "expected an account name of letters, digits and . _ @ + - (at most 64)",
            key=format_key(("accounts", name)),
        )


def _signature(table: _Table) -> str:
    text = table.opt_str("signature", allow_empty=True)
    file = table.opt_str("signature_file")
    if text is not None and file is not None:
        table.fail("signature_file", "expected either signature or signature_file, not both")
    if file is not None:
        path = table.ctx.path(file)
        try:
            data = path.read_bytes()[: _MAX_SIGNATURE + 1]
        except OSError as exc:
            table.fail("signature_file", f"expected a readable file ({exc.strerror or exc})")
        if len(data) > _MAX_SIGNATURE:
            table.fail("signature_file", f"expected a file of at most {_MAX_SIGNATURE} bytes")
        text = data.decode("utf-8", errors="replace")
    return (text or "").rstrip("\n")


def _address(table: _Table, key: str) -> str:
    value = table.req_str(key, "an email address such as ada@example.com").strip()
    if "<" in value or ">" in value or " " in value:
        table.fail(key, "expected the bare address (ada@example.com); put the name in `name`")
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain or any(ord(c) < 32 for c in value):
        table.fail(key, "expected an email address such as ada@example.com")
    return value


def _identity(table: _Table, name_key: str) -> Identity:
    name = table.opt_str(name_key, allow_empty=True) or ""
    if any(ord(c) < 32 for c in name):
        table.fail(name_key, "expected a name without control characters")
    return Identity(
        name=name.strip(),
        address=_address(table, "address"),
        signature=_signature(table),
        reply_from=table.str_list("reply_from"),
        pgp_sign=table.boolean("pgp_sign", False),
        pgp_key=(table.opt_str("pgp_key") or "").strip(),
        pgp_encrypt_if_possible=table.boolean("pgp_encrypt_if_possible", False),
    )


def _identities(table: _Table) -> list[Identity]:
    shorthand = [k for k in (*_IDENTITY_KEYS[1:], "display_name") if table.has(k)]
    listed = table.tables("identities", _IDENTITY_KEYS)
    if shorthand and listed:
        table.fail(
            shorthand[0], "expected either address (one identity) or [[identities]], not both"
        )
    if shorthand:
        return [_identity(table, "display_name")]
    if not listed:
        table.fail(
            "identities",
            'missing; expected `address = "you@example.com"` or [[identities]] tables',
        )
    return [_identity(t, "name") for t in listed]


def _host(table: _Table, required: bool) -> str:
    if not required and not table.has("host"):
        return ""
    host = table.req_str("host", "a host name such as imap.example.com").strip()
    if "://" in host or "/" in host:
        table.fail("host", "expected just the host name (imap.example.com), without a scheme")
    if any(c.isspace() for c in host) or any(ord(c) < 32 for c in host):
        table.fail("host", "expected a host name without spaces")
    return host


def _keyring_entry(table: _Table, account: str) -> str | None:
    value = table._get("keyring")
    if value is _MISSING or value is True:
        return account
    if value is False:
        return None
    if not isinstance(value, str) or not value.strip():
        table.fail("keyring", f"expected true, false or an entry name, got {_type_name(value)}")
    return value.strip()


def _server(
    table: _Table,
    which: str,
    account: str,
    default_user: str,
    imap: ServerConfig | None,
) -> ServerConfig:
    tunnel = table.opt_str("tunnel") if which == "imap" else None
    tls_name = table.choice("tls", _TLS_CHOICES)
    port = table.integer("port", None, 1, 65535)
    if tunnel is not None:
        if tls_name not in (None, "none"):
            table.fail("tls", 'expected "none" or no tls key: a tunnel speaks plain IMAP on a pipe')
        tls = TlsMode.NONE
    elif tls_name is None:
        plain_ports = (143,) if which == "imap" else (25, 587)
        tls = TlsMode.STARTTLS if port in plain_ports else TlsMode.IMPLICIT
    else:
        tls = TlsMode(tls_name)
    if port is None:
        if tunnel is not None:
            port = 0
        elif which == "imap":
            port = 993 if tls is TlsMode.IMPLICIT else 143
        else:
            port = {TlsMode.IMPLICIT: 465, TlsMode.STARTTLS: 587, TlsMode.NONE: 25}[tls]
    host = _host(table, required=tunnel is None)
    allow_insecure = table.boolean("allow_insecure", False)
    if tls is TlsMode.NONE and tunnel is None and not allow_insecure:
        table.fail(
            "tls",
            '"none" would send your password in clear text: use "implicit" or "starttls", '
            "or set allow_insecure = true for a server on a link you trust",
        )
    user = table.opt_str("user")
    if user is None:
        user = imap.user if imap is not None else default_user
    ca_file = table.opt_str("ca_file")
    if ca_file is not None:
        ca_path = table.ctx.path(ca_file)
        try:
            exists = ca_path.is_file()
        except (OSError, ValueError):
            exists = False
        if not exists:
            table.fail("ca_file", "expected an existing file of PEM certificates")
        ca_file = str(ca_path)
    auth = table.choice("auth", _AUTH_CHOICES) or "auto"
    timeout = table.number("timeout", 30.0, 1.0, 3600.0)
    compress = table.boolean("compress", True) if which == "imap" else True

    own_sources = any(table.has(k) for k in _CREDENTIAL_KEYS)
    if which == "smtp" and imap is not None and not own_sources:
        return ServerConfig(
            host=host,
            port=port,
            user=user,
            tls=tls,
            ca_file=ca_file,
            allow_insecure=allow_insecure,
            auth=auth if auth != "auto" else imap.effective_auth,
            timeout=timeout,
            password_command=imap.password_command,
            oauth2_token_command=imap.oauth2_token_command,
            password_env=imap.password_env,
            keyring=imap.keyring,
            command_timeout=imap.command_timeout,
            inherits_credentials=True,
        )
    password_command = table.opt_str("password_command")
    oauth2_command = table.opt_str("oauth2_token_command")
    password_env = table.opt_str("password_env")
    if password_env is not None and not _ENV_NAME.fullmatch(password_env):
        table.fail("password_env", "expected an environment variable name such as MAIL_PASSWORD")
    if password_command is not None and oauth2_command is not None:
        table.fail(
            "oauth2_token_command",
            "expected either password_command or oauth2_token_command, not both",
        )
    if oauth2_command is not None and auth not in ("auto", "xoauth2"):
        table.fail("auth", 'expected "xoauth2" (or no auth key) with oauth2_token_command')
    if auth == "xoauth2" and password_command is not None:
        table.fail("auth", 'a password_command gives a password: "xoauth2" needs a token')
    return ServerConfig(
        host=host,
        port=port,
        user=user,
        tls=tls,
        ca_file=ca_file,
        tunnel=tunnel,
        allow_insecure=allow_insecure,
        auth=auth,
        timeout=timeout,
        compress=compress,
        password_command=password_command,
        oauth2_token_command=oauth2_command,
        password_env=password_env,
        keyring=_keyring_entry(table, account),
        command_timeout=table.number("command_timeout", 60.0, 1.0, 3600.0),
    )


def _folders(table: _Table | None) -> dict[str, str]:
    if table is None:
        return {}
    out: dict[str, str] = {}
    for role in table.data:
        out[role] = table.req_str(role, "a folder name")
    return out


def _account(ctx: _Context, name: str, value: Any) -> AccountConfig:
    path: KeyPath = ("accounts", name)
    if not _ACCOUNT_NAME.fullmatch(name):
        raise ctx.error(
            path, "expected an account name of letters, digits and . _ @ + - (at most 64)"
        )
    if not isinstance(value, dict):
        raise ctx.error(path, f"expected a table, got {_type_name(value)}")
    table = _Table(ctx, value, path, _ACCOUNT_KEYS)
    identities = _identities(table)
    imap_t = table.sub("imap", _IMAP_KEYS)
    if imap_t is None:
        table.fail("imap", "missing; expected an [imap] table with at least host")
    smtp_t = table.sub("smtp", _IMAP_KEYS)  # `tunnel` gets its own message below
    if smtp_t is None:
        table.fail("smtp", "missing; expected an [smtp] table with at least host")
    if smtp_t.has("tunnel"):
        smtp_t.fail("tunnel", "a tunnel is for IMAP only; SMTP needs host and port")
    if smtp_t.has("compress"):
        smtp_t.fail("compress", "COMPRESS=DEFLATE is an IMAP extension; SMTP has none")
    imap = _server(imap_t, "imap", name, identities[0].address, None)
    smtp = _server(smtp_t, "smtp", name, identities[0].address, imap)
    return AccountConfig(
        name=name,
        identities=identities,
        imap=imap,
        smtp=smtp,
        folders=_folders(table.sub("folders", _FOLDER_ROLES)),
        send_delay=(
            table.number("send_delay", 0.0, 0.0, MAX_SEND_DELAY)
            if table.has("send_delay")
            else None
        ),
    )


def _date_format(table: _Table, key: str, default: str) -> str:
    value = table.opt_str(key)
    if value is None:
        return default
    try:
        datetime(2024, 1, 2, 3, 4, 5).strftime(value)
    except (ValueError, UnicodeError):
        table.fail(key, "expected a strftime format such as %Y-%m-%d")
    return value


def _ui(table: _Table | None) -> UiSettings:
    if table is None:
        return UiSettings()
    d = UiSettings()
    return UiSettings(
        theme=table.opt_str("theme"),
        mark_read_delay=table.number("mark_read_delay", d.mark_read_delay, 0.0, 3600.0),
        prefer_html=table.boolean("prefer_html", d.prefer_html),
        date_format_today=_date_format(table, "date_format_today", d.date_format_today),
        date_format_this_year=_date_format(table, "date_format_this_year", d.date_format_this_year),
        date_format=_date_format(table, "date_format", d.date_format),
        date_format_full=_date_format(table, "date_format_full", d.date_format_full),
        folder_pane_width=table.integer("folder_pane_width", d.folder_pane_width, 10, 120)
        or d.folder_pane_width,
        message_list_height=table.integer("message_list_height", d.message_list_height, 10, 90)
        or d.message_list_height,
        editor=(table.opt_str("editor") or d.editor).strip(),
        archive=table.choice("archive", ("flat", "year", "month")) or d.archive,
        reply_position=table.choice("reply_position", ("bottom", "top")) or d.reply_position,
        show_unsubscribed=table.boolean("show_unsubscribed", d.show_unsubscribed),
        hyperlinks=table.choice("hyperlinks", ("auto", "on", "off")) or d.hyperlinks,
        browser=_browser(table),
        send_delay=table.number("send_delay", d.send_delay, 0.0, MAX_SEND_DELAY),
    )


def _browser(table: _Table) -> str:
    import shlex

    value = (table.opt_str("browser", allow_empty=True) or "").strip()
    if value:
        try:
            shlex.split(value)
        except ValueError as exc:
            table.fail("browser", f"expected a command line ({exc})")
    return value


def _keys(table: _Table | None) -> dict[str, str]:
    """`[keys]`: binding ids to keys; dotted bare keys (`message.reply = "r"`) are flattened."""
    out: dict[str, str] = {}
    if table is None:
        return out

    def walk(data: Mapping[str, Any], prefix: KeyPath) -> None:
        for key, value in data.items():
            path = (*prefix, key)
            if isinstance(value, dict):
                walk(value, path)
                continue
            binding = ".".join(str(p) for p in path)
            full = (*table.path, *path)
            if not _BINDING_ID.fullmatch(binding):
                raise table.ctx.error(full, "expected a binding id such as app.quit")
            if not isinstance(value, str) or not value.strip():
                raise table.ctx.error(
                    full, f'expected a key such as "r" or "ctrl+r", got {_type_name(value)}'
                )
            out[binding] = value.strip()

    walk(table.data, ())
    return out


def config_from_dict(
    data: Mapping[str, Any],
    source_name: str = "<config>",
    *,
    text: str | None = None,
    base_dir: Path | None = None,
) -> Config:
    """Validate parsed TOML (or a dict built in code) into a `Config`.

    Args:
        data: the parsed document.
        source_name: what errors call the file.
        text: the TOML text, when there is one, so errors can give a line number.
        base_dir: where relative `ca_file` and `signature_file` paths start (default: cwd).

    Raises:
        ConfigError: for any mistake; nothing else, whatever the data.
    """
    ctx = _Context(source_name, text, base_dir if base_dir is not None else Path.cwd())
    if not isinstance(data, Mapping):
        raise ctx.error((), f"expected a table at the top level, got {_type_name(data)}")
    top = _Table(ctx, data, (), _TOP_KEYS)
    accounts_t = top.sub("accounts", None)
    if accounts_t is None or not accounts_t.data:
        raise ctx.error(
            ("accounts",),
            "missing; expected at least one [accounts.NAME] table "
            "(`termail config init` writes one)",
        )
    accounts: dict[str, AccountConfig] = {}
    for name, value in accounts_t.data.items():
        accounts[name] = _account(ctx, name, value)
    default = top.opt_str("default_account")
    if default is not None and default not in accounts:
        top.fail("default_account", f"expected one of the account names: {', '.join(accounts)}")
    ui = _ui(top.sub("ui", _UI_KEYS))
    keys = _keys(top.sub("keys", None))
    source = None if source_name.startswith("<") else Path(source_name)
    return Config(
        accounts=accounts,
        default_account_name=default or next(iter(accounts)),
        ui=ui,
        keys=keys,
        source=source,
    )


_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


def _decode_error(exc: tomllib.TOMLDecodeError, source: str) -> ConfigError:
    """tomllib (3.11) puts the position in the message only: take it out into `line`."""
    text = str(exc)
    lineno = getattr(exc, "lineno", None)
    column = getattr(exc, "colno", None)
    match = _TOML_POSITION.search(text)
    if match:
        lineno = lineno or int(match.group(1))
        column = column or int(match.group(2))
        text = text[: match.start()]
    elif text.endswith("(at end of document)"):
        text = text[: -len("(at end of document)")].rstrip()
    detail = f" (column {column})" if column else ""
    return ConfigError(
        f"invalid TOML: {text}{detail}; expected TOML syntax (https://toml.io)",
        source=source,
        line=lineno if isinstance(lineno, int) else None,
    )


def _check_permissions(path: Path) -> None:
    """Refuse a file every user may write: its password_command would run what they write."""
    if sys.platform == "win32":
        return
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & stat.S_IWOTH:
        raise ConfigError(
            "the file is writable by every user, and termail runs its password_command; "
            f"fix it with: chmod o-w {path}",
            source=str(path),
        )


def load_config(path: Path) -> Config:
    """Read and validate the TOML file at `path`.

    Raises:
        ConfigError: the file is missing, unreadable, not TOML, or holds a mistake.
    """
    source = str(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError("no such file", source=source) from None
    except OSError as exc:
        raise ConfigError(f"cannot read it: {exc.strerror or exc}", source=source) from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"expected a config under {MAX_CONFIG_BYTES} bytes", source=source)
    _check_permissions(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError("expected UTF-8 text", source=source, line=line) from None
    text = text.removeprefix("\ufeff")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _decode_error(exc, source) from None
    except RecursionError:
        raise ConfigError("invalid TOML: nested too deeply", source=source) from None
    config = config_from_dict(data, source, text=text, base_dir=path.parent)
    return replace(config, source=path)


def first_run_message(path: Path) -> str:
    """What a first run prints: where the config goes and how to make one, or try the demo."""
    return (
        f"termail: no configuration yet (looked for {path}).\n"
        "\n"
        "  Create one:       termail config init\n"
        "                    (asks for your address and servers, or take flags: "
        "termail config init --help)\n"
        "  Check it:         termail config check\n"
        "  Try termail now:  termail demo   (a private mail server with sample mail)\n"
        "\n"
        "Another file can be given with --config PATH or the TERMAIL_CONFIG variable.\n"
    )


def load_or_exit(path: Path | None) -> Config:
    """The CLI's way in: the config, or a message on stderr and exit status 2, no traceback."""
    from app.mime.termout import say
    from app.paths import config_path, config_path_is_default

    target = config_path(path)
    if config_path_is_default(path) and not target.exists():
        say(first_run_message(target), file=sys.stderr, end="")
        raise SystemExit(2)
    try:
        return load_config(target)
    except ConfigError as exc:
        message = f"termail: {exc}\n"
        if exc.message == "no such file":
            message += "  Create it with: termail config init --config " + str(target) + "\n"
        say(message, file=sys.stderr, end="")
        raise SystemExit(2) from None
