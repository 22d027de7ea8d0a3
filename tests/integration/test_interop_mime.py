"""Item 5 of issue 14: a multipart message without MIME-Version, as Courier describes it.

Courier's BODYSTRUCTURE for such a message is one text/plain part, so termail showed the raw
MIME (boundaries, part headers, base64) and no attachments. When the header says multipart and
the structure does not, the whole message is fetched and parsed here. The oracle is termail's
own rendering of the raw message (`render_message`), which every other kind matches already.
"""

from __future__ import annotations

import base64
import email
import email.policy
from pathlib import Path

import pytest

from app.account import Account
from app.mime.render import render_message
from app.sandbox.kinds import KindUser
from tests.integration.kinds import over_kinds
from tests.integration.test_interop import opened, seed

pytestmark = pytest.mark.integration

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 4 + b"\n%%EOF\n"

NO_MIME_VERSION = (
    b"From: Sender <s@example.org>\r\nTo: u@localhost\r\nSubject: report without MIME-Version\r\n"
    b"Date: Sun, 01 Nov 2026 10:00:00 +0000\r\nMessage-ID: <nomv@example.org>\r\n"
    b'Content-Type: multipart/mixed; boundary="b0undary"\r\n\r\n'
    b"This is a multi-part message in MIME format.\r\n\r\n--b0undary\r\n"
    b"Content-Type: text/plain; charset=us-ascii\r\n\r\nThe report is attached.\r\n\r\n"
    b"--b0undary\r\nContent-Type: application/pdf; name=report.pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=report.pdf\r\n\r\n"
    + base64.encodebytes(PDF).replace(b"\n", b"\r\n")
    + b"\r\n--b0undary--\r\n"
)


@over_kinds()
async def test_multipart_without_mime_version(
    kind_user: KindUser, kind_account: Account, tmp_path_fast: Path
) -> None:
    (uid,) = seed(kind_user, "INBOX", [NO_MIME_VERSION])
    await opened(kind_account)
    shown = await kind_account.load_message(uid)
    assert "The report is attached." in shown.body
    assert "b0undary" not in shown.body and "Content-Type" not in shown.body, shown.body
    assert [a.filename for a in shown.attachments] == ["report.pdf"]
    saved = await kind_account.save_attachment(
        uid, shown.attachments[0].part_id, shown.attachments[0].encoding, tmp_path_fast, "r.pdf"
    )
    assert saved.read_bytes() == PDF
    info = shown.attachments[0]
    assert await kind_account.fetch_attachment(uid, info.part_id, info.encoding) == PDF
    original, attachments = await kind_account.forward_source(uid)
    if attachments is None:  # the whole message: the caller takes the attachments from it
        assert [a.filename for a in render_message(original).attachments] == ["report.pdf"]
    else:
        assert [a.filename for a in attachments] == ["report.pdf"]
        assert b"The report is attached." in original


def _corpus_without_mime_version() -> list[Path]:
    """Corpus messages whose own header lacks MIME-Version and says multipart."""
    corpus = Path(__file__).resolve().parents[3] / "shared" / "corpus"
    if not corpus.is_dir():
        return []
    found = []
    for path in sorted(corpus.iterdir()):
        if not path.is_file() or path.suffix == ".md":
            continue
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.compat32)
        if (
            msg.get("MIME-Version") is None
            and msg.get_content_maintype() == "multipart"
            and msg.get_param("boundary")
        ):
            found.append(path)
    return found


CORPUS = _corpus_without_mime_version()


@over_kinds(only=["courier"])
@pytest.mark.parametrize("path", CORPUS or [None], ids=[p.name for p in CORPUS] or ["absent"])
async def test_corpus_without_mime_version(
    kind_user: KindUser, kind_account: Account, path: Path | None
) -> None:
    """Shown through the server as the whole message parsed here shows it."""
    if path is None:
        pytest.skip("../shared/corpus is absent (a user's fresh clone has none)")
    raw = path.read_bytes()
    if b"\r\n" not in raw:
        raw = raw.replace(b"\n", b"\r\n")
    (uid,) = seed(kind_user, "INBOX", [raw])
    await opened(kind_account)
    stored = await kind_account.fetch_raw(uid)  # what the server keeps (it may rewrite)
    expected = render_message(stored)
    shown = await kind_account.load_message(uid)
    assert [a.filename for a in shown.attachments] == [a.filename for a in expected.attachments]
    assert shown.body == expected.body


@over_kinds(only=["courier"])
async def test_parsed_here_also_offline(kind_user: KindUser, tmp_path_fast: Path) -> None:
    """Read once, such a message shows the same from the header cache without a connection."""
    from app.models import Folder, FolderRole
    from tests.integration.kinds import make_kind_account

    cache = tmp_path_fast / "headers.sqlite3"
    (uid,) = seed(kind_user, "INBOX", [NO_MIME_VERSION])
    online = make_kind_account(kind_user, cache)
    await online.connect()
    await opened(online)
    assert [a.filename for a in (await online.load_message(uid)).attachments] == ["report.pdf"]
    await online.close()
    offline = make_kind_account(kind_user, cache)  # never connected
    inbox = Folder("INBOX", "INBOX", "/", frozenset(), FolderRole.INBOX)
    assert offline.open_folder_cached(inbox) is not None
    shown = await offline.load_message(uid)
    assert [a.filename for a in shown.attachments] == ["report.pdf"]
    assert "b0undary" not in shown.body
    offline.close_cache()
