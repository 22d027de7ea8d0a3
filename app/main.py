"""The Textual App: wires the configuration, the accounts and the screens together."""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable, Iterable
from contextlib import suppress
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from app.account import Account
from app.mime.termout import say
from widgets.help_screen import key_sequences
from widgets.safe import SafeNotify, palette_text, safe_line
from widgets.textual_fixes import AnsiThemeVariables

if TYPE_CHECKING:
    from textual.command import Provider

    from app.sandbox.server import Sandbox


@cache
def actions_provider() -> type[Provider]:
    """The palette's provider of every binding of the screen below it as a command.

    Made on first use: `textual.command` takes ~18 ms to import, which the first screen
    does not need (Textual accepts such a callable in `App.COMMANDS`).
    """
    from textual.command import DiscoveryHit, Hit, Hits, Provider

    class ActionsProvider(Provider):
        """Every binding of the screen the palette was opened over, as a command.

        `self.screen` is that screen (Textual hands it to the provider); `self.app.screen`
        would be the palette itself, which has no mail action.
        """

        async def search(self, query: str) -> Hits:
            matcher = self.matcher(query)
            for command in screen_commands(self.screen):
                score = max(matcher.match(command.description), matcher.match(command.search))
                if score > 0:
                    yield Hit(
                        score,
                        matcher.highlight(palette_text(command.description)),
                        command.run,
                        text=command.description,
                        help=palette_text(command.help),
                    )

        async def discover(self) -> Hits:
            for command in screen_commands(self.screen):
                yield DiscoveryHit(
                    palette_text(command.description),
                    command.run,
                    text=command.description,
                    help=palette_text(command.help),
                )

    return ActionsProvider


class ScreenCommand:
    """One binding offered in the palette: what it says, its keys, and how to run it."""

    __slots__ = ("action", "description", "help", "keys", "node", "search")

    def __init__(self, node: Any, action: str, description: str, keys: list[str]) -> None:
        self.node = node
        self.action = action
        self.description = description
        self.keys = keys
        self.help = "key: " + " / ".join(keys) if keys else ""
        self.search = f"{description} {action.replace('_', ' ')}"

    def run(self) -> None:
        """Run the action in the namespace that binds it (the screen, a widget, the app)."""
        node = self.node
        node.call_later(node.run_action, self.action)


def screen_commands(screen: Screen[Any]) -> list[ScreenCommand]:
    """Every binding active on `screen` (the focused widget's, the screen's, the app's, shown
    in the footer or not), one command per action, with all the keys that run it."""
    app = screen.app
    found: dict[tuple[int, str], ScreenCommand] = {}
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if not binding.description or not active.enabled:
            continue
        shown = app.get_key_display(binding) if binding.key == key else key
        sequences = key_sequences(active.node, binding.action, shown)
        for action, seq_description, seq_keys in sequences:  # `za`: the palette runs its action
            seq = found.setdefault(
                (id(active.node), action),
                ScreenCommand(active.node, action, seq_description, []),
            )
            if seq_keys not in seq.keys:
                seq.keys.insert(0, seq_keys)
                seq.help = "key: " + " / ".join(seq.keys)
        if sequences:
            continue
        slot = (id(active.node), binding.action)
        command = found.get(slot)
        if command is None:
            found[slot] = ScreenCommand(active.node, binding.action, binding.description, [shown])
        elif shown not in command.keys:
            command.keys.append(shown)
            command.help = "key: " + " / ".join(command.keys)
    return list(found.values())


_PROTOCOL_LOG_TIP = "the IMAP and SMTP dialogue of the account (in compose: F12 only)"


class TermailApp(AnsiThemeVariables, SafeNotify, App[None]):
    """termail: one MainScreen per account, switchable."""

    TITLE = "termail"
    COMMANDS = App.COMMANDS | {actions_provider}
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("ctrl+a", "switch_account", "Account", id="app.account", show=False),
        Binding(
            "P",
            "protocol_log",
            "Protocol log",
            id="app.protocol_log",
            show=False,
            tooltip=_PROTOCOL_LOG_TIP,
        ),
        Binding(
            "f12",
            "protocol_log",
            "Protocol log",
            id="app.protocol_log2",
            show=False,
            priority=True,
            tooltip=_PROTOCOL_LOG_TIP,
        ),
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
        self.splash_source: tuple[Path, bytes] | None = None
        """(config file, its bytes): keep the start screen for the next start's splash."""
        self._splash_writer: Any = None
        self._theme_notices: list[str] = []
        self._start_theme: str | None = None
        self._load_themes()

    def get_driver_class(self) -> Any:
        """Textual's Linux driver, taking over from the splash without a blank frame."""
        found = super().get_driver_class()
        from textual.drivers.linux_driver import LinuxDriver

        if found is LinuxDriver:
            from app.screens.splash_driver import SplashDriver

            return SplashDriver
        return found

    def on_load(self) -> None:
        # Textual allocates a lot while it builds the screens: with the default threshold (700)
        # the young generations are collected hundreds of times before the first screen, and
        # the full passes over everything imported cost ~0.1 s of it. (No gc.freeze() here:
        # app.imap.client's bulk loads use freeze/unfreeze only when nothing else froze.)
        gc.set_threshold(10_000, 10, 10)
        # Painted lines that reference themselves (widgets/textual_fixes.py, issue 21): freed
        # when drawn over, not at the next full collection.
        from widgets.textual_fixes import install

        install()
        # Nothing cached to show: the first account's server is reached while Textual builds
        # the screens. With a cache, its rows are drawn first (see MainScreen.connect_account).
        if self.accounts and not self.accounts[0].has_cache_file():
            self.accounts[0].connect_soon(open_inbox=True)

    def on_mount(self) -> None:
        from app.actions.opened import sweep_stale_open_folders

        # Opened attachments left in /tmp by a run that crashed (ours, owner gone): away.
        self.run_worker(sweep_stale_open_folders, thread=True, exit_on_error=False)
        for notice in self._theme_notices:
            self.notify(notice, severity="warning", markup=False)
        from app.screens.pgp_actions import install_terminal_pinentry

        install_terminal_pinentry(self)  # a terminal pinentry draws with the App suspended
        if self._keymap:
            self.set_keymap(self._keymap)
        if self.accounts:
            self._show_account(0)
        if self.splash_source is not None:
            from app.screens.splash_snapshot import install

            self._splash_writer = install(self, *self.splash_source)

    def _load_themes(self) -> None:
        """The theme files registered and the start theme set, from `__init__`: before the
        stylesheet is first parsed, so that parse is made with the theme's variables. (Set
        from on_mount, the theme's watcher re-parsed every rule of every widget and restyled
        the App once more before the first frame.) Failures are shown once mounted."""
        try:
            from app.themes import load_themes
        except ImportError:
            return
        themes, failures = load_themes(self._theme_dirs)
        for theme in themes:
            self.register_theme(theme)
        for path, error in failures:
            self._theme_notices.append(f"Theme {path} not loaded: {error}")
        if not self._theme_name:
            from app.state import recall
            from app.themes import DEFAULT_THEME

            remembered = recall("theme")
            self._theme_name = remembered if isinstance(remembered, str) else DEFAULT_THEME
        if self._theme_name:
            try:
                self.theme = self._theme_name
            except Exception:
                self._theme_notices.append(f"Unknown theme {self._theme_name}")
                return
            self.stylesheet.set_variables(self.get_css_variables())
            self._start_theme = self.theme

    def refresh_css(self, animate: bool = True) -> None:
        """The refresh the start theme's watcher queued is skipped: the stylesheet has not been
        parsed before it, and was then parsed with that theme's variables (`_load_themes`).
        Any later refresh (another theme, the ANSI colours) is Textual's."""
        start, self._start_theme = self._start_theme, None
        if start is not None and start == self.theme:
            return
        super().refresh_css(animate)

    def watch_theme(self, theme: str) -> None:

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
        self.sub_title = safe_line(account.name, max_len=200)

    def action_protocol_log(self) -> None:
        from app.screens.protolog_actions import open_protocol_log

        open_protocol_log(self, self.accounts[self._account_index] if self.accounts else None)

    def action_switch_account(self) -> None:
        if len(self.accounts) > 1:
            self._show_account((self._account_index + 1) % len(self.accounts))
            self.notify(f"Account: {self.accounts[self._account_index].name}", markup=False)

    async def action_quit(self) -> None:
        """Quit (q, ctrl+q, the palette); first ask when something would be left behind."""
        self._quit(ask=False)

    def action_help_quit(self) -> None:
        """ctrl+c asks "Quit termail?", as mutt's ^C does (Textual's own notice came out with
        its markup literally, toasts being never markup here). In a text field ctrl+c copies."""
        self._quit(ask=True)

    def _quit(self, *, ask: bool) -> None:
        """Exit, or the question first: what would be left behind, or (`ask`) just whether."""
        if _asking_to_quit(self):
            return  # the question is on the screen already
        undo_send = sys.modules.get("app.screens.undo_send_actions")  # none: nothing held
        if undo_send is not None and undo_send.ask_before_quit(self):
            return  # a send is counting down: send now / keep / cancel
        question = self.quit_question() or ("Quit termail?" if ask else None)
        if question is None:
            self.exit()
            return
        ask_to_quit(self, question)

    def quit_question(self) -> str | None:
        """What quitting now would leave behind, as a question; None when nothing would.

        A message being written is saved to the local draft store first (offered at the next
        start); mail in an outbox is only sent while termail runs.
        """
        from app.screens.compose import ComposeScreen

        writing = unsaved = 0
        for screen in self.screen_stack:
            if isinstance(screen, ComposeScreen) and screen.has_unsent_text():
                writing += 1
                unsaved += not screen.keep_locally()
        waiting = failed = 0
        for account in self.accounts:
            # An empty outbox is told by its folder: app.smtp is not imported to quit.
            counts = _outbox_counts(account) if account.may_have_outbox() else (0, 0)
            waiting += counts[0]
            failed += counts[1]
        parts = []
        if unsaved:
            parts.append(
                "A message you are writing could not be saved and would be lost."
                if unsaved == 1
                else f"{unsaved} messages you are writing could not be saved and would be lost."
            )
        elif writing:
            parts.append(
                "A message you are writing is not sent (it is kept as a local draft and "
                "offered at the next start)."
                if writing == 1
                else f"{writing} messages you are writing are not sent (kept as local drafts)."
            )
        if waiting:
            noun = "message waits" if waiting == 1 else "messages wait"
            parts.append(
                f"{waiting} {noun} in the outbox: it is sent only while termail runs."
                if waiting == 1
                else f"{waiting} {noun} in the outbox: they are sent only while termail runs."
            )
        if failed:
            parts.append(
                f"{failed} message{' was' if failed == 1 else 's were'} refused and "
                f"{'waits' if failed == 1 else 'wait'} in the outbox (O) to be retried or cancelled."
            )
        if not parts:
            return None
        return " ".join(parts) + " Quit anyway?"

    def action_help(self) -> None:
        from widgets.help_screen import HelpScreen

        self.push_screen(HelpScreen(self.screen))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for account in self.accounts:
            yield SystemCommand(
                palette_text(f"Switch to account {account.name}"),
                "Show this account's folders",
                partial(self._show_account, self.accounts.index(account)),
            )

    def exit(self, *args: Any, **kwargs: Any) -> None:
        if self._splash_writer is not None:
            self._splash_writer.look()  # quitting from the start state: its last look
        super().exit(*args, **kwargs)

    async def on_unmount(self) -> None:
        for account in self.accounts:
            await account.close()

    def _fatal_error(self) -> None:
        """Textual's crash report prints local variables, where a library frame may hold a
        password as a plain string: print the traceback without them."""
        _fatal_error_without_locals(self)


def _outbox_counts(account: Account) -> tuple[int, int]:
    """(waiting to be retried, failed) entries of an account's outbox; (0, 0) when it cannot be
    read: quitting must still work."""
    from app.smtp.outbox import OutboxError
    from app.smtp.sending import account_outbox

    try:
        entries = account_outbox(account).list()
    except (OutboxError, OSError):
        return 0, 0
    failed = sum(1 for e in entries if e.state == "failed")
    return len(entries) - failed, failed


def _fatal_error_without_locals(app: App[Any]) -> None:
    import rich
    from rich.segment import Segments
    from rich.traceback import Traceback

    app.bell()
    traceback = Traceback(show_locals=False, width=None, suppress=[rich])
    app._exit_renderables.append(Segments(app.console.render(traceback, app.console.options)))
    app._close_messages_no_wait()


def _asking_to_quit(app: App[None]) -> bool:
    from widgets.dialogs import ConfirmDialog

    return isinstance(app.screen, ConfirmDialog) and getattr(app.screen, "quit_question", False)


def ask_to_quit(app: App[None], question: str) -> None:
    """The quit question as a dialog: Quit exits, Stay (n, Esc) goes back."""
    from widgets.dialogs import ConfirmDialog

    dialog = ConfirmDialog(question, yes="Quit", no="Stay")
    dialog.quit_question = True  # type: ignore[attr-defined]

    def answered(really: bool | None) -> None:
        if really:
            app.exit()

    app.push_screen(dialog, answered)


class ViewerApp(SafeNotify, App[None]):
    """`termail view FILE.eml`: the message viewer on a local file, no server needed."""

    TITLE = "termail view"
    BINDINGS = [Binding("q", "quit", "Quit", id="app.quit")]

    def __init__(self, raw: bytes, name: str) -> None:
        super().__init__()
        self.raw = raw
        self.file_name = name

    def action_help_quit(self) -> None:
        """ctrl+c asks, as in the client (`TermailApp.action_help_quit`)."""
        if not _asking_to_quit(self):
            ask_to_quit(self, "Quit termail view?")

    def on_mount(self) -> None:
        from app.screens.pgp_actions import install_terminal_pinentry
        from app.screens.viewer import FileViewerScreen

        install_terminal_pinentry(self)
        self.push_screen(FileViewerScreen(self.raw, self.file_name))
        self.sub_title = safe_line(self.file_name, max_len=200)


def _read_input(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    return Path(path).read_bytes()


def view_main(argv: list[str]) -> int:
    if not argv:
        say("usage: termail view FILE.eml|-", file=sys.stderr)
        return 2
    try:
        raw = _read_input(argv[0])
    except OSError as exc:
        say(f"termail view: {exc}", file=sys.stderr)
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
                data_dir=demo_data_dir(sandbox) / name,
            )
        )
    return accounts


def prepare_images() -> None:
    """Before Textual starts: ready Kitty/Sixel drawing when the terminal has it (issue 18)."""
    import os

    from widgets.image_caps import graphics_protocol

    protocol = graphics_protocol(os.environ)
    if protocol != "halfblocks":  # half-blocks need nothing before Textual (nor PIL now)
        from widgets.image_view import prepare_graphics

        prepare_graphics(protocol)


def demo_data_dir(sandbox: Sandbox) -> Path:
    """Drafts, outbox and cache of the demo accounts: inside the demo's own sandbox folder, so
    two demos at once never share them (`app.cli.demo` keeps the drafts and queued mail when the
    folder goes, and hands them to the next demo)."""
    from app.sandbox.demo import DATA

    return Path(sandbox.root) / DATA


def run_demo_app(sandbox: Sandbox, on_start: Callable[[App[Any]], None] | None = None) -> int:
    """Run the client on the demo accounts; `on_start` gets the App first (the demo's
    signal handlers ask it to quit)."""
    app = TermailApp(demo_accounts(sandbox))
    if on_start is not None:
        on_start(app)
    prepare_images()
    app.run()
    return 0


def run_client(
    accounts: list[Account],
    config: Any,
    *,
    loop: Any = None,
    splash_source: tuple[Path, bytes] | None = None,
) -> int:
    """Run the client on `accounts` (from `config`); on `loop` when the caller made one
    (`app.cli.client`: the first account may be connecting on it already). `splash_source`:
    the config file and its bytes, which key the start screen's snapshot (`app.splash`)."""
    ui = config.ui
    prepare_images()
    app = TermailApp(
        accounts,
        theme=getattr(ui, "theme", None),
        keymap=dict(getattr(config, "keys", {}) or {}),
        mark_read_delay=float(getattr(ui, "mark_read_delay", 0.0) or 0.0),
        ui=ui,
    )
    app.splash_source = splash_source
    app.run(loop=loop)
    return 0
