"""The account's folder list after a move/delete: compact, in order, linear in the folder."""

from __future__ import annotations

from app.account import _without
from app.uids import UidArray


def test_without_keeps_order_and_the_compact_kind() -> None:
    uids = UidArray(range(100_000, 0, -1))
    gone = list(range(1, 100_001, 2))  # 50,000 marked: one set, not one per element
    kept = _without(uids, gone)
    assert isinstance(kept, UidArray) and len(kept) == 50_000
    assert kept[:3] == [100_000, 99_998, 99_996] and kept[-1] == 2
    assert _without([5, 4, 3], (4,)) == [5, 3] and type(_without([5, 4, 3], (4,))) is list


def test_store_hands_back_a_uid_array(tmp_path: object) -> None:
    from pathlib import Path

    from app.store.cache import HeaderCache

    cache = HeaderCache.open(Path(str(tmp_path)) / "c.sqlite3")
    try:
        cache.save_mailbox_state(
            "INBOX", uidvalidity=7, uidnext=4, highestmodseq=None, exists=3, uids=[3, 2, 1]
        )
        state = cache.mailbox_state("INBOX")
        assert state is not None and isinstance(state.uids, UidArray) and state.uids == [3, 2, 1]
    finally:
        cache.close()
