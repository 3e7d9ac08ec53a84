"""The rooms keep to their walls: an allow-list of imports per package, and no cycles.

- ``maild.core`` is pure: it imports only ``maild.core``, the standard library's pure
  modules and two pure parsers named below (no I/O, no clock reads, no network).
- ``maild.service.intake`` (use cases) never imports ``maild.edges`` (IMAP, SMTP, scheduler):
  the daemon wires edges to services by passing functions in.
- ``maild.edges`` never imports ``maild.service.intake``.
- No module of ``maild`` takes part in an import cycle (module-level imports).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "maild"

# The standard library modules core may use: data, text, mail formats, maths, time values.
CORE_STDLIB = frozenset({
    "__future__", "base64", "binascii", "codecs", "collections", "dataclasses", "datetime",
    "difflib", "email", "enum", "functools", "hashlib", "hmac", "html", "itertools", "math",
    "re", "statistics", "string", "typing", "unicodedata", "zoneinfo", "encodings", "textwrap",
    "ipaddress", "operator", "fractions", "decimal", "bisect", "heapq", "calendar", "uuid",
    "urllib", "struct",
})


# Third-party modules core may use: pure functions of strings, no I/O, no clock. Writing
# these grammars again inside core would be one more place for a forgery to slip through.
CORE_PURE_LIBRARIES = {
    "idna": "IDNA 2008 / UTS #46 for internationalised domains (core.addresses)",
    "authres": "RFC 8601 Authentication-Results parser (core.trust)",
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    return ".".join(rel.parts).removesuffix(".__init__")


def _imports(path: Path, top_level_only: bool = False) -> Iterator[str]:
    """Absolute names of the modules ``path`` imports (``from x import y`` gives x and x.y)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                pkg = _module_name(path).split(".")
                pkg = pkg[: len(pkg) - node.level + (1 if path.name == "__init__.py" else 0)]
                base = ".".join([*pkg, base] if base else pkg)
            yield base
            yield from (f"{base}.{a.name}" for a in node.names)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts}


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_core_imports_only_core_and_pure_stdlib() -> None:
    offenders = []
    for name, path in _modules().items():
        if not _within(name, "maild.core"):
            continue
        for imported in _imports(path):
            top = imported.split(".")[0]
            if _within(imported, "maild.core") or top in CORE_STDLIB | CORE_PURE_LIBRARIES.keys():
                continue
            offenders.append(f"{name}: {imported}")
    assert offenders == []


def test_service_does_not_import_edges_and_edges_not_service() -> None:
    offenders = []
    for name, path in _modules().items():
        for imported in _imports(path):
            if _within(name, "maild.service") and _within(imported, "maild.edges"):
                offenders.append(f"{name}: {imported}")
            if _within(name, "maild.edges") and _within(imported, "maild.service"):
                offenders.append(f"{name}: {imported}")
    assert offenders == []


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = set(_imports(path, top_level_only=True))
        # ``from pkg import mod`` loads pkg.mod; pkg itself only counts when no name is a module
        graph[name] = {i for i in found if i in modules and i != name
                       and not any(f.startswith(i + ".") and f in modules for f in found)}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle, as the list of modules around it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle_in_maild() -> None:
    assert _cycle(_graph()) is None, " -> ".join(_cycle(_graph()) or [])


def test_the_cycle_check_finds_a_cycle() -> None:
    """The check itself works: a made-up graph with a cycle is caught, a tree is not."""
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
