"""The limit's client filter (issue 15): cached summaries filtered with the query language give
the same UIDs as the server's SEARCH, for every field the cache holds, on sandbox folders.

The demo mailbox (charsets, attachments, threads, flags) plus messages made to probe the edges:
RFC 2047 names and subjects, accents and ß (i;unicode-casemap), groups, several recipients,
a folded subject, sizes around a bound.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.account import Account
from app.actions.local_search import answerable, search_cached, unicode_casemap
from app.imap.search import parse_query
from app.models import TlsMode
from app.sandbox.demo import load_demo
from tests.integration.test_operations import other

pytestmark = pytest.mark.integration

EDGE = [
    (
        b"From: =?utf-8?q?Chlo=C3=A9_Dupr=C3=A9?= <chloe.dupre@example.fr>\r\n"
        b"To: Hans <hans@example.de>, =?utf-8?b?U3RyYcOfZQ==?= <strasse@example.de>\r\n"
        b"Cc: Team: anna@example.org, bob@example.org;\r\n"
        b"Subject: =?utf-8?q?R=C3=A9union_du_lundi?=\r\n"
        b"Date: Tue, 03 Nov 2026 10:00:00 +0100\r\n\r\nbody\r\n",
        "\\Seen",
    ),
    (
        b'From: "Olga K." <OLGA@Example.ORG>\r\nTo: me@example.org\r\n'
        b"Subject: Quarterly\r\n report   draft\r\nDate: Wed, 04 Nov 2026 10:00:00 +0000\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: application/pdf\r\n\r\nJVBERi0=\r\n",
        "\\Flagged",
    ),
    (
        b"From: noname@example.net\r\nTo: undisclosed-recipients:;\r\nBcc: hidden@example.org\r\n"
        b"Subject: Re: Quarterly report draft\r\nDate: Thu, 05 Nov 2026 10:00:00 +0000\r\n\r\n"
        + b"x" * 3000
        + b"\r\n",
        "\\Answered \\Draft",
    ),
]

QUERIES = [
    "",
    "from:chloe",
    "from:Chloé",
    "from:dupre",
    "from:CHLOE.DUPRE@EXAMPLE.FR",
    "from:example.fr",
    "from:olga",
    'from:"Olga K"',
    "from:<olga",
    "to:strasse",
    "to:STRASSE",
    "to:straße",
    "to:hans",
    "to:me@example.org",
    "to:undisclosed",
    "cc:anna",
    "cc:team",
    "bcc:hidden",
    "subject:réunion",
    "subject:REUNION",
    'subject:"report draft"',
    "subject:quarterly",
    "subject:re",
    "quarterly",
    "olga",
    "chloe or olga",
    "-from:olga",
    "not (from:olga or subject:quarterly)",
    "is:unread",
    "is:read",
    "is:flagged",
    "is:unflagged",
    "is:answered",
    "is:unanswered",
    "is:draft",
    "is:deleted",
    "larger:3000",
    "smaller:3000",
    "larger:1k smaller:10k",
    "has:attachment",
    "since:2026-11-04",
    "before:2026-11-04",
    "on:2026-11-04",
    "since:2000-01-01 is:unread -has:attachment",
]


def fill_edges(user: Any) -> None:
    conn = other(user)
    for i, (data, flags) in enumerate(EDGE):
        when = f'"0{4 + i}-Nov-2026 10:00:00 +0000"'
        typ, got = conn.append("INBOX", f"({flags})", when, data)
        assert typ == "OK", got
    conn.logout()


async def open_all_cached(user: Any, cache: Path, folder: str) -> Account:
    creds = user.credentials()
    account = Account(
        user.name, user.imap_settings(TlsMode.IMPLICIT), lambda: creds, cache_path=cache
    )
    await account.connect()
    await account.load_folders()
    found = account.folder(folder)
    assert found is not None
    opened = await account.open_folder(found)
    await account.summaries_for(list(opened.uids))  # every summary into memory and the cache
    return account


def test_casemap_is_rfc5051() -> None:
    assert unicode_casemap("chloe") in unicode_casemap("Chloé")
    assert unicode_casemap("STRASSE") != unicode_casemap("straße")  # simple mappings only
    assert unicode_casemap("ÉCOLE") == unicode_casemap("école")
    assert not answerable(parse_query("body:x or from:y"))
    assert answerable(parse_query("from:y -is:read"))


@pytest.mark.parametrize("folder", ["INBOX", "Lists/python-dev"])
async def test_cached_filter_equals_server_search(
    sandbox: Any, mail_user: Any, tmp_path: Path, folder: str
) -> None:
    load_demo(sandbox, mail_user.name)
    fill_edges(mail_user)
    # the dates of this folder's own messages, as INTERNALDATE days
    account = await open_all_cached(mail_user, tmp_path / "cache.sqlite", folder)
    try:
        summaries = account.held_summaries(list(account.current.uids))  # type: ignore[union-attr]
        days = sorted({s.internaldate.date() for s in summaries if s.internaldate})
        queries = [*QUERIES]
        for day in (days[0], days[len(days) // 2], days[-1]):
            queries += [f"on:{day}", f"since:{day}", f"before:{day}"]
        size = summaries[len(summaries) // 2].size  # a bound some message has exactly
        queries += [f"larger:{size}", f"smaller:{size}", f"-larger:{size} -smaller:{size}"]
        differences = {}
        for q in queries:
            server = sorted(await account.search(q))
            local = await search_cached(account, q)
            assert local is not None, q
            uids, unknown = local
            assert unknown == 0
            if sorted(uids) != server:
                differences[q] = (sorted(set(uids) - set(server)), sorted(set(server) - set(uids)))
        assert not differences, differences
        # the cache alone (nothing in memory) answers the same
        account.summaries._items.clear()
        server = sorted(await account.search("from:chloe or is:flagged"))
        local = await search_cached(account, "from:chloe or is:flagged")
        assert local is not None and sorted(local[0]) == server and local[1] == 0
        assert await search_cached(account, "body:x") is None
    finally:
        await account.close()
