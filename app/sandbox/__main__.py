"""`python -m app.sandbox up|down|demo`: the sandbox from a shell, for people and scripts.

`up` starts the servers in --dir, loads the demo mailbox and prints the state as JSON, then keeps
running until interrupted (the servers die with this process).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import tempfile
import time
from pathlib import Path

from app.mime.termout import say
from app.sandbox.demo import load_demo
from app.sandbox.server import Sandbox, SandboxError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.sandbox")
    parser.add_argument("command", choices=["up"])
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0, help="also seed N generated messages")
    args = parser.parse_args(argv)
    base = "/dev/shm" if Path("/dev/shm").is_dir() else None
    root = args.dir or Path(tempfile.mkdtemp(prefix="termail-sandbox-", dir=base))
    root.mkdir(parents=True, exist_ok=True)  # --dir may name a folder not made yet
    sandbox = Sandbox(root)
    try:
        sandbox.start()
    except SandboxError as exc:
        say(f"sandbox: {exc}", file=sys.stderr)
        return 1
    load_demo(sandbox)
    if args.seed:
        sandbox.seed_generated("demo", args.seed, mailbox="Bulk")
    say(json.dumps(json.loads((root / "state.json").read_text()), indent=2), flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while True:
            time.sleep(3600)
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        sandbox.stop(remove=args.dir is None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
