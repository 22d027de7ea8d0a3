"""Server kinds for the interop tests: one interface over Dovecot profiles, Cyrus and Courier.

A kind is an IMAP server (and a submission server delivering into it) on free loopback ports in
its own temporary folder, started once and handed out one fresh user at a time:

- `dovecot`: the sandbox as the rest of the suite knows it (every extension Dovecot has).
- `minimal`: Dovecot advertising only `IMAP4rev1 CHILDREN NAMESPACE` after login, and its Trash,
  Sent and Drafts without SPECIAL-USE flags.
- `gmail-like`: Dovecot with Gmail's capability line (no SORT, THREAD) and `[Gmail]/...` folders.
- `cyrus`: Cyrus IMAP 3.6 in the Debian layout (`INBOX.` prefix, `.` separator), Postfix for
  submission (STARTTLS and implicit TLS, SASL) delivering into it by LMTP.
- `courier`: Courier-IMAP 5.0 (`INBOX.` prefix, no SPECIAL-USE, refuses RENAME/DELETE of the
  selected folder, flattens multipart messages without MIME-Version).

Cyrus, Courier and Postfix are unpacked from Debian packages and run in private mount
namespaces (see app/sandbox/interop.py); a kind that cannot be set up raises SandboxError
saying why, and the tests skip it with that reason.
"""

from __future__ import annotations

import imaplib
import re
import secrets
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from app.models import Credentials, ServerSettings, TlsMode
from app.sandbox.server import Sandbox, SandboxError

#: Every kind, in the order the suite runs them (the cheap ones first).
KINDS = ("dovecot", "minimal", "gmail-like", "cyrus", "courier")


@dataclass
class KindUser:
    """One mail user of a kind's servers, with ready-made client settings."""

    server: KindServer
    name: str
    password: str
    smtp_name: str = ""
    """The submission login when it differs from the IMAP one (Postfix's SASL wants the realm)."""

    @property
    def address(self) -> str:
        return f"{self.name}@localhost"

    def imap_settings(self, tls: TlsMode = TlsMode.IMPLICIT, **overrides: Any) -> ServerSettings:
        port = self.server.imaps_port if tls is TlsMode.IMPLICIT else self.server.imap_port
        values: dict[str, Any] = {
            "host": self.server.host,
            "port": port,
            "user": self.name,
            "tls": tls,
            "ca_file": str(self.server.ca_file),
            "timeout": 30.0,
        }
        values.update(overrides)
        return ServerSettings(**values)

    def smtp_settings(self, tls: TlsMode = TlsMode.IMPLICIT, **overrides: Any) -> ServerSettings:
        if not self.server.smtp_port:
            raise SandboxError(f"the {self.server.kind} kind has no submission server")
        port = self.server.smtps_port if tls is TlsMode.IMPLICIT else self.server.smtp_port
        values: dict[str, Any] = {
            "host": self.server.host,
            "port": port,
            "user": self.smtp_name or self.name,
            "tls": tls,
            "ca_file": str(self.server.ca_file),
            "timeout": 30.0,
        }
        values.update(overrides)
        return ServerSettings(**values)

    def credentials(self) -> Credentials:
        return Credentials(username=self.name, password=self.password)

    def smtp_credentials(self) -> Credentials:
        return Credentials(username=self.smtp_name or self.name, password=self.password)

    def imaplib(self) -> imaplib.IMAP4_SSL:
        """Another client (stdlib imaplib), logged in: to put mail in place and look at it."""
        ctx = ssl.create_default_context(cafile=str(self.server.ca_file))
        conn = imaplib.IMAP4_SSL(self.server.host, self.server.imaps_port, ssl_context=ctx)
        conn.login(self.name, self.password)
        return conn

    def mailbox(self, path: str) -> str:
        """The server's name of `path` ("/"-separated, under the personal namespace)."""
        return self.server.mailbox(path)

    def append(self, path: str, data: bytes, flags: str = "") -> int | None:
        """APPEND `data` to folder `path` as another client would; the new UID when told."""
        conn = self.imaplib()
        try:
            typ, resp = conn.append(
                _quoted(self.mailbox(path)), f"({flags})" if flags else None, None, data
            )
            if typ != "OK":
                raise SandboxError(f"APPEND to {path!r} failed: {resp!r}")
            m = re.search(rb"APPENDUID \d+ (\d+)", resp[0] or b"")
            return int(m.group(1)) if m else None
        finally:
            conn.logout()


def _quoted(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class KindServer(Protocol):
    """What the tests need of a running kind."""

    @property
    def kind(self) -> str: ...
    @property
    def host(self) -> str: ...
    @property
    def imap_port(self) -> int: ...
    @property
    def imaps_port(self) -> int: ...
    @property
    def smtp_port(self) -> int:
        """STARTTLS submission; 0 when the kind has no submission server."""

    @property
    def smtps_port(self) -> int: ...
    @property
    def ca_file(self) -> Path: ...
    @property
    def prefix(self) -> str:
        """The personal namespace prefix ("" or "INBOX.")."""

    @property
    def separator(self) -> str: ...

    def new_user(self) -> KindUser: ...

    def mailbox(self, path: str) -> str: ...

    def stop(self) -> None: ...


class DovecotKind:
    """`dovecot`, `minimal` and `gmail-like`: the sandbox Dovecot in one of its profiles, with
    the sandbox's own submission server (aiosmtpd delivering through LMTP)."""

    prefix = ""
    separator = "/"

    def __init__(self, kind: str, root: Path) -> None:
        self.kind = kind
        self.sandbox = Sandbox(root, profile=kind)
        self._count = 0

    def start(self) -> DovecotKind:
        self.sandbox.start()
        return self

    @property
    def host(self) -> str:
        return self.sandbox.host

    @property
    def imap_port(self) -> int:
        return self.sandbox.imap_port

    @property
    def imaps_port(self) -> int:
        return self.sandbox.imaps_port

    @property
    def smtp_port(self) -> int:
        return self.sandbox.smtp_port

    @property
    def smtps_port(self) -> int:
        return self.sandbox.smtps_port

    @property
    def ca_file(self) -> Path:
        return self.sandbox.ca_file

    def mailbox(self, path: str) -> str:
        return path

    def new_user(self) -> KindUser:
        self._count += 1
        name = f"k{self._count}x{secrets.token_hex(2)}"
        user = self.sandbox.add_user(name)
        return KindUser(self, user.name, user.password)

    def stop(self) -> None:
        self.sandbox.stop(remove=True)


def start_kind(kind: str, root: Path) -> KindServer:
    """Start the servers of `kind` in `root` (a new folder); SandboxError says why not."""
    if kind in ("dovecot", "minimal", "gmail-like"):
        return DovecotKind(kind, root).start()
    if kind in ("cyrus", "courier"):
        from app.sandbox.interop import start_interop_kind

        return start_interop_kind(kind, root)
    raise SandboxError(f"unknown server kind {kind!r}: one of {', '.join(KINDS)}")
