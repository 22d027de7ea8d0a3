"""Folder names shown without the personal namespace prefix, and sent with it."""

from __future__ import annotations

from app.imap.namespace import Namespace


def test_courier_names_shown_without_prefix_and_with_slashes() -> None:
    ns = Namespace("INBOX.", ".")
    assert ns.shown("INBOX", ".") == ("INBOX", ".")
    assert ns.shown("INBOX.Lists.python-dev", ".") == ("Lists/python-dev", "/")
    assert ns.shown("INBOX.Trash", ".") == ("Trash", "/")
    # Outside the personal namespace (shared folders): as the server says.
    assert ns.shown("shared.team", ".") == ("shared.team", ".")


def test_typed_names_get_the_prefix_and_separator() -> None:
    ns = Namespace("INBOX.", ".")
    assert ns.server("Zeta") == "INBOX.Zeta"
    assert ns.server("Lists/python-dev") == "INBOX.Lists.python-dev"
    assert ns.server("INBOX") == "INBOX"
    assert ns.server("inbox") == "inbox"
    assert ns.server("INBOX.Zeta") == "INBOX.Zeta"  # typed in the server's own form


def test_listed_names_go_back_exactly() -> None:
    ns = Namespace("INBOX.", ".")
    shown, _ = ns.shown("INBOX.a/b.c", ".")  # a "/" inside a level: kept in the server's form
    assert shown == "a/b.c"
    ns.remember(shown, "INBOX.a/b.c")
    assert ns.server(shown) == "INBOX.a/b.c"
    other, _ = ns.shown("shared.team", ".")
    ns.remember(other, "shared.team")
    assert ns.server(other) == "shared.team"


def test_dovecot_names_unchanged() -> None:
    ns = Namespace("", "/")
    assert ns.shown("Lists/python-dev", "/") == ("Lists/python-dev", "/")
    assert ns.server("Lists/python-dev") == "Lists/python-dev"
    assert ns.shown("[Gmail]/All Mail", "/") == ("[Gmail]/All Mail", "/")
