"""The layout's figures (issue 19): the largest modules and classes, and the import circles.

    .venv/bin/python -m bench.layout_sizes [--top N] [--ref GIT-REF]

Lines are physical lines of a module; a class's methods are the `def`/`async def` directly in
its body (inherited ones not counted). Circles are strongly connected groups of modules of
`app` and `widgets` (grimp's graph, lazy and TYPE_CHECKING imports included), as
tests/unit/test_import_hygiene.py finds them. With `--ref`, the figures of that commit's tree
(read through `git show` / `git archive`; e.g. `--ref 1cd6422`, before issue 19).
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


def circles(ref: str | None = None) -> list[list[str]]:
    """The import circles of the working tree, or of git `ref` (its `app` and `widgets`
    unpacked into a temporary folder and graphed there, in a subprocess)."""
    import json
    import sys
    import tempfile

    code = (
        "import json, sys; sys.path.insert(1, sys.argv[1]); import app; "
        "assert app.__file__.startswith(sys.argv[2]), app.__file__; "
        "from tests.unit.test_import_hygiene import _import_cycles; "
        "print(json.dumps(_import_cycles()))"
    )
    with tempfile.TemporaryDirectory(prefix="layout-sizes-") as tmp:
        where = str(ROOT)
        if ref is not None:
            archive = subprocess.run(
                ["git", "archive", ref, *PACKAGES], cwd=ROOT, capture_output=True, check=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
            where = tmp
        out = subprocess.run(
            [sys.executable, "-c", code, str(ROOT), where],
            cwd=where,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    found: list[list[str]] = json.loads(out)
    return found


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
    found = circles(args.ref)
    print(f"import circles ({where}): {len(found)}")
    for group in found:
        print("  " + " <-> ".join(group))


if __name__ == "__main__":
    main()
