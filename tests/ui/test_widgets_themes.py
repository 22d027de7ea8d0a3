"""Theme files and their loader; every widget takes each packaged theme."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.themes import DEFAULT_THEME, ThemeFileError, load_themes, theme_from_data
from tests.ui.apps.screen import screen_text
from tests.ui.apps.widgets_demo import GalleryDemo

pytestmark = pytest.mark.ui

PACKAGED = {"termail-dark", "termail-light", "termail-high-contrast"}


def test_packaged_themes_load() -> None:
    themes, failures = load_themes()
    assert failures == []
    assert {t.name for t in themes} == PACKAGED
    assert DEFAULT_THEME in PACKAGED
    light = next(t for t in themes if t.name == "termail-light")
    assert light.dark is False


def test_user_themes_override_and_failures_are_reported(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text('name = "mine"\nprimary = "#123456"\n')
    (tmp_path / "override.toml").write_text('name = "termail-dark"\nprimary = "#ff0000"\n')
    (tmp_path / "broken.toml").write_text("name = [unclosed\n")
    (tmp_path / "badcolor.toml").write_text('name = "x"\nprimary = "not-a-colour"\n')
    (tmp_path / "unknown.toml").write_text('name = "y"\nprimary = "#000000"\nfont = "x"\n')
    (tmp_path / "notes.txt").write_text("ignored")
    themes, failures = load_themes([tmp_path, tmp_path / "missing"])
    by_name = {t.name: t for t in themes}
    assert "mine" in by_name
    assert by_name["termail-dark"].primary == "#ff0000"
    failed = {path.name: error for path, error in failures}
    assert set(failed) == {"broken.toml", "badcolor.toml", "unknown.toml"}
    assert "TOML" in failed["broken.toml"]
    assert "primary" in failed["badcolor.toml"]
    assert "font" in failed["unknown.toml"]


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"name": "x"},
        {"name": "", "primary": "#000"},
        {"name": "x", "primary": "#000", "dark": "yes"},
        {"name": "x", "primary": "#000", "variables": {"a": 1}},
        {"name": "x", "primary": "#000", "luminosity_spread": "big"},
    ],
)
def test_invalid_theme_data_raises_the_typed_error(data: dict[str, object]) -> None:
    with pytest.raises(ThemeFileError):
        theme_from_data(data)


@pytest.mark.parametrize("theme", sorted(PACKAGED))
async def test_every_widget_renders_in_every_theme(theme: str) -> None:
    app = GalleryDemo(theme=theme)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        assert app.theme == theme
        text = screen_text(app)
        assert "INBOX 3/120" in text and "Sent Items (sent)" in text
        assert "✗ Sender check:" in text
        assert "● connected" in text
        app.theme = "textual-light" if theme != "textual-light" else "textual-dark"
        await pilot.pause()
        assert "✗ Sender check:" in screen_text(app)


async def test_textual_s_ansi_theme_from_the_palette_draws_every_widget() -> None:
    """`textual-ansi` defines no `$foreground-disabled`: picking it ended termail."""
    app = GalleryDemo(theme="termail-dark")
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        ansi = sorted(t for t in app.available_themes if "ansi" in t)
        assert ansi
        for name in ansi:
            app.theme = name
            await pilot.pause()
            assert app.theme == name
            assert "● connected" in screen_text(app)
