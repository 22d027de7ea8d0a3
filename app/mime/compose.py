"""Outgoing mail: the Draft the compose screen edits, and the EmailMessage built from it.

Everything taken from a received message (names, subjects, message ids, file names) is untrusted:
it is decoded, then every line-breaking or control character is replaced before it can reach a
header, so a hostile encoded word such as `=?utf-8?q?x=0D=0ABcc:_a@b?=` can never add a header.
Values the user typed are checked instead, and `HeaderInjectionError` says which one is wrong.

The built message is 7-bit clean (quoted-printable text, base64 attachments, RFC 2047 headers,
RFC 2231 file names), so it can go to any SMTP server; only a forwarded message/rfc822 part keeps
the original's own bytes, which may be 8-bit.
"""

from __future__ import annotations

import base64
import binascii
import io
import mimetypes
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from email import policy as email_policy
from email.generator import BytesGenerator
from email.headerregistry import Address as HeaderAddress
from email.headerregistry import HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage, Message, MIMEPart
from email.parser import BytesParser
from email.utils import format_datetime, getaddresses, localtime, parsedate_to_datetime
from pathlib import Path
from typing import Any, NamedTuple, cast

__all__ = [
    "POLICY_UTF8",
    "Attachment",
    "AttachmentError",
    "ComposeError",
    "Draft",
    "HeaderInjectionError",
    "Identity",
    "InvalidAddressError",
    "address_problems",
    "build_message",
    "detect_forgotten_attachment",
    "draft_from_message",
    "edit_as_new",
    "envelope_recipients",
    "flow_text",
    "format_address",
    "forward",
    "forward_subject",
    "message_bytes",
    "needs_smtputf8",
    "parse_addresses",
    "reply",
    "reply_cursor_line",
    "reply_subject",
    "split_address",
    "split_addresses",
    "strip_invisible",
    "text_only_message",
    "unflow_text",
]

USER_AGENT = "termail"

#: The largest number of message ids kept in References (first one plus the newest ones).
MAX_REFERENCES = 20


class ComposeError(ValueError):
    """A draft cannot become a message, or an original cannot be replied to; says why."""


class HeaderInjectionError(ComposeError):
    """A header value holds a line break or control character (it could add a header)."""


class InvalidAddressError(ComposeError):
    """An address is not a usable `local@domain` mailbox; `entry` is what was typed and
    `reason` says what is wrong with it in words."""

    def __init__(self, message: str, entry: str = "", reason: str = "") -> None:
        super().__init__(message)
        self.entry = entry
        self.reason = reason or message


class AttachmentError(ComposeError):
    """An attachment file cannot be read."""


class Identity(NamedTuple):
    """Who sends: the display name (may be empty) and the address."""

    name: str
    address: str


@dataclass(frozen=True, slots=True)
class Attachment:
    """An attachment held in memory (forwarded parts, pasted data), not read from a path."""

    filename: str
    data: bytes = field(repr=False)
    mime_type: str = "application/octet-stream"

    @property
    def size(self) -> int:
        return len(self.data)


AttachmentSource = Path | Attachment


@dataclass(slots=True)
class Draft:
    """What the user is writing. Recipients are address strings ("Name <a@b>" or "a@b").

    `attachments` holds paths (read when the message is built) or in-memory `Attachment`s; plain
    strings and `(filename, bytes, mime type)` tuples are accepted and converted. `meta` is free
    for the App to keep what it needs across a crash (the original's folder/UID, a Drafts UID).
    """

    from_: Identity
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    subject: str = ""
    body: str = ""
    attachments: list[AttachmentSource] = field(default_factory=list)
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    format_flowed: bool = False
    meta: dict[str, str | int | None] = field(default_factory=dict)
    calendar: tuple[str, str] | None = None
    """(iTIP method, iCalendar text): sent as a text/calendar alternative of the text (iMIP,
    RFC 6047), as an invitation's answer is."""
    pgp_sign: bool = False
    pgp_encrypt: bool = False
    """OpenPGP for this message (app/crypto/writing.py: PGP/MIME, RFC 3156)."""
    pgp_key: str = ""
    """The secret key to sign with; "" = the From address's."""

    def __post_init__(self) -> None:
        if not isinstance(self.from_, Identity):
            name, address = self.from_
            self.from_ = Identity(str(name or ""), str(address))
        converted: list[AttachmentSource] = []
        for item in self.attachments:
            if isinstance(item, Attachment | Path):
                converted.append(item)
            elif isinstance(item, str):
                converted.append(Path(item))
            elif isinstance(item, tuple) and len(item) == 3:
                converted.append(Attachment(str(item[0]), bytes(item[1]), str(item[2])))
            else:
                raise AttachmentError(f"unsupported attachment: {type(item).__name__}")
        self.attachments = converted

    @property
    def identity(self) -> Identity:
        """The sender (same as `from_`)."""
        return self.from_

    # -- JSON form (the draft autosave store) -----------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; in-memory attachments are kept as base64."""
        attachments: list[dict[str, str]] = []
        for item in self.attachments:
            if isinstance(item, Path):
                attachments.append({"path": str(item)})
            else:
                attachments.append(
                    {
                        "filename": item.filename,
                        "mime_type": item.mime_type,
                        "data_b64": base64.b64encode(item.data).decode("ascii"),
                    }
                )
        return {
            "version": 1,
            "from": {"name": self.from_.name, "address": self.from_.address},
            "to": list(self.to),
            "cc": list(self.cc),
            "bcc": list(self.bcc),
            "subject": self.subject,
            "body": self.body,
            "attachments": attachments,
            "in_reply_to": self.in_reply_to,
            "references": list(self.references),
            "format_flowed": self.format_flowed,
            "meta": dict(self.meta),
            "pgp_sign": self.pgp_sign,
            "pgp_encrypt": self.pgp_encrypt,
            "pgp_key": self.pgp_key,
        }

    @classmethod
    def from_dict(cls, data: object) -> Draft:
        """The Draft back from `to_dict` output; anything malformed raises ComposeError."""
        try:
            if not isinstance(data, dict):
                raise TypeError("not an object")
            ident = data["from"]
            attachments: list[AttachmentSource] = []
            for item in data.get("attachments", []):
                if "path" in item:
                    attachments.append(Path(_str(item["path"])))
                else:
                    raw = base64.b64decode(_str(item["data_b64"]), validate=True)
                    attachments.append(
                        Attachment(_str(item["filename"]), raw, _str(item["mime_type"]))
                    )
            meta = data.get("meta") or {}
            if not isinstance(meta, dict):
                raise TypeError("meta is not an object")
            in_reply_to = data.get("in_reply_to")
            return cls(
                from_=Identity(_str(ident.get("name", "")), _str(ident["address"])),
                to=_str_list(data.get("to", [])),
                cc=_str_list(data.get("cc", [])),
                bcc=_str_list(data.get("bcc", [])),
                subject=_str(data.get("subject", "")),
                body=_str(data.get("body", "")),
                attachments=attachments,
                in_reply_to=None if in_reply_to is None else _str(in_reply_to),
                references=_str_list(data.get("references", [])),
                format_flowed=bool(data.get("format_flowed", False)),
                meta={_str(k): v for k, v in meta.items() if v is None or isinstance(v, str | int)},
                pgp_sign=data.get("pgp_sign") is True,
                pgp_encrypt=data.get("pgp_encrypt") is True,
                pgp_key=_str(data.get("pgp_key", "")),
            )
        except (KeyError, TypeError, AttributeError, ValueError, binascii.Error) as exc:
            if isinstance(exc, ComposeError):
                raise
            raise ComposeError(f"not a saved draft: {exc}") from exc


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _str_list(value: object) -> list[str]:
    if not isinstance(value, list):
        raise TypeError("expected a list")
    return [_str(v) for v in value]


# -- text hygiene ----------------------------------------------------------------------------

#: Characters that break a header line in some reader: C0/C1 controls, DEL, and the line and
#: paragraph separators (with these, everything str.splitlines() treats as a line end).
_BREAKING = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


#: Characters that change how text around them reads without being seen: bidi controls (an
#: override makes `gpj.exe` read `exe.jpg`), zero-width and joiner characters, invisible
#: operators, fillers that render as nothing, soft hyphens and tag characters. A reply or a
#: forward quotes untrusted text back to people, so these never go into a draft (issue 13).
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
    "\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb"
    "\U000e0000-\U000e007f]"
)


def strip_invisible(text: str) -> str:
    """`text` without bidi controls and invisible characters (see `_INVISIBLE`)."""
    return _INVISIBLE.sub("", text)


def _clean(value: str) -> str:
    """An untrusted decoded header value made one safe line: controls become spaces, bidi and
    invisible characters are removed."""
    return re.sub(r" {2,}", " ", _BREAKING.sub(" ", strip_invisible(value))).strip()


def _check(what: str, value: str) -> str:
    """A value the user typed, refused when it holds a line break or control (no tab either)."""
    if _BREAKING.search(value):
        raise HeaderInjectionError(f"{what} holds a line break or control character")
    return value


def _clean_filename(name: str) -> str:
    """A file name safe to put in a header and to save: no controls, no path."""
    name = _clean(name).replace("/", "_").replace("\\", "_").strip(". ")
    return name[:200] or "attachment"


_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL_RE = re.compile(rf"^{_ATOM}(?:\.{_ATOM})*$")
_DOMAIN_RE = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
    r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"
)
_LITERAL_RE = re.compile(r"^\[[0-9A-Fa-f:.]+\]$")


def _visible_non_ascii(ch: str) -> bool:
    """A non-ASCII character an RFC 6531 local part may hold: a letter, mark, digit, symbol or
    punctuation; never a space, control, format (bidi, zero-width) or unassigned character."""
    import unicodedata

    return unicodedata.category(ch)[0] in "LMNPS" and not _INVISIBLE.match(ch)


def _idna_domain(domain: str) -> tuple[str | None, str | None]:
    """(A-label form, None) of an internationalised domain, or (None, why not). IDNA 2008 with
    the UTS #46 mapping (the `idna` package), so `straße.de` stays itself and emoji are refused."""
    import idna

    try:
        return idna.encode(domain, uts46=True).decode("ascii"), None
    except (idna.IDNAError, UnicodeError) as exc:
        return None, f"{domain!r} is not a valid internationalised domain name ({exc})"


def _address_problem(addr: str) -> tuple[str | None, str | None]:
    """(`local@domain` with an ASCII domain, None), or (None, why it is not an address).

    The local part may be UTF-8 (RFC 6531, sent with SMTPUTF8), NFC-normalised; the domain is
    IDNA-encoded. The reasons are written for the person who typed the address.
    """
    import unicodedata

    addr = addr.strip()
    if not addr:
        return None, "empty"
    if "@" not in addr:
        return None, "no @ and domain (an address looks like name@example.org)"
    if addr.count("@") > 1:
        return None, "more than one @"
    if any(ch.isspace() for ch in addr):
        return None, "holds a space (use a comma between two addresses)"
    if len(addr) > 254:
        return None, "longer than 254 characters"
    local, domain = addr.split("@")
    if not local:
        return None, "nothing before the @"
    if not domain:
        return None, "nothing after the @ (the domain is missing)"
    if not local.isascii():
        local = unicodedata.normalize("NFC", local)
        if not all(ch.isascii() or _visible_non_ascii(ch) for ch in local):
            return None, "the part before the @ holds a space, control or invisible character"
    ascii_local = "".join(ch if ch.isascii() else "a" for ch in local)
    if len(local.encode("utf-8")) > 64:
        return None, "the part before the @ is longer than 64 bytes"
    if not _LOCAL_RE.match(ascii_local):
        return None, "the part before the @ holds a character an address cannot have"
    if not domain.isascii():
        encoded, why = _idna_domain(domain)
        if encoded is None:
            return None, why
        domain = encoded
    if not (_DOMAIN_RE.match(domain) or _LITERAL_RE.match(domain)):
        return None, f"{domain!r} is not a valid domain name"
    return f"{local}@{domain}", None


def _normalize_addr(addr: str) -> str | None:
    """`local@domain` with an ASCII (punycode) domain, or None when it is not an address."""
    return _address_problem(addr)[0]


def needs_smtputf8(address: str) -> bool:
    """True when an address can only be sent with SMTPUTF8 (RFC 6531): a non-ASCII local part."""
    return not address.isascii()


def _split_list(text: str, *, angles: bool = True) -> list[str]:
    """A typed address list cut at the commas that are outside quotes and angle brackets.

    A '<' never closed (`Name <broken, b@c.org`) protects no comma: the list is cut again
    without looking at angle brackets, so the typo does not swallow the addresses after it.
    """
    items: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    depth = 0
    for ch in text:
        if escaped:
            escaped = False
        elif ch == "\\" and quoted:
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif angles and not quoted and ch == "<":
            depth += 1
        elif angles and not quoted and ch == ">":
            depth = max(0, depth - 1)
        elif not quoted and depth == 0 and ch in ",;":
            items.append("".join(current))
            current = []
            continue
        current.append(ch)
    items.append("".join(current))
    if depth > 0:
        return _split_list(text, angles=False)
    return [item.strip() for item in items if item.strip()]


_MAILBOX_RE = re.compile(r"^(?P<name>.*?)\s*<(?P<addr>[^<>]*)>$", re.S)


def _parse_mailbox(text: str) -> tuple[str, str]:
    """("Name", "a@b") from one typed mailbox ("a@b", "Name <a@b>", '"N, X" <a@b>').

    Stricter than email.utils.getaddresses, which drops what it cannot read ("a@" becomes
    nothing, "not an address" becomes "not"): a typed recipient is never silently lost.
    """
    text = _check("address", text).strip()
    match = _MAILBOX_RE.match(text)
    if match:
        name, addr = match.group("name").strip(), match.group("addr").strip()
        if len(name) >= 2 and name[0] == name[-1] == '"':
            name = re.sub(r"\\(.)", r"\1", name[1:-1])
    else:
        name, addr = "", text
        if "<" in text or ">" in text:
            bracket = "'<' without a closing '>'" if "<" in text else "'>' without an opening '<'"
            raise InvalidAddressError(f"not a valid address: {text!r}: {bracket}", text, bracket)
    normal, why = _address_problem(addr)
    if normal is None:
        reason = why or "not an address"
        raise InvalidAddressError(f"not a valid address: {text!r}: {reason}", text, reason)
    return name.strip(), normal


def address_problems(text: str) -> list[tuple[str, str]]:
    """(entry, why) for each entry of a typed address list that is not a usable mailbox.

    For the compose screen, which shows these under the field holding them; [] when every
    entry is fine (an empty field included).
    """
    problems: list[tuple[str, str]] = []
    for item in _split_list(text):
        try:
            _parse_mailbox(item)
        except HeaderInjectionError:
            problems.append((item, "holds a line break or control character"))
        except InvalidAddressError as exc:
            problems.append((item, exc.reason))
    return problems


def split_address(text: str) -> tuple[str, str]:
    """("Name", "a@b") from one address string; InvalidAddressError when it is not one."""
    items = _split_list(text)
    if len(items) != 1:
        raise InvalidAddressError(f"not one address: {text!r}")
    return _parse_mailbox(items[0])


def format_address(name: str, address: str) -> str:
    """The display string of one mailbox, quoted where the name needs it."""
    name = _clean(name)
    if not name:
        return address
    if re.search(r'[()<>\[\]:;@\\,."]', name):
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{address}>"


def split_addresses(text: str) -> list[str]:
    """A typed list cut into its entries as typed (commas in quotes kept); never raises.

    For the compose screen: validate each entry with `split_address` or when building.
    """
    return _split_list(text)


def parse_addresses(text: str) -> list[str]:
    """A comma-separated list as typed, as one display string per mailbox (raises on a bad one)."""
    return [format_address(*_parse_mailbox(item)) for item in _split_list(text)]


def _mailboxes(entries: Iterable[str]) -> list[tuple[str, str]]:
    """(name, address) of each entry of a recipient list; an entry may hold several."""
    return [_parse_mailbox(item) for entry in entries for item in _split_list(entry)]


def _mailboxes_and_unfinished(entries: Iterable[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """The usable mailboxes of a recipient list, and the entries that are not (yet) one.

    For a postponed draft: "bob@" or a name without its address is half-typed work the
    user must get back as typed, not a reason to refuse saving the draft."""
    good: list[tuple[str, str]] = []
    unfinished: list[str] = []
    for entry in entries:
        for item in _split_list(entry):
            try:
                good.append(_parse_mailbox(item))
            except InvalidAddressError:
                unfinished.append(item.strip())
    return good, unfinished


UNFINISHED_HEADER = "X-Termail-Unfinished-"
"""`X-Termail-Unfinished-To` (Cc, Bcc): what a postponed draft's field held that is not an
address yet, kept as typed so resuming the draft gives it back (draft_from_message)."""


def _dedupe(pairs: Iterable[tuple[str, str]], seen: set[str]) -> list[tuple[str, str]]:
    out = []
    for name, addr in pairs:
        key = addr.lower()
        if key in seen:
            continue
        seen.add(key)
        out.append((name, addr))
    return out


def envelope_recipients(draft: Draft) -> list[str]:
    """RCPT TO addresses: To, Cc and Bcc, each once (case-insensitive), in that order."""
    pairs = _mailboxes([*draft.to, *draft.cc, *draft.bcc])
    return [addr for _, addr in _dedupe(pairs, set())]


# -- building --------------------------------------------------------------------------------

_MSGID_RE = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]{1,250}>")


def _msgids(value: str) -> list[str]:
    """Every well-formed `<id>` in a value; the rest (comments, junk, line breaks) is dropped."""
    return _MSGID_RE.findall(value)


class _IdListHeader(UnstructuredHeader):
    """References / In-Reply-To: folded only at spaces, never turned into encoded words.

    The stdlib folds a long unstructured value into RFC 2047 words, which breaks message ids
    longer than a line; these values are checked ASCII id lists, so plain folding is right.
    """

    def fold(self, *, policy: Any) -> str:
        linesep = policy.linesep
        lines: list[str] = []
        current = f"{getattr(self, 'name', 'References')}:"
        # never break before the first id: the value would start with a space
        for placed, token in enumerate(str(self).split()):
            if len(current) + 1 + len(token) > 78 and placed:
                lines.append(current)
                current = ""
            current += " " + token
        lines.append(current)
        return str(linesep.join(lines) + linesep)


_REGISTRY = HeaderRegistry()
_REGISTRY.map_to_type("references", _IdListHeader)  # type: ignore[arg-type]
_REGISTRY.map_to_type("in-reply-to", _IdListHeader)  # type: ignore[arg-type]
#: CRLF line ends, 78-column folding, and the id-list fix above.
POLICY = email_policy.SMTP.clone(header_factory=_REGISTRY)
#: The same with UTF-8 headers (RFC 6532), for a message to or from an address that needs
#: SMTPUTF8: an encoded word is not allowed in an address, so the header carries UTF-8.
POLICY_UTF8 = POLICY.clone(utf8=True)


def _mime_type_for(filename: str) -> str:
    mime, encoding = mimetypes.guess_type(filename, strict=False)
    compressed = {
        "gzip": "application/gzip",
        "bzip2": "application/x-bzip2",
        "xz": "application/x-xz",
        "compress": "application/x-compress",
        "br": "application/x-brotli",
    }
    if encoding:
        return compressed.get(encoding, "application/octet-stream")
    return mime or "application/octet-stream"


def _load_attachment(item: AttachmentSource) -> Attachment:
    if isinstance(item, Attachment):
        return item
    try:
        data = item.expanduser().read_bytes()
    except OSError as exc:
        raise AttachmentError(f"cannot read {item}: {exc.strerror or exc}") from exc
    return Attachment(item.name, data, _mime_type_for(item.name))


def flow_text(text: str, width: int = 72) -> str:
    """`text` as RFC 3676 format=flowed: soft breaks end in a space, stuffed where needed.

    Quoted lines (starting with ">") and the signature separator are kept as they are; other
    long lines are wrapped at spaces. Trailing spaces of hard lines are dropped, since a
    trailing space means "this line continues".
    """
    out: list[str] = []
    for line in text.split("\n"):
        if line == "-- ":
            out.append(line)
            continue
        line = line.rstrip(" ")
        if line.startswith(">"):
            out.append(line)
            continue
        pieces: list[str] = []
        while len(line) > width:
            cut = line.rfind(" ", 0, width)
            if cut <= 0 or line[: cut + 1] == "-- ":  # a lone "-- " would read as a signature
                cut = line.find(" ", max(width, 3))
                if cut < 0:
                    break
            while cut + 1 < len(line) and line[cut + 1] == " ":
                cut += 1
            pieces.append(line[: cut + 1])
            line = line[cut + 1 :]
        pieces.append(line)
        for piece in pieces:
            if piece.startswith((" ", ">", "From ")):
                piece = " " + piece
            out.append(piece)
    return "\n".join(out)


def _normalize_body(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return text if text.endswith("\n") else text + "\n"


def _rfc822_part(att: Attachment) -> MIMEPart:
    """A message/rfc822 part holding the original's bytes as they were (only CRLF-normalised)."""
    raw = att.data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if not raw.endswith(b"\n"):
        raw += b"\n"
    part = MIMEPart(policy=POLICY)
    part["Content-Type"] = "message/rfc822"
    part["Content-Transfer-Encoding"] = "7bit" if raw.isascii() else "8bit"
    part.add_header("Content-Disposition", "attachment", filename=_clean_filename(att.filename))
    text = raw.replace(b"\n", b"\r\n").decode("ascii", "surrogateescape")
    part.set_payload(text)
    return part


def build_message(
    draft: Draft,
    *,
    message_id_domain: str,
    include_bcc: bool = False,
    keep_unfinished: bool = False,
) -> EmailMessage:
    """The message to send: headers encoded, text part, attachments; never a Bcc header.

    `include_bcc` is for the copy postponed to the Drafts folder only, so a resumed draft
    keeps its Bcc; `message_bytes` still drops it unless told to keep it. `keep_unfinished`
    (drafts only, too): a recipient that is not an address yet goes into an
    `X-Termail-Unfinished-*` header instead of refusing the message.

    Raises HeaderInjectionError for a line break in a typed value, InvalidAddressError for a
    bad address, AttachmentError for an unreadable file.
    """
    domain = message_id_domain.strip()
    if not domain or not re.fullmatch(r"[A-Za-z0-9.\-\[\]:]+", domain):
        raise ComposeError(f"not a usable Message-ID domain: {message_id_domain!r}")
    from_name = _check("sender name", draft.from_.name.strip())
    from_addr = _normalize_addr(draft.from_.address)
    if from_addr is None:
        raise InvalidAddressError(f"not a valid sender address: {draft.from_.address!r}")
    subject = _check("subject", draft.subject.strip())
    seen: set[str] = set()
    unfinished: dict[str, list[str]] = {}

    def mailboxes(header: str, entries: list[str]) -> list[tuple[str, str]]:
        if not keep_unfinished:
            return _mailboxes(entries)
        good, unfinished[header] = _mailboxes_and_unfinished(entries)
        return good

    listed = [
        (header, _dedupe(mailboxes(header, entries), seen))
        for header, entries in (("To", draft.to), ("Cc", draft.cc))
    ]
    bcc = _dedupe(mailboxes("Bcc", draft.bcc), set())  # validated even when not written
    every = [from_addr, *(a for _, pairs in listed for _, a in pairs), *(a for _, a in bcc)]
    utf8 = any(needs_smtputf8(a) for a in every)

    msg = EmailMessage(policy=POLICY_UTF8 if utf8 else POLICY)
    msg["Date"] = format_datetime(localtime())
    msg["From"] = _header_address(from_name, from_addr)
    for header, pairs in listed:
        if pairs:
            msg[header] = [_header_address(_check("display name", n), a) for n, a in pairs]
    if include_bcc and bcc:
        msg["Bcc"] = [_header_address(_check("display name", n), a) for n, a in bcc]
    for header, typed in unfinished.items():
        if typed and (header != "Bcc" or include_bcc):
            msg[UNFINISHED_HEADER + header] = _check("recipient", ", ".join(typed))
    if subject:
        msg["Subject"] = subject
    local = secrets.token_hex(12)
    msg["Message-ID"] = f"<{local}@{domain}>"
    if draft.in_reply_to:
        ids = _msgids(_check("In-Reply-To", draft.in_reply_to))
        if ids:
            msg["In-Reply-To"] = ids[0]
    refs = [i for r in draft.references for i in _msgids(_check("References", r))]
    if refs:
        msg["References"] = " ".join(_trim_references(refs))
    msg["User-Agent"] = USER_AGENT

    body = _normalize_body(draft.body)
    params: dict[str, str] = {}
    if draft.format_flowed:
        body = flow_text(body.rstrip("\n")) + "\n"
        params = {"format": "flowed", "delsp": "no"}
    long_line = max((len(line) for line in body.split("\n")), default=0) > 900
    cte = "7bit" if body.isascii() and not long_line else "quoted-printable"
    msg.set_content(body, subtype="plain", charset="utf-8", cte=cte, params=params)
    if draft.calendar is not None:
        method, ics = draft.calendar
        msg.add_alternative(
            ics,
            subtype="calendar",
            charset="utf-8",
            cte="quoted-printable",
            params={"method": method},
        )

    attachments = [_load_attachment(a) for a in draft.attachments]
    if attachments:
        msg.make_mixed()
        for att in attachments:
            if att.mime_type.lower() == "message/rfc822":
                msg.attach(cast(EmailMessage, _rfc822_part(att)))
                continue
            maintype, _, subtype = att.mime_type.lower().partition("/")
            if not re.fullmatch(r"[a-z0-9!#$&^_.+-]+", maintype) or not re.fullmatch(
                r"[a-z0-9!#$&^_.+-]+", subtype
            ):
                maintype, subtype = "application", "octet-stream"
            if maintype in ("multipart", "message"):
                maintype, subtype = "application", "octet-stream"
            part = MIMEPart(policy=POLICY)
            part.set_content(
                att.data,
                maintype=maintype,
                subtype=subtype,
                disposition="attachment",
                filename=_clean_filename(att.filename),
                cte="base64",
            )
            msg.attach(cast(EmailMessage, part))
    return msg


def _header_address(name: str, addr: str) -> HeaderAddress:
    local, _, domain = addr.partition("@")
    return HeaderAddress(display_name=name, username=local, domain=domain)


def _trim_references(refs: list[str]) -> list[str]:
    unique = list(dict.fromkeys(refs))
    if len(unique) <= MAX_REFERENCES:
        return unique
    return [unique[0], *unique[-(MAX_REFERENCES - 1) :]]


def message_bytes(message: Message, *, keep_bcc: bool = False) -> bytes:
    """The bytes to submit and to file in Sent: CRLF line ends, any Bcc header removed.

    Use this rather than `as_bytes()`: a forwarded 8-bit original only serializes here.
    `keep_bcc` is for the Drafts folder copy only.
    """
    if not keep_bcc and ("Bcc" in message or "Resent-Bcc" in message):
        import copy

        message = copy.deepcopy(message)
        del message["Bcc"]
        del message["Resent-Bcc"]
    buffer = io.BytesIO()
    policy = POLICY_UTF8 if getattr(message.policy, "utf8", False) else POLICY
    try:
        _Generator(buffer, mangle_from_=False, policy=policy).flatten(message)
    except Exception as exc:  # the stdlib generator raises many kinds on odd input
        raise ComposeError(f"cannot serialize the message: {exc}") from exc
    return buffer.getvalue()


class _Generator(BytesGenerator):
    """Writes a forwarded message/rfc822 payload's 8-bit bytes as they came.

    The stdlib's BytesGenerator encodes such a payload with plain ASCII and fails on 8-bit
    originals; the payload holds them as surrogate escapes, so they go back out unchanged.
    """

    def _encode(self, s: str) -> bytes:
        return s.encode("ascii", "surrogateescape")


# -- reading the original --------------------------------------------------------------------


class _Original:
    """A received message read defensively: raw headers decoded by us, never trusted."""

    def __init__(self, original: bytes | Message) -> None:
        if isinstance(original, Message):
            try:  # with its own policy: compat32 would encode a whole "Name <addr>" as one word
                buffer = io.BytesIO()
                _Generator(buffer, mangle_from_=False, policy=original.policy).flatten(original)
                data = buffer.getvalue()
            except Exception as exc:
                raise ComposeError(f"cannot read the original: {exc}") from exc
        elif isinstance(original, bytes | bytearray):
            data = bytes(original)
        else:
            raise ComposeError(f"not a message: {type(original).__name__}")
        self.data = data
        try:
            self.msg: Message = BytesParser(policy=email_policy.compat32).parsebytes(data)
        except Exception as exc:
            raise ComposeError(f"cannot parse the original: {exc}") from exc

    def raw(self, name: str) -> list[str]:
        """Every raw value of header `name`, unfolded, 8-bit bytes read as UTF-8."""
        out = []
        for key, value in self.msg.raw_items():
            if key.lower() != name.lower():
                continue
            text = str(value)
            if any("\udc80" <= ch <= "\udcff" for ch in text):
                text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            out.append(re.sub(r"\r?\n([ \t])", r"\1", text).replace("\r", "").replace("\n", ""))
        return out

    def text(self, name: str) -> str:
        """The first value of `name` decoded (RFC 2047) and made one safe line."""
        values = self.raw(name)
        return _decode(values[0]) if values else ""

    def addresses(self, name: str) -> list[tuple[str, str]]:
        """(decoded safe name, valid address) of each mailbox in every `name` header."""
        out: list[tuple[str, str]] = []
        for raw in self.raw(name):
            for disp, addr in _parse_address_header(name, raw):
                normal = _normalize_addr(addr)
                if normal is not None:
                    out.append((_clean(disp), normal))
        return out

    def ids(self, name: str) -> list[str]:
        return [i for raw in self.raw(name) for i in _msgids(raw)]


def _decode(raw: str) -> str:
    """RFC 2047 decoding through the stdlib's lenient parser, falling back to the raw text."""
    try:
        value = str(email_policy.default.header_factory("subject", raw))
    except Exception:
        value = raw
    return _clean(value)


def _parse_address_header(name: str, raw: str) -> list[tuple[str, str]]:
    try:
        header = email_policy.default.header_factory(name.lower(), raw)
        found = [(a.display_name, a.addr_spec) for a in header.addresses]
    except Exception:
        found = []
    if not found:
        try:
            found = [(_decode(n), a) for n, a in getaddresses([raw])]
        except Exception:
            found = []
    return found


def _part_text(part: Message) -> str:
    """The decoded text of a leaf part, with a charset fallback that never raises."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if not isinstance(payload, bytes):
        return ""
    charset = "utf-8"
    try:
        charset = part.get_content_charset() or "us-ascii"
        "".encode(charset)
    except Exception:
        charset = "utf-8"
    if charset.lower() in ("us-ascii", "ascii"):
        charset = "utf-8"
    try:
        return payload.decode(charset, "replace")
    except Exception:
        return payload.decode("utf-8", "replace")


def _html_to_text(html: str) -> str:
    try:
        import html2text

        conv = html2text.HTML2Text()
        conv.body_width = 0
        conv.ignore_images = True
        return str(conv.handle(html))
    except Exception:
        return re.sub(r"<[^>]*>", "", html)


def _is_attachment(part: Message) -> bool:
    disposition = str(part.get("Content-Disposition", "")).split(";")[0].strip().lower()
    return disposition == "attachment" or (
        part.get_filename() is not None and not part.get_content_type().startswith("text/")
    )


def _body_and_attachments(msg: Message) -> tuple[str, list[Attachment]]:
    """The best text of a message (plain, else HTML or enriched as text) and its attachments."""
    plain: Message | None = None
    other: Message | None = None
    attachments: list[Attachment] = []
    stack: list[Message] = [msg]
    while stack:
        part = stack.pop(0)
        ctype = part.get_content_type()
        if part.is_multipart():
            if ctype == "message/rfc822" and part is not msg:
                attachments.append(_as_attachment(part))
                continue
            children = part.get_payload()
            if isinstance(children, list):
                stack[0:0] = [c for c in children if isinstance(c, Message)]
            continue
        if ctype.startswith("text/") and not _is_attachment(part):
            if ctype == "text/plain" and plain is None:
                plain = part
                continue
            if ctype in ("text/html", "text/enriched") and other is None:
                other = part
                continue
        if part is not msg and (_is_attachment(part) or not ctype.startswith("text/")):
            attachments.append(_as_attachment(part))
    if plain is not None:
        text = _part_text(plain)
    elif other is not None:
        text = _part_text(other)
        if other.get_content_type() == "text/html":
            text = _html_to_text(text)
        else:
            text = re.sub(r"</?[A-Za-z0-9-]+>", "", text).replace("<<", "<")
    else:
        text = ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if ch in "\n\t" or not _BREAKING.match(ch))
    return text, attachments


def _as_attachment(part: Message) -> Attachment:
    try:
        raw_name = part.get_filename() or part.get_param("name") or ""
    except Exception:
        raw_name = ""
    if isinstance(raw_name, tuple):  # an undecoded RFC 2231 triple
        raw_name = str(raw_name[2])
    name = _clean_filename(_decode(str(raw_name))) if raw_name else "attachment"
    ctype = part.get_content_type()
    data = b""
    if part.is_multipart():
        inner = part.get_payload()
        try:
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                data = inner[0].as_bytes(policy=email_policy.compat32)
        except Exception:
            data = b""
        if name == "attachment":
            name = "message.eml"
    else:
        try:
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
        except Exception:
            data = b""
        cte = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
        if ctype.startswith("text/") and cte != "base64":
            data = data.replace(b"\r\n", b"\n")  # the wire's line ends, not the sender's
    return Attachment(name, data, ctype)


# -- reply and forward -----------------------------------------------------------------------

_REPLY_PREFIX = (
    r"(?:re|aw|sv|antw|vs|r[eé]f|rif|odp|res|ynt|atb|vá|απ|σχετ|отв|回复|回覆|答复|返信)"
)
_FWD_PREFIX = r"(?:fwd?|wg|tr|rv|enc|doorst|vl|vb|πρθ|пер|转发|轉寄)"
_COUNTER = r"(?:\s*(?:\[\d+\]|\(\d+\)))?"
_REPLY_RE = re.compile(rf"^(?:\s*{_REPLY_PREFIX}{_COUNTER}\s*[:：]\s*)+", re.IGNORECASE)
_FWD_RE = re.compile(rf"^(?:\s*{_FWD_PREFIX}{_COUNTER}\s*[:：]\s*)+", re.IGNORECASE)
_TAG_RE = re.compile(r"^\s*(\[[^\]\n]{1,40}\])\s*")


def reply_subject(subject: str) -> str:
    """`Re: ` once, whatever reply prefixes (Re:, RE:, Aw:, Sv:, Re[2]: ...) came before.

    A mailing list tag in front ("[list] Re: x") is kept after the single prefix.
    """
    subject = _clean(subject)
    tag = ""
    while True:
        rest = _REPLY_RE.sub("", subject)
        match = _TAG_RE.match(rest)
        if match and not tag:
            tag, subject = match.group(1) + " ", rest[match.end() :]
            continue
        break
    return f"Re: {tag}{rest}".rstrip()


def forward_subject(subject: str) -> str:
    """`Fwd: ` once, earlier forward prefixes (Fwd:, Fw:, WG:, TR: ...) dropped."""
    subject = _clean(subject)
    return f"Fwd: {_FWD_RE.sub('', subject)}".rstrip()


def _own_set(own_addresses: Iterable[str]) -> set[str]:
    own = set()
    for item in own_addresses:
        normal = _normalize_addr(item)
        own.add((normal or item.strip()).lower())
    return own


def _attribution(orig: _Original) -> str:
    senders = orig.addresses("From")
    name = (senders[0][0] or senders[0][1]) if senders else (orig.text("From") or "someone")
    raw_date = orig.text("Date")
    when = ""
    if raw_date:
        try:
            when = parsedate_to_datetime(raw_date).strftime("%a, %d %b %Y %H:%M")
        except Exception:
            when = raw_date[:60]
    return f"On {when}, {name} wrote:" if when else f"{name} wrote:"


def _quote(text: str) -> str:
    lines = text.rstrip("\n").split("\n")
    for i, line in enumerate(lines):
        if line == "-- ":
            lines = lines[:i]
            break
    while lines and not lines[-1].strip():
        lines.pop()
    quoted = []
    for line in lines:
        line = line.rstrip()
        if not line:
            quoted.append(">")
        elif line.startswith(">"):
            quoted.append(">" + line)
        else:
            quoted.append("> " + line)
    return "\n".join(quoted)


def reply(
    original: bytes | Message,
    identity: Identity | tuple[str, str],
    *,
    reply_all: bool = False,
    own_addresses: Iterable[str] = (),
    position: str = "bottom",
) -> Draft:
    """A reply draft: recipients, `Re:` subject, threading headers and the quoted text.

    Reply goes to Mail-Reply-To, else Reply-To, else From. Reply-all goes to Mail-Followup-To
    when the original has one; otherwise to the reply target and the original's To (To) and
    Cc (Cc), without the user's own addresses and without duplicates.

    `position` "bottom" (mutt's way) leaves two empty lines below the quote, the cursor's place;
    "top" puts them above the attribution line (`reply_cursor_line` says which line). Bidi
    controls and invisible characters of the original go nowhere in the draft.
    """
    orig = _Original(original)
    ident = identity if isinstance(identity, Identity) else Identity(*identity)
    own = _own_set([*own_addresses, ident.address])

    author = orig.addresses("Mail-Reply-To") or orig.addresses("Reply-To")
    author = author or orig.addresses("From")
    to: list[tuple[str, str]]
    cc: list[tuple[str, str]] = []
    if reply_all:
        followup = orig.addresses("Mail-Followup-To")
        seen = set(own)
        if followup:
            to = _dedupe(followup, seen)
        else:
            reply_to = orig.addresses("Reply-To") or orig.addresses("From")
            to = _dedupe([*reply_to, *orig.addresses("To")], seen)
            cc = _dedupe(orig.addresses("Cc"), seen)
        if not to and not cc:
            to = _dedupe(author, set())
    else:
        to = _dedupe([a for a in author if a[1].lower() not in own], set())
        if not to:
            to = _dedupe(author, set())

    message_id = orig.ids("Message-ID")
    references = orig.ids("References")
    if not references:
        parents = orig.ids("In-Reply-To")
        references = parents[:1]
    if message_id:
        references = [*references, message_id[0]]
    text, _ = _body_and_attachments(orig.msg)
    quoted = f"{_attribution(orig)}\n{_quote(strip_invisible(text))}\n"
    body = "\n\n" + quoted if position == "top" else quoted + "\n"
    return Draft(
        from_=ident,
        to=[format_address(n, a) for n, a in to],
        cc=[format_address(n, a) for n, a in cc],
        subject=reply_subject(orig.text("Subject")),
        body=body,
        in_reply_to=message_id[0] if message_id else None,
        references=_trim_references(references),
    )


def reply_cursor_line(body: str, position: str = "bottom") -> int:
    """The line of a fresh reply's body where the user starts writing: the first line for
    "top", else the empty line below the quote (a blank line kept between the two).

    `body` is the reply's body before a signature was appended.
    """
    return 0 if position == "top" else body.count("\n")


_MIME_HEADERS = ("content-type", "content-transfer-encoding", "mime-version")


def text_only_message(
    header: bytes, content_type: str, params: dict[str, str], encoding: str, body: bytes
) -> bytes:
    """The original's header block with one text part (still transfer-encoded) as its body.

    An inline forward is built from this plus the attachments fetched one by one, so a large
    attachment is never fetched twice. The original's own MIME headers are replaced by the
    text part's type, charset and encoding (all from the BODYSTRUCTURE, made one safe line).
    """
    lines: list[bytes] = []
    skipping = False
    for line in header.replace(b"\r\n", b"\n").split(b"\n"):
        if not line.strip():
            continue
        if line[:1] in (b" ", b"\t"):
            if not skipping and lines:
                lines.append(line)
            continue
        skipping = line.split(b":", 1)[0].strip().lower().decode("latin-1") in _MIME_HEADERS
        if not skipping:
            lines.append(line)

    def safe(value: str) -> str:
        return re.sub(r"[^A-Za-z0-9!#$&^_.+/-]", "", value)[:100]

    ctype = safe(content_type) or "text/plain"
    charset = safe(next((v for k, v in params.items() if k.lower() == "charset"), ""))
    lines.append(b"MIME-Version: 1.0")
    lines.append(
        f"Content-Type: {ctype}".encode() + (f'; charset="{charset}"'.encode() if charset else b"")
    )
    lines.append(f"Content-Transfer-Encoding: {safe(encoding) or '7bit'}".encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def forward(
    original: bytes | Message,
    identity: Identity | tuple[str, str],
    *,
    as_attachment: bool = False,
    include_attachments: bool = False,
    attachments: Iterable[Attachment] | None = None,
) -> Draft:
    """A forward draft: inline (a header block and the text) or the whole message attached.

    Inline, `include_attachments` carries the original's attachments over (taken from
    `original`), or `attachments` gives them already fetched (part by part from the server,
    `original` then holding the text only); as an attachment they are inside the
    message/rfc822 part anyway.
    """
    orig = _Original(original)
    ident = identity if isinstance(identity, Identity) else Identity(*identity)
    subject = orig.text("Subject")
    if as_attachment:
        name = _clean_filename((subject or "message")[:80]) + ".eml"
        return Draft(
            from_=ident,
            subject=forward_subject(subject),
            body="\n",
            attachments=[Attachment(name, orig.data, "message/rfc822")],
        )
    text, found = _body_and_attachments(orig.msg)
    carried = found if include_attachments else []
    if attachments is not None:
        carried = list(attachments)
    block = ["", "", "---------- Forwarded message ----------"]
    for header in ("From", "Date", "Subject", "To", "Cc"):
        if header in ("From", "To", "Cc"):
            pairs = orig.addresses(header)
            value = ", ".join(format_address(n, a) for n, a in pairs) or orig.text(header)
        else:
            value = orig.text(header)
        if value:
            block.append(f"{header}: {value}")
    body = "\n".join(block) + "\n\n" + strip_invisible(text).rstrip("\n") + "\n"
    return Draft(
        from_=ident,
        subject=forward_subject(subject),
        body=body,
        attachments=list(carried),
    )


def unflow_text(text: str, *, delsp: bool = False) -> str:
    """RFC 3676 decoding: soft-broken lines joined, space-stuffing undone."""
    out: list[str] = []
    current = ""
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.startswith(" "):
            line = line[1:]
        if line.endswith(" ") and line != "-- ":
            current += line[:-1] if delsp else line
            continue
        out.append(current + line)
        current = ""
    if current:
        out.append(current)
    return "\n".join(out)


#: Headers naming who a message was delivered to: the identity to answer from is among them.
_DELIVERED_TO = ("To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To")


def recipients_of(original: bytes | Message) -> list[str]:
    """The addresses a received message was sent or delivered to; [] for an unreadable one."""
    try:
        orig = _Original(original)
    except ComposeError:
        return []
    seen: dict[str, None] = {}
    for name in _DELIVERED_TO:
        for _, address in orig.addresses(name):
            seen.setdefault(address, None)
    return list(seen)


def draft_from_message(data: bytes | Message, identity: Identity | None = None) -> Draft:
    """A Draft back from a message saved in the Drafts folder (or any message: "edit as new").

    Recipients (Bcc too), subject, text, attachments and threading headers are taken over;
    the sender is `identity`, else the message's From.
    """
    orig = _Original(data)
    text, attachments = _body_and_attachments(orig.msg)
    plain = next(
        (p for p in orig.msg.walk() if p.get_content_type() == "text/plain"),
        None,
    )
    if plain is not None and str(plain.get_param("format", "")).lower() == "flowed":
        delsp = str(plain.get_param("delsp", "")).lower() == "yes"
        text = unflow_text(text, delsp=delsp)
    if identity is None:
        senders = orig.addresses("From")
        identity = Identity(*senders[0]) if senders else Identity("", "")
    parents = orig.ids("In-Reply-To")

    def recipients(header: str) -> list[str]:
        typed = [format_address(n, a) for n, a in orig.addresses(header)]
        unfinished = orig.text(UNFINISHED_HEADER + header)
        return [*typed, unfinished] if unfinished else typed

    return Draft(
        from_=identity,
        to=recipients("To"),
        cc=recipients("Cc"),
        bcc=recipients("Bcc"),
        subject=orig.text("Subject"),
        body=text,
        attachments=list(attachments),
        in_reply_to=parents[0] if parents else None,
        references=orig.ids("References"),
        format_flowed=plain is not None and str(plain.get_param("format", "")).lower() == "flowed",
    )


def edit_as_new(
    data: bytes | Message, identity: Identity, *, own_addresses: Iterable[str] = ()
) -> Draft:
    """A new draft from any sent or received message (mutt's resend-message, "edit as new").

    Recipients, subject, text and every attachment are taken over. The sender stays the
    original's From when that is one of `own_addresses` (a sent message), else `identity`.
    """
    draft = draft_from_message(data, identity)
    own = _own_set(own_addresses)
    senders = _Original(data).addresses("From")
    if senders and senders[0][1].lower() in own:
        draft.from_ = Identity(*senders[0])
    return draft


# -- the forgotten attachment ----------------------------------------------------------------

_ATTACH_WORDS = [
    # English
    r"attach(?:ed|ment|ments|ing)?",
    r"enclosed",
    r"enclosing",
    # German
    r"anbei",
    r"anhang",
    r"anhängen",
    r"angehängt",
    r"angehaengt",
    r"beigefügt",
    r"beigefuegt",
    r"anlage",
    r"im\s+anhang",
    # French
    r"pi[eè]ces?[\s-]+jointes?",
    r"ci[\s-]+joint(?:e|es|s)?",
    r"en\s+pj",
    # Spanish
    r"adjunt(?:o|a|os|as|ado|ada|amos)",
]
_ATTACH_RE = re.compile(r"(?<!\w)(?:" + "|".join(_ATTACH_WORDS) + r")(?!\w)", re.IGNORECASE)


def detect_forgotten_attachment(draft: Draft) -> bool:
    """True when the text speaks of an attachment but there is none.

    Quoted lines (">"), the attribution line before them, the signature and a forwarded
    message's text are not the user's words and are ignored.
    """
    if draft.attachments:
        return False
    if _ATTACH_RE.search(draft.subject) and not _REPLY_RE.match(draft.subject):
        return True
    lines = draft.body.replace("\r\n", "\n").split("\n")
    for i, line in enumerate(lines):
        if line == "-- " or line.startswith("---------- Forwarded message"):
            break
        if line.lstrip().startswith(">"):
            continue
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.rstrip().endswith("wrote:") and nxt.lstrip().startswith(">"):
            continue
        if _ATTACH_RE.search(line):
            return True
    return False
