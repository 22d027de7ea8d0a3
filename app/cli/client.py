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
        early = accounts[0] if accounts and not accounts[0].has_cache_file() else None
        if early is not None:
            _import_imap()
        importing = loop.run_in_executor(None, _import_ui)
        if early is not None:
            # Nothing cached to draw: the server is reached meanwhile (with a cache, its rows
            # are drawn first, see MainScreen.connect_account).
            early.connect_soon(open_inbox=True)
        ui: Any = loop.run_until_complete(importing)
        return int(ui.run_client(accounts, config, loop=loop, splash_source=splash_source))
    finally:
        _close_loop(loop)


def _import_imap() -> None:
    """What `Account.connect` imports (the engine, the parser and its patterns), on this
    thread before the UI imports start. Imported beside them, under the GIL they hold for
    ~0.3 s, it took as long again, so the dial, the login and the first rows' FETCH came
    after Textual was ready and the first frame waited on the server (issue 21). Imported
    first, the connection's first turn of the loop goes straight to the TCP connect; the
    credentials are still resolved there, beside the UI imports (a password command's
    wait is not added to the start)."""
    import app.imap.client  # noqa: F401


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
