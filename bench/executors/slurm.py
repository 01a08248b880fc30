"""`slurm`: shards as a Slurm array job through submitit (one array task per shard).

Keys (bench/conf/executor/slurm.yaml): partition, account, qos, gpus_per_task (→ `--gres=gpu:N`),
cpus_per_task, mem_gb, time_min, array_parallelism (`%N` of the array), sbatch_extra (more
`#SBATCH` lines as key: value), setup (shell lines before the task, e.g. `module load cuda`),
job_name_prefix, shard_size, log_dir (default `<run>/_jobs/slurm`). `cluster: local` runs the same
path through submitit's LocalExecutor (subprocesses on this machine), `cluster: debug` through its
DebugExecutor (in this process): for tests and dry runs without a cluster.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from core.errors import ConfigError
from bench.executors.base import Executor, Shard, ShardLost, auto_shard_size, run_shard
from bench.executors.records import JobRecord, jobs_dir

CLUSTERS = ("slurm", "local", "debug")


class SlurmExecutor(Executor):
    engine = "slurm"
    poll_s = 2.0

    def __init__(self, cluster: str = "slurm", partition: str | None = None, account: str | None = None,
                 qos: str | None = None, gpus_per_task: int = 0, cpus_per_task: int = 4, mem_gb: float = 32,
                 time_min: int = 240, array_parallelism: int = 64, sbatch_extra: dict | None = None,
                 setup: Sequence[str] = (), job_name_prefix: str = "dyvim-bench", shard_size: int | str = "auto",
                 log_dir: str | None = None, poll_s: float = 2.0, threads_per_task: int | None = None):
        if cluster not in CLUSTERS:
            raise ConfigError(f"executor.cluster={cluster!r}: one of {', '.join(CLUSTERS)}")
        self.cluster, self.partition, self.account, self.qos = cluster, partition, account, qos
        self.gpus_per_task, self.cpus_per_task, self.mem_gb = int(gpus_per_task), int(cpus_per_task), mem_gb
        self.time_min, self.array_parallelism = int(time_min), int(array_parallelism)
        self.sbatch_extra, self.setup = dict(sbatch_extra or {}), list(setup)
        self.threads_per_task = threads_per_task
        self.job_name_prefix, self._shard, self.log_dir, self.poll_s = job_name_prefix, shard_size, log_dir, poll_s

    def shard_size(self, n_items: int, max_workers: int | None = None) -> int:
        if self._shard != "auto":
            return max(1, int(self._shard))
        return auto_shard_size(n_items, self.array_parallelism, per_slot=1)  # one wave of array tasks

    def executor_for(self, folder: Path, group: str):
        """The submitit executor of one group's array, parameters from this config."""
        import submitit

        name = f"{self.job_name_prefix}-{group}"
        if self.cluster == "debug":
            ex = submitit.DebugExecutor(folder)
            return ex
        if self.cluster == "local":
            ex = submitit.LocalExecutor(folder)
            ex.update_parameters(timeout_min=self.time_min, gpus_per_node=self.gpus_per_task,
                                 cpus_per_task=self.cpus_per_task, setup=self.setup)
            return ex
        ex = submitit.SlurmExecutor(folder)
        params = dict(job_name=name, time=self.time_min, cpus_per_task=self.cpus_per_task,
                      mem=f"{self.mem_gb}GB", array_parallelism=self.array_parallelism, ntasks_per_node=1,
                      setup=self.setup, additional_parameters=dict(self.sbatch_extra))
        for key, value in (("partition", self.partition), ("account", self.account), ("qos", self.qos)):
            if value:
                params[key] = value
        if self.gpus_per_task:
            params["gres"] = f"gpu:{self.gpus_per_task}"
        ex.update_parameters(**params)
        return ex

    def submit(self, shards: Sequence[Shard]):
        out: list = [None] * len(shards)
        by_group: dict[tuple[str, str], list[int]] = {}
        for i, s in enumerate(shards):
            by_group.setdefault((s.run_dir, s.group), []).append(i)
        for (run_dir, group), idx in by_group.items():
            folder = Path(self.log_dir or jobs_dir(run_dir) / "slurm") / "%j"
            ex = self.executor_for(folder, group)
            with ex.batch():  # one array job per group (Slurm); separate processes for `local`
                jobs = [ex.submit(run_shard, shards[i]) for i in idx]
            for i, job in zip(idx, jobs):
                s = shards[i]
                rec = JobRecord("slurm", str(job.job_id), s.shard_id, s.group, s.size, list(s.outputs),
                                extra={"cluster": self.cluster, "folder": str(folder),
                                       "stdout": str(job.paths.stdout)})
                out[i] = (job, rec)
        return out

    def poll(self, job):
        if not job.done():
            return False, None
        try:
            return True, job.result()
        except Exception as exc:  # the task failed or the job died (timeout, node failure, scancel)
            return True, ShardLost(f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"
                                   f" (log: {job.paths.stderr})")

    def cancel(self, job) -> None:
        job.cancel(check=False)


def job_states(records: list[JobRecord]) -> dict[str, str]:
    """job id → Slurm state (RUNNING, PENDING, COMPLETED, FAILED, ...) from sacct via submitit;
    for `cluster: local` jobs (ids are process ids on this host) RUNNING or FINISHED."""
    import os

    out = {}
    for rec in records:
        if rec.extra.get("cluster") == "local":
            try:
                os.kill(int(rec.job_id), 0)
                out[rec.job_id] = "RUNNING"
            except (OSError, ValueError):
                out[rec.job_id] = "FINISHED"
            continue
        if rec.extra.get("cluster") == "debug":
            continue
        try:
            import submitit

            out[rec.job_id] = submitit.SlurmJob(rec.extra["folder"], rec.job_id).state
        except Exception as exc:  # no sacct here (status read off-cluster)
            out[rec.job_id] = f"UNKNOWN ({type(exc).__name__})"
    return out
