"""A message, whole or as IMAP parts, turned into a `RenderedMessage` that is safe to show.

Two entry points share one pipeline:

- `render_message(raw)` parses a whole message (a local .eml, the demo, `termail render`);
- `parts_to_fetch(structure)` + `render_from_parts(header_bytes, structure, parts)` let the IMAP
  layer fetch only the leaf parts holding the text to show, by BODYSTRUCTURE.

Both build a `BodyPart` tree (the raw path converts the stdlib's parse into one, numbering parts
as IMAP does), choose what to show from the structure alone (`_Planner`), then render the
chosen leaves from their transfer-encoded bytes. Structure is parsed with the stdlib (compat32,
which never builds header objects); every header is decoded by `app.mime.headers`.

Limits keep hostile input bounded: nesting deeper than `MAX_DEPTH`, more than `MAX_PARTS`
parts, text parts above `MAX_TEXT_PART_BYTES` and bodies above `MAX_BODY_CHARS` are cut, with a
notice. The stdlib parser raises RecursionError around 1,000 levels of nesting; such a message
is shown as raw text. Nothing but the documented result comes out of `render_message`: an
unexpected error gives a message with a notice starting with `INTERNAL_ERROR_NOTICE`.
"""

from __future__ import annotations

import email.message
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser, BytesParser
from email.policy import compat32
from mimetypes import guess_extension

from app.mime import html as html_mod
from app.mime.attachments import (
    decode_transfer,
    decoded_size,
    estimate_decoded_size,
    is_text_type,
    normalize_transfer_encoding,
    safe_filename,
)
from app.mime.auth import check_sender
from app.mime.charsets import decode_bytes, sniff_html_charset
from app.mime.enriched import enriched_to_segments
from app.mime.headers import (
    Headers,
    angle_targets,
    collapse_params,
    decode_envelope_address,
    decode_header,
    decode_header_raw,
    first_header,
    format_addresses,
    message_ids,
    parse_addresses,
    parse_date,
    parse_params,
    shown_address_header,
)
from app.mime.links import SENTINEL_RE, Link, LinkSpan, annotate_html, annotate_plain, make_link
from app.mime.sanitize import clean, clean_line
from app.mime.types import AttachmentInfo, RenderedMessage, ShownAddress, ShownHeader, StyleSpan
from app.models import Address, BodyPart, Envelope

MAX_RAW = 64 * 1024 * 1024
MAX_DEPTH = 40
MAX_PARTS = 5000
MAX_SHOWN_PARTS = 100
MAX_ATTACHMENTS = 1000
MAX_TEXT_PART_BYTES = 4 * 1024 * 1024
MAX_BODY_CHARS = 6_000_000
MAX_HEADERS = 2000
FULL_HEADER_MAX = 16_384

INTERNAL_ERROR_NOTICE = "termail could not fully render this message"

COMPACT_HEADERS = ("From", "To", "Cc", "Reply-To", "Date", "Subject")
_ADDRESS_HEADERS = frozenset({"from", "to", "cc", "reply-to", "bcc", "sender"})
RFC822_TYPES = frozenset({"message/rfc822", "message/global", "message/news"})
_TEXT_MESSAGE_TYPES = frozenset(
    {
        "message/delivery-status",
        "message/global-delivery-status",
        "message/disposition-notification",
        "message/global-disposition-notification",
        "message/feedback-report",
        "message/external-body",
        "message/partial",
        "text/rfc822-headers",
        "text/global-headers",
    }
)
_PLAIN_KINDS = frozenset({"text/plain", "text/enriched", "text/richtext", "text/markdown"})


# --- structure: the raw path ------------------------------------------------------------------


@dataclass(slots=True)
class _Parsed:
    """A raw message's structure, with what the renderer needs to reach each part's bytes."""

    headers: list[tuple[str, str]]
    root: BodyPart
    leaves: dict[int, bytes] = field(default_factory=dict)
    enclosed: dict[int, list[tuple[str, str]]] = field(default_factory=dict)
    messages: dict[int, email.message.Message] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    count: int = 0
    damaged: bool = False


def _raw_items(msg: email.message.Message) -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    for name, value in msg.raw_items():
        items.append((str(name), value if isinstance(value, str) else str(value)))
        if len(items) >= MAX_HEADERS:
            break
    return items


def _raw_payload(msg: email.message.Message) -> object:
    """The payload as parsed: a list of parts, or the body as a str.

    Not `get_payload()`: for a body with 8-bit bytes it decodes them with the declared charset,
    and raises TypeError when that charset is an RFC 2231 `charset*=` triple (a stdlib bug
    found by the fuzzer).
    """
    payload = getattr(msg, "_payload", None)
    if payload is not None:
        return payload
    try:
        return msg.get_payload()
    except Exception:
        return None


def _payload_bytes(msg: email.message.Message) -> bytes:
    # Not get_payload(): for 8-bit text it decodes with the declared charset and replaces
    # errors, losing the bytes needed to notice a mislabelled charset. `_payload` holds the
    # body as parsed (ASCII with surrogate escapes for 8-bit bytes) in every CPython 3 version.
    payload = _raw_payload(msg)
    if isinstance(payload, bytes):
        return payload
    if not isinstance(payload, str):
        return b""
    try:
        return payload.encode("ascii", "surrogateescape")
    except UnicodeError:
        return payload.encode("utf-8", "surrogateescape")


def _node_from_headers(headers: Headers, part_id: str, default_type: str) -> BodyPart:
    ctype_raw = first_header(headers, "Content-Type")
    ctype, params = parse_params(ctype_raw) if ctype_raw is not None else ("", {})
    if ctype.count("/") != 1 or not all(ctype.split("/")):
        # "Content-Type: text" is seen in the wild
        ctype = "text/plain" if ctype == "text" else default_type
    maintype, subtype = ctype.split("/", 1)
    disp_raw = first_header(headers, "Content-Disposition")
    disposition, disp_params = parse_params(disp_raw) if disp_raw is not None else ("", {})
    cid = first_header(headers, "Content-ID")
    description = first_header(headers, "Content-Description")
    encoding = (first_header(headers, "Content-Transfer-Encoding") or "7bit").strip().lower()
    return BodyPart(
        part_id=part_id,
        maintype=maintype,
        subtype=subtype,
        params=params,
        content_id=cid.strip() if cid else None,
        description=description,
        encoding=encoding[:40] or "7bit",
        disposition=disposition or None,
        disposition_params=disp_params,
    )


def _child_id(parent: str, index: int) -> str:
    return f"{parent}.{index}" if parent else str(index)


def _build(msg: email.message.Message, part_id: str, depth: int, parsed: _Parsed) -> BodyPart:
    parsed.count += 1
    if not parsed.damaged and any(
        type(d).__name__.replace("Defect", "") in _DEFECTS for d in msg.defects
    ):
        parsed.damaged = True
    headers = _raw_items(msg)
    node = _node_from_headers(headers, part_id, msg.get_default_type())
    payload = _raw_payload(msg)
    if not isinstance(payload, list):
        data = _payload_bytes(msg)
        node.size = len(data)
        parsed.leaves[id(node)] = data
        return node
    if depth > MAX_DEPTH:
        # Children cut here; the planner stops one level above, so this node is never shown.
        parsed.notices.append(f"parts nested deeper than {MAX_DEPTH} levels are not shown")
        return node
    if node.maintype == "message":
        subs = [m for m in payload if isinstance(m, email.message.Message)]
        if node.mime_type in RFC822_TYPES and subs:
            inner = subs[0]
            if normalize_transfer_encoding(node.encoding) != "7bit":
                inner = _reparse_encoded(inner, node.encoding, parsed)
            parsed.enclosed[id(node)] = _raw_items(inner)
            parsed.messages[id(node)] = inner
            inner_multi = inner.is_multipart() and inner.get_content_maintype() == "multipart"
            inner_id = part_id if inner_multi else _child_id(part_id, 1)
            node.children = [_build(inner, inner_id, depth + 1, parsed)]
        else:
            # delivery-status and friends: the stdlib parsed header blocks; show them as text.
            blocks = []
            for sub in subs[:100]:
                lines = [f"{name}: {value}" for name, value in _raw_items(sub)]
                blocks.append("\n".join(lines))
            text = "\n\n".join(blocks)
            parsed.leaves[id(node)] = text.encode("utf-8", "surrogateescape")
            node.size = len(parsed.leaves[id(node)])
        return node
    for index, sub in enumerate(payload, 1):
        if parsed.count >= MAX_PARTS:
            parsed.notices.append(f"only the first {MAX_PARTS:,} parts are shown")
            break
        if isinstance(sub, email.message.Message):
            node.children.append(_build(sub, _child_id(part_id, index), depth + 1, parsed))
    return node


def _reparse_encoded(
    inner: email.message.Message, encoding: str, parsed: _Parsed
) -> email.message.Message:
    """A message/rfc822 part sent base64- or QP-encoded (not allowed, but seen): decode, reparse."""
    try:
        raw = inner.as_bytes() if inner.keys() else _payload_bytes(inner)
        decoded, _ = decode_transfer(raw, encoding)
        return BytesParser(policy=compat32).parsebytes(decoded)
    except Exception:
        parsed.notices.append("an encoded forwarded message could not be decoded")
        return inner


_DEFECTS = frozenset(
    {
        "StartBoundaryNotFound",
        "CloseBoundaryNotFound",
        "NoBoundaryInMultipart",
        "MultipartInvariantViolation",
        "MissingHeaderBodySeparator",
    }
)


def _parse_raw(raw: bytes) -> _Parsed:
    notices: list[str] = []
    if len(raw) > MAX_RAW:
        notices.append(f"message cut to {MAX_RAW:,} of {len(raw):,} bytes")
        raw = raw[:MAX_RAW]
    try:
        msg = BytesParser(policy=compat32).parsebytes(raw)
    except RecursionError:
        return _parse_flat(raw, notices)
    parsed = _Parsed(headers=_raw_items(msg), root=BodyPart("", "text", "plain"))
    parsed.notices.extend(notices)
    root_id = "" if msg.is_multipart() and msg.get_content_maintype() == "multipart" else "1"
    parsed.root = _build(msg, root_id, 0, parsed)
    if parsed.damaged:
        parsed.notices.append("the MIME structure is damaged: shown as well as it could be read")
    parsed.notices = list(dict.fromkeys(parsed.notices))
    return parsed


def _parse_flat(raw: bytes, notices: list[str]) -> _Parsed:
    """Headers only, body as raw text: for structures too deep for the stdlib parser."""
    msg = BytesParser(policy=compat32).parsebytes(raw, headersonly=True)
    node = BodyPart("1", "text", "plain", params={"charset": "utf-8"})
    parsed = _Parsed(headers=_raw_items(msg), root=node)
    parsed.leaves[id(node)] = _payload_bytes(msg)
    parsed.notices.extend(notices)
    parsed.notices.append("the MIME structure is nested too deeply to read: shown as raw text")
    return parsed


# --- choosing what to show -----------------------------------------------------------------------


@dataclass(slots=True)
class _Plan:
    items: list[tuple[str, BodyPart]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    has_html_alternative: bool = False
    shown: set[int] = field(default_factory=set)
    texts: int = 0
    skipped: int = 0


def _is_text_leaf(node: BodyPart) -> bool:
    mime = node.mime_type
    return node.maintype.lower() in ("text", "multipart") or mime in _TEXT_MESSAGE_TYPES


def _kind(node: BodyPart, depth: int = 0) -> str:
    """'html', 'plain' or 'other': what showing this alternative would show."""
    if depth > MAX_DEPTH:
        return "other"
    mime = node.mime_type
    if node.is_multipart and node.children:
        sub = node.subtype.lower()
        if sub == "related":
            return _kind(_related_root(node), depth + 1)
        if sub == "alternative":
            kinds = {_kind(c, depth + 1) for c in node.children}
            return "html" if "html" in kinds else "plain" if "plain" in kinds else "other"
        return _kind(node.children[0], depth + 1)
    if mime == "text/html":
        return "html"
    if mime in _PLAIN_KINDS:
        return "plain"
    return "other"


def _related_root(node: BodyPart) -> BodyPart:
    start = node.params.get("start", "").strip().strip("<>")
    if start:
        for child in node.children:
            if (child.content_id or "").strip().strip("<>") == start:
                return child
    return node.children[0]


class _Planner:
    def __init__(self, prefer_html: bool) -> None:
        self.prefer_html = prefer_html
        self.plan = _Plan()

    def _note(self, text: str) -> None:
        if text not in self.plan.notices:
            self.plan.notices.append(text)

    def visit(self, node: BodyPart, depth: int = 0) -> None:
        if depth > MAX_DEPTH:
            self._note(f"parts nested deeper than {MAX_DEPTH} levels are not shown")
            return
        mime = node.mime_type
        if node.is_multipart and node.children:
            sub = node.subtype.lower()
            if sub == "alternative":
                self.visit(self._pick(node.children, depth), depth + 1)
            elif sub == "related":
                self.visit(_related_root(node), depth + 1)
            elif sub == "signed":
                self.visit(node.children[0], depth + 1)
            elif sub == "encrypted":
                self._note("this message is encrypted; termail does not decrypt it")
            else:  # mixed, report, digest, parallel and unknown subtypes
                for child in node.children:
                    self.visit(child, depth + 1)
            return
        if mime in RFC822_TYPES and node.children:
            self.plan.items.append(("open", node))
            self.plan.shown.add(id(node))
            self.visit(node.children[0], depth + 1)
            self.plan.items.append(("close", node))
            return
        if mime in ("application/pkcs7-mime", "application/x-pkcs7-mime"):
            self._note("this message is S/MIME signed or encrypted; its content is an attachment")
        if (node.disposition or "").lower() == "attachment" or not _is_text_leaf(node):
            return
        if self.plan.texts >= MAX_SHOWN_PARTS:
            self.plan.skipped += 1
            return
        self.plan.texts += 1
        self.plan.items.append(("text", node))
        self.plan.shown.add(id(node))

    def _pick(self, children: Sequence[BodyPart], depth: int) -> BodyPart:
        kinds = [_kind(child, depth + 1) for child in children]
        order = ("html", "plain") if self.prefer_html else ("plain", "html")
        for wanted in order:
            matches = [c for c, k in zip(children, kinds, strict=True) if k == wanted]
            if matches:
                if wanted == "plain" and "html" in kinds:
                    self.plan.has_html_alternative = True
                return matches[-1]
        return children[0]


def _plan(structure: BodyPart, prefer_html: bool) -> _Plan:
    planner = _Planner(prefer_html)
    planner.visit(structure)
    if planner.plan.skipped:
        planner._note(f"{planner.plan.skipped:,} more text parts are not shown")
    return planner.plan


def parts_to_fetch(structure: BodyPart, *, prefer_html: bool = False) -> list[BodyPart]:
    """The leaf parts whose bytes `render_from_parts` needs, in display order."""
    try:
        return [node for kind, node in _plan(structure, prefer_html).items if kind == "text"]
    except Exception:
        return []


# --- attachments -----------------------------------------------------------------------------------


def _raw_filename(node: BodyPart) -> str | None:
    """The file name a part carries, RFC 2231 pieces joined (IMAP hands them over raw)."""
    for params, key in ((node.disposition_params, "filename"), (node.params, "name")):
        if not params:
            continue
        value = params.get(key)
        if value is None and any("*" in k for k in params):
            value = collapse_params(params).get(key)
        if value:
            return value
    return None


def _attachment_nodes(structure: BodyPart, shown: set[int]) -> list[tuple[BodyPart, bool]]:
    """(node, shown inline) for every part to list as an attachment, in order."""
    found: list[tuple[BodyPart, bool]] = []
    stack: list[tuple[BodyPart, int]] = [(structure, 0)]
    while stack and len(found) < MAX_ATTACHMENTS:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            continue
        stack.extend((child, depth + 1) for child in reversed(node.children))
        if node.is_multipart:
            continue
        mime = node.mime_type
        name = _raw_filename(node)
        attached = (node.disposition or "").lower() == "attachment"
        if id(node) in shown:
            if name or mime in RFC822_TYPES:
                found.append((node, True))
            continue
        if _is_text_leaf(node) and mime not in RFC822_TYPES and not name and not attached:
            continue  # an alternative body not chosen, not a file
        found.append((node, False))
    return found


def _attachment_info(
    node: BodyPart, inline: bool, size: int | None, subject_hint: str | None = None
) -> AttachmentInfo:
    raw_name = _raw_filename(node)
    mime = clean_line(node.mime_type, max_len=200)
    if node.mime_type in RFC822_TYPES:
        extension = ".eml"
    else:
        extension = guess_extension(node.mime_type.split(";")[0].strip()) or ".bin"
    fallback_base = subject_hint or f"part-{node.part_id or '1'}"
    fallback = f"{fallback_base}{extension}"
    # Made safe from the raw decoded name: controls are dropped here, not shown as pictures.
    filename = safe_filename(decode_header_raw(raw_name)[:4096] if raw_name else None, fallback)
    description = decode_header(node.description, max_len=1024) if node.description else None
    content_id = clean_line(node.content_id, max_len=1024) if node.content_id else None
    estimate = False
    if size is None:
        size, estimate = estimate_decoded_size(
            node.size, node.encoding, text=is_text_type(node.mime_type), lines=node.lines
        )
    return AttachmentInfo(
        part_id=clean_line(node.part_id, max_len=100),
        filename=filename,
        mime_type=mime,
        size=size,
        encoding=clean_line(node.encoding or "7bit", max_len=40),
        description=description or None,
        content_id=content_id,
        inline=inline or ((node.disposition or "").lower() != "attachment" and bool(content_id)),
        size_is_estimate=estimate,
        encoded_size=node.size,
    )


def attachments_from_structure(structure: BodyPart) -> list[AttachmentInfo]:
    """The attachment list of a message from its BODYSTRUCTURE (sizes estimated as saved)."""
    try:
        plan = _plan(structure, False)
        return [
            _attachment_info(n, inline, None)
            for n, inline in _attachment_nodes(structure, plan.shown)
        ]
    except Exception:
        return []


# --- body building ----------------------------------------------------------------------------------


class _Body:
    """Accumulates sanitized text and style spans, with offsets kept right."""

    def __init__(self) -> None:
        self.chunks: list[str] = []
        self.length = 0
        self.spans: list[StyleSpan] = []
        self.full = False

    def add(self, text: str, *styles: str) -> None:
        if self.full or not text:
            return
        cleaned = clean(text)
        if self.length + len(cleaned) > MAX_BODY_CHARS:
            cleaned = clean(cleaned[: max(MAX_BODY_CHARS - self.length, 0)])
            cleaned += f"\n… [message cut at {MAX_BODY_CHARS:,} characters]\n"
            self.full = True
        start = self.length
        self.chunks.append(cleaned)
        self.length += len(cleaned)
        for style in styles:
            if self.spans and self.spans[-1].style == style and self.spans[-1].end == start:
                last = self.spans.pop()
                self.spans.append(StyleSpan(last.start, self.length, style))
            else:
                self.spans.append(StyleSpan(start, self.length, style))

    def separate(self) -> None:
        """Make sure what comes next starts after a blank line."""
        if not self.chunks:
            return
        tail = self.chunks[-1]
        if tail.endswith("\n\n"):
            return
        self.add("\n" if tail.endswith("\n") else "\n\n")

    def text(self) -> str:
        return "".join(self.chunks)


_QUOTE_LINE = re.compile(r"^[ \t]*>")


def _add_linked(
    body: _Body, text: str, styles: tuple[str, ...], spans: list[LinkSpan] | None
) -> None:
    """Add `text`, whose link targets are marked (`app.mime.links.mark`): each is styled as a
    link and its place recorded in `spans` (the marks themselves are not shown)."""
    if spans is None or "\x00" not in text:
        body.add(text, *styles)
        return
    pos = 0
    for match in SENTINEL_RE.finditer(text):
        body.add(text[pos : match.start()], *styles)
        start = body.length
        body.add(match.group(2), *styles, "link")
        if body.length > start:
            spans.append(LinkSpan(start, body.length, int(match.group(1))))
        pos = match.end()
    body.add(text[pos:], *styles)


def _add_plain(body: _Body, text: str, spans: list[LinkSpan] | None = None) -> None:
    """Add text/plain, styling quoted lines and the signature block (and marked links)."""
    lines = text.split("\n")
    run: list[str] = []
    run_style: str | None = None
    in_signature = False
    for index, line in enumerate(lines):
        if not in_signature and line.rstrip("\r") in ("-- ", "--"):
            in_signature = True
        style = "signature" if in_signature else ("quote" if _QUOTE_LINE.match(line) else None)
        piece = line + ("\n" if index < len(lines) - 1 else "")
        if style != run_style and run:
            _add_linked(body, "".join(run), (run_style,) if run_style else (), spans)
            run = []
        run_style = style
        run.append(piece)
    if run:
        _add_linked(body, "".join(run), (run_style,) if run_style else (), spans)


#: html2text's marks: **strong**, _em_, and "# " headings. Each alternative stops at the next
#: mark character or the line's end, so a line of unmatched marks stays linear.
_EMPHASIS = re.compile(r"\*\*([^*\n]+)\*\*|(?<![\w_])_([^_\n]+)_(?![\w_])")
_HEADING = re.compile(r"^(#{1,6}) +(?=\S)")


def _add_converted_html(body: _Body, text: str, spans: list[LinkSpan] | None = None) -> None:
    """Add html2text's output with its Markdown marks turned into styles, not shown: bold
    and italic spans, headings, quoted lines (the signature is plain text's business only)."""
    lines = text.split("\n")
    for index, line in enumerate(lines):
        end = "\n" if index < len(lines) - 1 else ""
        base: tuple[str, ...] = ()
        heading = _HEADING.match(line)
        if heading is not None:
            line = line[heading.end() :]
            base = ("heading",)
        elif _QUOTE_LINE.match(line):
            base = ("quote",)
        last = 0
        for link in SENTINEL_RE.finditer(line) if spans is not None else ():
            _add_emphasis(body, line[last : link.start()], base)
            _add_linked(body, link.group(0), base, spans)  # a target keeps its _ and **
            last = link.end()
        _add_emphasis(body, line[last:] + end, base)


def _add_emphasis(body: _Body, line: str, base: tuple[str, ...]) -> None:
    pos = 0
    for match in _EMPHASIS.finditer(line):
        body.add(line[pos : match.start()], *base)
        if match.group(1) is not None:
            body.add(match.group(1), *base, "bold")
        else:
            body.add(match.group(2), *base, "italic")
        pos = match.end()
    body.add(line[pos:], *base)


def unflow(text: str, *, delsp: bool = False) -> str:
    """Undo RFC 3676 format=flowed: join soft-broken lines, keep quote depth as `> ` prefixes."""
    out: list[str] = []
    current: str | None = None
    current_depth = 0
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]  # space-stuffing (or the space after the quote marks)
        flowed = content.endswith(" ") and content != "-- "
        if flowed and delsp:
            content = content[:-1]
        if current is not None and depth == current_depth:
            current += content
        else:
            if current is not None:
                out.append(("> " * current_depth) + current)
            current, current_depth = content, depth
        if not flowed:
            out.append(("> " * current_depth) + current)
            current = None
    if current is not None:
        out.append(("> " * current_depth) + current)
    return "\n".join(out)


@dataclass(slots=True)
class _Context:
    body: _Body = field(default_factory=_Body)
    links: list[str] = field(default_factory=list)
    link_list: list[Link] = field(default_factory=list)
    link_spans: list[LinkSpan] = field(default_factory=list)
    link_numbers: dict[str, int] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    is_html: bool = False
    html_timeout: float | None = None

    def note(self, text: str) -> None:
        text = clean_line(text, max_len=500)
        if text not in self.notices:
            self.notices.append(text)


def _part_label(node: BodyPart) -> str:
    return f"part {node.part_id or '1'} ({node.mime_type})"


def _render_leaf(ctx: _Context, node: BodyPart, data: bytes) -> None:
    decoded, truncated = decode_transfer(data, node.encoding)
    if truncated:
        ctx.note(f"{_part_label(node)}: encoded data ends early; shown as far as it goes")
    if len(decoded) > MAX_TEXT_PART_BYTES:
        ctx.note(f"{_part_label(node)}: cut to {MAX_TEXT_PART_BYTES:,} of {len(decoded):,} bytes")
        decoded = decoded[:MAX_TEXT_PART_BYTES]
    mime = node.mime_type
    charset = node.params.get("charset")
    if mime == "text/html" and not charset:
        charset = sniff_html_charset(decoded)
    text, note = decode_bytes(decoded, charset)
    if note:
        ctx.note(f"{_part_label(node)}: {note}")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if node.is_multipart or node.maintype.lower() == "multipart":
        ctx.note(f"{_part_label(node)}: multipart without readable parts, shown as text")
    ctx.body.separate()
    if mime == "text/html":
        offset = len(ctx.links)
        result = html_mod.html_to_text(text, timeout=ctx.html_timeout, link_offset=offset)
        ctx.links.extend(clean_line(link, max_len=4096) for link in result.links)
        raw_links = result.raw_links or result.links
        for index, raw in enumerate(raw_links):
            safe = result.links[index] if index < len(result.links) else ""
            ctx.link_list.append(make_link(offset + index + 1, raw, kind="html", removed=not safe))
        for notice in result.notices:
            ctx.note(notice)
        ctx.is_html = True
        ctx.note("HTML converted to text; images and remote content are not loaded")
        _add_converted_html(
            ctx.body, annotate_html(result.text, ctx.link_list, offset), ctx.link_spans
        )
    elif mime in ("text/enriched", "text/richtext"):
        for piece, styles in enriched_to_segments(text, richtext=mime == "text/richtext"):
            ctx.body.add(piece, *styles)
    else:
        if node.params.get("format", "").lower() == "flowed":
            text = unflow(text, delsp=node.params.get("delsp", "").lower() == "yes")
        _add_plain(ctx.body, _number_text_links(ctx, text), ctx.link_spans)


def _number_text_links(ctx: _Context, text: str) -> str:
    """The URLs of a text part marked and numbered after the links seen so far."""
    from app.mime.html import safe_link

    before = len(ctx.link_list)
    text = annotate_plain(text, ctx.link_numbers, ctx.link_list)
    for link in ctx.link_list[before:]:
        ctx.links.append(link.target if link.openable and safe_link(link.target) else "")
    return text


def _forward_header_lines(headers: Headers) -> list[tuple[str, str]]:
    lines = []
    for name in ("From", "Date", "Subject", "To", "Cc"):
        value = first_header(headers, name)
        if value is None:
            continue
        if name.lower() in _ADDRESS_HEADERS:
            lines.append((name, shown_address_header(value)[1]))
        else:
            lines.append((name, decode_header(value)))
    return lines


def _envelope_addresses(items: Sequence[Address]) -> str:
    shown: list[ShownAddress] = []
    group: str | None = None
    members = 0
    for item in items:
        name, email = decode_envelope_address(item)
        if item.host is None and item.mailbox is not None:  # group start
            group, members = name, 0
            continue
        if item.host is None and item.mailbox is None:  # group end
            if group is not None and members == 0:
                shown.append(ShownAddress("", "", group))
            group = None
            continue
        members += 1
        shown.append(ShownAddress(name, email, group))
    return format_addresses(shown)


def _envelope_lines(envelope: Envelope) -> list[tuple[str, str]]:
    lines: list[tuple[str, str]] = []
    if envelope.from_:
        lines.append(("From", _envelope_addresses(envelope.from_)))
    if envelope.date:
        lines.append(("Date", decode_header(envelope.date)))
    if envelope.subject:
        lines.append(("Subject", decode_header(envelope.subject)))
    if envelope.to:
        lines.append(("To", _envelope_addresses(envelope.to)))
    if envelope.cc:
        lines.append(("Cc", _envelope_addresses(envelope.cc)))
    return lines


def _addresses_for_envelope(value: str | None) -> tuple[Address, ...]:
    """Address tuples shaped like IMAP ENVELOPE data, from a raw header (names decoded)."""
    if value is None:
        return ()
    out: list[Address] = []
    group: str | None = None
    for item in parse_addresses(value):
        if item.group != group:
            if group is not None:
                out.append(Address(None, None, None))
            if item.group is not None:
                out.append(Address(None, item.group, None))
            group = item.group
        if item.is_empty_group:
            continue
        mailbox, at, host = item.email.rpartition("@")
        if not at:
            mailbox, host = item.email, ""
        out.append(Address(item.name or None, mailbox or None, host or ""))
    if group is not None:
        out.append(Address(None, None, None))
    return tuple(out)


def envelope_from_headers(headers: Headers) -> Envelope:
    """An `Envelope` like the one IMAP would send, from raw headers (for local messages)."""

    def one(name: str) -> str | None:
        return first_header(headers, name)

    return Envelope(
        date=one("Date"),
        subject=one("Subject"),
        from_=_addresses_for_envelope(one("From")),
        sender=_addresses_for_envelope(one("Sender")),
        reply_to=_addresses_for_envelope(one("Reply-To")),
        to=_addresses_for_envelope(one("To")),
        cc=_addresses_for_envelope(one("Cc")),
        bcc=_addresses_for_envelope(one("Bcc")),
        in_reply_to=one("In-Reply-To"),
        message_id=one("Message-ID"),
    )


class _Source:
    """Where the transfer-encoded bytes of a part come from."""

    def payload(self, node: BodyPart) -> bytes | None:
        raise NotImplementedError

    def enclosed(self, node: BodyPart) -> list[tuple[str, str]]:
        raise NotImplementedError


class _RawSource(_Source):
    def __init__(self, parsed: _Parsed) -> None:
        self.parsed = parsed

    def payload(self, node: BodyPart) -> bytes | None:
        return self.parsed.leaves.get(id(node))

    def enclosed(self, node: BodyPart) -> list[tuple[str, str]]:
        headers = self.parsed.enclosed.get(id(node))
        if headers is not None:
            return _forward_header_lines(headers)
        return _envelope_lines(node.envelope) if node.envelope else []


class _PartsSource(_Source):
    def __init__(self, parts: Mapping[str, bytes]) -> None:
        self.parts = parts

    def payload(self, node: BodyPart) -> bytes | None:
        data = self.parts.get(node.part_id)
        return bytes(data) if data is not None else None

    def enclosed(self, node: BodyPart) -> list[tuple[str, str]]:
        return _envelope_lines(node.envelope) if node.envelope else []


def _render_body(ctx: _Context, plan: _Plan, source: _Source) -> None:
    for kind, node in plan.items:
        if kind == "open":
            ctx.body.separate()
            ctx.body.add("---------- Forwarded message ----------\n", "heading")
            for name, value in source.enclosed(node):
                ctx.body.add(f"{name}: ", "heading")
                ctx.body.add(f"{value}\n")
            ctx.body.add("\n")
        elif kind == "close":
            ctx.body.separate()
            ctx.body.add("---------- End of forwarded message ----------\n", "heading")
        else:
            data = source.payload(node)
            if data is None:
                ctx.note(f"{_part_label(node)} was not fetched")
                continue
            _render_leaf(ctx, node, data)


# --- headers ------------------------------------------------------------------------------------------


def _fill_headers(result: RenderedMessage, headers: Headers) -> None:
    for name, value in headers[:MAX_HEADERS]:
        shown_name = clean_line(name.strip(), max_len=200)
        result.full_headers.append(
            ShownHeader(shown_name, decode_header(value, max_len=FULL_HEADER_MAX))
        )
    for name in COMPACT_HEADERS:
        found = first_header(headers, name)
        if found is None:
            continue
        if name.lower() in _ADDRESS_HEADERS:
            addresses, line = shown_address_header(found)
            result.headers.append(ShownHeader(name, line))
            target = {
                "from": result.from_addresses,
                "to": result.to_addresses,
                "cc": result.cc_addresses,
                "reply-to": result.reply_to_addresses,
            }[name.lower()]
            target.extend(addresses)
        else:
            result.headers.append(ShownHeader(name, decode_header(found)))
    result.subject = decode_header(first_header(headers, "Subject"))
    real = [a for a in result.from_addresses if not a.is_empty_group]
    if real:
        result.from_display = real[0].name or real[0].email
    result.date = parse_date(first_header(headers, "Date"))
    ids = message_ids(first_header(headers, "Message-ID"), limit=1)
    result.message_id = ids[0] if ids else ""
    result.in_reply_to = message_ids(first_header(headers, "In-Reply-To"), limit=20)
    result.references = message_ids(first_header(headers, "References"))
    result.list_id = decode_header(first_header(headers, "List-Id"), max_len=500)
    result.list_unsubscribe = angle_targets(first_header(headers, "List-Unsubscribe"))
    result.sender_check = check_sender(headers)


def _finish(result: RenderedMessage, ctx: _Context, plan: _Plan) -> None:
    result.body = ctx.body.text()
    result.styles = ctx.body.spans
    result.links = ctx.links
    result.link_list = ctx.link_list
    result.link_spans = ctx.link_spans
    result.is_html = ctx.is_html
    result.has_html_alternative = plan.has_html_alternative
    for notice in plan.notices:
        ctx.note(notice)
    result.notices.extend(n for n in ctx.notices if n not in result.notices)


def _failure(raw_text: str, exc: BaseException) -> RenderedMessage:
    result = RenderedMessage()
    result.body = clean(raw_text[:65536])
    result.notices.append(f"{INTERNAL_ERROR_NOTICE} ({type(exc).__name__}); shown as raw text")
    return result


def render_message(
    raw: bytes, *, prefer_html: bool = False, html_timeout: float | None = None
) -> RenderedMessage:
    """Render a whole RFC 5322 message. Never raises for any input bytes."""
    try:
        data = bytes(raw)
        parsed = _parse_raw(data)
        result = RenderedMessage()
        _fill_headers(result, parsed.headers)
        plan = _plan(parsed.root, prefer_html)
        ctx = _Context(html_timeout=html_timeout)
        for notice in parsed.notices:
            ctx.note(notice)
        _render_body(ctx, plan, _RawSource(parsed))
        if not plan.items and not result.body:
            ctx.note("this message has no text part to show")
        _finish(result, ctx, plan)
        attachments = []
        for node, inline in _attachment_nodes(parsed.root, plan.shown):
            size = _raw_size(parsed, node)
            hint = _subject_hint(parsed, node)
            attachments.append(_attachment_info(node, inline, size, hint))
        result.attachments = attachments
        return result
    except Exception as exc:
        return _failure(bytes(raw).decode("utf-8", "replace"), exc)


def _message_bytes(msg: email.message.Message) -> bytes:
    try:
        return msg.as_bytes()
    except Exception:
        return b""


def _raw_size(parsed: _Parsed, node: BodyPart) -> int | None:
    data = parsed.leaves.get(id(node))
    if data is not None:
        return decoded_size(data, node.encoding, text=is_text_type(node.mime_type))
    inner = parsed.messages.get(id(node))
    if inner is not None:
        return len(_message_bytes(inner))
    return None


def _subject_hint(parsed: _Parsed, node: BodyPart) -> str | None:
    headers = parsed.enclosed.get(id(node))
    if headers is None:
        return None
    subject = decode_header(first_header(headers, "Subject"), max_len=80).strip(" .")
    return subject or "forwarded message"


def _envelope_hint(node: BodyPart) -> str | None:
    if node.mime_type not in RFC822_TYPES:
        return None
    subject = node.envelope.subject if node.envelope is not None else None
    return decode_header(subject, max_len=80).strip(" .") or "forwarded message"


def render_from_parts(
    header_bytes: bytes,
    structure: BodyPart,
    parts: Mapping[str, bytes],
    *,
    prefer_html: bool = False,
    html_timeout: float | None = None,
) -> RenderedMessage:
    """Render from the message header block, its BODYSTRUCTURE and the fetched leaf parts.

    `parts` maps part ids (as in `parts_to_fetch`) to their bytes as fetched with
    BODY.PEEK[id], still transfer-encoded. Missing parts are noted, not an error.
    """
    try:
        try:
            msg = BytesHeaderParser(policy=compat32).parsebytes(bytes(header_bytes))
            headers = _raw_items(msg)
        except Exception:
            headers = []
        result = RenderedMessage()
        _fill_headers(result, headers)
        plan = _plan(structure, prefer_html)
        ctx = _Context(html_timeout=html_timeout)
        _render_body(ctx, plan, _PartsSource(parts))
        if not plan.items:
            ctx.note("this message has no text part to show")
        _finish(result, ctx, plan)
        result.attachments = [
            _attachment_info(node, inline, None, _envelope_hint(node))
            for node, inline in _attachment_nodes(structure, plan.shown)
        ]
        return result
    except Exception as exc:
        return _failure(bytes(header_bytes).decode("utf-8", "replace"), exc)


def extract_part(raw: bytes, part_id: str) -> tuple[bytes, str] | None:
    """(transfer-encoded bytes, encoding) of part `part_id` of a whole message, for saving an
    attachment of a local message with `save_part`; None when there is no such leaf part."""
    try:
        parsed = _parse_raw(bytes(raw))
    except Exception:
        return None
    stack = [parsed.root]
    while stack:
        node = stack.pop()
        if node.part_id == part_id and not node.is_multipart:
            data = parsed.leaves.get(id(node))
            if data is not None:
                return data, node.encoding
            inner = parsed.messages.get(id(node))
            if inner is not None:
                return _message_bytes(inner), "7bit"
        stack.extend(node.children)
    return None


def message_structure(raw: bytes) -> tuple[bytes, BodyPart, dict[str, bytes]]:
    """(header block, structure, leaf bytes by part id) of a whole message.

    The structure is numbered as IMAP numbers BODYSTRUCTURE parts, and the leaf bytes are what
    BODY.PEEK[id] would return (still transfer-encoded), so `render_from_parts` can be fed from
    a local file exactly as from a server. Never raises.
    """
    data = bytes(raw)
    end = len(data)
    for separator in (b"\r\n\r\n", b"\n\n"):
        found = data.find(separator)
        if found >= 0:
            end = min(end, found + len(separator))
    header = data[:end]
    try:
        parsed = _parse_raw(data)
    except Exception:
        return header, BodyPart("1", "text", "plain"), {}
    leaves: dict[str, bytes] = {}
    stack = [parsed.root]
    while stack:
        node = stack.pop()
        payload = parsed.leaves.get(id(node))
        if payload is not None:
            leaves.setdefault(node.part_id, payload)
        enclosed = parsed.enclosed.get(id(node))
        if enclosed is not None:
            node.envelope = envelope_from_headers(enclosed)
        stack.extend(reversed(node.children))
    return header, parsed.root, leaves
