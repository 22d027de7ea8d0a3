"""`termail demo`: a private mail server with the demo mailbox, and termail opened on it."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from app.sandbox.demo import DEMO_PASSWORD, DEMO_USER, FRIEND_USER, load_demo
from app.sandbox.server import Sandbox, SandboxError
from app.termout import say


def _base_dir() -> str | None:
    return "/dev/shm" if Path("/dev/shm").is_dir() else None


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
    root = Path(tempfile.mkdtemp(prefix="termail-demo-", dir=_base_dir()))
    sandbox = Sandbox(root)
    try:
        try:
            sandbox.start()
        except SandboxError as exc:
            say(f"termail demo: {exc}", file=sys.stderr)
            return 1
        load_demo(sandbox)
        if args.messages:
            sandbox.seed_generated(DEMO_USER, args.messages, mailbox="Bulk")
        if args.print or not sys.stdout.isatty():
            say(describe(sandbox), flush=True)
            say("Press Ctrl-C to stop it.", flush=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                return 0
        from app.main import run_demo_app

        return run_demo_app(sandbox)
    finally:
        sandbox.stop()
        shutil.rmtree(root, ignore_errors=True)
