"""`termail serve`'s choices before any server starts: which hosts, which ports, which command."""

from __future__ import annotations

import shlex
import stat
import sys
from pathlib import Path

import pytest

from app.cli import main
from app.cli.serve import check_host, is_loopback, termail_command, url_host


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.8.9.10", "localhost", "LOCALHOST", "::1", "[::1]", " 127.0.0.1 "]
)
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)
    assert check_host(host, False, "termail serve") is None


@pytest.mark.parametrize(
    "host", ["0.0.0.0", "::", "10.0.0.1", "192.168.1.2", "example.org", "localhost.example",
             "127.0.0.1.nip.io", "2001:db8::1"],
)  # fmt: skip
def test_other_hosts_need_public(host: str) -> None:
    assert not is_loopback(host)
    refused = check_host(host, False, "termail serve")
    assert refused is not None and "--public" in refused and host in refused
    assert check_host(host, True, "termail serve") is None


def test_empty_host_is_refused_even_public() -> None:
    assert check_host("  ", True, "termail serve") == "termail serve: --host is empty"


def test_url_host_brackets_ipv6() -> None:
    assert url_host("::1") == "[::1]"
    assert url_host("[::1]") == "[::1]"
    assert url_host("127.0.0.1") == "127.0.0.1"


def test_the_command_is_this_termail_whatever_the_current_folder() -> None:
    """`-P`: an `app/` package in the folder termail serve was started from is not taken."""
    words = shlex.split(termail_command(["--config", "/a b/c.toml", "--account", "x'y"]))
    assert words == ["exec", sys.executable, "-P", "-m", "app.cli", "--config", "/a b/c.toml",
                     "--account", "x'y"]  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["serve", "--host", "0.0.0.0"], "is not a loopback address"),
        (["serve", "--demo", "--host", "192.168.0.1"], "is not a loopback address"),
        (["demo", "--serve", "--host", "10.1.1.1"], "is not a loopback address"),
        (["serve", "--demo", "--account", "work"], "--demo takes no --config or --account"),
    ],
)
def test_refused_before_anything_starts(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert said in capsys.readouterr().err


@pytest.mark.parametrize("port", ["abc", "-1", "65536", "99999"])
def test_bad_ports_are_refused(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["serve", "--port", port])
    assert exc.value.code == 2
    assert "--port" in capsys.readouterr().err


def test_unknown_account_is_refused(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    config = Path(str(tmp_path)) / "config.toml"
    config.write_text(
        'default_account = "a"\n[accounts.a]\naddress = "a@example.org"\n'
        '[accounts.a.imap]\nhost = "imap.example.org"\nuser = "a"\n'
        '[accounts.a.smtp]\nhost = "smtp.example.org"\nuser = "a"\n'
    )
    assert main(["serve", "--config", str(config), "--account", "nope"]) == 2
    assert "no account named 'nope'" in capsys.readouterr().err


def test_public_warns(capsys: pytest.CaptureFixture[str]) -> None:
    from app.cli.serve import warn_public

    warn_public("0.0.0.0", "termail serve")
    err = capsys.readouterr().err
    assert "WARNING" in err and "plain HTTP" in err and "0.0.0.0" in err


def _config(tmp_path: Path) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        'default_account = "a"\n[accounts.a]\naddress = "a@example.org"\n'
        '[accounts.a.imap]\nhost = "imap.example.org"\nuser = "a"\n'
        '[accounts.a.smtp]\nhost = "smtp.example.org"\nuser = "a"\n'
    )
    return config


def test_log_protocol_goes_on_to_each_tabs_termail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server speaks no IMAP: the termail each tab runs gets `--log-protocol FILE`, FILE
    absolute (the tab starts elsewhere), tried here first (created 0600)."""
    import app.cli.serve as serve_module

    ran: list[str] = []
    monkeypatch.setattr(serve_module, "serve", lambda command, **kw: ran.append(command) or 0)
    monkeypatch.chdir(tmp_path)
    config = _config(tmp_path)
    assert main(["serve", "--config", str(config), "--log-protocol", "dialogue.log"]) == 0
    words = shlex.split(ran[0])
    at = words.index("--log-protocol")
    assert words[at + 1] == str(tmp_path / "dialogue.log")
    assert words[words.index("-m") + 1] == "app.cli"  # the client, not `serve` again
    assert (tmp_path / "dialogue.log").exists()
    assert stat.S_IMODE((tmp_path / "dialogue.log").stat().st_mode) == 0o600


def test_log_protocol_that_cannot_be_written_is_told_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import app.cli.serve as serve_module

    ran: list[str] = []
    monkeypatch.setattr(serve_module, "serve", lambda command, **kw: ran.append(command) or 0)
    bad = tmp_path / "no such folder" / "x.log"
    assert main(["serve", "--config", str(_config(tmp_path)), "--log-protocol", str(bad)]) == 2
    assert "cannot write the protocol log" in capsys.readouterr().err and ran == []


def test_serve_demo_hands_log_protocol_to_the_demo() -> None:
    from app.cli.serve import serve_main

    got: list[list[str]] = []
    assert (
        serve_main(["--demo", "--log-protocol", "d.log"], lambda rest: got.append(rest) or 0) == 0
    )
    assert got[0][got[0].index("--log-protocol") + 1] == "d.log"


def test_serve_help_lists_log_protocol(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    assert "--log-protocol FILE" in capsys.readouterr().out


def test_demo_serve_tries_log_protocol_before_starting_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`termail demo --serve --log-protocol FILE` hands FILE to the tabs; one that cannot be
    written is refused here, before a sandbox starts."""
    bad = tmp_path / "no such folder" / "x.log"
    assert main(["demo", "--serve", "--log-protocol", str(bad)]) == 2
    assert "termail demo: cannot write the protocol log" in capsys.readouterr().err
