"""Fetching an unknown signer's key with the user's gpg (issue 16, ctrl+k): a fake gpg that
logs its argv and imports the key from a local file stands in for the key server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.crypto.engine import Engine
from app.crypto.view import render_protected
from tests.gpg_keys import GPG, KeyFetchSetup, Keyring, cleanup, key_fetch_setup

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(GPG is None, reason="gpg is not installed"),
]


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[KeyFetchSetup]:
    got = key_fetch_setup(tmp_path)
    yield got
    cleanup(Keyring(got.user_home))


def test_unknown_key_fetched_then_good(setup: KeyFetchSetup) -> None:
    engine = Engine(binary=str(setup.fake_gpg), home=str(setup.user_home), timeout=20)
    before = render_protected(setup.message, engine=engine)
    (status,) = before.crypto
    assert "not in your keyring" in status.summary
    assert status.missing_key == setup.fingerprint
    assert not any("--recv-keys" in line for line in setup.logged())  # nothing fetched yet
    result = engine.fetch_key(status.missing_key, "signer@example.org")
    assert result.ok, result.message
    recv = [line for line in setup.logged() if "--recv-keys" in line]
    assert recv == [
        f"--batch --no-tty --homedir {setup.user_home} --recv-keys -- {setup.fingerprint}"
    ]
    assert not any("--locate-keys" in line for line in setup.logged())  # the first one did
    after = render_protected(setup.message, engine=engine)
    assert "good signature by Signer <signer@example.org>" in after.crypto[0].summary


def test_fetch_refuses_odd_key_and_reports_failure(setup: KeyFetchSetup) -> None:
    engine = Engine(binary=str(setup.fake_gpg), home=str(setup.user_home), timeout=20)
    refused = engine.fetch_key("--exec-path=/tmp/x")
    assert not refused.ok and "not a key id" in refused.message
    assert setup.logged() == []  # gpg never ran
    other = engine.fetch_key("0" * 40, "-o@evil")  # a key the import does not bring
    assert not other.ok and "not found" in other.message
    assert not any("--locate-keys" in line for line in setup.logged())  # odd address skipped
    engine.fetch_key("0" * 40, "signer@example.org")
    assert any(line.endswith("--locate-keys -- signer@example.org") for line in setup.logged())


def test_hanging_key_server_is_bounded(tmp_path: Path) -> None:
    setup = key_fetch_setup(tmp_path, hang=True)
    try:
        engine = Engine(binary=str(setup.fake_gpg), home=str(setup.user_home), timeout=1)
        result = engine.fetch_key(setup.fingerprint)
        assert not result.ok
        assert "did not answer within 1 s" in result.message
        assert engine.verify_detached(b"x", b"y").signatures == ()  # the engine still answers
    finally:
        cleanup(Keyring(setup.user_home))
