"""app.mime.html: html2text in a bounded worker process, links numbered, hostile HTML tamed."""

from __future__ import annotations

from app.mime import html as html_mod
from app.mime.html import html_to_text, prepare_html, safe_link, strip_html


def test_links_numbered_and_listed_unsafe_removed() -> None:
    result = html_to_text(
        '<p><a href="https://a.example/x">one</a> <a href="javascript:alert(1)">two</a>'
        ' <a href="mailto:me@x.example">three</a></p>'
    )
    assert result.converted
    assert "[one][1]" in result.text and "[two][2]" in result.text
    assert "[1] https://a.example/x" in result.text
    assert "[2] (unsafe link removed: javascript)" in result.text
    assert "javascript:" not in result.text
    assert result.links == ["https://a.example/x", "", "mailto:me@x.example"]


def test_link_offset_renumbers() -> None:
    result = html_to_text('<a href="https://x.example">x</a>', link_offset=4)
    assert "[x][5]" in result.text and "[5] https://x.example" in result.text


def test_scripts_styles_and_images_not_shown() -> None:
    result = html_to_text(
        "<style>p{color:red}</style><script>alert('s')</script><p>body</p>"
        '<img src="https://tracker.example/p.gif" alt="logo">'
    )
    assert "alert" not in result.text and "color:red" not in result.text
    assert "tracker.example" not in result.text
    assert "body" in result.text and "logo" in result.text


def test_deep_nested_lists_are_flattened_and_bounded() -> None:
    result = html_to_text("<ul><li>x" * 10_000)
    assert result.converted
    assert any("flattened" in n for n in result.notices)
    assert len(result.text) < 1_000_000  # unbounded, html2text gives ~100 MB here


def test_timeout_falls_back_to_stripped_text_and_worker_recovers() -> None:
    # Repeated "<a " makes the stdlib HTMLParser (under html2text) take minutes on 3.11.7.
    result = html_to_text("<p>start</p>" + "<a " * 40_000, timeout=0.3)
    assert not result.converted
    assert any("could not be converted" in n for n in result.notices)
    assert result.text.startswith("start")
    assert html_to_text("<b>after</b>").text == "**after**"


def test_prepare_html_cuts_and_strips() -> None:
    html, notices = prepare_html("<!-- c --><script>x</script>" + "a" * 50, max_input=40)
    assert "script" not in html and "c -->" not in html and notices


def test_unclosed_script_cuts_the_rest() -> None:
    html, _ = prepare_html("<p>keep</p><SCRIPT type=x>never closed <p>gone")
    assert html == "<p>keep</p>"


def test_strip_html_fallback() -> None:
    text, links = strip_html('<p>Hi &amp; <a href="https://e.example">there</a></p><div>next</div>')
    assert text == "Hi & there [1]\n\nnext"
    assert links == ["https://e.example"]


def test_safe_link() -> None:
    assert safe_link(" https://x ") == "https://x"
    for bad in ("javascript:x", "JaVaScRiPt:x", "data:text/html,x", "file:///etc/passwd", "/rel"):
        assert safe_link(bad) is None


def test_worker_can_be_stopped_and_restarted() -> None:
    html_mod.shutdown_worker()
    assert html_to_text("<i>again</i>").text == "_again_"
