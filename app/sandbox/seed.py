"""Fast, deterministic generation of realistic mail straight into Maildir folders.

Dovecot reads Maildir files as they are, so bulk loading is writing files into `cur/` with the
size in the name and the Date as mtime (which becomes INTERNALDATE); Dovecot indexes them on the
next SELECT. 100,000 messages take seconds on tmpfs, against minutes through APPEND.
"""

from __future__ import annotations

import base64
import os
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

_counter = 0

FIRST = ["Alice", "Bob", "Carol", "Dave", "Eve", "Frank", "Grace", "Heidi", "Ivan", "Judy",
         "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter",
         "Zoë", "José", "Łukasz", "Søren", "Chloé", "Jürgen", "Ana", "Mei", "Hiroshi", "Olga",
         "Ahmed"]  # fmt: skip
LAST = ["Smith", "Jones", "Müller", "García", "Rossi", "Nowak", "Dubois", "Tanaka", "Kim",
        "Nguyen", "Ivanova", "Silva", "O'Brien", "Andersen", "Kowalski"]  # fmt: skip
TOPICS = ["quarterly report", "release plan", "meeting notes", "budget review", "bug triage",
          "design review", "lunch on Friday", "conference travel", "server migration",
          "invoice", "holiday schedule", "code review", "résumé feedback", "crème brûlée recipe",
          "naïve question about IMAP", "Q4 roadmap", "security advisory", "onboarding"]  # fmt: skip
WORDS = ["the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on", "not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an", "they", "you", "were", "her", "she", "there", "been", "one", "all", "we", "their", "has", "would", "when", "if", "so", "no", "will", "can", "more", "other", "into", "about", "time", "only", "new", "some", "could", "these", "two", "may", "first", "then", "do", "any", "like", "my", "now", "over", "such", "our", "man", "me", "even", "most", "made", "after", "also", "did", "many", "before", "must", "through", "back", "years", "where", "much", "your", "way", "well", "down", "should", "because", "each", "just", "those", "people", "mister", "how", "too", "little", "state", "good", "very", "make", "world", "still", "own", "see", "men", "work", "long", "get", "here", "between", "both", "life", "being", "under", "never", "day", "same", "another", "know", "while", "last", "might", "us", "great", "old", "year", "off", "come", "since", "against", "go", "came", "right", "used", "take", "three", "mailbox", "folder", "server", "client", "message", "header", "body"]  # fmt: skip


def _encode_word(text: str) -> str:
    """RFC 2047 encode non-ASCII text (B encoding, UTF-8) so headers stay 7-bit."""
    if text.isascii():
        return text
    return "=?UTF-8?B?" + base64.b64encode(text.encode()).decode() + "?="


def maildir_name(data: bytes, flags: str = "", *, unique: str | None = None) -> str:
    """A Maildir file name with the sizes Dovecot reads without opening the file."""
    global _counter
    _counter += 1
    crlf_size = len(data) + data.count(b"\n")
    tag = unique or f"{time.time_ns()}.M{_counter}P{os.getpid()}"
    return f"{tag}.termail,S={len(data)},W={crlf_size}:2,{''.join(sorted(flags))}"


def _pdf_bytes(rng: random.Random) -> bytes:
    body = b"%PDF-1.4\n% termail sample\n" + bytes(rng.getrandbits(8) for _ in range(600))
    return body + b"\n%%EOF\n"


def generate(i: int, rng: random.Random, base: datetime) -> tuple[bytes, str, float]:
    """Message number `i`: (bytes with LF line ends, Maildir flags, date as a timestamp)."""
    first, last = rng.choice(FIRST), rng.choice(LAST)
    sender = f"{first.lower()}.{last.lower()}".encode("ascii", "ignore").decode()
    sender = sender.replace("'", "") or "someone"
    topic = rng.choice(TOPICS)
    thread = i // 4 if rng.random() < 0.4 else i
    subject = ("Re: " if thread != i else "") + f"{topic.capitalize()} #{thread}"
    date = base - timedelta(minutes=(100_000 - i) * 15 + rng.randrange(10))
    msgid = f"<gen{i}.{thread}@example.org>"
    headers = [
        f"From: {_encode_word(first + ' ' + last)} <{sender}@example.org>",
        "To: Demo User <demo@localhost>",
        f"Subject: {_encode_word(subject)}",
        f"Date: {format_datetime(date)}",
        f"Message-ID: {msgid}",
        "MIME-Version: 1.0",
    ]
    if thread != i:
        headers.append(f"In-Reply-To: <gen{thread}.{thread}@example.org>")
        headers.append(f"References: <gen{thread}.{thread}@example.org>")
    text = "\n".join(
        " ".join(rng.choice(WORDS) for _ in range(rng.randrange(6, 14)))
        for _ in range(rng.randrange(3, 12))
    )
    text = f"Hello,\n\n{text}\n\n-- \n{first} {last}\n"
    kind = rng.random()
    if kind < 0.6:
        headers.append("Content-Type: text/plain; charset=utf-8")
        headers.append("Content-Transfer-Encoding: 8bit")
        body = text
    elif kind < 0.9:
        boundary = f"alt{i}"
        html = (
            "<html><body>" + "".join(f"<p>{p}</p>" for p in text.split("\n\n")) + "</body></html>"
        )
        headers.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
        body = (
            f"--{boundary}\nContent-Type: text/plain; charset=utf-8\n"
            f"Content-Transfer-Encoding: 8bit\n\n{text}\n"
            f"--{boundary}\nContent-Type: text/html; charset=utf-8\n"
            f"Content-Transfer-Encoding: 8bit\n\n{html}\n--{boundary}--\n"
        )
    else:
        boundary = f"mix{i}"
        pdf = base64.encodebytes(_pdf_bytes(rng)).decode()
        headers.append(f'Content-Type: multipart/mixed; boundary="{boundary}"')
        body = (
            f"--{boundary}\nContent-Type: text/plain; charset=utf-8\n"
            f"Content-Transfer-Encoding: 8bit\n\n{text}\n"
            f'--{boundary}\nContent-Type: application/pdf; name="report-{i}.pdf"\n'
            f'Content-Disposition: attachment; filename="report-{i}.pdf"\n'
            f"Content-Transfer-Encoding: base64\n\n{pdf}--{boundary}--\n"
        )
    flags = ""
    if rng.random() < 0.9:
        flags += "S"
    if rng.random() < 0.03:
        flags += "F"
    if rng.random() < 0.1:
        flags += "R"
    data = ("\n".join(headers) + "\n\n" + body).encode("utf-8")
    return data, flags, date.timestamp()


def write_generated(cur: Path, n: int, *, seed: int = 0, unseen_newest: int = 50) -> int:
    """Write `n` generated messages into a Maildir `cur/` folder; the newest stay unseen."""
    rng = random.Random(seed)
    base = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    start = 100_000 - n if n <= 100_000 else 0
    stamp = time.time_ns()
    for k in range(n):
        i = start + k
        data, flags, when = generate(i, rng, base)
        if k >= n - unseen_newest:
            flags = flags.replace("S", "")
        name = maildir_name(data, flags, unique=f"{stamp}.M{k:08d}P{os.getpid()}")
        path = cur / name
        with open(path, "wb") as f:
            f.write(data)
        os.utime(path, (when, when))
    return n


#: The subjects of two messages at either end of a seeded folder's date order: a client's first
#: screen shows NEWEST_MARK, End has reached OLDEST_MARK (bench.peers, the tmux tests).
NEWEST_MARK, OLDEST_MARK = "ZZNEWESTMARK", "ZZOLDESTMARK"
OLDEST_DATE = ("Mon, 1 Jan 1990 00:00:00 +0000", 631152000.0)
NEWEST_DATE = ("Tue, 1 Jan 2036 00:00:00 +0000", 2082758400.0)


def seed_between_markers(
    sandbox: Any,
    user: Any,
    n: int,
    *,
    newest: tuple[str, float] = NEWEST_DATE,
    indexed: Callable[[], object] | None = None,
) -> None:
    """`n` generated messages in `user`'s INBOX between the OLDEST_MARK and NEWEST_MARK messages
    (`newest`: the newest one's Date and mtime).

    `indexed` is called after each of the three steps: bench.peers has Dovecot index the folder
    there, so that the markers also take the lowest and the highest UID (a client showing arrival
    order then has them at the same ends as one sorting by date: Dovecot numbers new Maildir files
    in directory order, which on tmpfs is not the order they were written in)."""

    def marker(subject: str, date: str, when: float) -> None:
        sandbox.deliver(
            user.name,
            f"From: Marker <m@example.org>\r\nTo: {user.address}\r\nSubject: {subject}\r\n"
            f"Date: {date}\r\nMessage-ID: <{subject}@sandbox>\r\n\r\nmarker\r\n".encode(),
            flags="S",
            when=when,
        )
        if indexed is not None:
            indexed()

    marker(OLDEST_MARK, *OLDEST_DATE)
    sandbox.seed_generated(user.name, n)
    if indexed is not None:
        indexed()
    marker(NEWEST_MARK, *newest)
