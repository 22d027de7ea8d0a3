"""Cyrus IMAP, Courier-IMAP and Postfix on loopback, unpacked from Debian packages.

Their packages conflict with dovecot-imapd (`imap-server`), so they are never installed: they
are fetched with `apt-get download`, unpacked with `dpkg -x` into a cached private root
(`interop_root()`, about 40 MB, made once) and each server runs in a private mount namespace
where that root lies over /usr and its own /etc (users, config) over /etc. Nothing system-wide
changes: no package, user or service. The recipe, with the reasons for each setting, is
docs/interop-recipe.md in ../shared.

Needs root (mount namespaces, overlayfs) and, for the first set-up, the Debian archive. Anything
missing raises SandboxError saying what, and the tests skip the kind with that reason.

- `cyrus`: Cyrus IMAP 3.6 in Debian's layout (`INBOX.` prefix, `.` separator), its first login
  making Sent, Drafts, Trash, Junk (SPECIAL-USE); Postfix delivers into it by LMTP.
- `courier`: Courier-IMAP 5.0 (`INBOX.`, `.`, no SPECIAL-USE): every user starts with
  INBOX.Trash, INBOX.Sent and INBOX.Drafts, as a mail program used before would have left them;
  Postfix delivers into its Maildirs (a pipe(8) transport).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from app.mime.termout import say
from app.sandbox.server import (
    SandboxError,
    _become_subreaper,
    _die_with_parent,
    _wait_greeting,
    free_ports,
    make_certificates,
)
from app.sandbox.users import KindUser

#: What a Dovecot-only Debian 12 lacks to run the three servers.
PACKAGES = [
    "cyrus-imapd",
    "cyrus-common",
    "libclamav12",
    "libmspack0",
    "libical3",
    "libxapian30",
    "libzephyr4",
    "libpcre3",
    "sasl2-bin",
    "courier-imap",
    "courier-base",
    "courier-authlib",
    "courier-authdaemon",
    "courier-authlib-userdb",
    "libcourier-unicode4",
    "libgamin0",
    "gamin",
    "libidn12",
    "libltdl7",
    "postfix",
    "libsasl2-2",
    "libsasl2-modules",
    "libsasl2-modules-db",
]
#: Private uids/gids, known only to the namespaces' own /etc/passwd.
CYRUS_UID, POSTFIX_UID, POSTDROP_GID, COURIER_MAIL_UID, COURIER_UID = (
    61001,
    61002,
    61003,
    61004,
    61006,
)
MAIL_GID = 8
#: Bump when PACKAGES or the unpacking changes: a new cache is made beside the old.
ROOT_VERSION = "1"

NS_SCRIPT = """#!/bin/sh
# ns CMD...: run CMD with $WORK/etc + the unpacked root over /etc and /usr and a private /run
exec unshare --mount --propagation private -- sh -ec '
  mount -t overlay overlay -o lowerdir="$WORK/etc:$NSROOT/etc:/etc" /etc
  mount -t overlay overlay -o lowerdir="$NSROOT/usr:/usr" /usr
  mount -t tmpfs tmpfs /run; mkdir -p /run/courier/authdaemon
  exec "$@"' ns "$@"
"""


def interop_root() -> Path:
    """Where the unpacked packages are cached: $TERMAIL_INTEROP_ROOT, else ~/.cache."""
    override = os.environ.get("TERMAIL_INTEROP_ROOT")
    if override:
        return Path(override)
    return Path.home() / ".cache" / "termail-interop" / f"root-{ROOT_VERSION}"


def _check_host() -> None:
    if os.geteuid() != 0:
        raise SandboxError("Cyrus, Courier and Postfix run in mount namespaces: needs root")
    for tool in ("unshare", "apt-get", "dpkg"):
        if shutil.which(tool) is None:
            raise SandboxError(f"{tool} is missing (Debian 12 is assumed)")


def _run(args: Sequence[str], what: str, **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(list(args), check=True, capture_output=True, **kwargs)  # type: ignore[call-overload, no-any-return]
    except subprocess.CalledProcessError as exc:
        out = (exc.stderr or b"").decode(errors="replace").strip()[-800:]
        raise SandboxError(f"{what} failed ({exc.returncode}): {out}") from None
    except OSError as exc:
        raise SandboxError(f"{what} failed: {exc}") from None


def ensure_packages() -> Path:
    """The unpacked root, downloading and unpacking it the first time (a few seconds)."""
    _check_host()
    root = interop_root()
    if (root / ".complete").exists():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="unpack-", dir=root.parent))
    try:
        debs = work / "debs"
        debs.mkdir()
        download = ["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", *PACKAGES]
        try:
            _run(download, "apt-get download", cwd=debs)
        except SandboxError:
            # A fresh system has no package lists yet.
            _run(["apt-get", "update", "-qq"], "apt-get update")
            _run(download, "apt-get download", cwd=debs)
        tree = work / "root"
        for deb in sorted(debs.glob("*.deb")):
            _run(["dpkg", "-x", str(deb), str(tree)], f"dpkg -x {deb.name}")
        if (tree / "lib").is_dir():  # merged /usr: the namespace lays only usr/ over /usr
            _run(["cp", "-a", f"{tree / 'lib'}/.", str(tree / "usr" / "lib")], "cp lib")
            shutil.rmtree(tree / "lib")
        (tree / ".complete").write_text(" ".join(PACKAGES) + "\n")
        try:
            tree.rename(root)
        except OSError:
            if not (root / ".complete").exists():  # another run won the race: use theirs
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return root


class _Proc:
    """A server started through the namespace wrapper, in a session of its own."""

    def __init__(self, args: Sequence[str], env: dict[str, str], log: Path) -> None:
        with log.open("ab") as out:
            self.popen = subprocess.Popen(
                list(args),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                env=env,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )

    def stop(self) -> None:
        """SIGTERM, then SIGKILL whatever is left of its session; reap them all."""
        pid = self.popen.pid
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=3)
        for member in _session_members(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(member, signal.SIGKILL)
        with contextlib.suppress(Exception):
            self.popen.kill()
            self.popen.wait(timeout=3)
        for member in _session_members(pid):
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(member, os.WNOHANG)


def _session_members(sid: int) -> list[int]:
    """Pids whose session is `sid` (read from /proc): the processes one server start made."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(b")", 1)[-1].split()
        if len(fields) > 3 and int(fields[3]) == sid:
            found.append(int(entry))
    return found


class _Work:
    """The per-run folder: namespace wrapper, private /etc, certificate, logs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.pkgroot = ensure_packages()
        _become_subreaper()
        os.chmod(root, 0o755)  # the servers' own uids must reach it
        (root / "etc").mkdir()
        (root / "tls").mkdir()
        (root / "log").mkdir()
        self.ns = root / "ns"
        self.ns.write_text(NS_SCRIPT)
        self.ns.chmod(0o755)
        self._write_passwd()
        make_certificates(root / "tls")
        tls = root / "tls"
        (tls / "combined.pem").write_bytes(
            (tls / "key.pem").read_bytes() + (tls / "cert.pem").read_bytes()
        )
        for pem in tls.glob("*.pem"):
            pem.chmod(0o644)  # a test-only key, read by the servers' own uids
        self.env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "WORK": str(root),
            "NSROOT": str(self.pkgroot),
            "LANG": "C",
        }
        # Fails clearly where namespaces or overlayfs are not allowed (an unprivileged container).
        self.run("true", what="a mount namespace (unshare + overlayfs)")

    @property
    def cert(self) -> Path:
        return self.root / "tls" / "cert.pem"

    @property
    def key(self) -> Path:
        return self.root / "tls" / "key.pem"

    @property
    def ca_file(self) -> Path:
        return self.root / "tls" / "ca.pem"

    def _write_passwd(self) -> None:
        ours = ("cyrus", "postfix", "postdrop", "cour", "courier")
        lines = [
            line
            for line in Path("/etc/passwd").read_text().splitlines()
            if line.split(":", 1)[0] not in ours
        ]
        lines += [
            f"cyrus:x:{CYRUS_UID}:{MAIL_GID}::/nonexistent:/usr/sbin/nologin",
            f"postfix:x:{POSTFIX_UID}:{POSTFIX_UID}::/nonexistent:/usr/sbin/nologin",
            # Courier's imapd uses gamin, which names its socket after the user: without this
            # entry every LOGIN, SELECT and APPEND took 1.2 s.
            f"cour:x:{COURIER_MAIL_UID}:{COURIER_MAIL_UID}::/nonexistent:/usr/sbin/nologin",
            # imaplogin runs the STARTTLS helper as `courier`.
            f"courier:x:{COURIER_UID}:{COURIER_UID}::/nonexistent:/usr/sbin/nologin",
        ]
        (self.root / "etc" / "passwd").write_text("\n".join(lines) + "\n")
        groups = [
            line
            for line in Path("/etc/group").read_text().splitlines()
            if line.split(":", 1)[0] not in ours
        ]
        groups += [
            f"postfix:x:{POSTFIX_UID}:",
            f"postdrop:x:{POSTDROP_GID}:",
            f"cour:x:{COURIER_MAIL_UID}:",
            f"courier:x:{COURIER_UID}:",
        ]
        (self.root / "etc" / "group").write_text("\n".join(groups) + "\n")

    def run(self, *args: str, what: str, stdin: bytes | None = None) -> None:
        """Run a command of the unpacked packages in a namespace, to its end."""
        _run([str(self.ns), *args], what, input=stdin, env=self.env)

    def start(self, *args: str, log: str, env: dict[str, str] | None = None) -> _Proc:
        return _Proc([str(self.ns), *args], {**self.env, **(env or {})}, self.root / "log" / log)

    def log_tail(self, name: str) -> str:
        path = self.root / "log" / name
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""


class Postfix:
    """Postfix 3.7 for submission: STARTTLS on `port`, implicit TLS on `tls_port`, SASL
    PLAIN/LOGIN from its own sasldb; `*@localhost` goes to `transport` (LMTP into Cyrus, or
    a pipe(8) into Courier's Maildirs); `reject@localhost` gets 554; other domains are
    accepted and dropped."""

    def __init__(self, work: _Work, transport: list[str], master: Sequence[str] = ()) -> None:
        self.work = work
        self.dir = work.root / "postfix"
        self.port, self.tls_port = free_ports(2)
        etc = self.dir / "etc"
        (etc / "sasl").mkdir(parents=True)
        (self.dir / "queue").mkdir()
        (etc / "main.cf").touch()
        shutil.copy(work.pkgroot / "usr/share/postfix/master.cf.dist", etc / "master.cf")
        d = self.dir
        settings = [
            "compatibility_level=3.6",
            f"queue_directory={d}/queue",
            f"data_directory={d}/data",
            "mail_owner=postfix",
            "setgid_group=postdrop",
            "myhostname=localhost",
            "myorigin=localhost",
            "inet_interfaces=127.0.0.1",
            "inet_protocols=ipv4",
            "mydestination=",
            "alias_maps=",
            "alias_database=",
            "local_transport=error:no local delivery",
            "virtual_mailbox_domains=localhost",
            "default_transport=discard:not delivered in tests",
            f"smtpd_tls_cert_file={work.cert}",
            f"smtpd_tls_key_file={work.key}",
            "smtpd_sasl_type=cyrus",
            "smtpd_sasl_path=smtpd",
            "smtpd_sasl_local_domain=localhost",
            f"maillog_file={d}/maillog",
            f"maillog_file_prefixes={d}",
            *transport,
        ]
        self.postconf("-e", *settings)
        self.postconf("-MX", "smtp/inet")  # no port 25
        self.postconf("-F", "*/*/chroot = n")
        restrictions = (
            " -o smtpd_sasl_auth_enable=yes"
            " -o smtpd_client_restrictions=permit_sasl_authenticated,reject"
            " -o smtpd_relay_restrictions=permit_sasl_authenticated,reject"
            " -o smtpd_recipient_restrictions=check_recipient_access,"
            "inline:{reject@localhost=REJECT},permit_sasl_authenticated,reject"
        )
        with (etc / "master.cf").open("a") as f:
            f.write(
                f"127.0.0.1:{self.port} inet n - n - - smtpd"
                f" -o smtpd_tls_security_level=encrypt -o smtpd_tls_auth_only=yes{restrictions}\n"
                f"127.0.0.1:{self.tls_port} inet n - n - - smtpd"
                f" -o smtpd_tls_wrappermode=yes{restrictions}\n"
            )
            f.writelines(line + "\n" for line in master)
        # This build reads <config_directory>/sasl/smtpd.conf (not cyrus_sasl_config_path).
        (etc / "sasl" / "smtpd.conf").write_text(
            f"pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: {d}/sasldb2\n"
            "mech_list: PLAIN LOGIN\n"
        )
        self.add_user("postmaster", secrets.token_hex(8))
        # `check` makes queue/ and data/ with the right owners; its setgid warnings only matter
        # for sendmail(1).
        with contextlib.suppress(SandboxError):
            work.run("/usr/sbin/postfix", "-c", str(etc), "check", what="postfix check")
        self.proc = work.start(
            "/usr/lib/postfix/sbin/master", "-c", str(etc), "-s", log="postfix-master.log"
        )
        deadline = time.monotonic() + 20
        try:
            _wait_greeting(self.port, deadline)
            _wait_greeting(self.tls_port, deadline, tls=_client_ssl(work.ca_file))
        except SandboxError:
            self.stop()
            maillog = d / "maillog"
            tail = maillog.read_text(errors="replace")[-2000:] if maillog.exists() else ""
            raise SandboxError(
                f"Postfix did not start: {work.log_tail('postfix-master.log')}{tail}"
            ) from None

    def postconf(self, *args: str) -> None:
        self.work.run("/usr/sbin/postconf", "-c", str(self.dir / "etc"), *args, what="postconf")

    def add_user(self, name: str, password: str) -> None:
        sasldb = self.dir / "sasldb2"
        self.work.run(
            "/usr/sbin/saslpasswd2", "-p", "-c", "-u", "localhost", "-f", str(sasldb), name,
            what="saslpasswd2 (postfix)", stdin=password.encode(),
        )  # fmt: skip
        os.chown(sasldb, POSTFIX_UID, -1)

    def stop(self) -> None:
        proc = getattr(self, "proc", None)
        if proc is not None:
            proc.stop()


def _client_ssl(ca_file: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca_file))


class _Kind:
    """What Cyrus and Courier share: the TLS files, the Postfix in front, the mailbox names
    (Debian's layout for both: INBOX. and "."), the start check and the stop."""

    kind = ""
    host = "127.0.0.1"
    prefix = "INBOX."
    separator = "."

    def __init__(self, root: Path) -> None:
        self.work = _Work(root)
        self.postfix: Postfix | None = None
        self.proc: _Proc | None = None

    @property
    def ca_file(self) -> Path:
        return self.work.ca_file

    @property
    def smtp_port(self) -> int:
        return self.postfix.port if self.postfix else 0

    @property
    def smtps_port(self) -> int:
        return self.postfix.tls_port if self.postfix else 0

    def mailbox(self, path: str) -> str:
        if path.upper() == "INBOX":
            return "INBOX"
        return self.prefix + path.replace("/", self.separator)

    def _greeted(self, what: str, log: str, ports: Sequence[tuple[int, bool]]) -> None:
        """Every (port, implicit TLS) greets within 20 s; else stopped, and SandboxError with
        the tail of its log."""
        deadline = time.monotonic() + 20
        try:
            for port, tls in ports:
                _wait_greeting(port, deadline, tls=_client_ssl(self.ca_file) if tls else None)
        except SandboxError as exc:
            self.stop()
            raise SandboxError(f"{what} did not start ({exc}): {self.work.log_tail(log)}") from None

    def stop(self) -> None:
        if self.postfix is not None:
            self.postfix.stop()
            self.postfix = None
        if self.proc is not None:
            self.proc.stop()
            self.proc = None


class CyrusKind(_Kind):
    """Cyrus IMAP 3.6.1: IMAP with STARTTLS, IMAPS, LMTP; Postfix submission into it."""

    kind = "cyrus"

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self._count = 0
        w = self.work
        c = self.dir = root / "cyrus"
        for sub in ("config/socket", "config/proc", "config/lock", "spool", "sieve"):
            (c / sub).mkdir(parents=True)
        self.imap_port, self.imaps_port, self.lmtp_port = free_ports(3)
        # Debian's layout (altnamespace/unixhierarchysep no): INBOX. and ".".
        conf = [
            f"configdirectory: {c}/config",
            f"partition-default: {c}/spool",
            f"sievedir: {c}/sieve",
            "servername: localhost",
            "altnamespace: no",
            "unixhierarchysep: no",
            "allowplaintext: yes",
            "sasl_pwcheck_method: auxprop",
            "sasl_auxprop_plugin: sasldb",
            f"sasl_sasldb_path: {c}/sasldb2",
            "sasl_mech_list: PLAIN LOGIN",
            f"tls_server_cert: {w.cert}",
            f"tls_server_key: {w.key}",
            "autocreate_quota: 0",
            "autocreate_inbox_folders: Sent|Drafts|Trash|Junk",
            "autocreate_subscribe_folders: Sent|Drafts|Trash|Junk",
            "specialusealways: 1",
            "xlist-sent: Sent",
            "xlist-drafts: Drafts",
            "xlist-trash: Trash",
            "xlist-junk: Junk",
        ]
        (c / "imapd.conf").write_text("\n".join(conf) + "\n")
        b = "/usr/lib/cyrus/bin"
        # A one-line START { ... } is silently ignored (then idled and the DBs are missing).
        (c / "cyrus.conf").write_text(
            "START {\n"
            f'  recover cmd="{b}/ctl_cyrusdb -C {c}/imapd.conf -r"\n'
            "}\nSERVICES {\n"
            f'  imap cmd="{b}/imapd -C {c}/imapd.conf" listen="127.0.0.1:{self.imap_port}" prefork=0\n'
            f'  imaps cmd="{b}/imapd -s -C {c}/imapd.conf" listen="127.0.0.1:{self.imaps_port}" prefork=0\n'
            f'  lmtp cmd="{b}/lmtpd -a -C {c}/imapd.conf" listen="127.0.0.1:{self.lmtp_port}" prefork=0\n'
            "}\nDAEMON {\n"
            f'  idled cmd="{b}/idled -C {c}/imapd.conf"\n'
            "}\n"
        )
        self._saslpasswd("cyrus-admin", secrets.token_hex(8))
        _run(["chown", "-R", f"{CYRUS_UID}:{MAIL_GID}", str(c)], "chown cyrus")

    def start(self) -> CyrusKind:
        c = self.dir
        self.proc = self.work.start(
            "/usr/lib/cyrus/bin/master", "-C", f"{c}/imapd.conf", "-M", f"{c}/cyrus.conf",
            log="cyrus-master.log",
        )  # fmt: skip
        self._greeted(
            "Cyrus",
            "cyrus-master.log",
            [(self.imap_port, False), (self.imaps_port, True), (self.lmtp_port, False)],
        )
        self.postfix = Postfix(
            self.work,
            [f"virtual_transport=lmtp:inet:127.0.0.1:{self.lmtp_port}"],
        )
        return self

    def _saslpasswd(self, name: str, password: str) -> None:
        sasldb = self.dir / "sasldb2"
        self.work.run(
            "/usr/sbin/saslpasswd2", "-p", "-c", "-u", "localhost", "-f", str(sasldb), name,
            what="saslpasswd2 (cyrus)", stdin=password.encode(),
        )  # fmt: skip
        os.chown(sasldb, CYRUS_UID, MAIL_GID)

    def new_user(self) -> KindUser:
        self._count += 1
        name = f"cy{self._count}x{secrets.token_hex(2)}"
        password = secrets.token_hex(6)
        self._saslpasswd(name, password)
        if self.postfix is not None:
            self.postfix.add_user(name, password)
        # Postfix's SASL names carry the realm.
        return KindUser(self, name, password, smtp_name=f"{name}@localhost")


class CourierKind(_Kind):
    """Courier-IMAP 5.0.13 (authdaemond + couriertcpd for STARTTLS and implicit TLS), all users
    sharing one uid; Postfix delivers into their Maildirs through a pipe(8) transport."""

    kind = "courier"
    #: Folders every user starts with (a mail program used before made them).
    FOLDERS = ("Trash", "Sent", "Drafts")
    #: Users made at start; more are made one at a time (a second each).
    POOL = 120

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self._pool: list[tuple[str, str]] = []
        self._next = 0
        self.dir = root / "courier"
        self.homes = self.dir / "home"
        self.homes.mkdir(parents=True)
        os.chown(self.homes, COURIER_MAIL_UID, COURIER_MAIL_UID)
        self.etc = root / "etc" / "courier"
        self.etc.mkdir()
        (self.etc / "authdaemonrc").write_text(
            'authmodulelist="authuserdb"\ndaemons=2\nauthdaemonvar=/run/courier/authdaemon\n'
        )
        self.userdb = self.etc / "userdb"
        self.userdb.write_text("")
        self.userdb.chmod(0o600)
        self.imap_port, self.imaps_port = free_ports(2)
        (self.dir / "run.sh").write_text(
            """#!/bin/sh
# inside ns: authdaemond + couriertcpd for STARTTLS ($CO_IMAP) and implicit TLS ($CO_IMAPS)
set -a; . /etc/courier/imapd; . /etc/courier/imapd-ssl
IMAP_STARTTLS=YES; TLS_CERTFILE=$WORK/tls/combined.pem; TLS_DHPARAMS=; TLS_CACHEFILE=; IMAP_ULIMITD=
IMAP_EMPTYTRASH=
IMAP_ENHANCEDIDLE=1
T="/usr/sbin/couriertcpd -address=127.0.0.1 -nodnslookup -noidentlookup -maxprocs=40"
L="/usr/lib/courier/courier/imaplogin /usr/bin/imapd Maildir"
/usr/lib/courier/courier-authlib/authdaemond & A=$!
$T $CO_IMAP $L & B=$!
IMAP_TLS=1 IMAP_STARTTLS=NO $T $CO_IMAPS /usr/bin/couriertls -server -tcpd $L & C=$!
trap 'kill $A $B $C; wait; exit 0' TERM INT
wait
"""
        )
        (self.dir / "run.sh").chmod(0o755)

    def start(self) -> CourierKind:
        # authdaemond rereads userdb.dat only when its mtime (in seconds) changes: users made
        # one by one within a second would not log in. So they are made up front, at once.
        for _ in range(self.POOL):
            name = f"co{len(self._pool)}x{secrets.token_hex(2)}"
            self._pool.append((name, secrets.token_hex(6)))
        self._add_userdb(self._pool)
        self.proc = self.work.start(
            str(self.dir / "run.sh"),
            log="courier.log",
            env={"CO_IMAP": str(self.imap_port), "CO_IMAPS": str(self.imaps_port)},
        )
        self._greeted("Courier", "courier.log", [(self.imap_port, False), (self.imaps_port, True)])
        # virtual(8) allows no per-user paths from a pattern, so a pipe(8) transport delivers:
        # a Maildir drop (tmp/ then new/) as the mail uid, 67 (no such user) for an unknown one.
        deliver = self.dir / "deliver.sh"
        deliver.write_text(
            "#!/bin/sh\nset -e\n"
            f'd="{self.homes}/$1/Maildir"\n'
            '[ -d "$d/new" ] || { echo "no such user: $1"; exit 67; }\n'
            "f=\"$(date +%s).$$_$(od -An -N4 -tx4 /dev/urandom | tr -d ' ').localhost\"\n"
            'cat > "$d/tmp/$f"\nmv "$d/tmp/$f" "$d/new/$f"\n'
        )
        deliver.chmod(0o755)
        self.postfix = Postfix(
            self.work,
            ["virtual_transport=courier:"],
            master=[f"courier unix - n n - - pipe flags=DRhu user=cour argv={deliver} ${{user}}"],
        )
        return self

    def _add_userdb(self, users: Sequence[tuple[str, str]]) -> None:
        """Maildirs with the usual folders, and the userdb lines (rebuilt with makeuserdb)."""
        lines = []
        for name, password in users:
            home = self.homes / name
            self._make_maildir(home)
            hashed = _run(
                ["openssl", "passwd", "-6", "-stdin"], "openssl passwd", input=password.encode()
            )
            lines.append(
                f"{name}\tuid={COURIER_MAIL_UID}|gid={COURIER_MAIL_UID}|home={home}"
                f"|mail={home / 'Maildir'}|systempw={hashed.stdout.decode().strip()}\n"
            )
        with self.userdb.open("a") as f:
            f.writelines(lines)
        before = self._userdb_mtime()
        self.work.run("/usr/sbin/makeuserdb", "-f", str(self.userdb), what="makeuserdb")
        dat = self.etc / "userdb.dat"
        if before is not None and int(dat.stat().st_mtime) <= before:
            os.utime(dat, (before + 1, before + 1))  # seen as changed by authdaemond

    def _userdb_mtime(self) -> int | None:
        dat = self.etc / "userdb.dat"
        return int(dat.stat().st_mtime) if dat.exists() else None

    def _make_maildir(self, home: Path) -> None:
        maildir = home / "Maildir"
        made = [home, maildir]
        for folder in ("", *(f".{f}" for f in self.FOLDERS)):
            base = maildir / folder if folder else maildir
            made.append(base)
            made.extend(base / sub for sub in ("cur", "new", "tmp"))
        for path in made:
            path.mkdir(exist_ok=True)
        (maildir / "courierimapsubscribed").write_text(
            "".join(f"INBOX.{f}\n" for f in self.FOLDERS)
        )
        made.append(maildir / "courierimapsubscribed")
        for folder in self.FOLDERS:
            (maildir / f".{folder}" / "maildirfolder").touch()
            made.append(maildir / f".{folder}" / "maildirfolder")
        for path in made:
            os.chown(path, COURIER_MAIL_UID, COURIER_MAIL_UID)

    def new_user(self) -> KindUser:
        if self._next >= len(self._pool):
            name = f"co{len(self._pool)}x{secrets.token_hex(2)}"
            self._pool.append((name, secrets.token_hex(6)))
            self._add_userdb(self._pool[-1:])
        name, password = self._pool[self._next]
        self._next += 1
        if self.postfix is not None:
            self.postfix.add_user(name, password)
        return KindUser(self, name, password, smtp_name=f"{name}@localhost")


def start_interop_kind(kind: str, root: Path) -> CyrusKind | CourierKind:
    """Start `cyrus` or `courier` (with its Postfix) in `root`; SandboxError says why not."""
    server: CyrusKind | CourierKind
    if kind == "cyrus":
        server = CyrusKind(root)
    elif kind == "courier":
        server = CourierKind(root)
    else:
        raise SandboxError(f"not an interop kind: {kind!r}")
    try:
        return server.start()
    except BaseException:
        server.stop()
        raise


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m app.sandbox.interop install`: fetch and unpack the packages (make interop)."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if args != ["install"]:
        print("usage: python -m app.sandbox.interop install", file=sys.stderr)
        return 2
    try:
        t0 = time.monotonic()
        had = (interop_root() / ".complete").exists()
        root = ensure_packages()
        with tempfile.TemporaryDirectory(prefix="termail-ns-check-") as tmp:
            _Work(Path(tmp)).run("true", what="a mount namespace (unshare + overlayfs)")
    except SandboxError as exc:
        say(f"interop servers unavailable: {exc}", file=sys.stderr)
        return 1
    state = "cached" if had else f"unpacked in {time.monotonic() - t0:.1f} s"
    say(f"Cyrus, Courier, Postfix: {root} ({state})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
