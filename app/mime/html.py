"""text/html shown as text: html2text in a separate, time-limited process, with a safe fallback.

Why a process: html2text sits on the stdlib `HTMLParser`, which on Python 3.11.7 takes minutes
on some small inputs (125 KB of repeated `<a `), and html2text's own output grows quadratically
with nested lists (docs/libraries.md). A thread cannot be stopped; a process can. One worker
process is kept and reused (start-up costs ~0.1 s); when it runs past the time limit it is
killed, and the body is shown by `strip_html`, a linear regex-free-of-backtracking stripper.

Before conversion the input is capped, scripts, styles and comments are cut out, and list or
quote nesting deeper than `MAX_NESTING` is flattened. Links come back numbered (`[text][3]`)
and listed below the text; only http(s), mailto, ftp and news links are kept, others are
replaced by a note. Images are never fetched: only their alt text is shown. The caller must
still sanitize the text (html2text turns `&#x1b;` into a real ESC).
"""

from __future__ import annotations

import atexit
import html as html_lib
import os
import re
import selectors
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

#: HTML longer than this (characters) is cut before conversion.
MAX_HTML_INPUT = 2_000_000
#: Seconds html2text may take on one body before it is stopped.
DEFAULT_TIMEOUT = 5.0
#: Lists and blockquotes nested deeper than this are flattened before conversion.
MAX_NESTING = 12
#: Converted text longer than this is cut (in the worker, before sending it back).
MAX_OUTPUT = 8_000_000
#: Address-space cap for the worker process, in bytes (where the OS supports it).
WORKER_MEMORY = 1 << 30

SAFE_SCHEMES = ("http", "https", "mailto", "ftp", "ftps", "news", "nntp", "tel")

_WORKER_CODE = r"""
import struct, sys
try:
    import resource
    resource.setrlimit(resource.RLIMIT_AS, ({memory}, {memory}))
except Exception:
    pass
import html2text

def convert(text):
    h = html2text.HTML2Text()
    h.body_width = 0
    h.inline_links = False
    h.links_each_paragraph = False
    h.images_to_alt = True
    h.unicode_snob = True
    h.use_automatic_links = False  # every link numbered, `[url][n]` (app.mime.links)
    h.skip_internal_links = True
    h.wrap_links = False
    h.protect_links = False
    return h.handle(text)

def main():
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    while True:
        head = inp.read(4)
        if len(head) < 4:
            return
        (size,) = struct.unpack(">I", head)
        data = inp.read(size)
        try:
            text = convert(data.decode("utf-8", "replace"))[:{max_output}]
            status = 0
        except BaseException as exc:
            text = type(exc).__name__
            status = 1
        payload = text.encode("utf-8", "replace")
        out.write(struct.pack(">BI", status, len(payload)))
        out.write(payload)
        out.flush()

main()
"""
_WORKER_CODE = _WORKER_CODE.replace("{memory}", str(WORKER_MEMORY)).replace(
    "{max_output}", str(MAX_OUTPUT)
)


@dataclass(slots=True)
class HtmlText:
    """Result of converting one HTML body: text (not yet sanitized), links, notices."""

    text: str
    links: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    converted: bool = True
    raw_links: list[str] = field(default_factory=list)
    """The targets as written, unsafe ones too, in the order of `links` (shown, never opened)."""
    """False when html2text was cut off or failed and `strip_html` produced the text."""


# --- pre-processing (linear, no HTMLParser) ---------------------------------------------------


def _cut_blocks(html: str, tag: str) -> str:
    """Remove every `<tag ...>...</tag>` (an unclosed one runs to the end), in linear time."""
    lower = html.lower()
    opener = "<" + tag
    closer = "</" + tag
    if opener not in lower:
        return html
    out: list[str] = []
    pos = 0
    while True:
        start = lower.find(opener, pos)
        if start < 0:
            break
        after = lower[start + len(opener) : start + len(opener) + 1]
        if after and (after.isalnum() or after in "-_:"):  # <scripts>, <style-x>: not ours
            out.append(html[pos : start + 1])
            pos = start + 1
            continue
        out.append(html[pos:start])
        end = lower.find(closer, start)
        if end < 0:
            pos = len(html)
            break
        close_end = lower.find(">", end)
        pos = len(html) if close_end < 0 else close_end + 1
    out.append(html[pos:])
    return "".join(out)


def _cut_comments(html: str) -> str:
    if "<!--" not in html:
        return html
    out: list[str] = []
    pos = 0
    while True:
        start = html.find("<!--", pos)
        if start < 0:
            break
        out.append(html[pos:start])
        end = html.find("-->", start + 4)
        pos = len(html) if end < 0 else end + 3
    out.append(html[pos:])
    return "".join(out)


_NEST_TAG = re.compile(r"<\s*(/?)\s*(ul|ol|dl|dir|menu|blockquote)\b[^<>]*>", re.I)


def _cap_nesting(html: str, limit: int = MAX_NESTING) -> tuple[str, bool]:
    depth = 0
    flattened = False

    def repl(match: re.Match[str]) -> str:
        nonlocal depth, flattened
        if match.group(1):
            depth = max(depth - 1, 0)
            if depth >= limit:
                return ""
            return match.group(0)
        depth += 1
        if depth > limit:
            flattened = True
            return ""
        return match.group(0)

    return _NEST_TAG.sub(repl, html), flattened


def prepare_html(html: str, *, max_input: int = MAX_HTML_INPUT) -> tuple[str, list[str]]:
    """Cap, de-script and de-nest `html` before any parser sees it; returns (html, notices)."""
    notices: list[str] = []
    if len(html) > max_input:
        notices.append(f"HTML body cut to {max_input:,} of {len(html):,} characters")
        html = html[:max_input]
    html = _cut_comments(html)
    for tag in ("script", "style", "noscript", "template", "object", "iframe", "svg"):
        html = _cut_blocks(html, tag)
    html, flattened = _cap_nesting(html)
    if flattened:
        notices.append(f"lists nested deeper than {MAX_NESTING} levels were flattened")
    return html, notices


# --- links --------------------------------------------------------------------------------------


def safe_link(url: str) -> str | None:
    """`url` when its scheme is safe to offer, else None (javascript:, data:, file:, ...)."""
    url = url.strip()
    if _URL_JUNK.search(url) is not None:
        return None  # controls, spaces or bidi marks: a disguised or broken link
    match = re.match(r"([A-Za-z][A-Za-z0-9+.-]{0,30}):", url)
    if match is None:
        return None  # relative links mean nothing in a mail
    return url if match.group(1).lower() in SAFE_SCHEMES else None


_URL_JUNK = re.compile("[\x00-\x20\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_REF_LINE = re.compile(r"^ {0,3}\[(\d{1,6})\]: (.*)$", re.M)
_REF_USE = re.compile(r"\]\[(\d{1,6})\]")


def _extract_links(text: str, offset: int) -> tuple[str, list[str]]:
    """Move html2text's `[n]: url` list out of `text`; renumber from `offset + 1`."""
    refs: dict[int, str] = {}

    def grab(match: re.Match[str]) -> str:
        refs[int(match.group(1))] = match.group(2).strip()
        return ""

    body = _REF_LINE.sub(grab, text).rstrip()
    order = sorted(refs)
    numbers = {old: offset + index + 1 for index, old in enumerate(order)}
    if offset and numbers:
        body = _REF_USE.sub(lambda m: f"][{numbers.get(int(m.group(1)), int(m.group(1)))}]", body)
    links = [refs[old] for old in order]
    return body, links


def links_block(links: list[str], offset: int) -> str:
    """The numbered list shown below a converted body; unsafe links shown as removed."""
    lines = []
    for index, url in enumerate(links):
        shown = safe_link(url)
        number = offset + index + 1
        if shown is None:
            scheme = url.split(":", 1)[0][:20] if ":" in url else "relative"
            lines.append(f"[{number}] (unsafe link removed: {scheme})")
        else:
            lines.append(f"[{number}] {shown}")
    return "\n".join(lines)


# --- fallback stripper --------------------------------------------------------------------------

_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]{0,20})?([^<>]*)>")
_HREF = re.compile(r"""href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.I)
_BLOCK_TAGS = frozenset(
    {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol"}
    | {"blockquote", "pre", "hr", "section", "article", "header", "footer", "dt", "dd", "title"}
)


def strip_html(html: str, *, link_offset: int = 0) -> tuple[str, list[str]]:
    """Plain text of `html` by dropping tags (linear time): the fallback when html2text fails.

    Block tags become line breaks, entities are decoded, `<a href>` targets are numbered.
    """
    html, _ = prepare_html(html)
    links: list[str] = []

    def repl(match: re.Match[str]) -> str:
        closing, name, rest = match.group(1), (match.group(2) or "").lower(), match.group(3)
        if name == "a" and not closing:
            href = _HREF.search(rest)
            if href is not None:
                links.append(html_lib.unescape(next(g for g in href.groups() if g is not None)))
                return ""
        if name == "a" and closing and links:
            return f" [{link_offset + len(links)}]"
        if name in _BLOCK_TAGS:
            return "\n"
        return ""

    text = _TAG.sub(repl, html)
    text = html_lib.unescape(text)
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    text = re.sub(r" ?\n ?", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip(), links


# --- the worker -----------------------------------------------------------------------------------


class _Worker:
    """One reusable html2text process, spoken to over pipes with length-prefixed frames."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def _start(self) -> subprocess.Popen[bytes]:
        # -I: ignore PYTHON* variables, the user site and the current folder, so no stray
        # html2text.py where termail is run can be imported instead of the real one.
        proc = subprocess.Popen(
            [sys.executable, "-I", "-c", _WORKER_CODE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            close_fds=True,
        )
        return proc

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.kill()
        except OSError:
            pass
        try:
            proc.wait(timeout=2)
        except (subprocess.TimeoutExpired, OSError):
            pass
        for stream in (proc.stdin, proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass

    def convert(self, html: str, timeout: float) -> str | None:
        """html2text's output, or None when it failed or ran out of time (worker restarted)."""
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self.stop()
                try:
                    self._proc = self._start()
                except OSError:
                    return None
            try:
                result = self._exchange(self._proc, html.encode("utf-8", "replace"), timeout)
            except (OSError, ValueError, struct.error):
                result = None
            if result is None:
                self.stop()
            return result

    @staticmethod
    def _exchange(proc: subprocess.Popen[bytes], data: bytes, timeout: float) -> str | None:
        assert proc.stdin is not None and proc.stdout is not None
        deadline = time.monotonic() + timeout
        outgoing = memoryview(struct.pack(">I", len(data)) + data)
        in_fd, out_fd = proc.stdin.fileno(), proc.stdout.fileno()
        os.set_blocking(in_fd, False)
        received = bytearray()
        needed: int | None = None
        with selectors.DefaultSelector() as sel:
            sel.register(out_fd, selectors.EVENT_READ)
            if outgoing:
                sel.register(in_fd, selectors.EVENT_WRITE)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                for key, _ in sel.select(remaining):
                    if key.fd == in_fd:
                        try:
                            sent = os.write(in_fd, outgoing[:65536])
                        except BlockingIOError:
                            continue
                        outgoing = outgoing[sent:]
                        if not outgoing:
                            sel.unregister(in_fd)
                    else:
                        chunk = os.read(out_fd, 1 << 20)
                        if not chunk:
                            return None  # worker died (memory limit, crash)
                        received += chunk
                if needed is None and len(received) >= 5:
                    status, size = struct.unpack(">BI", bytes(received[:5]))
                    needed = -1 if status != 0 else 5 + size
                if needed == -1:
                    return None
                if needed is not None and len(received) >= needed:
                    return bytes(received[5:needed]).decode("utf-8", "replace")


_WORKER = _Worker()
atexit.register(_WORKER.stop)


def _convert_once(html: str, timeout: float) -> str | None:
    """One-shot conversion for platforms without pipe selectors (Windows)."""
    code = _WORKER_CODE
    frame = struct.pack(">I", len(html.encode("utf-8", "replace"))) + html.encode(
        "utf-8", "replace"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-c", code],
            input=frame,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except (subprocess.TimeoutExpired, OSError):
        return None
    out = done.stdout
    if len(out) < 5 or out[0] != 0:
        return None
    (size,) = struct.unpack(">I", out[1:5])
    return out[5 : 5 + size].decode("utf-8", "replace")


def html_to_text(html: str, *, timeout: float | None = None, link_offset: int = 0) -> HtmlText:
    """Convert one HTML body to text with numbered links; never raises, never hangs long.

    `link_offset` numbers this body's links after those of earlier parts.
    """
    limit = DEFAULT_TIMEOUT if timeout is None else timeout
    prepared, notices = prepare_html(html)
    if os.name == "posix":
        converted = _WORKER.convert(prepared, limit)
    else:
        converted = _convert_once(prepared, limit)
    if converted is None:
        text, links = strip_html(prepared, link_offset=link_offset)
        notices.append("HTML could not be converted in time: shown with tags stripped")
        result = HtmlText(text, links, notices, converted=False)
    else:
        text, links = _extract_links(converted, link_offset)
        result = HtmlText(text, links, notices)
    if result.links:
        result.text = result.text.rstrip() + "\n\nLinks:\n" + links_block(result.links, link_offset)
    result.raw_links = list(result.links)
    result.links = [safe_link(url) or "" for url in result.links]
    return result


def shutdown_worker() -> None:
    """Stop the conversion process (it restarts on the next conversion)."""
    _WORKER.stop()
