"""`bench systems check <name> --deep`: the one-minute check before a ten-hour baseline run.

After `bench systems setup <name>`, on the user's machine, each step says ok or failed with the
exact fix:

1. **python**: the environment's interpreter is the spec's version (`# python: 3.8`); a newer
   one cannot install the spec's pins (torch 1.9 has no wheel for 3.11);
2. **repository**: the checkout is at the pinned commit (both commits named otherwise);
3. **imports**: every distribution import the adapter's real code reaches (the static closure
   of `bench systems verify`, run against the user's checkout) imports inside the built
   environment (`python -c "import X"` for each, one process);
4. **weights**: every weight file the adapter will load is present, not a git-LFS pointer, and
   loads with `torch.load` in the environment; where the adapter knows the keys the repository
   reads (`weight_keys`), they are there;
5. **clip**: one 2-second clip generated through the adapter, as in a run.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

from systems.baselines import closure, verify
from systems.baselines.dry_run import build, inputs
from systems.baselines.external import lfs_pointer
from systems.baselines.import_names import load
from systems.baselines.repo_packages import pinned_commit


def _env_python(config: dict) -> str | None:
    python = config.get("python")
    if python not in (None, "", "None"):
        return str(python)
    env = config.get("env_dir")
    return None if env in (None, "", "None") else str(Path(os.path.expanduser(str(env))) / "bin" / "python")


def _run(python: str, code: str, timeout: float = 300, args=()) -> tuple[int, str]:
    try:
        p = subprocess.run([python, "-c", code, *args], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 1, str(exc)
    return p.returncode, (p.stdout + p.stderr).strip()


def python_problem(cls, python: str) -> str | None:
    """None when the environment's Python is the spec's version, else the named error with the fix."""
    from systems.baselines.environments import spec_header, spec_path

    want = spec_header(spec_path(cls.name)).get("python", cls.python_version)
    rc, out = _run(python, "import sys; print('%d.%d' % sys.version_info[:2])", 30)
    if rc != 0:
        return f"{python} does not run ({out}); rebuild it: bench systems setup {cls.name}"
    got = out.strip().splitlines()[-1]
    if got != want:
        newer = tuple(map(int, got.split("."))) > tuple(map(int, want.split(".")))
        return (f"{python} is Python {got}, but envs/{cls.name}.txt is for Python {want}"
                + (" (too new: the spec's pinned wheels do not exist for it)" if newer else "")
                + f"; remove the environment and run `bench systems setup {cls.name} "
                  f"system.{cls.name}.base_python=/path/to/python{want}`")
    return None


def deep_check(cls, config: dict) -> list[tuple[str, bool, str]]:
    out: list[tuple[str, bool, str]] = []
    problems = cls.readiness(config)
    if problems:
        return [("ready", False, "; ".join(problems))]
    python = _env_python(config)
    bad = python_problem(cls, python)
    out.append(("python", bad is None, bad or f"{python} is the spec's Python"))
    repo = Path(os.path.expanduser(str(config["repo_dir"])))

    head = pinned_commit(repo)
    commit = str(config.get("commit") or cls.commit)
    if head is None:
        out.append(("repository", False, f"{repo} is not a git checkout (its commit cannot be read); the adapter "
                                         f"pins {commit}: move it away and run `bench systems setup {cls.name}`"))
    elif head != commit:
        out.append(("repository", False, f"{repo} is at {head}, the adapter pins {commit}; run "
                                         f"`git -C {repo} fetch && git -C {repo} checkout {commit}`"))
    else:
        out.append(("repository", True, f"{repo} at {commit[:12]}"))
    # imports: the static closure against the user's checkout, then each distribution import for real
    try:
        tops = closure_imports(cls, repo)
    except Exception as exc:
        out.append(("imports", False, f"closure failed: {type(exc).__name__}: {exc}"))
        return out
    code = ("import importlib, json\nbad = {}\nfor n in %r:\n    try:\n        importlib.import_module(n)\n"
            "    except Exception as e:\n        bad[n] = '%%s: %%s' %% (type(e).__name__, e)\nprint(json.dumps(bad))" % tops)
    with tempfile.TemporaryDirectory() as tmp:  # some modules write into the working folder at import
        cwd = os.getcwd()
        os.chdir(tmp)
        try:
            rc, text = _run(python, code, 600)
        finally:
            os.chdir(cwd)
    try:
        failed = json.loads(text.strip().splitlines()[-1])
    except (ValueError, IndexError):
        failed = {"(all)": text[-500:]}
    if failed:
        out.append(("imports", False, "; ".join(f"import {k} fails in {python}: {v}" for k, v in failed.items())
                    + f" — fix envs/{cls.name}.txt or run `{python} -m pip install <the distribution>`"))
    else:
        out.append(("imports", True, f"{len(tops)} imports of the real code's closure import in the environment"))
    out += weight_checks(cls, config, python)
    out.append(one_clip(cls, config))
    return out


def closure_imports(cls, repo: Path) -> list[str]:
    """Top-level import names of the distributions the adapter's real code reaches: the import
    closure of `bench systems verify` (same entry points, drivers, sys.path and called functions)
    against the user's checkout, keeping the imports it resolved to a distribution of the spec.
    (Not re-read from the files: a repository module reached through the adapter's sys.path, e.g.
    Diff-BGM's `dirs` or CDCD's `jukebox`, is not a distribution, and an import inside a function
    the run calls, e.g. D2M-GAN's `mpi4py`, is one.)"""
    from systems.baselines.environments import spec_header, spec_path

    mapping = load()
    providers, _, _ = verify.spec_providers(cls, repo, mapping)
    python = spec_header(spec_path(cls.name)).get("python", cls.python_version)
    walker = closure.ImportClosure(repo.parent, providers, verify.known_providers(mapping),
                                   closure.stdlib_names(python),
                                   {repo / f: set(fns) for f, fns in cls.called_functions.items()},
                                   spec_name=f"envs/{cls.name}.txt")
    names: set[str] = set()
    for prog in verify.programs(cls, repo):
        entries = [closure.Entry(prog.script, tuple(prog.roots), prog.driver)]
        entries += [closure.Entry(m, tuple(prog.roots), False, by_name=True)
                    for m in verify.config_targets(cls, repo, prog.step)]
        names |= set(walker.run(entries).external)
    return sorted(names)


_LOAD = """import inspect, json, sys, torch
kw = {'weights_only': False} if 'weights_only' in inspect.signature(torch.load).parameters else {}
for path, keys in json.loads(sys.argv[1]):
    try:
        obj = torch.load(path, map_location='cpu', **kw)
    except Exception as e:
        print(json.dumps([path, 'ERROR', '%s: %s' % (type(e).__name__, e)]))
        continue
    found = list(obj.keys()) if hasattr(obj, 'keys') else []
    print(json.dumps([path, 'OK', [k for k in keys if k not in found], len(found)]))
"""


def weight_checks(cls, config: dict, python: str) -> list[tuple[str, bool, str]]:
    """Every weight file the adapter will load: present (the files a weight folder must hold, as
    named in `weight_keys`), not a git-LFS pointer, and loadable with the environment's torch with
    the keys the repository reads. All files load in one process (one torch import)."""
    out, load = [], []
    options = {w.option for w in cls.weight_files}  # weight_keys names an option or a file
    for w in cls.weight_files:
        path = Path(os.path.expanduser(str(config[w.option])))
        if path.is_file():
            files = {path: tuple(cls.weight_keys.get(path.name, cls.weight_keys.get(w.option, ())))}
        else:
            files = {p: tuple(cls.weight_keys.get(p.name, ())) for p in sorted(path.rglob("*"))
                     if p.suffix in (".pt", ".pth", ".bin", ".pickle", ".ckpt")}
            for name in cls.weight_keys:  # the files the loader opens by name in the folder
                if name not in options and name not in {p.name for p in files}:
                    out.append((f"weights {name}", False, f"{path / name} is missing (system.{cls.name}.{w.option} "
                                                         f"is {path}); get it from {w.source}"))
        for f, keys in files.items():
            if lfs_pointer(f):
                out.append((f"weights {f.name}", False, f"{f} is a git-LFS pointer, not the file; run `git lfs pull` "
                                                       f"where it was cloned, or get it from {w.source}"))
            else:
                load.append((f, keys, w))
    if not load:
        return out
    rc, text = _run(python, _LOAD, 600, [json.dumps([[str(f), list(k)] for f, k, _ in load])])
    results = {}
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, list) and row and row[0] in {str(f) for f, _, _ in load}:
            results[row[0]] = row
    for f, _, w in load:
        row = results.get(str(f))
        if row is None:  # torch itself does not import, or the process died
            last = text.strip().splitlines()[-1] if text.strip() else f"exit status {rc}"
            out.append((f"weights {f.name}", False, f"{f} was not loaded: {last}; fix the environment (torch) with "
                                                   f"`bench systems setup {cls.name}`"))
        elif row[1] == "ERROR":
            out.append((f"weights {f.name}", False, f"{f} does not load ({row[2]}); get it again from {w.source}"))
        elif row[2]:
            out.append((f"weights {f.name}", False, f"{f} lacks the keys the repository reads {row[2]}; it is "
                                                   f"not the file it expects: get it from {w.source}"))
        else:
            out.append((f"weights {f.name}", True, f"{f} loads ({row[3]} top-level keys)"))
    return out


def one_clip(cls, config: dict) -> tuple[str, bool, str]:
    """One 2-second clip through the adapter. Its folder is removed when the clip comes out; when
    it fails the folder stays, since the step logs the message points to are in it."""
    import shutil

    tmp = Path(tempfile.mkdtemp(prefix=f"bench-deep-check-{cls.name}-"))
    repo = Path(os.path.expanduser(str(config["repo_dir"])))
    system = None
    try:
        fake, reqs = inputs(cls, repo, tmp / "in")
        options = {k: v for k, v in config.items() if k not in ("name",)}
        if cls.name in ("d2mgan", "cdcd"):  # the user's own segment data, not placeholders
            options["data_dir"] = config["data_dir"]
        # the shipped config (commands, ...) under the user's options, as in a run
        system = build(cls, options, tmp / "run", [r.clip for r in reqs])
        r = list(system.generate(reqs))[0]
    except Exception as exc:
        where = f" (the step logs are under {system.log_dir})" if system is not None else f" (its files: {tmp})"
        return ("clip", False, f"{type(exc).__name__}: {exc}{where}")
    if r.error is not None:
        return ("clip", False, f"{r.error} (the step logs are under {system.log_dir})")
    shutil.rmtree(tmp, ignore_errors=True)
    return ("clip", True, f"{len(r.audio) / system.sample_rate:.1f} s of audio, normalised")
