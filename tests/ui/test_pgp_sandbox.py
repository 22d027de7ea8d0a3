"""OpenPGP end to end in the App (issue 16): ctrl+g in compose, sent signed + encrypted through
the sandbox SMTP, read back from Dovecot by the recipient's own session and decrypted; the Sent
copy is encrypted too (to the sender); a recipient without a key is refused by name."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Static

from app.account import Account
from app.main import TermailApp
from app.models import Identity, TlsMode
from app.screens.compose import ComposeScreen
from tests.gpg_keys import Keyring
from tests.ui.test_app_sandbox import imap, list_filled, wait_connected, wait_until
from tests.ui.test_compose_sandbox import fetch_inbox, open_compose
from widgets.dialogs import ConfirmDialog
from widgets.message_view import MessageView

pytestmark = [pytest.mark.integration, pytest.mark.ui, pytest.mark.timeout(120)]


def _app(user: Any, data_dir: Path, **identity: Any) -> TermailApp:
    creds = user.credentials()
    account = Account(
        user.name,
        user.imap_settings(TlsMode.IMPLICIT),
        lambda: creds,
        smtp=user.smtp_settings(TlsMode.STARTTLS),
        addresses=[user.address],
        identities=[Identity("Zoë", user.address, **identity)],
        data_dir=data_dir,
    )
    return TermailApp([account])


def _key_for(ring: Keyring, address: str) -> None:
    ring.gpg(
        "--passphrase", "", "--quick-gen-key", f"<{address}>", "future-default", "default", "never"
    )


def _raw_of(user: Any, folder: str) -> list[bytes]:
    conn = imap(user)
    conn.select(folder)
    _, data = conn.uid("SEARCH", None, "ALL")
    found = []
    for uid in data[0].split():
        _, fetched = conn.uid("FETCH", uid, "(BODY.PEEK[])")
        found.append(fetched[0][1])
    conn.logout()
    return found


async def test_send_signed_encrypted_and_read_back(
    gpg_keyring: Keyring, sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    friend = sandbox.add_user(mail_user.name + "p")
    _key_for(gpg_keyring, mail_user.address)
    _key_for(gpg_keyring, friend.address)
    app = _app(mail_user, tmp_path / "a")
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_compose(pilot, app)
        assert "off" in str(screen.query_one("#pgp", Static).render())
        screen.query_one("#to").value = friend.address
        screen.query_one("#subject").value = "Sealed plans"
        screen.query_one("#body").text = "Meet at noon.  \n\nZoë\n"
        await pilot.press("ctrl+g", "ctrl+g")  # off -> sign -> sign + encrypt
        shown = str(screen.query_one("#pgp", Static).render())
        assert "sign" in shown and "encrypt" in shown, shown
        await pilot.press("ctrl+s")
        dialog = await wait_until(
            pilot, lambda: isinstance(app.screen, ConfirmDialog) and app.screen
        )
        assert "signed and encrypted (OpenPGP)" in dialog.question
        await pilot.press("y")
        await wait_until(pilot, lambda: not isinstance(app.screen, ComposeScreen), timeout=60)
    arrived: list[bytes] = []
    for _ in range(100):  # the sandbox delivers in the background
        arrived = _raw_of(friend, "INBOX")
        if arrived:
            break
        time.sleep(0.1)
    (wire,) = arrived
    assert b"multipart/encrypted" in wire and b"Meet at noon" not in wire
    assert b"Sealed plans" not in wire  # the Subject travels inside (protected headers)
    (sent,) = _raw_of(mail_user, "Sent")
    assert b"multipart/encrypted" in sent and b"Meet at noon" not in sent

    reader = _app(friend, tmp_path / "b")
    async with reader.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: list_filled(reader))
        await pilot.press("g", "enter")
        viewer = reader.screen.query_one(MessageView)
        await wait_until(pilot, lambda: viewer.rendered is not None, timeout=30)
        rendered = viewer.rendered
        assert rendered is not None
        assert "Meet at noon." in rendered.body
        assert rendered.subject == "Sealed plans"
        summaries = [s.summary for s in rendered.crypto]
        assert summaries[0].startswith("OpenPGP: decrypted"), summaries
        assert "good signature by <" + mail_user.address + ">" in summaries[1], summaries
        badge = str(viewer.query_one("#mv-check", Static).render())
        assert "decrypted" in badge and "good signature" in badge, badge
        # A reply quotes the decrypted text and is encrypted too.
        await pilot.press("r")
        reply = await wait_until(
            pilot, lambda: isinstance(reader.screen, ComposeScreen) and reader.screen
        )
        assert "> Meet at noon." in reply.query_one("#body").text
        assert reply.draft.pgp_encrypt
        assert "encrypt" in str(reply.query_one("#pgp", Static).render())


async def test_recipient_without_key_is_refused_by_name(
    gpg_keyring: Keyring, sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    _key_for(gpg_keyring, mail_user.address)
    app = _app(mail_user, tmp_path / "a", pgp_sign=True)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_compose(pilot, app)
        assert "sign" in str(screen.query_one("#pgp", Static).render())  # the identity's default
        screen.query_one("#to").value = "nokey@localhost"
        screen.query_one("#subject").value = "no key"
        screen.query_one("#body").text = "secret\n"
        await pilot.press("ctrl+g")  # sign -> sign + encrypt
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        error = screen.query_one("#compose-error", Static)
        await wait_until(pilot, lambda: "nokey@localhost" in str(error.render()), timeout=30)
        assert isinstance(app.screen, ComposeScreen)  # kept, nothing sent
        assert screen.query_one("#body").text == "secret\n"
    assert fetch_inbox(mail_user, "no") == []


async def test_fetch_unknown_key_asks_then_verifies(
    sandbox: Any, mail_user: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ctrl+k on a signature by an unknown key: the question first (Esc runs nothing), then
    `y` runs the user's gpg (a fake one that imports from a file) and the badge says good."""
    from app.crypto.engine import Engine
    from app.crypto.view import set_default_engine
    from tests.gpg_keys import cleanup, key_fetch_setup

    setup = key_fetch_setup(tmp_path)
    monkeypatch.setenv("GNUPGHOME", str(setup.user_home))
    set_default_engine(Engine(binary=str(setup.fake_gpg)))
    conn = imap(mail_user)
    conn.append("INBOX", None, None, setup.message)
    conn.logout()
    try:
        app = _app(mail_user, tmp_path / "a")
        async with app.run_test(size=(140, 40)) as pilot:
            await wait_until(pilot, lambda: list_filled(app))
            await pilot.press("enter")
            viewer = app.screen.query_one(MessageView)
            badge = viewer.query_one("#mv-check", Static)
            await wait_until(pilot, lambda: "not in your keyring" in str(badge.render()))
            await pilot.press("ctrl+k")
            dialog = await wait_until(
                pilot, lambda: isinstance(app.screen, ConfirmDialog) and app.screen
            )
            assert f"Fetch key {setup.fingerprint} with your gpg" in dialog.question
            assert "--recv-keys" in dialog.question
            await pilot.press("escape")
            await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmDialog))
            await pilot.pause(0.2)
            assert not any("--recv-keys" in line for line in setup.logged())
            assert "not in your keyring" in str(badge.render())
            await pilot.press("ctrl+k")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            await pilot.press("y")
            await wait_until(pilot, lambda: "good signature by Signer" in str(badge.render()))
            recv = [line for line in setup.logged() if "--recv-keys" in line]
            assert recv and recv[0].endswith(f"--recv-keys -- {setup.fingerprint}")
            # Asked again with nothing unknown left: a word, no question, nothing run.
            await pilot.press("ctrl+k")
            await pilot.pause(0.2)
            assert not isinstance(app.screen, ConfirmDialog)
            assert len([line for line in setup.logged() if "--recv-keys" in line]) == 1
    finally:
        set_default_engine(None)
        cleanup(Keyring(setup.user_home))


async def test_encrypted_draft_postponed_sealed_and_resumed(
    gpg_keyring: Keyring, sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    """A draft marked encrypt goes to the server's Drafts encrypted to the sender (no text,
    no Subject readable there) and comes back readable, still marked sign + encrypt."""
    _key_for(gpg_keyring, mail_user.address)
    app = _app(mail_user, tmp_path / "a")
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_connected(pilot, app)
        main = app.screen
        screen = await open_compose(pilot, app)
        screen.query_one("#to").value = "someone@localhost"
        screen.query_one("#subject").value = "Unfinished secret"
        screen.query_one("#body").text = "Half a plan.\n"
        await pilot.press("ctrl+g", "ctrl+g")  # sign + encrypt
        await pilot.press("ctrl+d")
        await wait_until(pilot, lambda: app.screen is main, timeout=30)
        (stored,) = _raw_of(mail_user, "Drafts")
        assert b"multipart/encrypted" in stored
        assert b"Half a plan" not in stored and b"Unfinished secret" not in stored
        main.open_folder(main.account.folder("Drafts"))
        ml = main.message_list
        await wait_until(
            pilot, lambda: main.account.current.folder.name == "Drafts" and ml.row_count == 1
        )
        ml.focus()
        await pilot.press("g", "enter")
        resumed = await wait_until(
            pilot,
            lambda: isinstance(app.screen, ComposeScreen) and app.screen.is_mounted and app.screen,
        )
        assert resumed.query_one("#subject").value == "Unfinished secret"
        assert "Half a plan." in resumed.query_one("#body").text
        assert resumed.draft.pgp_encrypt and resumed.draft.pgp_sign


async def test_encrypted_draft_without_own_key_asks_before_readable(
    gpg_keyring: Keyring, sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    user = sandbox.add_user(mail_user.name + "n")  # no key of this user's in the keyring
    app = _app(user, tmp_path / "a")
    async with app.run_test(size=(140, 40)) as pilot:
        main = app.screen
        screen = await open_compose(pilot, app)
        screen.query_one("#to").value = "someone@localhost"
        screen.query_one("#subject").value = "Readable?"
        screen.query_one("#body").text = "Plain words.\n"
        await pilot.press("ctrl+g", "ctrl+g", "ctrl+g")  # encrypt
        await pilot.press("ctrl+d")
        dialog = await wait_until(
            pilot, lambda: isinstance(app.screen, ConfirmDialog) and app.screen, timeout=30
        )
        assert "READABLE" in dialog.question and user.address in dialog.question
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, ComposeScreen))
        assert _raw_of(user, "Drafts") == []  # nothing stored
        await pilot.press("ctrl+d")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog), timeout=30)
        await pilot.press("y")
        await wait_until(pilot, lambda: app.screen is main, timeout=30)
        (stored,) = _raw_of(user, "Drafts")
        assert b"Plain words." in stored
