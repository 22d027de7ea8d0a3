"""Throwaway OpenPGP keys for the crypto tests: a private GNUPGHOME made by the test run.

Alice and Bob have sign + encrypt keys (ed25519 / cv25519, no passphrase), Old's key expired in
2020 (made with gpg's faked system time), Rev's key is revoked, and Stranger's key signs but is
then deleted from the keyring (an unknown key). The home is short (gpg-agent's socket path is
limited) and its agent is stopped at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

GPG = shutil.which("gpg")


@dataclass
class Keyring:
    home: Path
    fingerprints: dict[str, str] = field(default_factory=dict)
    signed_by_stranger: bytes = b""
    """A detached signature by a key that is not in the keyring, over b"stranger\\r\\n"."""
    signed_by_rev: bytes = b""
    """A detached signature over b"rev\\r\\n" by Rev's key, made before it was revoked."""
    signed_by_old: tuple[bytes, bytes] = (b"", b"")
    """(data, detached signature) made in 2020 by Old's since expired key."""

    def gpg(self, *args: str, data: bytes | None = None) -> bytes:
        return run_gpg(self.home, *args, data=data)


def run_gpg(home: Path, *args: str, data: bytes | None = None) -> bytes:
    out = subprocess.run(
        ["gpg", "--batch", "--yes", "--no-tty", "--homedir", str(home), *args],
        input=data,
        capture_output=True,
        timeout=60,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"gpg {' '.join(args)}: {out.stderr.decode(errors='replace')}")
    return out.stdout


def _fingerprint(home: Path, who: str) -> str:
    listing = run_gpg(home, "--with-colons", "--list-keys", who).decode()
    return next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr"))


def make_keyring(base: str | None = None) -> Keyring:
    home = Path(tempfile.mkdtemp(prefix="tg-", dir=base or "/tmp"))
    home.chmod(0o700)
    ring = Keyring(home)
    for name in ("alice", "bob", "rev"):
        uid = f"{name.title()} <{name}@example.org>"
        ring.gpg("--passphrase", "", "--quick-gen-key", uid, "future-default", "default", "never")
        ring.fingerprints[name] = _fingerprint(home, f"<{name}@example.org>")
    # Old: made and used in 2020, expired since.
    fake = ("--faked-system-time", "20200101T000000!")
    ring.gpg(
        *fake,
        "--passphrase",
        "",
        "--quick-gen-key",
        "Old <old@example.org>",
        "ed25519",
        "sign",
        "2020-06-01",
    )
    ring.fingerprints["old"] = _fingerprint(home, "<old@example.org>")
    data = b"old text\r\n"
    sig = ring.gpg(
        *fake, "--local-user", ring.fingerprints["old"], "--armor", "--detach-sign", data=data
    )
    ring.signed_by_old = (data, sig)
    # Rev: signs once, then is revoked with its own revocation certificate.
    ring.signed_by_rev = ring.gpg(
        "--local-user", ring.fingerprints["rev"], "--armor", "--detach-sign", data=b"rev\r\n"
    )
    cert = (home / "openpgp-revocs.d" / f"{ring.fingerprints['rev']}.rev").read_bytes()
    ring.gpg("--import", data=cert.replace(b":-----BEGIN", b"-----BEGIN"))
    # Stranger: sign, then forget the key.
    ring.gpg(
        "--passphrase",
        "",
        "--quick-gen-key",
        "Stranger <stranger@example.org>",
        "ed25519",
        "sign",
        "never",
    )
    stranger = _fingerprint(home, "<stranger@example.org>")
    ring.signed_by_stranger = ring.gpg(
        "--local-user", stranger, "--armor", "--detach-sign", data=b"stranger\r\n"
    )
    ring.gpg("--delete-secret-and-public-key", stranger)
    return ring


def cleanup(ring: Keyring) -> None:
    subprocess.run(
        ["gpgconf", "--homedir", str(ring.home), "--kill", "all"],
        capture_output=True,
        timeout=30,
        check=False,
    )
    shutil.rmtree(ring.home, ignore_errors=True)


def keyring_fixture() -> Iterator[Keyring]:
    """Body of the session fixture (tests/conftest.py: `gpg_keyring`): GNUPGHOME points at
    the throwaway home for the run, and termail's engine is made anew."""
    import pytest

    from app.crypto.view import set_default_engine

    if GPG is None:
        pytest.skip("gpg is not installed")
    ring = make_keyring()
    before = os.environ.get("GNUPGHOME")
    os.environ["GNUPGHOME"] = str(ring.home)
    set_default_engine(None)
    try:
        yield ring
    finally:
        if before is None:
            os.environ.pop("GNUPGHOME", None)
        else:
            os.environ["GNUPGHOME"] = before
        set_default_engine(None)
        cleanup(ring)


def _canonical(data: bytes) -> bytes:
    import re

    return re.sub(rb"\r?\n", b"\r\n", data)


def signed_message(ring: Keyring, body: bytes, *, subject: str = "signed") -> bytes:
    """A PGP/MIME signed message, built by hand so its signed part is exactly `body`'s bytes."""
    part = b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + body
    sig = ring.gpg(
        "--local-user",
        ring.fingerprints["alice"],
        "--armor",
        "--detach-sign",
        data=_canonical(part),
    )
    return (
        b"From: Alice <alice@example.org>\r\nTo: bob@example.org\r\n"
        b"Subject: " + subject.encode() + b"\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/signed; boundary="BB"; micalg=pgp-sha256;\r\n'
        b' protocol="application/pgp-signature"\r\n\r\n'
        b"--BB\r\n" + part + b"\r\n--BB\r\n"
        b"Content-Type: application/pgp-signature; name=signature.asc\r\n\r\n"
        + sig
        + b"\r\n--BB--\r\n"
    )


def make_smime(ring: Keyring, work: Path) -> tuple[Path, Path]:
    """A test CA and Alice's S/MIME certificate (openssl), imported into the ring's gpgsm with
    no passphrase, the CA trusted. Returns (alice.pem, alice.key) to sign / encrypt with."""

    def ossl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=work, capture_output=True, check=True, timeout=60)

    ossl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-subj",
        "/CN=Test CA",
        "-days",
        "3650",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    )
    ossl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "alice.key",
        "-out",
        "alice.csr",
        "-subj",
        "/CN=Alice/emailAddress=alice@example.org",
    )
    (work / "ext").write_text(
        "subjectAltName=email:alice@example.org\nkeyUsage=digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=emailProtection\n"
    )
    ossl(
        "x509",
        "-req",
        "-in",
        "alice.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "alice.pem",
        "-days",
        "365",
        "-extfile",
        "ext",
    )
    # gpgsm 2.2 reads only the legacy PKCS#12 ciphers.
    ossl(
        "pkcs12",
        "-export",
        "-legacy",
        "-inkey",
        "alice.key",
        "-in",
        "alice.pem",
        "-out",
        "alice.p12",
        "-passout",
        "pass:",
    )
    env = {**os.environ, "GNUPGHOME": str(ring.home)}
    for args, data in (
        (["--import", str(work / "ca.pem")], None),
        (
            [
                "--pinentry-mode",
                "loopback",
                "--passphrase-fd",
                "0",
                "--import",
                str(work / "alice.p12"),
            ],
            b"\n",
        ),
    ):
        subprocess.run(
            ["gpgsm", "--batch", *args],
            input=data,
            env=env,
            capture_output=True,
            check=True,
            timeout=60,
        )
    listing = subprocess.run(
        ["gpgsm", "--with-colons", "--list-keys", "Test CA"],
        env=env,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    fpr = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr"))
    pairs = ":".join(fpr[i : i + 2] for i in range(0, len(fpr), 2))
    (ring.home / "trustlist.txt").write_text(f"{pairs} S relax\n")
    return work / "alice.pem", work / "alice.key"


@dataclass
class KeyFetchSetup:
    """A user's keyring that lacks the signer's key, a fake `gpg` that logs its argv and
    "fetches" (imports) the key from a local file instead of a key server."""

    user_home: Path
    fake_gpg: Path
    argv_log: Path
    fingerprint: str
    message: bytes
    """A PGP/MIME signed message by the signer (From: Signer <signer@example.org>)."""

    def logged(self) -> list[str]:
        return self.argv_log.read_text().splitlines() if self.argv_log.exists() else []


def key_fetch_setup(work: Path, *, hang: bool = False) -> KeyFetchSetup:
    """Two homes: the signer's (key made, exported, a message signed) and the user's (empty).
    With `hang`, the fake gpg's fetch sleeps instead (a key server that never answers)."""
    signer = Path(tempfile.mkdtemp(prefix="ts-", dir="/tmp"))
    user = Path(tempfile.mkdtemp(prefix="tu-", dir="/tmp"))
    signer.chmod(0o700)
    user.chmod(0o700)
    run_gpg(
        signer, "--passphrase", "", "--quick-gen-key", "Signer <signer@example.org>",
        "ed25519", "sign", "never",
    )  # fmt: skip
    fpr = _fingerprint(signer, "<signer@example.org>")
    keyfile = work / "signer.asc"
    keyfile.write_bytes(run_gpg(signer, "--armor", "--export", fpr))
    part = b"Content-Type: text/plain; charset=utf-8\r\n\r\nsigned by a stranger\r\n"
    sig = run_gpg(signer, "--local-user", fpr, "--armor", "--detach-sign", data=part)
    message = (
        b"From: Signer <signer@example.org>\r\nTo: you@example.org\r\n"
        b"Subject: from a stranger\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/signed; boundary="BB"; micalg=pgp-sha256;\r\n'
        b' protocol="application/pgp-signature"\r\n\r\n'
        b"--BB\r\n" + part + b"\r\n--BB\r\n"
        b"Content-Type: application/pgp-signature; name=signature.asc\r\n\r\n"
        + sig
        + b"\r\n--BB--\r\n"
    )
    cleanup(Keyring(signer))
    log = work / "argv.log"
    # The fetch imports into the home gpg was given (--homedir, else GNUPGHOME), never ~/.gnupg.
    fetch = "sleep 60" if hang else f'exec "{GPG}" --homedir "$home" --batch --import "{keyfile}"'
    fake = work / "fake-gpg"
    fake.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$*" >> "{log}"\n'
        'home="${GNUPGHOME:-/nonexistent}"; prev=""\n'
        'for a in "$@"; do [ "$prev" = "--homedir" ] && home="$a"; prev="$a"; done\n'
        'for a in "$@"; do\n'
        f'  case "$a" in --recv-keys|--locate-keys) {fetch};; esac\n'
        "done\n"
        f'exec "{GPG}" "$@"\n'
    )
    fake.chmod(0o755)
    return KeyFetchSetup(user, fake, log, fpr, message)
