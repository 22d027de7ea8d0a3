"""What the MIME model hands to anything that shows a message.

Every string in these types has already been through `app.mime.sanitize`: a widget can put it in a
`rich.text.Text` as it is. Styles are named, not Rich styles, so the core stays UI-free.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from app.mime.links import Link, LinkSpan
from app.models import SenderCheck, Verdict

#: Style names a span of `RenderedMessage.body` may carry; the viewer maps them to theme styles.
STYLE_NAMES = ("bold", "italic", "underline", "quote", "link", "signature", "fixed", "heading")

__all__ = ["Link", "LinkSpan"]


@dataclass(frozen=True, slots=True)
class ShownHeader:
    """One header line as shown: decoded, sanitized, unfolded."""

    name: str
    value: str


@dataclass(frozen=True, slots=True)
class ShownAddress:
    """One entry of an address header as shown: decoded and sanitized, never rejected.

    An entry may have no address (`email == ""`: the name is shown as written) and may belong to
    a group; an empty group (`undisclosed-recipients: ;`) is one entry with only `group` set.
    """

    name: str
    email: str
    group: str | None = None

    @property
    def is_empty_group(self) -> bool:
        return self.group is not None and not self.name and not self.email

    @property
    def display(self) -> str:
        """`Name <addr>`, or whichever of the two exists."""
        if self.name and self.email:
            name = f'"{self.name}"' if any(c in self.name for c in ',;<>:"') else self.name
            return f"{name} <{self.email}>"
        return self.name or self.email


@dataclass(frozen=True, slots=True)
class AttachmentInfo:
    """An attachment as listed to the user; `filename` is already safe to show and to save."""

    part_id: str
    filename: str
    mime_type: str
    size: int
    """Size in bytes once saved (decoded): exact where known, else estimated from the
    BODYSTRUCTURE's encoded size (`size_is_estimate`)."""
    encoding: str = "7bit"
    description: str | None = None
    content_id: str | None = None
    inline: bool = False
    size_is_estimate: bool = False
    """True when `size` is estimated from the encoded size (shown with a "~")."""
    encoded_size: int = 0
    """The transfer-encoded size (what the server sends; download progress counts these)."""


@dataclass(frozen=True, slots=True)
class StyleSpan:
    """A named style over `body[start:end]`."""

    start: int
    end: int
    style: str


@dataclass(frozen=True, slots=True)
class CryptoStatus:
    """One OpenPGP / S/MIME verdict about the message (app/crypto/reading.py), shown as a badge
    beside the sender check. `level`: "good", "bad", "warning" or "info"."""

    level: str
    summary: str
    details: tuple[str, ...] = ()
    missing_key: str = ""
    """For a signature by a key not in the keyring: its fingerprint (or key id), which `ctrl+k`
    offers to fetch with the user's gpg (app/crypto/engine.py `Engine.fetch_key`)."""


@dataclass(slots=True)
class RenderedMessage:
    """A message ready to show: compact and full headers, sender check, body, attachments."""

    headers: list[ShownHeader] = field(default_factory=list)
    """Compact set: From, To, Cc, Reply-To, Date, Subject (those present)."""
    full_headers: list[ShownHeader] = field(default_factory=list)
    """Every header in the order received (the Received path included)."""
    sender_check: SenderCheck = field(
        default_factory=lambda: SenderCheck(Verdict.UNKNOWN, "not checked")
    )
    body: str = ""
    styles: list[StyleSpan] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    """Targets of the numbered links of converted HTML: `links[n - 1]` is `[n]` in `body`;
    "" where an unsafe link (javascript:, data:, file:, disguised) was removed."""
    link_list: list[Link] = field(default_factory=list)
    """Every numbered link of the body (text URLs and HTML targets): `link_list[n - 1]` is [n]."""
    link_spans: list[LinkSpan] = field(default_factory=list)
    """Where the body shows a link's own target: the only places a hyperlink may go."""
    attachments: list[AttachmentInfo] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    """Things the reader should know: HTML converted, part cut short, charset guessed, ..."""
    subject: str = ""
    from_display: str = ""
    is_html: bool = False
    has_html_alternative: bool = False
    date: datetime | None = None
    """The Date header parsed, None when absent or unparsable (the shown header keeps the text)."""
    from_addresses: list[ShownAddress] = field(default_factory=list)
    to_addresses: list[ShownAddress] = field(default_factory=list)
    cc_addresses: list[ShownAddress] = field(default_factory=list)
    reply_to_addresses: list[ShownAddress] = field(default_factory=list)
    message_id: str = ""
    """The first `<...>` of Message-ID, brackets included; "" when none."""
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    list_id: str = ""
    list_unsubscribe: list[str] = field(default_factory=list)
    """The `<...>` targets of List-Unsubscribe (mailto: or https:), brackets removed."""
    crypto: list[CryptoStatus] = field(default_factory=list)
    """Signature and decryption verdicts (empty for a message that is neither)."""
