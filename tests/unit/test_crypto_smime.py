"""S/MIME reading through gpgsm (app/crypto/smime.py), with a CA and a certificate the test
makes with openssl; and the signed / encrypted messages of ../shared/corpus shown with a verdict."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from app.crypto.view import render_protected
from tests.gpg_keys import Keyring, make_smime

pytestmark = pytest.mark.timeout(120)

PART = b"Content-Type: text/plain\r\n\r\nHello S/MIME  \r\n"
HEAD = b"From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: smime\r\n"


@pytest.fixture(scope="module")
def alice_cert(gpg_keyring: Keyring, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("gpgsm") is None or shutil.which("openssl") is None:
        pytest.skip("gpgsm or openssl is not installed")
    return make_smime(gpg_keyring, tmp_path_factory.mktemp("smime"))


def _openssl(*args: str, data: bytes) -> bytes:
    return subprocess.run(
        ["openssl", *args], input=data, capture_output=True, check=True, timeout=60
    ).stdout


def test_smime_signed_verified_and_tampered(alice_cert: tuple[Path, Path]) -> None:
    pem, key = alice_cert
    signed = HEAD + _openssl("smime", "-sign", "-signer", str(pem), "-inkey", str(key), data=PART)
    shown = render_protected(signed)
    first = shown.crypto[0]
    assert first.level == "good", shown.crypto
    assert "S/MIME: good signature by /CN=Alice/EMail=alice@example.org" in first.summary
    assert any("matches From" in d for d in first.details)
    assert not any("validity undefined" in d for d in first.details)  # the CA is trusted
    assert "Hello S/MIME" in shown.body
    bad = render_protected(signed.replace(b"Hello S/MIME", b"Hello S/MIMe"))
    assert bad.crypto[0].level == "bad", bad.crypto


def test_smime_encrypted_decrypted(alice_cert: tuple[Path, Path]) -> None:
    pem, _key = alice_cert
    sealed = HEAD + _openssl("smime", "-encrypt", "-aes256", str(pem), data=PART)
    shown = render_protected(sealed)
    assert shown.crypto[0].summary.startswith("S/MIME: decrypted"), shown.crypto
    assert "Hello S/MIME" in shown.body


CORPUS = [
    "flanker__signed.eml",
    "enmime__mime-signed.raw",
    "mimekit__thunderbird-signed.txt",
    "thunderbird__alice.dsig.SHA256.multipart.eml",
    "thunderbird__alice.sig.SHA256.opaque.eml",
    "thunderbird__alice.env.eml",
    "thunderbird__dual-signed-uncommon-content-type.eml",
    "thunderbird__encryptedNestedMessages.eml",
    "thunderbird__forwarded-eml-signed-by-alice.eml",
    "thunderbird__inline-signed-latin1.eml",
    "thunderbird__signed-with-mailman-footer.eml",
]


@pytest.mark.parametrize("name", CORPUS)
def test_corpus_messages_get_a_verdict(gpg_keyring: Keyring, shared_dir: Path, name: str) -> None:
    path = shared_dir / "corpus" / name
    if not path.exists():
        pytest.skip(f"{name} is not in this corpus")
    shown = render_protected(path.read_bytes())
    assert shown.crypto, name
    assert all(s.summary for s in shown.crypto)
    # None of these keys is in the throwaway keyring: never a good OpenPGP verdict.
    assert not any(
        s.level == "good" and "OpenPGP" in s.summary and "signature" in s.summary
        for s in shown.crypto
    )
