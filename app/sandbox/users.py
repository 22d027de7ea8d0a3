"""A mail user of one of the server kinds, and what a kind offers (`KindServer`).

Apart from `app.sandbox.kinds` so that the kinds' implementations (`app.sandbox.interop`) and the
registry that starts them do not import each other.
"""

from __future__ import annotations

import imaplib
import re
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from app.models import Credentials, ServerSettings, TlsMode
from app.sandbox.server import SandboxError

__all__ = ["KindServer", "KindUser"]


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
