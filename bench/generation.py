"""Generation jobs: one system over a shard of clip requests, executed by an executor.

The job owns the protocol around the system: it builds the system from its config, checks
every output (mono float32, exact length), writes it atomically and records failures so the
other clips go on. A clip whose output is already finished is skipped, so a shard that an engine
re-runs after its worker died (or a re-submitted run) only does what is left.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from core.atomic import make_dirs
from core.errors import DiskFullError, ReadOnlyError
from core.media import atomic_write_audio
from core.options import accepted_kwargs  # noqa: F401  (re-exported)
from bench.executors.base import Executor, Shard, make_shards
from bench.executors.records import read_shard_state
from bench.runs import append_failure, failure_record, is_finished, output_name, validate_output
from systems.base import GenerationRequest, System, SystemContext, get_system_class, iter_batches


@dataclass(frozen=True)
class GenerationJob:
    run_dir: str
    system: str  # the run's name for it (the output folder)
    system_config: dict  # its Hydra config; `name` picks the registered class
    context: SystemContext
    requests: tuple[GenerationRequest, ...]
    #: the already built system, when the job runs in the process that built it (never pickled to a
    #: worker): a model that took seconds to load is not built again per shard
    instance: System | None = field(default=None, compare=False, repr=False)
    shard_id: str = ""  # names the shard in <run>/_jobs/ and in failures.jsonl
    sample_rate: int | None = None  # the system's rate: lets the job skip finished outputs before building it
    max_workers: int | None = None  # the system's cap on parallel shards on one machine


@dataclass
class JobOutcome:
    system: str
    done: int = 0
    failed: int = 0
    already_done: int = 0  # finished before this job ran (a re-run shard)
    lost: str | None = None  # the engine lost the shard: why (its unfinished clips count as failed)

    def summary(self) -> dict:
        return {"done": self.done, "failed": self.failed, "already_done": self.already_done}


def generation_shards(executor: Executor, run_dir, name: str, system: System, config: dict,
                      context: SystemContext, requests) -> list[Shard]:
    """System `name`'s pending `requests` as generation shards on `executor`; a system built here
    is reused by shards that run in this process (never pickled to a worker)."""
    if not requests:
        return []
    cap = system.parallel_cap()
    instance = system if executor.in_process(cap) else None
    return make_shards(executor, run_job, requests,
                       lambda part, shard_id: GenerationJob(str(run_dir), name, config, context, part, instance,
                                                            shard_id, system.sample_rate, cap),
                       name, name, run_dir, max_workers=cap,
                       outputs=lambda part: tuple(output_name(r.clip.id, r.sample_index) for r in part))


def run_jobs(executor: Executor, shards, progress) -> Iterator[JobOutcome]:
    """Generation shards on `executor` → one JobOutcome per shard as each finishes (a lost shard's
    unfinished clips count as failed)."""
    for shard, result in executor.run(shards, progress):
        if isinstance(result, BaseException):
            state = read_shard_state(shard.run_dir, shard.shard_id)
            yield JobOutcome(shard.group, failed=max(0, shard.size - int(state.get("progress", 0))),
                             lost=str(result))
        else:
            yield result


def _finished(out_dir: Path, req: GenerationRequest, sample_rate: int | None) -> bool:
    if sample_rate is None:
        return False
    return is_finished(out_dir / output_name(req.clip.id, req.sample_index), sample_rate,
                       int(round(req.clip.duration * sample_rate)))


# Keys that say how a system's work is executed, not what it computes: a run trained on N GPUs (or
# with gradient accumulation) resumes and extends with another setting.
EXECUTION_KEYS = (("train", "gpus"), ("train", "grad_accum_steps"))


def identity_config(conf: dict) -> dict:
    """`conf` without the EXECUTION_KEYS of its systems: what the run folder records and compares."""
    import copy

    out = copy.deepcopy(conf)
    for scfg in out.get("system", {}).values():
        for section, key in EXECUTION_KEYS:
            if isinstance(scfg.get(section), dict):
                scfg[section].pop(key, None)
    return out


def build_system(run_name: str, config: dict, context: SystemContext) -> System:
    """Instantiate the registered class `config['name']` with the other keys as typed kwargs."""
    config = dict(config)
    config.pop("class", None)  # a YAML's `class: module:Class` (get_system_class reads it)
    cls = get_system_class(config.pop("name", run_name))
    accepted_kwargs(cls, config, f"system {run_name!r}")
    return cls(context, **config)


_BUILT: "OrderedDict[tuple, System]" = OrderedDict()  # this worker process's systems, least recently used first
#: systems a worker keeps built: on the CPU the few systems of a run (a worker takes shards of each in
#: turn); on an accelerator one (a second model would share its memory)
KEEP_BUILT = {"cpu": 4, "accelerator": 1}


def worker_system(name: str, config: dict, context: SystemContext) -> System:
    """`build_system`, reusing what this process built for the same run, system and config (an
    engine's worker runs many shards; a model that took seconds to load loads once)."""
    import json

    key = (name, json.dumps(config, sort_keys=True, default=str), str(context.work_dir), context.device)
    if key in _BUILT:
        _BUILT.move_to_end(key)
        return _BUILT[key]
    keep = KEEP_BUILT["cpu" if str(context.device) == "cpu" else "accelerator"]
    while len(_BUILT) >= keep:
        _BUILT.popitem(last=False)
    _BUILT[key] = system = build_system(name, config, context)
    return system


def run_job(job: GenerationJob, progress: Callable[[int], None] | None = None) -> JobOutcome:
    """Generate, check and write every request of the job; never raises for a single clip."""
    outcome = JobOutcome(job.system)
    out_dir = Path(job.run_dir) / job.system
    make_dirs(out_dir)

    def fail(req: GenerationRequest, exc: BaseException) -> None:
        if isinstance(exc, (DiskFullError, ReadOnlyError)):
            raise exc  # a full disk or read-only folder stops the run: every further clip would fail the same way
        append_failure(out_dir, {**failure_record(req, exc), "shard": job.shard_id})
        outcome.failed += 1

    requests = [r for r in job.requests if not _finished(out_dir, r, job.sample_rate)]
    outcome.already_done = len(job.requests) - len(requests)
    if progress and outcome.already_done:
        progress(outcome.already_done)
    if not requests:
        return outcome
    try:
        system = job.instance or worker_system(job.system, job.system_config, job.context)
    except Exception as exc:
        for req in requests:
            fail(req, exc)
        if progress:
            progress(len(requests))
        return outcome

    for batch in iter_batches(requests, system.batch_size):
        seen = set()
        try:
            for result in system.generate(batch):
                req = result.request
                seen.add((req.clip.id, req.sample_index))
                try:
                    if result.error is not None:
                        raise result.error
                    audio = validate_output(result.audio, system.sample_rate, req.clip)
                    atomic_write_audio(out_dir / output_name(req.clip.id, req.sample_index), audio, system.sample_rate)
                    outcome.done += 1
                except Exception as exc:
                    fail(req, exc)
                if progress:
                    progress(1)
        except (DiskFullError, ReadOnlyError):
            raise
        except Exception as exc:  # the system itself raised: the rest of the batch failed with it
            for req in batch:
                if (req.clip.id, req.sample_index) not in seen:
                    fail(req, exc)
                    if progress:
                        progress(1)
    return outcome
