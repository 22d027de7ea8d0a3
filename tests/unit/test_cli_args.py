"""The client's command line is parsed once, for the splash and for the client alike."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

import app.cli
import app.cli.client

CONFIG = (
    '[accounts.a]\naddress = "a@example.org"\n[accounts.a.imap]\nhost = "127.0.0.1"\n'
    'user = "a"\npassword_env = "X"\n[accounts.a.smtp]\nhost = "127.0.0.1"\n'
)


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[list[str]]:
    """Every argument list an ArgumentParser parsed (parse_args goes through it too)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    seen: list[list[str]] = []
    real = argparse.ArgumentParser.parse_known_args

    def counting(self: argparse.ArgumentParser, args: Any = None, namespace: Any = None) -> Any:
        seen.append(list(args or []))
        return real(self, args, namespace)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_known_args", counting)
    return seen


def test_the_splash_and_the_client_share_one_parse(
    parses: list[list[str]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    got: dict[str, Any] = {}

    def client_main(args: argparse.Namespace, *, config: Any = None) -> int:
        got.update(args=args, config=config)
        return 0

    monkeypatch.setattr(app.cli.client, "client_main", client_main)
    argv = ["--config", str(config), "--account", "a"]
    assert app.cli.main(argv) == 0
    assert parses == [argv]
    assert got["args"].config == config and got["args"].account == "a"
    assert got["config"] is not None and "a" in got["config"].accounts  # read once, passed on


def test_a_bad_argument_is_refused_before_anything_else(
    parses: list[list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        app.cli.main(["--no-such-option"])
    assert exited.value.code == 2
    assert "usage: termail" in capsys.readouterr().err
    assert parses == [["--no-such-option"]]
