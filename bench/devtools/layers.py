"""The project's import graph, computed from the source: cycles and imports that point up.

    python -m bench.devtools.layers [--verbose]

Layers, bottom to top (a package may import only the packages below it, and itself):

    core        errors, atomic files, cache, media I/O, manifest and clip types, environment info
    systems     the systems (DyViM, MusicGen, baselines, controls)
    metrics     the metrics and their embedders
    reports     tables, figures, HTML
    human_eval  the rating web app
    bench       CLI, API, experiments, executors, perf: the top

Every `import` / `from … import` of a project module counts, at module top or inside a function
(imports under `if TYPE_CHECKING:` do not: they never run). Prints one line per finding with
--verbose, then `package_cycles=<n> module_cycles=<n> upward_imports=<n>
function_level_internal_imports=<n>` (module_cycles counts the strongly connected groups of more
than one module).
"""

from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass
from pathlib import Path

LAYERS = ("core", "systems", "metrics", "reports", "human_eval", "bench")
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Edge:
    src: str  # importing module
    dst: str  # imported project module
    line: int
    function_level: bool


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def project_modules(root: Path) -> dict[str, Path]:
    mods = {}
    for pkg in LAYERS:
        for path in sorted((root / pkg).rglob("*.py")) if (root / pkg).is_dir() else ():
            if "__pycache__" not in path.parts and not any(p.startswith(".") for p in path.parts):
                mods[module_name(path, root)] = path
    return mods


def _resolve(name: str, mods: dict[str, Path]) -> str | None:
    """The project module `name` refers to (a name imported from a module resolves to the module)."""
    while name:
        if name in mods:
            return name
        name = name.rpartition(".")[0]
    return None


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def imports_of(module: str, path: Path, mods: dict[str, Path]) -> list[Edge]:
    tree = ast.parse(path.read_text(), str(path))
    is_pkg = path.name == "__init__.py"
    edges: list[Edge] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.orelse:
                    visit(sub, in_function)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    dst = _resolve(alias.name, mods)
                    if dst and dst != module:
                        edges.append(Edge(module, dst, child.lineno, in_function))
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    pkg = module.split(".") if is_pkg else module.split(".")[:-1]
                    pkg = pkg[:len(pkg) - (child.level - 1)]
                    base = ".".join(pkg + ([base] if base else []))
                for alias in child.names:
                    dst = _resolve(f"{base}.{alias.name}", mods) or _resolve(base, mods)
                    if dst and dst != module:
                        edges.append(Edge(module, dst, child.lineno, in_function))
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(tree, False)
    return edges


def package_of(module: str) -> str:
    return module.split(".")[0]


def strongly_connected(nodes, succ) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative); only those of more than one node."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = [0]
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(sorted(succ.get(start, ()))))]
        index[start] = low[start] = counter[0]; counter[0] += 1
        stack.append(start); on_stack.add(start)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]; counter[0] += 1
                    stack.append(w); on_stack.add(w)
                    work.append((w, iter(sorted(succ.get(w, ())))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop(); on_stack.discard(w); comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def analyse(root: Path = ROOT) -> dict:
    mods = project_modules(root)
    edges = [e for m, p in mods.items() for e in imports_of(m, p, mods)]
    succ: dict[str, set[str]] = {}
    for e in edges:
        succ.setdefault(e.src, set()).add(e.dst)
    pkg_succ: dict[str, set[str]] = {}
    for e in edges:
        a, b = package_of(e.src), package_of(e.dst)
        if a != b:
            pkg_succ.setdefault(a, set()).add(b)
    rank = {p: i for i, p in enumerate(LAYERS)}
    upward = [e for e in edges if rank[package_of(e.dst)] > rank[package_of(e.src)]]
    return {
        "modules": len(mods), "edges": edges,
        "package_cycles": strongly_connected(LAYERS, pkg_succ),
        "module_cycles": strongly_connected(sorted(mods), succ),
        "upward": upward,
        "function_level": [e for e in edges if e.function_level],
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.devtools.layers", description=__doc__.split("\n\n")[0])
    p.add_argument("--verbose", "-v", action="store_true", help="list every cycle and upward import")
    args = p.parse_args(argv)
    r = analyse()
    if args.verbose:
        for c in r["package_cycles"]:
            print("package cycle:", " ⇄ ".join(c))
        for c in r["module_cycles"]:
            print("module cycle:", " ⇄ ".join(c))
        for e in r["upward"]:
            print(f"upward: {e.src}:{e.line} imports {e.dst}")
    print(f"package_cycles={len(r['package_cycles'])} module_cycles={len(r['module_cycles'])} "
          f"upward_imports={len(r['upward'])} function_level_internal_imports={len(r['function_level'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
