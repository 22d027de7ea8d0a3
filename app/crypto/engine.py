"""The user's GnuPG, run through python-gnupg, always with a timeout, never fetching keys.

python-gnupg drives the `gpg` binary: the user's keyring, agent, pinentry and `gpg.conf` apply
as they do on the command line, and `GNUPGHOME` is honoured (it is passed on in the
environment). What python-gnupg does not do is bound the time a run takes: `TimedGPG` starts a
timer with every gpg process and kills it when it runs out, so a hanging gpg (a pinentry nobody
answers, a dead agent) is a `GpgUnavailable` result, not a frozen screen.

Signature verdicts are read from gpg's status lines here (GOODSIG, BADSIG, EXPKEYSIG, ...),
not from python-gnupg's summary, which lets a later VALIDSIG overwrite an expired-key verdict.
Nothing here raises to the caller for bad input: every public method returns a typed result,
except `sign` / `encrypt`, which raise `CryptoError` (a `ComposeError`: the send is refused and
the compose screen keeps the message).
"""

from __future__ import annotations

import enum
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import gnupg

from app.mime.compose import ComposeError

#: Seconds one gpg run may take before it is killed (verify/decrypt of 25 MB takes well under).
DEFAULT_TIMEOUT = 20.0

#: Never fetch a key, locate one over the network, or ask a TTY.
_SAFE_OPTIONS = ["--no-auto-key-retrieve", "--auto-key-locate", "local", "--no-tty"]


class CryptoError(ComposeError):
    """Signing or encrypting could not be done; the message says why (nothing was sent)."""


class SigState(enum.Enum):
    GOOD = "good"
    BAD = "bad"
    UNKNOWN_KEY = "unknown key"
    EXPIRED_KEY = "expired key"
    REVOKED_KEY = "revoked key"
    EXPIRED_SIG = "expired signature"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Signature:
    """One signature as gpg judged it. Strings are gpg's (or the message's): sanitize to show."""

    state: SigState
    key_id: str = ""
    fingerprint: str = ""
    user_id: str = ""
    created: int | None = None
    trust: str = ""
    """gpg's validity of the key: ULTIMATE, FULLY, MARGINAL, NEVER, UNDEFINED (or "")."""
    detail: str = ""

    @property
    def good(self) -> bool:
        return self.state is SigState.GOOD


@dataclass(frozen=True, slots=True)
class Verification:
    """The signatures found, or why none could be checked (`problem`: gpg missing, timeout)."""

    signatures: tuple[Signature, ...] = ()
    problem: str | None = None
    plaintext: bytes = b""
    """For inline (clear-signed) text: the signed text as gpg gives it back."""


@dataclass(frozen=True, slots=True)
class Decryption:
    ok: bool
    plaintext: bytes = b""
    signatures: tuple[Signature, ...] = ()
    problem: str | None = None
    recipients: tuple[str, ...] = ()
    """The key ids the message was encrypted to (ENC_TO)."""


@dataclass(frozen=True, slots=True)
class KeyInfo:
    fingerprint: str
    user_ids: tuple[str, ...]
    can_encrypt: bool
    can_sign: bool
    usable: bool
    """Neither expired, revoked nor disabled."""


@dataclass(frozen=True, slots=True)
class KeyFetch:
    """What `Engine.fetch_key` did: `message` says it (gpg's own words when it failed)."""

    ok: bool
    message: str


_KEY_ID = re.compile(r"[0-9A-F]{8,40}")
_ADDRESS = re.compile(r"[^\s<>@-][^\s<>@]*@[^\s<>@]+")


def _last_gpg_line(stderr: bytes) -> str:
    lines = [
        line.strip()
        for line in stderr.decode("utf-8", "replace").splitlines()
        if line.strip() and not line.startswith("[GNUPG:]")
    ]
    return lines[-1][:200] if lines else ""


#: Seconds a gpg run that asks for a passphrase on the terminal may take (the user types).
PASSPHRASE_TIMEOUT = 300.0

NEEDS_PASSPHRASE = (
    "the secret key needs your passphrase, and your gpg-agent's pinentry asks on a terminal "
    "termail could not hand over (unlock the key once in a shell, e.g. gpg --sign, or use a "
    "graphical pinentry)"
)

#: Runs a gpg call where a terminal pinentry can draw (the App suspended); set by the App.
Suspender = Callable[[Callable[[], Any]], Any]


@dataclass(slots=True)
class _Run:
    timed_out: bool = False
    timeout: float | None = None
    status: list[tuple[str, str]] = field(default_factory=list)


class TimedGPG(gnupg.GPG):  # type: ignore[misc]
    """python-gnupg's GPG whose every process is killed after `timeout` seconds."""

    timeout: float = DEFAULT_TIMEOUT

    def __init__(self, *args: Any, timeout: float = DEFAULT_TIMEOUT, **kwargs: Any) -> None:
        self.timeout = timeout
        self._local = threading.local()
        super().__init__(*args, **kwargs)

    def _collect_output(
        self, process: Any, result: Any, writer: Any = None, stdin: Any = None
    ) -> Any:
        run: _Run | None = getattr(self._local, "run", None)

        def kill() -> None:
            if run is not None:
                run.timed_out = True
            try:
                process.kill()
            except OSError:
                pass

        timer = threading.Timer(run.timeout if run and run.timeout else self.timeout, kill)
        timer.daemon = True
        timer.start()
        try:
            return super()._collect_output(process, result, writer, stdin)
        finally:
            timer.cancel()

    def run(self, timeout: float | None = None) -> _Run:
        run = _Run(timeout=timeout)
        self._local.run = run
        return run


def _unescape(value: str) -> str:
    """gpg's status-line strings: UTF-8 read as Latin-1 by python-gnupg, %XX escapes."""
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:
        raw = value.encode("utf-8", "replace")
    raw = re.sub(rb"%([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), raw)
    return raw.decode("utf-8", "replace")


def _status_lines(stderr: str) -> list[tuple[str, str]]:
    lines = []
    for line in (stderr or "").splitlines():
        if line.startswith("[GNUPG:] "):
            keyword, _, value = line[9:].partition(" ")
            lines.append((keyword, value.strip()))
    return lines


_TRUST = ("TRUST_UNDEFINED", "TRUST_NEVER", "TRUST_MARGINAL", "TRUST_FULLY", "TRUST_ULTIMATE")


def signatures_from_status(status: Sequence[tuple[str, str]]) -> tuple[Signature, ...]:
    """Each NEWSIG ... block of gpg's status lines as one `Signature`."""
    found: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None

    def start() -> dict[str, Any]:
        nonlocal current
        current = {
            "state": None,
            "key_id": "",
            "fingerprint": "",
            "user_id": "",
            "created": None,
            "trust": "",
            "detail": "",
        }
        found.append(current)
        return current

    for keyword, value in status:
        if keyword == "NEWSIG":
            start()
            continue
        verdict = {
            "GOODSIG": SigState.GOOD,
            "BADSIG": SigState.BAD,
            "EXPKEYSIG": SigState.EXPIRED_KEY,
            "REVKEYSIG": SigState.REVOKED_KEY,
            "EXPSIG": SigState.EXPIRED_SIG,
        }.get(keyword)
        if verdict is not None:
            sig = current if current is not None and current["state"] is None else start()
            key_id, _, user = value.partition(" ")
            sig["state"], sig["key_id"], sig["user_id"] = verdict, key_id, _unescape(user)
        elif keyword == "ERRSIG":
            sig = current if current is not None and current["state"] is None else start()
            parts = value.split()
            sig["key_id"] = parts[0] if parts else ""
            if len(parts) >= 7 and parts[6] != "-":
                sig["fingerprint"] = parts[6]
            if len(parts) >= 5 and parts[4].isdigit():
                sig["created"] = int(parts[4])
            rc = parts[5] if len(parts) >= 6 else ""
            sig["state"] = SigState.UNKNOWN_KEY if rc == "9" else SigState.ERROR
            if rc == "4":
                sig["detail"] = "unsupported algorithm"
        elif keyword == "NO_PUBKEY" and current is not None:
            current["state"] = SigState.UNKNOWN_KEY
        elif keyword == "VALIDSIG" and current is not None:
            parts = value.split()
            if parts:
                current["fingerprint"] = parts[9] if len(parts) >= 10 else parts[0]
            if len(parts) >= 3 and parts[2].isdigit():
                current["created"] = int(parts[2])
        elif keyword in _TRUST and current is not None:
            current["trust"] = keyword.removeprefix("TRUST_")
        elif keyword == "KEYREVOKED" and current is not None and current["state"] is SigState.GOOD:
            current["state"] = SigState.REVOKED_KEY
    return tuple(
        Signature(
            state=s["state"] or SigState.ERROR,
            key_id=s["key_id"],
            fingerprint=s["fingerprint"],
            user_id=s["user_id"],
            created=s["created"],
            trust=s["trust"],
            detail=s["detail"],
        )
        for s in found
        if s["state"] is not None or s["key_id"]
    )


class Engine:
    """One user's gpg. Create once; each call runs one gpg process (thread-safe, blocking:
    call it from a worker thread)."""

    def __init__(
        self,
        *,
        binary: str = "gpg",
        home: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.binary = binary
        self.home = home
        self.timeout = timeout
        self._gpg: TimedGPG | None = None
        self._problem: str | None = None
        self._lock = threading.Lock()
        self.terminal_pinentry: bool | None = None
        """Whether the agent's pinentry asks on the terminal (None: app.crypto.pinentry
        decides at the first run that may need a passphrase)."""
        self.suspend: Suspender | None = None
        """Set by the App: runs a call with the screen handed to the terminal (App.suspend).
        Without it (or when it raises), a passphrase that must be typed on the terminal is a
        clear refusal (NEEDS_PASSPHRASE), never a hang."""
        self.tty: str | None = None
        """The terminal pinentry should ask on (gpg --ttyname), when GPG_TTY is not set."""

    # -- the gpg process ---------------------------------------------------------------------
    def _get(self) -> TimedGPG | None:
        with self._lock:
            if self._gpg is not None:
                return self._gpg
            if shutil.which(self.binary) is None:
                self._problem = f"{self.binary} is not installed (no OpenPGP check)"
                return None
            started = time.monotonic()
            try:
                gpg = TimedGPG(
                    gpgbinary=self.binary,
                    gnupghome=self.home,
                    options=list(_SAFE_OPTIONS),
                    timeout=self.timeout,
                )
            except Exception as exc:  # missing binary, broken home, hung --list-config
                if time.monotonic() - started >= self.timeout:
                    self._problem = f"{self.binary} did not answer within {self.timeout:g} s"
                else:
                    self._problem = f"{self.binary} could not be started: {exc}"
                return None
            if gpg.version is None:
                self._problem = f"{self.binary} did not answer within {self.timeout:g} s"
                return None
            gpg.encoding = "latin-1"
            gpg.buffer_size = 1 << 16  # bigger pipe chunks for big signed parts
            self._gpg = gpg
            self._problem = None
            return gpg

    @property
    def problem(self) -> str | None:
        """Why gpg cannot be used (after a first call), else None."""
        self._get()
        return self._problem

    def _call(
        self, gpg: TimedGPG, op: Any, *, timeout: float | None = None
    ) -> tuple[Any, _Run, str | None]:
        run = gpg.run(timeout)
        try:
            result = op()
        except Exception as exc:  # a killed gpg breaks the pipe python-gnupg writes into
            result = None
            if not run.timed_out:
                return None, run, f"gpg failed: {type(exc).__name__}: {exc}"
        if run.timed_out:
            return None, run, f"gpg did not answer within {self.timeout:g} s"
        run.status = _status_lines(getattr(result, "stderr", "") or "")
        return result, run, None

    def _on_terminal(self) -> bool:
        if self.terminal_pinentry is None:
            from app.crypto.pinentry import detect

            self.terminal_pinentry = detect(self.home)
        return self.terminal_pinentry

    def _with_passphrase(
        self, gpg: TimedGPG, make_op: Callable[[list[str]], Any], success: str
    ) -> tuple[Any, _Run, str | None]:
        """Run an op that uses a secret key. With a GUI pinentry, as it is. With a terminal
        one: first with `--pinentry-mode loopback` and no passphrase (a key without one, or
        one the agent holds unlocked, just works); when gpg then says NEED_PASSPHRASE, again
        with the App suspended so pinentry can draw, or a clear refusal without a terminal."""
        if not self._on_terminal():
            return self._call(gpg, make_op([]))
        result, run, problem = self._call(gpg, make_op(["--pinentry-mode", "loopback"]))
        keywords = {k for k, _ in run.status}
        if problem is not None or "NEED_PASSPHRASE" not in keywords or success in keywords:
            return result, run, problem
        hook = self.suspend
        if hook is None:
            return result, run, NEEDS_PASSPHRASE
        tty = [] if os.environ.get("GPG_TTY") or not self.tty else ["--ttyname", self.tty]
        try:
            got: tuple[Any, _Run, str | None] = hook(
                lambda: self._call(gpg, make_op(tty), timeout=PASSPHRASE_TIMEOUT)
            )
        except Exception:  # no terminal to hand over (headless, tests)
            return result, run, NEEDS_PASSPHRASE
        return got

    # -- reading -----------------------------------------------------------------------------
    def verify_detached(self, data: bytes, signature: bytes) -> Verification:
        """Check a detached signature (PGP/MIME's application/pgp-signature) over `data`."""
        gpg = self._get()
        if gpg is None:
            return Verification(problem=self._problem)
        with tempfile.TemporaryDirectory(prefix="termail-gpg-") as tmp:
            sig_path = os.path.join(tmp, "sig.asc")
            with open(sig_path, "wb") as handle:
                handle.write(signature)
            os.chmod(sig_path, 0o600)
            result, run, problem = self._call(gpg, lambda: gpg.verify_data(sig_path, data))
        if problem is not None:
            return Verification(problem=problem)
        sigs = signatures_from_status(run.status)
        if not sigs:
            return Verification(problem=_no_signature(run.status, result))
        return Verification(signatures=sigs)

    def verify_inline(self, armored: bytes) -> Verification:
        """A clear-signed text (`-----BEGIN PGP SIGNED MESSAGE-----`): verdict and its text."""
        gpg = self._get()
        if gpg is None:
            return Verification(problem=self._problem)
        result, run, problem = self._call(
            gpg, lambda: gpg.decrypt(armored, extra_args=["--ignore-mdc-error"])
        )
        if problem is not None:
            return Verification(problem=problem)
        sigs = signatures_from_status(run.status)
        if not sigs:
            return Verification(problem=_no_signature(run.status, result))
        return Verification(signatures=sigs, plaintext=bytes(result.data or b""))

    def decrypt(self, data: bytes) -> Decryption:
        """Decrypt (and verify, when signed inside) an OpenPGP message."""
        gpg = self._get()
        if gpg is None:
            return Decryption(False, problem=self._problem)
        result, run, problem = self._with_passphrase(
            gpg, lambda extra: lambda: gpg.decrypt(data, extra_args=extra), "DECRYPTION_OKAY"
        )
        if problem is not None:
            return Decryption(False, problem=problem)
        keywords = {k for k, _ in run.status}
        to = tuple(v.split()[0] for k, v in run.status if k == "ENC_TO" and v)
        sigs = signatures_from_status(run.status)
        if "DECRYPTION_OKAY" in keywords and "DECRYPTION_FAILED" not in keywords:
            return Decryption(True, bytes(result.data or b""), sigs, recipients=to)
        if "NO_SECKEY" in keywords:
            why = "no secret key here for " + ", ".join(to) if to else "no secret key here"
        elif "NODATA" in keywords or "BADARMOR" in keywords:
            why = "not an OpenPGP message (broken or cut-off armor)"
        elif "DECRYPTION_FAILED" in keywords and keywords & {
            "NEED_PASSPHRASE",
            "PINENTRY_LAUNCHED",
        }:
            why = "decryption failed: no passphrase given (cancelled), or a wrong one"
        elif "DECRYPTION_FAILED" in keywords:
            why = "decryption failed"
        else:
            why = _no_signature(run.status, result)
        return Decryption(False, problem=why, recipients=to)

    # -- keys --------------------------------------------------------------------------------
    def keys_for(self, address: str, *, secret: bool = False) -> list[KeyInfo]:
        """Keys of the keyring with a user id for `address` (exactly, case-insensitive)."""
        gpg = self._get()
        if gpg is None:
            return []
        wanted = address.strip().lower()
        if not wanted:
            return []
        result, _run, problem = self._call(
            gpg, lambda: gpg.list_keys(secret=secret, keys=[f"<{wanted}>"])
        )
        if problem is not None or result is None:
            return []
        keys = []
        for key in result:
            uids = tuple(_unescape(u) for u in key.get("uids", []))
            if not any(_addr_of(u) == wanted for u in uids):
                continue
            caps = str(key.get("cap", ""))
            trust = str(key.get("trust", ""))
            usable = trust not in ("e", "r", "d", "i", "n") and not _expired(key.get("expires"))
            keys.append(
                KeyInfo(
                    fingerprint=str(key.get("fingerprint", "")),
                    user_ids=uids,
                    can_encrypt="E" in caps,
                    can_sign="S" in caps,
                    usable=usable,
                )
            )
        return keys

    def encryption_keys(self, addresses: Sequence[str]) -> dict[str, str]:
        """address (lower case) -> fingerprint of a usable encryption key, for those that have
        one. One gpg run lists the keyring, however many addresses (a 10,000-name list)."""
        gpg = self._get()
        wanted = {a.strip().lower() for a in addresses if a.strip()}
        if gpg is None or not wanted:
            return {}
        result, _run, problem = self._call(gpg, lambda: gpg.list_keys())
        if problem is not None or result is None:
            return {}
        found: dict[str, str] = {}
        for key in result:
            trust = str(key.get("trust", ""))
            if trust in ("e", "r", "d", "i", "n") or _expired(key.get("expires")):
                continue
            if "E" not in str(key.get("cap", "")):
                continue
            for uid in key.get("uids", []):
                address = _addr_of(_unescape(uid))
                if address in wanted and address not in found:
                    found[address] = str(key.get("fingerprint", ""))
        return found

    def encryption_key(self, address: str) -> str | None:
        """The fingerprint to encrypt to for `address`: a usable key able to encrypt."""
        for key in self.keys_for(address):
            if key.usable and key.can_encrypt:
                return key.fingerprint
        return None

    def signing_key(self, wanted: str) -> str | None:
        """A secret key to sign with: `wanted` is a fingerprint / key id, or an address."""
        gpg = self._get()
        if gpg is None or not wanted.strip():
            return None
        if "@" in wanted:
            for key in self.keys_for(wanted, secret=True):
                if key.usable and key.can_sign:
                    return key.fingerprint
            return None
        result, _run, problem = self._call(
            gpg, lambda: gpg.list_keys(secret=True, keys=[wanted.strip()])
        )
        if problem is not None or not result:
            return None
        key = result[0]
        if "S" not in str(key.get("cap", "")) or _expired(key.get("expires")):
            return None
        return str(key.get("fingerprint", "")) or None

    # -- writing -----------------------------------------------------------------------------
    def sign_detached(self, data: bytes, key: str) -> tuple[bytes, str]:
        """(armored detached signature, micalg) over `data`; raises CryptoError."""
        gpg = self._require()
        result, run, problem = self._with_passphrase(
            gpg,
            lambda extra: (
                lambda: gpg.sign(
                    data,
                    keyid=key,
                    detach=True,
                    binary=False,
                    extra_args=["--digest-algo", "SHA256", *extra],
                )
            ),
            "SIG_CREATED",
        )
        if problem is not None:
            raise CryptoError(f"not signed: {problem}")
        made = [v for k, v in run.status if k == "SIG_CREATED"]
        if not made or not result.data:
            raise CryptoError(f"not signed: {_why(run.status, result) or 'gpg made no signature'}")
        parts = made[0].split()
        algo = _HASHES.get(parts[2] if len(parts) > 2 else "", "pgp-sha256")
        return bytes(result.data), algo

    def encrypt(self, data: bytes, fingerprints: Sequence[str], *, sign_key: str | None) -> bytes:
        """An armored OpenPGP message of `data` for `fingerprints` (signed inside by
        `sign_key`); raises CryptoError."""
        gpg = self._require()
        extra = ["--trust-model", "always", "--digest-algo", "SHA256"]

        def make_op(more: list[str]) -> Callable[[], Any]:
            return lambda: gpg.encrypt(
                data,
                list(fingerprints),
                sign=sign_key or None,
                armor=True,
                always_trust=True,
                extra_args=[*extra, *more],
            )

        if sign_key:
            result, run, problem = self._with_passphrase(gpg, make_op, "END_ENCRYPTION")
        else:
            result, run, problem = self._call(gpg, make_op([]))
        if problem is not None:
            raise CryptoError(f"not encrypted: {problem}")
        if not result.ok or not result.data:
            raise CryptoError(f"not encrypted: {_why(run.status, result) or 'gpg refused'}")
        return bytes(result.data)

    # -- fetching a key (only when the user asked: ctrl+k in the viewer) ---------------------
    def fetch_key(self, key: str, address: str = "") -> KeyFetch:
        """Fetch the public key `key` (a fingerprint or key id) with the user's gpg and its own
        config (gpg.conf's keyserver, auto-key-locate): `gpg --recv-keys KEY`, then, when that
        did not bring it and the signer's `address` is known, `gpg --locate-keys ADDRESS`.
        Each run is bounded by the engine's timeout. Never raises."""
        key = key.strip().removeprefix("0x").upper()
        if not _KEY_ID.fullmatch(key):
            return KeyFetch(False, f"not a key id or fingerprint: {key[:64]!r}")
        if shutil.which(self.binary) is None:
            return KeyFetch(False, f"{self.binary} is not installed")
        address = address.strip()
        runs: list[tuple[str, ...]] = [("--recv-keys", "--", key)]
        if _ADDRESS.fullmatch(address):
            runs.append(("--locate-keys", "--", address))
        said = ""
        for args in runs:
            argv = [self.binary, "--batch", "--no-tty"]
            if self.home:
                argv += ["--homedir", self.home]
            try:
                out = subprocess.run(
                    [*argv, *args], capture_output=True, timeout=self.timeout, check=False
                )
            except subprocess.TimeoutExpired:
                said = f"{self.binary} did not answer within {self.timeout:g} s"
                continue
            except OSError as exc:
                return KeyFetch(False, f"{self.binary} could not be started: {exc}")
            said = _last_gpg_line(out.stderr) or f"{self.binary} exited with {out.returncode}"
            if self.has_key(key):
                return KeyFetch(True, f"key {key} imported")
        return KeyFetch(False, f"key {key} not found: {said}")

    def has_key(self, key: str) -> bool:
        """Whether the public key `key` (fingerprint / key id) is in the keyring."""
        argv = [self.binary, "--batch", "--no-tty", "--with-colons"]
        if self.home:
            argv += ["--homedir", self.home]
        try:
            out = subprocess.run(
                [*argv, "--list-keys", "--", key],
                capture_output=True,
                timeout=self.timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return False
        return out.returncode == 0 and b"\npub:" in b"\n" + out.stdout

    def _require(self) -> TimedGPG:
        gpg = self._get()
        if gpg is None:
            raise CryptoError(self._problem or "gpg cannot be used")
        return gpg


_HASHES = {
    "2": "pgp-sha1",
    "8": "pgp-sha256",
    "9": "pgp-sha384",
    "10": "pgp-sha512",
    "11": "pgp-sha224",
}


def _addr_of(uid: str) -> str:
    found = re.search(r"<([^<>\s]+@[^<>\s]+)>\s*$", uid)
    if found:
        return found.group(1).lower()
    return uid.strip().lower() if "@" in uid and " " not in uid.strip() else ""


def _expired(expires: object) -> bool:
    text = str(expires or "")
    return text.isdigit() and int(text) < time.time()


def _why(status: Sequence[tuple[str, str]], result: object) -> str:
    for keyword, value in status:
        if keyword in ("INV_RECP", "INV_SGNR"):
            return "a key cannot be used (" + value + ")"
        if keyword == "FAILURE":
            return "gpg failed (" + value + ")"
        if keyword == "PINENTRY_LAUNCHED":
            continue
    return str(getattr(result, "status", "") or "")


def _no_signature(status: Sequence[tuple[str, str]], result: object) -> str:
    keywords = {k for k, _ in status}
    if "NODATA" in keywords or "BADARMOR" in keywords or "UNEXPECTED" in keywords:
        return "no readable signature (broken or cut-off armor)"
    stderr = str(getattr(result, "stderr", "") or "")
    for line in stderr.splitlines():
        if line.startswith("gpg: ") and "[GNUPG:]" not in line:
            return "gpg: " + _unescape(line[5:]).strip()[:200]
    return "gpg found no signature"


def gpg_version(binary: str = "gpg") -> str | None:
    """The installed gpg's version line, or None (for `termail config check` and the report)."""
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    first = out.stdout.decode("utf-8", "replace").splitlines()
    return first[0] if first else None
