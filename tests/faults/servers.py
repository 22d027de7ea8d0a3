"""Server faults for tests: kill and restart the sandbox's Dovecot or SMTP server, look at the
server's state from outside the app, and measure how long the UI takes to handle key presses.

The sandbox's start/stop calls block (they wait for a greeting), so they run in a thread: a test
and the app under test share one event loop, and a blocked loop would look like a UI freeze.
That thread lives as long as the process: the servers are started with PR_SET_PDEATHSIG, which
kills a child when the *thread* that forked it ends (asyncio.to_thread's pool threads end with
each test's event loop, and the restarted server would die with them).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from app.imap.client import ImapClient
from app.models import TlsMode

__all__ = [
    "KeyProbe",
    "Outage",
    "copies_by_message_id",
    "flags_by_message_id",
    "start_smtpd",
    "stop_smtpd",
    "wait_for",
]


#: The one thread that starts and stops servers, for the whole test process.
_SERVER_THREAD = ThreadPoolExecutor(1, thread_name_prefix="sandbox-servers")


async def _in_server_thread(fn: Callable[[], None]) -> None:
    await asyncio.get_running_loop().run_in_executor(_SERVER_THREAD, fn)


def stop_smtpd(sandbox: Any) -> None:
    """Kill the sandbox's SMTP server (its whole process group)."""
    sandbox.stop_smtpd()


def start_smtpd(sandbox: Any) -> None:
    """Start the SMTP server again on the same ports (returns once it greets)."""
    sandbox.start_smtpd()


def deliver_numbered(
    sandbox: Any, user: Any, n: int, subject: str, mid: Callable[[int], str]
) -> None:
    """Messages 1..n into INBOX, a minute apart: "`subject` i", Message-ID `mid(i)`."""
    for i in range(1, n + 1):
        sandbox.deliver(
            user.name,
            (
                f"From: Ann <ann@example.org>\r\nTo: {user.address}\r\nSubject: {subject} {i}\r\n"
                f"Date: Mon, 02 Mar 2026 10:{i:02d}:00 +0000\r\nMessage-ID: {mid(i)}\r\n\r\n"
                f"Body of message {i}.\r\n"
            ).encode(),
        )


class Outage:
    """One server of the sandbox, stopped and started on cue; `restore` leaves it running.

    `down_for` records how long it was really down (the tests' bounds depend on it).
    """

    def __init__(self, sandbox: Any, which: str) -> None:
        if which not in ("dovecot", "smtp"):
            raise ValueError("which is 'dovecot' or 'smtp'")
        self.sandbox = sandbox
        self.which = which
        self.down = False
        self.stopped_at = 0.0
        self.down_for: list[float] = []

    async def stop(self) -> None:
        fn = self.sandbox.stop_dovecot if self.which == "dovecot" else self._stop_smtp
        await _in_server_thread(fn)
        self.down = True
        self.stopped_at = time.monotonic()

    async def start(self) -> None:
        fn = self.sandbox.start_dovecot if self.which == "dovecot" else self._start_smtp
        await _in_server_thread(fn)
        if self.down:
            self.down_for.append(time.monotonic() - self.stopped_at)
        self.down = False

    async def restart_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self.start()

    def _stop_smtp(self) -> None:
        stop_smtpd(self.sandbox)

    def _start_smtp(self) -> None:
        start_smtpd(self.sandbox)

    def restore(self) -> None:
        """Synchronous, for fixture teardown: the server runs again whatever the test did."""
        if self.down:
            fn = self.sandbox.start_dovecot if self.which == "dovecot" else self._start_smtp
            _SERVER_THREAD.submit(fn).result()
            self.down = False


async def _client(user: Any) -> ImapClient:
    return await ImapClient.connect(user.imap_settings(TlsMode.IMPLICIT), user.credentials())


async def copies_by_message_id(user: Any, folders: tuple[str, ...]) -> dict[str, dict[str, int]]:
    """{folder: {Message-ID: copies}} as the server sees it, on a connection of its own."""
    client = await _client(user)
    out: dict[str, dict[str, int]] = {}
    try:
        for folder in folders:
            await client.select(folder, readonly=True)
            uids = await client.uid_list()
            counts: dict[str, int] = {}
            for summary in await client.fetch_summaries(uids) if uids else []:
                mid = summary.envelope.message_id or f"<uid {summary.uid}>"
                counts[mid] = counts.get(mid, 0) + 1
            out[folder] = counts
    finally:
        await client.close()
    return out


async def flags_by_message_id(user: Any, folder: str) -> dict[str, frozenset[str]]:
    """{Message-ID: flags} of `folder`, read on a connection of its own."""
    client = await _client(user)
    try:
        await client.select(folder, readonly=True)
        uids = await client.uid_list()
        summaries = await client.fetch_summaries(uids) if uids else []
    finally:
        await client.close()
    return {s.envelope.message_id or f"<uid {s.uid}>": s.flags for s in summaries}


async def wait_for(
    check: Callable[[], Any], timeout: float = 20.0, step: float = 0.05, what: str = "condition"
) -> Any:
    """Poll `check` until it is truthy; its value, or AssertionError naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        await asyncio.sleep(step)
    raise AssertionError(f"{what} not reached in {timeout} s")


@dataclass
class KeyProbe:
    """Presses keys the way a person browsing would, and records how long each took to handle.

    `pilot.press` returns once the screen has processed the key, so the time it takes is how
    long a user would wait for the UI to answer. The longest one is the UI's worst freeze.
    """

    pilot: Any
    keys: tuple[str, ...] = ("down", "up")
    gaps: list[float] = field(default_factory=list)
    _i: int = 0

    @property
    def longest(self) -> float:
        return max(self.gaps, default=0.0)

    async def press(self) -> None:
        key = self.keys[self._i % len(self.keys)]
        self._i += 1
        t0 = time.monotonic()
        await self.pilot.press(key)
        self.gaps.append(time.monotonic() - t0)

    async def until(
        self, check: Callable[[], Any], timeout: float = 30.0, what: str = "condition"
    ) -> Any:
        """Keep pressing (about 20 keys a second) until `check` is truthy."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = check()
            if value:
                return value
            await self.press()
            await asyncio.sleep(0.05)
        raise AssertionError(f"{what} not reached in {timeout} s (pressing keys)")

    async def during(self, seconds: float) -> None:
        """Keep pressing for `seconds`."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            await self.press()
            await asyncio.sleep(0.05)

    async def around(self, work: Awaitable[Any]) -> Any:
        """Keep pressing while `work` runs; its result."""
        task = asyncio.ensure_future(work)
        while not task.done():
            await self.press()
            await asyncio.sleep(0.05)
        return task.result()
