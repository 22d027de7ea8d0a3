"""Threads for the list: the server's THREAD tree flattened into display order with depths.

UI-free. Threads are ordered newest first by their newest message (as mutt's `sort=threads`
with `sort_aux=last-date-received` reverse), messages inside a thread in reply order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class Node(Protocol):
    uid: int | None
    children: list[Node]  # type: ignore[misc]


def _newest(node: Node) -> int:
    """The highest UID under `node` (UIDs grow with arrival): how recent the thread is."""
    best = 0
    stack = [node]
    while stack:
        item = stack.pop()
        if item.uid is not None and item.uid > best:
            best = item.uid
        stack.extend(item.children)
    return best


def flatten(threads: Iterable[Node], *, newest_first: bool = True) -> tuple[list[int], list[int]]:
    """UIDs in display order and the depth of each (0 for a thread's first message).

    Missing parents (dummy nodes without a UID) are skipped; their children take their depth.
    Iterative, so a 10,000-message chain cannot overflow the stack.
    """
    roots = sorted(threads, key=_newest, reverse=newest_first)
    uids: list[int] = []
    depths: list[int] = []
    for root in roots:
        stack: list[tuple[Node, int]] = [(root, 0)]
        while stack:
            node, depth = stack.pop()
            child_depth = depth
            if node.uid is not None:
                uids.append(node.uid)
                depths.append(depth)
                child_depth = depth + 1
            for child in reversed(node.children):
                stack.append((child, child_depth))
    return uids, depths


async def thread_order(account: object) -> tuple[list[int], list[int]]:
    """The open folder of `account` in thread order (server THREAD=REFERENCES)."""
    lock = account.lock  # type: ignore[attr-defined]
    async with lock:
        await account._ensure_selected()  # type: ignore[attr-defined]
        nodes = await account.client.thread("REFERENCES")  # type: ignore[attr-defined]
    return flatten(nodes)
