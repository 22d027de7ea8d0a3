"""Links of a message (issue 17): found in text and HTML, numbered, a differing link text
never shown without its real target, only http/https/mailto offered, nothing that can break
out of an OSC 8 sequence or a browser's argument."""

from __future__ import annotations

from pathlib import Path

from app.actions.browser import browser_command
from app.mime.links import display_url, find_text_urls, same_target, wire_url
from app.mime.render import render_message
from widgets.link_list import hyperlink_support


def _html(body: str) -> bytes:
    return (
        b"From: a@example.org\r\nSubject: links\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        + body.encode()
    )


def _spans(message: object) -> list[tuple[int, str]]:
    body = message.body  # type: ignore[attr-defined]
    return [(s.number, body[s.start : s.end]) for s in message.link_spans]  # type: ignore[attr-defined]


def test_text_urls_found_and_trimmed() -> None:
    text = "See https://example.org/a_(b). Or (https://x.example/p), mailto:me@x.example!"
    assert [u for _, _, u in find_text_urls(text)] == [
        "https://example.org/a_(b)",
        "https://x.example/p",
        "mailto:me@x.example",
    ]
    # A message writing its own OSC 8 sequence: the URL inside the escape is no link.
    assert find_text_urls("\x1b]8;;https://evil.example/\x1b\\click") == []
    assert find_text_urls("https:// and mailto:") == []


def test_plain_text_links_numbered_once_each() -> None:
    raw = b"From: a@example.org\r\n\r\nGo to https://a.example/x and https://a.example/x again, file:///etc/passwd\r\n"
    message = render_message(raw)
    assert "https://a.example/x [1] and https://a.example/x [1] again" in message.body
    assert "file:///etc/passwd [2]" in message.body
    assert [link.target for link in message.link_list] == [
        "https://a.example/x",
        "file:///etc/passwd",
    ]
    assert message.link_list[0].openable and not message.link_list[1].openable
    assert "shown, never opened" in message.link_list[1].why_not()
    # Only the openable one is a span a hyperlink may cover.
    assert _spans(message) == [(1, "https://a.example/x"), (1, "https://a.example/x")]


def test_differing_html_text_shows_the_real_target() -> None:
    message = render_message(
        _html(
            '<p><a href="https://evil.example/login?x=1">Your bank</a> '
            '<a href="https://ok.example/">https://ok.example/</a> '
            '<a href="https://x.example/a">https://paypal.example/a</a> '
            '<a href="mailto:me@x.example">me@x.example</a> '
            '<a href="javascript:alert(1)">js</a></p>'
        )
    )
    body = message.body
    assert "Your bank [1: https://evil.example/login?x=1]" in body
    assert "https://ok.example/ [2]" in body
    assert "https://paypal.example/a [3: https://x.example/a]" in body
    assert "me@x.example [4]" in body
    assert "js [5: javascript: link, not opened]" in body
    spans = _spans(message)
    # The differing texts are never a link span: only targets shown as themselves are.
    shown = {text for _, text in spans}
    assert "Your bank" not in shown and "https://paypal.example/a" not in shown
    assert (1, "https://evil.example/login?x=1") in spans
    assert (3, "https://x.example/a") in spans
    assert (2, "https://ok.example/") in spans and (4, "me@x.example") in spans
    assert all(number != 5 for number, _ in spans)
    links = message.link_list
    assert links[0].deceptive and links[0].text == "Your bank"
    assert not links[1].deceptive
    assert links[4].removed and not links[4].openable


def test_a_long_differing_target_keeps_its_host() -> None:
    target = "https://tracker.evil.example/" + "a" * 200
    message = render_message(_html(f'<a href="{target}">Unsubscribe</a>'))
    assert "Unsubscribe [1: https://tracker.evil.example/" in message.body
    assert "…]" in message.body
    assert message.link_list[0].wire == target  # opening asks about the whole address


def test_same_target_rule() -> None:
    assert same_target("https://a.example", "https://a.example/")
    assert same_target("me@x.example", "mailto:me@x.example")
    assert not same_target("www.a.example", "https://www.a.example/")
    assert not same_target("https://a.example.evil.example/", "https://a.example/")
    assert not same_target("", "https://a.example/")


def test_wire_url_refuses_what_could_break_out() -> None:
    for bad in (
        "https://a.example/\x1b]8;;https://evil/\x1b\\",
        "https://a.example/\x07",
        "https://a.example/ x",
        "https://a.example/\u202e",
        "https://a.example/\u200b",
        "https://a.example/\x9c",
        "",
    ):
        assert wire_url(bad) is None, repr(bad)
    assert wire_url("https://a.example/p?q=1") == "https://a.example/p?q=1"
    assert wire_url("https://bücher.example/ä") == "https://xn--bcher-kva.example/%C3%A4"


def test_html_href_with_controls_is_not_openable() -> None:
    for href in ("https://a.example/&#x1b;]8;;x", "https://a.example/\x1b]8;;x\x07"):
        message = render_message(_html(f'<a href="{href}">t</a>'))
        link = message.link_list[0]
        assert link.wire is None or all("!" <= c <= "~" for c in link.wire)
        assert "\x1b" not in message.body and "\x07" not in message.body
        assert "\x1b" not in link.target and "\x07" not in link.target


def test_confusable_host_shown_as_punycode() -> None:
    shown, warnings = display_url("https://\u0440aypal.com/login")  # Cyrillic р
    assert shown == "https://xn--aypal-uye.com/login"
    assert any("imitate" in w for w in warnings)
    shown, warnings = display_url("https://bücher.example/")
    assert shown == "https://bücher.example/"  # one script: shown as written, punycode named
    assert any("xn--bcher-kva.example" in w for w in warnings)
    _, warnings = display_url("https://bank.example@evil.example/")
    assert any("the site is evil.example" in w for w in warnings)


def test_browser_command_never_splits_the_url(tmp_path: Path) -> None:
    url = "https://a.example/x;rm${IFS}-rf'$(id)'"
    command = browser_command(url, 'firefox --new-tab "%s"')
    assert command.argv == ("firefox", "--new-tab", url)
    command = browser_command(url, "my-browser --flag")
    assert command.argv == ("my-browser", "--flag", url)
    fake = tmp_path / "browse"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    env = {"BROWSER": f"/nonexistent:{fake} %s", "PATH": "/usr/bin"}
    command = browser_command(url, "", env)
    assert command.argv == (str(fake), url) and command.source == "$BROWSER"
    assert browser_command(url, "", {"PATH": "/usr/bin"}).argv == ("xdg-open", url)


def test_hyperlink_support_from_the_environment() -> None:
    assert hyperlink_support({"TERM": "xterm-kitty"})
    assert hyperlink_support({"TERM": "xterm-256color", "VTE_VERSION": "7200"})
    assert not hyperlink_support({"TERM": "xterm-256color", "VTE_VERSION": "4800"})
    assert not hyperlink_support({"TERM": "xterm-256color"})  # unknown: no
    assert not hyperlink_support({"TERM": "linux", "KITTY_WINDOW_ID": "1"})
    tmux = {"TERM": "tmux-256color", "TMUX": "/tmp/t", "TERM_PROGRAM": "tmux"}
    assert hyperlink_support({**tmux, "TERM_PROGRAM_VERSION": "3.4"})
    assert not hyperlink_support({**tmux, "TERM_PROGRAM_VERSION": "3.3a"})
    assert hyperlink_support({"TERM": "xterm"}, "on")
    assert not hyperlink_support({"TERM": "xterm-kitty"}, "off")
    assert not hyperlink_support({"TERM": "xterm-kitty", "TERMAIL_HYPERLINKS": "off"}, "on")
