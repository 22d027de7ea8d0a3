"""Giving the heap back to the system once start-up has settled (glibc `malloc_trim`).

Start-up allocates and frees a lot at once: the imports' temporary objects, the server's UID
list of a big folder as one line and its parsed copies, Textual's first layouts. glibc keeps
the freed pages in the process (RSS) until it is told to return them; `malloc_trim(0)` does,
~8 MB of 70 at a 100,000-message INBOX (issue 21). Elsewhere (musl, macOS) it is a no-op.
"""

from __future__ import annotations

import sys
from functools import cache
from typing import Any

__all__ = ["SETTLE", "TRIM_EVERY", "trim_heap", "trim_heap_later", "trim_heap_soon"]

#: Seconds after start-up's last step when the heap is trimmed.
SETTLE = (1.0, 4.0)
#: While the client stays open: at most one trim in this many seconds (`trim_heap_soon`).
TRIM_EVERY = 20.0
_last_trim = [float("-inf")]


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


def trim_heap_later(delays: tuple[float, ...] = SETTLE) -> None:
    """`trim_heap` in a thread after each of `delays` seconds from now (call from the event
    loop's thread): once what start-up freed is free. The first screen's last frames and the
    folder list are done at the first; the IDLE watcher's own connection (its SELECT and
    UID list of the folder) a few seconds later, hence the second."""
    import asyncio
    import threading

    def start() -> None:
        threading.Thread(target=trim_heap, name="trim-heap", daemon=True).start()

    loop = asyncio.get_running_loop()
    for delay in delays:
        loop.call_later(delay, start)


def trim_heap_soon(every: float = TRIM_EVERY) -> None:
    """`trim_heap` a second from now, at most once every `every` seconds (call from the event
    loop's thread): each refresh of an open folder frees its temporary UID lists and answers,
    and without a trim a client left open under steady new mail only grows (issue 21's soak)."""
    import time

    now = time.monotonic()
    if now - _last_trim[0] < every:
        return
    _last_trim[0] = now
    trim_heap_later((1.0,))
