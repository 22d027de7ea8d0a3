"""`ImapClient.unselect` without UNSELECT (Courier, minimal servers), against the scripted
server of test_imap_engine: it leaves by EXAMINE INBOX, and CLOSEs only a mailbox the server
said is read-only (a CLOSE of a read-write selection would expunge its \\Deleted messages)."""

from __future__ import annotations

from app.imap.client import ImapClient
from app.models import Credentials
from tests.unit.test_imap_engine import FakeServer

SELECT = b"* 2 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n{tag} OK [READ-WRITE] selected\r\n"


async def _leave(examine_answer: bytes) -> list[bytes]:
    handlers = {
        "SELECT": SELECT,
        "EXAMINE": examine_answer,
        "CLOSE": b"{tag} OK closed\r\n",
    }
    async with FakeServer(handlers) as server:
        client = await ImapClient.connect(server.settings(), Credentials("u", "p"))
        await client.select("Box")
        await client.unselect()
        await client.close()
        return [c for c in server.commands() if c.split(b" ")[0] in (b"EXAMINE", b"CLOSE")]


async def test_examine_answered_read_only_is_closed() -> None:
    sent = await _leave(b"* 1 EXISTS\r\n{tag} OK [READ-ONLY] examined\r\n")
    assert sent == [b"EXAMINE INBOX", b"CLOSE"]


async def test_examine_without_read_only_is_never_closed() -> None:
    sent = await _leave(b"* 1 EXISTS\r\n{tag} OK examined\r\n")
    assert sent == [b"EXAMINE INBOX"]
