"""The import-graph check (`python -m bench.devtools.layers`): it finds cycles and upward imports
in a small package tree written here, and the project itself has no package or module cycle and
no upward import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.devtools.layers import analyse

# the Bar: no cycle, no upward import (2026-12-02)
MAX_PACKAGE_CYCLES = 0
MAX_MODULE_CYCLES = 0
MAX_UPWARD = 0


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def test_finds_cycles_upward_and_function_level_imports(tmp_path):
    root = _tree(tmp_path, {
        "core/__init__.py": "",
        "core/a.py": "from core import b\n",
        "core/b.py": "def f():\n    from core.a import x\n",  # core.a ⇄ core.b, one of them in a function
        "core/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bench import api\n",  # never runs
        "systems/__init__.py": "",
        "systems/s.py": "from core.a import x\nfrom metrics.m import y\n",  # metrics sits above systems
        "metrics/__init__.py": "",
        "metrics/m.py": "from systems import s\nfrom .n import z\n",
        "metrics/n.py": "",
        "bench/__init__.py": "",
        "bench/api.py": "import core.a\nimport systems.s\n",
    })
    r = analyse(root)
    assert r["module_cycles"] == [["core.a", "core.b"], ["metrics.m", "systems.s"]]
    assert r["package_cycles"] == [["metrics", "systems"]]
    assert [(e.src, e.dst) for e in r["upward"]] == [("systems.s", "metrics.m")]
    assert [(e.src, e.dst) for e in r["function_level"]] == [("core.b", "core.a")]
    assert ("metrics.m", "metrics.n") in {(e.src, e.dst) for e in r["edges"]}  # relative import resolved


def test_the_project_does_not_get_more_tangled():
    r = analyse()
    assert r["modules"] > 100
    assert not [e for e in r["edges"] if e.src.startswith("core") and not e.dst.startswith("core")], \
        "core imports nothing of the project"
    upward = [f"{e.src}:{e.line} imports {e.dst}" for e in r["upward"]]
    assert len(upward) <= MAX_UPWARD, upward
    assert len(r["package_cycles"]) <= MAX_PACKAGE_CYCLES, r["package_cycles"]
    assert len(r["module_cycles"]) <= MAX_MODULE_CYCLES, r["module_cycles"]


def test_the_command_prints_the_bar_line():
    out = subprocess.run([sys.executable, "-m", "bench.devtools.layers"], capture_output=True, text=True, check=True)
    last = out.stdout.strip().splitlines()[-1]
    assert last.startswith("package_cycles=") and "upward_imports=" in last and "function_level_internal_imports=" in last


def test_core_is_imported_at_module_top():
    """`core` imports only numpy, so its imports sit at module top; the few left inside functions
    read constants at call time (CONF_DIR, patched by tests), sit in a try block or alias a private
    name. core.weights loads torch and stays lazy. A new function-level import of core fails here."""
    r = analyse()
    inside = [f"{e.src}:{e.line} imports {e.dst}" for e in r["edges"]
              if e.function_level and e.dst.startswith("core") and e.dst != "core.weights"]
    assert len(inside) <= 17, inside
