"""The sandbox's SMTP submission server: aiosmtpd, delivering through Dovecot's LMTP.

Run as `python -m app.sandbox.smtpd CONFIG.json` by `Sandbox`. Port `smtp_port` requires STARTTLS
before AUTH; `smtps_port` is implicit TLS. AUTH PLAIN/LOGIN is checked against Dovecot's
passwd-file. Accepted mail for `@localhost` goes to the users' INBOX through LMTP; other
recipients are written to `external_dir`. The rules file lets tests force reply codes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import smtplib
import ssl
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

REPLY_TEXT = {
    421: "4.3.2 Service shutting down (forced by sandbox)",
    450: "4.2.1 Mailbox unavailable (forced by sandbox)",
    451: "4.3.0 Local error in processing (forced by sandbox)",
    452: "4.5.3 Insufficient system storage (forced by sandbox)",
    550: "5.1.1 Mailbox unavailable (forced by sandbox)",
    552: "5.3.4 Message size exceeds fixed limit (forced by sandbox)",
    553: "5.1.3 Mailbox name not allowed (forced by sandbox)",
    554: "5.7.1 Transaction failed (forced by sandbox)",
}


class Rules:
    """Forced replies read from a JSON file at each use, so tests can change them at any time."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def match(self, stage: str, recipient: str | None) -> str | None:
        try:
            rules: list[dict[str, Any]] = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return None
        for rule in rules:
            if rule.get("stage") != stage:
                continue
            if rule.get("recipient") and rule["recipient"] != (recipient or "").lower():
                continue
            times = rule.get("times")
            if times is not None:
                if times <= 0:
                    continue
                rule["times"] = times - 1
                tmp = self.path.with_suffix(".tmp2")
                tmp.write_text(json.dumps(rules))
                tmp.replace(self.path)
            code = int(rule["code"])
            return f"{code} {rule.get('text') or REPLY_TEXT.get(code, 'forced by sandbox')}"
        return None


class Authenticator:
    def __init__(self, users_dir: Path) -> None:
        self.users_dir = users_dir

    def _password(self, user: str) -> str | None:
        if not user or "/" in user or user.startswith("."):
            return None
        try:
            line = (self.users_dir / user).read_text().splitlines()[0]
        except (OSError, IndexError):
            return None
        parts = line.split(":")
        if len(parts) >= 2 and parts[1].startswith("{PLAIN}"):
            return parts[1][len("{PLAIN}") :]
        return None

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if mechanism not in ("LOGIN", "PLAIN") or not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = data.login.decode("utf-8", "replace").split("@")[0].lower()
        password = data.password.decode("utf-8", "replace")
        ok = self._password(user) == password
        return AuthResult(success=ok, handled=False)


class Handler:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.rules = Rules(Path(config["rules_file"]))
        self.domain = config["domain"]

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        forced = self.rules.match("rcpt", address)
        if forced:
            return forced
        local, _, domain = address.rpartition("@")
        if domain.lower() == self.domain and not self._is_user(local.lower()):
            return "550 5.1.1 User unknown in local recipient table"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    def _is_user(self, name: str) -> bool:
        if not name or "/" in name or name.startswith("."):
            return False
        return (Path(self.config["users_dir"]) / name).is_file()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        forced = self.rules.match("data", None)
        if forced:
            return forced
        data = envelope.original_content or b""
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        local = [r for r in envelope.rcpt_tos if r.lower().endswith("@" + self.domain)]
        external = [r for r in envelope.rcpt_tos if r not in local]
        if external:
            self._keep_external(envelope.mail_from or "", external, data)
        if local:
            loop = asyncio.get_running_loop()
            error = await loop.run_in_executor(
                None, self._lmtp, envelope.mail_from or "", local, data
            )
            if error:
                return error
        return "250 2.0.0 OK: queued"

    def _keep_external(self, sender: str, recipients: list[str], data: bytes) -> None:
        folder = Path(self.config["external_dir"])
        name = f"{time.time():.6f}-{len(list(folder.iterdir()))}.eml"
        head = f"X-Sandbox-Envelope-From: {sender}\r\nX-Sandbox-Envelope-To: {', '.join(recipients)}\r\n"
        (folder / name).write_bytes(head.encode() + data)

    def _lmtp(self, sender: str, recipients: list[str], data: bytes) -> str | None:
        """Deliver through Dovecot's LMTP; LMTP answers once per accepted recipient after DATA."""
        try:
            with smtplib.LMTP(self.config["lmtp_socket"]) as lmtp:
                lmtp.ehlo("sandbox")
                lmtp.mail(sender)
                accepted = []
                for rcpt in recipients:
                    code, _ = lmtp.rcpt(rcpt)
                    if code < 300:
                        accepted.append(rcpt)
                if not accepted:
                    return "550 5.1.1 No such user here"
                code, msg = lmtp.data(data)
                for _ in accepted[1:]:
                    lmtp.getreply()
                if code >= 300:
                    return f"{code} {msg.decode(errors='replace')}"
        except (OSError, smtplib.SMTPException) as exc:
            return f"451 4.3.0 LMTP delivery failed: {exc}"
        return None


class SandboxController(Controller):
    def __init__(self, handler: Handler, *, auth_require_tls: bool, **kwargs: Any) -> None:
        self._auth_require_tls = auth_require_tls
        self._tls = kwargs.pop("starttls_context", None)
        self._authenticator = kwargs.pop("authenticator")
        super().__init__(handler, **kwargs)

    def factory(self) -> SMTP:
        # One per connection: a test turns SMTPUTF8 (RFC 6531) on or off between two sends.
        rules = Path(self.handler.config["rules_file"])
        return SMTP(
            self.handler,
            enable_SMTPUTF8=rules.with_name("smtputf8-on").exists(),
            hostname="localhost",
            tls_context=self._tls,
            require_starttls=self._tls is not None,
            auth_require_tls=self._auth_require_tls,
            authenticator=self._authenticator,
            auth_exclude_mechanism=["CRAM-MD5", "XOAUTH2"],
        )


def main(config_path: str) -> None:
    warnings.filterwarnings("ignore")
    config = json.loads(Path(config_path).read_text())
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(config["cert"], config["key"])
    auth = Authenticator(Path(config["users_dir"]))
    handler = Handler(config)
    submission = SandboxController(
        handler,
        hostname=config["host"],
        port=config["smtp_port"],
        starttls_context=context,
        authenticator=auth,
        auth_require_tls=True,
        server_hostname="localhost",
        ready_timeout=10,
    )
    implicit = SandboxController(
        handler,
        hostname=config["host"],
        port=config["smtps_port"],
        ssl_context=context,
        authenticator=auth,
        auth_require_tls=False,  # aiosmtpd does not count implicit TLS as TLS
        server_hostname="localhost",
        ready_timeout=10,
    )
    submission.start()
    implicit.start()
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    main(sys.argv[1])
