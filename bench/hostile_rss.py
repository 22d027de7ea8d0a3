"""Peak RSS of termail against the hostile IMAP server's endless ``* OK [ALERT] xxx...`` stream.

Issue 13 item 4: that stream, sent in answer to AUTHENTICATE, took the UI to 5.8 GB in 32 s and
`termail config check` to 2.7 GB. This starts `tests/faults/hostile.py` on a free port, writes a
config naming it as the only account (in a temporary XDG home), and runs either the real UI (on
a pseudo-terminal) or `termail config check`, sampling the process's VmHWM (peak RSS) until it
ends or `--seconds` pass. An address-space limit (`--limit-mb`, default 3,000) keeps a runaway
from taking the machine down: hitting it is reported as such. Prints figures; asserts nothing.

    .venv/bin/python -m bench.hostile_rss ui --seconds 20
    .venv/bin/python -m bench.hostile_rss check --seconds 20
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(home: Path, port: int) -> Path:
    q = json.dumps
    path = home / "config.toml"
    path.write_text(
        f"""\
[accounts.hostile]
address = "hostile@example.com"

[accounts.hostile.imap]
host = "127.0.0.1"
port = {port}
tls = "none"
allow_insecure = true
user = "hostile"
password_command = {q("printf hostile-pw")}
keyring = false

[accounts.hostile.smtp]
host = "127.0.0.1"
port = {_free_port()}
tls = "none"
allow_insecure = true
"""
    )
    path.chmod(0o600)
    return path


def measure(mode: str, seconds: float, limit_mb: int, attack: str, on: str) -> dict[str, object]:
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.faults.hostile", "--attack", attack, "--on", on,
         "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert server.stdout is not None
    server.stdout.readline()  # "hostile IMAP server on ..."
    with tempfile.TemporaryDirectory(prefix="termail-rss-") as tmp:
        home = Path(tmp)
        config = _config(home, port)
        env.update(
            XDG_CONFIG_HOME=str(home / "config"),
            XDG_DATA_HOME=str(home / "data"),
            XDG_CACHE_HOME=str(home / "cache"),
            TERM="xterm-256color",
            COLUMNS="120",
            LINES="40",
        )
        termail = [sys.executable, "-m", "app.cli"]
        cmd = [*termail, "config", "check", "--config", str(config)]
        if mode == "ui":
            cmd = [*termail, "--config", str(config)]

        def limit() -> None:
            lim = limit_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (lim, lim))

        master = None
        if mode == "ui":
            master, slave = pty.openpty()
            import fcntl
            import struct
            import termios

            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
            proc = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdin=slave, stdout=slave, stderr=slave,
                preexec_fn=limit, start_new_session=True,
            )  # fmt: skip
            os.close(slave)
        else:
            proc = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                preexec_fn=limit,
            )  # fmt: skip
        peak = 0
        started = time.monotonic()
        output = b""
        try:
            while time.monotonic() - started < seconds and proc.poll() is None:
                peak = max(peak, _status_kb(proc.pid, "VmHWM"))
                if master is not None:
                    import select

                    while select.select([master], [], [], 0)[0]:
                        try:
                            if not os.read(master, 65536):
                                break
                        except OSError:
                            break
                time.sleep(0.05)
            peak = max(peak, _status_kb(proc.pid, "VmHWM"))
        finally:
            ended = proc.poll()
            if ended is None:
                os.kill(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(3)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            elif mode == "check" and proc.stdout is not None:
                output = proc.stdout.read()
            if master is not None:
                os.close(master)
            server.terminate()
            server.wait(5)
    elapsed = time.monotonic() - started
    return {
        "mode": mode,
        "attack": f"{attack} on {on}",
        "peak_rss_mb": round(peak / 1024, 1),
        "seconds": round(elapsed, 1),
        "exit": ended if ended is not None else "still running (stopped)",
        "hit_limit": ended is not None and ended != 0 and peak / 1024 > limit_mb * 0.8,
        "output": output.decode("utf-8", "replace")[-600:],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.hostile_rss")
    ap.add_argument("mode", choices=("ui", "check"))
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--limit-mb", type=int, default=3000)
    ap.add_argument("--attack", default="alert-flood")
    ap.add_argument("--on", default="AUTHENTICATE")
    args = ap.parse_args(argv)
    result = measure(args.mode, args.seconds, args.limit_mb, args.attack, args.on)
    for key, value in result.items():
        if key == "output" and not value:
            continue
        print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
