"""A small RFC 1524 mailcap reader: which viewer opens an attachment of a given type.

Our own, because the stdlib `mailcap` module is deprecated (gone in Python 3.13) and its PyPI
copies (`standard-mailcap`, a frozen "dead battery"; `mailcap-fix`, untouched since 2016) still
paste the sender's words into a shell line unquoted. Here everything that comes from the
message is made inert before it reaches `/bin/sh -c`:

- `%s` is a file *we* named (`mailcap_filename`): letters, digits, `_` and `-`, plus the
  extension only when it is short and alphanumeric, never the sender's name as given. It is
  shell-quoted anyway.
- `%t` is the type cut to the characters a MIME type may have, shell-quoted.
- `%{param}` is the parameter cut to `[A-Za-z0-9._+-]` (a charset, a format), shell-quoted.

The files read are `$MAILCAPS` (a `:` list) or else `~/.mailcap`, `/etc/mailcap`,
`/usr/etc/mailcap`, `/usr/local/etc/mailcap`; the first entry that matches the type (exact, then
in file order `type/*` and a bare `type`) and whose `test=` command succeeds is used.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "MailcapEntry",
    "MailcapView",
    "default_paths",
    "expand",
    "find_view",
    "mailcap_filename",
    "parse_mailcap",
    "read_mailcaps",
]

#: How long a `test=` command may take before the entry is skipped.
TEST_TIMEOUT = 5.0
#: Mailcap files larger than this are not read (a mailcap is a few KB).
MAX_FILE_BYTES = 1 << 20

_TYPE_CHARS = re.compile(r"[^A-Za-z0-9!#$&^_.+/-]")
_PARAM_CHARS = re.compile(r"[^A-Za-z0-9._+-]")
_STEM_CHARS = re.compile(r"[^A-Za-z0-9_-]+")
_SAFE_EXT = re.compile(r"^\.[A-Za-z0-9]{1,10}$")


@dataclass(frozen=True, slots=True)
class MailcapEntry:
    """One line of a mailcap file: `type; view-command; flag; name=value; …`."""

    mime_type: str
    view: str
    flags: frozenset[str] = frozenset()
    fields: dict[str, str] = field(default_factory=dict)
    source: str = ""

    @property
    def needsterminal(self) -> bool:
        return "needsterminal" in self.flags

    @property
    def copiousoutput(self) -> bool:
        return "copiousoutput" in self.flags

    def matches(self, mime_type: str) -> bool:
        want = mime_type.lower()
        mine = self.mime_type
        if mine == want:
            return True
        major = want.split("/", 1)[0]
        return mine in (f"{major}/*", major)


@dataclass(frozen=True, slots=True)
class MailcapView:
    """What to run for one attachment: the shell line and how (terminal, captured output)."""

    entry: MailcapEntry
    command: str
    stdin_file: bool
    """The command has no %s: the file is given on standard input."""

    @property
    def needsterminal(self) -> bool:
        return self.entry.needsterminal

    @property
    def copiousoutput(self) -> bool:
        return self.entry.copiousoutput


def default_paths(environ: dict[str, str] | None = None) -> list[Path]:
    """The mailcap files to read, in order ($MAILCAPS wins when set, as RFC 1524 says)."""
    env = os.environ if environ is None else environ
    listed = env.get("MAILCAPS")
    if listed is not None:
        return [Path(p).expanduser() for p in listed.split(":") if p]
    home = env.get("HOME") or str(Path.home())
    return [
        Path(home) / ".mailcap",
        Path("/etc/mailcap"),
        Path("/usr/etc/mailcap"),
        Path("/usr/local/etc/mailcap"),
    ]


def _split_fields(line: str) -> list[str]:
    """Cut at `;` not escaped by a backslash; `\\;` becomes `;`, other escapes are kept."""
    fields: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(line):
        ch = line[i]
        if ch == "\\" and i + 1 < len(line):
            nxt = line[i + 1]
            current.append(nxt if nxt == ";" else ch + nxt)
            i += 2
            continue
        if ch == ";":
            fields.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
        i += 1
    fields.append("".join(current).strip())
    return fields


def _logical_lines(text: str) -> Iterable[str]:
    pending = ""
    for raw in text.splitlines():
        line = raw.rstrip("\r")
        if pending:
            line = pending + line.lstrip()
            pending = ""
        if line.endswith("\\") and not line.endswith("\\\\"):
            pending = line[:-1]
            continue
        yield line
    if pending:
        yield pending


def parse_mailcap(text: str, source: str = "") -> list[MailcapEntry]:
    """The entries of one mailcap file, in order; malformed lines are skipped."""
    entries: list[MailcapEntry] = []
    for line in _logical_lines(text):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        parts = _split_fields(stripped)
        if len(parts) < 2 or not parts[0]:
            continue
        mime_type = parts[0].strip().lower()
        if not re.fullmatch(r"[a-z0-9!#$&^_.+-]+(/([a-z0-9!#$&^_.+-]+|\*))?", mime_type):
            continue
        flags: set[str] = set()
        extra: dict[str, str] = {}
        for item in parts[2:]:
            if not item:
                continue
            name, eq, value = item.partition("=")
            name = name.strip().lower()
            if eq:
                extra.setdefault(name, value.strip())
            else:
                flags.add(name)
        entries.append(MailcapEntry(mime_type, parts[1], frozenset(flags), extra, source))
    return entries


def read_mailcaps(paths: Sequence[Path] | None = None) -> list[MailcapEntry]:
    """Every entry of the mailcap files that exist and can be read, in search order."""
    entries: list[MailcapEntry] = []
    for path in default_paths() if paths is None else paths:
        try:
            if not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        entries.extend(parse_mailcap(text, str(path)))
    return entries


def mailcap_filename(sender_name: str | None, template: str | None = None) -> str:
    """A temporary file name for `%s`: never the sender's name as given.

    The stem keeps only letters, digits, `_` and `-` of the name (no leading `-`, which a
    viewer could read as an option); the extension is kept only when short and alphanumeric.
    A `nametemplate=%s.ext` of the (trusted) mailcap entry gives the extension instead.
    """
    name = (sender_name or "").replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext = name, ""
    ext = "." + ext if ext else ""
    if not _SAFE_EXT.match(ext):
        ext = ""
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    clean = _STEM_CHARS.sub("_", ascii_stem).strip("_-")
    clean = clean[:40].strip("_-") or "attachment"
    if template and "%s" in template:
        t_ext = template.rsplit("%s", 1)[1]
        if _SAFE_EXT.match(t_ext):
            ext = t_ext
    return clean + ext.lower()


def _safe_type(mime_type: str) -> str:
    return (
        _TYPE_CHARS.sub("", mime_type.split(";", 1)[0].strip())[:127] or "application/octet-stream"
    )


def expand(
    command: str, path: str | None, mime_type: str, params: dict[str, str] | None = None
) -> tuple[str, bool]:
    """The shell line for `command` with %s, %t, %{name} and %% filled; (line, has_%s).

    Every substituted value is shell-quoted; `%n` and `%F` (multipart) become empty.
    """
    lowered = {k.lower(): v for k, v in (params or {}).items()}
    out: list[str] = []
    has_file = False
    i = 0
    while i < len(command):
        ch = command[i]
        if ch == "\\" and i + 1 < len(command):
            out.append(command[i : i + 2])
            i += 2
            continue
        if ch != "%" or i + 1 >= len(command):
            out.append(ch)
            i += 1
            continue
        code = command[i + 1]
        if code == "s":
            has_file = True
            out.append(shlex.quote(path or ""))
            i += 2
        elif code == "t":
            out.append(shlex.quote(_safe_type(mime_type)))
            i += 2
        elif code == "%":
            out.append("%")
            i += 2
        elif code == "{":
            end = command.find("}", i + 2)
            if end == -1:
                out.append(command[i:])
                break
            name = command[i + 2 : end].strip().lower()
            value = _PARAM_CHARS.sub("", lowered.get(name, ""))[:64]
            out.append(shlex.quote(value))
            i = end + 1
        elif code in "nF":
            i += 2
        else:
            out.append(command[i : i + 2])
            i += 2
    return "".join(out), has_file


def _run_test(line: str) -> bool:
    try:
        done = subprocess.run(
            ["/bin/sh", "-c", line],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=TEST_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def find_view(
    mime_type: str,
    path: str | None,
    entries: Sequence[MailcapEntry],
    *,
    params: dict[str, str] | None = None,
    run_test: Callable[[str], bool] = _run_test,
) -> MailcapView | None:
    """The first entry with a view command for `mime_type` whose `test=` passes, filled in.

    Blocking (a `test=` runs a command): call it from a thread.
    """
    wanted = _safe_type(mime_type).lower()
    for entry in entries:
        if not entry.matches(wanted) or not entry.view.strip():
            continue
        test = entry.fields.get("test")
        if test:
            line, _ = expand(test, path, wanted, params)
            if not run_test(line):
                continue
        command, has_file = expand(entry.view, path, wanted, params)
        return MailcapView(entry, command, stdin_file=not has_file)
    return None
