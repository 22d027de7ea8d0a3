"""`python -m bench.peers`: the real `termail` in tmux beside aerc, mutt and neomutt (issue 21).

Each client is started in a real terminal (tmux, 160x48) against one sandbox Dovecot on
127.0.0.1 over plain IMAP (no TLS, no COMPRESS for anyone), on an INBOX of --n generated
messages plus two markers: ZZNEWESTMARK (the newest date) and ZZOLDESTMARK (the oldest).
The screen is polled every 50 ms from the launch until a marker shows (first screen); then
End is pressed where the client has a far end to reach (termail: the oldest; mutt: the
newest) and the jump is timed; RSS at the index and settled 2 s later.

Kinds: cold (no cache: termail with fresh XDG dirs, aerc with cache-headers off, mutt without
header_cache) and warm (the same after a first, untimed run filled the cache). At RTT > 0 the
client talks through a delay proxy of ours (a fixed one-way delay both ways, in order) that
also counts conversation turns (the server answering after the client spoke) up to the first
screen. Clients not installed are skipped with a word on stderr.

Prints JSON lines like `python -m bench`: peers_<client>_<kind>_rtt<N>_{first_screen_s,
jump_end_s, rss_settled_mb, turns} (medians of --runs) and peers_termail_<kind>_rtt<N>_vs_aerc
(termail's first screen over aerc's, in this run). The machine is shared and noisy: compare
within one run, as ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.sandbox.relay import Relay  # noqa: E402
from app.sandbox.seed import NEWEST_DATE  # noqa: E402
from app.sandbox.seed import NEWEST_MARK as NEWEST  # noqa: E402
from app.sandbox.seed import OLDEST_MARK as OLDEST  # noqa: E402

TMUX = ["tmux", "-L", f"termail-peers-{os.getpid()}"]
POLL = 0.05
SETTLE = 2.0


def emit(figure: str, value: float, unit: str, **extra: Any) -> None:
    if isinstance(value, float):
        value = round(value, 4)
    print(json.dumps({"figure": figure, "value": value, "unit": unit, **extra}), flush=True)


def log(text: str) -> None:
    print(f"# {text}", file=sys.stderr, flush=True)


# -- the delay proxy ----------------------------------------------------------------------------
class DelayProxy:
    """`app.sandbox.relay.Relay` on a thread of its own (this benchmark is synchronous): a TCP
    relay on 127.0.0.1 adding `one_way` seconds each way (in order), counting turns."""

    def __init__(self, target_port: int, one_way: float) -> None:
        self.target_port = target_port
        self.one_way = one_way
        self.port = 0
        self._relay: Relay | None = None
        self._base = (0, 0)  # (turns, connections) at the last `reset`
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> DelayProxy:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    @property
    def turns(self) -> int:
        """Turns of every connection since the last `reset`."""
        return self._relay.turns - self._base[0] if self._relay is not None else 0

    @property
    def conns(self) -> int:
        return len(self._relay.conversations) - self._base[1] if self._relay is not None else 0

    def reset(self) -> None:
        if self._relay is not None:
            self._base = (self._relay.turns, len(self._relay.conversations))

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def serve() -> None:
            self._stop = asyncio.Event()
            async with Relay(self.target_port, one_way=self.one_way) as relay:
                self._relay = relay
                self.port = relay.port
                self._ready.set()
                await self._stop.wait()

        self._loop.run_until_complete(serve())


# -- one client in tmux ---------------------------------------------------------------------------
@dataclass
class Entry:
    """One client in one configuration: what to run and how to tell its first screen."""

    client: str
    kind: str
    rtt: int
    cmd: str
    marker: str
    quit_keys: list[list[str]]
    jump_marker: str | None = None
    setup: Callable[[], None] | None = None
    """Run before every timed run (cold) or before the untimed filling run (warm)."""
    warm: bool = False
    results: list[dict[str, float]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.client}_{self.kind}_rtt{self.rtt}"


def _tmux(*args: str, check: bool = True) -> str:
    return subprocess.run([*TMUX, *args], capture_output=True, text=True, check=check).stdout


def _screen(session: str) -> str:
    return _tmux("capture-pane", "-p", "-t", session, check=False)


def _rss_mb(pid: int, field: str = "VmRSS") -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def run_once(
    entry: Entry, proxy: DelayProxy | None, *, timed: bool, timeout: float
) -> dict[str, float]:
    """Launch, wait for the first screen (and the jump), quit; the figures of this run."""
    session = f"{entry.name}-{time.monotonic_ns()}"
    marker = re.compile(entry.marker)
    if proxy is not None:
        proxy.reset()
    started = time.perf_counter()
    _tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "48", "exec " + entry.cmd)
    pid = int(_tmux("display-message", "-p", "-t", session, "#{pane_pid}").strip() or 0)
    out: dict[str, float] = {}
    deadline = started + timeout
    screen = ""
    while time.perf_counter() < deadline:
        screen = _screen(session)
        if marker.search(screen):
            out["first_screen_s"] = time.perf_counter() - started
            if proxy is not None:
                out["turns"] = proxy.turns
            break
        time.sleep(POLL)
    else:
        log(f"{entry.name}: no first screen in {timeout:.0f} s; the screen showed:")
        for line in screen.splitlines()[-6:]:
            log(f"  {line}")
    if "first_screen_s" in out and entry.jump_marker:
        jumped = time.perf_counter()
        # Where the list was drawn from the cache, End may come before the server answers.
        _tmux("send-keys", "-t", session, "End")
        jump = re.compile(entry.jump_marker)
        while time.perf_counter() < jumped + 60:
            if jump.search(_screen(session)):
                out["jump_end_s"] = time.perf_counter() - jumped
                break
            time.sleep(POLL)
        else:
            log(f"{entry.name}: End never showed {entry.jump_marker}")
    time.sleep(SETTLE if timed else 1.0)
    if "first_screen_s" in out:
        out["rss_settled_mb"] = _rss_mb(pid)
        out["rss_peak_mb"] = _rss_mb(pid, "VmHWM")
    for keys in entry.quit_keys:
        _tmux("send-keys", "-t", session, *keys, check=False)
        time.sleep(0.2)
    until = time.perf_counter() + 30
    while pid and _alive(pid) and time.perf_counter() < until:
        time.sleep(0.05)
    if pid and _alive(pid):
        with contextlib.suppress(OSError):
            os.kill(pid, 15)
        time.sleep(0.5)
    _tmux("kill-session", "-t", session, check=False)
    return out


# -- the sitting --------------------------------------------------------------------------------
def _entries(work: Path, user: Any, ports: dict[int, int], termail: str) -> list[Entry]:
    home = work / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = f"env HOME={home} TERM=screen-256color"
    name, password = user.name, user.password
    entries: list[Entry] = []
    for rtt, port in ports.items():
        url = f"imap://{name}:{password}@127.0.0.1:{port}/"
        # termail: fresh data/cache/state folders for every cold run; warm keeps the filled one.
        config = home / f"termail-{rtt}.toml"
        config.write_text(
            'default_account = "bench"\n[accounts.bench]\naddress = "bench@localhost"\n'
            f'[accounts.bench.imap]\nhost = "127.0.0.1"\nport = {port}\ntls = "none"\n'
            # No COMPRESS for anyone (the others do not ask for it either).
            f'compress = false\nallow_insecure = true\nuser = "{name}"\npassword_env = "BENCH_PW"\n'
            '[accounts.bench.smtp]\nhost = "127.0.0.1"\nport = 1\ntls = "none"\n'
            f'allow_insecure = true\nuser = "{name}"\npassword_env = "BENCH_PW"\n'
        )
        for kind in ("cold", "warm"):
            d = work / f"termail-{kind}-{rtt}"
            entries.append(
                Entry(
                    "termail",
                    kind,
                    rtt,
                    f"{env} BENCH_PW={password} XDG_DATA_HOME={d}/data XDG_CACHE_HOME={d}/cache"
                    f" XDG_STATE_HOME={d}/state XDG_CONFIG_HOME={d}/config"
                    f" {termail} --config {config}",
                    NEWEST,
                    [["q"]],
                    jump_marker=OLDEST,
                    setup=_fresh(d),
                    warm=kind == "warm",
                )
            )
        if shutil.which("aerc"):
            for kind in ("cold", "warm"):
                d = work / f"aerc-{kind}-{rtt}"
                conf = (
                    f"[local]\nsource = imap+insecure://{name}:{password}@127.0.0.1:{port}\n"
                    f"default = INBOX\nfrom = Bench <bench@localhost>\n"
                    f"cache-headers = {'true' if kind == 'warm' else 'false'}\n"
                )
                entries.append(
                    Entry(
                        "aerc",
                        kind,
                        rtt,
                        f"{env} XDG_CONFIG_HOME={d}/cfg XDG_CACHE_HOME={d}/cache aerc",
                        NEWEST,
                        [[":quit", "Enter"]],
                        setup=_aerc_setup(d, conf),
                        warm=kind == "warm",
                    )
                )
        for mutt in ("neomutt", "mutt"):
            if not shutil.which(mutt):
                continue
            rc = home / f"{mutt}-{rtt}.rc"
            rc.write_text(
                f'set folder="{url}"\nset spoolfile="+INBOX"\nset imap_user={name}\n'
                f"set imap_pass={password}\nset ssl_starttls=no\nset ssl_force_tls=no\n"
                "set sleep_time=0\nset imap_check_subscribed=no\nset mail_check=600\n"
                'set timeout=600\nset imap_keepalive=900\nset header_cache=""\n'
            )
            for kind in ("cold", "warm"):
                hc = work / f"hc-{mutt}-{rtt}"
                extra = f" -e 'set header_cache={hc}/'" if kind == "warm" else ""
                entries.append(
                    Entry(
                        mutt,
                        kind,
                        rtt,
                        f"{env} {mutt} -n -F {rc}{extra}",
                        f"{OLDEST}|{NEWEST}",
                        [["q"]],
                        jump_marker=NEWEST,
                        setup=_fresh(hc),
                        warm=kind == "warm",
                    )
                )
    return entries


def _fresh(folder: Path) -> Callable[[], None]:
    def setup() -> None:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)

    return setup


def _aerc_setup(folder: Path, conf: str) -> Callable[[], None]:
    def setup() -> None:
        shutil.rmtree(folder, ignore_errors=True)
        (folder / "cfg" / "aerc").mkdir(parents=True)
        (folder / "cache").mkdir()
        accounts = folder / "cfg" / "aerc" / "accounts.conf"
        accounts.write_text(conf)
        accounts.chmod(0o600)

    return setup


#: The newest marker's Date and INTERNALDATE: after every generated message up to 100,000 (the
#: generator's dates run 15 minutes apart from 2026 on: 1,000,000 reach 2052; bench.million
#: passes a later one).
def _seed(sb: Any, user: Any, n: int, newest: tuple[str, float] = NEWEST_DATE) -> None:
    """`n` generated messages between the two markers, Dovecot indexing each step so that the
    markers also take the lowest and the highest UID (`app.sandbox.seed.seed_between_markers`)."""
    from app.sandbox.seed import seed_between_markers
    from bench.launch import warm_server

    seed_between_markers(
        sb, user, n, newest=newest, indexed=lambda: warm_server(sb, user, ["INBOX"])
    )


def _compile_termail() -> None:
    """Bytecode for termail's own modules, as an installed termail has (pip compiles what it
    installs; an editable install has none, and PYTHONDONTWRITEBYTECODE keeps it that way):
    otherwise every timed start compiles ~100 modules (0.35-0.4 s seen)."""
    import compileall

    for folder in ("app", "widgets", "themes"):
        compileall.compile_dir(str(ROOT / folder), quiet=1)


def _termail_command() -> str:
    found = Path(sys.executable).with_name("termail")
    return str(found) if found.exists() else shutil.which("termail") or "termail"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.peers", description=__doc__)
    parser.add_argument("--n", type=int, default=100_000, help="messages in INBOX")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per entry (median)")
    parser.add_argument("--rtt", default="0,50", help="comma list of round-trip times in ms")
    parser.add_argument("--only", default="", help="regex on entry names (termail_warm_rtt50)")
    parser.add_argument("--timeout", type=float, default=240, help="seconds to a first screen")
    parser.add_argument("--termail", default=_termail_command(), help="the termail command")
    args = parser.parse_args(argv)
    if not shutil.which("tmux"):
        log("tmux is not installed: no peer figures (apt-get install tmux)")
        return 0
    for client in ("aerc", "neomutt", "mutt"):
        if not shutil.which(client):
            log(f"{client} is not installed: skipped (apt-get install -y {client})")
    from app.sandbox import Sandbox
    from bench.launch import warm_server

    _compile_termail()

    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()
    root = Path(tempfile.mkdtemp(prefix="termail-peers-", dir=base))
    os.chmod(root, 0o755)  # Dovecot's unprivileged processes must reach the sandbox inside
    (root / "sandbox").mkdir()
    sb = Sandbox(root / "sandbox")
    rtts = [int(x) for x in args.rtt.split(",") if x.strip()]
    proxies: dict[int, DelayProxy] = {}
    try:
        sb.start()
        user = sb.add_user("bench")
        log(f"seeding {args.n} messages")
        _seed(sb, user, args.n)
        warm_server(sb, user, ["INBOX"])  # Dovecot's one-off index and sort, for no one
        ports: dict[int, int] = {}
        for rtt in rtts:
            if rtt:
                proxies[rtt] = DelayProxy(sb.imap_port, rtt / 2000).__enter__()
                ports[rtt] = proxies[rtt].port
            else:
                ports[rtt] = sb.imap_port
        entries = _entries(root / "work", user, ports, args.termail)
        if args.only:
            entries = [e for e in entries if re.search(args.only, e.name)]
        for entry in entries:
            proxy = proxies.get(entry.rtt)
            for k in range(args.runs):
                if entry.setup is not None and (entry.warm is False or k == 0):
                    entry.setup()
                if entry.warm:
                    run_once(entry, proxy, timed=False, timeout=args.timeout)  # fills the cache
                got = run_once(entry, proxy, timed=True, timeout=args.timeout)
                log(
                    f"{entry.name} run {k + 1}: {json.dumps({x: round(v, 3) for x, v in got.items()})}"
                )
                entry.results.append(got)
            _report(entry)
        _ratios(entries)
    finally:
        for proxy in proxies.values():
            proxy.__exit__()
        with contextlib.suppress(Exception):
            _tmux("kill-server", check=False)
        sb.stop(remove=True)
        shutil.rmtree(root, ignore_errors=True)
    return 0


UNITS = {"first_screen_s": "s", "jump_end_s": "s", "rss_settled_mb": "MB", "turns": "turns"}


def _median(entry: Entry, key: str) -> float | None:
    values = [r[key] for r in entry.results if key in r]
    return statistics.median(values) if values else None


def _report(entry: Entry) -> None:
    ok = sum("first_screen_s" in r for r in entry.results)
    for key, unit in UNITS.items():
        value = _median(entry, key)
        if value is not None:
            emit(f"peers_{entry.name}_{key}", value, unit)
    if ok < len(entry.results):
        emit(f"peers_{entry.name}_failed_runs", len(entry.results) - ok, "runs")


def _ratios(entries: list[Entry]) -> None:
    """termail's first screen (and RSS) over aerc's in the same kind and RTT, this sitting."""
    by = {(e.client, e.kind, e.rtt): e for e in entries}
    for (client, kind, rtt), entry in by.items():
        if client != "termail":
            continue
        aerc = by.get(("aerc", kind, rtt))
        if aerc is None:
            continue
        for key, name in (("first_screen_s", "vs_aerc"), ("rss_settled_mb", "rss_vs_aerc")):
            ours, theirs = _median(entry, key), _median(aerc, key)
            if ours is not None and theirs:
                emit(f"peers_{entry.name}_{name}", ours / theirs, "ratio")


if __name__ == "__main__":
    sys.exit(main())
