"""The links of a message: found, numbered, shown honestly, and made safe to hand on.

A message's links are the URLs written in its text parts and the `<a href>` targets of its HTML
parts (html2text numbers those `[text][n]`). Each gets one number, shared by every part, and
the renderer shows it beside the link (`https://x.example/ [1]`). The rule that keeps a link
from lying: a link whose shown text is not its own target (`<a href="https://evil.example/">
your bank</a>`) is shown with the real target beside it (`your bank [1: https://evil.example/]`),
and only that target is ever made clickable, never the differing text.

`display_url` is the URL as the user is asked about it (sanitized, an international domain that
imitates another script shown as punycode, a `user@` part before the host pointed out).
`wire_url` is what may leave termail (an OSC 8 hyperlink, the browser's argument): ASCII only,
no control, space or invisible character, host IDNA-encoded; None when it cannot be made so.
Only http, https and mailto links are offered to open (`openable`); every other scheme
(javascript:, file:, data:, ftp:, ...) is shown, never opened.

UI-free: the viewer maps `LinkSpan`s to hyperlinks; nothing here fetches anything.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from urllib.parse import quote, urlsplit

from app.mime.confusables import looks_ascii
from app.mime.sanitize import clean_line

__all__ = [
    "OPENABLE_SCHEMES",
    "SENTINEL_RE",
    "Link",
    "LinkSpan",
    "display_url",
    "find_text_urls",
    "inline_target",
    "link_host",
    "same_target",
    "scheme_of",
    "wire_url",
]

OPENABLE_SCHEMES = frozenset({"http", "https", "mailto"})
#: Longest URL handed on (a hyperlink or the browser's argument); longer ones are shown only.
MAX_WIRE_URL = 8192
#: Characters of a differing link's target shown beside its text (the host always in full).
INLINE_TARGET = 64

# Marks the renderer puts around a link's shown target before the text reaches the body, so
# its span can be recorded after the text is styled. NUL never survives from a message: it is
# removed from the text before the marks are put in (`strip_marks`), so none can be forged.
_OPEN = "\x00L"
_MID = "\x00"
_CLOSE = "\x00E\x00"
SENTINEL_RE = re.compile("\x00L(\\d{1,6})\x00(.*?)\x00E\x00", re.S)


def mark(number: int, text: str) -> str:
    """`text` marked as the shown form of link `number` (see `SENTINEL_RE`)."""
    return f"{_OPEN}{number}{_MID}{text}{_CLOSE}"


def strip_marks(text: str) -> str:
    """`text` without NUL, so only the renderer's own marks can be found in it."""
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


@dataclass(frozen=True, slots=True)
class Link:
    """One numbered link of a message."""

    number: int
    target: str
    """The target as written, sanitized for display (at most 4,096 characters)."""
    wire: str | None = None
    """`wire_url` of the target as written: what a hyperlink or a browser gets; None when the
    target cannot leave termail safely (controls, spaces, invisible characters, too long)."""
    text: str = ""
    """The link's own shown text (sanitized) when it differs from the target, else ""."""
    kind: str = "text"
    """"text" (a URL written in a text part) or "html" (an `<a href>`)."""
    removed: bool = False
    """html.py refused the target (an unsafe scheme, controls, spaces or bidi marks in it)."""

    @property
    def scheme(self) -> str:
        return scheme_of(self.target)

    @property
    def openable(self) -> bool:
        """http, https or mailto, not refused, and `wire_url` can carry it."""
        return not self.removed and self.scheme in OPENABLE_SCHEMES and self.wire is not None

    @property
    def deceptive(self) -> bool:
        """Its shown text is something else than its target."""
        return bool(self.text) and not same_target(self.text, self.target)

    def why_not(self) -> str:
        """Why it is not offered to open ("" when it is)."""
        if self.openable:
            return ""
        if self.scheme in OPENABLE_SCHEMES:
            return "not opened: its address holds spaces, control or invisible characters"
        scheme = f"{self.scheme}:" if self.scheme else "a link without a scheme:"
        return f"not opened: {scheme} links are shown, never opened (only http, https, mailto)"


def make_link(
    number: int, raw_target: str, *, text: str = "", kind: str = "text", removed: bool = False
) -> Link:
    """A `Link` from a target as found in the message (not yet sanitized)."""
    raw = raw_target.strip()
    shown_text = clean_line(text, max_len=500) if text and not same_target(text, raw) else ""
    return Link(
        number=number,
        target=clean_line(raw, max_len=4096),
        wire=None if removed else wire_url(raw),
        text=shown_text,
        kind=kind,
        removed=removed,
    )


@dataclass(frozen=True, slots=True)
class LinkSpan:
    """`body[start:end]` shows the target of link `number` (the hyperlink's place)."""

    start: int
    end: int
    number: int


_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]{0,30}):")


def scheme_of(url: str) -> str:
    match = _SCHEME.match(url.strip())
    return match.group(1).lower() if match else ""


# -- finding URLs in text ----------------------------------------------------------------------

_URL_CHARS = "[^\\s<>\"'`\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]"
_TEXT_URL = re.compile(
    rf"(?<![\w@.+-])(?:(?:https?|ftp|file)://{_URL_CHARS}+|mailto:{_URL_CHARS}+)", re.I
)
_TRAILING = ".,;:!?'\"*_"
_PAIRS = {")": "(", "]": "[", "}": "{"}


def _trim(url: str) -> str:
    """Drop trailing punctuation that belongs to the sentence, and unbalanced closers."""
    while url:
        last = url[-1]
        if last in _TRAILING or (last in _PAIRS and url.count(last) > url.count(_PAIRS[last])):
            url = url[:-1]
        else:
            break
    return url


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def _in_control_sequence(text: str, start: int) -> bool:
    """True when the word a URL starts in holds a control character before it."""
    word, limit = start, max(0, start - 512)
    while word > limit and not text[word - 1].isspace():
        word -= 1
    return _CONTROL.search(text, word, start) is not None


def find_text_urls(text: str) -> list[tuple[int, int, str]]:
    """(start, end, url) of every URL written in plain `text` (http(s), ftp, file, mailto)."""
    found = []
    for match in _TEXT_URL.finditer(text):
        if _in_control_sequence(text, match.start()):
            continue  # `ESC ] 8 ; ; https://...`: a message writing its own escape, not a link
        url = _trim(match.group(0))
        if len(url) <= len(scheme_of(url)) + 3 and not url.lower().startswith("mailto:"):
            continue  # "https://" alone
        if url.lower() == "mailto:":
            continue
        found.append((match.start(), match.start() + len(url), url))
    return found


# -- comparing and showing -------------------------------------------------------------------


def _norm(text: str) -> str:
    text = unicodedata.normalize("NFC", text.strip())
    if text.lower().startswith("mailto:"):
        text = text[7:]
    return text.rstrip("/")


def same_target(text: str, target: str) -> bool:
    """True when a link's shown text is its target (or the target's own address: the mailbox
    of a mailto:, the URL without a final slash). Anything else counts as differing."""
    if not text.strip():
        return False
    return _norm(text) == _norm(target)


def link_host(url: str) -> str:
    """The host a URL goes to ("" for mailto: and when there is none)."""
    try:
        return urlsplit(url.strip()).hostname or ""
    except ValueError:
        return ""


def _mixed_scripts(label: str) -> bool:
    scripts = set()
    for char in label:
        if not char.isalpha():
            continue
        name = unicodedata.name(char, "")
        scripts.add(name.split(" ", 1)[0] if name else "?")
    return len(scripts) > 1


def _confusable_host(host: str) -> bool:
    return not host.isascii() and (
        looks_ascii(host) or any(_mixed_scripts(label) for label in host.split("."))
    )


def _idna(host: str) -> str | None:
    try:
        import idna

        return idna.encode(host, uts46=True).decode("ascii")
    except Exception:
        try:
            return host.encode("idna").decode("ascii")
        except UnicodeError:
            return None


def display_url(url: str, *, max_len: int = 4096) -> tuple[str, list[str]]:
    """(the URL as shown to the user, warnings about it): sanitized; a confusable
    international host shown as punycode; a `name@` before the host named as not the site."""
    url = url.strip()
    warnings: list[str] = []
    shown = url
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        parts, host = None, ""
    if parts is not None and host and not host.isascii():
        puny = _idna(host)
        if puny is not None and _confusable_host(host):
            shown = url.replace(parts.netloc, parts.netloc.replace(host, puny), 1)
            warnings.append(
                f"the site's name uses letters that imitate others: it is {puny}, not what it "
                "looks like"
            )
        elif puny is not None:
            warnings.append(f"an international name: {puny}")
    if parts is not None and "@" in parts.netloc and parts.scheme.lower() in ("http", "https"):
        warnings.append(f"the part before @ is not the site: the site is {host or '(none)'}")
    if url != url.strip() or re.search("[\x00-\x20\x7f-\x9f\u200b-\u200f\u202a-\u202e]", url):
        warnings.append("the address holds spaces, control or invisible characters")
    return clean_line(shown, max_len=max_len), warnings


def inline_target(url: str, width: int = INLINE_TARGET) -> str:
    """The target shown beside a link's differing text: whole when short, else cut after the
    host (which is always shown whole), with "…"."""
    shown, _ = display_url(url)
    if len(shown) <= width:
        return shown
    try:
        parts = urlsplit(shown)
        head = f"{parts.scheme}://{parts.netloc}" if parts.netloc else shown[: width // 2]
    except ValueError:
        head = shown[: width // 2]
    keep = max(len(head), width - 1)
    return shown[:keep] + "…"


_JUNK = re.compile("[\x00-\x20\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")


def wire_url(url: str) -> str | None:
    """`url` as it may leave termail (an OSC 8 hyperlink, a browser's argument), or None.

    ASCII from `!` to `~` only: a control, space, invisible or bidi character anywhere refuses
    the URL (it is disguised or broken); an international host is IDNA-encoded and other
    non-ASCII characters are percent-encoded. ESC and BEL can never be in the result, so the
    URL cannot end an escape sequence early.
    """
    if not url or len(url) > MAX_WIRE_URL or _JUNK.search(url):
        return None
    if not url.isascii():
        try:
            parts = urlsplit(url)
        except ValueError:
            return None
        host = parts.hostname or ""
        netloc = parts.netloc
        if host and not host.isascii():
            puny = _idna(host)
            if puny is None:
                return None
            netloc = netloc.replace(host, puny, 1)
        rest = url[len(parts.scheme) + 1 :]
        if parts.netloc:
            rest = rest[2 + len(parts.netloc) :]
            url = f"{parts.scheme}://{netloc}{quote(rest, safe=_SAFE)}"
        else:
            url = f"{parts.scheme}:{quote(rest, safe=_SAFE)}"
    if not all("!" <= char <= "~" for char in url) or len(url) > MAX_WIRE_URL:
        return None
    return url


#: Every printable ASCII character but space: kept as it is by `quote` (only non-ASCII is encoded).
_SAFE = "".join(chr(c) for c in range(0x21, 0x7F))


def number_links(targets: Sequence[str]) -> dict[str, int]:
    """The number of each distinct target, in order of first appearance, from 1."""
    numbers: dict[str, int] = {}
    for target in targets:
        numbers.setdefault(target, len(numbers) + 1)
    return numbers


# -- putting the numbers and targets into the text ----------------------------------------------

_REF_USE = re.compile(r"\]\[(\d{1,6})\]")
_BLOCK_LINE = re.compile(r"^\[(\d{1,6})\] (.*)$")
_BLOCK_HEAD = "\n\nLinks:\n"
#: How far back the `[` of a `[text][n]` is looked for (html2text's anchor text).
_MAX_ANCHOR = 2000


def _anchor_start(text: str, close: int, floor: int) -> int:
    """Index of the `[` that opens the `[...]` ending at `close` (a `]`), or -1."""
    depth = 0
    index = close - 1
    stop = max(floor, close - _MAX_ANCHOR)
    while index >= stop:
        char = text[index]
        if char == "]":
            depth += 1
        elif char == "[":
            if depth == 0:
                return index
            depth -= 1
        index -= 1
    return -1


def _beside(link: Link) -> str:
    """What follows a link's text in the body: its number, and its target when they differ."""
    if not link.text:
        return f" [{link.number}]"
    if link.removed:
        scheme = link.scheme or "unknown"
        return f" [{link.number}: {scheme}: link, not opened]"
    shown = inline_target(link.target)
    if link.openable:
        shown = mark(link.number, shown)
    return f" [{link.number}: {shown}]"


def annotate_html(text: str, links: list[Link], offset: int) -> str:
    """html2text's output (`[text][n]` in the body, then the `Links:` block) with the link
    texts and targets marked (`mark`) for the renderer: a link whose text is its target is
    marked as it stands, `[n]` after it; any other shows its real target beside its text
    (and gets that text in `links`).

    `links[n - 1]` is link number n; this part's links are those after `offset`."""
    text = strip_marks(text)
    cut = text.rfind(_BLOCK_HEAD) if len(links) > offset else -1
    body, block = (text, "") if cut < 0 else (text[:cut], text[cut:])
    out: list[str] = []
    pos = 0
    for match in _REF_USE.finditer(body):
        number = int(match.group(1))
        if not offset < number <= len(links) or match.start() < pos:
            continue
        link = links[number - 1]
        start = _anchor_start(body, match.start(), pos)
        anchor = body[start + 1 : match.start()] if start >= 0 else ""
        if start >= 0 and "\n" not in anchor and same_target(anchor, link.target):
            out.append(body[pos:start])
            out.append((mark(number, anchor) if link.openable else anchor) + f" [{number}]")
            pos = match.end()
            continue
        if not link.text:
            shown = " ".join(anchor.split()) or "(no text)"
            link = links[number - 1] = replace(link, text=clean_line(shown, max_len=500))
        if start >= 0:
            out.append(body[pos:start])
            out.append(anchor + _beside(link))
        else:
            out.append(body[pos : match.start() + 1])
            out.append(_beside(link))
        pos = match.end()
    out.append(body[pos:])
    if block:
        lines = block.split("\n")
        for index, line in enumerate(lines):
            found = _BLOCK_LINE.match(line)
            number = int(found.group(1)) if found else 0
            if not offset < number <= len(links) or not links[number - 1].openable:
                continue
            lines[index] = f"[{number}] " + mark(number, display_url(links[number - 1].target)[0])
        out.append("\n".join(lines))
    return "".join(out)


def annotate_plain(text: str, numbers: dict[str, int], links: list[Link]) -> str:
    """A text part with its URLs marked and numbered (`https://x.example/ [1]`).

    `numbers` maps targets already numbered in this message to their numbers (a URL written
    twice keeps one); new links are appended to `links` and `numbers`."""
    text = strip_marks(text)
    found = find_text_urls(text)
    if not found:
        return text
    out: list[str] = []
    pos = 0
    for start, end, url in found:
        number = numbers.get(url)
        if number is None:
            number = len(links) + 1
            numbers[url] = number
            links.append(make_link(number, url))
        link = links[number - 1]
        out.append(text[pos:start])
        out.append((mark(number, url) if link.openable else url) + f" [{number}]")
        pos = end
    out.append(text[pos:])
    return "".join(out)
