"""A small hostile IMAP server of our own, on 127.0.0.1, for the hostile-server tests.

It is a real (if tiny) server: a greeting, CAPABILITY, LOGIN and AUTHENTICATE PLAIN, LIST/LSUB,
STATUS, SELECT/EXAMINE, UID SEARCH, UID FETCH, UID STORE, NOOP, IDLE, LOGOUT, over two folders
with two short messages in INBOX, so termail starts and browses on it. On top of that it
misbehaves on cue: an `Attack` names what to do and the command (verb) to do it on:

- ``alert-flood``: an endless stream of ``* OK [ALERT] xxxx...`` (issue 13 item 4);
- ``alert``: one ``* OK [ALERT] ...`` carrying escape sequences, then the normal answer (item 5);
- ``untagged-flood``: an endless stream of ``* 1 FETCH (FLAGS (\\Seen))`` (no status response);
- ``trickle``: one ``* OK still working`` every `interval` s, for ever (the per-command deadline);
- ``huge-literal``: ``* 1 FETCH (BODY[] {1073741824}`` and then data, for ever;
- ``huge-exists``: ``* 4294967295 EXISTS`` in SELECT of INBOX (``UIDNEXT 4294967295``), then
  ``* VANISHED 1:4294967295`` to the next NOOP/IDLE;
- ``unsolicited-flood``: after the answer, ``* 1 FETCH (FLAGS ())`` for ever while no command
  runs;
- ``bracket-names``: the folder list holds ``Projects]2024`` and ``a]b`` (legal astrings);
- ``list-refused``: LIST and LSUB answered ``BAD``;
- ``slow-literal``: FETCH answered with a 600 KB message at about 200 KB/s (a slow link, not a
  trickle: the command must not be cut by the deadline);
- ``list-garbage``: one unreadable line (``* LIST (\\HasNoChildren "/" broken``) in the list.

Run on its own for a manual walk (tmux) or the RSS figure (bench/hostile_rss.py)::

    python -m tests.faults.hostile --attack alert-flood --on AUTHENTICATE --port 14143
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import re
import sys
from dataclasses import dataclass, field

__all__ = ["ATTACKS", "Attack", "HostileImap"]

ATTACKS = (
    "none",
    "alert",
    "alert-flood",
    "untagged-flood",
    "trickle",
    "huge-literal",
    "huge-exists",
    "unsolicited-flood",
    "bracket-names",
    "list-refused",
    "list-garbage",
    "slow-literal",
)

#: The login the server accepts.
USER = "hostile"
PASSWORD = "hostile-pw"

#: The ALERT text of the ``alert`` attack: markup, an OSC title change, a CSI clear, bidi.
ALERT_TEXT = "Mailbox \x1b]0;pwned\x07 over [b]quota[/b] \x1b[2J\u202eevil\u202c: 98% used"

_LITERAL = re.compile(rb"\{(\d+)(\+?)\}\r\n$")

_MESSAGES = {
    1: (
        b"From: Ada <ada@example.com>\r\nTo: hostile@example.com\r\nSubject: Hello there\r\n"
        b"Date: Mon, 30 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@example.com>\r\n\r\n"
        b"First message body.\r\n"
    ),
    2: (
        b"From: Bob <bob@example.com>\r\nTo: hostile@example.com\r\nSubject: Second\r\n"
        b"Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <2@example.com>\r\n\r\n"
        b"Second message body.\r\n"
    ),
}


@dataclass
class Attack:
    """What to do (`kind`, one of ATTACKS) and on which command verb (`on`, upper case)."""

    kind: str = "none"
    on: str = "AUTHENTICATE"
    interval: float = 0.2
    times: int = 0
    """How many commands have triggered it so far (the test may look)."""
    once: bool = False
    """Only the first matching command (then the server behaves): lets a reconnect succeed."""

    def __post_init__(self) -> None:
        if self.kind not in ATTACKS:
            raise ValueError(f"unknown attack {self.kind!r}")
        self.on = self.on.upper()


@dataclass
class HostileImap:
    """The server; `start()` returns its port. Every connection gets the same `attack`."""

    attack: Attack = field(default_factory=Attack)
    capabilities: str = "IMAP4rev1 AUTH=PLAIN SASL-IR IDLE UIDPLUS"
    connections: int = 0
    commands: list[bytes] = field(default_factory=list)
    flood_bytes: int = 0
    """Bytes of hostile output written so far, over all connections."""
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def folders(self) -> list[str]:
        names = ["INBOX", "Archive"]
        if self.attack.kind == "bracket-names":
            names += ["Projects]2024", "a]b"]
        return names

    async def start(self, port: int = 0) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", port)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)

    # -- the session --

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        session = _Session(self, reader, writer)
        try:
            await session.run()
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            pass
        finally:
            self._writers.discard(writer)
            writer.transport.abort()

    def triggered(self, verb: str) -> bool:
        attack = self.attack
        if attack.kind == "none" or verb != attack.on:
            return False
        if attack.once and attack.times:
            return False
        attack.times += 1
        return True


class _Session:
    def __init__(
        self, server: HostileImap, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.selected: str | None = None
        self.flags = {1: {"\\Seen"}, 2: set()}

    async def write(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def run(self) -> None:
        await self.write(f"* OK [CAPABILITY {self.server.capabilities}] hostile ready\r\n".encode())
        while True:
            command = await self._read_command()
            if command is None:
                return
            self.server.commands.append(command)
            tag, _, rest = command.partition(b" ")
            words = rest.split(b" ")
            verb = words[0].upper().decode("ascii", "replace")
            if verb == "UID" and len(words) > 1:
                verb = "UID " + words[1].upper().decode("ascii", "replace")
            trigger = verb.split(" ")[-1] if verb.startswith("UID ") else verb
            if (self.server.triggered(trigger) or self.server.triggered(verb)) and (
                await self._attack(tag)
            ):
                continue
            await self._answer(tag, verb, rest)
            if verb == "LOGOUT":
                return

    async def _read_command(self) -> bytes | None:
        out = b""
        while True:
            line = await self.reader.readline()
            if not line:
                return None
            out += line
            m = _LITERAL.search(line)
            if m is None:
                return out.rstrip(b"\r\n")
            if not m.group(2):
                await self.write(b"+ go ahead\r\n")
            out += await self.reader.readexactly(int(m.group(1)))

    # -- misbehaving --

    async def _flood(self, line: bytes) -> None:
        chunk = line * max(1, 65536 // len(line))
        while True:
            self.writer.write(chunk)
            self.server.flood_bytes += len(chunk)
            await self.writer.drain()

    async def _attack(self, tag: bytes) -> bool:
        """Misbehave (the floods end only when the client goes); True when the command was
        answered already."""
        kind = self.server.attack.kind
        if kind == "alert-flood":
            await self._flood(b"* OK [ALERT] " + b"x" * 200 + b"\r\n")
        elif kind == "untagged-flood":
            await self._flood(b"* 1 FETCH (FLAGS (\\Seen))\r\n")
        elif kind == "trickle":
            while True:
                await self.write(b"* OK still working\r\n")
                await asyncio.sleep(self.server.attack.interval)
        elif kind == "huge-literal":
            await self.write(b"* 1 FETCH (UID 1 BODY[] {1073741824}\r\n")
            await self._flood(b"y" * 1024)
        elif kind == "slow-literal":
            size, step = 600_000, 20_000
            await self.write(b"* 1 FETCH (UID 1 BODY[] {%d}\r\n" % size)
            for _ in range(size // step):
                await self.write(b"z" * step)
                await asyncio.sleep(step / 200_000)
            await self.write(b")\r\n" + tag + b" OK done\r\n")
            return True
        elif kind == "alert":
            await self.write(b"* OK [ALERT] " + ALERT_TEXT.encode() + b"\r\n")
        return False

    # -- behaving --

    async def _answer(self, tag: bytes, verb: str, rest: bytes) -> None:
        ok = tag + b" OK done\r\n"
        out = b""
        kind = self.server.attack.kind
        if verb == "CAPABILITY":
            out = f"* CAPABILITY {self.server.capabilities}\r\n".encode()
        elif verb == "LOGIN":
            args = rest.split(b" ")
            if len(args) < 3 or args[1].strip(b'"') != USER.encode():
                await self.write(tag + b" NO [AUTHENTICATIONFAILED] no\r\n")
                return
        elif verb == "AUTHENTICATE":
            args = rest.split(b" ")
            blob = args[2] if len(args) > 2 else b""
            if not blob:
                await self.write(b"+ \r\n")
                blob = (await self.reader.readline()).strip()
            try:
                parts = base64.b64decode(blob).split(b"\0")
            except ValueError:
                parts = []
            if len(parts) != 3 or parts[1] != USER.encode() or parts[2] != PASSWORD.encode():
                await self.write(tag + b" NO [AUTHENTICATIONFAILED] no\r\n")
                return
        elif verb in ("LIST", "LSUB") and kind == "list-refused":
            ok = tag + b" BAD [ALERT] folder listing is broken here\r\n"
        elif verb in ("LIST", "LSUB"):
            if kind == "list-garbage":
                out += f'* {verb} (\\HasNoChildren "/" broken\r\n'.encode()
            for name in self.server.folders:
                quoted = name if "]" in name else f'"{name}"'
                out += f'* {verb} (\\HasNoChildren) "/" {quoted}\r\n'.encode()
        elif verb == "STATUS":
            name = rest.split(b" ")[1].strip(b'"').decode("utf-8", "replace")
            count = len(_MESSAGES) if name == "INBOX" else 0
            unseen = sum(1 for f in self.flags.values() if "\\Seen" not in f) if count else 0
            shown = name if "]" in name or not name else f'"{name}"'
            out = (
                f"* STATUS {shown} (MESSAGES {count} UNSEEN {unseen} RECENT 0 "
                f"UIDNEXT {count + 1} UIDVALIDITY 7)\r\n"
            ).encode()
        elif verb in ("SELECT", "EXAMINE"):
            name = rest.split(b" ", 1)[1].strip(b'"').decode("utf-8", "replace")
            self.selected = name
            count = len(_MESSAGES) if name.upper() == "INBOX" else 0
            uidnext = count + 1
            if kind == "huge-exists" and name.upper() == "INBOX":
                count = uidnext = 4294967295
            out = (
                f"* {count} EXISTS\r\n* 0 RECENT\r\n* FLAGS (\\Seen \\Answered \\Flagged "
                f"\\Deleted \\Draft)\r\n* OK [UIDVALIDITY 7] v\r\n* OK [UIDNEXT {uidnext}] n\r\n"
            ).encode()
            ok = tag + (b" OK [READ-ONLY] done\r\n" if verb == "EXAMINE" else b" OK done\r\n")
        elif verb == "UID SEARCH":
            if self.selected and self.selected.upper() == "INBOX":
                out = b"* SEARCH " + b" ".join(str(u).encode() for u in sorted(_MESSAGES)) + b"\r\n"
            else:
                out = b"* SEARCH\r\n"
        elif verb == "UID FETCH":
            out = self._fetch(rest)
        elif verb == "UID STORE":
            out = b""
        elif verb in ("NOOP", "CHECK") and kind == "huge-exists":
            out = b"* VANISHED 1:4294967295\r\n"
        elif verb == "IDLE":
            await self.write(b"+ idling\r\n")
            if kind == "huge-exists":
                await self.write(b"* VANISHED 1:4294967295\r\n")
            line = await self.reader.readline()
            if not line:
                return
        elif verb == "LOGOUT":
            out = b"* BYE bye\r\n"
        elif verb in ("CLOSE", "UNSELECT"):
            self.selected = None
        elif verb in ("ID", "NAMESPACE", "ENABLE", "EXPUNGE", "UID EXPUNGE", "NOOP", "CHECK"):
            pass
        else:
            ok = tag + b" BAD unknown command\r\n"
        await self.write(out + ok)
        if kind == "unsolicited-flood" and verb in ("SELECT", "EXAMINE"):
            await self._flood(b"* 1 FETCH (FLAGS ())\r\n")

    def _fetch(self, rest: bytes) -> bytes:
        if not self.selected or self.selected.upper() != "INBOX":
            return b""
        parts = rest.split(b" ", 3)
        uid_set = parts[2].decode()
        items = parts[3].decode().upper() if len(parts) > 3 else ""
        wanted: set[int] = set()
        for piece in uid_set.split(","):
            lo, _, hi = piece.partition(":")
            low = int(lo) if lo != "*" else max(_MESSAGES)
            high = low if not hi else (int(hi) if hi != "*" else max(_MESSAGES))
            wanted |= {u for u in _MESSAGES if min(low, high) <= u <= max(low, high)}
        out = b""
        for uid in sorted(wanted):
            raw = _MESSAGES[uid]
            head, _, body = raw.partition(b"\r\n\r\n")
            fields = [f"UID {uid}".encode()]
            if "FLAGS" in items:
                fields.append(f"FLAGS ({' '.join(sorted(self.flags[uid]))})".encode())
            if "RFC822.SIZE" in items:
                fields.append(f"RFC822.SIZE {len(raw)}".encode())
            if "INTERNALDATE" in items:
                fields.append(b'INTERNALDATE "30-Nov-2026 10:00:00 +0000"')
            if "ENVELOPE" in items:
                subject = b"Hello there" if uid == 1 else b"Second"
                who = b"ada" if uid == 1 else b"bob"
                fields.append(
                    b'ENVELOPE ("Mon, 30 Nov 2026 10:00:00 +0000" "'
                    + subject
                    + b'" (("'
                    + who.capitalize()
                    + b'" NIL "'
                    + who
                    + b'" "example.com")) NIL NIL '
                    b'((NIL NIL "hostile" "example.com")) NIL NIL NIL "<'
                    + str(uid).encode()
                    + b'@example.com>")'
                )
            if "BODYSTRUCTURE" in items:
                fields.append(
                    b'BODYSTRUCTURE ("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" '
                    + str(len(body)).encode()
                    + b" 1 NIL NIL NIL NIL)"
                )
            for m in re.finditer(r"BODY(?:\.PEEK)?\[([^\]]*)\]", items):
                section = m.group(1)
                data = {"HEADER": head + b"\r\n\r\n", "1": body, "TEXT": body, "": raw}.get(
                    section, b""
                )
                fields.append(b"BODY[" + section.encode() + b"] {%d}\r\n" % len(data) + data)
            out += b"* %d FETCH (" % uid + b" ".join(fields) + b")\r\n"
        return out


async def _serve(attack: Attack, port: int) -> None:
    server = HostileImap(attack)
    bound = await server.start(port)
    print(f"hostile IMAP server on 127.0.0.1:{bound} ({attack.kind} on {attack.on})", flush=True)
    print(f"  user {USER!r}, password {PASSWORD!r}, plaintext (allow_insecure)", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.faults.hostile")
    ap.add_argument("--attack", choices=ATTACKS, default="alert-flood")
    ap.add_argument("--on", default="AUTHENTICATE", help="command verb that triggers it")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--once", action="store_true", help="only on the first matching command")
    args = ap.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(Attack(args.attack, args.on, once=args.once), args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
