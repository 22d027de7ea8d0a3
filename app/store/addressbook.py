"""Addresses to offer in To/Cc/Bcc: whoever the user has heard from and, above all, written to.

Built from envelopes already at hand (the header cache and the summaries in memory), never from a
server round trip: the recipients of mail in Sent count thrice, senders and co-recipients of
received mail once; the user's own addresses are left out. Names come decoded and sanitized.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from app.mime.compose import format_address
from app.mime.headers import decode_envelope_address
from app.models import Address, Envelope

#: How much more a recipient the user wrote to counts than someone seen in received mail.
SENT_WEIGHT = 3
#: Suggestions kept at most: the completion scans them on each key press.
MAX_ADDRESSES = 5_000


def rank_addresses(
    received: Iterable[Envelope], sent: Iterable[Envelope], own: Iterable[str] = ()
) -> list[str]:
    """`Name <address>` (or the bare address) of everyone seen, most used first."""
    mine = {address.lower() for address in own}
    counts: Counter[str] = Counter()
    names: dict[str, str] = {}

    def add(addresses: Iterable[Address], weight: int) -> None:
        for addr in addresses:
            name, email = decode_envelope_address(addr)
            key = email.lower()
            if "@" not in key or key in mine or any(c in key for c in ' <>,"\\'):
                continue
            counts[key] += weight
            if name and key not in names:
                names[key] = name

    for env in received:
        add((*env.from_, *env.to, *env.cc), 1)
    for env in sent:
        add((*env.to, *env.cc, *env.bcc), SENT_WEIGHT)
    out = []
    for key, _ in counts.most_common(MAX_ADDRESSES):
        try:
            out.append(format_address(names.get(key, ""), key))
        except ValueError:
            out.append(key)
    return out
