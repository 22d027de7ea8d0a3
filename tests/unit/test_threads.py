from __future__ import annotations

from app.imap.parser import ThreadNode
from app.threads import flatten


def test_threads_newest_first_with_depths() -> None:
    old = ThreadNode(1, [ThreadNode(2, [ThreadNode(3)]), ThreadNode(4)])
    new = ThreadNode(5)
    dummy = ThreadNode(None, [ThreadNode(6), ThreadNode(7)])
    uids, depths = flatten([old, new, dummy])
    assert uids == [6, 7, 5, 1, 2, 3, 4]
    assert depths == [0, 0, 0, 0, 1, 2, 1]


def test_long_chain_does_not_recurse() -> None:
    root = node = ThreadNode(1)
    for uid in range(2, 20_000):
        child = ThreadNode(uid)
        node.children.append(child)
        node = child
    uids, depths = flatten([root])
    assert uids == list(range(1, 20_000))
    assert depths[-1] == 19_998
