"""README's Layout table and ARCHITECTURE.md name what is in the tree (issue 19)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _layout_rows() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Layout", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| `")]


def test_layout_table_paths_exist() -> None:
    firsts = [row.split("|")[1] for row in _layout_rows()]
    paths = [p for cell in firsts for p in re.findall(r"`([^`]+)`", cell)]
    assert paths, "no rows found under ## Layout"
    missing = [p for p in paths if not (ROOT / p).exists()]
    assert missing == []


def test_every_package_has_a_row() -> None:
    listed = {p.rstrip("/") for row in _layout_rows() for p in re.findall(r"`([^`]+)`", row)}
    packages = [
        str(init.parent.relative_to(ROOT))
        for top in ("app", "widgets", "themes")
        for init in (ROOT / top).rglob("__init__.py")
        if init.parent != ROOT / "app"
    ]
    assert sorted(p for p in packages if p not in listed) == []


def test_architecture_names_each_main_screen_module() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    modules = sorted(
        p.stem for p in (ROOT / "app/screens/main").glob("*.py") if p.stem != "__init__"
    )
    assert [m for m in modules if f"`{m}`" not in text and f"`{m}.py`" not in text] == []
