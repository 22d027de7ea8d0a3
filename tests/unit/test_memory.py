"""`app.memory.collect_soon`: the cycles a refresh leaves are freed after it, not when
CPython's own schedule gets to them (issue 21's soak: RSS +55 MiB per 1,000 deliveries)."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from app import memory


class Node:
    """A widget-like object in a cycle: only the collector frees it."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def no_automatic_gc(no_automatic_gc: None) -> Iterator[None]:
    """tests/conftest.py's, with `collect_soon`'s clock reset: only it can free the cycle."""
    memory._last_collect[0] = float("-inf")
    try:
        yield
    finally:
        memory._last_collect[0] = float("-inf")


def _cycle() -> weakref.ref[Node]:
    return weakref.ref(Node())


async def _turns(n: int = 3) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


@pytest.mark.usefixtures("no_automatic_gc")
async def test_collect_soon_frees_the_cycles_left_behind() -> None:
    left = _cycle()
    await _turns()
    assert left() is not None  # garbage, but nothing collected it yet
    memory.collect_soon(every=60.0, delay=0.0)
    await _turns()
    assert left() is None


@pytest.mark.usefixtures("no_automatic_gc")
async def test_collect_soon_runs_at_most_once_every_so_often() -> None:
    memory.collect_soon(every=60.0, delay=0.0)
    await _turns()
    left = _cycle()
    memory.collect_soon(every=60.0, delay=0.0)  # a second refresh at once: no second run
    await _turns()
    assert left() is not None
    gc.collect()
    assert left() is None


@pytest.mark.usefixtures("no_automatic_gc")
def test_start_ups_objects_frozen_out_of_later_collections_new_cycles_still_freed() -> None:
    """After start-up every refresh is followed by a full collection (`collect_soon`), which
    walked every object start-up left, ~35-40 ms each (issue 21)."""
    assert not memory._frozen[0]
    kept = [Node() for _ in range(1000)]  # start-up's: alive as long as the client
    garbage = _cycle()  # start-up's garbage: collected, not frozen
    try:
        assert memory.freeze_settled()
        assert not memory.freeze_settled()  # once
        assert garbage() is None
        assert gc.get_freeze_count() >= len(kept)
        walked = {id(o) for o in gc.get_objects()}
        assert not any(id(node) in walked for node in kept)
        left = _cycle()
        gc.collect()
        assert left() is None  # what later refreshes leave is still freed
    finally:
        gc.unfreeze()
        memory._frozen[0] = False
