"""One-click unsubscription (RFC 8058): the one place termail speaks HTTP.

One POST of `List-Unsubscribe=One-Click` to the URL the list gave, with the standard library
only: a timeout, no cookies (no cookie jar exists), no redirect followed (a 3xx is reported
with where it points, never followed), no credentials. HTTPS is verified with the system's
certificates; plain http is refused except on this machine's loopback (a local test server).
The screen shows the URL in full and asks before calling `one_click`.
"""

from __future__ import annotations

import http.client
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from app.mime.sanitize import clean_line

__all__ = ["BODY", "UnsubscribeResult", "one_click"]

BODY = b"List-Unsubscribe=One-Click"
TIMEOUT = 15.0
USER_AGENT = "termail (RFC 8058 one-click unsubscribe)"


@dataclass(frozen=True, slots=True)
class UnsubscribeResult:
    """What the list's server answered: `ok` for a 2xx; `message` is one line for the user."""

    ok: bool
    status: int
    message: str


def one_click(url: str, *, timeout: float = TIMEOUT) -> UnsubscribeResult:
    """POST the one-click body to `url` once. Never raises for network or server trouble."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError as exc:
        return UnsubscribeResult(False, 0, f"Not a usable address: {clean_line(str(exc))}")
    scheme = parts.scheme.lower()
    if not host or scheme not in ("https", "http"):
        return UnsubscribeResult(False, 0, "Not an https address; nothing was sent.")
    if scheme == "http" and host not in ("127.0.0.1", "::1", "localhost"):
        return UnsubscribeResult(False, 0, "Refused: one-click unsubscription needs https.")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    conn: http.client.HTTPConnection
    if scheme == "https":
        conn = http.client.HTTPSConnection(
            host, port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(
            "POST",
            path,
            body=BODY,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "User-Agent": USER_AGENT,
                "Connection": "close",
            },
        )
        response = conn.getresponse()
        status = response.status
        reason = clean_line(response.reason or "", max_len=100)
        location = clean_line(response.getheader("Location") or "", max_len=500)
        response.read(64 * 1024)  # a little of the body, so the server sees a clean close
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return UnsubscribeResult(
            False, 0, f"The unsubscribe request failed: {clean_line(str(exc))}"
        )
    finally:
        conn.close()
    if 200 <= status < 300:
        return UnsubscribeResult(
            True, status, f"Unsubscribed: the list's server answered {status}."
        )
    if 300 <= status < 400:
        where = f" to {location}" if location else ""
        return UnsubscribeResult(
            False,
            status,
            f"The server redirects{where} ({status}); not followed, nothing more sent.",
        )
    return UnsubscribeResult(False, status, f"The server refused: {status} {reason}".rstrip())
