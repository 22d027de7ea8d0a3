"""The TOML configuration: loading, defaults, every error class, paths, `config init`."""

from __future__ import annotations

import io
import os
import ssl
import stat
import subprocess
import sys
import textwrap
import tomllib
import types
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app import paths
from app.config.commands import config_check, config_init
from app.config.model import (
    AccountConfig,
    Config,
    ConfigError,
    Identity,
    UiSettings,
    config_from_dict,
    index_key_lines,
    load_config,
)
from app.models import Credentials, ServerSettings, TlsMode

DATA = Path(__file__).resolve().parent.parent / "data" / "config"
ROOT = Path(__file__).resolve().parents[2]

MINIMAL = """\
[accounts.home]
address = "ada@example.com"

[accounts.home.imap]
host = "imap.example.com"

[accounts.home.smtp]
host = "smtp.example.com"
"""


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    path.chmod(0o600)
    return path


def load_text(tmp_path: Path, text: str) -> Config:
    return load_config(write(tmp_path, text))


# -- loading and defaults -----------------------------------------------------------------------


def test_minimal_config_gets_working_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", "nano")
    config = load_config(DATA / "minimal.toml")
    assert list(config.accounts) == ["home"]
    account = config.default_account
    assert account.name == "home"
    assert account.identities == [Identity(name="", address="ada@example.com")]
    imap = account.imap_settings()
    assert imap == ServerSettings(
        host="imap.example.com", port=993, user="ada@example.com", tls=TlsMode.IMPLICIT
    )
    smtp = account.smtp_settings()
    assert (smtp.host, smtp.port, smtp.tls, smtp.user) == (
        "smtp.example.com",
        465,
        TlsMode.IMPLICIT,
        "ada@example.com",
    )
    assert not imap.allow_insecure and imap.auth == "auto"
    assert account.imap.keyring == "home"  # the default keyring entry is the account name
    assert account.smtp.inherits_credentials
    assert account.folders == {}
    assert config.keys == {}
    assert config.ui == UiSettings(editor="nano")
    assert config.ui.mark_read_delay == 0.0 and config.ui.prefer_html is False
    assert config.source == DATA / "minimal.toml"


def test_editor_defaults_to_visual_then_editor_then_vi(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VISUAL", "code --wait")
    monkeypatch.setenv("EDITOR", "nano")
    assert UiSettings().editor == "code --wait"
    monkeypatch.delenv("VISUAL")
    assert UiSettings().editor == "nano"
    monkeypatch.delenv("EDITOR")
    assert UiSettings().editor == "vi"


def test_full_config_two_accounts_in_file_order() -> None:
    config = load_config(DATA / "full.toml")
    assert list(config.accounts) == ["personal", "work"]
    assert config.default_account.name == "work"

    personal = config.accounts["personal"]
    assert personal.identities[0].name == "Ada"
    assert personal.identities[0].signature == "-- \nAda, at home"  # from signature_file
    assert personal.imap_settings().tls is TlsMode.STARTTLS  # inferred from port 143
    assert personal.smtp_settings().tls is TlsMode.STARTTLS  # inferred from port 587
    assert personal.imap.keyring is None and personal.imap.password_env == "TERMAIL_TEST_PERSONAL"
    assert personal.smtp.password_env == "TERMAIL_TEST_PERSONAL"  # inherited

    work = config.accounts["work"]
    assert [i.address for i in work.identities] == ["ada@work.example", "support@work.example"]
    assert work.identities[0].signature.startswith("-- \nAda Lovelace")
    imap = work.imap_settings()
    assert imap.user == "ada" and imap.port == 993 and imap.timeout == 20.0
    assert imap.ca_file == str(DATA / "ca.pem")  # relative to the config file
    assert work.imap.password_command == "pass show mail/work"
    assert work.imap.command_timeout == 10.0
    smtp = work.smtp_settings()
    assert smtp.auth == "xoauth2"  # implied by oauth2_token_command
    assert smtp.user == "ada"  # the IMAP user
    assert not work.smtp.inherits_credentials and work.smtp.keyring == "work-smtp"
    assert work.folders == {
        "sent": "Sent Items",
        "trash": "Deleted Items",
        "archive": "Archive/2024",
    }

    ui = config.ui
    assert ui.theme == "nord" and ui.mark_read_delay == 1.5 and ui.prefer_html
    assert ui.date_format == "%d.%m.%Y" and ui.date_format_today == "%H:%M"
    assert (ui.folder_pane_width, ui.message_list_height) == (32, 50)
    assert ui.editor == "nvim -c 'set tw=72'"
    assert config.keys == {"app.quit": "ctrl+q", "message.reply": "r,R"}


def test_reply_from_chooses_the_identity() -> None:
    work = load_config(DATA / "full.toml").accounts["work"]
    main, support = work.identities
    assert work.identity_for(["someone@else.example"]) is main
    assert work.identity_for(["Support@Work.Example"]) is support
    assert work.identity_for(["support+billing@work.example"]) is support
    assert (
        work.identity_for(["x@help.work.example", "ada@work.example"]) is main
    )  # own address wins
    assert work.identity_for([]) is main
    assert support.matches("ANY@HELP.WORK.EXAMPLE")
    assert not support.matches("")
    assert main.formatted == "Ada Lovelace <ada@work.example>"


def test_accounts_built_from_config_carry_every_identity() -> None:
    from app.config.accounts import accounts_from_config

    config = load_config(DATA / "full.toml")
    account = accounts_from_config(config, "work")[0]
    main, support = config.accounts["work"].identities
    assert account.identities == [main, support]
    assert account.identity_for(["support+billing@work.example"]) == support
    assert account.identity_for(["stranger@else.example"]) == main


def test_account_in_code_gets_one_identity_per_address() -> None:
    from app.account import Account

    account = Account(
        "x",
        ServerSettings(host="h", port=993, user="u"),
        lambda: None,
        addresses=["a@x.example", "b@x.example"],
        display_name="Ada",
        signature="sig",
    )
    first, second = account.identities
    assert (first.name, first.address, first.signature) == ("Ada", "a@x.example", "sig")
    assert (second.address, second.signature) == ("b@x.example", "")
    assert account.identity_for(["B@x.example"]) == second
    assert (
        Account("y", ServerSettings(host="h", port=993, user="u"), lambda: None).identity_for(
            ["a@x.example"]
        )
        is None
    )


def test_tunnel_account_needs_no_host() -> None:
    account = load_config(DATA / "tunnel.toml").default_account
    imap = account.imap_settings()
    assert imap.tunnel == "ssh mailhost /usr/lib/dovecot/imap"
    assert imap.tls is TlsMode.NONE and imap.host == "" and imap.port == 0
    assert account.smtp_settings().port == 587


def test_compress_is_on_by_default_and_can_be_turned_off(tmp_path: Path) -> None:
    assert load_text(tmp_path, base()).default_account.imap_settings().compress is True
    account = load_text(tmp_path, base(imap="compress = false")).default_account
    assert account.imap_settings().compress is False
    with pytest.raises(ConfigError, match="compress"):
        load_text(tmp_path, base(smtp="compress = false"))  # SMTP has no COMPRESS


def test_tls_and_port_inference(tmp_path: Path) -> None:
    config = load_text(
        tmp_path,
        """\
        [accounts.a]
        address = "a@example.com"
        [accounts.a.imap]
        host = "h"
        tls = "starttls"
        [accounts.a.smtp]
        host = "h"
        tls = "none"
        allow_insecure = true
        """,
    )
    account = config.default_account
    assert (account.imap_settings().port, account.imap_settings().tls) == (143, TlsMode.STARTTLS)
    assert (account.smtp_settings().port, account.smtp_settings().allow_insecure) == (25, True)


def test_oauth2_and_xoauth2_auth(tmp_path: Path) -> None:
    config = load_text(
        tmp_path,
        """\
        [accounts.g]
        address = "a@example.com"
        [accounts.g.imap]
        host = "imap.gmail.com"
        oauth2_token_command = "oama access a@example.com"
        [accounts.g.smtp]
        host = "smtp.gmail.com"
        """,
    )
    account = config.default_account
    assert account.imap_settings().auth == "xoauth2"
    assert account.smtp_settings().auth == "xoauth2"  # inherits the token source and its auth


def test_two_sandbox_like_accounts_load_together(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    config = load_text(
        tmp_path,
        f"""\
        [accounts.alice]
        address = "alice@localhost"
        [accounts.alice.imap]
        host = "127.0.0.1"
        port = 10143
        tls = "starttls"
        user = "alice"
        ca_file = "{ca}"
        password_env = "ALICE_PW"
        [accounts.alice.smtp]
        host = "127.0.0.1"
        port = 10587
        tls = "starttls"
        [accounts.bob]
        address = "bob@localhost"
        [accounts.bob.imap]
        host = "127.0.0.1"
        port = 10993
        user = "bob"
        ca_file = "ca.pem"
        password_command = "printf bob"
        [accounts.bob.smtp]
        host = "localhost"
        port = 10465
        """,
    )
    assert list(config.accounts) == ["alice", "bob"]
    assert config.accounts["alice"].imap_settings().tls is TlsMode.STARTTLS
    assert config.accounts["bob"].imap_settings().tls is TlsMode.IMPLICIT
    assert config.accounts["bob"].smtp_settings().ca_file is None
    assert config.accounts["bob"].imap_settings().ca_file == str(ca)


def test_in_memory_account_for_the_demo() -> None:
    imap = ServerSettings(host="127.0.0.1", port=1993, user="demo", ca_file="/x/ca.pem")
    smtp = ServerSettings(host="127.0.0.1", port=1587, user="demo", tls=TlsMode.STARTTLS)
    account = AccountConfig.in_memory(
        "demo",
        imap,
        smtp,
        Credentials("demo", "s3cret-demo"),
        identities=[Identity("Demo User", "demo@localhost")],
    )
    assert account.imap_settings() == imap
    assert account.smtp_settings() == smtp
    config = Config(accounts={"demo": account})
    assert config.default_account is account
    assert "s3cret-demo" not in repr(config) and "s3cret-demo" not in str(account)
    with pytest.raises(ConfigError):
        Config(accounts={})
    with pytest.raises(ConfigError, match="default_account"):
        Config(accounts={"demo": account}, default_account_name="nope")
    with pytest.raises(ConfigError):
        AccountConfig.in_memory("bad/name", imap, smtp, None)


def test_the_config_init_template_is_a_valid_config(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "config.toml"
    argv = ["--config", str(target), "--address", "ada@example.com", "--name", 'Ada "Q" L']
    assert config_init(argv, interactive=False) == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    config = load_config(target)
    account = config.accounts["example"]
    assert account.identities[0].name == 'Ada "Q" L'
    assert account.imap_settings().host == "imap.example.com"
    assert account.smtp_settings().host == "smtp.example.com"
    assert account.imap.password_command is None


# -- errors -------------------------------------------------------------------------------------

BASE = """\
[accounts.work]
address = "ada@example.com"

[accounts.work.imap]
host = "imap.example.com"
{imap}
[accounts.work.smtp]
host = "smtp.example.com"
{smtp}
{extra}"""


def base(imap: str = "", smtp: str = "", extra: str = "") -> str:
    return BASE.format(imap=imap, smtp=smtp, extra=extra)


ERROR_CASES: list[tuple[str, str, str | None, int | None, str]] = [
    # (id, text, key, line, message fragment)
    (
        "unknown key with suggestion",
        base(imap='hots = "x"'),
        "accounts.work.imap.hots",
        6,
        'did you mean "host"',
    ),
    ("unknown top-level key", "colour = 1\n" + base(), "colour", 1, "unknown key"),
    (
        "unknown ui key",
        base(extra="[ui]\nthem = 'x'\n"),
        "ui.them",
        11,
        'did you mean "theme"',
    ),
    (
        "wrong type",
        base(imap='port = "993"'),
        "accounts.work.imap.port",
        6,
        "expected an integer from 1 to 65535, got a string",
    ),
    ("port out of range", base(imap="port = 70000"), "accounts.work.imap.port", 6, "from 1 to"),
    ("bad tls", base(smtp='tls = "ssl"'), "accounts.work.smtp.tls", 9, '"implicit"'),
    (
        "wrong bool",
        base(imap='allow_insecure = "yes"'),
        "accounts.work.imap.allow_insecure",
        6,
        "true or false",
    ),
    (
        "tls none refused",
        base(imap='tls = "none"'),
        "accounts.work.imap.tls",
        6,
        "allow_insecure",
    ),
    (
        "missing host",
        '[accounts.w]\naddress = "a@b.c"\n[accounts.w.imap]\nport = 993\n[accounts.w.smtp]\nhost = "h"\n',
        "accounts.w.imap.host",
        3,
        "missing",
    ),
    (
        "missing smtp",
        '[accounts.w]\naddress = "a@b.c"\n[accounts.w.imap]\nhost = "h"\n',
        "accounts.w.smtp",
        1,
        "missing",
    ),
    (
        "missing identity",
        '[accounts.w]\n[accounts.w.imap]\nhost = "h"\n[accounts.w.smtp]\nhost = "h"\n',
        "accounts.w.identities",
        1,
        "missing",
    ),
    ("no accounts", "[ui]\ntheme = 'x'\n", "accounts", None, "[accounts.NAME]"),
    (
        "unknown default account",
        'default_account = "nope"\n' + base(),
        "default_account",
        1,
        "expected one of the account names: work",
    ),
    (
        "bad address in second identity",
        '[accounts.w]\n[[accounts.w.identities]]\naddress = "a@b.c"\n'
        '[[accounts.w.identities]]\nname = "X"\naddress = "X <x@b.c>"\n'
        '[accounts.w.imap]\nhost = "h"\n[accounts.w.smtp]\nhost = "h"\n',
        "accounts.w.identities[1].address",
        6,
        "bare address",
    ),
    (
        "identities and address together",
        '[accounts.w]\naddress = "a@b.c"\n[[accounts.w.identities]]\naddress = "a@b.c"\n'
        '[accounts.w.imap]\nhost = "h"\n[accounts.w.smtp]\nhost = "h"\n',
        "accounts.w.address",
        2,
        "not both",
    ),
    (
        "ui wrong type",
        base(extra="[ui]\nmark_read_delay = '2'\n"),
        "ui.mark_read_delay",
        11,
        "number",
    ),
    (
        "ui out of range",
        base(extra="[ui]\nfolder_pane_width = 2\n"),
        "ui.folder_pane_width",
        11,
        "from 10",
    ),
    (
        "key binding not a string",
        base(extra="[keys]\n'app.quit' = 1\n"),
        'keys."app.quit"',
        11,
        "expected a key",
    ),
    ("bad binding id", base(extra="[keys]\n'a b' = 'x'\n"), 'keys."a b"', 11, "binding id"),
    (
        "unknown folder role",
        base(extra="[accounts.work.folders]\nsnt = 'Sent'\n"),
        "accounts.work.folders.snt",
        11,
        'did you mean "sent"',
    ),
    (
        "two secret commands",
        base(imap='password_command = "a"\noauth2_token_command = "b"'),
        "accounts.work.imap.oauth2_token_command",
        7,
        "not both",
    ),
    (
        "xoauth2 with password_command",
        base(imap='password_command = "a"\nauth = "xoauth2"'),
        "accounts.work.imap.auth",
        7,
        "token",
    ),
    (
        "bad env name",
        base(imap='password_env = "MY-PW"'),
        "accounts.work.imap.password_env",
        6,
        "environment variable",
    ),
    (
        "missing ca_file",
        base(imap='ca_file = "/nonexistent/ca.pem"'),
        "accounts.work.imap.ca_file",
        6,
        "existing file",
    ),
    (
        "ca_file of unknown user",
        base(imap='ca_file = "~nosuchuser4242/ca.pem"'),
        "accounts.work.imap.ca_file",
        6,
        "existing file",
    ),
    (
        "ca_file name too long",
        base(imap=f'ca_file = "{"x" * 5000}"'),
        "accounts.work.imap.ca_file",
        6,
        "existing file",
    ),
    ("smtp tunnel", base(smtp='tunnel = "ssh x"'), "accounts.work.smtp.tunnel", 9, "IMAP only"),
    (
        "tunnel with tls",
        base(imap='tunnel = "ssh x"\ntls = "implicit"'),
        "accounts.work.imap.tls",
        7,
        "tunnel",
    ),
    (
        "host with scheme",
        '[accounts.w]\naddress = "a@b.c"\n[accounts.w.imap]\nhost = "imaps://h"\n[accounts.w.smtp]\nhost = "h"\n',
        "accounts.w.imap.host",
        4,
        "without a scheme",
    ),
    (
        "bad account name",
        '[accounts."my mail"]\naddress = "a@b.c"\n',
        'accounts."my mail"',
        1,
        "account name",
    ),
    (
        "account not a table",
        "accounts.w = 3\n",
        "accounts.w",
        1,
        "expected a table, got an integer",
    ),
    (
        "bad date format type",
        base(extra="[ui]\ndate_format = 5\n"),
        "ui.date_format",
        11,
        "expected a string",
    ),
    ("keyring wrong type", base(imap="keyring = 3"), "accounts.work.imap.keyring", 6, "entry name"),
    (
        "reply_from wrong item",
        '[accounts.w]\naddress = "a@b.c"\nreply_from = ["x", 2]\n',
        "accounts.w.reply_from[1]",
        3,
        "non-empty string",
    ),
    (
        "missing signature file",
        '[accounts.w]\naddress = "a@b.c"\nsignature_file = "nope.txt"\n',
        "accounts.w.signature_file",
        3,
        "readable file",
    ),
]


@pytest.mark.parametrize(
    ("text", "key", "line", "fragment"),
    [case[1:] for case in ERROR_CASES],
    ids=[case[0] for case in ERROR_CASES],
)
def test_errors_name_file_line_key_and_expectation(
    tmp_path: Path, text: str, key: str | None, line: int | None, fragment: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    err = info.value
    assert err.source == str(path)
    assert err.key == key
    assert err.line == line
    assert fragment in err.message
    expected_where = f"{path}:{line}" if line else str(path)
    assert str(err).startswith(f"{expected_where}: {key}: ")


def test_bad_toml_reports_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(DATA / "bad_syntax.toml")
    assert info.value.line == 6
    assert info.value.key is None
    assert "invalid TOML" in info.value.message
    assert str(info.value).startswith(f"{DATA / 'bad_syntax.toml'}:6: invalid TOML")
    path = write(tmp_path, 'a = "x"\nb = "y"\na = "z"\n')
    with pytest.raises(ConfigError, match=r":3: invalid TOML"):
        load_config(path)


def test_password_in_file_is_refused_with_how_to_move_it() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(DATA / "password_in_file.toml")
    err = info.value
    assert err.key == "accounts.home.imap.password"
    assert err.line == 7
    assert 'password_command = "pass show mail/home"' in err.message
    assert "keyring set termail home" in err.message
    assert "password_env" in err.message
    assert "correct horse" not in str(err) and "correct horse" not in repr(err)


def test_password_at_account_level_is_refused_too(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="password_command") as info:
        load_text(tmp_path, '[accounts.w]\naddress = "a@b.c"\npassword = "hunter2"\n')
    assert "hunter2" not in str(info.value)


def test_errors_never_quote_values(tmp_path: Path) -> None:
    """A secret typed under a wrong or misspelled key must not be echoed back."""
    for snippet in (
        'pasword = "hunter2"',
        "port = 'hunter2'",
        'tls = "hunter2"',
        "user = 'hunter2'\nuser2 = 1",
    ):
        path = write(tmp_path, base(imap=snippet))
        with pytest.raises(ConfigError) as info:
            load_config(path)
        assert "hunter2" not in str(info.value), snippet


def test_missing_unreadable_and_non_utf8_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path)
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b"# ok\n# caf\xe9\n[accounts.w]\n")
    with pytest.raises(ConfigError) as info:
        load_config(bad)
    assert info.value.line == 2 and "UTF-8" in info.value.message


def test_world_writable_config_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    path.chmod(0o666)
    with pytest.raises(ConfigError, match="chmod o-w"):
        load_config(path)
    path.chmod(0o644)
    assert load_config(path).default_account.name == "home"


def test_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode())
    assert load_config(path).default_account.name == "home"


def test_config_from_dict_without_text_has_no_line() -> None:
    with pytest.raises(ConfigError) as info:
        config_from_dict({"accounts": {"a": {"address": 5}}}, "<demo>")
    assert str(info.value) == "<demo>: accounts.a.address: expected a string, got an integer"
    with pytest.raises(ConfigError, match="top level"):
        config_from_dict([], "<x>")  # type: ignore[arg-type]


def test_index_key_lines_follows_tables_arrays_and_multiline_strings() -> None:
    text = textwrap.dedent(
        '''\
        top = 1
        [a."b.c"]
        x = """
        y = 2
        """
        z.w = 3
        [[arr]]
        k = 1
        [[arr]]
        'k' = 2
        [arr.sub]
        m = 1
        '''
    )
    index = index_key_lines(text)
    assert index[("top",)] == 1
    assert index[("a", "b.c")] == 2
    assert index[("a", "b.c", "x")] == 3
    assert ("a", "b.c", "y") not in index  # inside the multi-line string
    assert index[("a", "b.c", "z", "w")] == 6
    assert index[("arr", 0, "k")] == 8
    assert index[("arr", 1, "k")] == 10
    assert index[("arr", 1, "sub", "m")] == 12


# -- untrusted input: only ConfigError, whatever the data ---------------------------------------

toml_scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True),
    st.text(max_size=20),
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
KEYS = [
    "host", "port", "tls", "user", "ca_file", "tunnel", "allow_insecure", "auth", "timeout",
    "password_command", "oauth2_token_command", "password_env", "keyring", "command_timeout",
    "address", "display_name", "signature", "reply_from", "identities", "folders", "sent",
    "theme", "mark_read_delay", "editor", "folder_pane_width", "date_format", "password",
]  # fmt: skip


def _valid() -> dict[str, Any]:
    return tomllib.loads(MINIMAL + "[ui]\ntheme = 'x'\n[keys]\n'app.quit' = 'q'\n")


@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                [
                    (),
                    ("accounts",),
                    ("accounts", "home"),
                    ("accounts", "home", "imap"),
                    ("accounts", "home", "smtp"),
                    ("ui",),
                    ("keys",),
                ]
            ),
            st.sampled_from(KEYS) | st.text(max_size=6),
            toml_values,
        ),
        max_size=4,
    )
)
def test_fuzz_mutated_configs_raise_only_config_error(
    mutations: list[tuple[tuple[str, ...], str, Any]],
) -> None:
    data = _valid()
    for where, key, value in mutations:
        node: Any = data
        for part in where:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node[key] = value
    try:
        config = config_from_dict(data, "<fuzz>")
    except ConfigError as exc:
        assert str(exc).startswith("<fuzz>")
    else:
        assert config.default_account.identities


@given(toml_values)
def test_fuzz_any_document_raises_only_config_error(data: Any) -> None:
    try:
        config_from_dict(data, "<fuzz>")
    except ConfigError:
        pass


# -- paths --------------------------------------------------------------------------------------


def test_config_path_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("TERMAIL_CONFIG", raising=False)
    assert paths.config_path() == tmp_path / "xdg" / "termail" / "config.toml"
    assert paths.config_path_is_default(None)
    monkeypatch.setenv("TERMAIL_CONFIG", str(tmp_path / "env.toml"))
    assert paths.config_path() == tmp_path / "env.toml"
    assert not paths.config_path_is_default(None)
    assert paths.config_path(tmp_path / "flag.toml") == tmp_path / "flag.toml"
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/ignored")
    monkeypatch.delenv("TERMAIL_CONFIG")
    assert paths.config_path().is_absolute()


def test_data_and_cache_dirs_follow_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert paths.data_dir() == tmp_path / "data" / "termail"
    assert paths.cache_dir() == tmp_path / "cache" / "termail"
    assert paths.account_data_dir("work") == tmp_path / "data" / "termail" / "accounts" / "work"


# -- the CLI entry: exit 2 without a traceback --------------------------------------------------


def _run_load_or_exit(arg: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys; from pathlib import Path; from app.config.model import load_or_exit; "
        f"c = load_or_exit({arg}); print('loaded', c.default_account.name)"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_load_or_exit_prints_the_error_and_exits_2(tmp_path: Path) -> None:
    path = write(tmp_path, base(imap='port = "x"'))
    proc = _run_load_or_exit(f"Path({str(path)!r})", {})
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert f"{path}:6: accounts.work.imap.port: expected an integer" in proc.stderr
    assert proc.stdout == ""


def test_load_or_exit_loads_a_good_config(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL)
    proc = _run_load_or_exit("None", {"TERMAIL_CONFIG": str(path)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "loaded home"


def test_first_run_says_how_to_create_a_config_and_try_the_demo(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path), "TERMAIL_CONFIG": ""}
    proc = _run_load_or_exit("None", env)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "termail config init" in proc.stderr and "termail demo" in proc.stderr
    assert str(tmp_path / "termail" / "config.toml") in proc.stderr


def test_missing_explicit_config_is_an_error(tmp_path: Path) -> None:
    proc = _run_load_or_exit(f"Path({str(tmp_path / 'nope.toml')!r})", {})
    assert proc.returncode == 2
    assert "no such file" in proc.stderr and "termail config init --config" in proc.stderr
    assert "Traceback" not in proc.stderr


# -- config init / check (offline) --------------------------------------------------------------


def test_config_init_refuses_to_clobber(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "# mine\n")
    argv = ["--config", str(path), "--address", "a@example.com"]
    assert config_init(argv, interactive=False) == 1
    assert path.read_text() == "# mine\n"
    assert "not overwriting" in capsys.readouterr().err


def test_config_init_asks_on_a_terminal(tmp_path: Path) -> None:
    answers = iter(
        ["ada@example.org", "Ada", "", "starttls", "mail.example.org", "", "", "pass show x"]
    )
    asked: list[str] = []

    def ask(question: str) -> str:
        asked.append(question)
        return next(answers)

    target = tmp_path / "c.toml"
    assert config_init(["--config", str(target)], ask=ask, interactive=True) == 0
    assert asked[0].startswith("Your email address")
    assert any("[imap.example.org]" in q for q in asked)
    account = load_config(target).accounts["example"]
    assert account.identities[0].name == "Ada"
    assert account.imap_settings().host == "imap.example.org"
    assert (account.imap_settings().tls, account.imap_settings().port) == (TlsMode.STARTTLS, 143)
    assert account.smtp_settings().host == "mail.example.org"
    assert account.imap.password_command == "pass show x"


def test_config_init_takes_flags(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    target = tmp_path / "c.toml"
    argv = [
        "--config", str(target), "--account", "work", "--address", "a@w.example",
        "--imap-host", "127.0.0.1", "--imap-port", "1143", "--imap-tls", "starttls",
        "--smtp-host", "localhost", "--smtp-tls", "starttls", "--user", "a",
        "--password-command", "printf '%s' x", "--ca-file", str(ca),
    ]  # fmt: skip
    assert config_init(argv, interactive=False) == 0
    account = load_config(target).accounts["work"]
    imap = account.imap_settings()
    assert (imap.host, imap.port, imap.tls, imap.user, imap.ca_file) == (
        "127.0.0.1", 1143, TlsMode.STARTTLS, "a", str(ca),
    )  # fmt: skip
    assert account.smtp_settings().port == 587
    # --ca-file is the private CA of both servers (the SMTP login failed with "unable to get
    # local issuer certificate" when only [imap] got it)
    assert account.smtp_settings().ca_file == str(ca)
    assert account.imap.password_command == "printf '%s' x"


def test_config_init_without_terminal_needs_an_address(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "c.toml"
    assert config_init(["--config", str(target)], interactive=False) == 2
    assert "--address" in capsys.readouterr().err
    assert not target.exists()


def test_config_init_rejects_a_bad_address_and_cancels_on_eof(tmp_path: Path) -> None:
    target = tmp_path / "c.toml"
    assert config_init(["--config", str(target), "--address", "a b@c"], interactive=False) == 2
    assert not target.exists()

    def eof(question: str) -> str:
        raise EOFError

    assert config_init(["--config", str(target)], ask=eof, interactive=True) == 2
    assert not target.exists()


def test_config_check_offline_and_invalid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write(tmp_path, MINIMAL, "good.toml")
    assert config_check(["--config", str(good), "--offline"]) == 0
    assert "valid; 1 account(s): home" in capsys.readouterr().out
    bad = write(tmp_path, base(imap="port = 0"), "bad.toml")
    assert config_check(["--config", str(bad)]) == 2
    assert "accounts.work.imap.port" in capsys.readouterr().err
    assert config_check(["--config", str(good), "--account", "nope"]) == 2


def test_config_check_reports_each_login_and_redacts_server_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plumbing of `config check` with stand-in IMAP and SMTP logins (no network)."""
    from app.config import commands as config_commands

    secret = "pw-that-the-server-echoes"
    seen: list[tuple[str, Credentials | None]] = []

    class FakeImapClient:
        @classmethod
        async def connect(
            cls, settings: ServerSettings, creds: Credentials | None, **_: object
        ) -> FakeImapClient:
            seen.append((settings.host, creds))
            if settings.host == "bad.example":
                raise PermissionError(f"LOGIN failed for password {secret}")
            return cls()

        async def close(self) -> None:
            return None

    fake = types.ModuleType("app.imap.client")
    fake.ImapClient = FakeImapClient  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "app.imap.client", fake)

    async def fake_smtp(settings: ServerSettings, creds: Credentials) -> None:
        if settings.host == "bad.example":
            raise ssl.SSLCertVerificationError(1, "certificate verify failed")

    monkeypatch.setattr(config_commands, "check_smtp_login", fake_smtp)
    path = write(
        tmp_path,
        f"""\
        [accounts.good]
        address = "a@example.com"
        [accounts.good.imap]
        host = "good.example"
        password_command = "printf {secret}"
        keyring = false
        [accounts.good.smtp]
        host = "good.example"
        [accounts.bad]
        address = "b@example.com"
        [accounts.bad.imap]
        host = "bad.example"
        password_command = "printf {secret}"
        keyring = false
        [accounts.bad.smtp]
        host = "bad.example"
        [accounts.tun]
        address = "c@example.com"
        [accounts.tun.imap]
        tunnel = "true"
        [accounts.tun.smtp]
        host = "good.example"
        password_command = "exit 7"
        """,
    )
    out = io.StringIO()
    assert config_check(["--config", str(path)], out=out) == 1
    text = out.getvalue()
    assert "good: IMAP ok (a@example.com at good.example:993, implicit TLS)" in text
    assert "good: SMTP ok (a@example.com at good.example:465, implicit TLS)" in text
    assert "bad: IMAP FAILED (b@example.com at bad.example:993, implicit TLS): " in text
    assert "LOGIN failed for password <hidden>" in text
    assert "bad: SMTP FAILED" in text and "set ca_file" in text
    assert "tun: IMAP ok (tunnel command)" in text
    assert "tun: SMTP FAILED" in text and "status 7" in text
    assert "3 of 6 logins failed." in text
    assert secret not in text
    assert ("", None) in seen  # a tunnel logs in without credentials
    out = io.StringIO()
    assert config_check(["--config", str(path), "--account", "good"], out=out) == 0
    assert "All 2 logins work." in out.getvalue()


def test_reply_position_top_bottom_or_a_clear_error(tmp_path: Path) -> None:
    assert load_text(tmp_path, MINIMAL).ui.reply_position == "bottom"
    assert (
        load_text(tmp_path, MINIMAL + '[ui]\nreply_position = "Top"\n').ui.reply_position == "top"
    )
    with pytest.raises(ConfigError, match="reply_position"):
        load_text(tmp_path, MINIMAL + '[ui]\nreply_position = "sideways"\n')
