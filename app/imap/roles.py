"""Which folder is Trash, Sent, Drafts, …: SPECIAL-USE, else the config, else the usual names.

Servers without SPECIAL-USE (RFC 6154; Courier, older Cyrus, many hosted ones) mark no folder
as Trash or Sent, so a client that trusts only the attributes deletes for good and keeps no Sent
copy. The roles are taken, in this order of precedence:

1. the config's `[folders]` table (`trash = "Trash"`), matched with or without the personal
   namespace prefix (`Trash` finds `INBOX.Trash` on a server whose separator is `.`);
2. the server's SPECIAL-USE attributes;
3. the usual names (`Trash`, `Deleted Items`, `Sent Messages`, `[Gmail]/Spam`, …) at the top of
   the personal namespace, for roles no folder has yet.

Pure functions over `Folder`: no server, no UI; `Account.load_folders` and `termail config check`
share them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from app.models import Folder, FolderRole

#: Usual names per role (compared case-insensitively), most likely first.
GUESSED_NAMES: dict[FolderRole, tuple[str, ...]] = {
    FolderRole.TRASH: (
        "Trash",
        "Deleted Items",
        "Deleted Messages",
        "Deleted",
        "Bin",
        "[Gmail]/Trash",
        "[Gmail]/Bin",
        "[Google Mail]/Trash",
        "[Google Mail]/Bin",
    ),
    FolderRole.SENT: (
        "Sent",
        "Sent Items",
        "Sent Messages",
        "Sent Mail",
        "[Gmail]/Sent Mail",
        "[Google Mail]/Sent Mail",
    ),
    FolderRole.DRAFTS: ("Drafts", "Draft", "[Gmail]/Drafts", "[Google Mail]/Drafts"),
    FolderRole.JUNK: (
        "Junk",
        "Spam",
        "Junk E-mail",
        "Junk Email",
        "Bulk Mail",
        "[Gmail]/Spam",
        "[Google Mail]/Spam",
    ),
    FolderRole.ARCHIVE: ("Archive", "Archives"),
    FolderRole.ALL: ("[Gmail]/All Mail", "[Google Mail]/All Mail"),
    FolderRole.FLAGGED: ("[Gmail]/Starred", "[Google Mail]/Starred"),
}

#: Roles `config check` reports on (a missing one is warned about).
CHECKED_ROLES = (FolderRole.TRASH, FolderRole.SENT, FolderRole.DRAFTS, FolderRole.JUNK)


@dataclass(frozen=True)
class RoleChoice:
    """The folder used for one role and why (`special-use`, `config`, `name`), or none."""

    role: FolderRole
    folder: Folder | None
    source: str = ""
    problem: str = ""
    """Set when the config names a folder that is not there."""


def personal_prefixes(folders: Iterable[Folder], namespace: str | None = None) -> list[str]:
    """Prefixes a personal folder name may carry: the NAMESPACE one when known, `INBOX` plus
    the separator when folders live under INBOX (Courier's `INBOX.`), and none."""
    out: list[str] = []
    if namespace:
        out.append(namespace)
    for folder in folders:
        if folder.delimiter and folder.name.upper().startswith("INBOX" + folder.delimiter):
            prefix = folder.name[:5] + folder.delimiter
            if prefix not in out:
                out.append(prefix)
    out.append("")
    return out


def _bare(folder: Folder, prefixes: Sequence[str]) -> str:
    """The folder's name without a personal prefix, `/` as the separator, casefolded."""
    name = folder.name
    for prefix in prefixes:
        if prefix and name.upper().startswith(prefix.upper()) and len(name) > len(prefix):
            name = name[len(prefix) :]
            break
    if folder.delimiter and folder.delimiter != "/":
        name = name.replace(folder.delimiter, "/")
    return name.casefold()


def _config_match(wanted: str, folders: Sequence[Folder], prefixes: Sequence[str]) -> Folder | None:
    """The folder the config's `wanted` name means: exact first, then without a prefix."""
    for folder in folders:
        if folder.name == wanted:
            return folder
    key = wanted.replace("\\", "/").strip("/").casefold()
    for folder in folders:
        if folder.selectable and _bare(folder, prefixes) == key:
            return folder
    return None


def _role_of(name: str) -> FolderRole | None:
    try:
        role = FolderRole(name)
    except ValueError:
        return None
    return None if role in (FolderRole.NONE, FolderRole.INBOX) else role


def assign_roles(
    folders: Sequence[Folder],
    overrides: Mapping[str, str] | None = None,
    namespace: str | None = None,
) -> tuple[list[Folder], list[RoleChoice]]:
    """The folders with their roles set, and what was chosen for each role.

    A role named in `overrides` goes to that folder only (another folder's SPECIAL-USE
    attribute for it is dropped: one Trash, the one the user chose). Roles no folder has are
    guessed from the usual names."""
    prefixes = personal_prefixes(folders, namespace)
    roles: dict[str, FolderRole] = {}
    choices: dict[FolderRole, RoleChoice] = {}
    problems: dict[FolderRole, str] = {}
    for folder in folders:
        if folder.role not in (FolderRole.NONE, FolderRole.INBOX):
            roles[folder.name] = folder.role
            choices.setdefault(folder.role, RoleChoice(folder.role, folder, "special-use"))
    for role_name, wanted in (overrides or {}).items():
        role = _role_of(role_name)
        if role is None:
            continue
        match = _config_match(wanted, folders, prefixes)
        if match is None:
            # Said by `config check`; the role still goes to the server's or a guessed folder
            # (a Trash by its usual name keeps mail that deleting for good would lose).
            problems[role] = f"the config names {wanted!r}, which is not on the server"
            continue
        for name in [n for n, r in roles.items() if r is role]:
            del roles[name]
        for other, choice in list(choices.items()):
            if choice.folder is not None and choice.folder.name == match.name:
                del choices[other]  # the config gave this folder another role
        roles[match.name] = role
        choices[role] = RoleChoice(role, match, "config")
    for role, names in GUESSED_NAMES.items():
        if role in choices:
            continue
        wanted_keys = [n.casefold() for n in names]
        candidates = [
            f
            for f in folders
            if f.selectable and f.name not in roles and _bare(f, prefixes) in wanted_keys
        ]
        if not candidates:
            continue
        best = min(candidates, key=lambda f: wanted_keys.index(_bare(f, prefixes)))
        roles[best.name] = role
        choices[role] = RoleChoice(role, best, "name")
    out: list[Folder] = []
    for folder in folders:
        role = roles.get(folder.name)
        if folder.name.upper() == "INBOX":
            role = FolderRole.INBOX
        wanted_role = role or FolderRole.NONE
        out.append(folder if folder.role is wanted_role else replace(folder, role=wanted_role))
    report = []
    for role in GUESSED_NAMES:
        choice = choices.get(role, RoleChoice(role, None))
        if role in problems:
            choice = RoleChoice(role, choice.folder, choice.source, problems[role])
        report.append(choice)
    return out, report


def describe_roles(report: Iterable[RoleChoice]) -> list[tuple[bool, str]]:
    """Lines for `config check`: (fine, text) per role it reports on."""
    lines: list[tuple[bool, str]] = []
    for choice in report:
        if choice.role not in CHECKED_ROLES and choice.folder is None:
            continue
        label = choice.role.value
        if choice.problem:
            using = f"; using {choice.folder.name}" if choice.folder is not None else ""
            lines.append((False, f"{label}: {choice.problem}{using}"))
        elif choice.folder is None:
            lines.append((False, f'{label}: no folder found; set [folders] {label} = "..."'))
        else:
            how = {
                "special-use": "marked by the server (SPECIAL-USE)",
                "config": "from the config",
                "name": "guessed from its name",
            }.get(choice.source, choice.source)
            lines.append((True, f"{label}: {choice.folder.name} ({how})"))
    return lines
