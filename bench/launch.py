"""Launch termail headless in a subprocess, time it to its first screen of filled rows.

The parent (`launch`) starts `python -m bench.launch --child` with TEXTUAL_ANIMATIONS=none and
hands it, on stdin, where the server is, the cache file and the steps to run. The child builds
the real `TermailApp` on one `Account` and drives it with `App.run_test(headless=True)`:

- first screen: from the parent's `time.time()` just before it started the process (so Python's
  start-up and every import count) until every visible row of the message list holds its
  summary, and the frame is drawn. The child then says so on stdout and waits for the parent's
  answer, so the parent can read the byte counter of its proxy at exactly that point.
- the other steps are `bench.ui_list`'s (open another folder, page down, jump to the end).
- memory: VmHWM (peak RSS) and VmRSS from /proc/self/status at the end.

`CountingProxy` is a TCP forwarder on loopback that counts the bytes each way: what the
client really read from its socket (TLS records included), since the engine has no counter
of its own (app/imap/engine.py counts only the bytes its framer examined, literals excluded).
It runs its own event loop in a thread, so it serves a child process or the caller's own loop.

`raw_*` are the bounds: a bare TLS socket (`bench.cache.RawImap`, no parsing) sending the
same IMAP commands the app needs for the same screen.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: Terminal size of the headless app: a common full-screen terminal.
SIZE = (120, 40)
#: Items of a summary FETCH as ImapClient sends them once CONDSTORE is on.
SUMMARY_FETCH = "(UID FLAGS ENVELOPE RFC822.SIZE INTERNALDATE BODYSTRUCTURE MODSEQ)"


# -- the byte counter -----------------------------------------------------------------------------


class CountingProxy:
    """127.0.0.1:`port` forwarded to (`host`, `target_port`), counting bytes each way."""

    def __init__(self, host: str, target_port: int) -> None:
        self.host = host
        self.target_port = target_port
        self.port = 0
        self.down = 0
        """Bytes from the server to the client, all connections, so far."""
        self.up = 0
        self.connections = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()

    def start(self) -> CountingProxy:
        self._thread = threading.Thread(target=self._run, name="counting-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the counting proxy did not start")
        return self

    def reset(self) -> None:
        self.down = self.up = self.connections = 0

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)

        async def serve() -> None:
            self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
            self.port = self._server.sockets[0].getsockname()[1]
            self._ready.set()

        loop.run_until_complete(serve())
        loop.run_forever()
        loop.close()

    async def _accept(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            s_reader, s_writer = await asyncio.open_connection(self.host, self.target_port)
        except OSError:
            c_writer.close()
            return
        with contextlib.suppress(asyncio.CancelledError):  # the proxy stopping mid-connection
            await asyncio.gather(
                self._pump(s_reader, c_writer, down=True),
                self._pump(c_reader, s_writer, down=False),
            )

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, down: bool
    ) -> None:
        try:
            while True:
                data = await reader.read(1 << 17)
                if not data:
                    break
                if down:
                    self.down += len(data)
                else:
                    self.up += len(data)
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    def stop(self) -> None:
        loop = self._loop
        if loop is None:
            return

        async def halt() -> None:
            if self._server is not None:
                self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            loop.stop()

        loop.call_soon_threadsafe(lambda: loop.create_task(halt()))
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> CountingProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- the parent side ------------------------------------------------------------------------------


@dataclass
class LaunchSpec:
    """What the child runs: the server, the account's cache file, and the steps after launch."""

    host: str
    port: int
    user: str
    password: str
    ca_file: str
    cache_path: str
    home: str
    """XDG folders of the child (theme memory, drafts): never the user's own."""
    steps: list[dict[str, Any]] = field(default_factory=list)
    size: tuple[int, int] = SIZE
    timeout: float = 300.0


@dataclass
class LaunchResult:
    first_screen_s: float
    bytes_at_first_screen: int | None
    steps: dict[str, Any]
    vm_hwm_mb: float
    vm_rss_mb: float
    wall_s: float


#: Modules a launch imports, compiled once before the first timed launch (see `_bytecode_env`).
_LAUNCH_MODULES = (
    "bench.launch",
    "bench.ui_list",
    "app.main",
    "app.screens.main",
    "app.imap.client",
    "app.imap.mailbox",
    "app.screens.compose",
    "app.smtp.sending",
    "app.mime.render",
)
_bytecode_ready: set[str] = set()


def _bytecode_env(env: dict[str, str]) -> None:
    """Let the child use compiled bytecode, as an installed termail does.

    With PYTHONDONTWRITEBYTECODE set (as in some sandboxes and CI shells) and no __pycache__ in
    the checkout, every launch would compile termail's ~40 modules from source (about 0.09 s
    on this machine), a cost no installed copy pays (pip compiles on install; Python writes the
    cache on the first run). The bytecode goes to a private prefix, not into the checkout, and
    is written by one untimed import of the launch's modules before the first timed launch.
    """
    if not env.pop("PYTHONDONTWRITEBYTECODE", None):
        return
    import tempfile

    prefix = env.setdefault(
        "PYTHONPYCACHEPREFIX", str(Path(tempfile.gettempdir()) / "termail-bench-pycache")
    )
    if prefix in _bytecode_ready:
        return
    _bytecode_ready.add(prefix)
    code = "import " + ", ".join(_LAUNCH_MODULES)
    subprocess.run([sys.executable, "-c", code], cwd=str(ROOT), env=env, check=False)


def launch(spec: LaunchSpec, proxy: CountingProxy | None = None) -> LaunchResult:
    """Run one headless termail process to the end of its steps; see the module docstring."""
    env = dict(os.environ)
    env["TEXTUAL_ANIMATIONS"] = "none"
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    _bytecode_env(env)
    env["XDG_DATA_HOME"] = f"{spec.home}/data"
    env["XDG_CACHE_HOME"] = f"{spec.home}/cache"
    env["XDG_CONFIG_HOME"] = f"{spec.home}/config"
    env["TERMAIL_STATE_DIR"] = f"{spec.home}/state"
    if proxy is not None:
        proxy.reset()
    Path(spec.home).mkdir(parents=True, exist_ok=True)
    errors = Path(spec.home) / "child.stderr"
    t0 = time.time()
    with open(errors, "w") as err_file:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.launch", "--child"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err_file,
            cwd=str(ROOT),
            env=env,
            text=True,
        )
    assert proc.stdin is not None and proc.stdout is not None
    payload = dict(spec.__dict__, t0=t0, port=proxy.port if proxy is not None else spec.port)
    proc.stdin.write(json.dumps(payload) + "\n")
    proc.stdin.flush()
    first: float | None = None
    bytes_first: int | None = None
    done: dict[str, Any] | None = None
    timer = threading.Timer(spec.timeout, proc.kill)
    timer.start()
    try:
        for line in proc.stdout:
            if not line.startswith("{"):
                continue
            event = json.loads(line)
            if event.get("event") == "first_screen":
                first = float(event["t"])
                bytes_first = proxy.down if proxy is not None else None
                proc.stdin.write("go\n")
                proc.stdin.flush()
            elif event.get("event") == "done":
                done = event
                break
        proc.stdin.close()
        proc.wait(60)
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
    wall = time.time() - t0
    if first is None or done is None:
        err = errors.read_text(errors="replace")
        raise RuntimeError(f"the termail child failed (exit {proc.returncode}):\n{err[-4000:]}")
    return LaunchResult(
        first,
        bytes_first,
        done.get("steps", {}),
        float(done.get("vm_hwm_mb", 0.0)),
        float(done.get("vm_rss_mb", 0.0)),
        wall,
    )


# -- the raw bounds -------------------------------------------------------------------------------


def _raw(sb: Any, port: int | None = None) -> Any:
    from bench.cache import RawImap

    return RawImap(sb.host, port or sb.imaps_port, sb.client_ssl_context())


def _uids(lines: Sequence[bytes], word: bytes) -> list[int]:
    for line in lines:
        if line.startswith(b"* " + word):
            return [int(x) for x in line.split()[2:] if x.isdigit()]
    return []


def raw_launch(sb: Any, user: Any, folder: str, rows: int) -> tuple[float, list[int]]:
    """Connect (TLS), LOGIN, SELECT, UID SORT (REVERSE DATE), FETCH the first `rows`: seconds."""
    t0 = time.perf_counter()
    raw = _raw(sb)
    try:
        raw.command(f'LOGIN "{user.name}" "{user.password}"')
        raw.command(f'SELECT "{folder}"')
        order = _uids(raw.command("UID SORT (REVERSE DATE) UTF-8 ALL"), b"SORT")
        first = order[:rows]
        if first:
            raw.command(f"UID FETCH {','.join(map(str, first))} {SUMMARY_FETCH}")
        elapsed = time.perf_counter() - t0
    finally:
        raw.close()
    return elapsed, order


def raw_open(sb: Any, user: Any, folder: str, rows: int) -> float:
    """Logged in already (untimed): SELECT, UID SORT (REVERSE DATE), FETCH the first `rows`."""
    raw = _raw(sb)
    try:
        raw.command(f'LOGIN "{user.name}" "{user.password}"')
        t0 = time.perf_counter()
        raw.command(f'SELECT "{folder}"')
        order = _uids(raw.command("UID SORT (REVERSE DATE) UTF-8 ALL"), b"SORT")
        first = order[:rows]
        if first:
            raw.command(f"UID FETCH {','.join(map(str, first))} {SUMMARY_FETCH}")
        elapsed = time.perf_counter() - t0
    finally:
        raw.close()
    return elapsed


def raw_resync(sb: Any, user: Any, folder: str, before: Any, rows: int) -> float:
    """What a QRESYNC resync of `before` (a CachedMailbox) needs at least, LOGIN untimed:
    SELECT (QRESYNC ...) with VANISHED and the changed flags, the UIDs (and flags) of the new
    mail, the new display order (UID SORT), and the summaries of the new rows on the first
    screen (at most `rows`)."""
    from app.imap.parser import format_sequence_set

    raw = _raw(sb)
    try:
        raw.command(f'LOGIN "{user.name}" "{user.password}"')
        raw.command("ENABLE QRESYNC")
        known = format_sequence_set(sorted(before.uids))
        t0 = time.perf_counter()
        raw.command(
            f'SELECT "{folder}" (QRESYNC ({before.uidvalidity} {before.highestmodseq} {known}))'
        )
        start = max(before.uidnext or 1, max(before.uids, default=0) + 1)
        lines = raw.command(f"UID FETCH {start}:* (UID FLAGS)")
        new: set[int] = set()
        for line in lines:
            i = line.find(b"UID ")
            if i >= 0:
                digits = line[i + 4 :].split(b" ", 1)[0].rstrip(b")\r\n")
                if digits.isdigit():
                    new.add(int(digits))
        order = _uids(raw.command("UID SORT (REVERSE DATE) UTF-8 ALL"), b"SORT")
        wanted = [u for u in order[:rows] if u in new]
        if wanted:
            raw.command(f"UID FETCH {','.join(map(str, wanted))} {SUMMARY_FETCH}")
        elapsed = time.perf_counter() - t0
    finally:
        raw.close()
    return elapsed


def warm_server(sb: Any, user: Any, folders: Sequence[str]) -> None:
    """Untimed: make Dovecot index each folder and cache its counts, sort keys and envelopes
    first, so neither termail nor the raw bound pays the one-off cost of a folder never opened."""
    raw = _raw(sb)
    try:
        raw.command(f'LOGIN "{user.name}" "{user.password}"')
        raw.command("ENABLE CONDSTORE")  # Dovecot adds MODSEQs to a folder's index once
        for folder in folders:
            raw.command(f'STATUS "{folder}" (MESSAGES UNSEEN RECENT UIDNEXT UIDVALIDITY)')
            raw.command(f'STATUS "{folder}" (HIGHESTMODSEQ)')
            raw.command(f'SELECT "{folder}"')
            order = _uids(raw.command("UID SORT (REVERSE DATE) UTF-8 ALL"), b"SORT")
            for part in (order[:200], order[-200:]):
                if part:
                    raw.command(f"UID FETCH {','.join(map(str, part))} {SUMMARY_FETCH}")
    finally:
        raw.close()


# -- the child side -------------------------------------------------------------------------------


def _memory() -> tuple[float, float]:
    """(VmHWM, VmRSS) of this process in MB."""
    hwm = rss = 0.0
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
            elif line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
    if not hwm:
        import resource

        hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return hwm, rss


def _say(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def _mark_calls(obj: Any, names: Sequence[str], t0: float, marks: dict[str, float]) -> None:
    """Record, in `marks`, when each of these coroutine methods of `obj` first returned."""
    for name in names:
        original = getattr(obj, name)

        def wrap(original: Any = original, name: str = name) -> Any:
            if asyncio.iscoroutinefunction(original):

                async def timed(*args: Any, **kwargs: Any) -> Any:
                    marks.setdefault(f"{name}_called", time.time() - t0)
                    result = await original(*args, **kwargs)
                    marks.setdefault(f"{name}_done", time.time() - t0)
                    return result

                return timed

            def plain(*args: Any, **kwargs: Any) -> Any:
                result = original(*args, **kwargs)
                marks.setdefault(f"{name}_done", time.time() - t0)
                return result

            return plain

        setattr(obj, name, wrap())


def _trace_memory(obj: Any, names: Sequence[str], trace: list[tuple[str, float, float]]) -> None:
    """Diagnostics (BENCH_MEMORY_TRACE=1): (call, VmHWM, VmRSS) after every call of these
    coroutine methods of `obj`, to see which step raises the peak."""
    for name in names:
        original = getattr(obj, name)

        async def traced(*args: Any, _original: Any = original, _name: str = name) -> Any:
            result = await _original(*args)
            trace.append((_name, *_memory()))
            return result

        setattr(obj, name, traced)


def _watch_gc() -> dict[str, float]:
    """Seconds spent in the cyclic GC, and full collections, so far (updated as they happen)."""
    import gc

    totals = {"gc_s": 0.0, "gc_full": 0.0}
    started = [0.0]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        took = time.perf_counter() - started[0]
        totals["gc_s"] += took
        if info.get("generation") == 2:
            totals["gc_full"] += 1
            totals[f"gc_full_{int(totals['gc_full'])}_at"] = time.time()
            totals[f"gc_full_{int(totals['gc_full'])}_s"] = took

    gc.callbacks.append(callback)
    return totals


async def _child(spec: dict[str, Any]) -> None:
    t0 = float(spec["t0"])
    marks: dict[str, float] = {"child_start": time.time() - t0}
    gc_totals = _watch_gc()
    from app.account import Account
    from app.main import TermailApp
    from app.models import Credentials, ServerSettings, TlsMode
    from bench import ui_list

    marks["imported"] = time.time() - t0
    settings = ServerSettings(
        host=spec["host"],
        port=int(spec["port"]),
        user=spec["user"],
        tls=TlsMode.IMPLICIT,
        ca_file=spec["ca_file"],
        compress=os.environ.get("BENCH_COMPRESS", "1") != "0",
    )
    creds = Credentials(spec["user"], spec["password"])
    account = Account(
        spec["user"],
        settings,
        lambda: creds,
        addresses=[f"{spec['user']}@localhost"],
        cache_path=Path(spec["cache_path"]),
    )
    opens = ui_list.time_open_folder(account)
    window = os.environ.get("BENCH_PROFILE_WINDOW")
    profiler: Any = None
    if window:  # diagnostics: profile from the first open's end to the first screen drawn
        import cProfile

        profiler = cProfile.Profile()
        original_open = account.open_folder

        async def open_then_profile(folder: Any) -> Any:
            result = await original_open(folder)
            if not profiler.getstats():
                profiler.enable()
            return result

        setattr(account, "open_folder", open_then_profile)  # noqa: B010
    _mark_calls(
        account,
        ["connect", "load_folders", "open_folder_cached", "open_folder", "summaries_for"],
        t0,
        marks,
    )
    connect = account.connect

    async def connect_and_mark() -> None:
        await connect()
        # The IMAP commands of the first open, in the timeline as client_<name>_done.
        marks_client: dict[str, float] = {}
        _mark_calls(account.client, ["select", "uid_list", "fetch_summaries"], t0, marks_client)
        marks_client_ref.append(marks_client)

    marks_client_ref: list[dict[str, float]] = []
    setattr(account, "connect", connect_and_mark)  # noqa: B010
    memory_trace: list[tuple[str, float, float]] = []
    if os.environ.get("BENCH_MEMORY_TRACE"):
        _trace_memory(
            account, ["connect", "load_folders", "open_folder", "summaries_for"], memory_trace
        )
        _trace_memory(account, ["reload_uids"], memory_trace)
    app = TermailApp([account])
    width, height = spec.get("size") or SIZE
    results: dict[str, Any] = {}
    marks["app_built"] = time.time() - t0
    async with app.run_test(headless=True, size=(int(width), int(height))) as pilot:
        marks["app_running"] = time.time() - t0
        seen: dict[str, float] = {}
        await ui_list.wait_filled(app, timeout=float(spec.get("timeout", 300)), marks=seen)
        marks.update({k: v - t0 for k, v in seen.items()})
        for client_marks in marks_client_ref[:1]:
            marks.update({f"client_{k}": v for k, v in client_marks.items()})
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(window)
        elapsed = time.time() - t0
        marks["first_screen"] = elapsed
        results["vm_hwm_first_screen_mb"], results["vm_rss_first_screen_mb"] = _memory()
        results["timeline"] = marks
        results["gc_at_first_screen"] = {
            k: (v - t0 if k.endswith("_at") else v) for k, v in gc_totals.items()
        }
        _say({"event": "first_screen", "t": elapsed})
        sys.stdin.readline()  # the parent reads its byte counter while everything stands still
        ml = ui_list.message_list(app)
        results["rows"] = ml.scrollable_content_region.height if ml is not None else 0
        results["first_open"] = opens[0] if opens else None
        await ui_list.wait_synced(app, account)
        results["synced_open"] = opens[-1] if opens else None
        for step in spec.get("steps", []):
            results[step["name"]] = await ui_list.run_step(pilot, app, account, step)
    hwm, rss = _memory()
    if memory_trace:
        results["memory_trace"] = memory_trace
    _say({"event": "done", "steps": results, "vm_hwm_mb": hwm, "vm_rss_mb": rss})


def child_main() -> int:
    spec = json.loads(sys.stdin.readline())
    profile = os.environ.get("BENCH_PROFILE")
    if not profile:
        asyncio.run(_child(spec))
        return 0
    import cProfile  # diagnostics: BENCH_PROFILE=file writes the child's profile there

    with cProfile.Profile() as prof:
        asyncio.run(_child(spec))
    prof.dump_stats(profile)
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--child"]:
        sys.exit(child_main())
    print("run `python -m bench` (this module is its launcher)", file=sys.stderr)
    sys.exit(2)
