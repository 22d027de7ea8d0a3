"""S/MIME (RFC 8551) reading through the user's gpgsm: the same GnuPG, its keybox and agent.

gpgsm is run directly (python-gnupg speaks only gpg) with `--disable-dirmngr` (nothing is
fetched: no CRL, no OCSP, no issuer certificate; the badge says revocation was not checked) and
a timeout. Its status lines are gpg's (GOODSIG, BADSIG, VALIDSIG, TRUST_*), read by
`signatures_from_status`. Sending S/MIME is not done here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

from app.crypto.engine import (
    DEFAULT_TIMEOUT,
    Decryption,
    Verification,
    _status_lines,
    signatures_from_status,
)

_OPTIONS = ["--batch", "--no-tty", "--status-fd", "2", "--disable-dirmngr", "--disable-crl-checks"]


class Smime:
    def __init__(self, *, binary: str = "gpgsm", timeout: float = DEFAULT_TIMEOUT) -> None:
        self.binary = binary
        self.timeout = timeout

    def _run(
        self, args: list[str], files: dict[str, bytes]
    ) -> tuple[bytes, list[tuple[str, str]], str | None]:
        if shutil.which(self.binary) is None:
            return b"", [], f"{self.binary} is not installed (no S/MIME check)"
        with tempfile.TemporaryDirectory(prefix="termail-gpgsm-") as tmp:
            paths = {}
            for name, data in files.items():
                path = os.path.join(tmp, name)
                with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
                    f.write(data)
                paths[name] = path
            argv = [self.binary, *_OPTIONS, *[paths.get(a, a) for a in args]]
            try:
                done = subprocess.run(
                    argv,
                    capture_output=True,
                    timeout=self.timeout,
                    check=False,
                    stdin=subprocess.DEVNULL,
                )
            except subprocess.TimeoutExpired:
                return b"", [], f"{self.binary} did not answer within {self.timeout:g} s"
            except OSError as exc:
                return b"", [], f"{self.binary} could not be started: {exc}"
        status = _status_lines(done.stderr.decode("latin-1"))
        return done.stdout, status, None

    def verify_detached(self, data: bytes, signature: bytes) -> Verification:
        _out, status, problem = self._run(
            ["--verify", "sig", "data"], {"sig": signature, "data": data}
        )
        if problem is not None:
            return Verification(problem=problem)
        sigs = signatures_from_status(status)
        if not sigs:
            return Verification(problem="no readable S/MIME signature")
        return Verification(signatures=sigs)

    def verify_opaque(self, der: bytes) -> Verification:
        """smime-type=signed-data: the verdict and the signed entity inside."""
        out, status, problem = self._run(["--output", "-", "--verify", "sig"], {"sig": der})
        if problem is not None:
            return Verification(problem=problem)
        sigs = signatures_from_status(status)
        if not sigs:
            return Verification(problem="no readable S/MIME signature")
        return Verification(signatures=sigs, plaintext=out)

    def decrypt(self, der: bytes) -> Decryption:
        out, status, problem = self._run(["--output", "-", "--decrypt", "msg"], {"msg": der})
        if problem is not None:
            return Decryption(False, problem=problem)
        keywords = {k for k, _ in status}
        to = tuple(v.split()[0] for k, v in status if k == "ENC_TO" and v)
        if "DECRYPTION_OKAY" in keywords and "DECRYPTION_FAILED" not in keywords:
            return Decryption(True, out, recipients=to)
        if "NO_SECKEY" in keywords:
            why = "no secret key here for " + ", ".join(to) if to else "no secret key here"
        else:
            why = "decryption failed (not an S/MIME message, or cut off)"
        return Decryption(False, problem=why, recipients=to)
