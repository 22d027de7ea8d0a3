"""A private Dovecot + SMTP submission pair on loopback, for the demo, the tests and the benchmarks.

Everything lives in one folder (put it on tmpfs): Dovecot's config, sockets, logs, passwd-file
users and Maildirs, a throw-away CA and server certificate, and the SMTP server's state. Both
servers run in their own process groups and are killed with them, so a stop leaves nothing behind;
`PR_SET_PDEATHSIG` makes them die with the process that started them, even on SIGKILL.

Run as root, Dovecot keeps its own `dovecot`/`dovenull` users and mail is owned by `nobody`
(Dovecot refuses uid 0 for mail and root for its login processes); run as anyone else, every
process runs as that user (the rootless recipe in docs/mailserver-recipe.md).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import grp
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.models import Credentials, ServerSettings, TlsMode

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
DOVECOT_IMAP = "/usr/lib/dovecot/imap"
DOMAIN = "localhost"

#: Gmail's post-login CAPABILITY less X-GM-EXT-1 and XLIST (Dovecot has neither).
GMAIL_CAPABILITY = (
    "IMAP4rev1 UNSELECT IDLE NAMESPACE QUOTA ID CHILDREN UIDPLUS COMPRESS=DEFLATE ENABLE MOVE "
    "CONDSTORE ESEARCH UTF8=ACCEPT LIST-EXTENDED LIST-STATUS LITERAL- SPECIAL-USE "
    "APPENDLIMIT=35651584"
)
#: A bare IMAP4rev1 server: no SORT, THREAD, UIDPLUS, IDLE, MOVE, CONDSTORE, SPECIAL-USE.
MINIMAL_CAPABILITY = "IMAP4rev1 CHILDREN NAMESPACE"
#: Dovecot profiles: "dovecot" (everything Dovecot has), "minimal" and "gmail-like", which cut
#: the advertised capability line after login (Dovecot still answers what it does not
#: advertise: the client must go by the line) and name the special folders differently.
PROFILES = ("dovecot", "minimal", "gmail-like")
#: The gmail-like profile's folders under `[Gmail]/` with their SPECIAL-USE flags.
GMAIL_FOLDERS = (
    ("All Mail", "\\All"),
    ("Drafts", "\\Drafts"),
    ("Important", "\\Important"),
    ("Sent Mail", "\\Sent"),
    ("Spam", "\\Junk"),
    ("Starred", "\\Flagged"),
    ("Trash", "\\Trash"),
)


class SandboxError(RuntimeError):
    """The sandbox could not be set up; the message says what is missing."""


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports: all held open together, so none is handed out twice."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _die_with_parent() -> None:
    """preexec_fn: ask the kernel to SIGKILL the child when its parent dies (Linux only)."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _become_subreaper() -> None:
    """Orphaned server processes are re-parented to us, so we can reap them (no zombies)."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(36, 1)  # PR_SET_CHILD_SUBREAPER


def _group_members(pgid: int) -> list[int]:
    """The pids of the processes in process group `pgid`, read from /proc."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(b")", 1)[-1].split()
        if len(fields) > 2 and int(fields[2]) == pgid:
            members.append(int(entry))
    return members


def _running(proc: subprocess.Popen[bytes]) -> Callable[[], bool]:
    return lambda: proc.poll() is None


def _wait_greeting(
    port: int,
    deadline: float,
    *,
    tls: ssl.SSLContext | None = None,
    alive: Callable[[], bool] | None = None,
) -> bytes:
    """Dovecot accepts TCP before auth is ready: only a greeting means ready. `alive` says
    whether the server process still runs (a dead one is not waited for)."""
    last: Exception | None = None
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise SandboxError(f"the server on port {port} exited")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as raw:
                if tls is not None:
                    with tls.wrap_socket(raw, server_hostname="localhost") as wrapped:
                        data = wrapped.recv(4096)
                else:
                    data = raw.recv(4096)
                if data.startswith((b"* OK", b"220")):
                    return data
        except OSError as exc:
            last = exc
        time.sleep(0.02)
    raise SandboxError(f"no greeting on port {port}: {last}")


def make_certificates(etc: Path) -> None:
    """A throw-away CA and a server certificate for localhost and 127.0.0.1 signed by it."""

    def run(*args: str) -> None:
        subprocess.run(args, check=True, capture_output=True, cwd=etc)

    curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("openssl", "req", "-x509", *curve, "-days", "3", "-keyout", "ca-key.pem",
        "-out", "ca.pem", "-subj", "/CN=termail sandbox CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    run("openssl", "req", *curve, "-keyout", "key.pem", "-out", "server.csr",
        "-subj", "/CN=localhost")  # fmt: skip
    (etc / "ext.cnf").write_text(
        "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
        "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
    )
    run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey",
        "ca-key.pem", "-CAcreateserial", "-days", "2", "-out", "cert.pem",
        "-extfile", "ext.cnf")  # fmt: skip
    os.chmod(etc / "key.pem", 0o600)


@dataclass
class SandboxUser:
    """A mail user of the sandbox, with ready-made client settings."""

    sandbox: Sandbox
    name: str
    password: str

    @property
    def address(self) -> str:
        return f"{self.name}@{DOMAIN}"

    @property
    def maildir(self) -> Path:
        return self.sandbox.mail_root / self.name / "Maildir"

    def imap_settings(self, tls: TlsMode = TlsMode.STARTTLS, **overrides: Any) -> ServerSettings:
        port = self.sandbox.imaps_port if tls is TlsMode.IMPLICIT else self.sandbox.imap_port
        values: dict[str, Any] = {
            "host": self.sandbox.host,
            "port": port,
            "user": self.name,
            "tls": tls,
            "ca_file": str(self.sandbox.ca_file),
            "timeout": 30.0,
        }
        values.update(overrides)
        return ServerSettings(**values)

    def smtp_settings(self, tls: TlsMode = TlsMode.STARTTLS, **overrides: Any) -> ServerSettings:
        port = self.sandbox.smtps_port if tls is TlsMode.IMPLICIT else self.sandbox.smtp_port
        values: dict[str, Any] = {
            "host": self.sandbox.host,
            "port": port,
            "user": self.name,
            "tls": tls,
            "ca_file": str(self.sandbox.ca_file),
            "timeout": 30.0,
        }
        values.update(overrides)
        return ServerSettings(**values)

    def tunnel_settings(self) -> ServerSettings:
        return ServerSettings(
            host="",
            port=0,
            user=self.name,
            tls=TlsMode.NONE,
            tunnel=self.sandbox.tunnel_command(self.name),
        )

    def credentials(self) -> Credentials:
        return Credentials(username=self.name, password=self.password)


@dataclass
class Sandbox:
    """A Dovecot (IMAP, IMAPS, LMTP) and an SMTP submission server in `root`."""

    root: Path
    host: str = "127.0.0.1"
    profile: str = "dovecot"
    """One of PROFILES: what the IMAP server advertises and how its special folders are named."""
    special_folders: bool = True
    """False: the special folders (Trash, Sent, …) are not made at all, as on a fresh server
    without SPECIAL-USE where no client created them yet (tests of "there is no Trash")."""
    users: dict[str, str] = field(default_factory=dict)
    imap_port: int = 0
    imaps_port: int = 0
    lmtp_port: int = 0
    smtp_port: int = 0
    smtps_port: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    _dovecot: subprocess.Popen[bytes] | None = None
    _smtpd: subprocess.Popen[bytes] | None = None
    _started: bool = False

    # -- paths -------------------------------------------------------------------------------
    @property
    def etc(self) -> Path:
        return self.root / "etc"

    @property
    def conf(self) -> Path:
        return self.etc / "dovecot.conf"

    @property
    def ca_file(self) -> Path:
        return self.etc / "ca.pem"

    @property
    def mail_root(self) -> Path:
        return self.root / "mail"

    @property
    def rules_file(self) -> Path:
        return self.root / "smtp-rules.json"

    @property
    def external_outbox(self) -> Path:
        """Where the SMTP server keeps mail for recipients outside the sandbox."""
        return self.root / "external"

    @property
    def is_root(self) -> bool:
        return os.geteuid() == 0

    def _mail_ids(self) -> tuple[int, int]:
        if self.is_root:
            return pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid
        return os.getuid(), os.getgid()

    # -- start / stop ------------------------------------------------------------------------
    def start(self) -> Sandbox:
        if not os.path.exists(DOVECOT) or not os.path.exists(DOVECOT_IMAP):
            raise SandboxError(
                "Dovecot is not installed: apt-get install dovecot-imapd dovecot-lmtpd "
                "(make test and make demo do this for you)"
            )
        t0 = time.monotonic()
        os.chmod(self.root, 0o755)  # Dovecot's unprivileged processes must reach etc/ and run/
        _become_subreaper()
        for sub in ("etc", "run", "state", "log", "mail", "external", "smtp"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        ports = free_ports(5)
        self.imap_port, self.imaps_port, self.lmtp_port, self.smtp_port, self.smtps_port = ports
        self._make_certificates()
        self._write_users()
        self._write_dovecot_conf()
        uid, gid = self._mail_ids()
        os.chown(self.mail_root, uid, gid)
        self.rules_file.write_text("[]")
        self.timings["prepare_s"] = time.monotonic() - t0
        atexit.register(self.stop)
        self._started = True
        self.start_dovecot()
        self._start_smtpd()
        self.timings["start_s"] = time.monotonic() - t0
        self._write_state()
        return self

    def start_dovecot(self) -> None:
        """Start Dovecot on the sandbox's ports; returns once both IMAP ports greet.

        A restart (fault tests) reuses the ports, and on a busy machine another program's
        passing connection may hold one for a moment ("Address already in use"): then the
        start is tried again, for up to 20 s, instead of leaving the session without Dovecot.
        """
        t0 = time.monotonic()
        deadline = t0 + 20
        stderr_path = self.root / "log" / "dovecot.stderr"
        while True:
            offset = stderr_path.stat().st_size if stderr_path.exists() else 0
            log = open(stderr_path, "ab")  # noqa: SIM115
            self._dovecot = subprocess.Popen(
                [DOVECOT, "-F", "-c", str(self.conf)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
            log.close()
            alive = _running(self._dovecot)
            try:
                wait_until = min(deadline, time.monotonic() + 15)
                _wait_greeting(self.imap_port, wait_until, alive=alive)
                _wait_greeting(
                    self.imaps_port, wait_until, tls=self.client_ssl_context(), alive=alive
                )
            except SandboxError:
                self._kill(self._dovecot)
                said = stderr_path.read_bytes()[offset:] if stderr_path.exists() else b""
                if b"Address already in use" in said and time.monotonic() < deadline:
                    time.sleep(0.5)
                    continue
                raise SandboxError(
                    f"Dovecot did not start; its log:\n{self.dovecot_log()[-3000:]}"
                ) from None
            break
        self.timings["dovecot_start_s"] = time.monotonic() - t0

    def stop_dovecot(self) -> None:
        """Kill Dovecot and every child of it (fault tests restart it with start_dovecot).

        The servers are started with PR_SET_PDEATHSIG, which fires when the *thread* that
        started them exits: start them again from a thread that lives as long as the test
        (not through `asyncio.to_thread`, whose worker may end first).
        """
        self._kill(self._dovecot)
        self._dovecot = None

    def stop_smtpd(self) -> None:
        """Kill the SMTP submission server (fault tests restart it with start_smtpd)."""
        self._kill(self._smtpd)
        self._smtpd = None

    def start_smtpd(self) -> None:
        """Start the SMTP submission server again on the same ports; returns once it greets."""
        self._start_smtpd()

    def _start_smtpd(self) -> None:
        config = {
            "host": self.host,
            "smtp_port": self.smtp_port,
            "smtps_port": self.smtps_port,
            "cert": str(self.etc / "cert.pem"),
            "key": str(self.etc / "key.pem"),
            "users_dir": str(self.users_dir),
            "lmtp_socket": str(self.root / "run" / "lmtp"),
            "rules_file": str(self.rules_file),
            "external_dir": str(self.external_outbox),
            "domain": DOMAIN,
        }
        config_path = self.root / "smtp" / "config.json"
        config_path.write_text(json.dumps(config))
        log = open(self.root / "log" / "smtpd.log", "ab")  # noqa: SIM115
        self._smtpd = subprocess.Popen(
            [sys.executable, "-m", "app.sandbox.smtpd", str(config_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,
            preexec_fn=_die_with_parent,
            cwd=str(Path(__file__).resolve().parents[2]),
        )
        log.close()
        assert self._smtpd.stdout is not None
        line = self._smtpd.stdout.readline()
        if not line.startswith(b"READY"):
            self._kill(self._smtpd)
            text = (self.root / "log" / "smtpd.log").read_text(errors="replace")
            raise SandboxError(f"the SMTP server did not start:\n{text[-3000:]}")
        _wait_greeting(self.smtp_port, time.monotonic() + 10)

    def stop(self, remove: bool = False) -> None:
        """Kill both servers with their process groups; with `remove`, delete the folder."""
        t0 = time.monotonic()
        self._kill(self._smtpd)
        self._kill(self._dovecot)
        self._smtpd = self._dovecot = None
        self.timings["stop_s"] = time.monotonic() - t0
        if remove:
            shutil.rmtree(self.root, ignore_errors=True)
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)

    @staticmethod
    def _kill(proc: subprocess.Popen[bytes] | None) -> None:
        """SIGKILL the whole process group, then reap every member (we are their subreaper)."""
        if proc is None:
            return
        members = _group_members(proc.pid)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            proc.wait(timeout=5)
        for pid in members:
            if pid == proc.pid:
                continue
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, 0)
        if proc.stdout:
            proc.stdout.close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop(remove=True)

    def pids(self) -> list[int]:
        return [p.pid for p in (self._dovecot, self._smtpd) if p is not None]

    def dovecot_log(self) -> str:
        parts = []
        for name in ("dovecot.log", "dovecot.stderr"):
            path = self.root / "log" / name
            if path.exists():
                parts.append(path.read_text(errors="replace"))
        return "\n".join(parts)

    # -- configuration files -------------------------------------------------------------------
    def _make_certificates(self) -> None:
        make_certificates(self.etc)

    def client_ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    @property
    def users_dir(self) -> Path:
        """One passwd-file per user: Dovecot re-reads a shared file at most once a second, so a
        user added right after another could not log in; a file of its own is read at once."""
        return self.etc / "users.d"

    def _write_users(self) -> None:
        self.users_dir.mkdir(exist_ok=True)
        os.chmod(self.users_dir, 0o755)
        for name, pw in self.users.items():
            path = self.users_dir / name
            if path.exists():
                continue
            tmp = self.users_dir / f".{name}.tmp"
            tmp.write_text(f"{name}:{{PLAIN}}{pw}::::::\n")
            os.chmod(tmp, 0o644)
            tmp.replace(path)

    def _write_dovecot_conf(self) -> None:
        uid, gid = self._mail_ids()
        r = self.root
        if self.is_root:
            internal, internal_group, login = "dovecot", "dovecot", "dovenull"
        else:
            internal = login = pwd.getpwuid(os.getuid()).pw_name
            internal_group = grp.getgrgid(os.getgid()).gr_name
        if self.profile not in PROFILES:
            raise SandboxError(f"unknown sandbox profile {self.profile!r}: one of {PROFILES}")
        names = ("Drafts", "Sent", "Trash", "Junk", "Archive")
        if self.profile == "gmail-like":
            mailboxes = "".join(
                f'  mailbox "[Gmail]/{name}" {{\n    special_use = {use}\n    auto = subscribe\n  }}\n'
                for name, use in GMAIL_FOLDERS
            )
        elif self.profile == "minimal":  # the folders exist, but nothing says what they are for
            mailboxes = "".join(
                f"  mailbox {name} {{\n    auto = subscribe\n  }}\n" for name in names
            )
        else:
            mailboxes = "".join(
                f"  mailbox {name} {{\n    special_use = \\{name}\n    auto = subscribe\n  }}\n"
                for name in names
            )
        plugins = "imap_zlib"
        extra = ""
        if self.profile == "gmail-like":
            plugins = "imap_zlib imap_quota"
            extra = (
                "mail_plugins = $mail_plugins quota zlib\n"
                "plugin {\n  quota = count:User quota\n  quota_rule = *:storage=15G\n"
                "  quota_vsizes = yes\n}\n"
                "imap_literal_minus = yes\n"
                "login_greeting = Gimap ready for requests\n"
                'imap_id_send = name GImap vendor "Google, Inc."\n'
            )
        capability = {"minimal": MINIMAL_CAPABILITY, "gmail-like": GMAIL_CAPABILITY}.get(
            self.profile
        )
        imap_capability = f"  imap_capability = {capability}\n" if capability else ""
        if not self.special_folders:
            mailboxes = ""
        self.conf.write_text(
            f"""instance_name = termail-{secrets.token_hex(4)}
base_dir = {r}/run
state_dir = {r}/state
protocols = imap lmtp
listen = 127.0.0.1
log_path = {r}/log/dovecot.log
info_log_path = {r}/log/dovecot.log
default_internal_user = {internal}
default_internal_group = {internal_group}
default_login_user = {login}
first_valid_uid = 1
first_valid_gid = 1
ssl = yes
ssl_cert = <{r}/etc/cert.pem
ssl_key = <{r}/etc/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
# A refused login is answered at once and costs the next one nothing: Dovecot's defaults (2 s
# per failure, then an IP penalty of 4-15 s on the next login from 127.0.0.1, whoever it is)
# guard a public server; here they only made every test after a wrong-password test wait.
auth_failure_delay = 0
auth_username_format = %Ln
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {r}/etc/users.d/%n
}}
userdb {{
  driver = passwd-file
  args = {r}/etc/users.d/%n
  default_fields = uid={uid} gid={gid} home={r}/mail/%n
}}
mail_location = maildir:~/Maildir
mail_fsync = never
# Dovecot's default 256 MB per process ends the imap process that indexes or sorts a
# 1,000,000-message INBOX (bench.million); the peers' harness sets the same.
default_vsz_limit = 4G
mail_max_userip_connections = 500
{extra}namespace inbox {{
  inbox = yes
  separator = /
{mailboxes}}}
protocol imap {{
  mail_max_userip_connections = 500
  mail_plugins = $mail_plugins {plugins}
{imap_capability}}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.imaps_port}
    ssl = yes
  }}
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0666
  }}
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.lmtp_port}
  }}
}}
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service ipc {{
  chroot =
}}
service old-stats {{
  chroot =
}}
service imap-urlauth-login {{
  chroot =
}}
protocol lmtp {{
  postmaster_address = postmaster@localhost
}}
"""
        )

    def _write_state(self) -> None:
        state = {
            "root": str(self.root),
            "host": self.host,
            "imap_port": self.imap_port,
            "imaps_port": self.imaps_port,
            "smtp_port": self.smtp_port,
            "smtps_port": self.smtps_port,
            "lmtp_port": self.lmtp_port,
            "ca_file": str(self.ca_file),
            "users": self.users,
            "pids": self.pids(),
            "timings": self.timings,
        }
        (self.root / "state.json").write_text(json.dumps(state, indent=2))

    # -- users and mail ------------------------------------------------------------------------
    def add_user(self, name: str, password: str | None = None) -> SandboxUser:
        """A new user, usable at once (passwd-file is re-read when it changes)."""
        password = password or f"{name}-{secrets.token_hex(4)}"
        self.users[name] = password
        if self._started:
            self._write_users()
            self.ensure_maildir(name)
            self._write_state()
        return SandboxUser(self, name, password)

    def user(self, name: str) -> SandboxUser:
        return SandboxUser(self, name, self.users[name])

    def ensure_maildir(self, user: str, mailbox: str = "INBOX") -> Path:
        """The Maildir folder of `mailbox` ("INBOX", or a "/"-separated path), created if new."""
        home = self.mail_root / user
        base = home / "Maildir"
        path = base if mailbox.upper() == "INBOX" else base / ("." + mailbox.replace("/", "."))
        created = []
        for p in (home, base, path):
            if not p.exists():
                p.mkdir()
                created.append(p)
        for sub in ("cur", "new", "tmp"):
            if not (path / sub).exists():
                (path / sub).mkdir()
                created.append(path / sub)
        if mailbox.upper() != "INBOX":
            created.extend(self._subscribe(base, mailbox))
        self._chown(created)
        return path

    def _subscribe(self, base: Path, mailbox: str) -> list[Path]:
        subs = base / "subscriptions"
        existing = subs.read_text().splitlines() if subs.exists() else []
        if mailbox not in existing:
            with subs.open("a") as f:
                f.write(mailbox + "\n")
        return [subs]

    def _chown(self, paths: list[Path]) -> None:
        if not self.is_root:
            return
        uid, gid = self._mail_ids()
        for p in paths:
            os.chown(p, uid, gid)

    def deliver(
        self,
        user: str,
        data: bytes,
        mailbox: str = "INBOX",
        flags: str = "",
        *,
        when: float | None = None,
    ) -> Path:
        """Put one message straight into a Maildir: `flags` in Maildir letters (S, F, R, D, T)."""
        from app.sandbox.seed import maildir_name

        folder = self.ensure_maildir(user, mailbox)
        data = data.replace(b"\r\n", b"\n")
        name = maildir_name(data, flags)
        sub = "cur" if flags else "new"
        target = folder / sub / (name if flags else name.split(":2,")[0])
        tmp = folder / "tmp" / target.name
        tmp.write_bytes(data)
        if when is not None:
            os.utime(tmp, (when, when))
        self._chown([tmp])
        tmp.replace(target)
        return target

    def seed_generated(self, user: str, n: int, mailbox: str = "INBOX", seed: int = 0) -> int:
        """Bulk-write `n` generated messages (Dovecot indexes them on the next SELECT)."""
        from app.sandbox.seed import write_generated

        folder = self.ensure_maildir(user, mailbox)
        count = write_generated(folder / "cur", n, seed=seed)
        if self.is_root:
            uid, gid = self._mail_ids()
            subprocess.run(["chown", "-R", f"{uid}:{gid}", str(folder)], check=True)
        return count

    def tunnel_command(self, user: str) -> str:
        """A shell command speaking IMAP (PREAUTH) on stdin/stdout, as mutt's `tunnel` runs."""
        maildir = self.mail_root / user / "Maildir"
        self.ensure_maildir(user)
        extra = ""
        if self.is_root:
            extra = " -o mail_uid=nobody -o mail_gid=nogroup"
        return (
            f"env -i USER={user} HOME={self.mail_root / user} {DOVECOT_IMAP} -c {self.conf}"
            f" -o mail_location=maildir:{maildir} -o log_path=/dev/null{extra}"
        )

    # -- SMTP behaviour ------------------------------------------------------------------------
    def force_smtp_reply(
        self,
        code: int,
        recipient: str | None = None,
        text: str | None = None,
        times: int | None = None,
        stage: str | None = None,
    ) -> None:
        """Make the SMTP server answer `code` for `recipient` (RCPT) or for any message (DATA)."""
        rules = json.loads(self.rules_file.read_text())
        rules.append(
            {
                "code": code,
                "recipient": recipient.lower() if recipient else None,
                "text": text,
                "times": times,
                "stage": stage or ("rcpt" if recipient else "data"),
            }
        )
        tmp = self.rules_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(rules))
        tmp.replace(self.rules_file)

    def clear_smtp_rules(self) -> None:
        self.rules_file.write_text("[]")
        self.offer_smtputf8(False)

    def offer_smtputf8(self, on: bool = True) -> None:
        """Make the SMTP server offer SMTPUTF8 (RFC 6531) from its next connection; off by
        default, as aiosmtpd's own default."""
        flag = self.rules_file.with_name("smtputf8-on")
        if on:
            flag.touch()
        else:
            flag.unlink(missing_ok=True)
