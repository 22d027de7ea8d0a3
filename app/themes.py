"""Theme files: the packaged ones in `themes/` and the user's, read with one loader.

A theme file is TOML holding the fields of `textual.theme.Theme` (name, primary, ..., dark,
and a `[variables]` table). A file that cannot be read, parsed or validated is reported with its
error rather than raised, so a broken user theme costs a notice, not the start of the app
(posting's `load_user_themes` does the same).
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.color import Color, ColorParseError
from textual.theme import Theme

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

#: Name of the theme used when none is chosen.
DEFAULT_THEME = "termail-dark"

_COLOR_FIELDS = (
    "primary",
    "secondary",
    "warning",
    "error",
    "success",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)
_FIELDS = {f.name for f in dataclasses.fields(Theme)}
_MAX_FILE = 256 * 1024


class ThemeFileError(ValueError):
    """A theme file is not a valid theme."""


def theme_from_data(data: dict[str, Any]) -> Theme:
    """Build a Theme from parsed TOML, checking fields and colours first.

    Raises:
        ThemeFileError: Unknown field, missing name or primary, or a colour that does not parse.
    """
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise ThemeFileError(f"unknown field(s): {', '.join(unknown)}")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ThemeFileError("missing 'name'")
    if not isinstance(data.get("primary"), str):
        raise ThemeFileError("missing 'primary' colour")
    for field in _COLOR_FIELDS:
        value = data.get(field)
        if value is None:
            continue
        if not isinstance(value, str):
            raise ThemeFileError(f"'{field}' must be a colour string")
        try:
            Color.parse(value)
        except ColorParseError as exc:
            raise ThemeFileError(f"'{field}': {exc}") from None
    for field in ("dark", "ansi"):
        if field in data and not isinstance(data[field], bool):
            raise ThemeFileError(f"'{field}' must be true or false")
    for field in ("luminosity_spread", "text_alpha"):
        if field in data and not isinstance(data[field], (int, float)):
            raise ThemeFileError(f"'{field}' must be a number")
    variables = data.get("variables", {})
    if not isinstance(variables, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in variables.items()
    ):
        raise ThemeFileError("'variables' must be a table of strings")
    try:
        return Theme(**data)
    except (TypeError, ValueError) as exc:
        raise ThemeFileError(str(exc)) from None


def _load_one(source: Traversable | Path) -> Theme:
    raw = source.read_bytes()
    if len(raw) > _MAX_FILE:
        raise ThemeFileError("file too large for a theme")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ThemeFileError(f"not valid TOML: {exc}") from None
    return theme_from_data(data)


def packaged_theme_files() -> list[Traversable]:
    """The `*.toml` files shipped in the `themes` package, sorted by name."""
    from importlib.util import find_spec

    try:
        spec = find_spec("themes")
    except (ImportError, ValueError):
        return []
    if spec is None:
        return []
    folders = list(spec.submodule_search_locations or [])
    root: Traversable
    if len(folders) == 1 and Path(folders[0]).is_dir():
        # A plain folder (an installed package): read as a Path, which does not import
        # zipfile and importlib.resources' readers for the first screen.
        root = Path(folders[0])
    else:
        from importlib import resources  # a zipped install only (110 kB the first screen spares)

        root = resources.files("themes")
    return sorted(
        (item for item in root.iterdir() if item.name.endswith(".toml") and item.is_file()),
        key=lambda item: item.name,
    )


def load_themes(
    user_dirs: Path | str | Iterable[Path | str] | None = None,
) -> tuple[list[Theme], list[tuple[Path, str]]]:
    """Read the packaged themes, then every `*.toml` in the user theme folder(s).

    A user theme with the name of a packaged one replaces it. Folders that do not exist are
    skipped silently.

    Returns:
        The themes loaded, and (path, error) for each file that failed.
    """
    themes: dict[str, Theme] = {}
    failures: list[tuple[Path, str]] = []
    for item in packaged_theme_files():
        try:
            theme = _load_one(item)
        except (OSError, ThemeFileError) as exc:
            failures.append((Path(str(item)), str(exc)))
            continue
        themes[theme.name] = theme
    if user_dirs is None:
        dirs: list[Path] = []
    elif isinstance(user_dirs, (str, Path)):
        dirs = [Path(user_dirs)]
    else:
        dirs = [Path(d) for d in user_dirs]
    for folder in dirs:
        folder = folder.expanduser()
        if not folder.is_dir():
            continue
        try:
            files = sorted(p for p in folder.iterdir() if p.suffix == ".toml")
        except OSError as exc:
            failures.append((folder, str(exc)))
            continue
        for path in files:
            try:
                theme = _load_one(path)
            except (OSError, ThemeFileError) as exc:
                failures.append((path, str(exc)))
                continue
            themes[theme.name] = theme
    return list(themes.values()), failures
