"""Import closure of a baseline's real code, read with `ast` (nothing is imported or run).

From the exact scripts an adapter runs (the repository's entry point, or the harness's driver),
follow every import that executes when the script runs: module-level statements (class bodies
included, `if`/`try` blocks included), the whole of a harness driver (its `main()` runs), and
the bodies of the functions an adapter declares its run calls (`called_functions`: lazy imports
such as D2M-GAN's `from mpi4py import MPI` inside `setup_dist_from_mpi`). Each import must
resolve, with the `sys.path` the adapter sets up (the script's folder, `launch.py --path`
folders, `PYTHONPATH`, the driver's `REPO_PATHS`, packages setup installs from the repository),
to:

- a file of the repository (then it is followed in turn), or
- a module of the standard library of the environment's Python, or
- a distribution of the adapter's environment spec (`envs/<name>.txt`), by the import-name
  mapping read from the distributions' own wheels (`import_names.py`).

An import inside `try:` with an `except ImportError` (or broader) handler is optional: listed,
never a failure. Anything else that does not resolve is a failure naming file and line.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

# modules of the standard library that 3.8 / 3.9 do not have (sys.stdlib_module_names is 3.10+)
NEWER_STDLIB = {"3.8": {"graphlib", "zoneinfo", "tomllib", "_tokenize", "wsgiref.types"},
                "3.9": {"tomllib", "_tokenize", "wsgiref.types"}}


def stdlib_names(python: str) -> set[str]:
    names = set(sys.stdlib_module_names) | set(sys.builtin_module_names)
    return names - NEWER_STDLIB.get(python, set())


@dataclass(frozen=True)
class ImportSite:
    file: Path
    line: int
    module: str          # absolute dotted name imported (after resolving relative imports)
    names: tuple = ()    # `from module import names`
    optional: bool = False
    level: int = 0


@dataclass
class Unresolved:
    site: ImportSite
    reason: str
    where: str = ""  # the file, relative to the source folder

    def __str__(self) -> str:
        return f"{self.where}:{self.site.line}: import {self.site.module}: {self.reason}"


@dataclass
class ClosureResult:
    files: list[Path] = field(default_factory=list)           # repository / driver files reached
    external: dict[str, str] = field(default_factory=dict)     # import name → distribution providing it
    stdlib: set[str] = field(default_factory=set)
    unresolved: list[Unresolved] = field(default_factory=list)
    optional_missing: list[Unresolved] = field(default_factory=list)


_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(getattr(t, "id", getattr(t, "attr", "")) in _IMPORT_ERRORS for t in types)


def _is_type_checking(test: ast.expr) -> bool:
    return getattr(test, "id", getattr(test, "attr", "")) == "TYPE_CHECKING"


def is_main_guard(test: ast.expr) -> bool:
    """`if __name__ == "__main__":` (runs only in the script the interpreter was started with)."""
    return (isinstance(test, ast.Compare) and getattr(test.left, "id", None) == "__name__" and len(test.comparators) == 1
            and isinstance(test.comparators[0], ast.Constant) and test.comparators[0].value == "__main__")


class ScopedVisitor(ast.NodeVisitor):
    """Walks class and function bodies keeping the dotted scope (`Class.method`) and whether the
    walk is inside a function; the collectors decide what in those bodies counts as running."""

    def __init__(self):
        self._scope: list[str] = []
        self._in_function = 0

    def _scoped(self, node, function: bool):
        self._scope.append(node.name)
        self._in_function += function
        for stmt in node.body:
            self.visit(stmt)
        self._in_function -= function
        self._scope.pop()

    def visit_ClassDef(self, node):
        self._scoped(node, False)

    def visit_FunctionDef(self, node):
        self._scoped(node, True)

    visit_AsyncFunctionDef = visit_FunctionDef


class _Collector(ScopedVisitor):
    """Import statements of one file that run: module level, class bodies, and (when asked) the
    bodies of all functions or of the named ones (`Class.method`, `function`)."""

    def __init__(self, all_functions: bool, functions: set[str]):
        super().__init__()
        self.all_functions, self.functions = all_functions, functions
        self.main = all_functions  # a script run as __main__ (entry or driver)
        self.sites: list[tuple[ast.stmt, bool]] = []
        self._optional = 0

    def _record(self, node):
        if self._in_function and not self.all_functions and ".".join(self._scope) not in self.functions \
                and "*" not in self.functions:
            return
        self.sites.append((node, self._optional > 0))

    visit_Import = _record
    visit_ImportFrom = _record

    def visit_Try(self, node):
        optional = any(_catches_import_error(h) for h in node.handlers)
        self._optional += optional
        for stmt in node.body:
            self.visit(stmt)
        self._optional -= optional
        for part in (node.handlers, node.orelse, node.finalbody):
            for stmt in part:
                self.visit(stmt)

    visit_TryStar = visit_Try

    def visit_If(self, node):
        if _is_type_checking(node.test) or (is_main_guard(node.test) and not self.main):
            for stmt in node.orelse:
                self.visit(stmt)
            return
        self.generic_visit(node)


def parse_file(path: Path) -> ast.Module:
    """A file's syntax tree (old code's invalid escape sequences only warn: the warnings are dropped)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(Path(path).read_text(errors="replace"), filename=str(path))


def import_sites(path: Path, package: str | None, all_functions: bool = False,
                 functions: set[str] = frozenset(), main: bool = False) -> list[ImportSite]:
    """The import statements of `path` that run, with relative imports made absolute (`package`:
    the module's package, None for a script run as __main__)."""
    tree = parse_file(path)
    col = _Collector(all_functions, set(functions))
    col.main = main or all_functions
    col.visit(tree)
    out = []
    for node, optional in col.sites:
        if isinstance(node, ast.Import):
            out += [ImportSite(path, node.lineno, a.name, (), optional) for a in node.names]
            continue
        names = tuple(a.name for a in node.names)
        if node.level:
            if package is None:
                out.append(ImportSite(path, node.lineno, "." * node.level + (node.module or ""), names, optional,
                                      node.level))
                continue
            parts = package.split(".")
            base = parts[:len(parts) - node.level + 1] if node.level <= len(parts) else None
            if base is None:
                out.append(ImportSite(path, node.lineno, "." * node.level + (node.module or ""), names, optional,
                                      node.level))
                continue
            module = ".".join([*base, *([node.module] if node.module else [])])
        else:
            module = node.module or ""
        out.append(ImportSite(path, node.lineno, module, names, optional))
    return out


@dataclass(frozen=True)
class Entry:
    """A script the adapter runs: the file, its process's sys.path (in order), and whether all its
    function bodies count (a harness driver: its main() runs)."""

    path: Path | str  # a file, or a dotted module name when by_name
    roots: tuple
    all_functions: bool = False
    by_name: bool = False


class ImportClosure:
    """Follow imports from entry scripts through a repository.

    providers: import name → distribution of the environment spec; known: import name → every
    distribution that provides it (to suggest the fix); stdlib: the environment's standard library;
    called: {file: {"Class.method", "function"}} whose bodies' imports count.
    """

    def __init__(self, source: Path, providers: dict[str, str], known: dict[str, list[str]],
                 stdlib: set[str], called: dict[Path, set[str]] | None = None, spec_name: str = "the spec"):
        self.source = Path(source)
        self.providers, self.known, self.stdlib = providers, known, stdlib
        self.called = {Path(k).resolve(): set(v) for k, v in (called or {}).items()}
        self.spec_name = spec_name

    def _rel(self, path: Path) -> str:
        path = Path(path).resolve()
        for base in (self.source.resolve(), Path(__file__).resolve().parents[2]):
            try:
                return str(path.relative_to(base))
            except ValueError:
                continue
        return str(path)

    # -- module lookup -----------------------------------------------------------------------

    @staticmethod
    def _module_file(folder: Path, part: str) -> tuple[Path | None, bool]:
        """(file to parse or folder of a namespace package, is_package) of `part` inside `folder`."""
        pkg = folder / part
        if (pkg / "__init__.py").is_file():
            return pkg / "__init__.py", True
        if (folder / f"{part}.py").is_file():
            return folder / f"{part}.py", False
        ext = [p for p in folder.glob(f"{part}.*") if p.suffix in (".so", ".pyd", ".pyx")]
        if ext:
            return ext[0], False
        if pkg.is_dir():
            return pkg, True  # namespace package
        return None, False

    def _find_top(self, top: str, roots: list[Path]) -> Path | None:
        """The sys.path folder whose `top` wins (a regular package or module beats a namespace one)."""
        namespace = None
        for root in roots:
            found, _ = self._module_file(root, top)
            if found is None:
                continue
            if found.is_dir():
                namespace = namespace or root
                continue
            return root
        return namespace

    def resolve(self, module: str, roots: list[Path]) -> tuple[str, list[tuple[Path, str]] | str]:
        """('repo', [(file, dotted name), ...]) | ('stdlib'|'dist', name) | ('missing', reason)."""
        parts = module.split(".")
        top = parts[0]
        if top in sys.builtin_module_names:
            return "stdlib", top
        root = self._find_top(top, roots)
        if root is not None:
            chain, folder = [], root
            for i, part in enumerate(parts):
                found, is_pkg = self._module_file(folder, part)
                if found is None:
                    return "missing", (f"the repository has {'.'.join(parts[:i])} ({self._rel(folder)}) but no "
                                       f"module {part} in it")
                if found.is_file():
                    chain.append((found, ".".join(parts[:i + 1])))
                if not is_pkg and i < len(parts) - 1:
                    return "missing", f"{'.'.join(parts[:i + 1])} ({self._rel(found)}) is a module, not a package"
                folder = found.parent if found.is_file() else found
            return "repo", chain
        if top in self.stdlib:
            return "stdlib", top
        if top in self.providers:
            return "dist", self.providers[top]
        hint = self.known.get(top)
        if hint:
            return "missing", (f"not a file of the repository, and no distribution of {self.spec_name} provides it "
                               f"(provided by {' or '.join(hint)}: add it to {self.spec_name})")
        return "missing", (f"not a file of the repository on the adapter's sys.path, not in the standard library, "
                           f"and no distribution of {self.spec_name} provides it")

    # -- the walk ------------------------------------------------------------------------------

    def run(self, entries: list[Entry]) -> ClosureResult:
        result = ClosureResult()
        seen: set[Path] = set()
        queue: list[tuple[Path, str | None, list[Path], bool]] = []
        for e in entries:
            roots = [Path(r) for r in e.roots]
            if e.by_name:
                kind, detail = self.resolve(str(e.path), roots)
                if kind == "repo":
                    queue += [(f.resolve(), self._package_of(f, n), roots, False) for f, n in detail]
                elif kind == "missing":
                    self._fail(result, ImportSite(Path(str(e.path)), 0, str(e.path)), f"named in a config: {detail}")
                continue
            queue.append((Path(e.path).resolve(), None, roots, e.all_functions))
        while queue:
            path, package, roots, all_functions = queue.pop(0)
            if path in seen or path.suffix != ".py":
                continue
            seen.add(path)
            result.files.append(path)
            try:
                sites = import_sites(path, package, all_functions, self.called.get(path, set()), main=package is None)
            except SyntaxError as exc:
                result.unresolved.append(Unresolved(ImportSite(path, exc.lineno or 0, "?"),
                                                    f"does not parse: {exc.msg}", self._rel(path)))
                continue
            for site in sites:
                if site.level:
                    self._fail(result, site, "relative import in a script run as __main__ (no parent package)")
                    continue
                kind, detail = self.resolve(site.module, roots)
                if kind == "missing":
                    self._fail(result, site, detail)
                    continue
                if kind == "stdlib":
                    result.stdlib.add(detail)
                    continue
                if kind == "dist":
                    result.external[site.module.split(".")[0]] = detail
                    continue
                for file, name in detail:
                    queue.append((file.resolve(), self._package_of(file, name), roots, False))
                last_file, last_name = detail[-1]
                if last_file.name == "__init__.py" or last_file.is_dir():
                    folder = last_file.parent if last_file.is_file() else last_file
                    for n in site.names:
                        if n == "*":
                            continue
                        found, _ = self._module_file(folder, n)
                        if found is not None and found.is_file():
                            queue.append((found.resolve(), self._package_of(found, f"{last_name}.{n}"), roots, False))
        return result

    @staticmethod
    def _package_of(file: Path, name: str) -> str:
        return name if file.name == "__init__.py" else name.rpartition(".")[0]

    def _fail(self, result: ClosureResult, site: ImportSite, reason: str) -> None:
        item = Unresolved(site, reason, self._rel(site.file))
        (result.optional_missing if site.optional else result.unresolved).append(item)
