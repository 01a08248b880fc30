"""The one executor interface (DESIGN.md §7): shards in, results out, whatever the engine.

A `Shard` is one unit of work: a module-level function and its payload (for generation, one
system over a range of clips, `bench.generation.GenerationJob`). Every engine runs it through
`run_shard` in the worker, which keeps the shard's state file in the run folder up to date
(`records.py`), so progress, `bench status` and a lost worker are read from files, not from a
live driver. Engines: `local` (a process pool), `slurm` (submitit), `ray` (Ray); each implements
`submit` / `poll` / `cancel` on its own handles and shares the driver loop `drive` (waits, shows
progress across shards from their state files, cancels everything it submitted on Ctrl-C).
"""

from __future__ import annotations

import math
import os
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Sequence

from bench.executors.records import (JobRecord, now, read_shard_state, record_jobs, worker_identity,
                                     write_shard_state)


@dataclass(frozen=True)
class Shard:
    fn: Callable[[Any, Callable[[int], None] | None], Any]  # fn(payload, progress) -> result; picklable
    payload: Any
    shard_id: str
    group: str  # system or experiment variant
    size: int  # work items, for progress
    run_dir: str
    outputs: tuple[str, ...] = ()
    max_workers: int | None = None  # at most this many shards of the group at once (local engine)
    threads: int | None = None  # torch threads in the worker (None: the process default)


class ShardLost(Exception):
    """The engine lost the shard (worker killed, node gone, job cancelled or timed out)."""


def run_shard(shard: Shard) -> Any:
    """Worker side of every engine: run the shard, keeping its state file current."""
    counted = {"n": 0}
    restore = _set_threads(shard.threads)
    write_shard_state(shard.run_dir, shard.shard_id, state="running", started=now(), progress=0,
                      size=shard.size, **worker_identity())

    def progress(n: int) -> None:
        counted["n"] += n
        write_shard_state(shard.run_dir, shard.shard_id, progress=counted["n"])

    try:
        result = shard.fn(shard.payload, progress)
    except BaseException as exc:
        _set_threads(restore)
        write_shard_state(shard.run_dir, shard.shard_id, state="failed", finished=now(),
                          error=f"{type(exc).__name__}: {exc}",
                          traceback="".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        raise
    _set_threads(restore)
    write_shard_state(shard.run_dir, shard.shard_id, state="done", finished=now(), progress=shard.size,
                      summary=getattr(result, "summary", lambda: None)())
    return result


def _set_threads(n: int | None) -> int | None:
    """Fix torch's intra-op threads (a float sum over another thread count rounds differently in
    the last bits, so identical outputs across engines need the same count); returns the old one."""
    if not n:
        return None
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(int(n))
    return old


def session_id() -> str:
    """This driver session's tag in shard ids (UTC time and pid): a resumed or concurrent session's
    shards never take over the state files of an earlier one."""
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{os.getpid()}"


def make_shards(executor: "Executor", fn: Callable, items: Sequence, payload: Callable[[tuple, str], Any],
                prefix: str, group: str, run_dir, max_workers: int | None = None,
                outputs: Callable[[tuple], tuple[str, ...]] | None = None) -> list[Shard]:
    """`items` cut into the executor's shard size, one Shard each: `fn(payload(part, shard_id))`
    with ids `<prefix>-<session>-<nnnn>`. `max_workers` caps the group's parallel shards (and the
    shard size); `outputs(part)` names the files a shard writes (`bench status` counts them)."""
    if not items:
        return []
    size, session = executor.shard_size(len(items), max_workers), session_id()
    shards = []
    for n, start in enumerate(range(0, len(items), size)):
        part = tuple(items[start:start + size])
        shard_id = f"{prefix}-{session}-{n:04d}"
        shards.append(Shard(fn, payload(part, shard_id), shard_id, group, len(part), str(run_dir),
                            outputs(part) if outputs else (), max_workers, executor.threads_per_task))
    return shards


def auto_shard_size(n_items: int, slots: int, per_slot: int = 4) -> int:
    """About `per_slot` shards per parallel slot: small enough to balance, big enough to amortise."""
    return max(1, math.ceil(n_items / (per_slot * max(1, slots))))


class Executor:
    """Base of the engines. Subclasses set `engine` and implement `submit`, `poll`, `cancel`."""

    engine = "base"
    poll_s = 0.5
    threads_per_task: int | None = None

    def shard_size(self, n_items: int, max_workers: int | None = None) -> int:
        raise NotImplementedError

    def in_process(self, max_workers: int | None = None) -> bool:
        """Whether shards run in this process (so they may reuse objects built here)."""
        return False

    # --- engine-specific ------------------------------------------------------------------------
    def submit(self, shards: Sequence[Shard]) -> list[tuple[Any, JobRecord]]:
        """Start shards; one (handle, record) each, in order."""
        raise NotImplementedError

    def poll(self, handle) -> tuple[bool, Any]:
        """(finished, result or exception) without blocking; finished=False while it runs."""
        raise NotImplementedError

    def cancel(self, handle) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the executor started (a local Ray instance); the default has nothing."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- shared -----------------------------------------------------------------------------------
    def run(self, shards: Sequence[Shard], progress: Callable[[int], None] | None = None
            ) -> Iterator[tuple[Shard, Any]]:
        """Run every shard; yields (shard, result) as each finishes, result a ShardLost when the
        engine lost it (the shard's finished files stay; re-running does the rest)."""
        yield from drive(self, list(shards), progress)


def drive(executor: Executor, shards: list[Shard], progress: Callable[[int], None] | None
          ) -> Iterator[tuple[Shard, Any]]:
    """Submit, wait, report progress from the shards' state files, cancel on Ctrl-C / error."""
    if not shards:
        return
    run_dirs = {s.run_dir for s in shards}
    handles = executor.submit(shards)
    for run_dir in run_dirs:
        record_jobs(run_dir, [rec for (_, rec), s in zip(handles, shards) if s.run_dir == run_dir])
    pending = {i: h for i, (h, _) in enumerate(handles)}
    shown = dict.fromkeys(range(len(shards)), 0)

    def show(i: int, n: int) -> None:
        if progress and n > shown[i]:
            progress(n - shown[i])
            shown[i] = n

    try:
        while pending:
            finished_any = False
            for i in list(pending):
                done, result = executor.poll(pending[i])
                s = shards[i]
                if not done:
                    show(i, min(s.size, int(read_shard_state(s.run_dir, s.shard_id).get("progress", 0))))
                    continue
                finished_any = True
                del pending[i]
                if isinstance(result, BaseException):
                    if not isinstance(result, ShardLost):
                        result = ShardLost(f"{type(result).__name__}: {result}")
                    state = read_shard_state(s.run_dir, s.shard_id)
                    if state.get("state") != "failed":  # the worker died without saying why
                        write_shard_state(s.run_dir, s.shard_id, state="lost", finished=now(), error=str(result))
                show(i, s.size)
                yield s, result
            if pending and not finished_any:
                time.sleep(executor.poll_s)
    except BaseException:  # Ctrl-C (or the consumer stopped): cancel what this driver submitted
        for i, h in pending.items():
            try:
                executor.cancel(h)
            finally:
                s = shards[i]
                write_shard_state(s.run_dir, s.shard_id, state="cancelled", finished=now(),
                                  error="cancelled by the driver (interrupted)")
        raise
