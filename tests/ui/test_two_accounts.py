"""Two sandbox accounts in one TOML config file, both usable from the UI (issue 5)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.config.accounts import accounts_from_config
from app.config.model import load_config
from app.main import TermailApp
from tests.ui.test_app_sandbox import list_filled, message_list, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.ui]


def account_block(name: str, user: Any, sandbox: Any, default: bool) -> str:
    return f"""
[accounts.{name}]
address = "{user.address}"
display_name = "{name.capitalize()} Person"

[accounts.{name}.imap]
host = "127.0.0.1"
port = {sandbox.imaps_port}
tls = "implicit"
user = "{user.name}"
ca_file = "{sandbox.ca_file}"
password_command = "printf %s '{user.password}'"

[accounts.{name}.smtp]
host = "127.0.0.1"
port = {sandbox.smtp_port}
tls = "starttls"
user = "{user.name}"
ca_file = "{sandbox.ca_file}"
password_command = "printf %s '{user.password}'"
"""


async def test_two_accounts_from_one_config(sandbox: Any, mail_user: Any, tmp_path: Path) -> None:
    other = sandbox.add_user(mail_user.name + "b")
    sandbox.deliver(mail_user.name, b"Subject: for the first account\r\nFrom: a@b.c\r\n\r\nx\r\n")
    for n in range(3):
        sandbox.deliver(other.name, f"Subject: second {n}\r\nFrom: a@b.c\r\n\r\nx\r\n".encode())
    config_path = tmp_path / "config.toml"
    config_path.write_text(
        'default_account = "work"\n'
        + '[ui]\nprefer_html = true\nfolder_pane_width = 20\ndate_format = "%d.%m.%Y"\n'
        + '[keys]\n"msg.flag" = "x"\n'
        + account_block("work", mail_user, sandbox, True)
        + account_block("home", other, sandbox, False)
    )
    config_path.chmod(0o600)
    config = load_config(config_path)
    accounts = accounts_from_config(config)
    assert [a.name for a in accounts] == ["work", "home"]
    app = TermailApp(accounts, ui=config.ui, keymap=dict(config.keys))
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        assert message_list(app).row_count == 1
        screen: Any = app.screen
        assert screen.prefer_html is True
        assert screen.folder_tree.size.width == 20
        assert message_list(app).date_formats[2] == "%d.%m.%Y"
        # The keymap from the config: "x" flags now.
        message_list(app).focus()
        uid = message_list(app).cursor_uid
        await pilot.press("x")
        await wait_until(pilot, lambda: message_list(app).summary(uid).flagged)
        await pilot.press("ctrl+a")
        await wait_until(pilot, lambda: list_filled(app) and message_list(app).row_count == 3)
        assert app.sub_title == "home"
        await pilot.press("ctrl+a")
        await wait_until(
            pilot, lambda: app.sub_title == "work" and message_list(app).row_count == 1
        )


async def test_crash_report_shows_no_secret(sandbox: Any, mail_user: Any, capfd: Any) -> None:
    """Textual prints locals in its crash report; termail's must not (a password is a local)."""
    from app.account import Account
    from app.models import TlsMode

    secret = "pw-that-must-not-show-4711"

    class Boom(TermailApp):
        def on_mount(self) -> None:
            password = secret
            raise RuntimeError(f"crash with a local of length {len(password)}")

    account = Account(
        mail_user.name, mail_user.imap_settings(TlsMode.IMPLICIT), mail_user.credentials
    )
    app = Boom([account])
    with pytest.raises(RuntimeError):
        async with app.run_test() as pilot:
            await pilot.pause()
    out, err = capfd.readouterr()
    assert "crash with a local of length" in out + err
    assert secret not in out + err
