"""Folder roles: SPECIAL-USE, the config's `[folders]`, else the usual names (app.imap.roles)."""

from __future__ import annotations

from app.imap.roles import assign_roles
from app.models import Folder, FolderRole


def folder(name: str, delimiter: str = "/", *attrs: str) -> Folder:
    role = {"\\Trash": FolderRole.TRASH, "\\Sent": FolderRole.SENT}.get(
        attrs[0] if attrs else "", FolderRole.NONE
    )
    if name.upper() == "INBOX":
        role = FolderRole.INBOX
    return Folder(name, name, delimiter, frozenset(attrs), role)


def roles(folders: list[Folder], overrides: dict[str, str] | None = None) -> dict[str, str]:
    assigned, _ = assign_roles(folders, overrides)
    return {f.role.value: f.name for f in assigned if f.role is not FolderRole.NONE}


def test_courier_names_under_inbox_dot_are_guessed() -> None:
    listed = [folder(n, ".") for n in ("INBOX", "INBOX.Trash", "INBOX.Sent", "INBOX.Drafts")]
    assert roles(listed) == {
        "inbox": "INBOX",
        "trash": "INBOX.Trash",
        "sent": "INBOX.Sent",
        "drafts": "INBOX.Drafts",
    }


def test_gmail_names() -> None:
    listed = [
        folder(n)
        for n in ("INBOX", "[Gmail]/All Mail", "[Gmail]/Trash", "[Gmail]/Sent Mail", "[Gmail]/Spam")
    ]
    assert roles(listed) == {
        "inbox": "INBOX",
        "all": "[Gmail]/All Mail",
        "trash": "[Gmail]/Trash",
        "sent": "[Gmail]/Sent Mail",
        "junk": "[Gmail]/Spam",
    }


def test_usual_names_any_case_first_listed_wins_and_nested_ones_do_not_count() -> None:
    listed = [folder(n) for n in ("INBOX", "bin", "Deleted Items", "Projects/Trash", "sent items")]
    assert roles(listed) == {"inbox": "INBOX", "trash": "Deleted Items", "sent": "sent items"}


def test_special_use_is_kept_and_never_doubled_by_a_guess() -> None:
    listed = [folder("INBOX"), folder("Papierkorb", "/", "\\Trash"), folder("Trash")]
    assert roles(listed)["trash"] == "Papierkorb"


def test_config_role_wins_over_special_use_with_or_without_the_prefix() -> None:
    listed = [folder("INBOX", "."), folder("INBOX.Trash", ".", "\\Trash"), folder("INBOX.Bin", ".")]
    assert roles(listed, {"trash": "Bin"})["trash"] == "INBOX.Bin"
    assert roles(listed, {"trash": "INBOX.Bin"})["trash"] == "INBOX.Bin"
    _, report = assign_roles(listed, {"trash": "Nowhere"})
    trash = next(c for c in report if c.role is FolderRole.TRASH)
    assert trash.folder is not None and trash.folder.name == "INBOX.Trash"  # still used
    assert trash.problem == "the config names 'Nowhere', which is not on the server"
