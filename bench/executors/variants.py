"""Experiments on an engine: each planned run of a sweep (train, then generate, then score) is one
independent job on the chosen executor (`executor=slurm|ray` on `bench experiment run`); with
`local` the runner keeps running them one after another in its own process.

Inside its job a variant runs as `bench run` would, with the `local` executor (its shards stay on
the allocation the engine gave it) and the driver's resolved paths (the same run, data and cache
folders on the shared disk). Re-running the experiment resumes every variant the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from bench import api
from bench.experiments.attention import store_attention
from bench.executors.base import Shard
from core.settings import PathSettings


@dataclass(frozen=True)
class VariantJob:
    run_name: str  # <experiment>/<dataset>/<folder>
    dataset: str
    systems: tuple[str, ...]
    overrides: tuple[str, ...]
    metrics: tuple[str, ...]
    attention: dict | None = None


def in_job_overrides(overrides: Sequence[str], paths: PathSettings) -> list[str]:
    """The variant's overrides for the job: executor local, the driver's folders made explicit."""
    kept = [o for o in overrides if not o.lstrip("+~").startswith(("executor=", "executor.", "paths."))]
    return kept + ["executor=local"] + [f"paths.{k}={getattr(paths, k).resolve()}"
                                        for k in ("runs_root", "data_root", "cache_dir")]


def run_variant(job: VariantJob, progress: Callable[[int], None] | None = None) -> dict:
    """Worker side: one planned run, exactly as `bench run` (resumable)."""
    out = api.run(list(job.systems), dataset=job.dataset, overrides=list(job.overrides), name=job.run_name,
                  metrics=list(job.metrics))
    if job.attention:
        store_attention(out.run_dir, job.systems, **job.attention)
    if progress:
        progress(1)
    return {"failed_outputs": out.failed,
            "systems": {s.system: {"generated": s.generated, "failed": s.failed, "weights": s.weights}
                        for s in out.systems}}


def variant_shards(jobs: Sequence[VariantJob], experiment_dir: Path) -> list[Shard]:
    return [Shard(run_variant, job, job.run_name.replace("/", "__"), job.run_name.split("/", 1)[-1], 1,
                  str(experiment_dir)) for job in jobs]
