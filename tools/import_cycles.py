"""Print the import cycles among postguard's packages (read with `ast`; nothing is imported).

    .venv/bin/python tools/import_cycles.py                 # every package
    .venv/bin/python tools/import_cycles.py checker store   # only these (edges between them)
    .venv/bin/python tools/import_cycles.py --runtime       # only imports that run at import time

Every `import` statement counts by default, including those under `if TYPE_CHECKING:` and
those inside functions: a cycle through them is still two modules that each need the other
(mypy, and anyone reading the code, follows them). `--runtime` keeps only module-level imports
outside `TYPE_CHECKING`, the ones that can fail with a partially initialised module.

An edge goes to the module named: `import a.b` and `from a import b` (b a module) point at
`a.b`, `from a import name` at `a`. Running a package's `__init__` on the way to a submodule is
not counted (the convention of pydeps and import-linter). Each cycle is printed as its strongly
connected component with the import lines that tie it; exit status 1 if there is any.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("checker", "enforce", "proxy_addon", "extension", "store", "console", "server", "agent", "postguard", "train")
KINDS = ("runtime", "deferred", "typing")  # module level; inside a function; under TYPE_CHECKING


@dataclass(frozen=True)
class Edge:
    """`source` imports `target` at `line` (one of KINDS)."""

    source: str
    target: str
    line: int
    kind: str


def modules(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of the packages under `root`."""
    out: dict[str, Path] = {}
    for pkg in packages:
        base = root / pkg
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*.py")):
            rel = path.relative_to(root).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            if all(p.isidentifier() for p in parts):
                out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.Module) -> Iterable[tuple[ast.Import | ast.ImportFrom, str]]:
    """Every import statement with its kind."""

    def walk(nodes: Iterable[ast.AST], kind: str) -> Iterable[tuple[ast.Import | ast.ImportFrom, str]]:
        for node in nodes:
            if isinstance(node, ast.Import | ast.ImportFrom):
                yield node, kind
            elif isinstance(node, ast.If) and _is_type_checking(node.test):
                yield from walk(node.body, "typing")
                yield from walk(node.orelse, kind)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                yield from walk(ast.iter_child_nodes(node), "typing" if kind == "typing" else "deferred")
            else:
                yield from walk(ast.iter_child_nodes(node), kind)

    yield from walk(tree.body, "runtime")


def _resolve(known: dict[str, Path], name: str) -> str | None:
    """The longest known module that `name` or one of its parents is."""
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        cand = ".".join(parts[:n])
        if cand in known:
            return cand
    return None


def edges(known: dict[str, Path]) -> list[Edge]:
    """Import edges between the known modules."""
    out: dict[Edge, None] = {}  # one edge per import statement and target, in order
    for mod, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node, kind in _imports(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                if node.level:
                    base_parts = package.split(".")
                    base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                    base = ".".join(p for p in [*base_parts, node.module or ""] if p)
                else:
                    base = node.module or ""
                for a in node.names:
                    sub = f"{base}.{a.name}"
                    targets.append(sub if sub in known else base)
            for t in targets:
                target = _resolve(known, t)
                if target is not None and target != mod:
                    out[Edge(mod, target, node.lineno, kind)] = None
    return list(out)


def strongly_connected(nodes: Iterable[str], es: Sequence[Edge]) -> list[list[str]]:
    """Components of more than one module (Tarjan), each sorted, largest first."""
    graph: dict[str, set[str]] = {n: set() for n in nodes}
    for e in es:
        graph[e.source].add(e.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    for start in sorted(graph):
        if start in index:
            continue
        # Iterative DFS: (node, iterator over its successors).
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    comp.append(m)
                    if m == node:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return sorted(found, key=lambda c: (-len(c), c))


def find_cycles(root: Path = ROOT, packages: Iterable[str] = PACKAGES,
                kinds: Iterable[str] = KINDS) -> list[tuple[list[str], list[Edge]]]:
    """Each import cycle among `packages`: its modules and the edges inside it."""
    known = modules(root, packages)
    wanted = set(kinds)
    es = [e for e in edges(known) if e.kind in wanted]
    out = []
    for comp in strongly_connected(known, es):
        inside = set(comp)
        out.append((comp, sorted((e for e in es if e.source in inside and e.target in inside),
                                 key=lambda e: (e.source, e.line, e.target))))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("packages", nargs="*", default=list(PACKAGES), help=f"default: {' '.join(PACKAGES)}")
    ap.add_argument("--runtime", action="store_true", help="only module-level imports outside TYPE_CHECKING")
    ap.add_argument("--root", type=Path, default=ROOT)
    args = ap.parse_args(argv)
    cycles = find_cycles(args.root, args.packages, ("runtime",) if args.runtime else KINDS)
    for n, (comp, es) in enumerate(cycles, 1):
        print(f"cycle {n}: {len(comp)} modules: {', '.join(comp)}")
        for e in es:
            note = "" if e.kind == "runtime" else f" ({e.kind})"
            print(f"    {e.source}:{e.line} -> {e.target}{note}")
    print(f"{len(cycles)} cycle(s) in {', '.join(args.packages)}")
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main())
