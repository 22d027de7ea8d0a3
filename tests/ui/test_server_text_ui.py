"""Server text through the whole app: hostile folder names in the sandbox Dovecot, SMTP replies
with escape sequences, reach the screen only cleaned (issue 13 item 1).

Each step a user takes (open a folder with `c`, rename with `E`, move with `s`, copy with `C`,
subscribe with `S`, new mail arriving, a folder gone behind the app's back, a refused and a
deferred send, the outbox retry) is followed by `screen_guard.leaks`: the widget tree, every
toast (title and message) and the terminal bytes of the top screen must hold no C0/C1/ESC/bidi/
zero-width character and no toast may parse markup. The markup-looking folder name must show
literally, so markup was not parsed anywhere.

Not here: a `]` inside an unquoted LIST name (Dovecot quotes such names; h7's tokenizer fix and
its fake server cover that), names over 255 bytes (a Maildir folder is one file name; the
1,000-character case is tested on the toast and the picker directly below), and invalid modified
UTF-7 on the wire (Dovecot refuses to create it; tests/unit/test_utf7.py decodes garbage).
"""

from __future__ import annotations

import imaplib
from pathlib import Path
from typing import Any

import pytest

from app.account import Account
from app.imap.utf7 import encode_mailbox
from app.main import TermailApp
from app.models import TlsMode
from tests.ui.screen_guard import leaks, screen_text
from tests.ui.test_app_sandbox import imap, wait_connected, wait_until
from widgets.dialogs import ConfirmDialog, FolderPicker, PromptDialog
from widgets.safe import SafeNotify

pytestmark = [pytest.mark.integration, pytest.mark.ui]

# With spaces Dovecot sends it quoted; an unquoted `]` is the LIST tokenizer's case (below).
ESC_NAME = "Evil \x1b]0;pwned\x07 \x1b]52;c;ZXZpbA==\x07\x1b[2J"
BIDI_NAME = "Bidi\u202eexe\u2066x\u2069"
ZW_NAME = "Zero\u200bWidth\u200d\u2060"
MARKUP_NAME = "[b red]Mk [@click=screenshot]q"  # no "/" or ".": one level, not a hierarchy
C1_NAME = "CtrlOne\u009b31m\u0085"
LONG_NAME = "Long" + "L" * 236
GARBAGE_NAME = "Bad&-utf7&AGEAYgBj-&"  # sent encoded: `&` as `&-`
FOLDERS = [ESC_NAME, BIDI_NAME, ZW_NAME, MARKUP_NAME, C1_NAME, LONG_NAME, GARBAGE_NAME]

#: An SMTP reply (aiosmtpd sends ASCII only): title, clipboard, clear screen, markup.
SMTP_TEXT = "5.7.1 no\x1b]0;smtp-pwned\x07\x1b]52;c;ZXZpbA==\x07\x1b[2J [b]bold[/b] end"


def make_app(user: Any, data_dir: Path) -> TermailApp:
    account = Account(
        user.name,
        user.imap_settings(TlsMode.IMPLICIT),
        user.credentials,
        smtp=user.smtp_settings(TlsMode.STARTTLS),
        addresses=[user.address],
        display_name="Test User",
        data_dir=data_dir,
    )
    return TermailApp([account])


def message(subject: str) -> bytes:
    return (
        f"From: a@example.org\r\nTo: b@example.org\r\nSubject: {subject}\r\n"
        "Message-ID: <" + subject.replace(" ", "-") + "@example.org>\r\n\r\nbody\r\n"
    ).encode()


def server_name(conn: imaplib.IMAP4_SSL, needle: str) -> str:
    """A folder's name as the server lists it (modified UTF-7, quoted when it has spaces)."""
    for line in conn.list()[1]:
        assert isinstance(line, bytes)
        if needle.encode() in line:
            return line.decode().split(' "/" ', 1)[1]
    raise AssertionError(f"no folder {needle!r} on the server")


def assert_clean(app: TermailApp, step: str) -> None:
    found = leaks(app)
    assert not found, f"after {step}:\n" + "\n".join(found[:20])


async def pick(pilot: Any, app: TermailApp, key: str, needle: str) -> None:
    """Press `key`, type `needle` into the folder picker's filter, check, choose."""
    await pilot.press(key)
    picker = await wait_until(pilot, lambda: isinstance(app.screen, FolderPicker) and app.screen)
    for ch in needle:
        await pilot.press(ch)
    await pilot.pause(0.1)
    assert picker._shown, f"no folder matches {needle!r}"
    assert_clean(app, f"the folder picker of {key!r} ({needle!r})")
    await pilot.press("enter")
    await wait_until(pilot, lambda: not isinstance(app.screen, FolderPicker))


def toasts(app: TermailApp) -> list[str]:
    return [f"{n.title}: {n.message}" for n in app._notifications]


async def wait_toast(pilot: Any, app: TermailApp, word: str, timeout: float = 20.0) -> str:
    word = word.lower()
    found: str = await wait_until(
        pilot, lambda: next((t for t in toasts(app) if word in t.lower()), None), timeout=timeout
    )
    return found


async def test_hostile_folder_names_and_smtp_replies_reach_the_screen_cleaned(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    for name in FOLDERS:
        # On disk, as Dovecot stores names (modified UTF-7): its CREATE refuses control
        # characters, but a folder made by another tool or a hostile server lists them.
        sandbox.ensure_maildir(mail_user.name, encode_mailbox(name))
    conn = imap(mail_user)
    conn.append(server_name(conn, "Evil"), "", None, message("in the evil folder"))
    conn.logout()
    sandbox.deliver(mail_user.name, message("inbox one"))
    sandbox.deliver(mail_user.name, message("inbox two"))
    refused = f"refused-{mail_user.name}@example.com"
    deferred = f"deferred-{mail_user.name}@example.com"
    sandbox.force_smtp_reply(554, recipient=refused, text=SMTP_TEXT)
    sandbox.force_smtp_reply(451, recipient=deferred, text=SMTP_TEXT.replace("5.7.1", "4.3.0"))
    app = make_app(mail_user, tmp_path / "data")
    try:
        async with app.run_test(size=(160, 50)) as pilot:
            await wait_connected(pilot, app)
            main = app.screen
            await wait_until(pilot, lambda: "CtrlOne" in screen_text(app), timeout=30)
            assert_clean(app, "the folder list")
            assert "[b red]Mk [@click" in screen_text(app), "markup in a folder name was parsed"

            # c: open the ESC folder (its name in the status bar, the list, the picker).
            await pick(pilot, app, "c", "Evil")
            await wait_until(pilot, lambda: "Evil" in main.query_one("#status").folder)
            await pilot.pause(0.5)
            assert_clean(app, "opening the ESC folder")

            # New mail in the open folder: "1 new message(s) in <name>" (APPEND from another
            # connection, so Dovecot tells the app's IDLE at once).
            conn = imap(mail_user)
            conn.append(server_name(conn, "Evil"), "", None, message("fresh"))
            conn.logout()
            notice = main.new_mail_notice  # one notice, updated in place (not a toast)
            await wait_until(pilot, lambda: notice.shown and "new message" in notice.text, 30)
            assert "Evil" in screen_text(app)
            assert_clean(app, "the new-mail notice")

            # E: the rename prompt shows the name as its default, cleaned.
            await pilot.press("E")
            prompt = await wait_until(
                pilot, lambda: isinstance(app.screen, PromptDialog) and app.screen
            )
            assert "Evil" in prompt.query_one("Input").value
            assert_clean(app, "the rename prompt")
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is main)

            # S: (un)subscribe toast names the folder.
            await pilot.press("S")
            await wait_toast(pilot, app, "subscribed")
            assert_clean(app, "the subscribe toast")

            # s / C: move and copy toasts name the destination.
            main.message_list.focus()
            await pilot.press("g")
            await pick(pilot, app, "C", "Bidi")
            await wait_toast(pilot, app, "Copied")
            assert_clean(app, "the copy toast")
            await pick(pilot, app, "s", "[b")
            await wait_toast(pilot, app, "Moved")
            assert_clean(app, "the move toast")
            assert any("[b red]Mk [@click" in t for t in toasts(app)), toasts(app)

            # A folder deleted behind the app's back: "Cannot open <name>".
            conn = imap(mail_user)
            conn.delete(server_name(conn, "CtrlOne"))
            conn.logout()
            await pick(pilot, app, "c", "CtrlOne")
            await wait_toast(pilot, app, "Cannot open", timeout=30)
            assert_clean(app, "a folder that is gone")

            # A send refused with ESC in the reply, and one deferred (outbox, retry).
            for target, outcome in ((refused, "refused"), (deferred, "deferred")):
                await pilot.press("m")
                screen = await wait_until(
                    pilot, lambda: app.screen is not main and app.screen.query("#to") and app.screen
                )
                screen.query_one("#to").value = target
                screen.query_one("#subject").value = f"Hostile reply {outcome}"
                screen.query_one("#body").text = "x\n"
                await pilot.press("ctrl+s")
                await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
                await pilot.press("y")
                if outcome == "refused":
                    await wait_until(
                        pilot,
                        lambda s=screen: "smtp-pwned" in str(s.query_one("#compose-error").visual),
                        timeout=30,
                    )
                    assert_clean(app, "a refused send")
                    await pilot.press("escape")
                    await pilot.pause(0.3)
                    while app.screen is not main:
                        if isinstance(app.screen, ConfirmDialog | PromptDialog):
                            await pilot.press("y")
                        else:
                            for key in ("escape", "d"):
                                await pilot.press(key)
                        await pilot.pause(0.3)
                else:
                    await wait_until(pilot, lambda: app.screen is main, timeout=30)
                    await wait_toast(pilot, app, "smtp-pwned")
                    assert_clean(app, "a deferred send")
            # O: the outbox lists the deferred message with the server's reply; r retries.
            await pilot.press("O")
            await wait_until(pilot, lambda: type(app.screen).__name__ == "OutboxScreen")
            await pilot.pause(0.2)
            assert "smtp-pwned" in screen_text(app)
            assert_clean(app, "the outbox screen")
            await pilot.press("r")
            await wait_toast(pilot, app, "Still waiting", timeout=30)
            assert_clean(app, "the outbox retry")
    finally:
        sandbox.clear_smtp_rules()


async def test_a_1000_character_name_in_a_toast_and_a_picker_is_cut_and_cleaned() -> None:
    name = ("\x1b]2;t\x07" + "N" * 40 + "\u200b\u202e") * 25  # 1,000+ characters
    app = TermailApp([])
    async with app.run_test(size=(120, 40)) as pilot:
        app.notify(f"Moved 1 message(s) to {name}", title=f"Cannot open {name}", markup=True)
        app.push_screen(FolderPicker(f"Move to {name}", [name, "INBOX"]))
        await pilot.pause(0.3)
        assert_clean(app, "a 1,000-character name")
        (shown,) = list(app._notifications)
        assert len(shown.message) < 700 and "cut" in shown.message
        assert not shown.markup


async def test_palette_entries_with_a_hostile_account_name() -> None:
    """The palette parses its titles and help as markup: an account named like markup or with
    escapes shows literally and cleaned (`termail config` lets a quoted key hold anything)."""
    from textual.command import CommandPalette

    from app.models import Credentials, ServerSettings

    name = "Work\x1b]0;pwned\x07\u202e\u200b [@click=app.quit]Q[/]"
    settings = ServerSettings(host="127.0.0.1", port=1, user="u", tls=TlsMode.NONE, timeout=1)
    account = Account(name, settings, lambda: Credentials("u", "p"), addresses=["u@x.test"])
    app = TermailApp([account, Account("second", settings, lambda: Credentials("u", "p"))])
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("ctrl+p")
        await wait_until(pilot, lambda: isinstance(app.screen, CommandPalette))
        for ch in "Switch":
            await pilot.press(ch)
        await wait_until(pilot, lambda: "Switch to account" in screen_text(app), timeout=10)
        await pilot.pause(0.3)
        assert "[@click=app.quit]Q[/]" in screen_text(app), "markup in the palette was parsed"
        assert_clean(app, "the command palette")


async def test_prompt_default_is_shown_cleaned_and_enter_keeps_it_as_given() -> None:
    """The rename prompt shows `Evil␛]0;…`, and Enter on it untouched answers the real name
    (the caller sees "unchanged"), not the picture of it."""
    from textual.app import App

    name = "Evil\x1b]0;pwned\x07\u202e\u200bx"
    answers: list[str | None] = []

    class Host(SafeNotify, App[None]):
        def on_mount(self) -> None:
            self.push_screen(PromptDialog(f"Rename {name} to", name), answers.append)

    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.2)
        field = app.screen.query_one("Input")
        assert field.value == "Evil␛]0;pwned␇x"
        assert_clean(app, "the prompt")
        await pilot.press("enter")
        await pilot.pause(0.1)
    assert answers == [name]


async def test_unquoted_bracket_in_a_folder_name(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    # No space: Dovecot sends it as an atom, `]` and all (`Brack]et&ABs-]0;t&AAc-`).
    name = "Brack]et\x1b]0;t\x07"
    sandbox.ensure_maildir(mail_user.name, encode_mailbox(name))
    app = make_app(mail_user, tmp_path / "data")
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_connected(pilot, app)
        await wait_until(pilot, lambda: "Brack]et␛]0;t␇" in screen_text(app), timeout=15)
        assert_clean(app, "a folder name with an unquoted ]")


#: Folder names a hostile server may list: invalid modified UTF-7 (unterminated shifts, `!`
#: inside base64, odd lengths, a lone `&`), escapes, bidi, zero-width, markup, 1,000 characters.
GARBAGE_LIST = [
    b'"Bad&Jjo!"',
    b"&AGEAYgBj-tail&",
    b'"&U,BTFw-&ZeVnLIqe-"',
    b"&AB",
    b'"&ABs-]2;pwned&AAc-"',
    b'"Evil \x1b]0;raw-pwned\x07 \xe2\x80\xae\xe2\x80\x8b"',
    b'"[b red]Mk [@click=app.quit]q"',
    b'"' + b"W" * 1000 + b'"',
]


async def test_a_hostile_imap_server_s_names_errors_and_alerts(tmp_path: Path) -> None:
    """A scripted server (tests/faults/scripted.py): ALERTs at login and at SELECT, garbage
    modified UTF-7 and raw escapes in LIST, a NO with escapes to every SELECT."""
    from app.models import Credentials, ServerSettings
    from tests.faults.scripted import ScriptedServer

    payload = b"\x1b]0;alert-pwned\x07\x1b]52;c;cHduZWQ=\x07\xc2\x9b2J\xe2\x80\xae\xe2\x80\x8b[b]m"
    listing = b"".join(b'* LIST () "/" ' + name + b"\r\n" for name in [b"INBOX", *GARBAGE_LIST])
    server = ScriptedServer(
        b"* OK [CAPABILITY IMAP4rev1] [ALERT] greeting " + payload + b"\r\n",
        {
            b"CAPABILITY": b"* CAPABILITY IMAP4rev1\r\n{tag} OK done\r\n",
            b"LOGIN": b"* OK [ALERT] login " + payload + b"\r\n{tag} OK logged in\r\n",
            b"LIST": listing + b"{tag} OK done\r\n",
            b"LSUB": listing.replace(b"LIST", b"LSUB") + b"{tag} OK done\r\n",
            b"SELECT": b"* OK [ALERT] select "
            + payload
            + b"\r\n{tag} NO select "
            + payload
            + b"\r\n",
            b"EXAMINE": b"{tag} NO examine " + payload + b"\r\n",
            b"STATUS": b"{tag} NO status " + payload + b"\r\n",
        },
    )
    async with server:
        settings = ServerSettings(
            host="127.0.0.1",
            port=server.port,
            user="u",
            tls=TlsMode.NONE,
            allow_insecure=True,
            timeout=5,
            compress=False,
        )
        account = Account(
            "hostile", settings, lambda: Credentials("u", "pw"), data_dir=tmp_path / "data"
        )
        app = TermailApp([account])
        async with app.run_test(size=(160, 50)) as pilot:
            await wait_until(pilot, lambda: any(b"SELECT" in line for line in server.received))
            await wait_toast(pilot, app, "select", timeout=20)
            await pilot.pause(0.5)
            assert_clean(app, "a hostile server's login, LIST and SELECT")
            main = app.screen
            await wait_until(pilot, lambda: len(main.account.folders) > 3, timeout=20)
            await pilot.pause(0.5)
            assert_clean(app, "a hostile server's folder list")
            screen = screen_text(app)
            assert "[b red]Mk" in screen and "Bad" in screen, screen
            # c: the picker lists every name; open the 1,000-character one (a NO again).
            await pick(pilot, app, "c", "WWWW")
            await pilot.pause(0.5)
            assert_clean(app, "opening a 1,000-character folder")
    assert any(b"LOGIN" in line for line in server.received)


async def test_a_bye_greeting_with_escapes_in_the_status_bar_and_toasts(tmp_path: Path) -> None:
    """A server that greets with `* BYE <escapes>`: the status bar's offline reason and the
    "Connection failed" toasts show its text cleaned."""
    from app.models import Credentials, ServerSettings
    from tests.faults.scripted import ScriptedServer

    payload = b"\x1b]0;bye-pwned\x07\x1b]52;c;cHduZWQ=\x07\xc2\x9b2J\xe2\x80\xae\xe2\x80\x8b[b]m"
    server = ScriptedServer(b"* BYE go away " + payload + b"\r\n", close_after_greeting=True)
    async with server:
        settings = ServerSettings(
            host="127.0.0.1",
            port=server.port,
            user="u",
            tls=TlsMode.NONE,
            allow_insecure=True,
            timeout=5,
        )
        account = Account("bye", settings, lambda: Credentials("u", "pw"), data_dir=tmp_path)
        app = TermailApp([account])
        async with app.run_test(size=(160, 40)) as pilot:
            await wait_until(
                pilot, lambda: "bye-pwned" in screen_text(app) and toasts(app), timeout=20
            )
            await pilot.pause(0.3)
            assert "go away" in str(app.screen.query_one("#status-line").visual)
            assert_clean(app, "a BYE greeting")
