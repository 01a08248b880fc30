"""Fixtures for the baseline adapter tests: copies of the stand-in repositories, the mini
dataset (with POP909-style sources where Diff-BGM needs them), and a one-call runner."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

STANDINS = Path(__file__).parent / "standins"


@pytest.fixture
def standin(tmp_path):
    """standin('cmt') → a fresh copy of that stand-in repository (tests may write into it)."""

    def make(name: str) -> Path:
        root = tmp_path / "standins"
        if not (root / "common.py").exists():
            root.mkdir(exist_ok=True)
            shutil.copy(STANDINS / "common.py", root / "common.py")
        dest = root / name
        shutil.copytree(STANDINS / name, dest)
        return dest

    return make


def system_overrides(name: str, repo: Path, **options) -> list[str]:
    """Point a system at a stand-in repository, run with this interpreter."""
    out = [f"system.{name}.repo_dir={repo}", f"system.{name}.python={sys.executable}", f"system.{name}.retries=0",
           f"system.{name}.timeout=60"]
    for k, v in options.items():
        out.append(f"++system.{name}.{k}={v}")
    return out


def run(systems: list[str], overrides: list[str], name: str = "t"):
    """Generate (no metrics) in this process; returns (RunResult, run folder)."""
    from bench import api

    result = api.run(systems, dataset="toy", overrides=[*overrides, "executor.workers=1"], name=name, metrics=[])
    return result, result.run_dir


def failures(run_dir: Path, system: str) -> dict[str, str]:
    path = run_dir / system / "failures.jsonl"
    if not path.exists():
        return {}
    return {r["clip"]: r["error"] for r in map(json.loads, path.read_text().splitlines())}


def records(run_dir: Path, system: str) -> dict[str, dict]:
    path = run_dir / system / "normalisation.jsonl"
    return {r["clip"]: r for r in map(json.loads, path.read_text().splitlines())} if path.exists() else {}


def split_test_ids(root: Path) -> list[str]:
    from core.manifest import read_manifest

    return sorted(c.id for c in read_manifest(root) if c.split == "test")
