"""Giving the heap back to the system once start-up has settled (glibc `malloc_trim`).

Start-up allocates and frees a lot at once: the imports' temporary objects, the server's UID
list of a big folder as one line and its parsed copies, Textual's first layouts. glibc keeps
the freed pages in the process (RSS) until it is told to return them; `malloc_trim(0)` does,
~8 MB of 70 at a 100,000-message INBOX (issue 21). Elsewhere (musl, macOS) it is a no-op.

While the client stays open, what grows is not the C heap but Python's: every refresh under
new mail leaves reference cycles (widgets laid out again, styles applied, the new-mail toast)
that only a full collection frees, and CPython runs one only when a quarter as many objects
again as start-up left have piled up (tens of MB here). `collect_soon` runs it after refreshes.
"""

from __future__ import annotations

import sys
from functools import cache
from typing import Any

__all__ = [
    "COLLECT_EVERY",
    "SETTLE",
    "collect_soon",
    "freeze_settled",
    "trim_heap",
    "trim_heap_later",
]

#: Seconds after start-up's last step when the heap is trimmed.
SETTLE = (1.0, 4.0)
#: While the client stays open: at most one full collection in this many seconds.
COLLECT_EVERY = 10.0
_last_collect = [float("-inf")]
_frozen = [False]


@cache
def _libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # here: the first screen does not need it

    try:
        libc = ctypes.CDLL("libc.so.6")  # glibc; musl has no malloc_trim (AttributeError)
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def trim_heap() -> bool:
    """Return the free pages of the C heap to the system; False where there is no way to.
    The GIL is released meanwhile (ctypes), so a worker thread may run it."""
    trim = _libc()
    if trim is None:
        return False
    trim(0)
    return True


def trim_heap_later(delays: tuple[float, ...] = SETTLE, *, freeze: bool = True) -> None:
    """`trim_heap` in a thread after each of `delays` seconds from now (call from the event
    loop's thread): once what start-up freed is free. The first screen's last frames and the
    folder list are done at the first; the IDLE watcher's own connection (its SELECT and
    UID list of the folder) a few seconds later, hence the second, and then `freeze_settled`
    if `freeze` (not in a process that runs many apps, a test suite's: one app's objects
    would stay frozen after it ended)."""
    import asyncio
    import threading

    def start() -> None:
        threading.Thread(target=trim_heap, name="trim-heap", daemon=True).start()

    loop = asyncio.get_running_loop()
    for delay in delays:
        loop.call_later(delay, start)
    if delays and freeze:
        loop.call_later(max(delays), freeze_settled)


def freeze_settled() -> bool:
    """Start-up's objects (modules, Textual, the screens, the first folder's rows) out of
    every later full collection: a full `gc.collect()`, then `gc.freeze()`, once. False when
    already done.

    Every refresh under new mail is followed by a full collection (`collect_soon`), which
    walked all of them, ~35-40 ms each (issue 21). Frozen objects are still freed by their
    reference counts; only a cycle among them that is dropped later stays, which start-up's,
    alive as long as the client, do not make. The collection first, so no garbage is frozen.

    `app.imap.client`'s bulk loads agree: they move what they allocated to the oldest
    generation by a freeze then an unfreeze only while nothing is frozen (the unfreeze would
    undo this); after it, a big load's objects are walked once by a young collection, the
    lesser cost (a freeze without the unfreeze would also freeze the cycles left while the
    collector was paused, never to be freed)."""
    import gc

    if _frozen[0]:
        return False
    _frozen[0] = True
    gc.collect()
    gc.freeze()
    return True


def collect_soon(every: float = COLLECT_EVERY, delay: float = 1.0) -> None:
    """A full `gc.collect()` `delay` seconds from now, at most once every `every` seconds
    (call from the event loop's thread; the collection runs on it, a few tens of ms).

    Issue 21's soak (new mail every 0.5 s, a refresh a second): RSS grew ~55 MiB per 1,000
    deliveries with CPython's own schedule, the cycles each refresh left waiting for a full
    collection, and their freed arenas fragmented; ~16 with one every few seconds. Called
    after refreshes only, so an idle client does none. (A `malloc_trim` after refreshes was
    tried before and gave nothing back: this memory is Python's, not the C heap's.)"""
    import asyncio
    import gc
    import time

    now = time.monotonic()
    if now - _last_collect[0] < every:
        return
    _last_collect[0] = now
    asyncio.get_running_loop().call_later(delay, gc.collect)
