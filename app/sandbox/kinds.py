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

import secrets
from pathlib import Path

from app.sandbox.server import Sandbox, SandboxError
from app.sandbox.users import KindServer, KindUser

#: Every kind, in the order the suite runs them (the cheap ones first).
KINDS = ("dovecot", "minimal", "gmail-like", "cyrus", "courier")

__all__ = ["KINDS", "KindServer", "KindUser", "start_kind"]


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
