"""Executors run generation jobs. `local`: a process pool on this machine (DESIGN.md §7).

Cluster executors (Slurm via submitit, Ray) implement the same two-method interface:
`workers_for(n_jobs)` and `map(jobs, on_done)`.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Callable, Iterable, Protocol, Sequence

from bench.errors import ConfigError
from bench.generation import GenerationJob, JobOutcome, run_job


class Executor(Protocol):
    def shard_size(self, n_requests: int, max_workers: int | None) -> int: ...

    def in_process(self, max_workers: int | None) -> bool: ...

    def map(self, jobs: Sequence[GenerationJob], progress: Callable[[int], None],
            max_workers: int | None = None) -> Iterable[JobOutcome]: ...


class LocalExecutor:
    """Process pool sized to the machine; with one worker, jobs run in this process."""

    def __init__(self, workers: int | str = "auto", shard_size: int | str = "auto"):
        self.workers = (os.cpu_count() or 1) if workers == "auto" else int(workers)
        self._shard = shard_size
        if self.workers < 1:
            raise ConfigError(f"executor.workers must be >= 1 or 'auto', got {workers}")

    def _workers(self, max_workers: int | None) -> int:
        return max(1, min(self.workers, max_workers or self.workers))

    def in_process(self, max_workers: int | None = None) -> bool:
        """Whether jobs of a system capped at `max_workers` run in this process (so they may reuse
        the system instance built here)."""
        return self._workers(max_workers) <= 1

    def shard_size(self, n_requests: int, max_workers: int | None = None) -> int:
        if self._shard != "auto":
            return max(1, int(self._shard))
        return max(1, math.ceil(n_requests / (4 * self._workers(max_workers))))

    def map(self, jobs, progress, max_workers=None):
        workers = min(self._workers(max_workers), len(jobs))
        if workers <= 1:
            for job in jobs:
                yield run_job(job, progress)
            return
        import multiprocessing as mp

        # spawn: workers must not inherit a parent's torch/CUDA state through fork.
        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")) as pool:
            futures = {pool.submit(run_job, job): job for job in jobs}
            for fut in as_completed(futures):
                outcome = fut.result()
                progress(len(futures[fut].requests))
                yield outcome


EXECUTORS = {"local": LocalExecutor}


def make_executor(cfg: dict) -> Executor:
    cfg = dict(cfg)
    name = cfg.pop("name", "local")
    if name not in EXECUTORS:
        raise ConfigError(f"unknown executor {name!r}; known executors: {', '.join(EXECUTORS)}")
    return EXECUTORS[name](**cfg)
