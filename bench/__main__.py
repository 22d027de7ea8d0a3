"""`python -m bench [--messages N]`: every speed figure of termail against the sandbox, as JSON lines.

Starts a Sandbox on /dev/shm, seeds N generated messages (100,000 by default) in INBOX and in
another folder ("Other"), lets Dovecot index both (untimed: a folder's first SORT costs the
server about 1 s per 100,000 messages, once), then measures, each against its raw bound taken
in the same run (a bare TLS socket sending the same IMAP commands, `bench.launch`):

1. launch_cold_first_screen_s: a headless termail process (TermailApp, run_test, animations
   off), empty header cache, from the process start to the first screen of rows filled and
   drawn; launch_cold_bytes_read: bytes read from the server by then (through a counting
   proxy, TLS included); open_cold_first_screen_s: from inside the same app, opening "Other"
   until its first screen is filled; open_cold_raw_bound_s / open_cold_ratio against SELECT +
   UID SORT + FETCH of the visible rows on a logged-in bare socket.
2. launch_warm_first_screen_s: the same launch with the cache the cold run left; then 1,000
   flag changes and 1,000 new messages are made by another client, and resync_s is the app's
   open of INBOX (`Account.open_folder`: SELECT QRESYNC, new mail, UID SORT, the new rows'
   summaries, the cache written) against resync_raw_bound_s (`bench.launch.raw_resync`).
3. page_down_ms and jump_end_filled_ms (`bench.ui_list`), rss_100k_mb (peak RSS of the
   cold-launch process, which opened two 100,000-message folders), rss_1m_mb (the same app on a
   folder of 1,000,000 real messages, cold, page-downs and a jump to the end).
4. attachment_* (`bench.attachment`).
5. header_parse_per_s: FETCH responses (the items the list asks for, BODYSTRUCTURE included)
   of the seeded INBOX, read raw, then parsed into MessageSummary objects by termail's parser.
Then the figures of `bench.render` (run as a subprocess) and `bench.cache` (its `run`; its
resync figures are renamed `lib_resync*`, since they time `app.store.sync.resync` alone).

Every line is `{"figure": NAME, "value": NUMBER, "unit": UNIT}` (with a "note" where what was
measured needs saying). Timed figures are medians of --runs runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.launch import (  # noqa: E402
    CountingProxy,
    LaunchResult,
    LaunchSpec,
    launch,
    raw_launch,
    raw_open,
    raw_resync,
    warm_server,
)

OTHER = "Other"
#: Disk (tmpfs) a generated message takes in the sandbox, with Dovecot's index: ~4.1 KB.
BYTES_PER_MESSAGE = 4600


def emit(figure: str, value: float, unit: str, **extra: Any) -> None:
    if isinstance(value, float):
        value = round(value, 4)
    print(json.dumps({"figure": figure, "value": value, "unit": unit, **extra}), flush=True)


def log(text: str) -> None:
    print(f"# {text}", file=sys.stderr, flush=True)


def median(values: list[float]) -> float:
    return statistics.median(values)


class Bench:
    """One run of everything; `work` holds the child processes' homes and cache files."""

    def __init__(self, sb: Any, work: Path, messages: int, runs: int) -> None:
        self.sb = sb
        self.work = work
        self.messages = messages
        self.runs = runs
        self.user: Any = None
        self._n = 0

    def spec(self, user: Any, cache: Path, steps: list[dict[str, Any]]) -> LaunchSpec:
        self._n += 1
        home = self.work / f"launch-{self._n}"
        return LaunchSpec(
            host=self.sb.host,
            port=self.sb.imaps_port,
            user=user.name,
            password=user.password,
            ca_file=str(self.sb.ca_file),
            cache_path=str(cache),
            home=str(home),
            steps=steps,
        )

    def fresh_cache(self) -> Path:
        self._n += 1
        folder = self.work / f"cache-{self._n}"
        folder.mkdir(parents=True)
        return folder / "headers.sqlite3"

    def copy_cache(self, snapshot: Path) -> Path:
        target = self.fresh_cache()
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{snapshot}{suffix}")
            if source.exists():
                shutil.copyfile(source, f"{target}{suffix}")
        return target

    # -- 1 and 3: cold -------------------------------------------------------------------------
    def cold(self) -> Path:
        sb, user = self.sb, self.user
        steps: list[dict[str, Any]] = [
            {"name": "open", "kind": "open", "folder": OTHER},
            {"name": "page_down", "kind": "page_down", "count": 10},
            {"name": "jump_end", "kind": "jump_end"},
        ]
        results: list[LaunchResult] = []
        last_cache = Path()
        for i in range(self.runs):
            last_cache = self.fresh_cache()
            log(f"cold launch {i + 1}/{self.runs}")
            results.append(launch(self.spec(user, last_cache, steps)))
        rows = int(results[0].steps.get("rows") or 38)
        launch_bound = [raw_launch(sb, user, "INBOX", rows)[0] for _ in range(self.runs)]
        open_bound = [raw_open(sb, user, OTHER, rows) for _ in range(self.runs)]
        log("cold launch through the counting proxy")
        with CountingProxy(sb.host, sb.imaps_port) as proxy:
            counted = launch(self.spec(user, self.fresh_cache(), []), proxy)

        timeline(results, "launch_cold")
        emit(
            "rss_100k_first_screen_mb",
            median([float(r.steps["vm_hwm_first_screen_mb"]) for r in results]),
            "MB",
            note="peak RSS of the cold launch at its first screen (INBOX only)",
        )
        first = median([r.first_screen_s for r in results])
        opened = median([float(r.steps["open"]) for r in results])
        bound = median(open_bound)
        emit("launch_cold_first_screen_s", first, "s")
        emit(
            "launch_cold_bytes_read",
            counted.bytes_at_first_screen or 0,
            "bytes",
            note="all connections, TLS included, process start to first screen",
        )
        emit(
            "launch_raw_bound_s",
            median(launch_bound),
            "s",
            note=f"bare socket: TLS connect, LOGIN, SELECT, UID SORT, FETCH {rows} rows",
        )
        emit("open_cold_first_screen_s", opened, "s")
        emit(
            "open_cold_raw_bound_s",
            bound,
            "s",
            note=f"logged in: SELECT, UID SORT (REVERSE DATE), FETCH {rows} visible rows",
        )
        emit("open_cold_ratio", opened / bound, "x")
        open_account = median([float(r.steps["synced_open"]["s"]) for r in results])
        emit(
            "open_cold_account_s",
            open_account,
            "s",
            note="of open_cold: Account.open_folder (SELECT, SORT, 100 summaries, cache write)",
        )
        pages = [t for r in results for t in r.steps["page_down"]]
        emit("page_down_ms", median(pages) * 1e3, "ms", note=f"median of {len(pages)}")
        emit("page_down_max_ms", max(pages) * 1e3, "ms")
        emit("jump_end_filled_ms", median([r.steps["jump_end"] * 1e3 for r in results]), "ms")
        emit(
            "rss_100k_mb",
            median([r.vm_hwm_mb for r in results]),
            "MB",
            note=(
                f"peak RSS (VmHWM) of the app process after opening INBOX and {OTHER} "
                f"({self.messages} messages each), page-downs and a jump to the end"
            ),
        )
        return last_cache

    # -- 2: warm, and resync --------------------------------------------------------------------
    def warm(self, snapshot: Path) -> None:
        sb, user = self.sb, self.user
        warm_runs = []
        for i in range(self.runs):
            log(f"warm launch {i + 1}/{self.runs}")
            warm_runs.append(launch(self.spec(user, self.copy_cache(snapshot), [])))
        firsts = [r.first_screen_s for r in warm_runs]
        timeline(warm_runs, "launch_warm")
        with CountingProxy(sb.host, sb.imaps_port) as proxy:
            counted = launch(self.spec(user, self.copy_cache(snapshot), []), proxy)
        emit("launch_warm_first_screen_s", median(firsts), "s")
        emit("launch_warm_bytes_read", counted.bytes_at_first_screen or 0, "bytes")

        from app.store.cache import HeaderCache
        from bench.cache import change_on_server

        with HeaderCache.open(snapshot) as cache:
            before = cache.mailbox_state("INBOX")
        assert before is not None and before.highestmodseq is not None
        log("1,000 flag changes and 1,000 new messages by another client")
        change_on_server(sb, user, 1000, 1000)
        ours: list[float] = []
        bound: list[float] = []
        firsts_changed: list[float] = []
        rows = 38
        for i in range(self.runs + 1):
            log(f"resync launch {i + 1}/{self.runs + 1}")
            result = launch(self.spec(user, self.copy_cache(snapshot), []))
            rows = int(result.steps.get("rows") or rows)
            opens = result.steps["synced_open"]
            raw = raw_resync(sb, user, "INBOX", before, rows)
            if i == 0:
                continue  # Dovecot rewrites its index in the first session after the changes
            ours.append(float(opens["s"]))
            bound.append(raw)
            firsts_changed.append(result.first_screen_s)
        emit(
            "resync_s",
            median(ours),
            "s",
            note="Account.open_folder on the warm cache: QRESYNC resync, SORT, cache written",
        )
        emit("resync_raw_bound_s", median(bound), "s")
        emit("resync_ratio", median(ours) / median(bound), "x")
        emit("launch_warm_changed_first_screen_s", median(firsts_changed), "s")

    # -- 5 --------------------------------------------------------------------------------------
    def header_parse(self, count: int = 20_000) -> None:
        from app.imap import parser
        from app.imap.client import _summary
        from bench.cache import RawImap
        from bench.launch import SUMMARY_FETCH

        sb, user = self.sb, self.user
        raw = RawImap(sb.host, sb.imaps_port, sb.client_ssl_context())
        try:
            raw.command(f'LOGIN "{user.name}" "{user.password}"')
            raw.command("EXAMINE INBOX")
            lines = raw.command(f"UID FETCH 1:{count} {SUMMARY_FETCH}")
        finally:
            raw.close()
        responses = [line[:-2] if line.endswith(b"\r\n") else line for line in lines]
        responses = [r for r in responses if b" FETCH " in r[:30]]
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            for item in responses:
                data = parser.parse_untagged(item)
                _summary(data)  # type: ignore[arg-type]
            best = min(best, time.perf_counter() - t0)
        emit(
            "header_parse_per_s",
            round(len(responses) / best),
            "1/s",
            note=(
                f"{len(responses)} live FETCH responses (UID FLAGS ENVELOPE RFC822.SIZE "
                "INTERNALDATE BODYSTRUCTURE MODSEQ) parsed into MessageSummary, best of 3"
            ),
        )

    # -- 3: a million ---------------------------------------------------------------------------
    def small(self) -> None:
        """The same app on a 50-message INBOX: the memory of Python, Textual and termail alone."""
        user = self.sb.add_user("small")
        self.sb.seed_generated(user.name, 50)
        result = launch(self.spec(user, self.fresh_cache(), []))
        emit(
            "rss_50_messages_mb",
            result.vm_hwm_mb,
            "MB",
            note="peak RSS of a cold launch on a 50-message INBOX: the baseline",
        )
        emit("launch_cold_50_messages_first_screen_s", result.first_screen_s, "s")

    def million(self, count: int) -> None:
        sb = self.sb
        free = shutil.disk_usage(sb.root).free
        fits = int(free * 0.8 / BYTES_PER_MESSAGE)
        real = min(count, fits)
        # Dovecot's imap processes may use 256 MB by default, too little to index a Maildir of
        # a million messages: raise it in this sandbox's generated config and restart.
        conf = Path(sb.conf)
        if "default_vsz_limit" not in conf.read_text():
            with open(conf, "a") as f:
                f.write("\ndefault_vsz_limit = 4G\n")
            sb.stop_dovecot()
            sb.start_dovecot()
        user = sb.add_user("million")
        log(f"seeding {real} messages (the 1M figure)")
        t0 = time.perf_counter()
        sb.seed_generated(user.name, real)
        seeded = time.perf_counter() - t0
        t0 = time.perf_counter()
        warm_server(sb, user, ["INBOX"])
        indexed = time.perf_counter() - t0
        log(f"seeded in {seeded:.0f} s, indexed and sorted by Dovecot in {indexed:.0f} s")
        steps: list[dict[str, Any]] = [
            {"name": "page_down", "kind": "page_down", "count": 5},
            {"name": "jump_end", "kind": "jump_end"},
        ]
        result = launch(self.spec(user, self.fresh_cache(), steps))
        note = (
            f"peak RSS (VmHWM) of the app process, cold launch on an INBOX of {real} real "
            "messages, 5 page-downs and a jump to the end (Dovecot run with "
            "default_vsz_limit = 4G for this folder)"
        )
        if real < count:
            note += f" (only {real} fit in {sb.root}'s free space, not {count})"
        emit("rss_1m_mb", result.vm_hwm_mb, "MB", note=note)
        emit(
            "rss_1m_first_screen_mb",
            float(result.steps["vm_hwm_first_screen_mb"]),
            "MB",
            note="the same process's peak RSS at its first screen",
        )
        emit("launch_cold_1m_first_screen_s", result.first_screen_s, "s")
        emit("jump_end_filled_1m_ms", float(result.steps["jump_end"]) * 1e3, "ms")
        emit("page_down_1m_ms", median(result.steps["page_down"]) * 1e3, "ms")
        shutil.rmtree(user.maildir, ignore_errors=True)  # 4 GB of tmpfs back


#: Points of a launch's timeline reported (seconds from the process start), see bench.launch.
TIMELINE = {
    "imported": "Python started and termail's modules imported",
    "app_running": "Textual app up (run_test entered, the screen mounting)",
    "connect_done": "IMAP connection ready (TLS, LOGIN, CAPABILITY, ENABLE)",
    "load_folders_done": "folder list and counts (LIST, STATUS)",
    "open_folder_cached_done": "cached list read (warm: shown)",
    "open_folder_done": "server's list (resync: SELECT, SORT, first summaries)",
}


def timeline(results: list[LaunchResult], prefix: str) -> None:
    """Medians of the launch timeline: where the time to the first screen goes."""
    for key, what in TIMELINE.items():
        values = [r.steps["timeline"][key] for r in results if key in r.steps.get("timeline", {})]
        if values:
            emit(f"{prefix}_t_{key}_s", median(values), "s", note=what)


def passthrough(module: str, rename: Callable[[str], str] = lambda name: name) -> None:
    """Run `python -m module` and print its JSON lines (figures renamed by `rename`)."""
    proc = subprocess.run(
        [sys.executable, "-m", module], cwd=str(ROOT), capture_output=True, text=True, check=False
    )
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            item = json.loads(line)
            item["figure"] = rename(item["figure"])
            print(json.dumps(item), flush=True)
    if proc.returncode:
        log(f"{module} failed: {proc.stderr[-2000:]}")


def _lib_name(name: str) -> str:
    return f"lib_{name}" if name.startswith("resync") else name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3, help="runs per timed figure (median)")
    parser.add_argument("--big", type=int, default=1_000_000, help="the 1M figure's folder")
    parser.add_argument("--skip", default="", help="comma list: big,cache,render,attachment")
    args = parser.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    from app.sandbox import Sandbox

    started = time.perf_counter()
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()
    root = Path(tempfile.mkdtemp(prefix="termail-bench-", dir=base))
    os.chmod(root, 0o755)  # Dovecot's unprivileged processes must reach the sandbox inside
    (root / "sandbox").mkdir()
    (root / "work").mkdir()
    sb = Sandbox(root / "sandbox")
    emit("cpu_cores", os.cpu_count() or 0, "cores")
    try:
        sb.start()
        bench = Bench(sb, root / "work", args.messages, args.runs)
        bench.user = sb.add_user("bench")
        log(f"seeding {args.messages} messages in INBOX and in {OTHER}")
        sb.seed_generated(bench.user.name, args.messages)
        sb.seed_generated(bench.user.name, args.messages, mailbox=OTHER, seed=1)
        warm_server(sb, bench.user, ["INBOX", OTHER])
        bench.small()
        snapshot = bench.cold()
        bench.warm(snapshot)
        bench.header_parse(min(20_000, args.messages))
        if "attachment" not in skip:
            from bench import attachment

            attachment.run(sb, emit)
        if "cache" not in skip:
            from bench import cache as cache_bench

            log("bench.cache")

            def renamed(figure: str, value: float, unit: str) -> None:
                emit(_lib_name(figure), value, unit)

            asyncio.run(cache_bench.run(sb, args.messages, runs=args.runs, emit=renamed))
        if "big" not in skip:
            bench.million(args.big)
    finally:
        sb.stop(remove=True)
        shutil.rmtree(root, ignore_errors=True)
    if "render" not in skip:
        log("bench.render")
        passthrough("bench.render")
    emit("bench_total_s", time.perf_counter() - started, "s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
