"""The protocol log: the IMAP and SMTP dialogue of each account, one line per command and reply.

UI-free. Each account has a `ProtocolLog` (a bounded ring of `LogLine`), found by the server
settings it uses (`attach` / `log_for`), so every connection the account opens (the main one,
IDLE, NOTIFY, each submission) is logged without the account being passed down to it. The IMAP
engine (`app.imap.engine`) and submission (`app.smtp.submit`) hold one tap per connection
(`ImapTap`, `SmtpTap`), made by `imap_tap` / `smtp_tap`: None when nobody logs that server, so a
connection nobody logs pays one attribute test per response.

What never reaches a buffer, the live file or a saved file: LOGIN's password, every AUTHENTICATE
initial response and continuation answer (PLAIN, XOAUTH2 tokens, ...), and every SMTP AUTH
argument and every line sent after a 334 (PLAIN, LOGIN's two steps, XOAUTH2). The taps build
their lines from what they know of the command (its verb, the state of the exchange), never
from a search for secrets in the text, so a secret is dropped before any string holds it in the
log. Literals are shown by size (``{123456 bytes}``); a long response line is cut; a command's
untagged responses past the first `BURST` are only counted ("… 99,990 more untagged
responses"), so a 100,000-message FETCH costs one counter per response, not a string each.

Every text is made safe for a terminal (`app.mime.sanitize.clean_line`) when the line is made:
a server's escape sequences are shown as pictures (``␛``) on screen, in the live file and in a
saved file alike.

SMTP replies are named by class (RFC 5321 §4.2.1) and by enhanced status code (RFC 3463 and
the IANA registry's later entries): ``550 5.7.1 ...`` reads "5xx permanent failure · 5.7.1
delivery not authorized, message refused".
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import stat
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from app.mime.sanitize import clean_line

__all__ = [
    "BURST",
    "MAX_LINES",
    "ImapTap",
    "LiveFile",
    "LogLine",
    "ProtocolLog",
    "SmtpTap",
    "attach",
    "detach",
    "enhanced_status",
    "imap_tap",
    "live_file",
    "log_for",
    "reply_class",
    "set_live_file",
    "smtp_explain",
    "smtp_tap",
]

#: Lines one account keeps (the oldest go first).
MAX_LINES = 5000
#: Untagged responses logged per command (and per IDLE); the rest are counted.
BURST = 12
#: Characters kept of one line; the rest is said by size.
LINE_CHARS = 1000
#: A literal up to this size is shown (a subject, a search string); a longer one by its size.
SHOWN_LITERAL = 64
#: What stands for a secret.
REDACTED = "<redacted>"

_LITERAL_END = re.compile(rb"~?\{([0-9]{1,10})\+?\}\Z")


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line of the dialogue.

    `way` is "C" (client to server), "S" (server to client) or "-" (a note of ours: connected,
    closed, N responses not shown). `kind` classifies a reply: "ok", "no", "bad" (IMAP tagged),
    "2" … "5" (an SMTP reply's class), "" otherwise. `explain` names it ("5xx permanent failure
    · 5.7.1 delivery not authorized, message refused"). `text` is safe for a terminal.
    """

    seq: int
    at: float
    conn: str
    way: str
    text: str
    kind: str = ""
    explain: str = ""
    error: bool = False

    def render(self, account: str = "") -> str:
        """The line as written to a file: time, account, connection, direction, text."""
        stamp = time.strftime("%H:%M:%S", time.localtime(self.at))
        millis = int(self.at * 1000) % 1000
        who = f"{account} " if account else ""
        tail = f"   [{self.explain}]" if self.explain else ""
        return f"{stamp}.{millis:03d} {who}{self.conn} {self.way}: {self.text}{tail}"


Listener = Callable[[LogLine], None]


class ProtocolLog:
    """One account's dialogue: a ring of at most `max_lines` lines, live listeners, search."""

    def __init__(self, name: str, *, max_lines: int = MAX_LINES) -> None:
        self.name = name
        self.lines: deque[LogLine] = deque(maxlen=max(10, max_lines))
        self._seq = itertools.count(1)
        self._conns = itertools.count(1)
        self._listeners: list[Listener] = []
        self.last_error: int | None = None
        """`seq` of the newest line that reports a failure (IMAP NO/BAD, SMTP 4xx/5xx, a lost
        connection), or None."""
        self.error_seen = 0
        """`last_error` when the log was last shown (the UI scrolls to a newer one)."""

    # -- writing --

    def add(
        self,
        conn: str,
        way: str,
        text: str,
        *,
        kind: str = "",
        explain: str = "",
        error: bool = False,
    ) -> LogLine:
        line = LogLine(
            next(self._seq),
            time.time(),
            conn,
            way,
            clean_line(text, max_len=LINE_CHARS + 80),
            kind,
            clean_line(explain, max_len=200),
            error,
        )
        self.lines.append(line)
        if error:
            self.last_error = line.seq
        sink = _live
        if sink is not None:
            sink.write(line, self.name)
        for listener in tuple(self._listeners):
            try:
                listener(line)
            except Exception:  # a closed pane must not break the connection
                with contextlib.suppress(ValueError):
                    self._listeners.remove(listener)
        return line

    def new_connection(self, protocol: str) -> str:
        """A label for one more connection of this account: "imap1", "smtp2", ..."""
        return f"{protocol}{next(self._conns)}"

    def subscribe(self, listener: Listener) -> None:
        """Call `listener` with every line added from now on (in the event loop's thread)."""
        if listener not in self._listeners:
            self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    # -- reading --

    def snapshot(self) -> list[LogLine]:
        return list(self.lines)

    def search(self, query: str, lines: Iterable[LogLine] | None = None) -> list[LogLine]:
        """Lines whose text, explanation or connection holds `query` (case-insensitive)."""
        needle = query.strip().casefold()
        source = self.lines if lines is None else lines
        if not needle:
            return list(source)
        return [
            line
            for line in source
            if needle in line.text.casefold()
            or needle in line.explain.casefold()
            or needle == line.conn.casefold()
        ]

    def save(self, path: Path, lines: Sequence[LogLine] | None = None) -> Path:
        """Write the lines (default: all kept) to `path`, 0600, never over an existing file:
        "name (1).log" when `path` exists. Returns the path written."""
        chosen = _free_name(Path(path).expanduser())
        fd = os.open(chosen, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            for line in self.lines if lines is None else lines:
                out.write(line.render(self.name) + "\n")
        return chosen


def _free_name(path: Path) -> Path:
    if not path.exists():
        return path
    for n in range(1, 1000):
        candidate = path.with_name(f"{path.stem} ({n}){path.suffix}")
        if not candidate.exists():
            return candidate
    raise FileExistsError(f"{path} and 999 others like it exist")


# -- the live file (termail --log-protocol FILE) ----------------------------------------------


class LiveFile:
    """Every line of every account, written as it is made (0600, line-buffered)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path).expanduser()
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with contextlib.suppress(OSError):
            if stat.S_ISREG(os.fstat(fd).st_mode):
                # An existing file keeps no wider mode; a device (`--log-protocol /dev/null`,
                # a tty, a FIFO) is not ours to change: run as root, /dev/null became 0600
                # and every other user's program (Cyrus) failed to open it.
                os.fchmod(fd, 0o600)
        self._out: IO[str] | None = os.fdopen(fd, "a", encoding="utf-8", buffering=1)
        self.failed: str | None = None

    def write(self, line: LogLine, account: str) -> None:
        out = self._out
        if out is None:
            return
        try:
            out.write(line.render(account) + "\n")
        except (OSError, ValueError) as exc:  # disk full, closed: stop writing, keep running
            self.failed = str(exc)
            self.close()

    def close(self) -> None:
        out, self._out = self._out, None
        if out is not None:
            with contextlib.suppress(OSError, ValueError):
                out.close()


_live: LiveFile | None = None


def set_live_file(path: Path | None) -> LiveFile | None:
    """Write every log line to `path` from now on (None: stop). Raises OSError when `path`
    cannot be opened."""
    global _live
    old, _live = _live, None
    if old is not None:
        old.close()
    if path is not None:
        _live = LiveFile(path)
    return _live


def live_file() -> LiveFile | None:
    return _live


# -- which account logs which server ----------------------------------------------------------

_by_server: dict[Any, ProtocolLog] = {}


def attach(log: ProtocolLog, *servers: Any) -> None:
    """Log every connection to these servers (`ServerSettings`, hashable) into `log`."""
    for server in servers:
        if server is not None:
            with contextlib.suppress(TypeError):  # an unhashable stand-in (tests): not logged
                _by_server[server] = log


def detach(log: ProtocolLog) -> None:
    for key in [k for k, v in _by_server.items() if v is log]:
        del _by_server[key]


def log_for(server: Any) -> ProtocolLog | None:
    try:
        return _by_server.get(server)
    except TypeError:  # an unhashable stand-in (tests)
        return None


def imap_tap(server: Any) -> ImapTap | None:
    log = log_for(server)
    return None if log is None else ImapTap(log, log.new_connection("imap"))


def smtp_tap(server: Any) -> SmtpTap | None:
    log = log_for(server)
    return None if log is None else SmtpTap(log, log.new_connection("smtp"))


# -- IMAP --------------------------------------------------------------------------------------


def _literal_text(data: bytes) -> str:
    if len(data) <= SHOWN_LITERAL and b"\r" not in data and b"\n" not in data:
        return f"{{{len(data)}}}{data.decode('utf-8', 'replace')}"
    return f"{{{len(data)} bytes}}"


def _arg_text(arg: Any) -> str:
    data = getattr(arg, "data", None)
    if isinstance(data, bytes | bytearray):
        return _literal_text(bytes(data))
    text = str(arg)
    if len(text) > LINE_CHARS:
        return text[:LINE_CHARS] + f"… ({len(text):,} characters)"
    return text


def imap_command_text(tag: str, command: str, args: Sequence[Any]) -> str:
    """A command as logged: LOGIN's password and AUTHENTICATE's initial response redacted."""
    verb = command.split(" ", 1)[0].upper()
    if verb in ("LOGIN", "AUTHENTICATE"):  # the user name / the mechanism; then secrets
        shown = [_arg_text(args[0])] if args else []
        shown += [REDACTED] * max(0, len(args) - 1)
    else:
        shown = [_arg_text(arg) for arg in args]
    return " ".join([tag, command, *shown])


def imap_response_text(resp: bytes) -> str:
    """One response as logged: literals by size (short ones shown), cut at `LINE_CHARS`."""
    out: list[str] = []
    used = 0
    pos = 0
    n = len(resp)
    while pos < n:
        end = resp.find(b"\r\n", pos)
        line = resp[pos:] if end < 0 else resp[pos:end]
        if used + len(line) > LINE_CHARS:
            out.append(line[: max(0, LINE_CHARS - used)].decode("utf-8", "replace"))
            out.append(f"… ({n:,} bytes in all)")
            return "".join(out)
        if end < 0:
            out.append(line.decode("utf-8", "replace"))
            break
        match = _LITERAL_END.search(line)
        if match is None:  # cannot happen in a framed response: CRLF only before a literal
            out.append(line.decode("utf-8", "replace") + " ")
            used += len(line) + 1
            pos = end + 2
            continue
        size = int(match.group(1))
        head = line[: match.start()].decode("utf-8", "replace")
        data = resp[end + 2 : end + 2 + size]
        shown = _literal_text(data)
        out.append(head + shown)
        used += len(head) + len(shown)
        pos = end + 2 + size
    return "".join(out)


class ImapTap:
    """One IMAP connection's side of the log (`app.imap.engine` calls it where bytes go)."""

    __slots__ = ("burst", "conn", "hidden", "hidden_bytes", "log")

    def __init__(self, log: ProtocolLog, conn: str) -> None:
        self.log = log
        self.conn = conn
        self.burst = 0
        self.hidden = 0
        self.hidden_bytes = 0

    def note(self, text: str, *, error: bool = False) -> None:
        self.log.add(self.conn, "-", text, error=error)

    def command(self, tag: str, command: str, args: Sequence[Any]) -> None:
        self._flush()
        self.log.add(self.conn, "C", imap_command_text(tag, command, args))

    def secret(self, what: str = "SASL response") -> None:
        """A line whose content is a credential (an AUTHENTICATE continuation answer)."""
        self.log.add(self.conn, "C", f"<{what} redacted>")

    def sent(self, text: str) -> None:
        """A short line with no secret in it (IDLE's DONE, a SASL cancel "*")."""
        self.log.add(self.conn, "C", text)

    def response(self, resp: bytes) -> None:
        """Every response the engine frames (literals inline); the hot path."""
        first = resp[:1]
        if first == b"*" or first == b"+":
            self.burst += 1
            if self.burst > BURST:
                self.hidden += 1
                self.hidden_bytes += len(resp)
                return
            self.log.add(self.conn, "S", imap_response_text(resp))
            return
        self._flush()
        tag, _, rest = resp.partition(b" ")
        status = rest[:4].upper()
        kind = "ok" if status.startswith(b"OK") else "no" if status.startswith(b"NO") else "bad"
        explain = {"no": "NO: refused", "bad": "BAD: not understood"}.get(kind, "")
        self.log.add(
            self.conn, "S", imap_response_text(resp), kind=kind, explain=explain, error=kind != "ok"
        )

    def _flush(self) -> None:
        self.burst = 0
        if self.hidden:
            hidden, size = self.hidden, self.hidden_bytes
            self.hidden = self.hidden_bytes = 0
            self.log.add(
                self.conn,
                "-",
                f"… {hidden:,} more untagged response{'s' if hidden != 1 else ''} "
                f"({_human(size)}) not shown",
            )


def _human(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1 << 20:
        return f"{size / 1024:.1f} KB"
    return f"{size / (1 << 20):.1f} MB"


# -- SMTP --------------------------------------------------------------------------------------

#: RFC 5321 §4.2.1, by the first digit.
REPLY_CLASSES = {
    "2": "2xx success",
    "3": "3xx more input",
    "4": "4xx temporary failure",
    "5": "5xx permanent failure",
}

#: RFC 3463 §3.x subjects (the second number).
STATUS_SUBJECTS = {
    "0": "other or undefined status",
    "1": "addressing status",
    "2": "mailbox status",
    "3": "mail system status",
    "4": "network and routing status",
    "5": "mail delivery protocol status",
    "6": "message content or media status",
    "7": "security or policy status",
}

#: RFC 3463 details (and the later ones of the IANA registry: RFC 4954, 5248, 6531, 7505).
STATUS_DETAILS = {
    "0.0": "other undefined status",
    "1.0": "other address status",
    "1.1": "bad destination mailbox address",
    "1.2": "bad destination system address",
    "1.3": "bad destination mailbox address syntax",
    "1.4": "destination mailbox address ambiguous",
    "1.5": "destination address valid",
    "1.6": "destination mailbox has moved, no forwarding address",
    "1.7": "bad sender's mailbox address syntax",
    "1.8": "bad sender's system address",
    "1.10": "recipient address has null MX",
    "2.0": "other or undefined mailbox status",
    "2.1": "mailbox disabled, not accepting messages",
    "2.2": "mailbox full",
    "2.3": "message length exceeds administrative limit",
    "2.4": "mailing list expansion problem",
    "3.0": "other or undefined mail system status",
    "3.1": "mail system full",
    "3.2": "system not accepting network messages",
    "3.3": "system not capable of selected features",
    "3.4": "message too big for system",
    "3.5": "system incorrectly configured",
    "4.0": "other or undefined network or routing status",
    "4.1": "no answer from host",
    "4.2": "bad connection",
    "4.3": "directory server failure",
    "4.4": "unable to route",
    "4.5": "mail system congestion",
    "4.6": "routing loop detected",
    "4.7": "delivery time expired",
    "5.0": "other or undefined protocol status",
    "5.1": "invalid command",
    "5.2": "syntax error",
    "5.3": "too many recipients",
    "5.4": "invalid command arguments",
    "5.5": "wrong protocol version",
    "5.6": "authentication exchange line is too long",
    "6.0": "other or undefined media error",
    "6.1": "media not supported",
    "6.2": "conversion required and prohibited",
    "6.3": "conversion required but not supported",
    "6.4": "conversion with loss performed",
    "6.5": "conversion failed",
    "6.7": "non-ASCII addresses not permitted for that sender or recipient",
    "7.0": "other or undefined security status",
    "7.1": "delivery not authorized, message refused",
    "7.2": "mailing list expansion prohibited",
    "7.3": "security conversion required but not possible",
    "7.4": "security features not supported",
    "7.5": "cryptographic failure",
    "7.6": "cryptographic algorithm not supported",
    "7.7": "message integrity failure",
    "7.8": "authentication credentials invalid",
    "7.9": "authentication mechanism is too weak",
    "7.10": "encryption needed",
    "7.11": "encryption required for requested authentication mechanism",
    "7.12": "a password transition is needed",
    "7.13": "user account disabled",
}

_ENHANCED = re.compile(r"([245])\.([0-9]{1,3})\.([0-9]{1,3})(?![0-9.])")


def reply_class(code: int) -> str:
    """The class of an SMTP reply code ("5xx permanent failure"), "" when it has none."""
    return REPLY_CLASSES.get(str(code)[:1], "") if 200 <= code < 600 else ""


def enhanced_status(text: str) -> str:
    """The RFC 3463 code at the start of a reply's text, spelled out ("5.7.1 delivery not
    authorized, message refused"); "" when the text starts with none."""
    match = _ENHANCED.match(text.lstrip())
    if match is None:
        return ""
    cls, subject, detail = match.groups()
    code = f"{cls}.{subject}.{detail}"
    meaning = STATUS_DETAILS.get(f"{subject}.{detail}")
    if meaning is None:
        meaning = STATUS_SUBJECTS.get(subject, "unknown status")
    return f"{code} {meaning}"


def smtp_explain(code: int, text: str) -> str:
    """ "5xx permanent failure · 5.7.1 delivery not authorized, message refused"."""
    parts = [p for p in (reply_class(code), enhanced_status(text)) if p]
    return " · ".join(parts)


class SmtpTap:
    """One SMTP session's side of the log (`app.smtp.submit` calls it where bytes go)."""

    __slots__ = ("auth", "conn", "data_next", "last_verb", "log")

    def __init__(self, log: ProtocolLog, conn: str) -> None:
        self.log = log
        self.conn = conn
        self.auth = False  # inside an AUTH exchange: every line we send is a credential
        self.data_next = False  # the server said 354: the next write is the message
        self.last_verb = ""

    def note(self, text: str, *, error: bool = False) -> None:
        self.log.add(self.conn, "-", text, error=error)

    def sent(self, data: bytes) -> None:
        """Bytes written to the server: a command, an AUTH answer, or the message."""
        if self.data_next:
            self.data_next = False
            self.last_verb = ""
            self.log.add(self.conn, "C", f"<message: {len(data):,} bytes, ending with CRLF.CRLF>")
            return
        if self.auth:
            self.log.add(self.conn, "C", f"<AUTH response {REDACTED}>")
            return
        line = data[:512].split(b"\r\n", 1)[0]
        words = line.split(b" ", 2)
        verb = words[0].upper().decode("ascii", "replace")
        self.last_verb = verb
        if verb == "AUTH":
            self.auth = True
            mechanism = words[1].decode("ascii", "replace") if len(words) > 1 else ""
            text = f"AUTH {mechanism}" + (f" {REDACTED}" if len(words) > 2 else "")
        elif len(data) > 1024 or data.count(b"\r\n") > 1:
            text = f"<{len(data):,} bytes>"
        else:
            text = line.decode("utf-8", "replace")
        self.log.add(self.conn, "C", text)

    def reply(self, code: int, message: str) -> None:
        """A whole reply (aiosmtplib joins its lines with newlines): one log line per line."""
        if self.auth and code != 334:
            self.auth = False
        if code == 354 and self.last_verb == "DATA":
            self.data_next = True
        kind = str(code)[:1] if 200 <= code < 600 else ""
        rows = message.split("\n") if message else [""]
        error = code >= 400 or code < 0
        for index, row in enumerate(rows):
            last = index == len(rows) - 1
            sep = " " if last else "-"
            explain = smtp_explain(code, row) if last else ""
            prefix = f"{code}{sep}" if code >= 0 else "(no code) "
            self.log.add(
                self.conn,
                "S",
                (prefix + row).rstrip(),
                kind=kind,
                explain=explain,
                error=error and last,
            )
