"""The UI-free cores of issue 15's tools: mailcap reader, pipe, bounce, edit as new."""

from __future__ import annotations

import asyncio
import email
import email.policy
import shlex
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.actions import pipe
from app.actions.mailcap import (
    default_paths,
    expand,
    find_view,
    mailcap_filename,
    parse_mailcap,
    read_mailcaps,
)
from app.mime.compose import (
    Attachment,
    ComposeError,
    Draft,
    Identity,
    build_message,
    edit_as_new,
)
from app.smtp.bounce import bounce_bytes, parse_bounce_addresses, resent_block

MAILCAP = r"""
# a comment
text/csv; column -s, -t %s; copiousoutput
application/pdf; zathura %s; test=test -n "$DISPLAY"; description=PDF
application/pdf; pdftotext %s -; copiousoutput
image/*; feh \
    %s
text; less; needsterminal
text/x-semi; echo a\;b %s; nametemplate=%s.txt
broken line without a command
"""


def test_parse_mailcap_fields_flags_continuations() -> None:
    entries = parse_mailcap(MAILCAP, "m")
    types = [e.mime_type for e in entries]
    assert types == [
        "text/csv",
        "application/pdf",
        "application/pdf",
        "image/*",
        "text",
        "text/x-semi",
    ]
    csv, pdf, pdf2, image, text, semi = entries
    assert csv.copiousoutput and not csv.needsterminal
    assert pdf.fields["test"] == 'test -n "$DISPLAY"' and pdf.fields["description"] == "PDF"
    assert image.view == "feh %s"  # the continuation joined
    assert text.needsterminal and text.matches("text/plain") and not text.matches("image/png")
    assert image.matches("image/png") and not image.matches("imagex/png")
    assert semi.view == "echo a;b %s" and semi.fields["nametemplate"] == "%s.txt"


def test_find_view_honours_test_and_order() -> None:
    entries = parse_mailcap(MAILCAP)
    ran: list[str] = []

    def failing(line: str) -> bool:
        ran.append(line)
        return False

    view = find_view("application/pdf", "/tmp/x/a.pdf", entries, run_test=failing)
    assert ran == ['test -n "$DISPLAY"']
    assert view is not None and view.command == "pdftotext /tmp/x/a.pdf -" and view.copiousoutput
    view = find_view("Application/PDF; name=x", "/tmp/x/a.pdf", entries, run_test=lambda _: True)
    assert view is not None and view.command == "zathura /tmp/x/a.pdf"
    # No %s: the file goes on standard input.
    view = find_view("text/plain", "/tmp/f", entries)
    assert view is not None and view.stdin_file and view.needsterminal
    assert find_view("audio/ogg", "/tmp/f", entries) is None


def test_find_view_runs_the_real_test_command() -> None:
    entries = parse_mailcap("a/b; first %s; test=false\na/b; second %s; test=true\n")
    view = find_view("a/b", "/tmp/f", entries)
    assert view is not None and view.command == "second /tmp/f"


def test_expand_quotes_everything_from_the_message() -> None:
    line, has_file = expand(
        "view %s --type %t --cs %{charset} %{missing} 100%%",
        "/tmp/dir with space/a.pdf",
        "text/plain;$(reboot)",
        {"Charset": "utf-8'; rm -rf ~; '"},
    )
    assert has_file
    words = shlex.split(line)
    assert words == [
        "view",
        "/tmp/dir with space/a.pdf",
        "--type",
        "text/plain",
        "--cs",
        "utf-8rm-rf",
        "",
        "100%",
    ]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (";rm -rf ~;.pdf", "rm_-rf.pdf"),
        ("report.PDF", "report.pdf"),
        ("-rf.pdf", "rf.pdf"),
        ("../../etc/passwd", "passwd"),
        ("$(touch x).sh;.txt", "touch_x_sh.txt"),
        ("a.tar.gz", "a_tar.gz"),
        ("x.very-long-extension-here", "x"),
        ("Überblick.pdf", "Uberblick.pdf"),
        ("", "attachment"),
        (".pdf", "pdf"),
        ("a.p$f", "a"),
        ("a" * 300 + ".pdf", "a" * 40 + ".pdf"),
    ],
)
def test_mailcap_filename_is_inert(given: str, expected: str) -> None:
    name = mailcap_filename(given)
    assert name == expected
    assert all(c.isascii() and (c.isalnum() or c in "._-") for c in name)
    assert shlex.quote(name) == name  # nothing a shell would read specially


def test_mailcap_filename_takes_the_entry_template() -> None:
    assert mailcap_filename("page", "%s.html") == "page.html"
    assert mailcap_filename("page.htm", "%s.h;tml") == "page.htm"


def test_default_paths_and_reading(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.write_text("a/b; first %s\n")
    two.write_text("a/b; second %s\nc/d; third\n")
    paths = default_paths({"MAILCAPS": f"{one}:{tmp_path / 'missing'}:{two}", "HOME": "/h"})
    assert paths == [one, tmp_path / "missing", two]
    assert [e.view for e in read_mailcaps(paths)] == ["first %s", "second %s", "third"]
    assert default_paths({"HOME": "/h"})[:2] == [Path("/h/.mailcap"), Path("/etc/mailcap")]


# -- pipe ---------------------------------------------------------------------------------------


def test_pipe_counts_the_bytes() -> None:
    data = b"x" * 300_000 + b"\r\n"
    result = asyncio.run(pipe.run_captured("wc -c", data))
    assert result.ok and result.text().strip() == str(len(data))


def test_pipe_to_a_command_that_reads_nothing_and_one_that_fails() -> None:
    result = asyncio.run(pipe.run_captured("echo hi", b"y" * 2_000_000))
    assert result.ok and result.text() == "hi\n"
    result = asyncio.run(pipe.run_captured("no-such-command-here", b"z"))
    assert result.returncode == 127 and "not found" in result.text()
    result = asyncio.run(pipe.run_captured("echo out; echo err >&2; exit 3", b""))
    assert result.returncode == 3 and "out" in result.text() and "err" in result.text()


def test_pipe_output_is_bounded() -> None:
    result = asyncio.run(pipe.run_captured("head -c 100000 /dev/zero", b"", limit=1000))
    assert result.truncated and len(result.output) == 1000 and result.ok


def test_pipe_history_newest_first_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TERMAIL_STATE_DIR", str(tmp_path))
    assert pipe.history() == []
    pipe.add_history("wc -c")
    pipe.add_history("less")
    pipe.add_history("  wc -c ")
    pipe.add_history("   ")
    assert pipe.history() == ["wc -c", "less"]


def test_mbox_stream_quotes_from_lines() -> None:
    out = pipe.mbox_stream([b"Subject: a\r\n\r\nFrom here\r\n>From there\r\n", b"Subject: b\n\nx"])
    assert out.count(b"\nFrom MAILER-DAEMON") == 1 and out.startswith(b"From MAILER-DAEMON")
    assert b"\n>From here\n" in out and b"\n>>From there\n" in out and b"\r" not in out


def test_decoded_text_decodes_headers_and_body() -> None:
    raw = (
        b"From: =?utf-8?q?Ol=C3=A9?= <o@x.org>\r\nSubject: =?utf-8?b?R3LDvMOfZQ==?=\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"w6TDtsO8\r\n"
    )
    text = pipe.decoded_text(raw).decode()
    assert "Grüße" in text and "Olé" in text and "äöü" in text and "w6TD" not in text


# -- bounce -------------------------------------------------------------------------------------

ORIGINAL = (
    b"From: Olga <olga@example.org>\r\nTo: me@example.org\r\nSubject: hi\r\n"
    b"Message-ID: <orig@example.org>\r\n\r\nbody line\r\n"
)


def test_bounce_prepends_resent_fields_and_keeps_the_bytes() -> None:
    when = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    request = parse_bounce_addresses("Zoë <z@example.net>, b@example.net, z@example.net")
    assert request.addresses == ["z@example.net", "b@example.net"]
    out = bounce_bytes(
        ORIGINAL, Identity("Me", "me@example.org"), request.shown, date=when, message_id="<r@x>"
    )
    head, original = out.split(b"\r\n", 4)[:4], out.split(b"\r\n", 4)[4]
    assert original == ORIGINAL
    assert [h.split(b":")[0] for h in head] == [
        b"Resent-From",
        b"Resent-To",
        b"Resent-Date",
        b"Resent-Message-ID",
    ]
    msg = email.message_from_bytes(out, policy=email.policy.default)
    assert msg["Resent-To"] == "Zoë <z@example.net>, b@example.net"
    assert msg["Resent-From"] == "Me <me@example.org>"
    assert msg["Resent-Date"] == "Wed, 02 Dec 2026 10:00:00 +0000"
    assert msg["Message-ID"] == "<orig@example.org>"
    # LF-only originals get LF-only fields.
    assert b"\r" not in resent_block(Identity("", "me@x.org"), ["a@b.org"], linesep="\n")


@pytest.mark.parametrize(
    "typed", ["", "  ", "not an address", "a@b.org, oops@", "x@y.org\r\nBcc: e@v.il"]
)
def test_bounce_refuses_a_bad_address(typed: str) -> None:
    with pytest.raises(ComposeError):  # InvalidAddressError or HeaderInjectionError
        parse_bounce_addresses(typed)


def test_edit_as_new_keeps_attachments_and_own_sender() -> None:
    draft = Draft(
        from_=Identity("Me", "me@example.org"),
        to=["o@x.org"],
        subject="report",
        body="see attached",
        attachments=[Attachment("a.bin", b"\x00\x01" * 100, "application/octet-stream")],
    )
    sent = build_message(draft, message_id_domain="example.org").as_bytes()
    new = edit_as_new(
        sent, Identity("Other", "other@example.org"), own_addresses=["me@example.org"]
    )
    assert new.from_ == Identity("Me", "me@example.org")
    assert [(a.filename, a.data) for a in new.attachments] == [("a.bin", b"\x00\x01" * 100)]
    assert new.subject == "report" and new.to == ["o@x.org"] and "see attached" in new.body
    received = edit_as_new(sent, Identity("Other", "other@example.org"))
    assert received.from_ == Identity("Other", "other@example.org")


# -- archive ------------------------------------------------------------------------------------


def test_archive_base_prefers_the_role_then_the_name() -> None:
    from app.actions.archive import archive_base
    from app.models import Folder, FolderRole

    inbox = Folder("INBOX", "INBOX", ".", frozenset(), FolderRole.INBOX)
    named = Folder("archive", "archive", ".", frozenset(), FolderRole.NONE)
    role = Folder("Old mail", "Old mail", ".", frozenset(), FolderRole.ARCHIVE)
    assert archive_base([inbox, named, role]) == ("Old mail", ".", True)
    assert archive_base([inbox, named]) == ("archive", ".", True)
    assert archive_base([inbox]) == ("Archive", ".", False)


def test_archive_plan_by_year_and_month() -> None:
    from app.actions.archive import archive_plan

    dates = {
        3: datetime(2026, 12, 2, tzinfo=UTC),
        1: datetime(2025, 1, 9, tzinfo=UTC),
        2: datetime(2026, 12, 30, tzinfo=UTC),
        4: None,
    }
    assert archive_plan(dates, "Archive", "/") == {"Archive": [1, 2, 3, 4]}
    assert archive_plan(dates, "Archive", ".", "year") == {
        "Archive": [4],
        "Archive.2025": [1],
        "Archive.2026": [2, 3],
    }
    assert archive_plan(dates, "Archive", "/", "month") == {
        "Archive": [4],
        "Archive/2025/01": [1],
        "Archive/2026/12": [2, 3],
    }
    with pytest.raises(ValueError):
        archive_plan(dates, "Archive", "/", "weekly")
