"""The `slurm` engine: submitit's LocalExecutor runs the same sharding path end to end, and the
sbatch script submitit writes for a config says what the config says (partition, gres, time,
array size), checked through a stand-in `sbatch` on PATH that keeps the script it is given."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import submitit  # noqa: F401  (a test dependency, pyproject [test]: a missing one must fail CI, not skip)

from bench import api
from bench.executors import make_executor
from bench.executors.records import read_jobs, read_shard_state


@pytest.mark.slow
def test_submitit_local_cluster_runs_the_sharded_path(mini_dataset):
    root, ov = mini_dataset
    local = api.run(["reference", "slow_sine"], "toy", ov + ["executor.workers=1"], name="local", metrics=[])
    res = api.run(["reference", "slow_sine"], "toy",
                  ov + ["executor=slurm", "executor.cluster=local", "executor.shard_size=2", "executor.poll_s=0.2"],
                  name="slurm", metrics=[])
    assert [(s.generated, s.failed) for s in res.systems] == [(local.clips, 0)] * 2
    for system in ("reference", "slow_sine"):
        a = {p.name: p.read_bytes() for p in (local.run_dir / system).glob("*.wav")}
        b = {p.name: p.read_bytes() for p in (res.run_dir / system).glob("*.wav")}
        assert a == b and len(a) == local.clips
    jobs = read_jobs(res.run_dir)
    assert len(jobs) == 2 * ((local.clips + 1) // 2) and {j.engine for j in jobs} == {"slurm"}
    assert all(read_shard_state(res.run_dir, j.shard_id)["state"] == "done" for j in jobs)
    assert all(Path(j.extra["stdout"]).parent.exists() for j in jobs)  # submitit's logs in the run folder
    again = api.run(["reference", "slow_sine"], "toy", ov + ["executor=slurm", "executor.cluster=local"],
                    name="slurm", metrics=[])
    assert [(s.already_done, s.generated) for s in again.systems] == [(local.clips, 0)] * 2


def _stand_in(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_sbatch_script_follows_the_config(tmp_path, monkeypatch):
    from bench.executors.base import Shard

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    kept = tmp_path / "submitted.sh"
    _stand_in(bin_dir, "sbatch", f'cp "$1" {kept}\necho "Submitted batch job 4242"\n')
    _stand_in(bin_dir, "srun", "exit 0\n")  # submitit looks for it to tell it is on a cluster
    _stand_in(bin_dir, "scancel", f'echo "$@" >> {tmp_path / "cancelled"}\n')
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    ex = make_executor({"name": "slurm", "partition": "gpu-a100", "account": "vmusic", "gpus_per_task": 2,
                        "cpus_per_task": 6, "mem_gb": 40, "time_min": 90, "array_parallelism": 3,
                        "sbatch_extra": {"constraint": "a100"}, "setup": ["module load cuda/12.4"],
                        "job_name_prefix": "tbl1"})
    shards = [Shard(print, i, f"dyvim-s-{i:04d}", "dyvim", 2, str(tmp_path / "run")) for i in range(5)]
    handles = ex.submit(shards)
    script = kept.read_text()
    for line in ("#SBATCH --partition=gpu-a100", "#SBATCH --account=vmusic", "#SBATCH --gres=gpu:2",
                 "#SBATCH --time=90", "#SBATCH --cpus-per-task=6", "#SBATCH --mem=40GB",
                 "#SBATCH --array=0-4%3", "#SBATCH --job-name=tbl1-dyvim", "#SBATCH --constraint=a100",
                 "module load cuda/12.4"):
        assert line in script, f"{line!r} not in the sbatch script:\n{script}"
    assert [rec.job_id for _, rec in handles] == [f"4242_{k}" for k in range(5)]
    for job, _ in handles:
        ex.cancel(job)
    assert (tmp_path / "cancelled").read_text().split() == [f"4242_{k}" for k in range(5)]


@pytest.mark.slow
def test_experiment_variants_run_as_jobs_on_the_engine(mini_dataset, tmp_path):
    """Each planned run of a sweep is one job (submitit's local cluster here); a second call resumes."""
    import json
    import os

    from bench.experiments.runner import run_experiment
    from bench.experiments.spec import experiment_from_dict
    from bench.status import status

    root, ov = mini_dataset
    exp = experiment_from_dict({"name": "ctl", "title": "controls sweep", "artefact": "table2",
                                "systems": ["reference", "shuffled"], "datasets": ["toy"], "metrics": [],
                                "sweep": {"system.shuffled.pool": ["test", "all"]}})
    engine = ["executor=slurm", "executor.cluster=local", "executor.poll_s=0.2"]
    res = run_experiment(exp, os.environ["BENCH_RUNS_ROOT"], overrides=ov + engine, metrics=[], log=lambda m: None)
    assert not res.failed
    state = json.loads((res.dir / "state.json").read_text())
    assert {k: v["status"] for k, v in state.items()} == {"ctl/toy/pool_test": "done", "ctl/toy/pool_all": "done"}
    jobs = read_jobs(res.dir)
    assert sorted(j.group for j in jobs) == ["toy/pool_all", "toy/pool_test"] and {j.engine for j in jobs} == {"slurm"}
    rows = status(res.dir)
    assert {r.label for r in rows} == {f"toy/{v}:{s}" for v in ("pool_test", "pool_all") for s in ("reference", "shuffled")}
    assert all(r.pending == 0 and r.failed == 0 and r.done > 0 for r in rows)
    again = run_experiment(exp, os.environ["BENCH_RUNS_ROOT"], overrides=ov + engine, metrics=[], log=lambda m: None)
    assert not again.failed and json.loads((res.dir / "state.json").read_text())["ctl/toy/pool_all"]["systems"][
        "shuffled"]["generated"] == 0  # resumed: nothing generated twice
