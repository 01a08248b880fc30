"""`local`: a process pool on this machine (the default). With one worker, shards run in this
process (a system built here is reused, no pickling)."""

from __future__ import annotations

import os
import socket
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Callable, Sequence

from core.errors import ConfigError
from bench.executors.base import Executor, Shard, ShardLost, auto_shard_size, run_shard
from bench.executors.records import JobRecord, now, read_shard_state, record_jobs, write_shard_state


class LocalExecutor(Executor):
    """Process pool sized to the machine; a group's `max_workers` caps its shards in flight."""

    engine = "local"

    def __init__(self, workers: int | str = "auto", shard_size: int | str = "auto",
                 threads_per_task: int | None = None):
        self.workers = (os.cpu_count() or 1) if workers == "auto" else int(workers)
        self._shard = shard_size
        if threads_per_task is None and self.workers > 1:  # share the cores: no oversubscription
            threads_per_task = max(1, (os.cpu_count() or 1) // self.workers)
        self.threads_per_task = threads_per_task
        if self.workers < 1:
            raise ConfigError(f"executor.workers must be >= 1 or 'auto', got {workers}")

    def _workers(self, max_workers: int | None) -> int:
        return max(1, min(self.workers, max_workers or self.workers))

    def in_process(self, max_workers: int | None = None) -> bool:
        return self.workers <= 1

    poll_s = 0.5
    def shard_size(self, n_requests: int, max_workers: int | None = None) -> int:
        if self._shard != "auto":
            return max(1, int(self._shard))
        slots = self._workers(max_workers)
        # a group that runs one shard at a time gains nothing from splitting: one shard, one model load
        return n_requests if slots == 1 else auto_shard_size(n_requests, slots)

    def _record(self, shards: Sequence[Shard]) -> None:
        job_id = f"{socket.gethostname()}:{os.getpid()}"
        for s in shards:
            record_jobs(s.run_dir, [JobRecord("local", job_id, s.shard_id, s.group, s.size, list(s.outputs))])

    def run(self, shards: Sequence[Shard], progress: Callable[[int], None] | None = None):
        shards = list(shards)
        if not shards:
            return
        self._record(shards)
        if self.workers <= 1 or len(shards) == 1 and (shards[0].max_workers or 1) <= 1:
            for s in shards:
                yield s, run_shard_here(s, progress)
            return
        import multiprocessing as mp

        queue = list(shards)
        shown: dict[str, int] = {}

        def show(s: Shard, n: int) -> None:
            n = min(n, s.size)
            if progress and n > shown.get(s.shard_id, 0):
                progress(n - shown.get(s.shard_id, 0))
                shown[s.shard_id] = n

        in_flight: dict = {}  # future -> shard
        per_group: dict[str, int] = {}
        # spawn: workers must not inherit a parent's torch/CUDA state through fork.
        pool = ProcessPoolExecutor(max_workers=min(self.workers, len(shards)), mp_context=mp.get_context("spawn"))
        try:
            while queue or in_flight:
                for s in list(queue):  # fill free slots, respecting each group's cap
                    if len(in_flight) >= self.workers:
                        break
                    if per_group.get(s.group, 0) < (s.max_workers or self.workers):
                        queue.remove(s)
                        in_flight[pool.submit(run_shard, s)] = s
                        per_group[s.group] = per_group.get(s.group, 0) + 1
                done, _ = wait(in_flight, timeout=self.poll_s, return_when=FIRST_COMPLETED)
                for fut, s in in_flight.items():  # progress of running shards from their state files
                    if fut not in done:
                        show(s, int(read_shard_state(s.run_dir, s.shard_id).get("progress", 0)))
                for fut in done:
                    s = in_flight.pop(fut)
                    per_group[s.group] -= 1
                    show(s, s.size)
                    exc = fut.exception()
                    if exc is not None:
                        if read_shard_state(s.run_dir, s.shard_id).get("state") != "failed":
                            write_shard_state(s.run_dir, s.shard_id, state="lost", finished=now(),
                                              error=f"{type(exc).__name__}: {exc}")
                        yield s, ShardLost(f"{type(exc).__name__}: {exc}")
                    else:
                        yield s, fut.result()
        except BaseException:
            for fut, s in in_flight.items():
                fut.cancel()
                write_shard_state(s.run_dir, s.shard_id, state="cancelled", finished=now(),
                                  error="cancelled by the driver (interrupted)")
            for s in queue:
                write_shard_state(s.run_dir, s.shard_id, state="cancelled", finished=now(),
                                  error="cancelled before it started (driver interrupted)")
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()


def run_shard_here(shard: Shard, progress: Callable[[int], None] | None):
    """In this process: progress goes straight to the caller's bar as well as the state file."""
    if progress is None:
        return run_shard(shard)
    inner = shard.fn

    def fn(payload, state_progress):
        def both(n):
            state_progress(n)
            progress(n)
        return inner(payload, both)

    from dataclasses import replace

    return run_shard(replace(shard, fn=fn))
