"""Executors: one interface (`base.Executor`), three engines (DESIGN.md §7).

    executor=local   a process pool on this machine (default)            bench/conf/executor/local.yaml
    executor=slurm   a Slurm array job through submitit                   bench/conf/executor/slurm.yaml
    executor=ray     Ray tasks on a cluster or a local Ray instance       bench/conf/executor/ray.yaml
"""

from __future__ import annotations

from typing import Mapping

from bench.executors.ray_cluster import RayExecutor
from bench.executors.slurm import SlurmExecutor
from core.errors import ConfigError
from core.settings import ExecutorSettings
from bench.executors.base import Executor, Shard, ShardLost, run_shard
from bench.executors.local import LocalExecutor


def _slurm():
    return SlurmExecutor


def _ray():
    return RayExecutor


# engines are imported only when chosen: submitit and ray stay out of a local run
EXECUTORS = {"local": lambda: LocalExecutor, "slurm": _slurm, "ray": _ray}


def make_executor(settings: ExecutorSettings | Mapping) -> Executor:
    """The engine `settings` names, built with its options (a mapping is read as the `executor`
    section: `{"name": "ray", "num_cpus": 2}`); an unknown engine or option is a named error."""
    if not isinstance(settings, ExecutorSettings):
        settings = ExecutorSettings.from_section(settings)
    name = settings.name
    if name not in EXECUTORS:
        raise ConfigError(f"unknown executor {name!r}; known executors: {', '.join(EXECUTORS)}")
    cls = EXECUTORS[name]()
    try:
        return cls(**settings.options)
    except TypeError as exc:
        import inspect

        keys = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
        raise ConfigError(f"executor {name}: {exc}; its keys: {', '.join(keys)} "
                          f"(bench/conf/executor/{name}.yaml)") from exc


__all__ = ["EXECUTORS", "Executor", "LocalExecutor", "Shard", "ShardLost", "make_executor", "run_shard"]
