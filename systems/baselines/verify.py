"""`bench systems verify`: every baseline adapter checked against its official repository.

For each of the seven baselines, against the repository's files at the pinned commit (a folder
per baseline under the source folder, see `repo_packages.default_source`), with no network and
no GPU:

1. **import closure** (`closure.py`): from the exact scripts the adapter runs (the steps of its
   shipped config: the repository's entry point through `launch.py`, or the harness's driver),
   with the `sys.path` the adapter sets up, every import that runs resolves to a repository file,
   the standard library of the spec's Python, or a distribution of `envs/<name>.txt` (import
   names read from the wheels: `import_names.py`). Unresolved imports name file and line.
2. **contract** (`contract.py`): the flags each command passes exist in the script's parser;
   the driver's calls into the repository exist; the relative paths the real code uses are the
   ones the adapter declares (`work_paths`), and the adapter's own preparation of a working folder
   (run here with stand-in weights and a tiny clip, stopped before the baseline's program starts)
   holds every path it declares `prepared`.
3. **real run** (`real_runs.py`), where the repository's code can import in this Python with
   current packages: the adapter runs the real code, with random weights saved in the files the
   repository loads, on a short clip; otherwise the precise reason it cannot.

The report ends with `baselines=7 unresolved_imports=U contract_mismatches=M real_runs=R
real_run_failures=F`.
"""

from __future__ import annotations

import ast
import re
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from systems.base import get_system_class
from systems.baselines.dry_run import prepared_tree
from systems.baselines.real_runs import real_run
from systems.baselines import closure, contract, import_names
from systems.baselines.repo_packages import BASELINES, default_source, local_packages, pinned_commit

DRIVERS = Path(__file__).with_name("drivers")
LAUNCH = Path(__file__).with_name("launch.py")


class SourceError(Exception):
    """The source folder or one repository in it is missing, or at another commit."""


@dataclass
class Program:
    """One step's process: the script, the arguments after it, its sys.path, and whether it is a driver."""

    step: str
    script: Path
    args: list[str]
    roots: list[Path]
    driver: bool
    launch_args: list[str] = field(default_factory=list)


@dataclass
class Report:
    name: str
    _calls: dict = field(default_factory=dict, repr=False)
    unresolved: list[str] = field(default_factory=list)
    optional: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files: int = 0
    real_run: str | None = None       # "ok: ..." / "failed: ..." / None when not run
    real_run_skip: str | None = None  # why no real run


def shipped_config(name: str) -> dict:
    from omegaconf import OmegaConf

    from core.options import CONF_DIR

    cfg = OmegaConf.load(CONF_DIR / "system" / f"{name}.yaml")
    return OmegaConf.to_container(cfg, resolve=False)


def driver_constant(path: Path, name: str, default=()):
    """A module-level literal of a driver (`REPO_PATHS`, `REPO_CALLS`), read with ast."""
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    return default


def programs(cls, repo: Path, config: dict | None = None) -> list[Program]:
    """The processes the adapter's shipped commands start, with the sys.path each one gets."""
    config = config or shipped_config(cls.name)
    out = []
    site = [p for pkg in local_packages(cls, repo) for p in pkg.import_roots()]
    for step, argv in (config.get("commands") or {}).items():
        if not argv or step in cls.other_repo_steps:
            continue
        argv = [str(a) for a in argv]
        launch_args: list[str] = []
        if "{launch}" in argv:
            i = argv.index("{launch}")
            j = argv.index("--", i)
            launch_args, rest = argv[i + 1:j], argv[j + 1:]
        else:
            rest = argv[next(k for k, a in enumerate(argv) if a.endswith(".py")):]
        script_t, args = rest[0], rest[1:]
        if script_t.startswith("{repo}"):
            script, driver = repo / script_t[len("{repo}"):].lstrip("/"), False
        elif script_t.startswith("{drivers}"):
            script, driver = DRIVERS / script_t[len("{drivers}"):].lstrip("/"), True
        else:
            continue
        paths = [launch_args[k + 1] for k, a in enumerate(launch_args[:-1]) if a == "--path"]
        extra = [repo / p.replace("{repo}", "").lstrip("/") for p in paths if p.startswith("{repo}")]
        pythonpath = [repo / p for p in cls.pythonpath_for(step)]
        roots = [script.parent, *extra, *pythonpath]
        if driver:
            roots = [repo / p for p in driver_constant(script, "REPO_PATHS")] + roots
        out.append(Program(step, script, args, roots + site, driver, launch_args))
    return out


def spec_providers(cls, repo: Path, mapping: dict) -> tuple[dict[str, str], list[str], list[str]]:
    """(import name → distribution of the environment, its distributions, problems with the mapping)."""
    from systems.baselines.environments import spec_path

    spec = spec_path(cls.name)
    dists = import_names.spec_distributions(spec)
    for pkg in local_packages(cls, repo):
        dists += [d for d in map(import_names.requirement_name, pkg.requires) if d]
    providers, problems = {}, []
    for d in dists:
        names = import_names.imports_of(d, mapping)
        if names is None:
            problems.append(f"{spec.name}: {d} has no entry in {import_names.MAPPING.name} "
                            f"(run `python -m systems.baselines.import_names {d}`)")
            continue
        for n in names:
            providers.setdefault(n, d)
    return providers, dists, problems


def known_providers(mapping: dict) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for dist, entry in mapping.items():
        for n in entry["imports"]:
            out.setdefault(n, []).append(dist)
    return out


def check_source(name: str, source: Path, commit: str) -> Path:
    """The repository folder of `name` under `source`, at `commit` (else a SourceError naming both)."""
    folder = Path(source) / name
    if not folder.is_dir():
        raise SourceError(f"{name}: no repository at {folder}; pass --source DIR (a folder with one sub-folder per "
                          f"baseline, each the official repository at the pinned commit) or set BENCH_BASELINES_SRC")
    got = pinned_commit(folder)
    if got is None:
        raise SourceError(f"{name}: cannot tell which commit {folder} holds (no git checkout, no .commit file, "
                          f"not in {folder.parent / 'README.md'}); the adapter pins {commit}")
    if got != commit:
        raise SourceError(f"{name}: {folder} is at commit {got}, but the adapter pins {commit}; check out "
                          f"{commit} (git -C {folder} checkout {commit}) or point --source at a copy of it")
    return folder


def verify_closure(cls, repo: Path, report: Report, mapping: dict) -> None:
    from systems.baselines.environments import spec_header, spec_path

    providers, _, problems = spec_providers(cls, repo, mapping)
    report.mismatches += problems
    python = spec_header(spec_path(cls.name)).get("python", cls.python_version)
    called = {repo / f: set(fns) for f, fns in cls.called_functions.items()}
    walker = closure.ImportClosure(repo.parent, providers, known_providers(mapping), closure.stdlib_names(python),
                                   called, spec_name=f"envs/{cls.name}.txt")
    files, unresolved, optional = set(), {}, {}
    report._program_files = []
    for prog in programs(cls, repo):
        entries = [closure.Entry(prog.script, tuple(prog.roots), prog.driver)]
        # modules the run imports by name from a config (`target: a.b.C`, instantiated with importlib)
        for module in config_targets(cls, repo, prog.step):
            entries.append(closure.Entry(module, tuple(prog.roots), False, by_name=True))
        result = walker.run(entries)
        files.update(result.files)
        report._program_files.append((prog, result.files))
        unresolved.update({str(u): None for u in result.unresolved})
        optional.update({str(u): None for u in result.optional_missing})
    for step, why in cls.other_repo_steps.items():
        report.notes.append(f"step {step} not checked: {why}")
    report.files = len(files)
    report.unresolved += list(unresolved)
    report.optional += list(optional)


def config_targets(cls, repo: Path, step: str) -> list[str]:
    """Module names a step's config instantiates by name (`target: pkg.mod.Class` in its YAML)."""
    out = []
    for rel in cls.config_files.get(step, ()):
        text = (repo / rel).read_text()
        out += sorted({m[1].rsplit(".", 1)[0] for m in re.finditer(r"^\s*target:\s*([\w.]+)\s*$", text, re.M)})
    return out


def verify_contract(cls, repo: Path, report: Report) -> None:
    for prog in programs(cls, repo):
        where = f"{cls.name} step {prog.step} ({_rel(prog.script, repo)})"
        report.mismatches += contract.check_flags(prog.script, prog.args, where)
        unknown = [f for f in contract.passed_flags(prog.launch_args) if f not in LAUNCH_FLAGS]
        report.mismatches += [f"{where}: launch.py has no option {f}" for f in unknown]
        if prog.driver:
            for file, qualname, params in driver_constant(prog.script, "REPO_CALLS"):
                report.mismatches += contract.check_call(repo, file, qualname, tuple(params), where)
    # relative paths of the code that runs, against the adapter's declarations
    declared = {contract.normalise(w.path): w for w in cls.work_paths}
    for w in cls.work_paths:
        if w.role not in contract.WorkPath.ROLES:
            report.mismatches.append(f"{cls.name}: work path {w.path} has an unknown role {w.role!r}")
    entry_files = {p.script.resolve(): set(contract.passed_flags(p.args)) for p in programs(cls, repo)}
    called = {(repo / f).resolve(): set(fns) for f, fns in cls.called_functions.items()}
    found: dict[str, tuple[str, str]] = {}  # path → (where, step cwd)
    report._calls = {}
    for prog, files in getattr(report, "_program_files", []):
        for f in files:
            f = Path(f).resolve()
            if f.is_relative_to(DRIVERS.resolve()) and f not in entry_files:
                continue
            for path, line in contract.relative_paths(f, f in entry_files, called.get(f, set()), f in entry_files,
                                                      entry_files.get(f, set()), report._calls).items():
                found.setdefault(path, (f"{_rel(f, repo)}:{line}", cls.step_cwd.get(prog.step, "")))
    for prog in programs(cls, repo):  # relative paths written in the config files the run reads
        for rel in cls.config_files.get(prog.step, ()):
            for k, line in enumerate((repo / rel).read_text().splitlines(), 1):
                for m in re.finditer(r"""['"]?(\.\.?/[\w./-]+)['"]?""", line):
                    found.setdefault(contract.normalise(m[1]), (f"{repo.name}/{rel}:{k}", cls.step_cwd.get(prog.step, "")))
    for path, (where, cwd) in sorted(found.items()):
        w = declared.get(path) or next((declared[d] for d in declared if _matches(path, d)), None)
        if w is None:
            report.mismatches.append(f"{where}: the real code uses {path!r} relative to its working folder; "
                                     f"the adapter neither prepares, collects nor declares it (work_paths)")
        elif w.role not in ("replaced", "unused") and _escapes(cwd, path):
            report.mismatches.append(f"{where}: {path!r} from the step's working folder ({cwd or 'the clip folder'}) "
                                     f"leads out of the clip's working folder: clips running at once would share it")
    for d, w in sorted(declared.items()):
        if d not in found and not any(_matches(p, d) for p in found):
            report.mismatches.append(f"{cls.name}: declares {w.path!r} ({w.role}), but the real code that runs "
                                     f"does not use it")


LAUNCH_FLAGS = {"--seed", "--pin-env", "--no-sleep-from", "--wait-pool-from", "--path", "--free-port"}


def _matches(found: str, declared: str) -> bool:
    """`declared` may use * for a formatted part (f-strings read as *)."""
    if "*" not in declared and "*" not in found:
        return False
    pattern = re.escape(declared).replace(r"\*", ".*")
    return bool(re.fullmatch(pattern, found)) or bool(re.fullmatch(re.escape(found).replace(r"\*", ".*"), declared))


def _escapes(cwd: str, path: str) -> bool:
    import posixpath

    return posixpath.normpath(posixpath.join(cwd or ".", path)).startswith("..")


def _rel(path: Path, repo: Path) -> str:
    path = Path(path).resolve()
    for base, prefix in ((repo.resolve(), repo.name + "/"), (DRIVERS.resolve().parents[2], "")):
        try:
            return prefix + str(path.relative_to(base))
        except ValueError:
            pass
    return str(path)


def verify_preparation(cls, repo: Path, report: Report) -> None:
    """Run the adapter's own preparation of a working folder and check its declared `prepared` paths."""
    import posixpath

    calls = getattr(report, "_calls", {})
    prepared = [w for w in cls.work_paths if w.role == "prepared"]
    # os.mkdir (not makedirs) of a path the code makes: its parent must be there already
    parents = [w for w in cls.work_paths if w.role == "made by the code" and "mkdir" in calls.get(contract.normalise(w.path), ())
               and posixpath.dirname(contract.normalise(w.path)) not in ("", ".")]
    if not prepared and not parents:
        return
    with tempfile.TemporaryDirectory() as tmp:
        try:
            tree = prepared_tree(cls, repo, Path(tmp))
        except Exception as exc:
            report.mismatches.append(f"{cls.name}: the adapter's preparation failed: {type(exc).__name__}: {exc}")
            return
        for w in parents:
            parent = posixpath.normpath(posixpath.join(w.cwd or ".", posixpath.dirname(contract.normalise(w.path))))
            if parent not in tree:
                report.mismatches.append(f"{cls.name}: the real code does os.mkdir({w.path!r}), but the adapter's working "
                                         f"folder has no {parent}/ for it (FileNotFoundError before anything runs)")
        for w in prepared:
            p = posixpath.normpath(posixpath.join(w.cwd or ".", contract.normalise(w.path)))
            if not any(t == p or _matches(t, p) for t in tree):
                report.mismatches.append(f"{cls.name}: declares {w.path!r} prepared, but its working folder holds "
                                         f"no such path (it holds: {', '.join(sorted(tree)) or 'nothing'})")


def verify(names: list[str] | None = None, source: Path | None = None, real_runs: bool = True,
           log=print) -> list[Report]:
    source = Path(source) if source else default_source()
    if not source.is_dir():
        raise SourceError(f"no baseline source folder at {source}; pass --source DIR (one sub-folder per baseline, "
                          f"each the official repository at the pinned commit) or set BENCH_BASELINES_SRC")
    mapping = import_names.load()
    reports = []
    for name in names or BASELINES:
        cls = get_system_class(name)
        report = Report(name)
        reports.append(report)
        try:
            repo = check_source(name, source, cls.commit)
        except SourceError as exc:
            report.mismatches.append(str(exc))
            continue
        verify_closure(cls, repo, report, mapping)
        verify_contract(cls, repo, report)
        verify_preparation(cls, repo, report)
        if real_runs:
            report.real_run, report.real_run_skip = real_run(cls, repo)
        log(format_report(report))
    return reports


def format_report(r: Report) -> str:
    lines = [f"{r.name}: {r.files} files in the import closure, {len(r.unresolved)} unresolved imports, "
             f"{len(r.mismatches)} contract mismatches"]
    lines += [f"  unresolved  {u}" for u in r.unresolved]
    lines += [f"  mismatch    {m}" for m in r.mismatches]
    lines += [f"  optional    {o} (inside try/except ImportError: not a failure)" for o in r.optional]
    lines += [f"  note        {n}" for n in r.notes]
    if r.real_run:
        lines.append(f"  real run    {r.real_run}")
    elif r.real_run_skip:
        lines.append(f"  real run    skipped: {r.real_run_skip}")
    return "\n".join(lines)


def summary(reports: list[Report]) -> str:
    runs = sum(1 for r in reports if r.real_run)
    fails = sum(1 for r in reports if r.real_run and not r.real_run.startswith("ok"))
    return (f"baselines={len(reports)} unresolved_imports={sum(len(r.unresolved) for r in reports)} "
            f"contract_mismatches={sum(len(r.mismatches) for r in reports)} real_runs={runs} "
            f"real_run_failures={fails}")
