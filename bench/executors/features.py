"""Feature extraction on the executor: a system that trains on cached features (DyViM: dynamics,
semantics, EnCodec codes) gets its training clips' features computed as (system × clip-shard)
jobs on the chosen engine before it trains, into the shared content-addressed cache; training then
reads them from the cache. (Test clips' features are computed inside the generation shards.)

A system takes part by having `precompute_features(clips, with_codes, progress)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from bench import generation
from bench.executors.base import make_shards
from core.manifest import Clip
from systems.base import SystemContext


@dataclass(frozen=True)
class FeatureJob:
    run_dir: str
    system: str
    system_config: dict
    context: SystemContext
    clips: tuple[Clip, ...]
    with_codes: bool = True


def extract_features(job: FeatureJob, progress: Callable[[int], None] | None = None) -> int:
    """Worker side: build the system, fill the cache for the job's clips; returns how many."""
    system = generation.worker_system(job.system, job.system_config, job.context)
    system.precompute_features(list(job.clips), job.with_codes, progress)
    return len(job.clips)


def precompute_training_features(executor, run_dir, name: str, system, config: dict, context: SystemContext,
                                 clips: Sequence[Clip], progress=None) -> bool:
    """Fan the training clips' features out over `executor` when the system can and the engine
    runs shards outside this process; False when nothing was sent (the system extracts in-process)."""
    if not hasattr(system, "precompute_features") or executor.in_process(system.parallel_cap()) or not clips:
        return False
    shards = make_shards(executor, extract_features, clips,
                         lambda part, _: FeatureJob(str(run_dir), name, config, context, part),
                         f"{name}-features", f"{name}:features", run_dir)
    lost = [str(r) for _, r in executor.run(shards, progress) if isinstance(r, BaseException)]
    if lost:  # training would recompute them in-process; say why they were not precomputed
        import sys

        print(f"{name}: {len(lost)} feature shard(s) failed ({lost[0]}); the rest is computed while training",
              file=sys.stderr)
    return True
