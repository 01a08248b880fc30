"""`ray`: one Ray task per shard, on an existing cluster (`address: auto` or `ray://host:10001`)
or on a local instance started for the run (`address: null`) and shut down after it.

Keys (bench/conf/executor/ray.yaml): address, num_cpus / object_store_mb (local instance only),
cpus_per_task, gpus_per_task, max_retries (Ray re-runs a task whose worker died; its finished
clips are kept, so a retry only does the rest), shard_size.
"""

from __future__ import annotations

import os
from typing import Sequence

from bench.executors.base import Executor, Shard, ShardLost, auto_shard_size, run_shard
from bench.executors.records import JobRecord


class RayExecutor(Executor):
    engine = "ray"
    poll_s = 0.5

    def __init__(self, address: str | None = None, num_cpus: int | None = None, object_store_mb: int | None = 200,
                 cpus_per_task: float = 1, gpus_per_task: float = 0, max_retries: int = 0,
                 shard_size: int | str = "auto", threads_per_task: int | None = None):
        self.address, self.num_cpus, self.object_store_mb = address, num_cpus, object_store_mb
        self.cpus_per_task, self.gpus_per_task = float(cpus_per_task), float(gpus_per_task)
        self.max_retries, self._shard = int(max_retries), shard_size
        self._started = False
        # Ray gives a task OMP_NUM_THREADS = its CPUs; torch follows unless told otherwise
        self.threads_per_task = threads_per_task or max(1, int(self.cpus_per_task))
        self._remote = None

    def _ray(self):
        import ray

        if not ray.is_initialized():
            kwargs = dict(include_dashboard=False, log_to_driver=False, configure_logging=False)
            if self.address:
                ray.init(address=self.address, **kwargs)
            else:
                env = {k: os.environ[k] for k in ("PYTHONPATH", "BENCH_CACHE_DIR", "BENCH_DATA_ROOT") if k in os.environ}
                ray.init(num_cpus=self.num_cpus, object_store_memory=(self.object_store_mb or 200) << 20,
                         runtime_env={"env_vars": env} if env else None, **kwargs)
                self._started = True
        if self._remote is None:
            self._remote = ray.remote(run_shard)
        return ray

    def slots(self) -> int:
        ray = self._ray()
        cpus = ray.cluster_resources().get("CPU", 1)
        slots = cpus / max(self.cpus_per_task, 1e-9)
        if self.gpus_per_task:
            slots = min(slots, ray.cluster_resources().get("GPU", 0) / self.gpus_per_task)
        return max(1, int(slots))

    def shard_size(self, n_items: int, max_workers: int | None = None) -> int:
        if self._shard != "auto":
            return max(1, int(self._shard))
        return auto_shard_size(n_items, self.slots(), per_slot=1)

    def submit(self, shards: Sequence[Shard]):
        ray = self._ray()
        address = ray.get_runtime_context().gcs_address
        out = []
        for s in shards:
            ref = self._remote.options(num_cpus=self.cpus_per_task, num_gpus=self.gpus_per_task,
                                       max_retries=self.max_retries, name=f"bench:{s.shard_id}").remote(s)
            rec = JobRecord("ray", ref.task_id().hex(), s.shard_id, s.group, s.size, list(s.outputs),
                            extra={"address": self.address or "local instance", "gcs_address": address})
            out.append((ref, rec))
        return out

    def poll(self, ref):
        import ray

        ready, _ = ray.wait([ref], timeout=0)
        if not ready:
            return False, None
        try:
            return True, ray.get(ref)
        except Exception as exc:  # WorkerCrashedError, RayTaskError(...), TaskCancelledError
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            return True, ShardLost(f"{type(exc).__name__}: {first}")

    def cancel(self, ref) -> None:
        import ray

        ray.cancel(ref, force=True)

    def close(self) -> None:
        if self._started:
            import ray

            ray.shutdown()
            self._started = False
            self._remote = None


def task_states(records: list[JobRecord]) -> dict[str, str]:
    """task id → Ray state, asked of the cluster the tasks ran on (needs its dashboard/state API);
    empty when it is gone or unreachable (then the shard state files speak alone)."""
    out: dict[str, str] = {}
    by_addr: dict[str, list[JobRecord]] = {}
    for rec in records:
        if rec.extra.get("address") not in (None, "local instance"):
            by_addr.setdefault(rec.extra["address"], []).append(rec)
    for address, recs in by_addr.items():
        try:
            from ray.util.state import get_task

            for rec in recs:
                task = get_task(rec.job_id, address=address, timeout=5)
                task = task[-1] if isinstance(task, list) and task else task
                if task is not None:
                    out[rec.job_id] = str(getattr(task, "state", "UNKNOWN"))
        except Exception:
            continue
    return out
