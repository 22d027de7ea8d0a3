"""`termail render` (app.mime.textview.render_main): exit codes, options, safe output."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from app.mime.render import render_message
from app.mime.textview import format_text_view, render_main

SEED = Path(__file__).resolve().parent.parent / "data" / "seed"


class _Stdin(io.TextIOWrapper):
    """A text stdin whose `.buffer` holds raw bytes, as sys.stdin does."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data))


def _run(argv: list[str], stdin: bytes | None = None) -> tuple[int, str]:
    out = io.StringIO()
    code = render_main(argv, stdout=out, stdin=_Stdin(stdin) if stdin is not None else None)
    return code, out.getvalue()


def test_seed_03_text_view() -> None:
    code, out = _run([str(SEED / "03-multipart-enriched-base64.eml")])
    assert code == 0
    assert "Subject: Info on Gibson guitar" in out
    assert "*Gibson Southern Jumbo*" in out and "_I guarantee that you'll love it!_" in out
    assert (
        "gibson-spec.doc" in out
        and "2,080 bytes" in out
        and "Spec sheet saved as MS Word file" in out
    )
    assert "Content-Type:" not in out  # compact headers by default


def test_full_headers_and_group() -> None:
    code, out = _run([str(SEED / "01-postfix-relayed-test.eml"), "--headers", "full"])
    assert code == 0
    lines = out.splitlines()
    received = [i for i, line in enumerate(lines) if line.startswith("Received: ")]
    assert len(received) == 4 and received == sorted(received)
    assert "To: undisclosed-recipients: ;" in lines


def test_stdin() -> None:
    raw = (SEED / "04-gb2312-encoded-subject.eml").read_bytes()
    code, out = _run(["-"], stdin=raw)
    assert code == 0 and "Subject: 中文 title" in out


def test_sender_check_shown() -> None:
    _, out = _run([str(SEED / "02-forged-no-addresses.eml")])
    assert "From: Dr. Sandra Carberry" in out
    assert "Sender check: unverifiable" in out and "  ! From has no address" in out


def test_html_option() -> None:
    raw = (
        b"From: a@b\r\nContent-Type: multipart/alternative; boundary=A\r\n\r\n--A\r\n"
        b"Content-Type: text/plain\r\n\r\nplain\r\n--A\r\nContent-Type: text/html\r\n\r\n<b>rich</b>\r\n--A--\r\n"
    )
    assert "plain" in _run(["-"], stdin=raw)[1]
    out = _run(["-", "--html"], stdin=raw)[1]
    assert "\n*rich*\n" in out and "**" not in out  # bold as plain-text mail marks it


def test_missing_file_and_bad_usage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run([str(tmp_path / "nope.eml")])[0] == 1
    assert "cannot read" in capsys.readouterr().err
    assert _run([])[0] == 2
    assert _run(["x.eml", "--headers", "bogus"])[0] == 2


def test_output_encodes_for_narrow_terminals() -> None:
    class Ascii(io.StringIO):
        encoding = "ascii"

    out = Ascii()
    assert render_main([str(SEED / "04-gb2312-encoded-subject.eml")], stdout=out) == 0
    assert "Subject: ?? title" in out.getvalue()


def test_format_text_view_lists_notices() -> None:
    message = render_message(
        b"Subject: x\r\nContent-Type: text/plain; charset=fakescii\r\n\r\ncaf\xe9"
    )
    view = format_text_view(message)
    assert "Notes:" in view and "fakescii" in view
