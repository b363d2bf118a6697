"""The layout docs/architecture.md describes is the layout the code has.

Imports are read with `ast` (module level and inside functions: a lazy import is still a
dependency), never by importing anything. Fails on an import cycle between modules, on an
import the rules forbid, and on a module outside tests/ over 700 lines.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("actions", "bot", "console", "miyun", "scripts")
MAX_LINES = 700

# Who may import whom, besides modules of its own package (the same `miyun.<sub>` package, or the
# same top-level package elsewhere). The longest key that is a prefix of a module decides.
# docs/architecture.md has this table; test_the_note_lists_these_rules keeps the two equal.
RULES: dict[str, set[str]] = {
    "miyun": set(),
    "miyun.settings": set(),
    "miyun.text": set(),
    "miyun.db": set(),
    "miyun.locks": set(),  # Rasa's lock store for the cluster (endpoints.yml names it)
    "miyun.dates": set(),
    "miyun.deadlines": {"miyun.dates"},
    "miyun.nlu": {"miyun.text", "miyun.deadlines"},
    "miyun.knowledge": {"miyun.settings", "miyun.text", "miyun.db", "miyun.referrals", "miyun.deadlines", "miyun.documents", "miyun.dates"},
    "miyun.documents": {"miyun.settings", "miyun.text", "miyun.db", "miyun.dates"},
    "miyun.referrals": {"miyun.settings", "miyun.text", "miyun.db", "miyun.knowledge"},
    "miyun.staff": {"miyun.settings", "miyun.text", "miyun.db", "miyun.knowledge", "miyun.referrals"},
    "miyun.privacy": {"miyun.settings", "miyun.knowledge", "miyun.referrals", "miyun.staff"},
    "actions": {"miyun"},
    "bot": {"miyun.settings", "miyun.documents.downloads"},  # serves and sends the generated documents
    "bot.app": {"bot", "miyun.settings", "miyun.documents.downloads", "console"},  # mounts the console at /staff
    "console": {"miyun"},
    "scripts": {"actions", "bot", "console", "miyun"},
}


# ----------------------------------------------------------------------------- reading the tree


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def project_modules(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    out = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            if "__pycache__" not in path.parts:
                out[module_name(path, root)] = path
    return out


def imports_of(source: str, name: str, modules: set[str], is_package: bool = False) -> set[str]:
    """The project modules `source` (module `name`) imports, wherever the import statement is."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in modules}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against this module's package
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                full = f"{target}.{alias.name}"
                if full in modules:
                    found.add(full)  # `from pkg import module`
                elif target in modules:
                    found.add(target)  # `from module import name`
    found.discard(name)
    return found


def import_graph(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    modules = project_modules(root, packages)
    names = set(modules)
    return {
        name: imports_of(path.read_text(encoding="utf-8"), name, names, path.name == "__init__.py")
        for name, path in modules.items()
    }


# ----------------------------------------------------------------------------- the checks


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one module (or a self-import), sorted (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph.get(v, ()):
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(cycles)


def rule_for(module: str, rules: dict[str, set[str]]) -> str | None:
    keys = [k for k in rules if module == k or module.startswith(k + ".")]
    return max(keys, key=len) if keys else None


def home(module: str) -> str:
    """The package a module belongs to: `miyun.<sub>` inside miyun, else the top-level package."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "miyun" and len(parts) > 1 else parts[0]


def forbidden(graph: dict[str, set[str]], rules: dict[str, set[str]]) -> list[str]:
    problems = []
    for importer in sorted(graph):
        key = rule_for(importer, rules)
        if key is None:
            problems.append(f"{importer}: no rule covers this package (add it to RULES and docs/architecture.md)")
            continue
        for target in sorted(graph[importer]):
            if home(target) == home(importer):
                continue
            if not any(target == a or target.startswith(a + ".") for a in rules[key]):
                problems.append(f"{importer} imports {target}: `{key}` may import only {sorted(rules[key]) or 'nothing'}")
    return problems


def too_long(root: Path = ROOT, limit: int = MAX_LINES) -> list[str]:
    """Every Python file of the project outside tests/ (and outside the venv, caches and data)."""
    out = []
    tops = [p for p in sorted(root.iterdir()) if p.name not in {"tests", "models", "var"} and not p.name.startswith(".")]
    files = [p for top in tops for p in ([top] if top.is_file() else sorted(top.rglob("*.py")))]
    for path in files:
        if path.suffix != ".py" or "__pycache__" in path.parts:
            continue
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > limit:
            out.append(f"{path.relative_to(root)}: {n} lines")
    return out


def note_rules(text: str) -> dict[str, set[str]]:
    """The package table of docs/architecture.md: | `pkg` | `a`, `b` | (— for nothing)."""
    rules: dict[str, set[str]] = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0].startswith("`"):
            rules[cells[0].strip("`")] = set(re.findall(r"`([a-z_.]+)`", cells[1]))
    return rules


# ----------------------------------------------------------------------------- the project


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


def test_the_graph_sees_the_project(graph):
    # A parser that found nothing would pass everything below.
    assert {"miyun.knowledge.store", "miyun.referrals.postgres", "console", "bot.app", "scripts.bench.runner"} <= set(graph)
    assert "miyun.referrals.store" in graph["miyun.referrals.postgres"]
    assert "console" in graph["bot.app"]


def test_no_import_cycles(graph):
    assert find_cycles(graph) == []


def test_no_forbidden_imports(graph):
    assert forbidden(graph, RULES) == []


def test_no_module_over_700_lines():
    assert too_long() == []


def test_the_note_lists_these_rules():
    assert note_rules((ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")) == RULES


# ----------------------------------------------------------------------------- the checks can fail


def test_cycle_finder_on_a_tiny_graph():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}, "f": set()}
    assert find_cycles(graph) == [["a", "b", "c"], ["e"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_imports_are_read_wherever_they_are():
    modules = {"pkg", "pkg.a", "pkg.b", "pkg.c", "other"}
    source = "import other\nfrom pkg import a\ndef f():\n    from pkg.b import thing\n    from . import c\n"
    assert imports_of(source, "pkg.x", modules) == {"other", "pkg.a", "pkg.b", "pkg.c"}


def test_rules_catch_a_forbidden_import_and_an_unknown_package():
    graph = {"miyun.text": {"bot.app"}, "bot.core": {"console"}, "bot.app": {"console", "bot.core"}, "newpkg.x": set()}
    problems = forbidden(graph, RULES)
    assert any(p.startswith("miyun.text imports bot.app") for p in problems)
    assert any(p.startswith("bot.core imports console") for p in problems)
    assert not any(p.startswith("bot.app imports") for p in problems)
    assert any(p.startswith("newpkg.x: no rule") for p in problems)


def test_length_check_finds_a_long_module(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "long.py").write_text("x = 1\n" * (MAX_LINES + 1))
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_long.py").write_text("x = 1\n" * (MAX_LINES + 1))
    assert too_long(tmp_path) == [f"pkg/long.py: {MAX_LINES + 1} lines"]
