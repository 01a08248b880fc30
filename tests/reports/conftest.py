"""A small run folder to render: the controls and a failing system on the miniature dataset
(real wavs, failures.jsonl, env.json), plus hand-made metric results in the exact layout of
metrics/evaluate.py and a hand-made human-evaluation results.parquet."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

ROOT_CONFTEST = Path(__file__).resolve().parents[1] / "conftest.py"


def _root_conftest():
    """tests/conftest.py as a module (its miniature-dataset builder and plugin path)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_bench_tests_root_conftest", ROOT_CONFTEST)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_mini_dataset(root: Path):
    return _root_conftest().make_mini_dataset(root)


def metric_rows(metric: str, key: str, values: dict[str, float], higher: bool, weights: str,
                per_clip: dict[str, dict[str, float]] | None = None) -> list[dict]:
    """Rows of metrics/<metric>.parquet: one set row per system (+ per-clip rows)."""
    rows = []
    for system, v in values.items():
        base = dict(metric=metric, key=key, system=system, higher_is_better=higher, weights=weights,
                    config="{}", versions="{}", n_resamples=100, fingerprint="x", ci_method="percentile")
        rows.append({**base, "clip": None, "value": v, "ci_low": v - 0.5, "ci_high": v + 0.5, "n_clips": 4})
        for clip, cv in (per_clip or {}).get(system, {}).items():
            rows.append({**base, "clip": clip, "value": cv, "ci_low": np.nan, "ci_high": np.nan, "n_clips": 1,
                         "ci_method": None})
    return rows


def write_metric(run_dir: Path, metric: str, rows: list[dict]) -> None:
    import pandas as pd

    (run_dir / "metrics").mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(run_dir / "metrics" / f"{metric}.parquet", index=False)


def write_human_eval(run_dir: Path, study: str = "pilot") -> Path:
    """results.parquet of the human-evaluation schema: pairwise votes and OVL/REL ratings."""
    import pandas as pd

    rows = []
    for q, (w, t, l) in {"semantic": (12, 5, 3), "dynamic": (14, 2, 4), "overall": (11, 4, 5)}.items():
        n = w + t + l
        rows.append(dict(study=study, kind="pairwise", question=q, system="shuffled", opponent="reference",
                         wins=w, ties=t, losses=l, n=n, value=w / n, ci_low=w / n - 0.1, ci_high=w / n + 0.1))
    for system, (ovl, rel) in {"shuffled": (61.0, 55.0), "reference": (70.0, 72.0)}.items():
        for q, v in (("ovl", ovl), ("rel", rel)):
            rows.append(dict(study=study, kind="rating", question=q, system=system, opponent=None, wins=None,
                             ties=None, losses=None, n=20, value=v, ci_low=v - 4, ci_high=v + 4))
    path = run_dir / "human_eval" / study / "results.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(path, index=False)
    return path


def build_scored_run(base: Path) -> Path:
    """runs/demo with reference, shuffled and flaky (3 of its clips fail) and stored scores:
    fd (random-weight embedder) for every system that has outputs, fad missing for shuffled."""
    from bench import api

    overrides = make_mini_dataset(base / "mini")
    result = api.run(["reference", "shuffled", "flaky"], "toy", overrides=[*overrides, "executor.workers=1"],
                     name="demo", metrics=[])
    run_dir = result.run_dir
    clips = sorted(p.stem for p in (run_dir / "reference").glob("*.wav"))
    per_clip = {s: {c: 0.3 + 0.1 * i + (0.2 if s == "reference" else 0) for i, c in enumerate(clips)}
                for s in ("reference", "shuffled")}
    write_metric(run_dir, "fd", metric_rows("fd", "fd", {"reference": 0.0, "shuffled": 12.5, "flaky": 30.1},
                                            False, "random"))
    write_metric(run_dir, "fad", metric_rows("fad", "fad", {"reference": 0.0, "flaky": 9.9}, False, "random"))
    write_metric(run_dir, "align", metric_rows("align", "ba_mean", {"reference": 0.6, "shuffled": 0.3}, True, "none",
                                               per_clip))
    (run_dir / "metrics" / "notes.json").write_text(json.dumps({"notes": ["is: not computed, it needs at least 10 clips"]}))
    write_stored_case_studies(run_dir)
    return run_dir


def write_stored_case_studies(run_dir: Path) -> None:
    """`<run>/case_studies/<clip>.json` as `bench evaluate` stores them (metrics.case_study), for
    every clip of the run and every system's outputs."""
    import yaml

    from core.runfiles import stored_run_clips
    from metrics.case_study import write_case_studies

    clips = stored_run_clips(yaml.safe_load((run_dir / "config.yaml").read_text()))
    outputs = {s: {p.stem: p for p in (run_dir / s).glob("*.wav") if "." not in p.stem}
               for s in ("reference", "shuffled", "flaky")}
    assert write_case_studies(run_dir, clips, outputs) == []


@pytest.fixture(scope="module")
def scored_run(tmp_path_factory):
    import os
    import sys

    base = tmp_path_factory.mktemp("scored")
    plugins = str(_root_conftest().PLUGINS)
    if plugins not in sys.path:  # the `flaky` test system registers through an entry point there
        sys.path.insert(0, plugins)
    old = {k: os.environ.get(k) for k in ("BENCH_CACHE_DIR", "BENCH_RUNS_ROOT")}
    os.environ["BENCH_CACHE_DIR"], os.environ["BENCH_RUNS_ROOT"] = str(base / "cache"), str(base / "runs")
    try:
        yield build_scored_run(base)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def human_eval_writer():
    """`write_human_eval(run_dir, study)` for tests (helpers cannot be imported under importlib mode)."""
    return write_human_eval


@pytest.fixture
def metric_writer():
    """(metric_rows, write_metric) for tests that add results to a copy of a run."""
    return metric_rows, write_metric
