"""The Textual App: wires the configuration, the accounts and the screens together."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterable
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from app.account import Account

if TYPE_CHECKING:
    from textual.command import Provider

    from app.sandbox.server import Sandbox


@cache
def actions_provider() -> type[Provider]:
    """The palette's provider of every binding of the active screen as a command.

    Made on first use: `textual.command` takes ~18 ms to import, which the first screen
    does not need (Textual accepts such a callable in `App.COMMANDS`).
    """
    from textual.command import Hit, Hits, Provider

    class ActionsProvider(Provider):
        """Every binding of the active screen as a command in the palette."""

        async def search(self, query: str) -> Hits:
            matcher = self.matcher(query)
            screen = self.app.screen
            for binding in _bindings_of(screen):
                if not binding.description:
                    continue
                score = matcher.match(binding.description)
                if score > 0:
                    yield Hit(
                        score,
                        matcher.highlight(binding.description),
                        partial(screen.run_action, binding.action),
                        help=f"key: {binding.key_display or binding.key}",
                    )

    return ActionsProvider


def _bindings_of(screen: Screen[Any]) -> list[Binding]:
    found: list[Binding] = []
    for item in getattr(screen, "BINDINGS", []):
        if isinstance(item, Binding):
            found.append(item)
    return found


class TermailApp(App[None]):
    """termail: one MainScreen per account, switchable."""

    TITLE = "termail"
    COMMANDS = App.COMMANDS | {actions_provider}
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("ctrl+a", "switch_account", "Account", id="app.account", show=False),
    ]

    def __init__(
        self,
        accounts: list[Account],
        *,
        theme: str | None = None,
        keymap: dict[str, str] | None = None,
        mark_read_delay: float = 0.0,
        theme_dirs: Iterable[Path] = (),
        ui: Any = None,
    ) -> None:
        super().__init__()
        self.ui = ui
        self.accounts = accounts
        self._theme_name = theme
        self._keymap = keymap or {}
        self.mark_read_delay = mark_read_delay
        self._theme_dirs = list(theme_dirs)
        self._screens: dict[str, Any] = {}
        self._account_index = 0

    def on_load(self) -> None:
        # Textual allocates a lot while it builds the screens: with the default threshold (700)
        # the young generations are collected hundreds of times before the first screen, and
        # the full passes over everything imported cost ~0.1 s of it. (No gc.freeze() here:
        # app.imap.client's bulk loads use freeze/unfreeze only when nothing else froze.)
        gc.set_threshold(10_000, 10, 10)
        # Nothing cached to show: the first account's server is reached while Textual builds
        # the screens. With a cache, its rows are drawn first (see MainScreen.connect_account).
        if self.accounts and not self.accounts[0].has_cache_file():
            self.accounts[0].connect_soon()

    def on_mount(self) -> None:
        from app.opened import sweep_stale_open_folders

        # Opened attachments left in /tmp by a run that crashed (ours, owner gone): away.
        self.run_worker(sweep_stale_open_folders, thread=True, exit_on_error=False)
        self._load_themes()
        if self._keymap:
            self.set_keymap(self._keymap)
        if self.accounts:
            self._show_account(0)

    def _load_themes(self) -> None:
        try:
            from app.themes import load_themes
        except ImportError:
            return
        themes, failures = load_themes(self._theme_dirs)
        for theme in themes:
            self.register_theme(theme)
        for path, error in failures:
            self.notify(f"Theme {path} not loaded: {error}", severity="warning", markup=False)
        if not self._theme_name:
            from app.state import recall
            from app.themes import DEFAULT_THEME

            remembered = recall("theme")
            self._theme_name = remembered if isinstance(remembered, str) else DEFAULT_THEME
        if self._theme_name:
            try:
                self.theme = self._theme_name
            except Exception:
                self.notify(f"Unknown theme {self._theme_name}", severity="warning", markup=False)

    def watch_theme(self, theme: str) -> None:
        from contextlib import suppress

        with suppress(Exception):
            from app.state import remember

            remember("theme", theme)

    def _show_account(self, index: int) -> None:
        from app.screens.main import MainScreen

        self._account_index = index
        account = self.accounts[index]
        screen = self._screens.get(account.name)
        if screen is None:
            screen = MainScreen(account, mark_read_delay=self.mark_read_delay)
            screen.ui = self.ui
            self._screens[account.name] = screen
            self.install_screen(screen, name=f"account:{account.name}")
        self.switch_screen(f"account:{account.name}") if self.screen_stack[
            1:
        ] else self.push_screen(f"account:{account.name}")
        self.sub_title = account.name

    def action_switch_account(self) -> None:
        if len(self.accounts) > 1:
            self._show_account((self._account_index + 1) % len(self.accounts))
            self.notify(f"Account: {self.accounts[self._account_index].name}", markup=False)

    def action_help(self) -> None:
        from widgets.help_screen import HelpScreen

        self.push_screen(HelpScreen(self.screen))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for account in self.accounts:
            yield SystemCommand(
                f"Switch to account {account.name}",
                "Show this account's folders",
                partial(self._show_account, self.accounts.index(account)),
            )

    async def on_unmount(self) -> None:
        for account in self.accounts:
            await account.close()

    def _fatal_error(self) -> None:
        """Textual's crash report prints local variables, where a library frame may hold a
        password as a plain string: print the traceback without them."""
        _fatal_error_without_locals(self)


def _fatal_error_without_locals(app: App[Any]) -> None:
    import rich
    from rich.segment import Segments
    from rich.traceback import Traceback

    app.bell()
    traceback = Traceback(show_locals=False, width=None, suppress=[rich])
    app._exit_renderables.append(Segments(app.console.render(traceback, app.console.options)))
    app._close_messages_no_wait()


class ViewerApp(App[None]):
    """`termail view FILE.eml`: the message viewer on a local file, no server needed."""

    TITLE = "termail view"
    BINDINGS = [Binding("q", "quit", "Quit", id="app.quit")]

    def __init__(self, raw: bytes, name: str) -> None:
        super().__init__()
        self.raw = raw
        self.file_name = name

    def compose(self) -> ComposeResult:
        from textual.widgets import Footer

        from widgets.message_view import MessageView

        yield MessageView(id="viewer")
        yield Footer()

    def on_mount(self) -> None:
        from app.mime.render import render_message
        from widgets.message_view import MessageView

        viewer = self.query_one(MessageView)
        viewer.show(render_message(self.raw))
        viewer.focus()
        self.sub_title = self.file_name


def _read_input(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    return Path(path).read_bytes()


def view_main(argv: list[str]) -> int:
    if not argv:
        print("usage: termail view FILE.eml|-", file=sys.stderr)
        return 2
    try:
        raw = _read_input(argv[0])
    except OSError as exc:
        print(f"termail view: {exc}", file=sys.stderr)
        return 1
    ViewerApp(raw, argv[0]).run()
    return 0


def demo_accounts(sandbox: Sandbox) -> list[Account]:
    """The demo user and a friend, both on the sandbox, over STARTTLS and IMAPS."""
    from app.models import TlsMode
    from app.sandbox.demo import DEMO_USER, FRIEND_USER

    accounts = []
    for name, tls in ((DEMO_USER, TlsMode.IMPLICIT), (FRIEND_USER, TlsMode.STARTTLS)):
        user = sandbox.user(name)
        accounts.append(
            Account(
                name,
                user.imap_settings(tls),
                user.credentials,
                smtp=user.smtp_settings(TlsMode.STARTTLS),
                addresses=[user.address],
                display_name=name.capitalize() + " User",
                data_dir=demo_data_dir() / name,
            )
        )
    return accounts


def demo_data_dir() -> Path:
    """Drafts and cache of the demo accounts: kept across demo runs, like a real account's."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("termail")) / "demo"


def run_demo_app(sandbox: Sandbox) -> int:
    TermailApp(demo_accounts(sandbox)).run()
    return 0


def client_main(argv: list[str]) -> int:
    """Open the client on the configured accounts."""
    import argparse

    parser = argparse.ArgumentParser(prog="termail")
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--account", default=None)
    args = parser.parse_args(argv)
    from app.config import load_or_exit
    from app.config_accounts import accounts_from_config

    config = load_or_exit(args.config)
    accounts = accounts_from_config(config, only=args.account)
    ui = config.ui
    TermailApp(
        accounts,
        theme=getattr(ui, "theme", None),
        keymap=dict(getattr(config, "keys", {}) or {}),
        mark_read_delay=float(getattr(ui, "mark_read_delay", 0.0) or 0.0),
        ui=ui,
    ).run()
    return 0
