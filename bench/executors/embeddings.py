"""Metric embedding on the executor: before a metric scores, the audio files whose embeddings are
not in the per-file cache yet are embedded as (metric × file-shard) jobs on the chosen engine, into
the shared content-addressed cache; scoring in the driver then only reads the cache (no model is
built there when every file is cached).

A metric takes part by having an ``embedder`` with ``embed_files(paths, cache)``,
``cache_name()`` and ``config()`` (the FD/FAD/KL/IS/KID family, metrics/embedding_metrics.py).
With the local engine nothing is sent: the metric embeds in-process, as it scores.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from bench.executors.base import make_shards
from metrics.evaluate import build_metric
from core.cache import Cache

#: files per embedding call inside a shard (progress granularity; each file is cached as it is done)
CHUNK = 8


@dataclass(frozen=True)
class EmbeddingJob:
    metric: str
    config: dict  # the metric's config (bench/conf/metric/<name>.yaml keys)
    cache_dir: str
    seed: int
    paths: tuple[str, ...]


def embed_shard(job: EmbeddingJob, progress: Callable[[int], None] | None = None) -> int:
    """Worker side: build the metric (its embedder), embed the job's files into the cache; returns how many."""
    metric = build_metric(job.metric, job.config, Cache(job.cache_dir), job.seed)
    for i in range(0, len(job.paths), CHUNK):
        chunk = list(job.paths[i:i + CHUNK])
        metric.embedder.embed_files(chunk, cache=metric.cache)
        if progress:
            progress(len(chunk))
    return len(job.paths)


def missing_files(metric, paths: Sequence[str]) -> list[str]:
    """The files whose embedding under `metric`'s embedder is not in its cache."""
    embedder, cache = getattr(metric, "embedder", None), metric.cache
    if embedder is None or cache is None or not hasattr(embedder, "embed_files"):
        return []
    from metrics.embedders.cnn14 import file_cache_keys

    name = embedder.cache_name()
    return [p for p, key in zip(paths, file_cache_keys(embedder, paths, cache)) if not cache.path(name, key).exists()]


def make_prefetch(executor, run_dir: str | Path, cache, seed: int, progress_factory=None):
    """The `prefetch` hook of metrics.evaluate.evaluate for `executor`; None for the local engine
    (the metric embeds in this process as it scores: one model using all the machine's threads;
    a second local process would only build a second model on the same cores)."""
    if executor.engine == "local":
        return None

    def prefetch(mname: str, mcfg, paths: Sequence[str]) -> None:
        config = dict(mcfg)
        todo = missing_files(build_metric(mname, config, cache, seed), paths)
        if not todo:
            return
        shards = make_shards(executor, embed_shard, todo,
                             lambda part, _: EmbeddingJob(mname, config, str(cache.root), seed, part),
                             f"embed-{mname}", f"{mname}:embed", run_dir)
        bar = progress_factory(mname, len(todo)) if progress_factory else None
        lost = [str(r) for _, r in executor.run(shards, bar.update if bar else None) if isinstance(r, BaseException)]
        if bar:
            bar.close()
        if lost:  # scoring embeds the rest in-process; say why
            print(f"metric {mname}: {len(lost)} embedding shard(s) failed ({lost[0]}); "
                  f"the rest is embedded while scoring", file=sys.stderr)

    return prefetch
