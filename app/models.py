"""Plain data shared by the core and the UI.

These types carry no behaviour that touches the network or the screen, so the IMAP layer, the
MIME model, the cache and the widgets can all speak them. Strings in here are *raw*: header
values still hold RFC 2047 encoded words, and nothing has been sanitized. Decoding is the MIME
layer's job (`app.mime.headers`), making text safe to show is `app.mime.sanitize`'s.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from fnmatch import fnmatchcase


class Flag:
    """The IMAP system flags and the common keywords, spelled as the server spells them."""

    SEEN = "\\Seen"
    ANSWERED = "\\Answered"
    FLAGGED = "\\Flagged"
    DELETED = "\\Deleted"
    DRAFT = "\\Draft"
    RECENT = "\\Recent"
    FORWARDED = "$Forwarded"


class FolderRole(Enum):
    """What a folder is for (RFC 6154 special use), or NONE for an ordinary folder."""

    INBOX = "inbox"
    DRAFTS = "drafts"
    SENT = "sent"
    TRASH = "trash"
    JUNK = "junk"
    ARCHIVE = "archive"
    ALL = "all"
    FLAGGED = "flagged"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class Address:
    """One mailbox of an ENVELOPE address list.

    `name` is the raw display name (may hold encoded words); `mailbox` and `host` may be None for
    a group marker or an address-less name. A group start has `mailbox` set to the group name and
    `host` None; a group end has both None (RFC 3501 section 7.4.2).
    """

    name: str | None
    mailbox: str | None
    host: str | None
    route: str | None = None

    @property
    def email(self) -> str:
        """The `mailbox@host` address, or the bare part that exists."""
        if self.mailbox and self.host:
            return f"{self.mailbox}@{self.host}"
        return self.mailbox or ""


@dataclass(frozen=True, slots=True)
class Envelope:
    """The IMAP ENVELOPE structure, fields raw as sent by the server."""

    date: str | None = None
    subject: str | None = None
    from_: tuple[Address, ...] = ()
    sender: tuple[Address, ...] = ()
    reply_to: tuple[Address, ...] = ()
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    bcc: tuple[Address, ...] = ()
    in_reply_to: str | None = None
    message_id: str | None = None


@dataclass(slots=True)
class BodyPart:
    """A node of a BODYSTRUCTURE tree.

    `part_id` is the IMAP section number ("1", "1.2", ...; "" for the root of a single-part
    message is spelled "1" as IMAP does, "TEXT" is never used). For a multipart node `maintype`
    is "multipart" and `children` holds the parts; for message/rfc822 `children` holds the one
    enclosed body and `envelope` the enclosed envelope.
    """

    part_id: str
    maintype: str
    subtype: str
    params: dict[str, str] = field(default_factory=dict)
    content_id: str | None = None
    description: str | None = None
    encoding: str = "7bit"
    size: int = 0
    lines: int | None = None
    md5: str | None = None
    disposition: str | None = None
    disposition_params: dict[str, str] = field(default_factory=dict)
    language: tuple[str, ...] = ()
    location: str | None = None
    children: list[BodyPart] = field(default_factory=list)
    envelope: Envelope | None = None

    @property
    def mime_type(self) -> str:
        return f"{self.maintype}/{self.subtype}".lower()

    @property
    def is_multipart(self) -> bool:
        return self.maintype.lower() == "multipart"

    @property
    def filename(self) -> str | None:
        """The raw file name, from the disposition or the older `name` parameter."""
        return self.disposition_params.get("filename") or self.params.get("name")

    def walk(self) -> list[BodyPart]:
        """This node and every node under it, depth first."""
        out: list[BodyPart] = []
        stack = [self]
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(reversed(node.children))
        return out


@dataclass(slots=True)
class MessageSummary:
    """What the message list needs for one row: never the body."""

    uid: int
    flags: frozenset[str] = frozenset()
    envelope: Envelope = field(default_factory=Envelope)
    size: int = 0
    internaldate: datetime | None = None
    bodystructure: BodyPart | None = None
    modseq: int | None = None

    @property
    def seen(self) -> bool:
        return Flag.SEEN in self.flags

    @property
    def flagged(self) -> bool:
        return Flag.FLAGGED in self.flags

    @property
    def answered(self) -> bool:
        return Flag.ANSWERED in self.flags

    @property
    def has_attachment(self) -> bool:
        if self.bodystructure is None:
            return False
        for part in self.bodystructure.walk():
            if part.is_multipart:
                continue
            if (part.disposition or "").lower() == "attachment" or part.filename:
                return True
        return False


@dataclass(frozen=True, slots=True)
class Folder:
    """A mailbox as listed by the server: `name` is decoded (UTF-8), `raw_name` as sent."""

    name: str
    raw_name: str
    delimiter: str | None
    attributes: frozenset[str] = frozenset()
    role: FolderRole = FolderRole.NONE
    subscribed: bool = True

    @property
    def selectable(self) -> bool:
        lowered = {a.lower() for a in self.attributes}
        return "\\noselect" not in lowered and "\\nonexistent" not in lowered

    @property
    def parts(self) -> list[str]:
        """The hierarchy path of this folder."""
        if not self.delimiter:
            return [self.name]
        return self.name.split(self.delimiter)


@dataclass(frozen=True, slots=True)
class FolderStatus:
    """STATUS counts of one folder."""

    messages: int = 0
    unseen: int = 0
    recent: int = 0
    uidnext: int | None = None
    uidvalidity: int | None = None
    highestmodseq: int | None = None


class Verdict(Enum):
    """Outcome of the sender check."""

    VERIFIED = "verified"
    FAILED = "failed"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class SenderCheck:
    """Whether the From header can be trusted, and why not."""

    verdict: Verdict
    summary: str
    warnings: tuple[str, ...] = ()


class TlsMode(Enum):
    """How a connection is protected: TLS from the first byte, upgraded, or not at all."""

    IMPLICIT = "implicit"
    STARTTLS = "starttls"
    NONE = "none"


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """Where and how to reach an IMAP or SMTP server; no secret is kept here.

    `tunnel` (IMAP only) is a shell command whose stdin/stdout speak IMAP, as mutt's `tunnel`.
    `allow_insecure` must be true for `tls = NONE` to send any credential. `compress` (IMAP
    only) turns on COMPRESS=DEFLATE where the server offers it, as mutt's `imap_deflate`.
    """

    host: str
    port: int
    user: str
    tls: TlsMode = TlsMode.IMPLICIT
    ca_file: str | None = None
    tunnel: str | None = None
    allow_insecure: bool = False
    auth: str = "auto"  # "auto" | "login" | "plain" | "xoauth2"
    timeout: float = 30.0
    compress: bool = True


@dataclass(frozen=True, slots=True)
class Credentials:
    """A resolved secret, kept in memory only. `repr` never shows it."""

    username: str
    password: str | None = field(default=None, repr=False)
    oauth2_token: str | None = field(default=None, repr=False)

    def __str__(self) -> str:
        return f"Credentials(username={self.username!r}, secret=<hidden>)"


@dataclass(frozen=True)
class Identity:
    """One address the user sends as.

    `reply_from` holds glob patterns (`*@example.com`, `ada+*@example.com`, case-insensitive):
    a reply to a message addressed to a matching recipient is sent from this identity.
    """

    name: str
    address: str
    signature: str = ""
    reply_from: list[str] = field(default_factory=list)
    pgp_sign: bool = False
    """Sign every message from this identity with OpenPGP by default (the compose toggle)."""
    pgp_key: str = ""
    """The secret key to sign with (fingerprint, key id or address); "" = this address."""
    pgp_encrypt_if_possible: bool = False
    """Encrypt by default when every recipient has a usable key in the keyring."""

    def matches(self, address: str) -> bool:
        """Whether a recipient address belongs to this identity (its own or a pattern)."""
        lowered = address.strip().lower()
        if not lowered:
            return False
        if lowered == self.address.lower():
            return True
        return any(fnmatchcase(lowered, pattern.lower()) for pattern in self.reply_from)

    @property
    def formatted(self) -> str:
        """`Name <address>` for a From header (the caller encodes non-ASCII names)."""
        from email.utils import formataddr

        return formataddr((self.name, self.address)) if self.name else self.address


def choose_identity(identities: Sequence[Identity], recipients: Iterable[str]) -> Identity | None:
    """The identity whose own address is among `recipients`, else one whose `reply_from`
    pattern matches, else the first (None when there is none)."""
    addresses = [a for a in recipients if a]
    for identity in identities:
        if any(a.strip().lower() == identity.address.lower() for a in addresses):
            return identity
    for identity in identities:
        if any(identity.matches(a) for a in addresses):
            return identity
    return identities[0] if identities else None
