"""OpenPGP over IMAP (issue 16): signatures checked against the server's exact bytes of the
signed part (BODY.PEEK[n.MIME] + BODY.PEEK[n]), encrypted messages decrypted with their
attachments, a tampered copy said to be bad. Keys: tests/gpg_keys.py (a throwaway GNUPGHOME).
"""

from __future__ import annotations

import pytest

from app.account import Account
from app.crypto.engine import Engine
from app.crypto.writing import protect_bytes
from app.mime.compose import Draft, Identity, build_message, message_bytes
from app.sandbox.kinds import KindUser
from tests.gpg_keys import Keyring, signed_message
from tests.integration.kinds import over_kinds
from tests.integration.test_interop import opened, seed

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@over_kinds()
async def test_signed_verified_from_server_bytes(
    gpg_keyring: Keyring, kind_user: KindUser, kind_account: Account
) -> None:
    # Trailing white space, a tab, "From " at a line start and a dash line: a re-serialisation
    # (or a server's own rewrap) would change these bytes; the server's are what is checked.
    body = b"Hello Bob   \r\nFrom the start\t\r\n-- \r\nAlice\r\n"
    crlf = signed_message(gpg_keyring, body, subject="signed crlf")
    lf = signed_message(gpg_keyring, body, subject="signed lf").replace(b"\r\n", b"\n")
    tampered = signed_message(gpg_keyring, b"Pay Bob 10 EUR\r\n", subject="tampered").replace(
        b"Pay Bob 10", b"Pay Bob 99"
    )
    uids = seed(kind_user, "INBOX", [crlf, lf, tampered])
    await opened(kind_account)
    for uid in uids[:2]:
        shown = await kind_account.load_message(uid)
        assert shown.crypto, shown.notices
        status = shown.crypto[0]
        assert status.level == "good", status
        assert "Alice <alice@example.org>" in status.summary
        assert any("matches From" in d for d in status.details)
        assert "Hello Bob" in shown.body
    bad = await kind_account.load_message(uids[2])
    assert bad.crypto[0].level == "bad" and "BAD signature" in bad.crypto[0].summary
    assert "Pay Bob 99" in bad.body


@over_kinds()
async def test_encrypted_decrypted_with_attachment(
    gpg_keyring: Keyring, kind_user: KindUser, kind_account: Account
) -> None:
    draft = Draft(
        from_=Identity("Alice", "alice@example.org"),
        to=["bob@example.org"],
        subject="the plan",
        body="Meet at noon.\n",
        attachments=[("plan.txt", b"step 1\nstep 2\n", "text/plain")],
    )
    data = message_bytes(build_message(draft, message_id_domain="example.org"))
    sealed = protect_bytes(data, draft, sign=True, encrypt=True, engine=Engine())
    (uid,) = seed(kind_user, "INBOX", [sealed])
    await opened(kind_account)
    shown = await kind_account.load_message(uid)
    levels = [(s.level, s.summary.split(":")[1].strip()[:9]) for s in shown.crypto]
    assert levels[:2] == [("good", "decrypted"), ("good", "good sign")], shown.crypto
    assert "Meet at noon." in shown.body
    assert shown.subject == "the plan"  # the protected Subject, not the outer "..."
    (attachment,) = shown.attachments
    assert attachment.filename == "plan.txt"
    saved = await kind_account.fetch_attachment(uid, attachment.part_id, "base64", text=True)
    assert saved == b"step 1\nstep 2\n"


@over_kinds(only=["dovecot"])
async def test_broken_armor_still_shows_the_rest(
    gpg_keyring: Keyring, kind_user: KindUser, kind_account: Account
) -> None:
    cut = signed_message(gpg_keyring, b"text stays\r\n", subject="cut")
    head, _, rest = cut.partition(b"-----BEGIN PGP SIGNATURE-----")
    broken = head + b"-----BEGIN PGP SIGNATURE-----\r\n\r\niHUEARYIAB0WIQ\r\n--BB--\r\n"
    (uid,) = seed(kind_user, "INBOX", [broken])
    await opened(kind_account)
    shown = await kind_account.load_message(uid)
    assert "text stays" in shown.body
    assert shown.crypto and shown.crypto[0].level in ("warning", "bad")
    assert "good" not in shown.crypto[0].summary
