"""The one adapter over aioimaplib 2.0.3: connections, framing, commands, TLS, auth, IDLE.

aioimaplib stays the engine (pinned at 2.0.3 in pyproject.toml): `Connection` is its `IMAP4`
(connection set-up in `create_client`, `wait_hello_from_server`, `get_state`, `has_capability`,
the timeout setting) and `ImapProtocol` is its `IMAP4ClientProtocol` (transport bookkeeping in
`connection_made`, the state machine and its states, tag generation, the capability set). We
also use its table of the states each command is valid in, `time2internaldate` for APPEND and
its check for CR/LF/NUL in arguments. Nothing else in termail imports aioimaplib.

Replaced, with the reason (see ../shared/docs/libraries.md for the measurements):

* **Response framing and dispatch** (`data_received`, `_handle_responses`, `_handle_line`,
  `_untagged_response`, `FetchCommand.wait_data`). Every bug below lives in these few methods and
  patching one at a time would have meant overriding each of them anyway, so they are replaced as
  a piece by a linear framer: it cuts the byte stream into whole responses (a line, plus the
  literals announced by ``{n}`` at its end, inline) and hands each untagged response, in wire
  form, to the command in flight. That fixes:

  - upstream #118: `_handle_responses` recursed once per response line, so a large FETCH raised
    RecursionError and killed the transport. The framer is a loop.
  - quadratic FETCH: `FetchCommand.wait_data` re-joined and re-counted parentheses over every
    line received so far, on each new line (20,000 messages blocked the loop for 50 s). The framer
    looks at each received byte a bounded number of times (`ImapProtocol.work` counts it).
  - `line.replace(b"* ", b"")` removed "* " anywhere in a response (a subject "a * b" lost its
    star). Responses are never rewritten.
  - upstream #51: counting parentheses broke on a "(" inside a quoted string, gluing the next
    FETCH onto the previous one. Framing by lines and literal counts needs no parentheses.
  - untagged EXISTS/EXPUNGE (and FETCH without UID) arriving during a FETCH were dropped or
    merged: every untagged response now goes to the command in flight (`Response.untagged`, or
    the caller's `on_untagged`), or, with none in flight, to `take_unsolicited()`.
* **Command life cycle** (`execute`, `Command`): one command at a time (or an explicit pipeline
  of FETCHes), literals sent with LITERAL+ when offered or after the server's continuation, an
  inactivity timeout on every command. aioimaplib wedged after a timeout (a sync command left in
  `pending_sync_command`), so a timeout here closes the connection and raises `ImapTimeout`, which
  *is* a `TimeoutError` (aioimaplib's `CommandTimeout` was not).
* **Dead connections**: aioimaplib kept the state SELECTED after the server went away and let a
  pending command wait for its timeout. `connection_lost` now sets the state to LOGOUT and fails
  every command in flight at once with `ImapConnectionError` (saying whether it had been sent).
* **IDLE** (upstream #110): `idle_start` hung when the server closed instead of answering, and a
  BYE during IDLE never ended the wait. Our `idle_start`/`idle_wait` fail with
  `ImapConnectionError` as soon as the connection ends.
* **XOAUTH2**: a failed login hung because the server's error challenge was never answered; the
  continuation is now answered with an empty response, and the NO becomes `ImapAuthError`.
* **Arguments**: aioimaplib sent mailbox names unquoted (`create("My Folder")` created "My").
  `mailbox_arg` encodes (modified UTF-7, or UTF-8 once UTF8=ACCEPT is enabled) and quotes, and the
  mailbox methods of `Connection` use it.

Added: STARTTLS (`loop.start_tls`, refusing to go on when the server does not offer it, and
rejecting any bytes the server sent after its OK in plaintext), AUTHENTICATE PLAIN (SASL-IR when
offered), XOAUTH2, LOGIN, CAPABILITY again after STARTTLS and login, ID, ENABLE (CONDSTORE,
QRESYNC, UTF8=ACCEPT where offered), and a tunnel transport (a shell command speaking IMAP on its
stdin/stdout, PREAUTH accepted). The tunnel uses pipes, not the socketpair aioimaplib's
`create_client` could take: Dovecot's imap binary run as root refuses a socket on its stdout
("imap binary must not be started from inetd"); `Connection(sock=...)` still takes a ready
socket. No credential is ever written to a connection that is neither TLS nor a tunnel unless
the account says `allow_insecure`, and a PREAUTH greeting on a connection that should have been
upgraded or authenticated stops the connection before anything is sent (a man in the middle
could otherwise keep the session in plaintext).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import re
import socket
import ssl
import subprocess
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias, cast

from aioimaplib import aioimaplib as _aio

from app.imap import parser
from app.imap.compress import DeflateTransport
from app.imap.errors import (
    ImapAuthError,
    ImapBadError,
    ImapConnectionError,
    ImapError,
    ImapLimitError,
    ImapNoError,
    ImapProtocolError,
    ImapTimeout,
    ImapTlsError,
)
from app.imap.parser import Literal, ResponseCode
from app.imap.utf7 import encode_mailbox
from app.mime.sanitize import clean_line
from app.models import Credentials, ServerSettings, TlsMode
from app.protolog import ImapTap, imap_tap

__all__ = [
    "AIOIMAPLIB_VERSION",
    "DEFAULT_LIMITS",
    "Arg",
    "Connection",
    "ImapProtocol",
    "Limits",
    "Literal",
    "Response",
    "ServerAlert",
    "make_ssl_context",
]

log = logging.getLogger(__name__)

#: The aioimaplib release this module's replacements were written against (pinned in pyproject;
#: tests/unit/test_imap_engine.py checks the installed one: not done here, importlib.metadata
#: costs 70 ms of every start).
AIOIMAPLIB_VERSION = "2.0.3"

# aioimaplib's states, reused as ours.
CONNECTED, NONAUTH, AUTH, SELECTED, LOGOUT = (
    _aio.CONNECTED,
    _aio.NONAUTH,
    _aio.AUTH,
    _aio.SELECTED,
    _aio.LOGOUT,
)

Arg: TypeAlias = str | Literal

#: Biggest single response accepted (a whole message fetched at once is far smaller).
MAX_RESPONSE_BYTES = 256 << 20
#: A literal announced at the end of a line: ``{123}``, ``{123+}`` or literal8 ``~{123}``.
_LITERAL_TAIL = re.compile(rb"\{([0-9]{1,10})\+?\}\Z")
#: LITERAL- (RFC 7888) allows non-synchronising literals up to this size.
_LITERAL_MINUS_MAX = 4096
#: The ID we send (RFC 2971): no OS, no version of anything but ours.
DEFAULT_CLIENT_ID = {"name": "termail", "version": "0.1.0"}
#: Capabilities we ENABLE (RFC 5161) when the server offers them.
WANTED_EXTENSIONS = ("CONDSTORE", "QRESYNC", "UTF8=ACCEPT")


# -- bounds -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Limits:
    """What one connection holds for a server, at most; past any bound it is dropped.

    Every figure is far above what a real server sends (the largest real answers are a
    100,000-message folder's SEARCH/SORT line, 700 KB, and the EXPUNGE lines of emptying a big
    folder, 50 bytes each) and far below what would hurt the machine: an endless stream of
    ``* OK [ALERT] xxx...`` took the UI to 5.8 GB before these existed (issue 13).
    """

    max_response_bytes: int = MAX_RESPONSE_BYTES
    """One response, literals included (a whole message fetched at once)."""
    max_line_bytes: int = 64 << 20
    """One line of a response, between literals."""
    max_collected_bytes: int = 128 << 20
    """Untagged responses one command collects (`Response.untagged`), 64 bytes added for each
    one's overhead."""
    max_collected_count: int = 2_000_000
    max_status_responses: int = 1000
    """Untagged OK/NO/BAD one command (or one IDLE wait, or the time between commands) may
    bring: real servers send a handful (progress notes, a keepalive every few minutes)."""
    max_unsolicited_bytes: int = 16 << 20
    """Untagged responses waiting while no command runs (folded at the next command)."""
    max_unsolicited_count: int = 200_000
    max_idle_bytes: int = 16 << 20
    """Pushes received during IDLE and not yet read by `idle_wait`."""
    max_idle_count: int = 200_000
    max_alerts: int = 20
    """Distinct ALERT texts passed on per connection (each at most once); more are dropped."""
    command_deadline: float = 120.0
    """Seconds a command may take in all, however busy the server keeps the line (the
    inactivity timeout restarts on every byte); at least 4 times the account's timeout, plus
    one second for every `deadline_rate` bytes received meanwhile (a big message on a slow
    link is not a trickle). IDLE is exempt: it is meant to last."""
    deadline_rate: int = 64 << 10


DEFAULT_LIMITS = Limits()

#: Bytes counted for each collected response besides its length (the bytes object, the list slot).
_OVERHEAD = 64
#: Longest ALERT text passed on (characters).
_ALERT_MAX = 500


@dataclass(frozen=True, slots=True)
class ServerAlert:
    """A ``[ALERT]`` response code: text the server says the user MUST see (RFC 3501 §7.1).

    `text` is already made safe for a terminal (`app.mime.sanitize.clean_line`, at most 500
    characters); `server` says which server ("host:port"), `command` what was running
    ("" for the greeting or between commands).
    """

    text: str
    server: str
    command: str = ""


def _status_word(resp: bytes) -> bool:
    """Whether `resp` (``* ...``) is an untagged status response: OK, NO, BAD, BYE."""
    head = resp[2:6].upper()
    return head[:3] in (b"OK ", b"NO ") or head in (b"BAD ", b"BYE ") or head in (b"OK", b"NO")


def _alert_text(resp: bytes) -> str | None:
    """The text of a response carrying ``[ALERT]`` (untagged, tagged or greeting), else None."""
    at = resp.find(b"[", 0, 80)
    if at < 0 or resp[at : at + 7].upper() != b"[ALERT]":
        return None
    text = resp[at + 7 : at + 7 + 4 * _ALERT_MAX].decode("utf-8", "replace")
    return clean_line(text.strip(), max_len=_ALERT_MAX) or "(no text)"


# -- results ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Response:
    """A command's completion: `status` OK/NO/BAD, its untagged responses in wire form.

    `untagged` holds each untagged response received while the command ran, literals inline,
    exactly as `parser.parse_untagged` takes it (empty when the caller streamed them through
    `on_untagged`).
    """

    status: str
    untagged: list[bytes]
    code: ResponseCode | None
    text: str
    command: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "OK"

    def check(self) -> Response:
        """Self when OK; otherwise the typed error carrying the server's text and code."""
        if self.status == "OK":
            return self
        if self.status == "NO":
            raise ImapNoError(self.text, self.code, self.command)
        raise ImapBadError(self.text, self.code, self.command)


# -- the protocol -----------------------------------------------------------------------------


class _Pending:
    """A command sent (or being sent) and not yet completed."""

    __slots__ = (
        "collected",
        "error",
        "future",
        "name",
        "noise",
        "on_continuation",
        "on_untagged",
        "pause_on_ok",
        "sent",
        "tag",
        "untagged",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        tag: str,
        name: str,
        on_untagged: Callable[[bytes], None] | None,
        on_continuation: Callable[[bytes], None] | None,
    ) -> None:
        self.tag = tag
        self.name = name
        self.future: asyncio.Future[Response] = loop.create_future()
        self.untagged: list[bytes] = []
        self.on_untagged = on_untagged
        self.on_continuation = on_continuation
        self.sent = False
        self.pause_on_ok = False
        self.error: BaseException | None = None
        self.collected = 0  # bytes in `untagged` (with overhead)
        self.noise = 0  # untagged status responses seen (reset as IDLE pushes are read)

    def fail(self, message: str, *, timeout: bool = False, limit: bool = False) -> None:
        if self.future.done():
            return
        applied = None if self.sent else False
        cls = ImapLimitError if limit else ImapTimeout if timeout else ImapConnectionError
        self.future.set_exception(cls(f"{self.name}: {message}", applied=applied))
        # Nobody may be waiting any more (a cancelled caller): do not warn about it.
        self.future.exception()


class ImapProtocol(_aio.IMAP4ClientProtocol):  # type: ignore[misc]
    """aioimaplib's protocol with the framing, dispatch and connection-loss handling replaced."""

    transport: asyncio.Transport | None

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        conn_lost_cb: Callable[[Exception | None], None] | None = None,
    ) -> None:
        super().__init__(loop, conn_lost_cb)
        self.loop: asyncio.AbstractEventLoop = loop
        self._buf = bytearray()
        self._start = 0  # where the response being framed begins in _buf
        self._scan = 0  # where to look for the next CRLF
        self._lit_end = 0  # end of the literal being received (0: none)
        self._stopped = False  # no framing: STARTTLS answered, or a fatal error
        self.work = 0  # bytes the framer has examined (a linearity check for the tests)
        self.tls_leftover = False
        self.inflight: deque[_Pending] = deque()
        self.by_tag: dict[str, _Pending] = {}
        self.greeting: asyncio.Future[bytes] = loop.create_future()
        self.cont_waiter: asyncio.Future[bytes] | None = None
        self.unsolicited: list[bytes] = []
        self.unsolicited_event = asyncio.Event()
        self.dead = False
        self.dead_reason = ""
        self.bye_text: str | None = None
        self.last_activity = loop.time()
        self.received = 0  # bytes received in all (the deadline grows with them)
        self.lost = asyncio.Event()  # set once the transport is really gone
        self.limits = DEFAULT_LIMITS
        self._unsolicited_bytes = 0
        self._unsolicited_noise = 0
        self.on_alert: Callable[[str, str], None] | None = None
        """Called with (text, command) for each distinct ALERT (at most `limits.max_alerts`)."""
        self.alerts_seen: set[str] = set()
        self.tap: ImapTap | None = None
        """The protocol log of this connection (`app.protolog`), None when nobody logs it."""

    # -- aioimaplib overrides --

    def data_received(self, data: bytes) -> None:  # type: ignore[override]
        """Frame whole responses (lines plus inline literals) in one linear pass."""
        self.last_activity = self.loop.time()
        self.received += len(data)
        if self._stopped:
            if data:
                self.tls_leftover = True
            return
        buf = self._buf
        buf += data
        n = len(buf)
        start = self._start
        scan = self._scan
        lit_end = self._lit_end
        work = 0
        find = buf.find
        while not self._stopped:
            if lit_end:
                if n < lit_end:
                    break
                scan = lit_end
                lit_end = 0
            i = find(b"\r\n", scan)
            if i < 0:
                work += n - scan
                if n - scan > self.limits.max_line_bytes:
                    self._fatal(
                        f"a response line longer than {self.limits.max_line_bytes} bytes",
                        limit=True,
                    )
                    return
                scan = max(scan, n - 1)  # a CR at the very end may pair with the next LF
                break
            work += i + 2 - scan
            if i > start and buf[i - 1] == 0x7D:  # "}": maybe a literal follows
                m = _LITERAL_TAIL.search(buf, max(start, i - 14), i)
                if m is not None:
                    lit_end = i + 2 + int(m.group(1))
                    if lit_end - start > self.limits.max_response_bytes:
                        self._fatal(
                            f"a literal of {int(m.group(1))} bytes announced (at most "
                            f"{self.limits.max_response_bytes} accepted)",
                            limit=True,
                        )
                        return
                    scan = i + 2
                    continue
            if i - start < 65536:
                resp = bytes(buf[start:i])
            else:  # a 100,000-UID SORT line: one copy, not a slice and then a copy of it
                with memoryview(buf) as view:
                    resp = bytes(view[start:i])
            start = scan = i + 2
            self._dispatch(resp)
        self.work += work
        if self._stopped:
            if n > start:
                self.tls_leftover = True
            return
        if start:
            del buf[:start]
            scan -= start
            if lit_end:
                lit_end -= start
            start = 0
        if len(buf) > self.limits.max_response_bytes:
            self._fatal(
                f"a response larger than {self.limits.max_response_bytes} bytes", limit=True
            )
            return
        self._start = start
        self._scan = scan
        self._lit_end = lit_end

    def _handle_responses(
        self, data: bytes, line_handler: Any = None, current_cmd: Any = None
    ) -> None:
        """Upstream #118: the recursive original is replaced by the iterative framer."""
        self.data_received(data)

    def _untagged_response(self, line: bytes) -> None:
        """Never strip '* ' from responses (the original removed it anywhere in the line)."""
        self._dispatch(line)

    async def execute(self, command: Any, scrub: str | None = None) -> Any:
        """aioimaplib's own command path is not used: commands go through `Connection.execute`."""
        raise ImapProtocolError(
            f"aioimaplib command {getattr(command, 'name', command)!r} bypasses the engine"
        )

    def connection_lost(self, exc: Exception | None) -> None:
        reason = "connection closed by the server"
        if self.bye_text:
            reason += f" (BYE {self.bye_text})"
        elif exc is not None:
            reason = f"connection lost: {exc}"
        self.mark_dead(reason)
        self.lost.set()
        super().connection_lost(exc)

    # -- our machinery --

    def mark_dead(self, reason: str, *, timeout: bool = False, limit: bool = False) -> None:
        """Record that no command can run any more and fail everything waiting."""
        if not self.dead:
            self.dead = True
            self.dead_reason = reason
            if self.tap is not None:
                self.tap.note(reason, error=reason != "closed by the client")
        self.state = LOGOUT
        self._stopped = True
        for cmd in list(self.inflight):
            cmd.fail(reason, timeout=timeout, limit=limit)
        self.inflight.clear()
        self.by_tag.clear()
        self.unsolicited = []
        if not self.greeting.done():
            cls = ImapLimitError if limit else ImapConnectionError
            self.greeting.set_exception(cls(reason, applied=False))
            self.greeting.exception()
        if self.cont_waiter is not None and not self.cont_waiter.done():
            self.cont_waiter.set_exception(ImapConnectionError(reason))
            self.cont_waiter.exception()
        self.unsolicited_event.set()

    def _fatal(self, reason: str, *, limit: bool = False) -> None:
        if limit:
            log.warning("IMAP server passed a bound, closing: %s", reason)
            self.mark_dead(f"the server sent too much: {reason}; connection dropped", limit=True)
        else:
            log.warning("IMAP protocol error, closing: %s", reason)
            self.mark_dead(f"protocol error: {reason}")
        if self.transport is not None:
            self.transport.abort()

    def _alert(self, resp: bytes) -> None:
        """Pass an ALERT on, once per text and at most `limits.max_alerts` per connection."""
        text = _alert_text(resp)
        if text is None or text in self.alerts_seen:
            return
        if len(self.alerts_seen) >= self.limits.max_alerts:
            return
        self.alerts_seen.add(text)
        callback = self.on_alert
        if callback is not None:
            command = self.inflight[0].name if self.inflight else ""
            try:
                callback(text, command)
            except Exception:  # the listener's problem must not break the framing
                log.exception("ALERT listener failed")

    def _dispatch(self, resp: bytes) -> None:
        """Route one whole response: greeting, untagged, continuation or tagged completion."""
        tap = self.tap
        if tap is not None:
            tap.response(resp)
        if resp.startswith(b"* "):
            is_status = _status_word(resp)
            if is_status and b"[" in resp[4:12]:
                self._alert(resp)
            if not self.greeting.done():
                self.greeting.set_result(resp)
                return
            if resp[2] in b"Bb" and resp[2:6].upper() == b"BYE ":
                self.bye_text = resp[6:200].decode("utf-8", "replace")
            limits = self.limits
            if self.inflight:
                first = self.inflight[0]
                if is_status:
                    first.noise += 1
                    if first.noise > limits.max_status_responses:
                        self._fatal(
                            f"more than {limits.max_status_responses} untagged status "
                            "responses (OK/NO/BAD) to one command",
                            limit=True,
                        )
                        return
                if first.on_untagged is None:
                    first.collected += len(resp) + _OVERHEAD
                    if (
                        first.collected > limits.max_collected_bytes
                        or len(first.untagged) >= limits.max_collected_count
                    ):
                        self._fatal(
                            f"more than {limits.max_collected_bytes} bytes or "
                            f"{limits.max_collected_count} untagged responses to one command",
                            limit=True,
                        )
                        return
                    first.untagged.append(resp)
                elif first.error is None:
                    try:
                        first.on_untagged(resp)
                    except Exception as exc:  # reported when the command completes
                        first.error = exc
            else:
                self._unsolicited_bytes += len(resp) + _OVERHEAD
                self._unsolicited_noise += is_status
                if (
                    self._unsolicited_bytes > limits.max_unsolicited_bytes
                    or len(self.unsolicited) >= limits.max_unsolicited_count
                    or self._unsolicited_noise > limits.max_status_responses
                ):
                    self._fatal(
                        "an endless stream of untagged responses while no command ran", limit=True
                    )
                    return
                self.unsolicited.append(resp)
                self.unsolicited_event.set()
            return
        if resp[:1] == b"+":
            waiter = self.cont_waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(resp)
                return
            for pending in reversed(self.inflight):
                if pending.on_continuation is not None:
                    pending.on_continuation(resp)
                    return
            log.info("unexpected continuation request ignored: %r", resp[:80])
            return
        if not self.greeting.done():
            self.greeting.set_result(resp)  # not a greeting: the handshake reports it
            return
        if b"[" in resp[:40]:
            self._alert(resp)  # "A1 NO [ALERT] ..." (before the command leaves `inflight`)
        tag = resp.partition(b" ")[0].decode("ascii", "replace")
        cmd = self.by_tag.pop(tag, None)
        if cmd is None:
            self._fatal(f"a completion for an unknown tag: {resp[:60]!r}")
            return
        try:
            self.inflight.remove(cmd)
        except ValueError:  # pragma: no cover - by_tag and inflight always agree
            pass
        try:
            _, status = parser.parse_tagged(resp)
        except parser.ParseError as exc:
            if not cmd.future.done():
                cmd.future.set_exception(ImapProtocolError(f"{cmd.name}: {exc}"))
                cmd.future.exception()
            return
        if cmd.pause_on_ok and status.kind == "OK":
            # STARTTLS: nothing more may be read in plaintext (CVE-2011-0411-style injection).
            self._stopped = True
            if self.transport is not None:
                self.transport.pause_reading()
        if cmd.future.done():
            return
        if cmd.error is not None:
            cmd.future.set_exception(cmd.error)
            cmd.future.exception()
            return
        cmd.future.set_result(
            Response(status.kind, cmd.untagged, status.code, status.text, cmd.name)
        )

    def resume_after_tls(self, transport: asyncio.BaseTransport) -> None:
        """Continue framing on the upgraded transport."""
        self.transport = cast(asyncio.Transport, transport)
        self._buf.clear()
        self._start = self._scan = self._lit_end = 0
        self._stopped = False

    def take_unsolicited(self) -> list[bytes]:
        out = self.unsolicited
        self.unsolicited = []
        self._unsolicited_bytes = self._unsolicited_noise = 0
        self.unsolicited_event.clear()
        return out


# -- helpers ----------------------------------------------------------------------------------


def make_ssl_context(settings: ServerSettings) -> ssl.SSLContext:
    """A verifying client context (system store, or only `ca_file` when one is set)."""
    try:
        ctx = ssl.create_default_context(cafile=settings.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ImapTlsError(f"cannot load the CA file {settings.ca_file!r}: {exc}") from exc
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def _check_arg(arg: str) -> str:
    if _aio.CONTROL_CHARS.search(arg):
        raise ValueError("NUL, CR and LF cannot be sent in an IMAP argument; use a Literal")
    return arg


def _verb(command: str) -> str:
    """The command name that decides valid states: "UID FETCH" -> "UID"."""
    return command.split(" ", 1)[0].upper()


_EXTRA_VALID_STATES = {
    "IDLE": (AUTH, SELECTED),
    "UNSELECT": (SELECTED,),
    "ENABLE": (AUTH,),
    # RFC 4978's grammar makes it a command-auth: authenticated or selected (aioimaplib: the
    # former only). A server refusing it in the selected state goes on uncompressed.
    "COMPRESS": (AUTH, SELECTED),
}


def _valid_states(verb: str) -> tuple[str, ...] | None:
    if verb in _EXTRA_VALID_STATES:
        return _EXTRA_VALID_STATES[verb]
    cmd = _aio.Commands.get(verb)
    return tuple(cmd.valid_states) if cmd is not None else None


class _TunnelTransport(asyncio.Transport):
    """The tunnel process's stdin/stdout seen as one transport by `ImapProtocol`.

    Pipes, not a socketpair: Dovecot's imap binary run as root answers a socket on its stdout
    with "* BAD [ALERT] imap binary must not be started from inetd" and exits.
    """

    def __init__(self, sub: asyncio.SubprocessTransport) -> None:
        super().__init__()
        self._sub = sub
        self._closing = False

    def _stdin(self) -> asyncio.WriteTransport | None:
        pipe = self._sub.get_pipe_transport(0)
        return cast(asyncio.WriteTransport, pipe) if pipe is not None else None

    def _stdout(self) -> asyncio.ReadTransport | None:
        pipe = self._sub.get_pipe_transport(1)
        return cast(asyncio.ReadTransport, pipe) if pipe is not None else None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        pipe = self._stdin()
        if pipe is not None and not self._closing:
            pipe.write(data)

    def is_closing(self) -> bool:
        return self._closing or self._sub.is_closing()

    def close(self) -> None:
        self._closing = True
        pipe = self._stdin()
        if pipe is not None:
            pipe.close()  # EOF: a well-behaved tunnel exits on its own

    def abort(self) -> None:
        self._closing = True
        with contextlib.suppress(ProcessLookupError):
            self._sub.kill()

    def pause_reading(self) -> None:
        pipe = self._stdout()
        if pipe is not None:
            pipe.pause_reading()

    def resume_reading(self) -> None:
        pipe = self._stdout()
        if pipe is not None:
            pipe.resume_reading()

    def is_reading(self) -> bool:
        pipe = self._stdout()
        return pipe is not None and pipe.is_reading()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


class _TunnelProtocol(asyncio.SubprocessProtocol):
    """Feeds the tunnel's stdout to the IMAP protocol and keeps the tail of its stderr."""

    def __init__(self, imap: ImapProtocol) -> None:
        self.imap = imap
        self.stderr = bytearray()
        self.transport: asyncio.SubprocessTransport | None = None
        self._lost = False
        self.exited: asyncio.Future[int | None] = imap.loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.SubprocessTransport, transport)
        self.imap.connection_made(_TunnelTransport(self.transport))

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if fd == 1:
            self.imap.data_received(data)
        else:
            self.stderr += data
            if len(self.stderr) > 8192:
                del self.stderr[:-4096]

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 1:
            self._lose(exc)

    def process_exited(self) -> None:
        self._lose(None)
        if not self.exited.done() and self.transport is not None:
            self.exited.set_result(self.transport.get_returncode())

    def _lose(self, exc: Exception | None) -> None:
        if not self._lost:
            self._lost = True
            if self.imap.transport is not None:
                self.imap.connection_lost(exc)

    def describe(self) -> str:
        text = self.stderr.decode("utf-8", "replace").strip()
        return f" (tunnel said: {text[-300:]})" if text else ""

    async def stop(self) -> None:
        """Close stdin, give the process a moment to leave, then terminate and kill it."""
        sub = self.transport
        if sub is None:
            return
        try:
            for action in ("close", "terminate", "kill"):
                if self.exited.done() or sub.get_returncode() is not None:
                    break
                with contextlib.suppress(ProcessLookupError, OSError):
                    if action == "close":
                        pipe = sub.get_pipe_transport(0)
                        if pipe is not None:
                            pipe.close()
                    elif action == "terminate":
                        sub.terminate()
                    else:
                        sub.kill()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(self.exited), 1.0)
        finally:
            sub.close()  # kills the process if it is still there


# -- the connection ---------------------------------------------------------------------------


class _IdleQueue:
    """Pushes received during IDLE and not yet read, with their size (bounded by `Limits`)."""

    __slots__ = ("event", "pushed", "size")

    def __init__(self) -> None:
        self.pushed: deque[bytes] = deque()
        self.size = 0
        self.event = asyncio.Event()


class Connection(_aio.IMAP4):  # type: ignore[misc]
    """One IMAP connection: open it with `Connection.open`, then `execute` commands.

    Not safe to share between tasks that each expect their own untagged responses: commands run
    one at a time (a lock), and the untagged responses of a command belong to it.
    """

    protocol: ImapProtocol

    def __init__(
        self,
        settings: ServerSettings,
        *,
        sock: socket.socket | None = None,
        ssl_context: ssl.SSLContext | None = None,
        limits: Limits | None = None,
        on_alert: Callable[[ServerAlert], None] | None = None,
    ) -> None:
        self.settings = settings
        self._sock = sock
        self._tunnel: _TunnelProtocol | None = None
        self._lock = asyncio.Lock()
        self._idle: tuple[_Pending, _IdleQueue] | None = None
        self.limits = limits or DEFAULT_LIMITS
        self.on_alert = on_alert
        self.is_tls = ssl_context is not None
        self.is_compressed = False
        self.is_tunnel = bool(settings.tunnel)
        self.preauth = False
        self.enabled: frozenset[str] = frozenset()
        self.will_compress = False
        """Logged in, COMPRESS=DEFLATE offered and wanted, not begun yet (see `open`'s `then`)."""
        self.opening: list[Response] = []
        """The completions of `open`'s `then` commands (the caller takes them)."""
        self.server_id: dict[str, str | None] = {}
        self.greeting_text = ""
        super().__init__(
            host=settings.host,
            port=settings.port,
            timeout=settings.timeout,
            ssl_context=ssl_context,
        )
        self.protocol.limits = self.limits
        self.protocol.on_alert = self._alert
        tap = self.protocol.tap = imap_tap(settings)
        if tap is not None:
            how = "a tunnel" if settings.tunnel else f"{settings.host}:{settings.port}"
            tls = {"implicit": " (TLS)", "starttls": " (STARTTLS)"}.get(settings.tls.value, "")
            tls = "" if settings.tunnel else tls or " (no TLS)"
            tap.note(f"connecting to {how}{tls}")
        #: A command's time in all (`Limits.command_deadline`, at least 4 inactivity timeouts).
        self.command_deadline = max(self.limits.command_deadline, 4 * float(self.timeout))

    def _alert(self, text: str, command: str) -> None:
        if self.on_alert is not None:
            self.on_alert(ServerAlert(text, self._where(), command))

    # -- aioimaplib hooks --

    def create_client(
        self,
        host: str,
        port: int,
        loop: asyncio.AbstractEventLoop | None,
        conn_lost_cb: Callable[[Exception | None], None] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """aioimaplib's set-up, with our protocol and an optional ready socket (tunnel)."""
        local_loop = loop if loop is not None else asyncio.get_running_loop()
        self.protocol = ImapProtocol(local_loop, conn_lost_cb)
        coro: Any
        if self.settings.tunnel:
            self._tunnel = _TunnelProtocol(self.protocol)
            tunnel = self._tunnel
            coro = local_loop.subprocess_shell(
                lambda: tunnel,
                self.settings.tunnel,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        elif self._sock is not None:
            coro = local_loop.create_connection(lambda: self.protocol, sock=self._sock)
        else:
            coro = local_loop.create_connection(
                lambda: self.protocol,
                host,
                port,
                ssl=ssl_context,
                server_hostname=host if ssl_context is not None else None,
            )
        self._client_task = local_loop.create_task(coro)

    async def _wait_connection_and_hello(self) -> None:
        await self._client_task
        await asyncio.shield(self.protocol.greeting)

    # -- properties --

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset(self.protocol.capabilities)

    @property
    def state(self) -> str:
        return str(self.protocol.state)

    @property
    def closed(self) -> bool:
        return self.protocol.dead

    @property
    def utf8(self) -> bool:
        """UTF8=ACCEPT is enabled: mailbox names are UTF-8 on the wire, not modified UTF-7."""
        return "UTF8=ACCEPT" in self.enabled

    @property
    def secure(self) -> bool:
        """Credentials may be sent: TLS is up, or it is a tunnel (its own channel)."""
        return self.is_tls or self.is_tunnel

    def has_capability(self, capability: str) -> bool:
        return capability.upper() in self.protocol.capabilities

    # -- opening --

    @classmethod
    async def open(
        cls,
        settings: ServerSettings,
        credentials: Credentials | None,
        *,
        client_id: dict[str, str] | None = None,
        limits: Limits | None = None,
        on_alert: Callable[[ServerAlert], None] | None = None,
        then: Callable[[Connection], Sequence[tuple[str, Sequence[Arg]]]] | None = None,
    ) -> Connection:
        """Connect, secure, authenticate, and enable extensions; raise a typed error otherwise.

        `on_alert` receives every ALERT the server sends from the greeting on (once per text);
        `limits` bound what the server may make us hold (`DEFAULT_LIMITS`).

        `then(conn)` is called once logged in (the capabilities are the server's post-login
        ones; `will_compress` says whether COMPRESS follows) and the commands it returns go
        out in the same round trip as ID and ENABLE (RFC 9051 5.5: none waits on another's
        answer; literals must be non-synchronising). Their completions are in `opening`, in
        order, each with its own untagged responses, not yet parsed: they are read after the
        ENABLE's answer is known (UTF8=ACCEPT changes how names are read)."""
        if settings.tunnel:
            conn = cls(settings, limits=limits, on_alert=on_alert)
        else:
            ctx = make_ssl_context(settings) if settings.tls is TlsMode.IMPLICIT else None
            conn = cls(settings, ssl_context=ctx, limits=limits, on_alert=on_alert)
        try:
            await conn._handshake(credentials, client_id or DEFAULT_CLIENT_ID, then)
        except BaseException:
            await conn.disconnect(logout=False)
            raise
        return conn

    async def _handshake(
        self,
        credentials: Credentials | None,
        client_id: dict[str, str],
        then: Callable[[Connection], Sequence[tuple[str, Sequence[Arg]]]] | None = None,
    ) -> None:
        greeting = await self._read_greeting()
        if greeting.kind == "BYE":
            raise ImapConnectionError(f"the server refused the connection: {greeting.text}")
        if greeting.kind == "PREAUTH":
            self._check_preauth(credentials)
            self.preauth = True
            self.protocol.state = AUTH
        elif greeting.kind == "OK":
            self.protocol.state = NONAUTH
        else:
            raise ImapProtocolError(f"unexpected greeting: {greeting.kind} {greeting.text}")
        self.greeting_text = greeting.text
        if not self._caps_from_code(greeting.code):
            await self.refresh_capabilities()
        if self.protocol.state == NONAUTH:
            if self.settings.tls is TlsMode.STARTTLS and not self.is_tunnel:
                await self.starttls()
            if credentials is None:
                raise ImapAuthError("the server asks for a login and no credentials were given")
            await self.authenticate(credentials)
        self.will_compress = bool(
            self.settings.compress
            and not self.is_tunnel
            and self.has_capability("COMPRESS=DEFLATE")
        )
        await self._setup(client_id, then)

    async def _setup(
        self,
        client_id: dict[str, str],
        then: Callable[[Connection], Sequence[tuple[str, Sequence[Arg]]]] | None,
    ) -> None:
        """ID, ENABLE, the caller's `then` commands and COMPRESS in one round trip (RFC 9051
        5.5: none of them waits on another's answer). COMPRESS goes last: nothing may follow
        it before its OK (RFC 4978), and from that OK on both directions are deflated."""
        commands: list[tuple[str, Sequence[Arg]]] = []
        if self.has_capability("ID"):
            items = " ".join(f"{parser.quote(k)} {parser.quote(v)}" for k, v in client_id.items())
            commands.append(("ID", [f"({items})" if items else "NIL"]))
        offered = [w for w in WANTED_EXTENSIONS if self.has_capability(w)]
        enable_at = -1
        if self.has_capability("ENABLE") and self.state == AUTH and offered:
            enable_at = len(commands)
            commands.append(("ENABLE", offered))
        fixed = len(commands)
        if then is not None:
            commands.extend(then(self))
        extra = len(commands) - fixed
        if self.will_compress:
            commands.append(("COMPRESS", ["DEFLATE"]))
        if not commands:
            return
        responses = await self.batch(commands, pause_last_on_ok=self.will_compress)
        enabled = set(self.enabled)
        enable_ok = enable_at >= 0 and responses[enable_at].ok
        # Read by kind from the whole batch: a server may run pipelined commands at once, and
        # an answer can come before the completion of the command sent ahead of its own.
        for resp in responses:
            for raw in resp.untagged:
                if raw[2:4].upper() not in (b"ID", b"EN"):
                    continue
                # An ID the server refuses or answers oddly is ignored, as in `send_id`.
                with contextlib.suppress(ImapProtocolError):
                    data = self._parse(raw)
                    if isinstance(data, parser.IdData):
                        self.server_id = data.params
                    elif isinstance(data, parser.EnabledData) and enable_ok:
                        enabled |= data.capabilities
        self.enabled = frozenset(enabled)
        self.opening = responses[fixed : fixed + extra]
        if self.will_compress:
            self._begin_compression(responses[-1])

    async def _read_greeting(self) -> parser.StatusResponse:
        where = self._where()
        try:
            await self.wait_hello_from_server()
        except ssl.SSLCertVerificationError as exc:
            raise ImapTlsError(
                f"the certificate of {where} is not trusted: {exc.verify_message or exc}"
            ) from exc
        except ssl.SSLError as exc:
            raise ImapTlsError(f"TLS with {where} failed: {exc}") from exc
        except ImapError:
            if self._tunnel is not None:
                await asyncio.sleep(0.05)  # let the stderr reader catch the reason
                raise ImapConnectionError(
                    f"the tunnel closed before greeting{self._tunnel.describe()}", applied=False
                ) from None
            raise
        except TimeoutError as exc:
            raise ImapTimeout(f"no greeting from {where}", applied=False) from exc
        except OSError as exc:
            raise ImapConnectionError(
                f"cannot connect to {where}: {exc.strerror or exc}", applied=False
            ) from exc
        raw = self.protocol.greeting.result()
        try:
            status = parser.parse_untagged(raw)
        except parser.ParseError as exc:
            raise ImapProtocolError(f"unreadable greeting: {raw[:80]!r}") from exc
        if not isinstance(status, parser.StatusResponse):
            raise ImapProtocolError(f"unexpected greeting: {raw[:80]!r}")
        return status

    def _where(self) -> str:
        if self.settings.tunnel:
            return "the tunnel"
        return f"{self.settings.host}:{self.settings.port}"

    def _check_preauth(self, credentials: Credentials | None) -> None:
        """PREAUTH is fine on a tunnel; elsewhere it may be an attacker skipping TLS or login."""
        if self.is_tunnel:
            return
        if self.settings.tls is TlsMode.STARTTLS:
            raise ImapTlsError(
                "the server greeted with PREAUTH on a connection that must be upgraded with "
                "STARTTLS: a man in the middle could be keeping it in plaintext; stopped"
            )
        if credentials is not None:
            raise ImapAuthError(
                "the server greeted with PREAUTH where a login was expected: it may not be the "
                "account's server; stopped before sending anything"
            )

    def _caps_from_code(self, code: ResponseCode | None) -> bool:
        if code is not None and code.name == "CAPABILITY" and isinstance(code.value, frozenset):
            self._set_capabilities(code.value)
            return True
        return False

    def _set_capabilities(self, caps: frozenset[str]) -> None:
        self.protocol.capabilities = set(caps)
        versions = [c for c in caps if c in _aio.AllowedVersions]
        self.protocol.imap_version = versions[0] if versions else None

    async def refresh_capabilities(self) -> frozenset[str]:
        """CAPABILITY: needed after the greeting (if it had none), STARTTLS and login."""
        resp = (await self.execute("CAPABILITY")).check()
        caps: set[str] = set()
        for raw in resp.untagged:
            data = self._parse(raw)
            if isinstance(data, parser.CapabilityData):
                caps |= data.capabilities
        self._set_capabilities(frozenset(caps))
        return self.capabilities

    def _parse(self, raw: bytes) -> parser.Untagged:
        try:
            return parser.parse_untagged(raw, utf8=self.utf8)
        except parser.ParseError as exc:
            raise ImapProtocolError(f"unreadable response {raw[:60]!r}: {exc}") from exc

    async def starttls(self) -> None:
        """Upgrade to TLS, refusing to go on when the server does not offer it."""
        if not self.has_capability("STARTTLS"):
            raise ImapTlsError(
                f"{self._where()} does not offer STARTTLS, which this account requires; "
                "no credentials were sent"
            )
        resp = await self.execute("STARTTLS", _pause_on_ok=True)
        if not resp.ok:
            raise ImapTlsError(f"STARTTLS refused: {resp.text}")
        if self.protocol.tls_leftover:
            raise ImapTlsError("the server sent data after STARTTLS before TLS began; stopped")
        ctx = make_ssl_context(self.settings)
        loop = asyncio.get_running_loop()
        plain = self.protocol.transport
        if plain is None or self.protocol.dead:
            raise ImapConnectionError("connection lost before TLS", applied=False)
        try:
            transport = await asyncio.wait_for(
                loop.start_tls(plain, self.protocol, ctx, server_hostname=self.settings.host),
                self.timeout,
            )
        except ssl.SSLCertVerificationError as exc:
            raise ImapTlsError(
                f"the certificate of {self._where()} is not trusted: {exc.verify_message or exc}"
            ) from exc
        except ssl.SSLError as exc:
            raise ImapTlsError(f"TLS with {self._where()} failed: {exc}") from exc
        except TimeoutError as exc:
            raise ImapTimeout("TLS handshake timed out", applied=False) from exc
        except (OSError, RuntimeError) as exc:
            raise ImapConnectionError(f"TLS upgrade failed: {exc}", applied=False) from exc
        if transport is None:  # pragma: no cover - start_tls returns a transport or raises
            raise ImapTlsError("TLS upgrade failed")
        self.protocol.resume_after_tls(transport)
        self.is_tls = True
        if self.protocol.tap is not None:
            self.protocol.tap.note("TLS started")
        await self.refresh_capabilities()  # what was said in plaintext is void

    async def start_compression(self) -> None:
        """COMPRESS DEFLATE (RFC 4978): from the server's OK on, both directions are deflated."""
        resp = await self.execute("COMPRESS", "DEFLATE", _pause_on_ok=True)
        self._begin_compression(resp)

    def _begin_compression(self, resp: Response) -> None:
        """After COMPRESS's completion (framing paused at its OK): deflate from here on."""
        self.will_compress = False
        if not resp.ok:
            log.info("COMPRESS refused, going on uncompressed: %s", resp.text)
            return
        if self.protocol.tls_leftover:
            raise ImapProtocolError("the server sent data after COMPRESS before it began")
        transport = self.protocol.transport
        if transport is None or self.protocol.dead:
            raise ImapConnectionError("connection lost before compression", applied=False)
        self.protocol.resume_after_tls(DeflateTransport(transport, self.protocol))
        self.is_compressed = True
        if self.protocol.tap is not None:
            self.protocol.tap.note("compression (DEFLATE) started")
        transport.resume_reading()

    def _require_secure(self) -> None:
        if not self.secure and not self.settings.allow_insecure:
            raise ImapTlsError(
                "refusing to send credentials over a connection without TLS "
                "(set allow_insecure = true for this account to allow it)"
            )

    async def authenticate(self, credentials: Credentials) -> Response:
        """Log in with the account's mechanism ("auto": XOAUTH2 with a token, else PLAIN, else LOGIN)."""
        self._require_secure()
        mech = (self.settings.auth or "auto").lower()
        if mech == "auto":
            if credentials.oauth2_token:
                mech = "xoauth2"
            elif self.has_capability("AUTH=PLAIN"):
                mech = "plain"
            else:
                mech = "login"
        user = credentials.username
        if mech == "xoauth2":
            if not credentials.oauth2_token:
                raise ImapAuthError("XOAUTH2 needs a token and none was given")
            resp = await self.xoauth2(user, credentials.oauth2_token)
        elif mech == "plain":
            resp = await self.authenticate_plain(user, credentials.password or "")
        elif mech == "login":
            if self.has_capability("LOGINDISABLED"):
                raise ImapAuthError("the server disabled LOGIN here (LOGINDISABLED)")
            resp = await self.login(user, credentials.password or "")
        else:
            raise ImapAuthError(f"unknown authentication mechanism {mech!r}")
        return resp

    def _after_auth(self, resp: Response, what: str) -> Response:
        if not resp.ok:
            raise ImapAuthError(resp.text, resp.code, what)
        self.protocol.state = AUTH
        return resp

    async def _finish_auth(self, resp: Response, what: str) -> Response:
        self._after_auth(resp, what)
        if not self._caps_from_code(resp.code):
            await self.refresh_capabilities()
        return resp

    async def login(self, user: str, password: str) -> Response:
        """LOGIN with both arguments quoted or sent as literals as needed."""
        self._require_secure()
        resp = await self.execute("LOGIN", parser.astring_arg(user), parser.astring_arg(password))
        return await self._finish_auth(resp, "LOGIN")

    async def authenticate_plain(self, user: str, password: str) -> Response:
        """AUTHENTICATE PLAIN (RFC 4616), the initial response inline when SASL-IR is offered."""
        self._require_secure()
        blob = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode())
        return await self._sasl("PLAIN", blob, b"*")

    async def xoauth2(self, user: str, token: str) -> Response:
        """AUTHENTICATE XOAUTH2; a failure challenge is answered so the NO arrives (no hang)."""
        self._require_secure()
        blob = base64.b64encode(f"user={user}\x01auth=Bearer {token}\x01\x01".encode())
        return await self._sasl("XOAUTH2", blob, b"")

    async def _sasl(self, mechanism: str, blob: bytes, on_error: bytes) -> Response:
        """One-step SASL: send `blob` (inline with SASL-IR), answer any further challenge with
        `on_error` (an empty response for XOAUTH2's error JSON, "*" to cancel PLAIN)."""
        inline = self.has_capability("SASL-IR")
        sent_blob = inline

        def on_continuation(_line: bytes) -> None:
            nonlocal sent_blob
            transport = self.protocol.transport
            if transport is None:
                return
            tap = self.protocol.tap
            if not sent_blob:
                sent_blob = True
                if tap is not None:
                    tap.secret(f"AUTHENTICATE {mechanism} response")
                transport.write(blob + b"\r\n")
            else:
                if tap is not None:
                    tap.sent(on_error.decode("ascii") or "(empty response)")
                transport.write(on_error + b"\r\n")

        args: list[Arg] = [mechanism]
        if inline:
            args.append(blob.decode("ascii"))
        resp = await self.execute("AUTHENTICATE", *args, on_continuation=on_continuation)
        return await self._finish_auth(resp, f"AUTHENTICATE {mechanism}")

    async def send_id(self, params: dict[str, str]) -> dict[str, str | None]:
        """ID (RFC 2971); the server's answer is kept in `server_id`. Failures are ignored."""
        items = " ".join(f"{parser.quote(k)} {parser.quote(v)}" for k, v in params.items())
        try:
            resp = await self.execute("ID", f"({items})" if items else "NIL")
        except ImapProtocolError:
            return {}
        if resp.ok:
            for raw in resp.untagged:
                with contextlib.suppress(ImapProtocolError):
                    data = self._parse(raw)
                    if isinstance(data, parser.IdData):
                        self.server_id = data.params
        return self.server_id

    async def enable_extensions(self, wanted: Sequence[str] = WANTED_EXTENSIONS) -> frozenset[str]:
        """ENABLE what the server offers of `wanted`; `enabled` says what took."""
        if not self.has_capability("ENABLE") or self.state != AUTH:
            return self.enabled
        offered = [w for w in wanted if self.has_capability(w)]
        if not offered:
            return self.enabled
        resp = await self.execute("ENABLE", *offered)
        enabled = set(self.enabled)
        if resp.ok:
            for raw in resp.untagged:
                data = self._parse(raw)
                if isinstance(data, parser.EnabledData):
                    enabled |= data.capabilities
        self.enabled = frozenset(enabled)
        return self.enabled

    # -- commands --

    def mailbox_arg(self, name: str) -> Arg:
        """A mailbox name ready to send: encoded (modified UTF-7 unless UTF8=ACCEPT) and quoted."""
        return parser.astring_arg(name if self.utf8 else encode_mailbox(name))

    def take_unsolicited(self) -> list[bytes]:
        """Untagged responses that arrived while no command was running (wire form)."""
        return self.protocol.take_unsolicited()

    async def execute(
        self,
        command: str,
        *args: Arg,
        timeout: float | None = None,
        on_untagged: Callable[[bytes], None] | None = None,
        on_continuation: Callable[[bytes], None] | None = None,
        _pause_on_ok: bool = False,
    ) -> Response:
        """Run one command and return its completion (NO and BAD are returned, not raised).

        `command` is the command name and any fixed words ("UID FETCH"); each `arg` is sent as
        it is (a `str`, already an atom, quoted string, list or sequence set) or as a literal
        (`Literal`). `on_untagged` receives each untagged response as it arrives instead of
        collecting them. `timeout` is an inactivity timeout: the command fails when nothing has
        arrived for that long, and the connection is closed (it could not be trusted after).
        """
        limit = self.timeout if timeout is None else timeout
        async with self._lock:
            await self._drain(limit)
            cmd = self._new_command(command, on_untagged, on_continuation)
            cmd.pause_on_ok = _pause_on_ok
            await self._send(cmd, command, args, limit)
            resp = await self._wait(cmd, limit)
        self._track_state(command, resp)
        return resp

    async def pipeline(
        self,
        commands: Sequence[tuple[str, Sequence[Arg]]],
        *,
        on_untagged: Callable[[bytes], None],
        timeout: float | None = None,
        depth: int = 3,
    ) -> list[Response]:
        """Run several commands with up to `depth` in flight, so the server never waits for us.

        Only for commands whose untagged responses need no attribution (FETCHes keyed by UID):
        they all go to `on_untagged`. Literals must be non-synchronising (LITERAL+).
        """
        limit = self.timeout if timeout is None else timeout
        results: list[Response] = []
        async with self._lock:
            await self._drain(limit)
            window: deque[_Pending] = deque()
            for command, args in commands:
                if len(window) >= depth:
                    results.append(await self._wait(window.popleft(), limit))
                cmd = self._new_command(command, on_untagged, None)
                await self._send(cmd, command, args, limit)
                window.append(cmd)
            while window:
                results.append(await self._wait(window.popleft(), limit))
        return results

    async def batch(
        self,
        commands: Sequence[tuple[str, Sequence[Arg]]],
        *,
        timeout: float | None = None,
        pause_last_on_ok: bool = False,
    ) -> list[Response]:
        """Send every command at once and return their completions, in order, each with its
        own untagged responses (the server answers in order, RFC 9051 5.5; what arrives before
        a completion belongs to it, unsolicited EXISTS and the like included).

        For commands that do not depend on one another's answers; a SELECT or EXAMINE counts
        as done for the commands after it (UID SORT right behind SELECT). NO and BAD are
        returned, not raised. `pause_last_on_ok`: framing stops at the last one's OK (COMPRESS).
        """
        limit = self.timeout if timeout is None else timeout
        results: list[Response] = []
        async with self._lock:
            await self._drain(limit)
            state = self.protocol.state
            sent: list[tuple[str, _Pending]] = []
            for index, (command, args) in enumerate(commands):
                cmd = self._new_command(command, None, None, state=state)
                cmd.pause_on_ok = pause_last_on_ok and index == len(commands) - 1
                await self._send(cmd, command, args, limit)
                sent.append((command, cmd))
                if _verb(command) in ("SELECT", "EXAMINE"):
                    state = SELECTED
            for command, cmd in sent:
                resp = await self._wait(cmd, limit)
                self._track_state(command, resp)
                results.append(resp)
        return results

    def _new_command(
        self,
        command: str,
        on_untagged: Callable[[bytes], None] | None,
        on_continuation: Callable[[bytes], None] | None,
        *,
        state: str | None = None,
    ) -> _Pending:
        proto = self.protocol
        if proto.dead:
            raise ImapConnectionError(
                f"{_verb(command)}: {proto.dead_reason or 'not connected'}", applied=False
            )
        verb = _verb(command)
        states = _valid_states(verb)
        if states is not None and (state or proto.state) not in states:
            raise ImapProtocolError(f"{command} is not allowed in state {state or proto.state}")
        cmd = _Pending(proto.loop, proto.new_tag(), command, on_untagged, on_continuation)
        return cmd

    async def _send(self, cmd: _Pending, command: str, args: Sequence[Arg], limit: float) -> None:
        """Write the command, literals with LITERAL+ or after the server's continuation."""
        proto = self.protocol
        plus = self.has_capability("LITERAL+")
        minus = self.has_capability("LITERAL-")
        binary = self.has_capability("BINARY")
        out = bytearray(f"{cmd.tag} {_check_arg(command)}".encode())
        pieces: list[bytes] = []  # each piece ends where a synchronising literal must wait
        for arg in args:
            out += b" "
            if isinstance(arg, Literal):
                data = arg.data
                prefix = b"~" if binary and b"\x00" in data else b""
                if plus or (minus and len(data) <= _LITERAL_MINUS_MAX):
                    out += prefix + b"{%d+}\r\n" % len(data) + data
                else:
                    out += prefix + b"{%d}\r\n" % len(data)
                    pieces.append(bytes(out))
                    out = bytearray(data)
            else:
                out += _check_arg(arg).encode("utf-8")
        out += b"\r\n"
        pieces.append(bytes(out))
        if proto.tap is not None:
            proto.tap.command(cmd.tag, command, args)
        proto.inflight.append(cmd)
        proto.by_tag[cmd.tag] = cmd
        try:
            for index, piece in enumerate(pieces):
                if index and not await self._wait_continuation(cmd, limit):
                    return  # the server answered the command instead (NO/BAD)
                self._write(piece)
                cmd.sent = True
        except asyncio.CancelledError:
            # A half-sent command leaves the stream undefined: the connection cannot go on.
            if len(pieces) > 1:
                self._kill("cancelled while sending a command")
            raise

    async def _wait_continuation(self, cmd: _Pending, limit: float) -> bool:
        proto = self.protocol
        waiter: asyncio.Future[bytes] = proto.loop.create_future()
        proto.cont_waiter = waiter
        started = proto.loop.time()
        try:
            while True:
                both: set[asyncio.Future[Any]] = {waiter, cmd.future}
                done, _ = await asyncio.wait(
                    both, timeout=limit, return_when=asyncio.FIRST_COMPLETED
                )
                if waiter in done:
                    waiter.result()  # raises when the connection died
                    return True
                if cmd.future in done:
                    return False
                if proto.loop.time() - proto.last_activity >= limit:
                    self._kill(f"no continuation within {limit:g} s", timeout=True)
                    return False
                if proto.loop.time() - started >= self.command_deadline:
                    self._kill(f"no continuation after {self.command_deadline:g} s", timeout=True)
                    return False
        finally:
            proto.cont_waiter = None

    def _write(self, data: bytes) -> None:
        proto = self.protocol
        if proto.dead or proto.transport is None or proto.transport.is_closing():
            reason = proto.dead_reason or "not connected"
            proto.mark_dead(reason)  # fails whatever was waiting, so nothing waits in vain
            raise ImapConnectionError(reason, applied=False)
        proto.transport.write(data)

    async def _wait(self, cmd: _Pending, limit: float) -> Response:
        """Wait for the completion; `limit` seconds without any data from the server is fatal,
        and so is a command not finished after `command_deadline` s, busy line or not."""
        proto = self.protocol
        loop = proto.loop
        started = loop.time()
        received = proto.received
        rate = self.limits.deadline_rate
        while not cmd.future.done():
            now = loop.time()
            idle_for = now - max(proto.last_activity, started)
            remaining = limit - idle_for
            if remaining <= 0:
                self._kill(f"no answer within {limit:g} s; connection dropped", timeout=True)
                break
            # A command given a longer silence than the deadline (a SORT) gets that long at least.
            deadline = max(self.command_deadline, limit) + (proto.received - received) / rate
            left = deadline - (now - started)
            if left <= 0:
                self._kill(
                    f"not finished after {deadline:.0f} s although the server kept sending; "
                    "connection dropped",
                    timeout=True,
                )
                break
            await asyncio.wait({cmd.future}, timeout=min(remaining, left))
        return cmd.future.result()

    async def _drain(self, limit: float) -> None:
        """Wait until commands abandoned by cancelled callers have completed."""
        proto = self.protocol
        while proto.inflight and not proto.dead:
            await self._wait(proto.inflight[-1], limit)

    def _kill(self, reason: str, *, timeout: bool = False) -> None:
        proto = self.protocol
        proto.mark_dead(reason, timeout=timeout)
        if proto.transport is not None:
            proto.transport.abort()

    def _track_state(self, command: str, resp: Response) -> None:
        verb = _verb(command)
        proto = self.protocol
        if proto.dead:
            return
        if verb in ("SELECT", "EXAMINE"):
            proto.state = SELECTED if resp.ok else AUTH
        elif verb in ("CLOSE", "UNSELECT") and resp.ok:
            proto.state = AUTH

    # -- IDLE --

    async def idle_start(self, timeout: float | None = None) -> None:  # type: ignore[override]
        """Send IDLE and wait for the server's go-ahead (upstream #110: never hangs on close).

        Holds the command lock until `idle_done`; pushes are read with `idle_wait`.
        """
        if not self.has_capability("IDLE"):
            raise ImapProtocolError("the server does not offer IDLE")
        limit = self.timeout if timeout is None else timeout
        await self._lock.acquire()
        try:
            await self._drain(limit)
            proto = self.protocol
            queue = _IdleQueue()
            ack: asyncio.Future[bytes] = proto.loop.create_future()
            limits = self.limits

            def on_untagged(raw: bytes) -> None:
                queue.pushed.append(raw)
                queue.size += len(raw) + _OVERHEAD
                queue.event.set()
                if queue.size > limits.max_idle_bytes or len(queue.pushed) > limits.max_idle_count:
                    proto._fatal("an endless stream of responses during IDLE", limit=True)

            def on_continuation(line: bytes) -> None:
                if not ack.done():
                    ack.set_result(line)

            cmd = self._new_command("IDLE", on_untagged, on_continuation)
            await self._send(cmd, "IDLE", (), limit)
            both: set[asyncio.Future[Any]] = {ack, cmd.future}
            done, _ = await asyncio.wait(both, timeout=limit, return_when=asyncio.FIRST_COMPLETED)
            if cmd.future in done:
                cmd.future.result().check()  # raises ImapConnectionError when closed, NO/BAD
                raise ImapProtocolError("IDLE ended before it began")
            if not done:
                self._kill("no answer to IDLE", timeout=True)
                cmd.future.result()
            self._idle = (cmd, queue)
        except BaseException:
            self._lock.release()
            raise

    async def idle_wait(self, timeout: float) -> list[bytes]:
        """Pushed untagged responses, waiting up to `timeout` s for the first (empty if none).

        Raises `ImapConnectionError` once the connection is gone (BYE, close, reset): a BYE
        during IDLE no longer leaves the waiter hanging.
        """
        if self._idle is None:
            raise ImapProtocolError("not idling")
        cmd, queue = self._idle
        pushed = queue.pushed
        if not pushed and not cmd.future.done():
            waiter = asyncio.ensure_future(queue.event.wait())
            try:
                both: set[asyncio.Future[Any]] = {waiter, cmd.future}
                await asyncio.wait(both, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
        queue.event.clear()
        out = list(pushed)
        pushed.clear()
        queue.size = 0
        cmd.noise = 0  # keepalives over a long IDLE are not a flood: counted per read
        if not out and cmd.future.done():
            exc = cmd.future.exception()
            if exc is not None:
                raise exc
            raise ImapProtocolError("the server ended IDLE on its own")
        return out

    async def idle_done(self, timeout: float | None = None) -> Response:
        """Send DONE and wait for IDLE's completion; returns it with any pushes not yet read."""
        if self._idle is None:
            raise ImapProtocolError("not idling")
        cmd, queue = self._idle
        pushed = queue.pushed
        limit = self.timeout if timeout is None else timeout
        self._idle = None
        try:
            if not cmd.future.done():
                if self.protocol.tap is not None:
                    self.protocol.tap.sent("DONE")
                self._write(b"DONE\r\n")
            resp = await self._wait(cmd, limit)
            resp.untagged[:0] = list(pushed)
            return resp
        finally:
            self._lock.release()

    # -- mailbox commands (arguments quoted: aioimaplib sent them bare) --

    async def select(self, mailbox: str = "INBOX", *extra: Arg) -> Response:  # type: ignore[override]
        return await self.execute("SELECT", self.mailbox_arg(mailbox), *extra)

    async def examine(self, mailbox: str = "INBOX", *extra: Arg) -> Response:  # type: ignore[override]
        return await self.execute("EXAMINE", self.mailbox_arg(mailbox), *extra)

    async def create(self, mailbox_name: str) -> Response:  # type: ignore[override]
        return await self.execute("CREATE", self.mailbox_arg(mailbox_name))

    async def delete(self, mailbox_name: str) -> Response:  # type: ignore[override]
        return await self.execute("DELETE", self.mailbox_arg(mailbox_name))

    async def rename(self, old_mailbox_name: str, new_mailbox_name: str) -> Response:  # type: ignore[override]
        return await self.execute(
            "RENAME", self.mailbox_arg(old_mailbox_name), self.mailbox_arg(new_mailbox_name)
        )

    async def subscribe(self, mailbox: str) -> Response:  # type: ignore[override]
        return await self.execute("SUBSCRIBE", self.mailbox_arg(mailbox))

    async def unsubscribe(self, mailbox: str) -> Response:  # type: ignore[override]
        return await self.execute("UNSUBSCRIBE", self.mailbox_arg(mailbox))

    async def status(self, mailbox: str, names: str) -> Response:  # type: ignore[override]
        return await self.execute("STATUS", self.mailbox_arg(mailbox), names)

    async def noop(self) -> Response:  # type: ignore[override]
        return await self.execute("NOOP")

    async def logout(self) -> Response:  # type: ignore[override]
        resp = await self.execute("LOGOUT", timeout=min(self.timeout, 5.0))
        self.protocol.state = LOGOUT
        return resp

    async def disconnect(self, *, logout: bool = True) -> None:
        """LOGOUT (when idle and asked to), close the transport, stop a tunnel.

        Whatever happens (a timeout, cancellation), the transport is closed and, if the peer
        does not finish the close within a second, aborted: no socket is left behind.
        """
        proto = self.protocol
        try:
            polite = not proto.dead and not proto.inflight and self._idle is None
            if logout and polite and proto.state in (NONAUTH, AUTH, SELECTED):
                with contextlib.suppress(ImapError, ValueError):
                    await self.logout()
        finally:
            transport = self._close_now()
        if transport is not None and not proto.lost.is_set():
            try:
                await asyncio.wait_for(proto.lost.wait(), 1.0)
            except TimeoutError:
                transport.abort()
            except asyncio.CancelledError:
                transport.abort()
                raise
        if self._tunnel is not None:
            await self._tunnel.stop()

    def _close_now(self) -> asyncio.Transport | None:
        """Start closing at once (no await): cancel a pending connect, close the transport."""
        proto = self.protocol
        task = self._client_task
        if not task.done():
            task.cancel()
        elif not task.cancelled():
            task.exception()  # retrieved: a failed connect was already reported
        if not proto.dead:
            proto.mark_dead("closed by the client")
        transport = proto.transport
        if transport is not None and not proto.lost.is_set():
            transport.close()
        if self._sock is not None and transport is None:
            self._sock.close()
        return transport
