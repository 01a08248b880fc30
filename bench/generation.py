"""Generation jobs: one system over a shard of clip requests, executed by an executor.

The job owns the protocol around the system: it builds the system from its config, checks
every output (mono float32, exact length), writes it atomically and records failures so the
other clips go on.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from bench.errors import ConfigError, DiskFullError
from bench.media import atomic_write_audio
from bench.runs import append_failure, failure_record, output_name, validate_output
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


@dataclass
class JobOutcome:
    system: str
    done: int = 0
    failed: int = 0


def accepted_kwargs(cls, config: dict, what: str) -> None:
    """Refuse config keys the class's constructor does not take, listing the ones it does."""
    params = inspect.signature(cls.__init__).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    unknown = [k for k in config if k not in params and not takes_any]
    if unknown:
        options = [p for p in params if p not in ("self", "context", "cache", "seed")]
        raise ConfigError(f"{what} ({cls.__name__}) has no option(s) {unknown}; options: {options}")


def build_system(run_name: str, config: dict, context: SystemContext) -> System:
    """Instantiate the registered class `config['name']` with the other keys as typed kwargs."""
    config = dict(config)
    cls = get_system_class(config.pop("name", run_name))
    accepted_kwargs(cls, config, f"system {run_name!r}")
    return cls(context, **config)


def run_job(job: GenerationJob, progress: Callable[[int], None] | None = None) -> JobOutcome:
    """Generate, check and write every request of the job; never raises for a single clip."""
    outcome = JobOutcome(job.system)
    out_dir = Path(job.run_dir) / job.system
    out_dir.mkdir(parents=True, exist_ok=True)

    def fail(req: GenerationRequest, exc: BaseException) -> None:
        if isinstance(exc, DiskFullError):
            raise exc  # a full disk stops the run: every further clip would fail the same way
        append_failure(out_dir, failure_record(req, exc))
        outcome.failed += 1

    try:
        system = job.instance or build_system(job.system, job.system_config, job.context)
    except Exception as exc:
        for req in job.requests:
            fail(req, exc)
        if progress:
            progress(len(job.requests))
        return outcome

    for batch in iter_batches(job.requests, system.batch_size):
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
        except DiskFullError:
            raise
        except Exception as exc:  # the system itself raised: the rest of the batch failed with it
            for req in batch:
                if (req.clip.id, req.sample_index) not in seen:
                    fail(req, exc)
                    if progress:
                        progress(1)
    return outcome
