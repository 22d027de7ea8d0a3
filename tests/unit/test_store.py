"""The header cache: round trips, the body LRU, schema changes, damaged files and kill -9."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.models import Address, BodyPart, Envelope, MessageSummary
from app.store import cache as store
from app.store.cache import (
    HeaderCache,
    account_cache_path,
    cache_main,
    decode_summary,
    encode_summary,
)

ROOT = Path(__file__).resolve().parents[2]


# -- sample data -------------------------------------------------------------------------------


def summary(
    uid: int, *, subject: str | None = None, flags: frozenset[str] | None = None
) -> MessageSummary:
    alice = Address("=?UTF-8?B?QWxpY2Ugw4Nr?=", "alice", "example.org")
    env = Envelope(
        date="Fri, 27 Nov 2026 11:45:00 +0100",
        subject=subject if subject is not None else f"Quarterly report #{uid}",
        from_=(alice,),
        sender=(alice,),
        reply_to=(Address(None, "list", "example.org"),),
        to=(Address("Demo", "demo", "localhost"), Address("grp", None, None)),
        message_id=f"<m{uid}@example.org>",
        in_reply_to=None,
    )
    body = BodyPart(
        "1",
        "multipart",
        "mixed",
        {"boundary": f"b{uid}"},
        children=[
            BodyPart(
                "1", "text", "plain", {"charset": "utf-8"}, encoding="8bit", size=300, lines=9
            ),
            BodyPart(
                "2",
                "application",
                "pdf",
                {"name": "r.pdf"},
                encoding="base64",
                size=800,
                disposition="attachment",
                disposition_params={"filename": "r.pdf"},
                language=("en",),
                md5="abc",
            ),
        ],
    )
    return MessageSummary(
        uid=uid,
        flags=frozenset({"\\Seen"}) if flags is None else flags,
        envelope=env,
        size=1200 + uid,
        internaldate=datetime(2026, 11, 27, 11, 45, tzinfo=timezone(timedelta(hours=1)))
        + timedelta(minutes=uid),
        bodystructure=body,
        modseq=100 + uid,
    )


@pytest.fixture
def cache_path(tmp_path_fast: Path) -> Path:
    return tmp_path_fast / "cache" / "acct.sqlite3"


@pytest.fixture
def cache(cache_path: Path) -> HeaderCache:
    c = HeaderCache.open(cache_path)
    yield c
    c.close()


# -- hypothesis strategies ---------------------------------------------------------------------

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
opt_text = st.none() | text
addresses = st.builds(Address, opt_text, opt_text, opt_text, st.none() | text)
addr_lists = st.lists(addresses, max_size=3).map(tuple)
envelopes = st.builds(
    Envelope, opt_text, opt_text, addr_lists, addr_lists, addr_lists, addr_lists, addr_lists,
    addr_lists, opt_text, opt_text,
)  # fmt: skip
params = st.dictionaries(text, text, max_size=3)


def _part(children: st.SearchStrategy[list[BodyPart]]) -> st.SearchStrategy[BodyPart]:
    return st.builds(
        BodyPart,
        part_id=text,
        maintype=text,
        subtype=text,
        params=params,
        content_id=opt_text,
        description=opt_text,
        encoding=text,
        size=st.integers(0, 2**40),
        lines=st.none() | st.integers(0, 2**31),
        md5=opt_text,
        disposition=opt_text,
        disposition_params=params,
        language=st.lists(text, max_size=2).map(tuple),
        location=opt_text,
        children=children,
        envelope=st.none() | envelopes,
    )


body_parts = st.recursive(
    _part(st.just([])), lambda inner: _part(st.lists(inner, max_size=3)), max_leaves=6
)
dates = st.none() | st.builds(
    lambda d, minutes: d.replace(microsecond=0, tzinfo=timezone(timedelta(minutes=minutes))),
    st.datetimes(datetime(1950, 1, 1), datetime(2200, 1, 1)),
    st.integers(-14 * 60, 14 * 60),
)
summaries = st.builds(
    MessageSummary,
    uid=st.integers(1, 2**32 - 1),
    flags=st.frozensets(
        st.from_regex(r"\A\\?[A-Za-z$][A-Za-z0-9$_-]{0,12}\Z").filter(
            lambda f: f.lower() != "\\recent"
        ),
        max_size=4,
    ),
    envelope=envelopes,
    size=st.integers(0, 2**40),
    internaldate=dates,
    bodystructure=st.none() | body_parts,
    modseq=st.none() | st.integers(1, 2**63 - 1),
)


# -- round trips -------------------------------------------------------------------------------


@given(summaries)
def test_codec_round_trip(s: MessageSummary) -> None:
    back = decode_summary(s.uid, store._flags_text(s.flags), s.modseq, encode_summary(s))
    assert back == s
    if s.internaldate is not None:
        assert back.internaldate is not None
        assert back.internaldate.utcoffset() == s.internaldate.utcoffset()


def test_summaries_round_trip_through_the_file(cache_path: Path) -> None:
    items = [summary(u) for u in range(1, 201)]
    with HeaderCache.open(cache_path) as c:
        assert c.put_summaries("INBOX", 7, items) == 200
        c.save_mailbox_state(
            "INBOX", uidvalidity=7, uidnext=201, highestmodseq=300, exists=200,
            uids=list(range(200, 0, -1)), sort="REVERSE DATE",
        )  # fmt: skip
    with HeaderCache.open(cache_path) as c:
        state = c.mailbox_state("INBOX")
        assert state is not None
        assert (state.uidvalidity, state.uidnext, state.highestmodseq, state.exists) == (
            7,
            201,
            300,
            200,
        )
        assert state.uids == list(range(200, 0, -1))
        assert state.sort == "REVERSE DATE"
        got = c.get_summaries("INBOX", 7, state.uids[:50])
        assert got == {u: items[u - 1] for u in range(200, 150, -1)}
        assert got[200].has_attachment
        # a different UIDVALIDITY sees nothing
        assert c.get_summaries("INBOX", 8, [1, 2]) == {}
        assert c.get_summaries("Other", 7, [1, 2]) == {}
        assert c.cached_uids("INBOX", 7) == set(range(1, 201))


_example = [0]


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> object:
    """One file for every hypothesis example (opening a file per example is slow)."""
    c = HeaderCache.open(tmp_path_factory.mktemp("store") / "shared.sqlite3")
    yield c
    c.close()


@settings(max_examples=40)  # the codec property above covers breadth; this checks SQL binding
@given(st.lists(summaries, max_size=5, unique_by=lambda s: s.uid))
def test_any_summaries_survive_the_file(
    shared_cache: HeaderCache, items: list[MessageSummary]
) -> None:
    _example[0] += 1
    mailbox = f"box{_example[0]}"
    shared_cache.put_summaries(mailbox, 1, items)
    got = shared_cache.get_summaries(mailbox, 1, [s.uid for s in items])
    assert got == {s.uid: s for s in items}


def test_values_sqlite_cannot_take_are_dropped_not_raised(cache: HeaderCache) -> None:
    bad = summary(5, subject="broken \udcff surrogate")
    out_of_range = summary(6)
    out_of_range.uid = 2**40
    assert cache.put_summaries("INBOX", 1, [bad, out_of_range, summary(7)]) == 2
    got = cache.get_summaries("INBOX", 1, [5, 6, 7])
    assert set(got) == {5, 7}
    assert got[5].envelope.subject == "broken \udcff surrogate"
    cache.save_mailbox_state(
        "INBOX", uidvalidity=1, uidnext=None, highestmodseq=None, exists=1, uids=[2**40]
    )
    state = cache.mailbox_state("INBOX")
    assert state is None or state.uids != [2**40]


def test_recent_is_never_cached(cache: HeaderCache) -> None:
    cache.put_summaries("INBOX", 1, [summary(1, flags=frozenset({"\\Recent", "\\Seen"}))])
    assert cache.get_summaries("INBOX", 1, [1])[1].flags == {"\\Seen"}
    cache.update_flags("INBOX", 1, {1: {"\\Recent"}})
    assert cache.get_summaries("INBOX", 1, [1])[1].flags == frozenset()


def test_a_folder_never_listed_has_no_state(cache: HeaderCache) -> None:
    """Rows kept before the folder's list was saved (opened while its SORT ran, issue 21) are
    no state: a resync from it took the cached path and fetched the flags of every UID."""
    cache.put_summaries("INBOX", 3, [summary(1)])
    cache.put_body("INBOX", 3, 1, "1", b"hello")
    assert cache.mailbox_state("INBOX") is None
    assert set(cache.get_summaries("INBOX", 3, [1])) == {1}
    cache.save_mailbox_state("INBOX", uidvalidity=3, uidnext=2, highestmodseq=1, exists=0, uids=[])
    state = cache.mailbox_state("INBOX")
    assert state is not None and list(state.uids) == [] and state.exists == 0


def test_update_flags_and_remove(cache: HeaderCache) -> None:
    cache.put_summaries("INBOX", 3, [summary(u) for u in (1, 2, 3, 4)])
    cache.save_mailbox_state(
        "INBOX", uidvalidity=3, uidnext=5, highestmodseq=9, exists=4, uids=[4, 3, 2, 1]
    )
    changed = cache.update_flags(
        "INBOX", 3, {1: {"\\Flagged"}, 2: set(), 99: {"\\Seen"}}, modseqs={1: 500}
    )
    assert changed == 2
    got = cache.get_summaries("INBOX", 3, [1, 2, 3])
    assert got[1].flags == {"\\Flagged"} and got[1].modseq == 500
    assert got[2].flags == frozenset() and got[2].modseq == 102
    assert got[3].flags == {"\\Seen"}
    cache.put_body("INBOX", 3, 2, "1", b"hello")
    cache.remove_uids("INBOX", 3, [2, 3])
    assert set(cache.get_summaries("INBOX", 3, [1, 2, 3, 4])) == {1, 4}
    assert cache.get_body("INBOX", 3, 2, "1") is None
    state = cache.mailbox_state("INBOX")
    assert state is not None and state.uids == [4, 1] and state.exists == 2


def test_uidvalidity_change_drops_the_mailbox(cache: HeaderCache) -> None:
    cache.put_summaries("INBOX", 1, [summary(1), summary(2)])
    cache.put_body("INBOX", 1, 1, "1", b"text")
    cache.put_summaries("Sent", 1, [summary(1)])
    cache.save_mailbox_state("INBOX", uidvalidity=2, uidnext=3, highestmodseq=1, exists=1, uids=[1])
    assert cache.get_summaries("INBOX", 1, [1, 2]) == {}
    assert cache.get_summaries("INBOX", 2, [1, 2]) == {}
    assert cache.get_body("INBOX", 1, 1, "1") is None
    assert set(cache.get_summaries("Sent", 1, [1])) == {1}
    assert cache._conn is not None
    left = cache._conn.execute("SELECT count(*) FROM summaries").fetchone()[0]
    assert left == 1  # only Sent's row: INBOX's old rows are gone, not just hidden


def test_bodies_round_trip_and_compress(cache: HeaderCache) -> None:
    text = ("Hello, this is a long text part. " * 200).encode()
    assert cache.put_body("INBOX", 1, 10, "1.1", text)
    assert cache.put_body("INBOX", 1, 10, "HEADER", b"Subject: x\r\n\r\n")
    assert cache.get_body("INBOX", 1, 10, "1.1") == text
    assert cache.get_body("INBOX", 1, 10, "HEADER") == b"Subject: x\r\n\r\n"
    assert cache.get_body("INBOX", 1, 10, "2") is None
    assert cache.get_body("INBOX", 2, 10, "1.1") is None
    assert cache.body_bytes() < len(text) // 2


def test_body_lru_stays_within_its_bound(cache_path: Path) -> None:
    limit = 200_000
    c = HeaderCache.open(cache_path, body_limit=limit)
    try:
        blobs = {uid: os.urandom(20_000) for uid in range(1, 41)}  # random: no compression
        for uid, data in blobs.items():
            assert c.put_body("INBOX", 1, uid, "1", data)
            if uid > 3:
                assert c.get_body("INBOX", 1, 1, "1") == blobs[1]  # keep 1 recently used
            assert c.body_bytes() <= limit
        present = [u for u in blobs if c.get_body("INBOX", 1, u, "1") is not None]
        assert 1 in present
        assert 40 in present
        assert 2 not in present
        assert 7 <= len(present) < 11
        assert not c.put_body("INBOX", 1, 99, "1", os.urandom(limit + 1))
    finally:
        c.close()


def test_clear_empties_the_file(cache: HeaderCache) -> None:
    cache.put_summaries("INBOX", 1, [summary(1)])
    cache.put_body("INBOX", 1, 1, "1", b"x")
    cache.save_mailbox_state(
        "INBOX", uidvalidity=1, uidnext=2, highestmodseq=None, exists=1, uids=[1]
    )
    cache.clear()
    assert cache.mailbox_state("INBOX") is None
    assert cache.get_summaries("INBOX", 1, [1]) == {}
    assert cache.get_body("INBOX", 1, 1, "1") is None
    assert cache.mailboxes() == []


def test_closed_cache_answers_nothing(cache_path: Path) -> None:
    c = HeaderCache.open(cache_path)
    c.put_summaries("INBOX", 1, [summary(1)])
    c.close()
    assert c.closed
    assert c.get_summaries("INBOX", 1, [1]) == {}
    assert c.put_summaries("INBOX", 1, [summary(2)]) == 0
    assert c.mailbox_state("INBOX") is None


def test_batch_is_one_transaction(cache: HeaderCache, cache_path: Path) -> None:
    with cache.batch():
        cache.put_summaries("INBOX", 1, [summary(1)])
        other = HeaderCache.open(cache_path)
        try:
            assert other.get_summaries("INBOX", 1, [1]) == {}  # not committed yet
        finally:
            other.close()
        cache.save_mailbox_state(
            "INBOX", uidvalidity=1, uidnext=2, highestmodseq=None, exists=1, uids=[1]
        )
    again = HeaderCache.open(cache_path)
    try:
        assert set(again.get_summaries("INBOX", 1, [1])) == {1}
    finally:
        again.close()


def test_damaged_summary_row_counts_as_missing(cache: HeaderCache) -> None:
    cache.put_summaries("INBOX", 1, [summary(1), summary(2)])
    assert cache._conn is not None
    cache._conn.execute("UPDATE summaries SET data = '[1, 2' WHERE uid = 1")
    assert set(cache.get_summaries("INBOX", 1, [1, 2])) == {2}


# -- schema versions ---------------------------------------------------------------------------


def _old_file(path: Path, version: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE headers (uid INTEGER PRIMARY KEY, raw BLOB)")
    conn.execute("INSERT INTO headers VALUES (1, x'00')")
    conn.execute(f"PRAGMA user_version = {version}")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("version", [0, store.SCHEMA_VERSION - 1, store.SCHEMA_VERSION + 5])
def test_other_schema_version_is_rebuilt(cache_path: Path, version: int) -> None:
    _old_file(cache_path, version)
    with HeaderCache.open(cache_path) as c:
        assert c.rebuilds == 1
        assert c.mailbox_state("INBOX") is None
        c.put_summaries("INBOX", 1, [summary(1)])
        assert set(c.get_summaries("INBOX", 1, [1])) == {1}
    conn = sqlite3.connect(cache_path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == store.SCHEMA_VERSION
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert "headers" not in names
    finally:
        conn.close()


def test_older_schema_is_migrated_when_a_step_exists(
    cache_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with HeaderCache.open(cache_path) as c:
        c.put_summaries("INBOX", 1, [summary(1)])
    new_version = store.SCHEMA_VERSION + 1

    def step(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE mailboxes ADD COLUMN note TEXT")

    monkeypatch.setattr(store, "SCHEMA_VERSION", new_version)
    monkeypatch.setitem(store.MIGRATIONS, new_version - 1, step)
    with HeaderCache.open(cache_path) as c:
        assert c.rebuilds == 0
        assert set(c.get_summaries("INBOX", 1, [1])) == {1}  # data kept
        assert c._conn is not None
        cols = {r[1] for r in c._conn.execute("PRAGMA table_info(mailboxes)")}
        assert "note" in cols
        assert c._conn.execute("PRAGMA user_version").fetchone()[0] == new_version


# -- damaged files -----------------------------------------------------------------------------


def _filled(path: Path, n: int = 3000) -> None:
    with HeaderCache.open(path) as c:
        c.put_summaries("INBOX", 1, [summary(u) for u in range(1, n + 1)])
        c.save_mailbox_state(
            "INBOX", uidvalidity=1, uidnext=n + 1, highestmodseq=5, exists=n,
            uids=list(range(1, n + 1)),
        )  # fmt: skip
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0


@pytest.mark.parametrize("keep", [0.5, 0.9, 100 / 4096])
def test_truncated_file_is_rebuilt(cache_path: Path, keep: float) -> None:
    _filled(cache_path)
    size = cache_path.stat().st_size
    os.truncate(cache_path, int(size * keep))
    with HeaderCache.open(cache_path) as c:
        assert c.rebuilds == 1
        assert c.mailbox_state("INBOX") is None
        c.put_summaries("INBOX", 1, [summary(1)])
        assert set(c.get_summaries("INBOX", 1, [1])) == {1}


@pytest.mark.parametrize(
    "content", [b"", b"garbage", b"x" * 5000, b"SQLite format 3\x00" + b"\xff" * 4000]
)
def test_foreign_file_is_rebuilt(cache_path: Path, content: bytes) -> None:
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    cache_path.write_bytes(content)
    with HeaderCache.open(cache_path) as c:
        assert c.rebuilds == (1 if content else 0)
        c.put_summaries("INBOX", 1, [summary(1)])
        assert set(c.get_summaries("INBOX", 1, [1])) == {1}


def test_corrupt_pages_found_at_open_or_in_use(cache_path: Path) -> None:
    _filled(cache_path)
    size = cache_path.stat().st_size
    with open(cache_path, "r+b") as f:  # scribble over the middle of the file, header intact
        f.seek(size // 2)
        f.write(b"\xa5" * 8192)
    with HeaderCache.open(cache_path) as c:  # small file: quick_check at open
        assert c.rebuilds == 1
    _filled(cache_path)
    with open(cache_path, "r+b") as f:
        f.seek(size // 2)
        f.write(b"\xa5" * 8192)
    with HeaderCache.open(cache_path, full_check=False) as c:  # no check: found in use
        for start in range(1, 3001, 500):
            c.get_summaries("INBOX", 1, range(start, start + 500))
        assert c.rebuilds == 1
        c.put_summaries("INBOX", 1, [summary(1)])
        assert 1 in c.get_summaries("INBOX", 1, [1])


def test_check_on_its_own_connection_finds_damage(cache_path: Path) -> None:
    _filled(cache_path)
    with HeaderCache.open(cache_path, full_check=False) as c:
        assert c.check()
        assert c.rebuilds == 0
    size = cache_path.stat().st_size
    with open(cache_path, "r+b") as f:
        f.seek(size // 2)
        f.write(b"\xa5" * 8192)
    with HeaderCache.open(cache_path, full_check=False) as c:  # a big file is not checked at open
        assert c.rebuilds == 0
        assert not c.check()
        assert c.rebuilds == 1
        assert c.mailbox_state("INBOX") is None
        c.put_summaries("INBOX", 1, [summary(1)])
        assert set(c.get_summaries("INBOX", 1, [1])) == {1}


def test_unwritable_folder_falls_back_to_memory(tmp_path_fast: Path) -> None:
    blocker = tmp_path_fast / "file"
    blocker.write_text("not a folder")
    with HeaderCache.open(blocker / "sub" / "acct.sqlite3") as c:
        assert c.rebuilds == 1
        c.put_summaries("INBOX", 1, [summary(1)])
        assert set(c.get_summaries("INBOX", 1, [1])) == {1}


# -- kill -9 -------------------------------------------------------------------------------------

_WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[2])
    from tests.unit.test_store import summary
    from app.store.cache import HeaderCache
    c = HeaderCache.open(sys.argv[1])
    c.put_summaries("INBOX", 1, [summary(u) for u in range(1, 1001)])
    c.save_mailbox_state("INBOX", uidvalidity=1, uidnext=1001, highestmodseq=7, exists=1000,
                         uids=list(range(1, 1001)))
    with c.batch():
        c.update_flags("INBOX", 1, {u: {"\\\\Deleted"} for u in range(1, 1001)})
        c.remove_uids("INBOX", 1, range(1, 501))
        c.save_mailbox_state("INBOX", uidvalidity=1, uidnext=None, highestmodseq=99,
                             exists=0, uids=[])
        uid = 1001
        while True:
            c.put_summaries("INBOX", 1, [summary(u) for u in range(uid, uid + 2000)])
            uid += 2000
            if uid == 5001:
                print("inside", flush=True)
    """
)


def test_kill_during_a_big_write_leaves_the_last_commit(cache_path: Path) -> None:
    cache_path.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(cache_path), str(ROOT)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line == b"inside\n", proc.stderr.read() if proc.stderr else b""
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert Path(f"{cache_path}-wal").exists()  # the kill left an uncheckpointed log behind
    with HeaderCache.open(cache_path, full_check=True) as c:
        assert c.rebuilds == 0
        assert c.check()
        state = c.mailbox_state("INBOX")
        assert state is not None
        assert (state.highestmodseq, state.exists, state.uidnext) == (7, 1000, 1001)
        assert state.uids == list(range(1, 1001))
        got = c.get_summaries("INBOX", 1, range(1, 1001))
        assert len(got) == 1000
        assert all(s.flags == {"\\Seen"} for s in got.values())
        assert c.get_summaries("INBOX", 1, range(1001, 1101)) == {}


# -- where files live, and `termail cache clear` ------------------------------------------------


def test_account_cache_path_is_one_safe_file(tmp_path_fast: Path) -> None:
    assert account_cache_path("work", tmp_path_fast) == tmp_path_fast / "headers" / "work.sqlite3"
    odd = account_cache_path("../etc/passwd", tmp_path_fast)
    assert odd.parent == tmp_path_fast / "headers"
    assert "/" not in odd.name and not odd.name.startswith(".")
    assert account_cache_path("a b", tmp_path_fast) != account_cache_path("a_b", tmp_path_fast)


def test_cache_clear_command(
    tmp_path_fast: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_fast))
    base = tmp_path_fast / "termail"
    assert store.default_cache_dir() == base
    for name in ("work", "home"):
        with HeaderCache.open(account_cache_path(name)) as c:
            c.put_summaries("INBOX", 1, [summary(1)])
    assert cache_main(["info"]) == 0
    assert "work.sqlite3" in capsys.readouterr().out
    assert cache_main(["clear", "--account", "work"]) == 0
    assert "account 'work'" in capsys.readouterr().out
    assert not account_cache_path("work").exists()
    assert account_cache_path("home").exists()
    assert cache_main(["clear", "--account", "nobody"]) == 0
    assert "no cache" in capsys.readouterr().out
    assert cache_main(["clear"]) == 0
    assert not account_cache_path("home").exists()
    assert list((base / "headers").iterdir()) == []
    assert cache_main([]) == 2


def test_cli_reaches_cache_clear(tmp_path_fast: Path) -> None:
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path_fast))
    path = tmp_path_fast / "termail" / "headers" / "x.sqlite3"
    with HeaderCache.open(path) as c:
        c.put_summaries("INBOX", 1, [summary(1)])
    out = subprocess.run(
        [sys.executable, "-m", "app.cli", "cache", "clear"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert not path.exists()


# -- the folder list (drawn at start-up before the server answers, issue 21) --------------------


def test_folder_list_round_trip_and_clear(cache_path: Path) -> None:
    from app.models import Folder, FolderRole, FolderStatus

    folders = [
        Folder("INBOX", "INBOX", "/", frozenset({"\\HasChildren"}), FolderRole.INBOX),
        Folder("Lists/Ünïcode", "Lists/&ANw-n&AO8-code", "/", frozenset(), subscribed=False),
        Folder("Sent", "Sent", None, frozenset({"\\Sent"}), FolderRole.SENT),
    ]
    counts = {"INBOX": FolderStatus(120, 7, 0, 121, 42, None), "Sent": FolderStatus(3, 0)}
    with HeaderCache.open(cache_path) as c:
        assert c.folder_list() is None  # never saved (an older file has no such table)
        c.save_folder_list(folders, counts)
    with HeaderCache.open(cache_path) as c:
        assert c.folder_list() == (folders, counts)
        c.save_folder_list(folders[:1], {})
        assert c.folder_list() == (folders[:1], {})
        c.clear()
        assert c.folder_list() is None


def test_unreadable_folder_list_is_ignored(cache_path: Path) -> None:
    with HeaderCache.open(cache_path) as c:
        c.save_folder_list([], {})
        assert c._conn is not None
        c._conn.execute("UPDATE folder_list SET data = '[[1, 2, 3]]'")
        assert c.folder_list() is None
