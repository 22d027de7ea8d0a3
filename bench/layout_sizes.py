"""The layout's figures (issue 19): the largest modules and classes, and the import circles.

    .venv/bin/python -m bench.layout_sizes [--top N] [--ref GIT-REF]

Lines are physical lines of a module; a class's methods are the `def`/`async def` directly in
its body (inherited ones not counted). Circles are strongly connected groups of modules of
`app` and `widgets` (grimp's graph, lazy and TYPE_CHECKING imports included), as
tests/unit/test_import_hygiene.py finds them. With `--ref`, the sizes of that commit's tree
(read through `git show`; circles only for the working tree).
"""

from __future__ import annotations

import argparse
import ast
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("app", "widgets")


def _sources(ref: str | None) -> dict[str, str]:
    """Module path -> source text, of the working tree or of git `ref`."""
    if ref is None:
        return {
            str(p.relative_to(ROOT)): p.read_text(encoding="utf-8")
            for pkg in PACKAGES
            for p in sorted((ROOT / pkg).rglob("*.py"))
        }
    names = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", ref, "--", *PACKAGES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return {
        name: subprocess.run(
            ["git", "show", f"{ref}:{name}"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
        for name in names
        if name.endswith(".py")
    }


def sizes(ref: str | None = None) -> tuple[list[tuple[int, str]], list[tuple[int, int, str]]]:
    """(lines, module) and (methods, lines, module:Class), largest first."""
    modules: list[tuple[int, str]] = []
    classes: list[tuple[int, int, str]] = []
    for name, text in _sources(ref).items():
        modules.append((len(text.splitlines()), name))
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef):
                methods = sum(
                    isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) for item in node.body
                )
                span = (node.end_lineno or node.lineno) - node.lineno + 1
                classes.append((methods, span, f"{name}:{node.name}"))
    return sorted(modules, reverse=True), sorted(classes, reverse=True)


def circles() -> list[list[str]]:
    import sys

    sys.path.insert(0, str(ROOT))
    from tests.unit.test_import_hygiene import _import_cycles

    return _import_cycles()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=5)
    parser.add_argument("--ref", default=None, help="a git commit (default: the working tree)")
    args = parser.parse_args()
    modules, classes = sizes(args.ref)
    where = args.ref or "working tree"
    print(f"largest modules ({where}):")
    for lines, name in modules[: args.top]:
        print(f"  {lines:6} lines  {name}")
    print(f"largest classes by methods ({where}):")
    for methods, span, name in classes[: args.top]:
        print(f"  {methods:4} methods {span:6} lines  {name}")
    if args.ref is None:
        found = circles()
        print(f"import circles: {len(found)}")
        for group in found:
            print("  " + " <-> ".join(group))


if __name__ == "__main__":
    main()
