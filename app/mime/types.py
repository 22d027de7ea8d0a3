"""What the MIME model hands to anything that shows a message.

Every string in these types has already been through `app.mime.sanitize`: a widget can put it in a
`rich.text.Text` as it is. Styles are named, not Rich styles, so the core stays UI-free.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.models import SenderCheck, Verdict

#: Style names a span of `RenderedMessage.body` may carry; the viewer maps them to theme styles.
STYLE_NAMES = ("bold", "italic", "underline", "quote", "link", "signature", "fixed", "heading")


@dataclass(frozen=True, slots=True)
class ShownHeader:
    """One header line as shown: decoded, sanitized, unfolded."""

    name: str
    value: str


@dataclass(frozen=True, slots=True)
class AttachmentInfo:
    """An attachment as listed to the user; `filename` is already safe to show and to save."""

    part_id: str
    filename: str
    mime_type: str
    size: int
    """Decoded size in bytes where known, else the encoded size from BODYSTRUCTURE."""
    encoding: str = "7bit"
    description: str | None = None
    content_id: str | None = None
    inline: bool = False


@dataclass(frozen=True, slots=True)
class StyleSpan:
    """A named style over `body[start:end]`."""

    start: int
    end: int
    style: str


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
    attachments: list[AttachmentInfo] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    """Things the reader should know: HTML converted, part cut short, charset guessed, ..."""
    subject: str = ""
    from_display: str = ""
    is_html: bool = False
    has_html_alternative: bool = False
