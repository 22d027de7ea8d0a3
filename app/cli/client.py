"""`termail` (the client): the first account's server is reached while Textual is imported.

A cold start (no header cache) spends ~0.3 s importing Textual and the screens, and as long
again waiting for the server: greeting, login, SELECT + SORT, the first rows' FETCH. Here the
configuration is read, the event loop made and the first account's connection started
(`Account.connect_soon(open_inbox=True)`) before any of Textual is imported; the imports
then run in a thread while this loop answers the server (one connection, the same turns:
the App runs on this very loop, so the connection, its lock and the opened INBOX are the
App's). Textual-free up to `app.main`, which the thread imports.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from app.mime.termout import say

#: What the first screen needs, imported in the thread while the loop talks to the server.
UI_MODULES = ("app.main", "app.screens.main")


def open_protocol_file(path: Path) -> bool:
    """`--log-protocol FILE`: every account's IMAP and SMTP dialogue written to FILE as it
    happens (0600, credentials redacted); False, with the reason said, when it cannot be opened."""
    from app.protolog import set_live_file

    try:
        set_live_file(path)
    except OSError as exc:
        say(
            f"termail: cannot write the protocol log {path}: {exc.strerror or exc}", file=sys.stderr
        )
        return False
    return True


def _import_ui() -> ModuleType:
    for name in UI_MODULES:
        importlib.import_module(name)
    return sys.modules[UI_MODULES[0]]


def client_main(args: Any, *, config: Any = None) -> int:
    """Open the client on the configured accounts. `args`: the command line as parsed by
    `app.cli.client_args` (--config, --account, --log-protocol); `config`: already read by
    `app.cli` for the splash, else read here."""
    if args.log_protocol is not None and not open_protocol_file(args.log_protocol):
        return 2
    from app.config.accounts import accounts_from_config
    from app.config.model import load_or_exit

    if config is None:
        config = load_or_exit(args.config)
    accounts = accounts_from_config(config, only=args.account)
    splash_source = _splash_source(args.config)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        if accounts and not accounts[0].has_cache_file():
            # Nothing cached to draw: the server is reached meanwhile (with a cache, its rows
            # are drawn first, see MainScreen.connect_account).
            _dial_first(loop, accounts[0])
        ui: Any = loop.run_until_complete(loop.run_in_executor(None, _import_ui))
        return int(ui.run_client(accounts, config, loop=loop, splash_source=splash_source))
    finally:
        _close_loop(loop)


def _dial_first(loop: asyncio.AbstractEventLoop, account: Any) -> None:
    """Start the first account's connection and let it run until it waits on the network,
    before the UI imports start: they hold the GIL for ~0.3 s, and the IMAP modules imported
    beside them (the parser's patterns, the engine) took as long again to dial, so the
    greeting, the login and the first rows' FETCH came after Textual was ready (issue 21:
    the first frame waited on the server, ~0.2 s at 50 ms RTT). Imported here, on this
    thread first, the connect is under way while the UI is imported."""
    import app.imap.client  # noqa: F401  (what `Account.connect` imports, on this thread)

    account.connect_soon(open_inbox=True)
    # One turn of the loop runs the attempt up to its first wait: the TCP connect (a name
    # to resolve goes to the executor; the dial follows as soon as it answers).
    loop.run_until_complete(asyncio.sleep(0))


def _splash_source(given: Path | None) -> tuple[Path, bytes] | None:
    """The config file and its bytes: the key of the start screen's snapshot (`app.splash`)."""
    from app.paths import config_path

    try:
        source = config_path(given)
        return source, source.read_bytes()
    except OSError:
        return None


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """What `asyncio.run` does on the way out: tasks left are cancelled, the executor's
    thread joined, the loop closed."""
    try:
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        asyncio.set_event_loop(None)
        loop.close()
