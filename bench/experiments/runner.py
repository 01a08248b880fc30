"""Running an experiment's planned runs (resumable), recording their outcomes, and status.

Each planned run goes through `bench.api.run` exactly as `bench run` would, under the run name
`<experiment>/<dataset>/<folder>`: finished clips, trained weights and metric rows are kept, so
running the experiment again resumes where it stopped. A variant that fails (missing weights, a
crash) is recorded in `state.json` and the others go on; the report shows it as failed.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Mapping, Sequence

from bench import api
from bench.executors import make_executor
from bench.executors.variants import in_job_overrides, variant_shards, VariantJob
from bench.experiments.science import run_science_experiment
from core.atomic import write_text_atomic
from core.errors import BenchError
from core.runfiles import EXPERIMENT_FILE, read_experiment_file  # noqa: F401  (re-exported)
from core.settings import ExecutorSettings, PathSettings
from bench.experiments.spec import Experiment, PlannedRun, plan, select_systems

STATE_FILE = "state.json"


@dataclass
class ExperimentResult:
    dir: Path
    runs: list[PlannedRun]
    failed: dict[str, str] = field(default_factory=dict)  # run name → error
    failed_outputs: int = 0
    notes: list[str] = field(default_factory=list)
    final_lines: list[str] = field(default_factory=list)  # printed last (the science check's result line)


def experiment_dir(runs_root: str | Path, name: str) -> Path:
    return Path(runs_root) / name


def write_experiment_file(folder: Path, exp: Experiment, datasets: Sequence[str], overrides: Sequence[str],
                          runs: Sequence[PlannedRun], skipped: Sequence[str] | Mapping[str, str]) -> Path:
    """`experiment.yaml`: the sweep as run (definition, datasets, extra overrides, run folders,
    the optional systems left out: names, or names → why)."""
    import yaml

    reasons = dict(skipped) if isinstance(skipped, Mapping) else dict.fromkeys(skipped, "")
    doc = {"experiment": exp.to_dict(), "datasets": list(datasets), "overrides": list(overrides),
           "skipped_systems": list(reasons), "skipped_reasons": reasons,
           "runs": [{"dataset": r.dataset, "folder": r.folder, "variants": list(r.variants),
                     "systems": list(r.systems), "overrides": list(r.overrides)} for r in runs]}
    folder.mkdir(parents=True, exist_ok=True)
    return write_text_atomic(folder / EXPERIMENT_FILE, yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))


def _read_state(folder: Path) -> dict:
    path = folder / STATE_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def _record(folder: Path, run_name: str, entry: dict) -> None:
    state = _read_state(folder)
    state[run_name] = {**entry, "time": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    write_text_atomic(folder / STATE_FILE, json.dumps(state, indent=2))


def run_experiment(exp: Experiment, runs_root: str | Path, datasets: Sequence[str] | None = None,
                   overrides: Sequence[str] = (), metrics: Sequence[str] | None = None, name: str | None = None,
                   log: Callable[[str], None] = print) -> ExperimentResult:
    """Run (or resume) every planned run of `exp`; `name` renames the experiment folder."""
    datasets = list(datasets or exp.datasets)
    science_overrides = [o for o in overrides if o.startswith("science.")]  # the science check's own keys
    overrides = [o for o in overrides if not o.startswith("science.")]
    systems, skipped = select_systems(exp, overrides)
    runs = plan(exp, datasets, overrides, systems)
    exp_name = name or exp.name
    folder = experiment_dir(runs_root, exp_name)
    write_experiment_file(folder, exp, datasets, overrides, runs, skipped)
    result = ExperimentResult(folder, runs)
    if skipped:
        result.notes.append(f"not ready here, left out: {', '.join(skipped)} "
                            "(`bench systems check <name>` says what each lacks; the report lists it)")
    if exp.artefact == "science":  # trains and scores DyViM itself (bench/experiments/science.py)

        result.final_lines, failed = run_science_experiment(exp, folder, datasets, overrides, log,
                                                            science_overrides)
        for dataset, error in failed.items():
            run_name = f"{exp_name}/{dataset}/{runs[0].folder}"
            result.failed[run_name] = error
            _record(folder, run_name, {"status": "failed", "error": error})
        for r in runs:
            if r.dataset not in failed:
                _record(folder, r.run_name(exp_name), {"status": "done"})
        return result
    metrics = list(metrics) if metrics is not None else list(exp.metrics)
    if _fan_out(runs, exp, exp_name, folder, overrides, metrics, result, log):  # executor=slurm|ray
        return result
    for i, r in enumerate(runs, 1):
        run_name = r.run_name(exp_name)
        log(f"[{i}/{len(runs)}] {run_name}: {', '.join(r.systems)} ({' '.join(r.overrides) or 'defaults'})")
        t0 = time.perf_counter()
        try:
            out = api.run(list(r.systems), dataset=r.dataset, overrides=list(r.overrides), name=run_name,
                          metrics=metrics)
            if exp.attention:
                from bench.experiments.attention import store_attention

                store_attention(out.run_dir, r.systems, **exp.attention)
        except Exception as exc:  # this variant cannot run (here); the others still can
            import traceback

            error = str(exc) if isinstance(exc, BenchError) else f"{type(exc).__name__}: {exc}"
            result.failed[run_name] = error
            _record(folder, run_name, {"status": "failed", "error": error,
                                       "traceback": "".join(traceback.format_exception(exc))})
            log(f"  failed: {error}")
            continue
        result.failed_outputs += out.failed
        status = "done" if not out.failed else "incomplete"
        _record(folder, run_name, {"status": status, "seconds": round(time.perf_counter() - t0, 2),
                                   "failed_outputs": out.failed,
                                   "systems": {s.system: {"generated": s.generated, "failed": s.failed,
                                                          "weights": s.weights} for s in out.systems}})
    return result


def _fan_out(runs, exp: Experiment, exp_name: str, folder: Path, overrides, metrics, result: ExperimentResult,
             log) -> bool:
    """With a cluster executor, every planned run is one job on it (bench/executors/variants.py);
    False (nothing done) with the local executor."""
    if not runs:
        return False
    cfg = api.load_config(runs[0].dataset, list(runs[0].systems), list(runs[0].overrides), metrics=[])
    engine = ExecutorSettings.from_config(cfg)
    if engine.is_local:
        return False

    paths = PathSettings.from_config(cfg)
    jobs = [VariantJob(r.run_name(exp_name), r.dataset, tuple(r.systems), tuple(in_job_overrides(r.overrides, paths)),
                       tuple(metrics), exp.attention or None) for r in runs]
    log(f"{len(jobs)} runs as jobs on {engine.name}")
    with make_executor(engine) as executor:
        for shard, out in executor.run(variant_shards(jobs, folder)):
            run_name = shard.payload.run_name
            if isinstance(out, BaseException):
                result.failed[run_name] = str(out)
                _record(folder, run_name, {"status": "failed", "error": str(out), "job": shard.shard_id})
                log(f"  {run_name} failed: {out}")
                continue
            result.failed_outputs += out["failed_outputs"]
            _record(folder, run_name, {"status": "done" if not out["failed_outputs"] else "incomplete", **out})
            log(f"  {run_name}: done")
    return True


@dataclass
class RunStatus:
    run_name: str
    dataset: str
    folder: str
    variants: tuple[str, ...]
    state: str  # not started | generating | generated | evaluated | failed | incomplete
    outputs: dict[str, int]
    error: str | None = None


def experiment_status(folder: str | Path) -> list[RunStatus]:
    """Where each run of an experiment folder stands, read from its files (nothing is run)."""
    folder = Path(folder)
    doc = read_experiment_file(folder)
    exp_name = folder.name
    state = _read_state(folder)
    metrics = doc["experiment"].get("metrics", [])
    out = []
    for r in doc["runs"]:
        run_name = f"{exp_name}/{r['dataset']}/{r['folder']}"
        run_dir = folder / r["dataset"] / r["folder"]
        counts = {s: len([p for p in (run_dir / s).glob("*.wav")]) for s in r["systems"]}
        recorded = state.get(run_name, {})
        if recorded.get("status") == "failed":
            st = "failed"
        elif not (run_dir / "config.yaml").exists():
            st = "not started"
        elif recorded.get("status") == "incomplete":
            st = "incomplete"
        elif metrics and all((run_dir / "metrics" / f"{m}.parquet").exists() for m in metrics):
            st = "evaluated"
        elif recorded.get("status") == "done":
            st = "generated"
        else:
            st = "generating"
        out.append(RunStatus(run_name, r["dataset"], r["folder"], tuple(r["variants"]), st, counts,
                             recorded.get("error")))
    return out
