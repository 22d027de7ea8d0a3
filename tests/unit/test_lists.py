"""Mailing-list headers (RFC 2369, 2919, 8058) and the one-click unsubscribe request."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from app.actions.unsubscribe import one_click
from app.mime.lists import mailing_list, parse_mailto, unsubscribe_plan


def test_list_headers_read() -> None:
    ml = mailing_list(
        [
            ("From", "a@b.example"),
            ("List-Id", '"Textual users" <textual-users.lists.example>'),
            ("List-Post", "<mailto:textual-users@lists.example>"),
            ("List-Unsubscribe", "<https://lists.example/u?x=1>, <mailto:leave@lists.example>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ]
    )
    assert ml is not None
    assert ml.list_id == "textual-users.lists.example"
    assert ml.label == "Textual users <textual-users.lists.example>"
    assert ml.post_address == "textual-users@lists.example"
    assert ml.one_click
    plan = unsubscribe_plan(ml)
    assert (plan.kind, plan.target) == ("post", "https://lists.example/u?x=1")


def test_no_one_click_prefers_mail_then_web() -> None:
    ml = mailing_list(
        [
            (
                "List-Unsubscribe",
                "<https://lists.example/u>, <mailto:leave@lists.example?subject=bye>",
            )
        ]
    )
    assert ml is not None
    plan = unsubscribe_plan(ml)
    assert plan.kind == "mailto" and plan.mailto is not None
    assert plan.mailto.to == ("leave@lists.example",) and plan.mailto.subject == "bye"
    web = mailing_list([("List-Unsubscribe", "<https://lists.example/u>")])
    assert web is not None and unsubscribe_plan(web).kind == "browser"
    # One-Click over plain http to a remote host is not RFC 8058: never POSTed.
    plain = mailing_list(
        [
            ("List-Unsubscribe", "<http://lists.example/u>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ]
    )
    assert plain is not None and unsubscribe_plan(plain).kind == "browser"


def test_closed_list_and_no_list() -> None:
    closed = mailing_list([("List-Id", "<news.example>"), ("List-Post", "NO")])
    assert closed is not None and closed.post_closed and closed.post_address == ""
    assert mailing_list([("From", "a@b.example")]) is None


def test_mailto_parsing_ignores_bcc_and_junk() -> None:
    m = parse_mailto("mailto:a%40b.example?subject=un%20sub&body=please&bcc=spy@evil.example")
    assert m is not None
    assert m.to == ("a@b.example",) and m.subject == "un sub" and m.body == "please"
    assert parse_mailto("mailto:?subject=x") is None
    assert parse_mailto("https://x.example") is None
    assert parse_mailto("mailto:a b<c>@x") is None


class _Recorder(BaseHTTPRequestHandler):
    calls: list[tuple[str, str, bytes, dict[str, str]]] = []
    status = 200

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        type(self).calls.append(("POST", self.path, body, dict(self.headers)))
        self.send_response(type(self).status)
        if 300 <= type(self).status < 400:
            self.send_header("Location", "http://127.0.0.1:1/elsewhere")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[tuple[str, type[_Recorder]]]:
    class Handler(_Recorder):
        calls: list[tuple[str, str, bytes, dict[str, str]]] = []

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", Handler
    finally:
        server.shutdown()
        server.server_close()


def test_one_click_posts_once(http_server: tuple[str, type[_Recorder]]) -> None:
    base, handler = http_server
    result = one_click(base + "/unsub?u=42")
    assert result.ok and result.status == 200
    assert len(handler.calls) == 1
    method, path, body, headers = handler.calls[0]
    assert (method, path, body) == ("POST", "/unsub?u=42", b"List-Unsubscribe=One-Click")
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert "Cookie" not in headers


def test_redirect_is_not_followed(http_server: tuple[str, type[_Recorder]]) -> None:
    base, handler = http_server
    handler.status = 302
    result = one_click(base + "/unsub")
    assert not result.ok and "not followed" in result.message and "elsewhere" in result.message
    assert len(handler.calls) == 1


def test_refusals_without_a_request() -> None:
    assert "https" in one_click("http://lists.example/u").message
    assert not one_click("ftp://x.example/u").ok
    failed = one_click("http://127.0.0.1:1/u", timeout=2)  # nothing listens on port 1
    assert not failed.ok and "failed" in failed.message
