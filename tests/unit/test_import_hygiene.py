"""The mail core runs from a script with no screen: importing it loads no UI module."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CORE = [
    "app.models",
    "app.imap.client",
    "app.imap.mailbox",
    "app.imap.search",
    "app.mime.render",
    "app.mime.compose",
    "app.smtp.submit",
    "app.store.cache",
    "app.store.sync",
    "app.config.model",
    "app.smtp.outbox",
    "app.smtp.sending",
]


def test_core_imports_no_ui() -> None:
    code = (
        "import importlib, json, sys\n"
        f"for name in {CORE!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('textual', 'rich', 'widgets') or m.startswith('app.screens') or m == 'app.main')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert json.loads(out.stdout) == []


def _import_cycles() -> list[list[str]]:
    """Strongly connected groups of modules of `app` and `widgets` (Tarjan), lazy and
    TYPE_CHECKING imports included: an import circle is a circle wherever the import sits."""
    import grimp

    graph = grimp.build_graph("app", "widgets", include_external_packages=False)
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, []):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for module in sorted(edges):
        if module not in index:
            visit(module)
    return sorted(cycles)


def test_no_import_circles() -> None:
    """Issue 19: config <-> credentials, imap.client <-> imap.mailbox, app.main <-> app.demo and
    sandbox.kinds <-> sandbox.interop were circles, and app.screens.main <-> app.screens.tools
    (the helpers named `MainScreen` in their annotations; they take a `MainHost` now, and the
    modules of `app/screens/main/` a `Host`); none may come back."""
    assert _import_cycles() == []
