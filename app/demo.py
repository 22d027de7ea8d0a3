"""`termail demo`: a private mail server with the demo mailbox, and termail opened on it.

Each demo owns one folder (in /dev/shm when there is one): the servers' files and the demo
accounts' data (drafts, outbox, header cache), so two demos at once never share anything. The
folder goes on every way out: a normal quit, an exception, Ctrl-C, SIGTERM and SIGHUP (the
terminal closed). One whose owner died without that (SIGKILL, a power cut) is swept at the next
start: `owner.json` names the owning process, and a folder whose owner is gone is removed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from app.sandbox.demo import DEMO_PASSWORD, DEMO_USER, FRIEND_USER, load_demo
from app.sandbox.server import Sandbox, SandboxError

PREFIX = "termail-demo-"
OWNER_FILE = "owner.json"
#: A folder with no owner file (an older termail, or a start that died at once) this old is
#: taken for stale.
UNOWNED_STALE_SECONDS = 600.0
#: Seconds the App gets to quit after SIGTERM/SIGHUP before the demo leaves without it.
QUIT_GRACE_SECONDS = 5


def _base_dir() -> str | None:
    return "/dev/shm" if Path("/dev/shm").is_dir() else None


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22), which
    tells a live owner from a new process that got the same pid; None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = stat.rsplit(b")", 1)[-1].split()
    return fields[19].decode() if len(fields) > 19 else ""


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_owner(root: Path) -> None:
    """Mark `root` as this process's demo folder."""
    owner = {"pid": os.getpid(), "start": _start_time(os.getpid())}
    (root / OWNER_FILE).write_text(json.dumps(owner))


def is_stale(root: Path, *, now: float | None = None) -> bool:
    """True when no live process owns the demo folder `root`."""
    try:
        owner = json.loads((root / OWNER_FILE).read_text())
        pid = int(owner["pid"])
    except FileNotFoundError:
        owner = None
    except (OSError, ValueError, KeyError, TypeError):
        return True  # unreadable: nobody can be reading it either
    if owner is not None:
        start = _start_time(pid)
        if start is None:
            return not _alive(pid)
        return owner.get("start") not in (None, start)
    # No owner file: an older demo. Its servers' pids are in state.json.
    try:
        state = json.loads((root / "state.json").read_text())
        pids = [int(p) for p in state.get("pids", [])]
    except (OSError, ValueError, TypeError, AttributeError):
        pids = []
    if pids:
        return not any(_alive(p) for p in pids)
    try:
        age = (time.time() if now is None else now) - root.stat().st_mtime
    except OSError:
        return False
    return age > UNOWNED_STALE_SECONDS


def sweep_stale(base: str | None = None) -> list[Path]:
    """Remove the demo folders whose owner is gone; returns those removed."""
    folder = Path(base if base is not None else (_base_dir() or tempfile.gettempdir()))
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    for path in entries:
        if not path.name.startswith(PREFIX) or path.is_symlink() or not path.is_dir():
            continue
        try:
            if path.stat().st_uid != os.getuid():
                continue  # another user's demo: not ours to judge
        except OSError:
            continue
        if is_stale(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


_running: dict[str, Any] = {}
"""The demo's App while it runs (for the signal handlers), and whether it was asked to quit."""


class _Terminated(SystemExit):
    """SIGTERM or SIGHUP: leave through the `finally` that stops the servers."""


@contextlib.contextmanager
def _exit_on_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP end the demo as an exception would, so its folder is removed (the
    default action would kill the process on the spot and leave the folder for ever)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        app = _running.get("app")
        if app is not None and not _running.get("asked"):
            # First ask the App to quit, so the terminal is given back as it was; the loop's
            # wake-up pipe makes this safe from a signal handler. A second signal, or no
            # App, leaves at once.
            import asyncio

            with contextlib.suppress(RuntimeError):
                loop = asyncio.get_running_loop()
                _running["asked"] = True
                _running["signal"] = signum
                loop.call_soon_threadsafe(app.exit)
                # A closed terminal may keep the App from finishing: then leave anyway.
                with contextlib.suppress(ValueError, OSError):
                    signal.signal(signal.SIGALRM, _give_up)
                    signal.alarm(QUIT_GRACE_SECONDS)
                return
        raise _Terminated(128 + signum)

    def _give_up(signum: int, frame: FrameType | None) -> None:
        raise _Terminated(128 + int(_running.get("signal") or signum))

    previous = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(ValueError, OSError):  # not the main thread: leave it
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError, OSError):
            signal.alarm(0)
        for sig, old in previous.items():
            with contextlib.suppress(ValueError, OSError):
                signal.signal(sig, old)


def describe(sandbox: Sandbox) -> str:
    return (
        "termail demo sandbox is running.\n"
        f"  IMAP  127.0.0.1:{sandbox.imap_port} (STARTTLS)   IMAPS 127.0.0.1:{sandbox.imaps_port}\n"
        f"  SMTP  127.0.0.1:{sandbox.smtp_port} (STARTTLS)   SMTPS 127.0.0.1:{sandbox.smtps_port}\n"
        f"  CA file: {sandbox.ca_file}\n"
        f"  users: {DEMO_USER}/{DEMO_PASSWORD} ({DEMO_USER}@localhost), "
        f"{FRIEND_USER}/{sandbox.users.get(FRIEND_USER, '')}\n"
    )


def demo_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="termail demo")
    parser.add_argument("--print", action="store_true", help="only print how to reach the sandbox")
    parser.add_argument("--messages", type=int, default=0, help="also seed N messages in 'Bulk'")
    args = parser.parse_args(argv)
    sweep_stale()
    root = Path(tempfile.mkdtemp(prefix=PREFIX, dir=_base_dir()))
    write_owner(root)
    sandbox = Sandbox(root)
    try:
        with _exit_on_signals():
            return _run(sandbox, args)
    except _Terminated as exc:
        return int(exc.code) if isinstance(exc.code, int) else 1
    finally:
        # Signals again: a second SIGHUP or SIGTERM must not cut the cleanup short.
        with _ignoring_signals():
            sandbox.stop()
            shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def _ignoring_signals() -> Iterator[None]:
    previous = {}
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        with contextlib.suppress(ValueError, OSError):
            previous[sig] = signal.signal(sig, signal.SIG_IGN)
    try:
        yield
    finally:
        for sig, old in previous.items():
            with contextlib.suppress(ValueError, OSError):
                signal.signal(sig, old)


def _run(sandbox: Sandbox, args: argparse.Namespace) -> int:
    try:
        sandbox.start()
    except SandboxError as exc:
        print(f"termail demo: {exc}", file=sys.stderr)
        return 1
    load_demo(sandbox)
    if args.messages:
        sandbox.seed_generated(DEMO_USER, args.messages, mailbox="Bulk")
    if args.print or not sys.stdout.isatty():
        print(describe(sandbox), flush=True)
        print("Press Ctrl-C to stop it.", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0
    from app.main import run_demo_app

    code = run_demo_app(sandbox, on_start=lambda app: _running.update(app=app))
    signum = _running.get("signal")
    return 128 + signum if isinstance(signum, int) else code
