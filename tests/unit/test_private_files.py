"""Issue 13 item 8 and issue 20 items 3/14 in the core: 0700 folders and 0600 files on every
level termail makes, the sweep of opened-attachment copies, executable types, text line ends
and decoded size estimates."""

from __future__ import annotations

import base64
import binascii
import os
import quopri
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.actions.opened import new_open_folder, remove_open_folders, sweep_stale_open_folders
from app.mime.attachments import (
    StreamDecoder,
    decode_transfer,
    estimate_decoded_size,
    executable_reason,
    is_text_type,
    save_part,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def fresh_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """XDG folders that do not exist yet, under the usual umask 022."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cachehome"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("TERMAIL_STATE_DIR", raising=False)
    old = os.umask(0o022)
    try:
        yield tmp_path
    finally:
        os.umask(old)


def test_every_level_of_data_drafts_outbox_cache_is_0700(fresh_home: Path) -> None:
    from app.paths import cache_dir, data_dir
    from app.smtp.outbox import DraftStore, Outbox
    from app.store.cache import HeaderCache, account_cache_path

    account = data_dir() / "work"
    Outbox(account)
    DraftStore(account)
    cache = HeaderCache.open(account_cache_path("work"))
    cache.close()
    levels = [
        fresh_home / "share",  # XDG: a missing base folder is made 0700 too
        data_dir(),
        account,
        account / "drafts",
        account / "drafts" / "tmp",
        account / "outbox",
        account / "outbox" / "cur",
        fresh_home / "cachehome",
        cache_dir(),
        cache_dir() / "headers",
    ]
    assert {str(p.relative_to(fresh_home)): oct(mode(p)) for p in levels} == {
        str(p.relative_to(fresh_home)): "0o700" for p in levels
    }
    assert mode(account_cache_path("work")) == 0o600


def test_state_file_folder_is_private(fresh_home: Path) -> None:
    from app.state import remember, state_file

    remember("attachments.folder", "/x")
    assert mode(state_file().parent) == 0o700 and mode(state_file()) == 0o600


def test_older_0755_termail_folders_are_tightened_not_the_parents(fresh_home: Path) -> None:
    from app.paths import data_dir
    from app.smtp.outbox import Outbox

    share = fresh_home / "share"
    (data_dir() / "old").mkdir(parents=True)
    os.chmod(share, 0o755)
    os.chmod(data_dir(), 0o755)
    os.chmod(data_dir() / "old", 0o755)
    Outbox(data_dir() / "old")
    assert mode(data_dir()) == 0o700 and mode(data_dir() / "old") == 0o700
    assert mode(share) == 0o755  # the user's own folder above termail's is left alone


def test_saved_attachment_is_0600_and_stays_inside_the_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    path = save_part(b"x", "7bit", out, "../../escape.sh")
    assert path.parent == out and path.name == "escape.sh" and mode(path) == 0o600
    assert not (tmp_path / "escape.sh").exists()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_sweep_removes_only_our_stale_folders(tmp_path: Path) -> None:
    dead = tmp_path / f"termail-open-{_dead_pid()}-abc"
    live = tmp_path / f"termail-open-{os.getpid()}-def"
    legacy_old = tmp_path / "termail-open-k3j2h1g0"
    legacy_new = tmp_path / "termail-open-zz9yy8xx"
    other = tmp_path / "something-else"
    for folder in (dead, live, legacy_old, legacy_new, other):
        folder.mkdir()
        (folder / "file.pdf").write_bytes(b"%PDF")
    victim = tmp_path / "not-ours"
    victim.mkdir()
    (victim / "keep").write_text("x")
    link = tmp_path / f"termail-open-{_dead_pid()}-lnk"
    link.symlink_to(victim)
    old = time.time() - 2 * 86400
    os.utime(legacy_old, (old, old))
    removed = sweep_stale_open_folders(tmp_path)
    assert sorted(removed) == sorted([dead, legacy_old])
    assert live.exists() and legacy_new.exists() and other.exists()
    assert (victim / "keep").exists() and link.is_symlink()


def test_open_folders_are_private_and_removed_at_exit(tmp_path: Path) -> None:
    folder = new_open_folder(tmp_path)
    assert folder.name.startswith(f"termail-open-{os.getpid()}-") and mode(folder) == 0o700
    assert sweep_stale_open_folders(tmp_path) == []  # our own live run: kept
    remove_open_folders()
    assert not folder.exists()


@pytest.mark.parametrize(
    ("name", "mime", "head"),
    [
        ("invoice.desktop", "text/plain", None),
        ("setup.sh", "application/octet-stream", None),
        ("Report.PDF.exe", "application/pdf", None),
        ("tool.jar", "application/octet-stream", None),
        ("run.py", "text/plain", None),
        ("data", "application/x-executable", None),
        ("notes.txt", "text/plain", b"#!/bin/sh\nrm -rf ~\n"),
        ("photo.jpg", "image/jpeg", b"\x7fELF\x02\x01"),
        ("readme", "text/plain", b"[Desktop Entry]\nExec=x"),
    ],
)
def test_executable_types_are_recognised(name: str, mime: str, head: bytes | None) -> None:
    assert executable_reason(name, mime, head) is not None


@pytest.mark.parametrize(
    ("name", "mime"),
    [("report.pdf", "application/pdf"), ("chart.png", "image/png"), ("a.csv", "text/csv")],
)
def test_documents_are_not_executables(name: str, mime: str) -> None:
    assert executable_reason(name, mime, b"%PDF-1.4") is None


def test_text_parts_lose_only_the_wire_crlf_whatever_the_chunking() -> None:
    wire = b"a,b\r\n1,2\r\n3,4\r\n"
    for size in range(1, len(wire) + 1):
        decoder = StreamDecoder("7bit", text=True)
        out = b"".join(decoder.feed(wire[i : i + size]) for i in range(0, len(wire), size))
        assert out + decoder.finish() == b"a,b\n1,2\n3,4\n", size
    # Quoted-printable: soft breaks joined, wire CRLF -> LF, an encoded =0D=0A is the sender's.
    qp = quopri.encodestring(b"x" * 90 + b" end\nline\r\n").replace(b"\n", b"\r\n")
    assert b"=0D" in qp or b"\r\r\n" not in qp
    decoded, _ = decode_transfer(
        b"one=0D=0Atwo\r\nthree=\r\n four\r\n", "quoted-printable", text=True
    )
    assert decoded == b"one\r\ntwo\nthree four\n"
    # base64 is exact: a CRLF file keeps its CRs; non-text parts are never touched.
    crlf = b"dos\r\nfile\r\n"
    assert decode_transfer(base64.encodebytes(crlf), "base64", text=True)[0] == crlf
    assert decode_transfer(b"bin\r\n", "7bit", text=False)[0] == b"bin\r\n"
    assert is_text_type("text/csv") and is_text_type("message/rfc822")
    assert not is_text_type("application/octet-stream")


def test_decoded_size_estimates() -> None:
    data = os.urandom(5 * 1024 * 1024)
    encoded = base64.encodebytes(data).replace(b"\n", b"\r\n")
    size, estimate = estimate_decoded_size(len(encoded), "base64")
    assert estimate and abs(size - len(data)) <= 3  # was shown as ~6.8M
    letter = "Sehr geehrte Damen und Herren, anbei die Übersicht für März.\n".encode() * 500
    qp = binascii.b2a_qp(letter).replace(b"\n", b"\r\n")
    size, estimate = estimate_decoded_size(len(qp), "quoted-printable")
    assert estimate and 0.9 < size / len(letter) < 1.1  # "QP approx", shown with "~"
    # 7bit text with a known line count is exact: one CR dropped per line.
    assert estimate_decoded_size(15, "7bit", text=True, lines=3) == (12, False)
    assert estimate_decoded_size(15, "7bit") == (15, False)
