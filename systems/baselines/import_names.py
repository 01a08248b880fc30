"""Which distribution provides an import name, read from the distributions' own packages.

`bench systems verify` must tell whether `import cv2` in a baseline's code is satisfied by its
environment spec (`envs/<name>.txt` lists `opencv_python`). Import names and distribution names
differ in ways no rule predicts (`cv2` ← opencv-python, `skvideo` ← scikit-video, `yaml` ←
PyYAML, `fast_transformers` ← pytorch-fast-transformers), so the mapping is read from each
distribution's files, never written by hand:

- a wheel: `*.dist-info/top_level.txt` when the wheel has one, else the first path component of
  every module and package in its `RECORD` (`.py`, extension modules, package folders);
- a source distribution (some of the specs' `#source` lines have no wheel): its
  `*.egg-info/top_level.txt`, else its top-level packages and modules;
- a distribution installed in the interpreter running the generator (the harness's own venv
  has torch, numpy, ...): its installed `RECORD`/`top_level.txt` (what its wheel installed).

    python -m systems.baselines.import_names [--cache DIR] [--refresh]

regenerates `envs/import_names.json` for every distribution named by a spec (requirement lines,
`#source` lines, and the `install_requires` of the repositories' own packages that setup
installs). Wheels are fetched with `pip download --no-deps` (a package registry; the newest
release: import names rarely change between releases, and the newest has a wheel for this
Python more often). `bench systems verify` reads only the committed JSON (no network), plus the
installed metadata of this interpreter for a distribution the JSON lacks.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from systems.base import get_system_class

ENVS = Path(__file__).with_name("envs")
MAPPING = ENVS / "import_names.json"

# A git requirement has no registry entry to read; these PyPI distributions are releases of the
# same code (same package folder), read in their place. Key: the name the spec gives it.
GIT_PROXIES = {
    "clip": "openai-clip",  # git+https://github.com/openai/CLIP.git (setup.py name="clip", package clip/)
    "dall-e": "DALL-E",     # git+https://github.com/openai/DALL-E.git (package dall_e/)
}


def canonical(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(line: str) -> str | None:
    """The distribution a requirement line names (`torch==1.9.0`, `clip @ git+...`, `git+.../DALL-E.git`)."""
    line = line.split("#", 1)[0].strip() if not line.lstrip().startswith("#source") else line.split(None, 1)[1]
    words = [w for w in line.strip().split() if not w.startswith("-")]  # pip options on a #source line
    line = words[0] if words else ""
    if not line:
        return None
    if "@" in line and not line.startswith("git+"):
        return canonical(line.split("@", 1)[0].strip().split("[")[0])
    if line.startswith(("git+", "http://", "https://")):
        m = re.search(r"#egg=([\w.-]+)", line) or re.search(r"/([\w.-]+?)(?:\.git)?/?$", line.split("#")[0])
        return canonical(m[1]) if m else None
    m = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
    return canonical(m[0]) if m else None


def _tops_from_files(names: list[str]) -> list[str]:
    """Top-level import names from a distribution's file list (RECORD or an archive listing)."""
    tops = set()
    for name in names:
        parts = PurePosixPath(name).parts
        if not parts or parts[0].endswith((".dist-info", ".data", ".egg-info")) or parts[0] in ("..", "__pycache__"):
            continue
        head = parts[0]
        if len(parts) == 1:
            m = re.match(r"([A-Za-z_]\w*)(\.[\w-]+)*\.(py|so|pyd|pyc)$", head)
            if m and head != "setup.py":
                tops.add(m[1])
        elif re.fullmatch(r"[A-Za-z_]\w*", head) and any(p.endswith((".py", ".so", ".pyd")) for p in parts[-1:]):
            tops.add(head)
    return sorted(tops)


def from_wheel(path: Path) -> tuple[list[str], str]:
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        top = [n for n in names if re.fullmatch(r"[^/]+\.dist-info/top_level\.txt", n)]
        if top:
            listed = [t.strip().replace("/", ".").split(".")[0] for t in zf.read(top[0]).decode().splitlines()]
            tops = sorted({t for t in listed if t and re.fullmatch(r"\w+", t)})
            if tops:
                return tops, f"{path.name}: top_level.txt"
        return _tops_from_files(names), f"{path.name}: RECORD"


def from_sdist(path: Path) -> tuple[list[str], str]:
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            read = zf.read
    else:
        tf = tarfile.open(path)
        names = tf.getnames()

        def read(n):
            return tf.extractfile(n).read()
    root = names[0].split("/")[0] if names else ""
    inner = [n.split("/", 1)[1] for n in names if "/" in n]
    top = sorted(n for n in names if re.fullmatch(r"[^/]+/(?:src/)?[^/]+\.egg-info/top_level\.txt", n))
    if top:
        tops = sorted({t.strip().split(".")[0] for t in read(top[0]).decode().splitlines() if t.strip()})
        if tops:
            return tops, f"{path.name}: {top[0].split('/', 1)[1]}"
    src = [n[4:] for n in inner if n.startswith("src/")]
    files = src or [n for n in inner if not n.startswith(("test", "tests/", "doc", "docs/", "examples/", "benchmarks/"))]
    return [t for t in _tops_from_files(files) if t not in ("setup", "conftest")], f"{path.name} ({root}): files"


def from_installed(dist_name: str) -> tuple[list[str], str] | None:
    """An installed distribution of this interpreter (its RECORD / top_level.txt)."""
    from importlib import metadata

    try:
        dist = metadata.distribution(dist_name)
    except metadata.PackageNotFoundError:
        return None
    text = dist.read_text("top_level.txt")
    if text:
        tops = sorted({t.strip().split("/")[0] for t in text.splitlines() if re.fullmatch(r"\w+", t.strip().split("/")[0] or "-")})
        if tops:
            return tops, f"installed {dist.metadata['Name']} {dist.version}: top_level.txt"
    files = [str(f) for f in (dist.files or [])]
    return _tops_from_files(files), f"installed {dist.metadata['Name']} {dist.version}: RECORD"


def spec_distributions(spec: Path) -> list[str]:
    """Distribution names of a spec: requirement lines and `#source` lines."""
    out = []
    for line in spec.read_text().splitlines():
        s = line.strip()
        if not s or (s.startswith("#") and not s.startswith("#source ")):
            continue
        name = requirement_name(s)
        if name:
            out.append(name)
    return out


def load() -> dict[str, dict]:
    """The committed mapping: canonical distribution name → {"imports": [...], "from": "..."}."""
    return json.loads(MAPPING.read_text()) if MAPPING.is_file() else {}


def imports_of(dist: str, mapping: dict | None = None) -> list[str] | None:
    """Import names of a distribution: the committed mapping, else this interpreter's installed metadata."""
    mapping = load() if mapping is None else mapping
    entry = mapping.get(canonical(dist))
    if entry is not None:
        return list(entry["imports"])
    got = from_installed(dist)
    return got[0] if got else None


def _download(requirement: str, dest: Path) -> Path | None:
    # an sdist's metadata is prepared in this environment (no isolated build env: some setup.py
    # files import torch, which an isolated build would download again)
    for flags in (["--only-binary=:all:"], ["--no-binary=:all:", "--no-build-isolation"]):
        try:
            proc = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", *flags, "-d",
                                   str(dest), requirement], capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            continue
        files = sorted(dest.glob("*"))
        if proc.returncode == 0 and files:
            return files[0]
        for f in files:
            f.unlink()
    return None


def read_distribution(dist: str, cache: Path) -> tuple[list[str], str]:
    installed = from_installed(dist)
    if installed and installed[0]:
        return installed
    registry = GIT_PROXIES.get(canonical(dist), dist)
    folder = cache / canonical(registry)
    folder.mkdir(parents=True, exist_ok=True)
    path = next(iter(sorted(folder.glob("*"))), None) or _download(registry, folder)
    if path is None:
        raise RuntimeError(f"pip download {registry} gave neither a wheel nor a source distribution")
    tops, how = from_wheel(path) if path.suffix == ".whl" else from_sdist(path)
    if registry != dist:
        how += f" (the PyPI release of {dist}'s git repository)"
    return tops, how


def local_requirements(source: Path | None = None) -> list[str]:
    """Distribution names every adapter's local packages require (for the import-name mapping)."""
    from systems.baselines.repo_packages import BASELINES, default_source, local_packages

    source = source or default_source()
    names = set()
    for name in BASELINES:
        cls = get_system_class(name)
        for pkg in local_packages(cls, source / name):
            names.update(n for n in map(requirement_name, pkg.requires) if n)
    return sorted(names)


def all_distributions() -> list[str]:
    names = set()
    for spec in sorted(ENVS.glob("*.txt")):
        names.update(spec_distributions(spec))
    names.update(local_requirements())
    return sorted(names)


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m systems.baselines.import_names", description=__doc__.splitlines()[0])
    p.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "dyvim-import-names")
    p.add_argument("--refresh", action="store_true", help="re-read every distribution (default: only new ones)")
    p.add_argument("dists", nargs="*", help="only these distributions")
    a = p.parse_args(argv)
    mapping = {} if a.refresh else load()
    wanted = [canonical(d) for d in a.dists] or all_distributions()
    bad = 0
    for dist in wanted:
        if dist in mapping and not a.dists:
            continue
        try:
            tops, how = read_distribution(dist, a.cache)
        except Exception as exc:
            bad += 1
            print(f"{dist}: FAILED ({exc})", flush=True)
            continue
        mapping[dist] = {"imports": tops, "from": how}
        print(f"{dist}: {', '.join(tops)}  [{how}]", flush=True)
        MAPPING.write_text(json.dumps(dict(sorted(mapping.items())), indent=1) + "\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
