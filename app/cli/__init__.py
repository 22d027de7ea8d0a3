"""The `termail` command: the mail client, the demo, and the offline tools.

    termail [--config PATH] [--account NAME] [--log-protocol FILE]
                                                open the client on the configured accounts (and
                                                write its IMAP/SMTP dialogue to FILE, no secrets)
    termail demo [--print] [--log-protocol FILE] start the sandbox with the demo mailbox and open it
    termail serve [--config PATH] [--account NAME] [--log-protocol FILE] [--host H] [--port N]
                  [--public] [--demo]           the same in a web browser (prints its address)
    termail render FILE.eml|- [--html] [--headers full]   print a message as text, safely
    termail view FILE.eml|-                     open the viewer on a local message file
    termail config init|check [--log-protocol FILE]   write an example config / test the logins
    termail cache clear                         drop the local header cache

Subcommands import what they need lazily so `termail render` starts without Textual.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from app.mime.termout import say

if TYPE_CHECKING:
    import argparse


def _demo(argv: list[str]) -> int:
    from app.cli.demo import demo_main

    return demo_main(argv)


def _serve(argv: list[str]) -> int:
    from app.cli.demo import demo_main
    from app.cli.serve import serve_main

    return serve_main(argv, demo=demo_main)


def _render(argv: list[str]) -> int:
    from app.crypto.view import render_protected
    from app.mime.textview import render_main

    return render_main(argv, render=render_protected)


def _view(argv: list[str]) -> int:
    from app.main import view_main

    return view_main(argv)


def _config(argv: list[str]) -> int:
    from app.config import commands as config_commands

    if not argv or argv[0] not in ("init", "check"):
        say("usage: termail config init|check [options]", file=sys.stderr)
        return 2
    if argv[0] == "init":
        return config_commands.config_init(argv[1:])
    return config_commands.config_check(argv[1:])


def _cache(argv: list[str]) -> int:
    from app.store.cache import cache_main

    return cache_main(argv)


def client_args(argv: list[str]) -> argparse.Namespace:
    """The client's arguments, parsed once for the splash and the client (a bad one, or
    --help, is answered here, before anything is painted)."""
    import argparse

    parser = argparse.ArgumentParser(prog="termail")
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--account", default=None)
    parser.add_argument("--log-protocol", type=Path, default=None, metavar="FILE")
    return parser.parse_args(argv)


def _early_splash(args: argparse.Namespace) -> tuple[bool, object | None]:
    """Before Textual is imported: the config read, and the start screen as last drawn painted
    when a snapshot fits (`app.splash`); (painted, the config for `client_main`).

    Nothing that would print after the paint may follow it: an unknown account or a protocol
    log (whose errors are printed) means no splash.
    """
    if args.log_protocol is not None:
        return False, None
    from app.config.model import load_or_exit
    from app.paths import config_path

    config = load_or_exit(args.config)  # its errors are printed before any paint
    account = args.account or config.default_account.name
    if account not in config.accounts:
        return False, config
    from app import splash

    try:
        path = config_path(args.config)
        raw = path.read_bytes()
    except OSError:
        return False, config
    return splash.try_splash(path, raw, account), config


def _client(argv: list[str]) -> int:
    from app import splash

    args = client_args(argv)
    try:
        _painted, config = _early_splash(args)
        from app.cli.client import client_main

        return client_main(args, config=config)
    except KeyboardInterrupt:
        if not splash.painted():
            raise
        return 130  # Ctrl+C during the splash: the terminal is given back below, no traceback
    finally:
        splash.restore()  # a no-op without a splash, or once Textual has taken the terminal


COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "demo": _demo,
    "serve": _serve,
    "render": _render,
    "view": _view,
    "config": _config,
    "cache": _cache,
}


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-h", "--help", "help"):
        say(__doc__)
        return 0
    if args and args[0] in COMMANDS:
        return COMMANDS[args[0]](args[1:])
    return _client(args)
