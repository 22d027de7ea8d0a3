"""The OpenPGP engine and reader (app/crypto) with throwaway keys (tests/gpg_keys.py)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from app.crypto.engine import CryptoError, Engine, SigState
from app.crypto.reading import canonical, local_sections
from app.crypto.view import render_protected
from app.crypto.writing import protect_bytes
from app.mime.compose import Draft, Identity, build_message, message_bytes
from tests.gpg_keys import Keyring, signed_message

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def engine(gpg_keyring: Keyring) -> Engine:
    return Engine(timeout=20)


def test_detached_good_bad_unknown_expired(engine: Engine, gpg_keyring: Keyring) -> None:
    data = b"hello  \r\nworld\r\n"
    sig = gpg_keyring.gpg(
        "--local-user", gpg_keyring.fingerprints["alice"], "--armor", "--detach-sign", data=data
    )
    good = engine.verify_detached(data, sig).signatures[0]
    assert good.state is SigState.GOOD
    assert good.fingerprint == gpg_keyring.fingerprints["alice"]
    assert good.user_id == "Alice <alice@example.org>"
    bad = engine.verify_detached(data.replace(b"world", b"World"), sig).signatures[0]
    assert bad.state is SigState.BAD
    unknown = engine.verify_detached(b"stranger\r\n", gpg_keyring.signed_by_stranger)
    assert unknown.signatures[0].state is SigState.UNKNOWN_KEY
    old_data, old_sig = gpg_keyring.signed_by_old
    expired = engine.verify_detached(old_data, old_sig).signatures[0]
    assert expired.state is SigState.EXPIRED_KEY


def test_revoked_key(engine: Engine, gpg_keyring: Keyring) -> None:
    revoked = engine.verify_detached(b"rev\r\n", gpg_keyring.signed_by_rev).signatures[0]
    assert revoked.state is SigState.REVOKED_KEY
    shown = render_protected(b"")  # nothing to check: no verdict
    assert shown.crypto == []
    # ... and it is neither a signing nor an encryption key any more.
    assert engine.signing_key("rev@example.org") is None
    assert engine.encryption_key("rev@example.org") is None


def test_truncated_armor_and_garbage(engine: Engine, gpg_keyring: Keyring) -> None:
    data = b"x\r\n"
    sig = gpg_keyring.gpg(
        "--local-user", gpg_keyring.fingerprints["alice"], "--armor", "--detach-sign", data=data
    )
    cut = engine.verify_detached(data, sig[: len(sig) // 2])
    assert not cut.signatures or cut.signatures[0].state is not SigState.GOOD
    assert cut.problem or cut.signatures
    garbage = engine.verify_detached(data, b"\x00\xff" * 100)
    assert garbage.problem is not None and not garbage.signatures
    failed = engine.decrypt(b"-----BEGIN PGP MESSAGE-----\n\nhQEMA\n")
    assert not failed.ok and failed.problem


def test_gpg_missing_and_hanging(tmp_path: Path) -> None:
    missing = Engine(binary="/nonexistent/gpg").verify_detached(b"a", b"b")
    assert missing.problem is not None and "not installed" in missing.problem
    hang = tmp_path / "gpg"
    hang.write_text("#!/bin/sh\nexec sleep 30\n")
    hang.chmod(hang.stat().st_mode | stat.S_IEXEC)
    slow = Engine(binary=str(hang), timeout=0.5)
    result = slow.verify_detached(b"a", b"b")
    assert result.problem is not None and "did not answer" in result.problem
    assert not slow.decrypt(b"x").ok
    with pytest.raises(CryptoError):
        slow.sign_detached(b"x", "alice@example.org")


def test_hanging_after_start(tmp_path: Path, gpg_keyring: Keyring) -> None:
    """gpg answers --list-config, then hangs on the real work: killed at the timeout."""
    hang = tmp_path / "gpg"
    hang.write_text(
        '#!/bin/sh\nfor a in "$@"; do [ "$a" = --list-config ] && exec gpg "$@"; done\n'
        "exec sleep 30\n"
    )
    hang.chmod(hang.stat().st_mode | stat.S_IEXEC)
    result = Engine(binary=str(hang), timeout=0.5).verify_detached(b"a", b"b")
    assert result.problem is not None and "did not answer within 0.5 s" in result.problem


def test_local_sections_are_exact_bytes() -> None:
    raw = (
        b"Content-Type: multipart/signed; boundary=XX\n\n--XX\nContent-Type: text/plain\n\n"
        b"trailing  \t\nline\n--XX\nContent-Type: application/pgp-signature\n\nSIG\n--XX--\n"
    )
    sections = local_sections(raw)
    assert sections["1.MIME"] == b"Content-Type: text/plain\n\n"
    assert sections["1"] == b"trailing  \t\nline"
    assert sections["2"] == b"SIG"
    assert canonical(sections["1"]) == b"trailing  \t\r\nline"


@pytest.mark.parametrize("newline", [b"\r\n", b"\n"])
def test_signed_message_verified_with_trailing_space(gpg_keyring: Keyring, newline: bytes) -> None:
    raw = signed_message(gpg_keyring, b"Hello   \r\n-- \r\nfrom Alice\t\r\n")
    rendered = render_protected(raw.replace(b"\r\n", newline))
    assert rendered.crypto, rendered.notices
    first = rendered.crypto[0]
    assert first.level == "good", first
    assert "good signature by Alice <alice@example.org>" in first.summary
    assert any("matches From" in d for d in first.details)
    assert any("covers the whole message" in d for d in first.details)
    assert "Hello" in rendered.body


def test_tampered_signed_message_is_bad(gpg_keyring: Keyring) -> None:
    raw = signed_message(gpg_keyring, b"Pay 10 EUR\r\n").replace(b"Pay 10", b"Pay 90")
    rendered = render_protected(raw)
    assert rendered.crypto[0].level == "bad"
    assert "BAD signature" in rendered.crypto[0].summary
    assert "Pay 90" in rendered.body  # the rest is still shown


def test_signed_part_inside_unsigned_message(gpg_keyring: Keyring) -> None:
    inner = signed_message(gpg_keyring, b"signed text\r\n")
    head, _, body = inner.partition(b"\r\n\r\n")
    ctype = head[head.index(b"Content-Type: multipart/signed") :]
    raw = (
        b"From: Mallory <m@example.org>\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=OUT\r\n\r\n"
        b"--OUT\r\nContent-Type: text/plain\r\n\r\nnot signed\r\n"
        b"--OUT\r\n" + ctype + b"\r\n\r\n" + body + b"\r\n--OUT--\r\n"
    )
    rendered = render_protected(raw)
    status = rendered.crypto[0]
    assert status.level == "good"
    assert any("part 2 only" in d and "NOT signed" in d for d in status.details)
    assert any("not the From address" in d for d in status.details)


def test_inline_clearsigned_and_encrypted(engine: Engine, gpg_keyring: Keyring) -> None:
    alice = gpg_keyring.fingerprints["alice"]
    clear = gpg_keyring.gpg("--local-user", alice, "--clearsign", data=b"inline hello\n")
    raw = b"From: alice@example.org\r\nSubject: i\r\n\r\n" + clear
    rendered = render_protected(raw)
    assert rendered.crypto[0].level == "good"
    assert "inline" in rendered.crypto[0].summary
    assert "inline hello" in rendered.body and "BEGIN PGP SIGNED" not in rendered.body
    enc = gpg_keyring.gpg(
        "--armor", "--encrypt", "--trust-model", "always", "-r", alice, data=b"inline secret\n"
    )
    rendered = render_protected(b"From: alice@example.org\r\nSubject: e\r\n\r\n" + enc)
    assert rendered.crypto[0].summary.startswith("OpenPGP (inline): decrypted")
    assert "inline secret" in rendered.body
    cut = render_protected(b"Subject: cut\r\n\r\n" + enc[: len(enc) // 2])
    assert cut.crypto and "NOT decrypted" in cut.crypto[0].summary
    assert "BEGIN PGP MESSAGE" in cut.body


def _draft(**kw: object) -> Draft:
    return Draft(
        from_=Identity("Alice", "alice@example.org"),
        to=["Bob <bob@example.org>"],
        subject="Secret plans",
        body="Meet at noon.   \nBye\n",
        attachments=[("plan.txt", b"step 1\n", "text/plain")],
        **kw,  # type: ignore[arg-type]
    )


def test_sign_and_encrypt_round_trip(gpg_keyring: Keyring) -> None:
    engine = Engine()
    draft = _draft()
    data = message_bytes(build_message(draft, message_id_domain="example.org"))
    signed = protect_bytes(data, draft, sign=True, encrypt=False, engine=engine)
    assert b"multipart/signed" in signed and b'micalg="pgp-sha256"' in signed
    shown = render_protected(signed, engine=engine)
    assert shown.crypto[0].level == "good", shown.crypto
    both = protect_bytes(data, draft, sign=True, encrypt=True, engine=engine)
    assert b"multipart/encrypted" in both and b"Meet at noon" not in both
    assert b"application/pgp-encrypted" in both and b"Version: 1" in both
    assert b"Secret plans" not in both.split(b"\r\n\r\n", 1)[0]  # protected Subject
    shown = render_protected(both, engine=engine)
    assert [s.level for s in shown.crypto[:2]] == ["good", "good"], shown.crypto
    assert shown.crypto[0].summary.startswith("OpenPGP: decrypted")
    assert "Meet at noon" in shown.body
    assert shown.subject == "Secret plans"
    assert [a.filename for a in shown.attachments] == ["plan.txt"]


def test_encrypt_refused_names_recipients_without_key(gpg_keyring: Keyring) -> None:
    draft = _draft()
    draft.to = ["bob@example.org", "nokey@example.org", "rev@example.org"]
    draft.cc = [f"user{i}@nowhere.example" for i in range(2000)]
    data = message_bytes(build_message(draft, message_id_domain="example.org"))
    with pytest.raises(CryptoError) as info:
        protect_bytes(data, draft, sign=False, encrypt=True, engine=Engine())
    text = str(info.value)
    assert "nokey@example.org" in text and "rev@example.org" in text
    assert "bob@example.org" not in text
    assert "more" in text  # 2,002 names are not all listed


def test_gnupghome_is_honoured(
    gpg_keyring: Keyring, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "g"
    empty.mkdir(mode=0o700)
    monkeypatch.setenv("GNUPGHOME", str(empty))
    assert Engine().encryption_key("alice@example.org") is None
    monkeypatch.setenv("GNUPGHOME", str(gpg_keyring.home))
    assert Engine().encryption_key("alice@example.org") == gpg_keyring.fingerprints["alice"]
    assert os.environ["GNUPGHOME"] == str(gpg_keyring.home)


def test_identity_pgp_defaults_from_config(tmp_path: Path) -> None:
    from tests.unit.test_config import load_text

    config = load_text(
        tmp_path,
        """
        [accounts.w]
        [[accounts.w.identities]]
        address = "a@example.org"
        pgp_sign = true
        pgp_key = "0xABCDEF"
        pgp_encrypt_if_possible = true
        [[accounts.w.identities]]
        address = "b@example.org"
        [accounts.w.imap]
        host = "imap.example.org"
        user = "a"
        password_command = "true"
        [accounts.w.smtp]
        host = "smtp.example.org"
        user = "a"
        password_command = "true"
        """,
    )
    first, second = config.accounts["w"].identities
    assert (first.pgp_sign, first.pgp_key, first.pgp_encrypt_if_possible) == (
        True,
        "0xABCDEF",
        True,
    )
    assert (second.pgp_sign, second.pgp_key, second.pgp_encrypt_if_possible) == (False, "", False)
    from app.config.model import ConfigError

    with pytest.raises(ConfigError, match="pgp_sign"):
        load_text(
            tmp_path,
            '[accounts.w]\naddress = "a@b.c"\npgp_sign = "yes"\n'
            '[accounts.w.imap]\nhost = "h"\nuser = "u"\npassword_command = "true"\n',
        )


@pytest.mark.parametrize(
    ("state", "level", "words"),
    [
        (SigState.GOOD, "good", "good signature by"),
        (SigState.BAD, "bad", "BAD signature"),
        (SigState.EXPIRED_KEY, "warning", "EXPIRED key"),
        (SigState.REVOKED_KEY, "bad", "REVOKED key"),
        (SigState.EXPIRED_SIG, "warning", "has expired"),
        (SigState.ERROR, "warning", "could not be checked"),
    ],
)
def test_every_signature_state_has_its_badge(state: SigState, level: str, words: str) -> None:
    """The badge's level and words per state, with the key and (but for ERROR) the signer named;
    braces in a user id are its text, not a template."""
    from app.crypto.engine import Signature
    from app.crypto.reading import signature_status

    sig = Signature(state, key_id="ABCDEF0123456789", user_id="Al {key} <al@example.org>")
    status = signature_status(
        sig, engine_name="OpenPGP", covers="the whole message", from_addresses=["al@example.org"]
    )
    assert status.level == level
    assert status.summary.startswith("OpenPGP: ") and words in status.summary
    assert "ABCDEF0123456789" in status.summary
    assert ("Al {key} <al@example.org>" in status.summary) is (state is not SigState.ERROR)
