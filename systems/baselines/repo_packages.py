"""The official repositories' copies on this machine, and the packages setup installs from them.

`bench systems verify` and the tests read each baseline's official repository at its pinned
commit from a source folder holding one sub-folder per baseline (`<source>/<name>/`): `--source
DIR`, else `$BENCH_BASELINES_SRC`, else `../shared/baselines-src` beside the project's checkout
(where CI has it).

Some adapters' post-install steps `pip install` a package from the repository itself (CMT's
`src/video2npz/visbeat3`, Diff-BGM's `diffbgm/`): its packages become importable from anywhere
and its `install_requires` are installed with it. Both are read from its `setup.py` (`ast`; the
file is never run).
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SOURCE_ENV = "BENCH_BASELINES_SRC"
BASELINES = ("cmt", "video2music", "diffbgm", "m2ugen", "vidmuse", "d2mgan", "cdcd")


def default_source() -> Path:
    """`$BENCH_BASELINES_SRC`, else `../shared/baselines-src` beside the checkout."""
    given = os.environ.get(SOURCE_ENV)
    return Path(given).expanduser() if given else PROJECT_ROOT.parent / "shared" / "baselines-src"


@dataclass
class LocalPackage:
    """A package an adapter's post-install step installs from the repository (`pip install [-e] {repo}/X`)."""

    root: Path  # the folder holding its setup.py
    name: str
    editable: bool
    requires: list[str] = field(default_factory=list)  # install_requires, as written

    def import_roots(self) -> list[Path]:
        """Where its modules are found once installed (an editable install puts the folder on sys.path)."""
        return [self.root]


def _literal_list(node) -> list[str] | None:
    try:
        value = ast.literal_eval(node)
    except (ValueError, SyntaxError):
        return None
    return [str(v) for v in value] if isinstance(value, (list, tuple)) else None


def read_setup(root: Path) -> tuple[str, list[str]]:
    """(name, install_requires) of `root/setup.py`, read with ast. A requirements.txt the setup
    reads (`open(... "requirements.txt")`) counts as its install_requires."""
    setup_py = root / "setup.py"
    tree = ast.parse(setup_py.read_text(errors="replace"))
    name, requires = root.name, []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "setup":
            for kw in node.keywords:
                if kw.arg == "name" and isinstance(kw.value, ast.Constant):
                    name = str(kw.value.value)
                elif kw.arg == "install_requires":
                    listed = _literal_list(kw.value)
                    if listed is not None:
                        requires = listed
                    elif "requirements.txt" in ast.unparse(kw.value) and (root / "requirements.txt").is_file():
                        requires = [ln.strip() for ln in (root / "requirements.txt").read_text().splitlines()
                                    if ln.strip() and not ln.lstrip().startswith("#")]
    return name, requires


def local_packages(cls, repo: Path) -> list[LocalPackage]:
    """The repository's own packages the adapter's post-install step installs."""
    out = []
    for argv in cls.post_install:
        args = list(argv)
        if "pip" not in args or "install" not in args:
            continue
        rest = args[args.index("install") + 1:]
        editable = "-e" in rest
        for a in rest:
            if a.startswith("{repo}"):
                root = repo / a[len("{repo}"):].lstrip("/")
                if (root / "setup.py").is_file():
                    name, requires = read_setup(root)
                    out.append(LocalPackage(root, name, editable, requires))
    return out


def pinned_commit(folder: Path) -> str | None:
    """The commit a source folder holds: `git rev-parse HEAD` for a checkout, else the commit the
    source folder's README table names for it, else a `.commit` file."""
    import subprocess

    folder = Path(folder)
    if (folder / ".git").exists():
        try:
            out = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
            if out.returncode == 0:
                return out.stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            pass
    if (folder / ".commit").is_file():
        return (folder / ".commit").read_text().strip() or None
    readme = folder.parent / "README.md"
    if readme.is_file():
        for line in readme.read_text().splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) >= 3 and cells[0] == folder.name and re.fullmatch(r"[0-9a-f]{40}", cells[-1]):
                return cells[-1]
    return None
