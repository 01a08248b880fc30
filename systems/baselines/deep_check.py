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


def _env_python(config: dict) -> str | None:
    python = config.get("python")
    if python not in (None, "", "None"):
        return str(python)
    env = config.get("env_dir")
    return None if env in (None, "", "None") else str(Path(os.path.expanduser(str(env))) / "bin" / "python")


def _run(python: str, code: str, timeout: float = 300) -> tuple[int, str]:
    try:
        p = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=timeout)
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
    from systems.baselines import verify

    out: list[tuple[str, bool, str]] = []
    problems = cls.readiness(config)
    if problems:
        return [("ready", False, "; ".join(problems))]
    python = _env_python(config)
    bad = python_problem(cls, python)
    out.append(("python", bad is None, bad or f"{python} is the spec's Python"))
    repo = Path(os.path.expanduser(str(config["repo_dir"])))
    from systems.baselines.repo_packages import pinned_commit

    head = pinned_commit(repo)
    commit = str(config.get("commit") or cls.commit)
    if head != commit:
        out.append(("repository", False, f"{repo} is at {head}, the adapter pins {commit}; run "
                                         f"`git -C {repo} fetch && git -C {repo} checkout {commit}`"))
    else:
        out.append(("repository", True, f"{repo} at {commit[:12]}"))
    # imports: the static closure against the user's checkout, then each distribution import for real
    report = verify.Report(cls.name)
    try:
        verify.verify_closure(cls, repo, report, __import__("systems.baselines.import_names",
                                                            fromlist=["load"]).load())
    except Exception as exc:
        out.append(("imports", False, f"closure failed: {type(exc).__name__}: {exc}"))
        return out
    tops = sorted({u for prog, files in report._program_files for u in _external_imports(files, repo)})
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


def _external_imports(files, repo: Path) -> set[str]:
    from systems.baselines.closure import import_sites

    names = set()
    for f in files:
        for site in import_sites(Path(f), None, False):
            top = site.module.split(".")[0]
            if top and not (repo / top).exists() and not (repo / f"{top}.py").exists() and not Path(f).with_name(
                    f"{top}.py").exists() and not (Path(f).parent / top).is_dir():
                names.add(top)
    import sys

    return {n for n in names if n not in sys.stdlib_module_names}


def weight_checks(cls, config: dict, python: str) -> list[tuple[str, bool, str]]:
    out = []
    for w in cls.weight_files:
        path = Path(os.path.expanduser(str(config[w.option])))
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.suffix in (".pt", ".pth", ".bin",
                                                                                                  ".pickle", ".ckpt"))
        for f in files:
            keys = tuple(cls.weight_keys.get(f.name, cls.weight_keys.get(w.option, ()) if path.is_file() else ()))
            code = ("import torch, sys\nobj = torch.load(%r, map_location='cpu')\n"
                    "keys = list(obj.keys()) if hasattr(obj, 'keys') else []\nmissing = [k for k in %r if k not in keys]\n"
                    "print('MISSING' if missing else 'OK', missing, len(keys))" % (str(f), keys))
            rc, text = _run(python, code, 300)
            last = text.strip().splitlines()[-1] if text.strip() else ""
            if rc != 0:
                out.append((f"weights {f.name}", False, f"{f} does not load ({last}); get it again from {w.source}"))
            elif last.startswith("MISSING"):
                out.append((f"weights {f.name}", False, f"{f} lacks the keys the repository reads {last[7:]}; it is "
                                                       f"not the file it expects: get it from {w.source}"))
            else:
                out.append((f"weights {f.name}", True, f"{f} loads ({last.split()[-1]} top-level keys)"))
    return out


def one_clip(cls, config: dict) -> tuple[str, bool, str]:
    from systems.baselines.dry_run import build, inputs

    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(os.path.expanduser(str(config["repo_dir"])))
        fake, reqs = inputs(cls, repo, Path(tmp) / "in")
        options = {k: v for k, v in config.items() if k not in ("name",)}
        if cls.name in ("d2mgan", "cdcd"):  # the user's own segment data, not placeholders
            options["data_dir"] = config["data_dir"]
        try:
            system = cls(build(cls, options, Path(tmp) / "run", [r.clip for r in reqs]).context, **options)
            results = list(system.generate(reqs))
        except Exception as exc:
            return ("clip", False, f"{type(exc).__name__}: {exc}")
        r = results[0]
        if r.error is not None:
            return ("clip", False, f"{r.error} (the step logs are under {system.log_dir})")
        return ("clip", True, f"{len(r.audio) / system.sample_rate:.1f} s of audio, normalised")
