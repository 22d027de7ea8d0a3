"""Folder names shown without the personal namespace prefix, and sent with it."""

from __future__ import annotations

import pytest

from app.imap.namespace import FolderNameError, Namespace


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


def test_separator_inside_a_new_name_is_refused_with_the_way_to_say_it() -> None:
    """On Courier "Q3.report" would make Q3/report while termail said "Created Q3.report"."""
    ns = Namespace("INBOX.", ".")
    with pytest.raises(FolderNameError) as info:
        ns.check_new("Q3.report")
    assert "Q3/report" in str(info.value)
    ns.check_new("Q3/report")
    ns.check_new("INBOX.Q3.report")  # the server's own form: meant as typed
    Namespace("", "/").check_new("v1.2")  # "." is an ordinary character on Dovecot
