"""An AST check over app/ and widgets/: nothing reaches the screen around the choke point.

Refused (issue 13 item 1):
- `Static(x)` / `Label(x)` / `.update(x)` on a Static or Label where `x` is a `str` that is not a
  literal: an f-string, `+` or `%` of strings, `str()`, `.format()`, `.join()`, or a helper that
  returns `str` (`safe_line`, `safe_str`, `clean`, `clean_line`): Textual parses such a string
  as markup. Text comes from `Text(...)`, `safe_text(...)` and the other builders below.
- an `App` subclass that does not mix in `SafeNotify` (its toasts would skip the sanitizer);
- toasts raised around `App.notify`: `Notification(...)`, `Notify(...)`, `Toast(...)`,
  `App.notify(self, ...)`; and `notify(..., markup=True)`;
- `Content.from_markup` / `Text.from_markup` / `render_markup` of anything but a literal;
- `print(...)` of anything but literals and cleaned text (`clean`, `clean_line`, `safe_*`):
  CLI output goes through `app.mime.termout.say`;
- a command palette entry (`SystemCommand`, `Hit`, `DiscoveryHit`) whose title or help is a
  non-literal `str` not made by `palette_text` (the palette parses both as markup).

A line may opt out with a trailing `# screen-safe: <why>` comment, which a reviewer sees.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([*ROOT.joinpath("app").rglob("*.py"), *ROOT.joinpath("widgets").rglob("*.py")])

#: Calls that return a `str` (so Textual would parse it as markup).
STR_FUNCS = {"str", "safe_line", "safe_str", "clean", "clean_line", "format_address", "repr"}
STR_METHODS = {"format", "join", "strip", "lower", "upper", "replace", "capitalize"}
WIDGETS = {"Static", "Label"}
TOAST_BYPASS = {"Notification", "Notify", "Toast"}
MARKUP_PARSERS = {"from_markup", "render_markup"}
#: Palette entries: which positional argument is the title, by constructor.
PALETTE = {"SystemCommand": 0, "Hit": 1, "DiscoveryHit": 0}
PALETTE_SAFE = {"palette_text", "highlight"}
CLEANERS = {"clean", "clean_line", "safe_line", "safe_str", "safe_notice"}


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def is_str_expr(node: ast.AST) -> bool:
    """True for an expression that builds a non-literal `str`."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
        return (
            is_str_expr(node.left)
            or is_str_expr(node.right)
            or _is_str_constant(node.left)
            or _is_str_constant(node.right)
        ) and not (_is_str_constant(node.left) and _is_str_constant(node.right))
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name) and func.id in STR_FUNCS:
            return True
        if isinstance(func, ast.Attribute) and func.attr in STR_METHODS:
            return _is_str_constant(func.value) or is_str_expr(func.value)
        if isinstance(func, ast.Attribute) and func.attr in STR_FUNCS:
            return True
    if isinstance(node, ast.IfExp):
        return is_str_expr(node.body) or is_str_expr(node.orelse)
    return False


def _is_str_constant(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _printable(node: ast.AST) -> bool:
    """A literal, a cleaner's result, or an f-string of literals and cleaners' results."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Call) and _name(node.func) in CLEANERS:
        return True
    if isinstance(node, ast.JoinedStr):
        return all(
            isinstance(v, ast.Constant) or _printable(v.value)
            for v in node.values
            if isinstance(v, ast.Constant | ast.FormattedValue)
        )
    return False


def _palette_safe(node: ast.AST) -> bool:
    """A literal, `palette_text(...)`, `matcher.highlight(palette_text(...))`, or not a str."""
    if _is_str_constant(node):
        return True
    if isinstance(node, ast.Call) and _name(node.func) in PALETTE_SAFE:
        return _name(node.func) == "palette_text" or all(_palette_safe(a) for a in node.args)
    return not (is_str_expr(node) or isinstance(node, ast.Name | ast.Attribute))


def _receiver_is_widget(node: ast.AST) -> bool:
    """`self.query_one("#x", Static).update(...)`, `Static(...).update`, a name like `label`."""
    if isinstance(node, ast.Call):
        if _name(node.func) in WIDGETS:
            return True
        if _name(node.func) in ("query_one", "get_widget_by_id", "query_exactly_one"):
            return any(
                _name(arg) in WIDGETS for arg in [*node.args, *[k.value for k in node.keywords]]
            )
    return False


def _opted_out(lines: list[str], node: ast.AST) -> bool:
    end = getattr(node, "end_lineno", None) or getattr(node, "lineno", 0)
    start = getattr(node, "lineno", 0)
    return any(
        "# screen-safe:" in lines[i - 1] for i in range(start, end + 1) if 0 < i <= len(lines)
    )


def problems_in(source: str, filename: str = "<test>") -> list[str]:
    """What the check refuses in one module's source."""
    tree = ast.parse(source, filename)
    lines = source.splitlines()
    found: list[str] = []

    def add(node: ast.AST, what: str) -> None:
        if not _opted_out(lines, node):
            found.append(f"{filename}:{getattr(node, 'lineno', 0)}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            bases = [_name(b.value if isinstance(b, ast.Subscript) else b) for b in node.bases]
            if "App" in bases and "SafeNotify" not in bases:
                add(node, f"App subclass {node.name} without SafeNotify (toasts unsanitized)")
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        called = _name(func)
        first = node.args[0] if node.args else None
        content = next(
            (k.value for k in node.keywords if k.arg in ("content", "renderable")), first
        )
        if called in WIDGETS and content is not None and is_str_expr(content):
            add(node, f"{called}(<str>) parses markup: draw a Text (safe_text)")
        if (
            isinstance(func, ast.Attribute)
            and func.attr == "update"
            and _receiver_is_widget(func.value)
            and first is not None
            and is_str_expr(first)
        ):
            add(node, "Static.update(<str>) parses markup: draw a Text (safe_text)")
        if called in TOAST_BYPASS:
            add(node, f"{called}(...) raises a toast around App.notify (the choke point)")
        if isinstance(func, ast.Attribute) and func.attr == "notify" and _name(func.value) == "App":
            add(node, "App.notify(...) skips SafeNotify")
        if called == "notify":
            for keyword in node.keywords:
                if keyword.arg == "markup" and not (
                    isinstance(keyword.value, ast.Constant) and keyword.value.value is False
                ):
                    add(node, "notify(..., markup=True): toasts are never markup")
        if called in MARKUP_PARSERS and (first is None or not _is_str_constant(first)):
            add(node, f"{called}(<not a literal>) parses markup from data")
        if called == "highlight" and first is not None and not _palette_safe(first):
            add(node, "Matcher.highlight(<str>) parses markup: pass palette_text(...)")
        if (
            isinstance(func, ast.Name)
            and func.id == "print"
            and not all(_printable(arg) for arg in node.args)
        ):
            add(node, "print(<data>): CLI output goes through app.mime.termout.say")
        if called in PALETTE:
            index = PALETTE[called]
            texts = (
                node.args[index : index + 2]
                if called == "SystemCommand"
                else node.args[index : index + 1]
            )
            texts += [k.value for k in node.keywords if k.arg in ("help", "display", "title")]
            for text in texts:
                if not _palette_safe(text):
                    add(
                        node,
                        f"{called}(<str>): palette titles and help are markup; use palette_text",
                    )
    return found


#: Files with a known bypass another change fixes; strict, so the mark goes once it lands.
PENDING: dict[str, str] = {}


def _params() -> list[object]:
    out: list[object] = []
    for path in SOURCES:
        rel = str(path.relative_to(ROOT))
        marks = [pytest.mark.xfail(reason=PENDING[rel], strict=True)] if rel in PENDING else []
        out.append(pytest.param(path, id=rel, marks=marks))
    return out


@pytest.mark.parametrize("path", _params())
def test_no_screen_text_around_the_choke_point(path: Path) -> None:
    problems = problems_in(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert not problems, "\n".join(problems)


# -- the check itself refuses what it should and lets the safe forms pass --------------------

REFUSED = {
    "f-string Static": 'Static(f"Cannot open {name}")',
    "safe_line Static": "Static(safe_line(name), id='from')",
    "concatenated Label": 'Label("Folder: " + name)',
    "format Label": 'Label("{}".format(name))',
    "str update": 'self.query_one("#x", Static).update(f"{n} new")',
    "safe_str update": 'self.query_one("#x", Label).update(safe_str(reply))',
    "markup notify": "self.notify(text, markup=True)",
    "notification": "self.app.post_message(Notify(Notification(text, '', 'error', 5)))",
    "toast": "Toast(notification)",
    "base notify": "App.notify(self, text)",
    "from_markup": "Content.from_markup(reply)",
    "App without SafeNotify": "class MyApp(App[None]):\n    pass",
    "palette title": 'SystemCommand(f"Switch to {name}", "help", cb)',
    "palette help": 'Hit(1, matcher.highlight(palette_text(d)), cb, help=f"key: {key}")',
    "palette highlight": "Hit(1, matcher.highlight(binding.description), cb)",
    "print of data": 'print(f"termail: {exc}", file=sys.stderr)',
    "print of a name": "print(reply)",
}

ALLOWED = {
    "literal": 'Static("Enter: OK   Esc: cancel")',
    "Text": "Static(Text(name, end=''))",
    "safe_text": "Label(safe_text(name), id='t')",
    "empty update": 'self.query_one("#x", Static).update("")',
    "text update": 'self.query_one("#x", Static).update(safe_text(reply))',
    "notify": "self.notify(f'Moved to {dest}', markup=False)",
    "App with SafeNotify": "class MyApp(SafeNotify, App[None]):\n    pass",
    "opt-out": 'Static(f"{count:,}")  # screen-safe: a number',
    "other update": "values.update(overrides)",
    "palette": 'SystemCommand(palette_text(f"Switch to {name}"), "Show it", cb)',
    "palette hit": "Hit(1, matcher.highlight(palette_text(d)), cb, help=palette_text(k))",
    "print literal": 'print("usage: termail view FILE")',
    "print cleaned": 'print(f"cannot read {clean_line(name)}: {clean_line(str(exc))}")',
    "say": 'say(f"termail: {exc}", file=sys.stderr)',
}


@pytest.mark.parametrize("code", list(REFUSED.values()), ids=list(REFUSED))
def test_the_check_refuses(code: str) -> None:
    assert problems_in(code), code


@pytest.mark.parametrize("code", list(ALLOWED.values()), ids=list(ALLOWED))
def test_the_check_allows(code: str) -> None:
    assert not problems_in(code), problems_in(code)
