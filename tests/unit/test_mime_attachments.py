"""app.mime.attachments: safe names, chunked decoding, saving that never escapes or clobbers."""

from __future__ import annotations

import base64
import binascii
import os
import quopri
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.mime.attachments import (
    MAX_NAME_BYTES,
    PartWriter,
    SaveError,
    StreamDecoder,
    decode_transfer,
    decoded_size,
    normalize_transfer_encoding,
    safe_filename,
    save_part,
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../../../etc/passwd", "passwd"),
        ("/etc/shadow", "shadow"),
        ("C:\\Windows\\System32\\evil.dll", "evil.dll"),
        ("..", "fallback.bin"),
        ("...", "fallback.bin"),
        ("", "fallback.bin"),
        (None, "fallback.bin"),
        ("invoice\u202efdp.exe", "invoicefdp.exe"),
        ("a\x00b\r\nc\x1b.txt", "abc.txt"),
        ("CON.txt", "_CON.txt"),
        ("nul", "_nul"),
        (".bashrc", "bashrc"),
        ('what?<is>"this"|*.txt', "what__is__this___.txt"),
        ("  spaced   name .pdf. ", "spaced name .pdf"),
        ("Résumé 履歴書.docx", "Résumé 履歴書.docx"),
        ("[red]note[/red].txt", "red].txt"),
    ],
)
def test_safe_filename(name: str | None, expected: str) -> None:
    assert safe_filename(name, "fallback.bin") == expected


def test_long_names_keep_their_extension() -> None:
    out = safe_filename("é" * 500 + ".pdf", "x")
    assert out.endswith(".pdf") and len(out.encode()) <= MAX_NAME_BYTES


def test_bad_fallback_falls_back_again() -> None:
    assert safe_filename("..", "../..") == "attachment"


@given(st.text(max_size=300))
def test_safe_filename_is_always_one_plain_component(name: str) -> None:
    out = safe_filename(name, "fallback")
    assert out and "/" not in out and "\\" not in out and "\x00" not in out
    assert out not in (".", "..") and not out.startswith(".")
    assert not any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in out)
    assert not any(c in out for c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    assert len(out.encode("utf-8", "surrogatepass")) <= MAX_NAME_BYTES


def test_transfer_encoding_names() -> None:
    assert normalize_transfer_encoding(" Base64 ") == "base64"
    assert normalize_transfer_encoding("Quoted-Printable") == "quoted-printable"
    assert normalize_transfer_encoding("x-uuencode") == "x-uuencode"
    for odd in ("7-bit", "8 bit", "binary", "x-gzip64", None, ""):
        assert normalize_transfer_encoding(odd) == "7bit"


def _chunks(data: bytes, cuts: list[int]) -> Iterator[bytes]:
    pos = 0
    for cut in sorted(c % (len(data) + 1) for c in cuts):
        yield data[pos:cut]
        pos = max(pos, cut)
    yield data[pos:]


@given(st.binary(max_size=2000), st.lists(st.integers(min_value=0, max_value=5000), max_size=8))
def test_base64_chunked_equals_whole(data: bytes, cuts: list[int]) -> None:
    encoded = base64.encodebytes(data).replace(b"\n", b"\r\n")
    decoder = StreamDecoder("base64")
    out = b"".join(decoder.feed(c) for c in _chunks(encoded, cuts)) + decoder.finish()
    assert out == data and not decoder.truncated


@given(st.binary(max_size=2000), st.lists(st.integers(min_value=0, max_value=5000), max_size=8))
def test_qp_chunked_equals_whole(data: bytes, cuts: list[int]) -> None:
    encoded = quopri.encodestring(data)
    decoder = StreamDecoder("quoted-printable")
    out = b"".join(decoder.feed(c) for c in _chunks(encoded, cuts)) + decoder.finish()
    assert out == binascii.a2b_qp(encoded)


def test_uuencode_decoded_between_begin_and_end() -> None:
    body = (
        b"junk before\nbegin 644 f.txt\n" + binascii.b2a_uu(b"hello uu") + b"`\nend\njunk after\n"
    )
    assert decode_transfer(body, "x-uuencode") == (b"hello uu", False)


def test_truncated_and_dirty_base64() -> None:
    assert decode_transfer(b"SGVs bG8g*\n!d29y", "base64")[0] == b"Hello wor"
    data, truncated = decode_transfer(b"SGVsbG8gd", "base64")
    assert data == b"Hello " and truncated


def test_decoded_size() -> None:
    payload = base64.encodebytes(os.urandom(3000))
    assert decoded_size(payload, "base64") == 3000
    assert decoded_size(b"abc", "8bit") == 3


def test_save_part_decodes_and_never_clobbers(tmp_path: Path) -> None:
    encoded = base64.encodebytes(b"first")
    first = save_part(encoded, "base64", tmp_path, "report.pdf")
    second = save_part([encoded[:3], encoded[3:]], "base64", tmp_path, "report.pdf")
    third = save_part(b"x", "7bit", tmp_path, "report.pdf")
    assert [p.name for p in (first, second, third)] == [
        "report.pdf",
        "report (1).pdf",
        "report (2).pdf",
    ]
    assert first.read_bytes() == b"first" and second.read_bytes() == b"first"


def test_save_part_stays_in_folder(tmp_path: Path) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    for name in ("../../escape.txt", "/tmp/abs.txt", "..\\..\\win.txt", "..", "a/../../b"):
        path = save_part(b"x", "8bit", folder, name)
        assert path.parent == folder.resolve()
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["escape.txt", "abs.txt", "win.txt", "attachment", "b"]
    )
    assert not (tmp_path / "escape.txt").exists()


def test_existing_symlink_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "victim"
    target.write_bytes(b"keep")
    folder = tmp_path / "dl"
    folder.mkdir()
    (folder / "a.txt").symlink_to(target)
    path = save_part(b"new", "8bit", folder, "a.txt")
    assert path.name == "a (1).txt" and target.read_bytes() == b"keep"


def test_failed_save_leaves_nothing(tmp_path: Path) -> None:
    def broken() -> Iterator[bytes]:
        yield b"abc"
        raise ConnectionError("server went away")

    with pytest.raises(ConnectionError):
        save_part(broken(), "8bit", tmp_path, "partial.bin")
    assert list(tmp_path.iterdir()) == []


def test_missing_folder_is_a_save_error(tmp_path: Path) -> None:
    with pytest.raises(SaveError):
        save_part(b"x", "8bit", tmp_path / "nope", "a.txt")


def test_part_writer_chunk_by_chunk_and_abort(tmp_path: Path) -> None:
    encoded = base64.encodebytes(b"0123456789" * 1000)
    with PartWriter(tmp_path, "big.bin", "base64") as writer:
        for start in range(0, len(encoded), 7):
            writer.write(encoded[start : start + 7])
    assert writer.path.read_bytes() == b"0123456789" * 1000
    other = PartWriter(tmp_path, "big.bin", "base64")
    other.write(encoded[:10])
    other.abort()
    assert not other.path.exists() and other.path.name == "big (1).bin"
