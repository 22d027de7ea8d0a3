"""`python -m bench.soak`: a day left open, in minutes (issue 21, "a day left open").

The real `termail` in tmux (160x48, as `bench.peers`) on a sandbox Dovecot with an INBOX of
--n generated messages and three other folders, while:

- new mail is delivered to INBOX over LMTP at --rate a second (Dovecot's own delivery, so
  IDLE sees it as a user's server would);
- another client (plain imaplib) APPENDs to the other folders, flips flags in INBOX and
  expunges now and then (the ratios of the 22-minute soak in the issue: per delivery 0.1
  APPENDs, 0.33 flag flips, 0.022 expunges);
- Dovecot is stopped for --outage seconds once, half-way, and started again;
- every --open-every seconds a message is opened (Enter in tmux) and the time until its
  body shows is taken.

The load runs for --minutes (the idle tail after it is a quarter of that, at least 30 s).
RSS (VmRSS) and CPU (utime + stime) are read from /proc/<pid> of the termail process.

Prints JSON lines like `python -m bench`:
  soak_deliveries, soak_rss_start_mib, soak_rss_end_mib,
  soak_rss_per_1000_deliveries_mib (slope of RSS over deliveries, least squares, after the
  first 10 % of the load), soak_rss_idle_drift_mib (RSS change over the idle tail),
  soak_cpu_ms_per_delivery (CPU of the load phase over the deliveries; the other client's
  changes are part of the load), soak_cpu_idle_ms_per_s,
  soak_enter_text_median_s / _max_s, soak_outage_connected_s (how long the status bar said
  connected while Dovecot was down), soak_reconnect_s (from Dovecot greeting again to the
  status saying connected), soak_counts_fresh_s (from Dovecot back to the status bar's count
  matching the server's), soak_notices_max (most notices on screen at once).
The machine is shared and noisy: compare runs of one sitting.
"""

from __future__ import annotations

import argparse
import contextlib
import imaplib
import os
import random
import re
import shutil
import smtplib
import statistics
import sys
import tempfile
import threading
import time
from email.utils import formatdate
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.peers import (  # noqa: E402
    _alive,
    _compile_termail,
    _rss_mb,
    _screen,
    _termail_command,
    _tmux,
    emit,
    log,
)

OTHER_FOLDERS = ("Archive", "Lists", "Work")
SESSION = "soak"
BODY = re.compile(r"SOAKBODY-(\d{6})")
TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _rss_parts(pid: int) -> dict[str, float]:
    """RssAnon and RssFile (MiB): the heap apart from the files mapped (SQLite's mmap)."""
    out: dict[str, float] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(("RssAnon:", "RssFile:")):
                out[line.split(":")[0]] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return out


def _message(seq: int, to: str) -> bytes:
    return (
        f"From: Soak Sender <soak{seq % 17}@example.org>\r\nTo: {to}\r\n"
        f"Subject: soak delivery {seq:06d}\r\nDate: {formatdate(localtime=False)}\r\n"
        f"Message-ID: <soak-{seq:06d}-{os.getpid()}@bench>\r\n\r\n"
        f"SOAKBODY-{seq:06d}\r\nA line of text so the viewer has something to draw.\r\n"
    ).encode()


class Counter:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.values: dict[str, int] = {}

    def add(self, key: str, n: int = 1) -> None:
        with self.lock:
            self.values[key] = self.values.get(key, 0) + n


class Load:
    """The deliveries (LMTP) and the other client (imaplib), each a thread, paused while
    Dovecot is down."""

    def __init__(self, sb: Any, user: Any, rate: float) -> None:
        self.sb, self.user, self.rate = sb, user, rate
        self.stop = threading.Event()
        self.up = threading.Event()
        self.up.set()
        self.counts = Counter()
        self.seq = 0
        self.threads = [
            threading.Thread(target=self._deliver, daemon=True),
            threading.Thread(target=self._other_client, daemon=True),
        ]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def join(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(30)

    def _deliver(self) -> None:
        to = f"{self.user.name}@localhost"
        period = 1.0 / self.rate
        due = time.monotonic()
        lmtp: smtplib.LMTP | None = None
        while not self.stop.is_set():
            due += period
            wait = due - time.monotonic()
            if wait > 0:
                self.stop.wait(wait)
            if not self.up.is_set():
                lmtp = None
                self.up.wait(1)
                due = time.monotonic()
                continue
            try:
                if lmtp is None:
                    lmtp = smtplib.LMTP("127.0.0.1", self.sb.lmtp_port, timeout=10)
                self.seq += 1
                lmtp.sendmail("soak@example.org", [to], _message(self.seq, to))
                self.counts.add("deliveries")
            except (OSError, smtplib.SMTPException):
                lmtp = None
                self.counts.add("delivery_errors")
        if lmtp is not None:
            with contextlib.suppress(Exception):
                lmtp.quit()

    def _other_client(self) -> None:
        """APPENDs elsewhere, flag flips and expunges in INBOX, at the issue's ratios."""
        rng = random.Random(21)
        imap: imaplib.IMAP4 | None = None
        per_delivery = {"append": 0.1, "flag": 0.33, "expunge": 0.022}
        step = 0.25  # s between decisions
        while not self.stop.wait(step):
            if not self.up.is_set():
                imap = None
                continue
            try:
                if imap is None:
                    imap = imaplib.IMAP4("127.0.0.1", self.sb.imap_port, timeout=10)
                    imap.login(self.user.name, self.user.password)
                    imap.select("INBOX")
                chances = {k: self.rate * step * v for k, v in per_delivery.items()}
                if rng.random() < chances["append"]:
                    self.seq += 1
                    when = imaplib.Time2Internaldate(time.time())
                    message = _message(self.seq, "someone@localhost")
                    imap.append(rng.choice(OTHER_FOLDERS), "", when, message)
                    self.counts.add("appends")
                flag = rng.random() < chances["flag"]
                expunge = rng.random() < chances["expunge"]
                if not (flag or expunge):
                    continue
                typ, data = imap.uid("SEARCH", "ALL")
                uids = data[0].split() if typ == "OK" and data and data[0] else []
                if len(uids) < 2:
                    continue
                if flag:
                    uid = rng.choice(uids[-200:] if rng.random() < 0.7 else uids)
                    sign = rng.choice("+-")
                    imap.uid("STORE", uid.decode(), f"{sign}FLAGS", "(\\Seen)")
                    self.counts.add("flag_flips")
                if expunge:
                    uid = rng.choice(uids[: len(uids) // 2])  # old mail, not the new
                    imap.uid("STORE", uid.decode(), "+FLAGS", "(\\Deleted)")
                    imap.expunge()
                    self.counts.add("expunges")
            except (OSError, imaplib.IMAP4.error, EOFError):
                imap = None
                self.counts.add("client_errors")
        if imap is not None:
            with contextlib.suppress(Exception):
                imap.logout()


def _server_count(sb: Any, user: Any) -> int | None:
    try:
        imap = imaplib.IMAP4("127.0.0.1", sb.imap_port, timeout=10)
        imap.login(user.name, user.password)
        typ, data = imap.status("INBOX", "(MESSAGES)")
        imap.logout()
    except (OSError, imaplib.IMAP4.error, EOFError):
        return None
    m = re.search(rb"MESSAGES (\d+)", data[0] or b"") if typ == "OK" else None
    return int(m.group(1)) if m else None


STATE = re.compile(r"^\s*\S\s+(connected|connecting|offline)")
STATUS_COUNT = re.compile(r"([\d,]+) messages?")


def _status_line(screen: str) -> str:
    """The status bar: the lowest line that starts with the connection state."""
    for line in reversed(screen.splitlines()):
        if STATE.match(line):
            return line
    return ""


def _notices(screen: str) -> int:
    """New-mail toasts on screen: each says "N new message(s)" once."""
    return len(re.findall(r"\d new messages?\b", screen))


class Watcher:
    """Polls the screen in the background: the most notices seen at once, and the state the
    status bar shows, timestamped."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.notices_max = 0
        self.samples: list[tuple[float, str]] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(0.1):
            screen = _screen(SESSION)
            with self.lock:
                self.notices_max = max(self.notices_max, _notices(screen))
                self.samples.append((time.monotonic(), _status_line(screen)))
                del self.samples[:-600]


def _wait(pred: Any, timeout: float, poll: float = 0.05) -> float | None:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if pred():
            return time.monotonic() - start
        time.sleep(poll)
    return None


def _open_one(pid: int, k: int) -> float | None:
    """Go to the first row, step down k rows (a delivered message, other than the one shown),
    Enter; the seconds until a body not on screen before shows."""
    _tmux("send-keys", "-t", SESSION, "Escape")
    time.sleep(0.3)
    _tmux("send-keys", "-t", SESSION, "g")
    for _ in range(k):
        _tmux("send-keys", "-t", SESSION, "j")
    time.sleep(0.5)
    before = set(BODY.findall(_screen(SESSION)))
    start = time.monotonic()
    _tmux("send-keys", "-t", SESSION, "Enter")
    while time.monotonic() - start < 10:
        now = set(BODY.findall(_screen(SESSION)))
        if now - before:
            return time.monotonic() - start
        time.sleep(0.01)
    log(f"Enter: no body shown; the screen showed:\n{_screen(SESSION)}")
    return None


def _slope(points: list[tuple[float, float]]) -> float:
    if len(points) < 2:
        return 0.0
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in points) / den if den else 0.0


def _config(home: Path, port: int, user: Any) -> Path:
    config = home / "termail.toml"
    config.write_text(
        'default_account = "soak"\n[accounts.soak]\naddress = "bench@localhost"\n'
        f'[accounts.soak.imap]\nhost = "127.0.0.1"\nport = {port}\ntls = "none"\n'
        f'compress = false\nallow_insecure = true\nuser = "{user.name}"\n'
        'password_env = "BENCH_PW"\n'
        '[accounts.soak.smtp]\nhost = "127.0.0.1"\nport = 1\ntls = "none"\n'
        f'allow_insecure = true\nuser = "{user.name}"\npassword_env = "BENCH_PW"\n'
    )
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--n", type=int, default=100_000, help="messages in INBOX")
    parser.add_argument("--minutes", type=float, default=8.0, help="length of the load")
    parser.add_argument("--rate", type=float, default=2.0, help="LMTP deliveries a second")
    parser.add_argument("--outage", type=float, default=5.0, help="seconds Dovecot is down")
    parser.add_argument("--open-every", type=float, default=10.0, help="s between Enter tests")
    parser.add_argument("--termail", default=_termail_command(), help="the termail command")
    parser.add_argument("--keep", action="store_true", help="leave the sandbox folder")
    args = parser.parse_args(argv)
    if not shutil.which("tmux"):
        log("tmux is not installed: no soak figures")
        return 0
    from app.sandbox import Sandbox
    from bench.launch import warm_server

    _compile_termail()
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()
    root = Path(tempfile.mkdtemp(prefix="termail-soak-", dir=base))
    os.chmod(root, 0o755)
    (root / "sandbox").mkdir()
    sb = Sandbox(root / "sandbox")
    watcher = Watcher()
    load: Load | None = None
    try:
        sb.start()
        user = sb.add_user("bench")
        log(f"seeding {args.n} messages and {len(OTHER_FOLDERS)} folders")
        sb.seed_generated(user.name, args.n)
        for i, folder in enumerate(OTHER_FOLDERS):
            sb.seed_generated(user.name, 300, mailbox=folder, seed=i + 1)
        warm_server(sb, user, ["INBOX", *OTHER_FOLDERS])
        home = root / "home"
        home.mkdir()
        config = _config(home, sb.imap_port, user)
        d = root / "xdg"
        cmd = (
            f"env HOME={home} TERM=screen-256color BENCH_PW={user.password}"
            f" XDG_DATA_HOME={d}/data XDG_CACHE_HOME={d}/cache XDG_STATE_HOME={d}/state"
            f" XDG_CONFIG_HOME={d}/config {args.termail} --config {config}"
        )
        _tmux("new-session", "-d", "-s", SESSION, "-x", "160", "-y", "48", "exec " + cmd)
        pid = int(_tmux("display-message", "-p", "-t", SESSION, "#{pane_pid}").strip() or 0)
        if _wait(lambda: "● connected" in _status_line(_screen(SESSION)), 120) is None:
            log("termail never said connected; the screen showed:\n" + _screen(SESSION))
            return 1
        time.sleep(5)  # the folder counts, the first STATUS round
        watcher.thread.start()
        rss0, cpu0, t0 = _rss_mb(pid), _cpu_s(pid), time.monotonic()
        parts0 = _rss_parts(pid)
        log(f"connected; RSS {rss0:.1f} MiB; load for {args.minutes} min at {args.rate}/s")
        load = Load(sb, user, args.rate)
        load.start()
        length = args.minutes * 60
        outage_at = t0 + length / 2
        next_open = t0 + min(args.open_every, 15)
        rss_points: list[tuple[float, float]] = []
        opens: list[float] = []
        outage: dict[str, float] = {}
        k = 1
        while time.monotonic() < t0 + length:
            delivered = load.counts.values.get("deliveries", 0)
            rss_points.append((delivered, _rss_mb(pid)))
            if not _alive(pid):
                log("termail died; the screen showed:\n" + _screen(SESSION))
                return 1
            if outage_at and time.monotonic() >= outage_at:
                outage_at = 0
                outage = _outage(sb, user, load, watcher, args.outage)
                log(f"outage: {outage}")
            if time.monotonic() >= next_open:
                got = _open_one(pid, k)
                k = 1 + k % 3
                if got is not None:
                    opens.append(got)
                next_open = time.monotonic() + args.open_every
            time.sleep(1)
        load.join()
        delivered = load.counts.values.get("deliveries", 0)
        rss1, cpu1, t1 = _rss_mb(pid), _cpu_s(pid), time.monotonic()
        parts1 = _rss_parts(pid)
        log(f"load done: {load.counts.values}; RSS {rss1:.1f} MiB")
        idle = max(30.0, length / 4)
        time.sleep(5)  # the last refresh
        rss_idle0, cpu_idle0, ti0 = _rss_mb(pid), _cpu_s(pid), time.monotonic()
        time.sleep(idle)
        rss_idle1, cpu_idle1, ti1 = _rss_mb(pid), _cpu_s(pid), time.monotonic()
        watcher.stop.set()
        watcher.thread.join(5)
        emit("soak_deliveries", delivered, "messages", **load.counts.values)
        emit("soak_load_s", t1 - t0, "s")
        emit("soak_rss_start_mib", rss0, "MiB")
        emit("soak_rss_end_mib", rss1, "MiB")
        for part in ("RssAnon", "RssFile"):
            if part in parts0 and part in parts1:
                emit(f"soak_{part.lower()}_growth_mib", parts1[part] - parts0[part], "MiB")
        skip = int(len(rss_points) * 0.1)
        slope = _slope(rss_points[skip:])
        emit("soak_rss_per_1000_deliveries_mib", slope * 1000, "MiB")
        emit("soak_rss_idle_drift_mib", rss_idle1 - rss_idle0, "MiB", seconds=round(ti1 - ti0))
        emit("soak_cpu_ms_per_delivery", (cpu1 - cpu0) * 1000 / max(delivered, 1), "ms")
        emit("soak_cpu_s_per_min", (cpu1 - cpu0) * 60 / (t1 - t0), "s")
        emit("soak_cpu_idle_ms_per_s", (cpu_idle1 - cpu_idle0) * 1000 / (ti1 - ti0), "ms")
        if opens:
            emit("soak_enter_text_median_s", statistics.median(opens), "s", runs=len(opens))
            emit("soak_enter_text_max_s", max(opens), "s")
        for key, value in outage.items():
            emit(f"soak_{key}", value, "s")
        emit("soak_notices_max", watcher.notices_max, "notices")
    finally:
        if load is not None:
            load.join()
        watcher.stop.set()
        _tmux("send-keys", "-t", SESSION, "q", check=False)
        _wait(lambda: not _screen(SESSION).strip(), 10)  # quit, not killed
        with contextlib.suppress(Exception):
            _tmux("kill-server", check=False)
        sb.stop(remove=not args.keep)
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


def _outage(sb: Any, user: Any, load: Load, watcher: Watcher, seconds: float) -> dict[str, float]:
    """Dovecot down for `seconds`; how long the status still said connected, then how long
    until it said connected again and the count in the status bar was the server's."""
    load.up.clear()
    time.sleep(0.5)
    down_at = time.monotonic()
    sb.stop_dovecot()
    time.sleep(seconds)
    up_at = time.monotonic()
    with watcher.lock:
        during = [(t, s) for t, s in watcher.samples if down_at <= t <= up_at]
    said_connected = [t for t, s in during if "● connected" in s]
    out: dict[str, float] = {}
    # The time from the stop to the last sample still saying connected (sampled at 0.1 s).
    out["outage_connected_s"] = (max(said_connected) - down_at) if said_connected else 0.0
    sb.start_dovecot()
    back = time.monotonic()
    # One delivery at once: the count in the status bar must follow it without a nudge.
    with contextlib.suppress(OSError, smtplib.SMTPException):
        lmtp = smtplib.LMTP("127.0.0.1", sb.lmtp_port, timeout=10)
        load.seq += 1
        lmtp.sendmail("soak@example.org", [f"{user.name}@localhost"], _message(load.seq, "x"))
        lmtp.quit()
    load.up.set()
    got = _wait(lambda: "● connected" in _status_line(_screen(SESSION)), 60)
    out["reconnect_s"] = got if got is not None else 60.0
    expected = _server_count(sb, user)

    def fresh() -> bool:
        nonlocal expected
        m = STATUS_COUNT.search(_status_line(_screen(SESSION)))
        shown = int(m.group(1).replace(",", "")) if m else -1
        if shown != expected:
            expected = _server_count(sb, user)
        return shown == expected

    got = _wait(fresh, 60, poll=0.1)
    out["counts_fresh_s"] = (time.monotonic() - back) if got is not None else 60.0
    return out


if __name__ == "__main__":
    sys.exit(main())
