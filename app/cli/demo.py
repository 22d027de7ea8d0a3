"""`termail demo`: a private mail server with the demo mailbox, and termail opened on it.

Each demo owns one folder (in /dev/shm when there is one): the servers' files and the demo
accounts' data (drafts, outbox, header cache), so two demos at once never share anything. The
folder goes on every way out: a normal quit, an exception, Ctrl-C, SIGTERM and SIGHUP (the
terminal closed). One whose owner died without that (SIGKILL, a power cut) is swept at the next
start: `owner.json` names the owning process, and a folder whose owner is gone is removed.

What the user wrote is never removed with a folder: unfinished drafts and queued mail are moved
to termail's data folder (`kept_dir()`) first, and the next demo takes them up and offers them.
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

from app.cli.serve import (
    add_serve_arguments,
    check_host,
    protocol_log_args,
    serve,
    termail_command,
)
from app.mime.termout import say
from app.paths import process_alive
from app.sandbox.demo import DATA, DEMO_PASSWORD, DEMO_USER, FRIEND_USER, load_demo
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
    if fields and fields[0] in (b"Z", b"X"):
        return None  # killed, not yet reaped by its parent: gone all the same
    return fields[19].decode() if len(fields) > 19 else ""


def write_owner(root: Path) -> None:
    """Mark `root` as this process's demo folder, and say where its drafts are kept after it
    (a sweep by a demo with another data folder hands them back there, not to itself)."""
    owner = {"pid": os.getpid(), "start": _start_time(os.getpid()), "kept": str(kept_dir())}
    (root / OWNER_FILE).write_text(json.dumps(owner))


def _recorded_kept_dir(root: Path) -> Path | None:
    with contextlib.suppress(OSError, ValueError, TypeError, KeyError, AttributeError):
        kept = json.loads((root / OWNER_FILE).read_text()).get("kept")
        if isinstance(kept, str) and kept:
            return Path(kept)
    return None


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
            return True  # no such process, or a zombie
        return owner.get("start") not in (None, start)
    # No owner file: an older demo. Its servers' pids are in state.json.
    try:
        state = json.loads((root / "state.json").read_text())
        pids = [int(p) for p in state.get("pids", [])]
    except (OSError, ValueError, TypeError, AttributeError):
        pids = []
    if pids:
        return not any(process_alive(p) for p in pids)
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
        if is_stale(path) and hand_back(path):  # what the user wrote is kept first
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


_running: dict[str, Any] = {}
"""The demo's App while it runs (for the signal handlers), and whether it was asked to quit."""


# -- what the user wrote outlives the demo's folder ----------------------------------------------

KEPT = ("drafts", "outbox/cur")
"""The parts of a demo account's data that the user wrote: unfinished drafts, queued mail."""


def kept_dir() -> Path:
    """Where drafts and queued mail wait between demos: termail's data folder ("demo")."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("termail")) / "demo"


def _copy_whole(source: Path, target: Path) -> None:
    """`source` copied to `target` so that a crash leaves no half file under the target name."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(source, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _files(folder: Path) -> list[Path]:
    try:
        return [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
    except OSError:
        return []


def hand_back(root: Path, kept: Path | None = None) -> bool:
    """Move the drafts and queued mail of the demo folder `root` to `kept_dir()`, where the
    next demo takes them up. True when nothing is left behind (the folder may go)."""
    kept = kept or _recorded_kept_dir(root) or kept_dir()
    complete = True
    data = root / DATA
    try:
        accounts = [p for p in data.iterdir() if p.is_dir()]
    except OSError:
        return True  # no data folder: nothing written
    for account in accounts:
        for sub in KEPT:
            for source in _files(account / sub):
                target = kept / account.name / sub / source.name
                try:
                    if not target.exists():  # the same name is the same draft or entry
                        _copy_whole(source, target)
                    source.unlink()
                except OSError as exc:
                    complete = False
                    say(f"termail demo: could not keep {source}: {exc}", file=sys.stderr)
    return complete


def adopt(root: Path, kept: Path | None = None) -> int:
    """Take the drafts and queued mail left by earlier demos into this demo's data folder;
    returns how many. Each file is claimed by a rename first, so two demos starting at once
    never both take it; a claim whose process died is given back first."""
    kept = kept or kept_dir()
    taken = 0
    try:
        accounts = [p for p in kept.iterdir() if p.is_dir()]
    except OSError:
        return 0
    for account in accounts:
        for sub in KEPT:
            folder = account / sub
            with contextlib.suppress(OSError):
                for claim in folder.glob(".claim-*"):
                    pid_text = claim.name.split("-", 2)[1]
                    if pid_text.isdigit() and not process_alive(int(pid_text)):
                        with contextlib.suppress(OSError):
                            os.rename(claim, folder / claim.name.split("-", 2)[2])
            for source in _files(folder):
                claim = folder / f".claim-{os.getpid()}-{source.name}"
                try:
                    os.rename(source, claim)
                except OSError:
                    continue  # another demo took it
                try:
                    _copy_whole(claim, root / DATA / account.name / sub / source.name)
                    claim.unlink()
                    taken += 1
                except OSError as exc:
                    with contextlib.suppress(OSError):
                        os.rename(claim, source)
                    say(f"termail demo: could not take up {source}: {exc}", file=sys.stderr)
    return taken


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


def attached_sandbox(root: Path) -> Sandbox:
    """The running sandbox in `root` (another process owns it), from its state.json."""
    state = json.loads((root / "state.json").read_text())
    return Sandbox(
        root,
        host=str(state["host"]),
        users={str(k): str(v) for k, v in dict(state["users"]).items()},
        imap_port=int(state["imap_port"]),
        imaps_port=int(state["imaps_port"]),
        lmtp_port=int(state["lmtp_port"]),
        smtp_port=int(state["smtp_port"]),
        smtps_port=int(state["smtps_port"]),
    )


def _attach(root: Path) -> int:
    """termail on the demo that `termail demo --serve` runs in `root` (one browser tab)."""
    try:
        sandbox = attached_sandbox(root)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        say(f"termail demo: no running demo in {root}: {exc}", file=sys.stderr)
        return 1
    from app.main import run_demo_app

    return run_demo_app(sandbox)


def demo_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="termail demo")
    parser.add_argument("--print", action="store_true", help="only print how to reach the sandbox")
    parser.add_argument("--messages", type=int, default=0, help="also seed N messages in 'Bulk'")
    parser.add_argument(
        "--log-protocol", type=Path, default=None, metavar="FILE", help="write the dialogue here"
    )
    parser.add_argument("--serve", action="store_true", help="open it in a web browser instead")
    add_serve_arguments(parser)
    # What `--serve` runs for each browser tab: termail on the running demo in folder DIR.
    parser.add_argument("--attach", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        # The tabs' termail logs (the server speaks no IMAP or SMTP): FILE goes on to them.
        log_args = protocol_log_args(args.log_protocol, "termail demo")
        if log_args is None:
            return 2
        args.log_protocol_args = log_args
    elif args.log_protocol is not None:
        from app.cli.client import open_protocol_file

        if not open_protocol_file(args.log_protocol):
            return 2
    if args.attach is not None:
        return _attach(args.attach)
    if args.serve:
        refused = check_host(args.host, args.public, "termail demo")
        if refused is not None:
            say(refused, file=sys.stderr)
            return 2
    sweep_stale()
    root = Path(tempfile.mkdtemp(prefix=PREFIX, dir=_base_dir()))
    write_owner(root)
    adopt(root)  # drafts and queued mail of earlier demos (or of one that was killed)
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
            if hand_back(root):  # else the folder stays: the next start tries again
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
        say(f"termail demo: {exc}", file=sys.stderr)
        return 1
    load_demo(sandbox)
    if args.messages:
        sandbox.seed_generated(DEMO_USER, args.messages, mailbox="Bulk")
    if args.serve:
        attach = ["demo", "--attach", str(sandbox.root), *args.log_protocol_args]
        command = termail_command(attach)
        return serve(command, host=args.host, port=args.port, prog="termail demo")
    if args.print or not sys.stdout.isatty():
        say(describe(sandbox), flush=True)
        say("Press Ctrl-C to stop it.", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0
    from app.main import run_demo_app

    code = run_demo_app(sandbox, on_start=lambda app: _running.update(app=app))
    signum = _running.get("signal")
    return 128 + signum if isinstance(signum, int) else code
