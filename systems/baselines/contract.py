"""The contract between an adapter and its baseline's real code, read with `ast`.

Three checks, each against the official repository's files (nothing is imported or run):

- **flags**: every option the adapter's command passes to a script exists in that script's
  argparse parser (`add_argument` calls), and every `required=True` option is passed;
- **calls**: a harness driver's calls into the repository (`REPO_CALLS` in the driver) name a
  function or method that exists there and takes those parameters;
- **working-folder paths**: the relative paths the real code reads, writes, creates or deletes
  (string constants of path operations in the code that runs: the entry script, the driver,
  module-level code of every file of the import closure, and the adapter's `called_functions`)
  are exactly the ones the adapter declares (`work_paths`), each with what the adapter does
  about it; `bench systems verify` then checks the declared ones against the adapter's own
  preparation of a working folder.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from systems.baselines.closure import is_main_guard, parse_file, ScopedVisitor


@dataclass(frozen=True)
class WorkPath:
    """A path the real code uses relative to its working folder, and what the adapter does about it.

    role: `prepared` (the adapter puts it in the working folder before the run), `collected`
    (the adapter reads the output there), `made by the code` (the code creates or removes it
    itself, its parent exists), `replaced` (the adapter passes another path instead, `note` says
    how), `unused` (named, but nothing is read or written there, `note` says why).
    `cwd`: the step's working folder inside the clip's working folder ("" = its root); a path
    that leads out of the clip's working folder is a mismatch unless `replaced` or `unused`
    (it would be shared by clips running at once).
    """

    path: str
    role: str
    note: str = ""
    cwd: str = ""

    ROLES = ("prepared", "collected", "made by the code", "replaced", "unused")


def _parse(path):
    return parse_file(path)


# -- flags ------------------------------------------------------------------------------------

@dataclass
class Parser:
    options: dict[str, bool]  # option string → required
    line: dict[str, int]
    uses_fire: bool = False


def argparse_options(path: Path) -> Parser:
    """Option strings of every `add_argument` call in `path`, and which are required."""
    tree = _parse(path)
    options, lines, fire = {}, {}, False
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "attr", getattr(node.func, "id", ""))
        if name == "Fire":
            fire = True
        if name != "add_argument":
            continue
        flags = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        required = any(k.arg == "required" and isinstance(k.value, ast.Constant) and k.value.value is True
                       for k in node.keywords)
        for f in flags:
            if f.startswith("-"):
                options[f] = required
                lines[f] = node.lineno
    return Parser(options, lines, fire)


def passed_flags(args: list[str]) -> list[str]:
    """Option strings in an argument list (`--x=v` → `--x`; values such as `{seed}` are skipped)."""
    out = []
    for a in args:
        if a.startswith("-") and not re.fullmatch(r"-\d+(\.\d+)?", a):
            out.append(a.split("=", 1)[0])
    return out


def check_flags(script: Path, args: list[str], where: str) -> list[str]:
    """Mismatches between the flags the adapter passes and the script's parser."""
    parser = argparse_options(script)
    if not parser.options:
        return [f"{where}: no argparse parser found in it, but the adapter passes {args}"] if passed_flags(args) else []
    out = []
    flags = passed_flags(args)
    for f in flags:
        if f not in parser.options:
            out.append(f"{where}: passes {f}, which its parser does not define (it defines "
                       f"{', '.join(sorted(parser.options))})")
    for f, required in parser.options.items():
        if required and f not in flags and not _alias_passed(f, parser, flags, script):
            out.append(f"{where}: its parser requires {f} (line {parser.line[f]}), which the adapter does not pass")
    return out


def _alias_passed(flag: str, parser: Parser, passed: list[str], script: Path) -> bool:
    """A required option given by another of its strings (`-f` for `--files`)."""
    tree = _parse(script)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
            flags = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            if flag in flags and any(f in passed for f in flags):
                return True
    return False


# -- calls into the repository ------------------------------------------------------------------

def find_function(path: Path, qualname: str) -> ast.FunctionDef | None:
    tree = _parse(path)
    scope = tree.body
    parts = qualname.split(".")
    for i, part in enumerate(parts):
        node = next((n for n in scope if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                     and n.name == part), None)
        if node is None:
            return None
        if i == len(parts) - 1:
            return node if not isinstance(node, ast.ClassDef) else None
        scope = node.body
    return None


def check_call(repo: Path, file: str, qualname: str, params: tuple[str, ...], where: str) -> list[str]:
    """The function exists in the repository file and takes `params` (by name, or through **kwargs)."""
    path = repo / file
    if not path.is_file():
        return [f"{where}: calls {qualname} in {file}, which the repository does not have"]
    fn = find_function(path, qualname)
    if fn is None:
        return [f"{where}: calls {qualname}, which {file} does not define"]
    a = fn.args
    names = [x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs)]
    missing = [p for p in params if p not in names and a.kwarg is None]
    return [f"{where}: calls {file}:{fn.lineno} {qualname} with {p}=, which it does not take "
            f"(its parameters: {', '.join(names)})" for p in missing]


# -- relative paths -------------------------------------------------------------------------------

PATH_CALLS = {"open", "mkdir", "makedirs", "exists", "isfile", "isdir", "rmtree", "remove", "unlink", "listdir",
              "glob", "load", "save", "Path", "join", "chdir", "load_yaml_config", "copy", "copyfile", "move",
              "rename", "imwrite", "savefig", "write", "read_csv", "loadtxt", "savez", "VideoFileClip"}


def _looks_like_path(s: str) -> bool:
    if not s or s.startswith(("/", "~", "http:", "https:", "s3:", "gs:")) or "://" in s or "\n" in s or " " in s:
        return False
    if s.startswith(("./", "../")):
        return True
    return bool(re.fullmatch(r"[\w.*-]+(/[\w.*+-]*)+", s) or re.fullmatch(r"[\w*-]+\.(json|txt|npy|npz|pt|pth|mid|wav|"
                                                                       r"mp4|yaml|yml|pickle|pkl|csv|bin|ckpt)", s))


def _text(node: ast.AST, consts: dict[str, str]) -> str | None:
    """A string constant, an f-string (placeholders become *), or a name bound to a module-level constant."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "*" for v in node.values)
    if isinstance(node, ast.Name) and node.id in consts:
        return consts[node.id]
    return None


def normalise(path: str) -> str:
    p = path[2:] if path.startswith("./") else path
    return p.rstrip("/") or "."


class _PathCollector(ScopedVisitor):
    def __init__(self, consts: dict[str, str], all_functions: bool, functions: set[str], main: bool,
                 passed: set[str]):
        self.consts, self.all_functions, self.functions = consts, all_functions, functions
        self.main, self.passed = main, passed
        self.found: dict[str, int] = {}
        self.calls: dict[str, set] = {}  # path → the calls that use it (mkdir needs the parent to exist)
        super().__init__()

    def _active(self) -> bool:
        return (not self._in_function or self.all_functions or ".".join(self._scope) in self.functions
                or "*" in self.functions)

    def visit_If(self, node):
        if is_main_guard(node.test) and not self.main:
            for stmt in node.orelse:
                self.visit(stmt)
            return
        self.generic_visit(node)

    def visit_Call(self, node):
        if self._active():
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            args = list(node.args[:1]) if name in PATH_CALLS else []
            args += [k.value for k in node.keywords]
            if name == "add_argument":  # an option's default path is used only when the option is not passed
                flags = {a.value for a in node.args if isinstance(a, ast.Constant)}
                if flags & self.passed:
                    return
            for a in args:
                s = _text(a, self.consts)
                if s is not None and not s.startswith("*") and (_looks_like_path(s) or (name in ("mkdir", "makedirs", "rmtree")
                                                              and re.fullmatch(r"[\w-]+/?", s))):
                    self.found.setdefault(normalise(s), node.lineno)
                    self.calls.setdefault(normalise(s), set()).add(name)
        self.generic_visit(node)

    def visit_JoinedStr(self, node):
        if self._active():
            s = _text(node, self.consts)
            if s and s.startswith(("./", "../")) and _looks_like_path(s):
                self.found.setdefault(normalise(s), node.lineno)

    def visit_Constant(self, node):
        if self._active() and isinstance(node.value, str) and node.value.startswith(("./", "../")) and \
                _looks_like_path(node.value):
            self.found.setdefault(normalise(node.value), node.lineno)


def module_constants(tree: ast.Module) -> dict[str, str]:
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    out[t.id] = node.value.value
    return out


def relative_paths(path: Path, all_functions: bool = False, functions: set[str] = frozenset(), main: bool = False,
                   passed: set[str] = frozenset(), calls: dict | None = None) -> dict[str, int]:
    """Relative paths the code of `path` that runs uses: normalised path → first line. `main`: the
    file runs as __main__; `passed`: the options the adapter passes it (their defaults are unused)."""
    tree = _parse(path)
    col = _PathCollector(module_constants(tree), all_functions, set(functions), main or all_functions, set(passed))
    col.visit(tree)
    if calls is not None:
        for k, v in col.calls.items():
            calls.setdefault(k, set()).update(v)
    return col.found
