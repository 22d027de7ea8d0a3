"""Every message of ../shared/corpus and ../shared/seed-messages renders with `termail render`.

Exit status 0, no control character but newline and tab in the output, no internal error, and
the IMAP part-by-part path shows the same as the whole-message path. Skips where ../shared is
absent (a user's fresh clone has none).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from app.mime.render import (
    INTERNAL_ERROR_NOTICE,
    message_structure,
    render_from_parts,
    render_message,
)
from app.mime.textview import render_main

SHARED = Path(__file__).resolve().parent.parent.parent.parent / "shared"
LOCAL_SEED = Path(__file__).resolve().parent.parent / "data" / "seed"
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _files() -> list[str]:
    found: list[str] = []
    for folder in ("corpus", "seed-messages"):
        path = SHARED / folder
        if path.is_dir():
            found += [f"{folder}/{p.name}" for p in sorted(path.iterdir()) if p.suffix != ".md"]
    return found


FILES = _files()
PARAMS: list[object] = list(FILES) or [
    pytest.param("", marks=pytest.mark.skip(reason="../shared is absent"))
]


@pytest.mark.parametrize("name", PARAMS)
def test_renders_safely(shared_dir: Path, name: str) -> None:
    path = shared_dir / name
    for extra in ([], ["--html"], ["--headers", "full"]):
        out = io.StringIO()
        assert render_main([str(path), *extra], stdout=out) == 0
        text = out.getvalue()
        assert CONTROL.search(text.replace("\n", "").replace("\t", "")) is None
        assert BIDI.search(text) is None
        assert INTERNAL_ERROR_NOTICE not in text


@pytest.mark.parametrize("name", PARAMS)
def test_parts_path_agrees(shared_dir: Path, name: str) -> None:
    raw = (shared_dir / name).read_bytes()
    for prefer_html in (False, True):
        whole = render_message(raw, prefer_html=prefer_html)
        header, structure, parts = message_structure(raw)
        by_parts = render_from_parts(header, structure, parts, prefer_html=prefer_html)
        assert by_parts.body == whole.body
        assert [a.filename for a in by_parts.attachments] == [a.filename for a in whole.attachments]


def test_corpus_is_all_there(shared_dir: Path) -> None:
    assert len([f for f in FILES if f.startswith("corpus/")]) >= 140


def test_shared_seed_messages_match_the_local_copy(shared_dir: Path) -> None:
    for local in LOCAL_SEED.glob("*.eml"):
        assert (shared_dir / "seed-messages" / local.name).read_bytes() == local.read_bytes()


def test_selected_corpus_expectations(shared_dir: Path) -> None:
    def load(name: str):  # type: ignore[no-untyped-def]
        return render_message((shared_dir / "corpus" / name).read_bytes())

    assert "メールを簡単に。" in load("thunderbird__wronglyDeclaredUTF8.eml").body
    names = [a.filename for a in load("mimetools__multi-2evil.msg").attachments]
    assert names[0] == "3d-compress.gif" and all("/" not in n for n in names)
    assert [a.filename for a in load("phpmimemailparser__m0027").attachments] == ["1234.txt"]
    flowed = load("thunderbird__format-flowed.eml").body
    assert "first first first first first text" in flowed and "\n" not in flowed.strip()
    nested = load("mime4j__base64encoded-rfc822message-nested.msg")
    assert "Text body" in nested.body
    assert [a.part_id for a in nested.attachments] == ["1", "1.1"]
    digest = load("cpython__msg_02.txt")
    assert digest.body.count("Forwarded message ----------") == 5
    assert load("thunderbird__body-utf16.eml").body.strip()
