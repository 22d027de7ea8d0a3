"""SEARCH after ENABLE UTF8=ACCEPT (issue 14 item 2) against a scripted Courier-like server.

Dovecot 2.3 offers no UTF8=ACCEPT, so the small in-process server of test_imap_extensions
plays Courier-IMAP 5: it enables UTF8=ACCEPT and answers a SEARCH that names a CHARSET with
`NO CHARSET is not valid in UTF8 mode` (RFC 6855 section 3 and its erratum 4029 forbid the
CHARSET there). SORT and THREAD keep their mandatory charset, which must then be UTF-8.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from app.imap.client import ImapClient
from app.imap.search import compile_query, parse_query
from app.models import Credentials, ServerSettings, TlsMode
from tests.unit.test_imap_extensions import ScriptedServer, sent


class CourierLike(ScriptedServer):
    """SELECT, and UID SEARCH / SORT as Courier answers them in UTF8 mode."""

    def _answer(self, tag: bytes, verb: bytes, rest: bytes) -> bytes:
        ok = tag + b" OK done\r\n"
        words = rest.split(b" ")
        if verb == b"SELECT":
            return b"* 3 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 4] ok\r\n" + ok
        if verb == b"UID" and len(words) > 1 and words[1].upper() in (b"SEARCH", b"SORT"):
            charset = b"CHARSET" in rest.upper() and "UTF8=ACCEPT" in self.enabled
            if words[1].upper() == b"SEARCH" and charset:
                return tag + b" NO CHARSET is not valid in UTF8 mode\r\n"
            if words[1].upper() == b"SORT" and b" UTF-8 " not in rest.upper():
                return tag + b" BAD charset must be UTF-8\r\n"
            found = b"2" if "crème".encode() in rest else b""
            name = b"SEARCH" if words[1].upper() == b"SEARCH" else b"SORT"
            return b"* " + name + (b" " + found if found else b"") + b"\r\n" + ok
        return super()._answer(tag, verb, rest)


@asynccontextmanager
async def courier(capabilities: str) -> AsyncIterator[tuple[CourierLike, ImapClient]]:
    import asyncio

    server = CourierLike(capabilities)
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    settings = ServerSettings(
        host="127.0.0.1",
        port=port,
        user="u",
        tls=TlsMode.NONE,
        allow_insecure=True,
        auth="login",
        timeout=5.0,
        compress=False,
    )
    client = await ImapClient.connect(settings, Credentials("u", "pw"), retries=0)
    try:
        yield server, client
    finally:
        await client.close()
        listener.close()
        await listener.wait_closed()


async def test_non_ascii_search_in_utf8_mode_sends_no_charset() -> None:
    async with courier("IMAP4rev1 ENABLE UTF8=ACCEPT SORT") as (server, client):
        assert client.connection is not None and client.connection.utf8
        await client.select("INBOX")
        found = await client.search(compile_query(parse_query("crème")))
        ordered = await client.sort("DATE", compile_query(parse_query("crème")))
    assert found == [2]
    assert ordered == [2]
    searches = [c for c in server.commands if b"UID SEARCH" in c.upper()]
    assert searches and all(b"CHARSET" not in c.upper() for c in searches)
    assert "crème".encode() in b"".join(searches)  # sent as UTF-8, not dropped
    sorts = [c for c in server.commands if b"UID SORT" in c.upper()]
    assert sorts and all(b" UTF-8 " in c.upper() for c in sorts)


async def test_without_utf8_mode_the_charset_is_still_named() -> None:
    async with courier("IMAP4rev1 ENABLE") as (server, client):
        assert client.connection is not None and not client.connection.utf8
        await client.select("INBOX")
        assert await client.search(compile_query(parse_query("crème"))) == [2]
    assert any(b"CHARSET UTF-8" in c.upper() for c in sent(server, b"UID"))
