"""Record real Dovecot responses for the parser tests.

Run from the project root: `.venv/bin/python tests/data/imap/record.py`. It starts a sandbox,
stores the project's seed messages, a handful of generated ones and the hand-written edge cases
below, then speaks IMAP to Dovecot's imap binary over a pipe (PREAUTH) and writes the exact bytes
of each answer to `tests/data/imap/dovecot/<name>.txt`, with the command in `index.json`.
Messages are appended with fixed INTERNALDATEs so that a re-recording differs only where Dovecot
itself changes (UIDVALIDITY, MODSEQ values, capability lists).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))

from app.imap.parser import quote  # noqa: E402
from app.imap.utf7 import encode_mailbox  # noqa: E402
from app.sandbox import Sandbox  # noqa: E402

OUT = HERE / "dovecot"
SEED = ROOT / "tests" / "data" / "seed"

# Hand-written messages for the structures real mail brings but the seed set lacks.
CRAFTED: dict[str, bytes] = {
    "groups-and-quotes": (
        b'From: "Doe, Jane \\"JD\\"" <jane@example.org>\r\n'
        b"To: Team: alice@example.org, Bob <bob@example.org>;, carol@example.org\r\n"
        b"Cc: undisclosed-recipients:;\r\n"
        b"Bcc: <@relay.example:dan@example.org>\r\n"
        b'Subject: Re: (tick "quoted" \\ back * star\r\n'
        b"Date: Tue, 3 Feb 2026 10:00:00 +0100\r\n"
        b"Message-ID: <groups@example.org>\r\n"
        b"In-Reply-To: <parent@example.org>\r\n"
        b"\r\n"
        b"Body.\r\n"
    ),
    "eightbit-headers": (
        "From: Jürgen Müller <juergen@example.de>\r\n"
        "To: 山田 <yamada@example.jp>\r\n"
        "Subject: Grüße aus Köln – 日本語\r\n"
        "Date: Wed, 4 Feb 2026 11:00:00 +0000\r\n"
        "Message-ID: <utf8@example.de>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
        "Hallo.\r\n"
    ).encode(),
    "latin1-headers": (
        "From: =?iso-8859-1?q?Ren=E9?= <rene@example.fr>\r\n"
        "To: rene@example.fr\r\n"
        "Subject: Caf\xe9 cr\xe8me\r\n"
        "Date: Thu, 5 Feb 2026 12:00:00 -0500\r\n"
        "Content-Type: text/plain; charset=iso-8859-1\r\n"
        "\r\n"
        "Voil\xe0.\r\n"
    ).encode("latin-1"),
    "nested-rfc822": (
        b"From: Forwarder <fwd@example.org>\r\n"
        b"To: you@example.org\r\n"
        b"Subject: Fwd: two messages\r\n"
        b"Date: Fri, 6 Feb 2026 09:30:00 +0000\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="outer"\r\n'
        b"\r\n"
        b"--outer\r\n"
        b"Content-Type: text/plain; charset=us-ascii\r\n"
        b"\r\n"
        b"See the two attached messages.\r\n"
        b"--outer\r\n"
        b"Content-Type: message/rfc822\r\n"
        b'Content-Disposition: attachment; filename="first.eml"\r\n'
        b"\r\n"
        b"From: First <first@example.org>\r\n"
        b"Subject: the first\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/alternative; boundary="alt"\r\n'
        b"\r\n"
        b"--alt\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"\r\n"
        b"plain\r\n"
        b"--alt\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n"
        b"\r\n"
        b"<p>html</p>\r\n"
        b"--alt--\r\n"
        b"--outer\r\n"
        b"Content-Type: message/rfc822\r\n"
        b"\r\n"
        b"From: Second <second@example.org>\r\n"
        b"Subject: the second\r\n"
        b"Content-Type: text/plain; charset=us-ascii\r\n"
        b"\r\n"
        b"single part inside\r\n"
        b"--outer--\r\n"
    ),
    "attachment-params": (
        b"From: Sender <s@example.org>\r\n"
        b"To: r@example.org\r\n"
        b"Subject: params\r\n"
        b"Date: Sat, 7 Feb 2026 08:00:00 +0200\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b1"\r\n'
        b"Content-Language: en, de\r\n"
        b"\r\n"
        b"--b1\r\n"
        b"Content-Type: text/plain; charset=utf-8; format=flowed\r\n"
        b"Content-Language: en\r\n"
        b"Content-Location: http://example.org/text\r\n"
        b"Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
        b"\r\n"
        b"text\r\n"
        b"--b1\r\n"
        b"Content-Type: application/pdf; name*=utf-8''r%C3%A9sum%C3%A9.pdf\r\n"
        b"Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf; size=4\r\n"
        b"Content-ID: <part2@example.org>\r\n"
        b"Content-Description: A CV\r\n"
        b"Content-Transfer-Encoding: base64\r\n"
        b"\r\n"
        b"AAECAw==\r\n"
        b"--b1\r\n"
        b"Content-Type: IMAGE/PNG; NAME=dot.png\r\n"
        b"Content-Disposition: INLINE\r\n"
        b"Content-Transfer-Encoding: BASE64\r\n"
        b"\r\n"
        b"iVBORw0KGgo=\r\n"
        b"--b1--\r\n"
    ),
    "deep-multipart": b"",  # filled in below
}


def _deep(levels: int) -> bytes:
    head = (
        b"From: Deep <deep@example.org>\r\nTo: r@example.org\r\nSubject: deep\r\n"
        b"MIME-Version: 1.0\r\n"
    )
    body = b"Content-Type: text/plain\r\n\r\nleaf\r\n"
    for i in range(levels):
        b = f"d{i}".encode()
        body = (
            b'Content-Type: multipart/mixed; boundary="' + b + b'"\r\n\r\n--' + b + b"\r\n" + body
        )
        body += b"--" + b + b"--\r\n"
    return head + body


CRAFTED["deep-multipart"] = _deep(30)

FOLDERS = ["Entwürfe", "日本語/子", "A&B", "Work/Projects 2026", "with space", 'q"uote']

FETCH_HEADERS = "(UID FLAGS ENVELOPE RFC822.SIZE INTERNALDATE BODYSTRUCTURE MODSEQ)"


class Wire:
    """A blocking IMAP conversation over a tunnel command's stdin/stdout."""

    def __init__(self, command: str) -> None:
        self.proc = subprocess.Popen(
            command, shell=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        self.n = 0

    def _line(self) -> bytes:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline()

    def response(self) -> bytes:
        """One response, literals included."""
        assert self.proc.stdout is not None
        data = self._line()
        while True:
            m = re.search(rb"\{(\d+)\}\r\n$", data)
            if not m:
                return data
            data += self.proc.stdout.read(int(m.group(1)))
            data += self._line()

    def command(self, text: str, literal: bytes | None = None) -> bytes:
        assert self.proc.stdin is not None
        self.n += 1
        tag = f"r{self.n}"
        line = f"{tag} {text}"
        if literal is not None:
            self.proc.stdin.write(f"{line} {{{len(literal)}+}}\r\n".encode() + literal + b"\r\n")
        else:
            self.proc.stdin.write(line.encode("utf-8") + b"\r\n")
        self.proc.stdin.flush()
        out = b""
        while True:
            resp = self.response()
            if not resp:
                raise RuntimeError(f"server closed during {text!r}: {out[-300:]!r}")
            out += resp
            if resp.startswith(tag.encode() + b" "):
                return out

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    index: dict[str, str] = {}
    root = Path(tempfile.mkdtemp(prefix="termail-record-", dir="/dev/shm"))
    sb = Sandbox(root)
    sb.start()
    try:
        sb.add_user("rec")
        sb.seed_generated("rec", 40, mailbox="Generated")
        wire = Wire(sb.tunnel_command("rec"))
        greeting = wire.response()

        def rec(name: str, text: str, literal: bytes | None = None) -> bytes:
            data = wire.command(text, literal)
            (OUT / f"{name}.txt").write_bytes(data)
            index[name] = text + (f" {{{len(literal)}+}}" if literal is not None else "")
            return data

        (OUT / "greeting.txt").write_bytes(greeting)
        index["greeting"] = "(PREAUTH greeting)"
        rec("capability", "CAPABILITY")
        rec("id", 'ID ("name" "termail-recorder")')
        rec("namespace", "NAMESPACE")
        rec("enable", "ENABLE CONDSTORE QRESYNC")
        for i, folder in enumerate(FOLDERS):
            rec(f"create-{i}", f"CREATE {quote(encode_mailbox(folder))}")
        rec("list", 'LIST "" "*"')
        rec(
            "list-extended",
            'LIST (SUBSCRIBED) "" "*" RETURN (CHILDREN SPECIAL-USE STATUS (MESSAGES UNSEEN))',
        )
        rec("lsub", 'LSUB "" "*"')
        rec(
            "status",
            f"STATUS {quote(encode_mailbox(FOLDERS[0]))} (MESSAGES UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ)",
        )
        date = 1
        for path in sorted(SEED.glob("*.eml")):
            rec(
                f"append-{path.stem}",
                f'APPEND INBOX (\\Seen) "{date:02d}-Feb-2026 10:00:00 +0100"',
                path.read_bytes(),
            )
            date += 1
        for name, data in CRAFTED.items():
            flags = "(\\Flagged $Forwarded)" if name == "nested-rfc822" else "()"
            rec(
                f"append-{name}", f'APPEND INBOX {flags} "{date:02d}-Feb-2026 23:59:59 -0930"', data
            )
            date += 1
        selected = rec("select", "SELECT INBOX (CONDSTORE)")
        m = re.search(rb"UIDVALIDITY (\d+)", selected)
        assert m is not None
        uidvalidity = m.group(1).decode()
        rec("fetch-headers", f"UID FETCH 1:* {FETCH_HEADERS}")
        rec("fetch-body-nonext", "FETCH 1:2 (BODY)")
        rec(
            "fetch-sections",
            "UID FETCH 1:3 (BODY.PEEK[HEADER.FIELDS (From Subject)] BODY.PEEK[1]<0.20> BODY.PEEK[])",
        )
        rec("fetch-binary", "UID FETCH 3 (BINARY.PEEK[2] BINARY.SIZE[2] BODY.PEEK[2.MIME])")
        rec(
            "fetch-nested-parts",
            "UID FETCH 8 (BODY.PEEK[2.1] BODY.PEEK[3.1] BODY.PEEK[2.HEADER] RFC822.HEADER)",
        )
        rec("search", "UID SEARCH ALL")
        rec("search-modseq", "UID SEARCH MODSEQ 1")
        rec("search-charset", "UID SEARCH CHARSET UTF-8 SUBJECT {7+}\r\nGrüße", None)
        rec("esearch", "UID SEARCH RETURN (MIN MAX COUNT ALL) ALL")
        rec("sort", "UID SORT (REVERSE DATE) UTF-8 ALL")
        rec("thread", "UID THREAD REFERENCES UTF-8 ALL")
        rec("store", "UID STORE 1:2 +FLAGS (\\Answered $Label1)")
        rec("copy", f"UID COPY 1:3,5 {quote(encode_mailbox(FOLDERS[0]))}")
        rec(
            "append-uid",
            f"APPEND {quote(encode_mailbox(FOLDERS[0]))} (\\Draft) {{4+}}\r\nx: y",
            None,
        )
        rec("store-deleted", "UID STORE 4 +FLAGS.SILENT (\\Deleted)")
        rec("expunge", "EXPUNGE")
        rec("bad-command", "FROBNICATE")
        rec("no-select", "SELECT Nonexistent")
        rec("select-generated", "SELECT Generated")
        rec("fetch-generated", f"UID FETCH 1:* {FETCH_HEADERS}")
        rec("thread-generated", "UID THREAD REFERENCES UTF-8 ALL")
        rec("sort-generated", "UID SORT (SUBJECT) UTF-8 ALL")
        rec("esearch-generated", "UID SEARCH RETURN (ALL COUNT) UNSEEN")
        rec("select-qresync", f"SELECT INBOX (QRESYNC ({uidvalidity} 1 1:20))")
        rec("logout", "LOGOUT")
        wire.close()
    finally:
        sb.stop(remove=True)
    (OUT / "index.json").write_text(json.dumps(index, indent=1, ensure_ascii=False) + "\n")
    print(f"recorded {len(index)} exchanges into {OUT}")


if __name__ == "__main__":
    main()
