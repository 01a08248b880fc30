"""`bench train` fans the training clips' features out over the executor, as `bench run` does:
one job per clip shard on the engine (recorded for `bench status`), then training reads the cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.executors.records import read_jobs, read_shard_state
from core.manifest import read_manifest

TOY = ["--dataset", "toy", "dataset.params.size=tiny"]
FAST = ["system.dyvim.train.steps=2", "system.dyvim.train.eval_every=2", "system.dyvim.train.warmup_steps=1",
        "system.dyvim.train.batch_size=2", "system.dyvim.train.segment_seconds=1.0"]


@pytest.mark.slow
def test_bench_train_extracts_features_as_shards_on_the_engine(tmp_path):
    env = {**os.environ, "BENCH_DATA_ROOT": str(tmp_path / "data"), "BENCH_RUNS_ROOT": str(tmp_path / "runs"),
           "BENCH_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-m", "bench", "train", "dyvim", *TOY, *FAST,
                           "executor.workers=2", "executor.shard_size=4"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "dyvim: trained" in proc.stdout
    run_dir = tmp_path / "runs" / "toy"
    jobs = [j for j in read_jobs(run_dir) if j.group == "dyvim:features"]
    assert len(jobs) >= 2 and {j.engine for j in jobs} == {"local"}
    assert all(read_shard_state(run_dir, j.shard_id)["state"] == "done" for j in jobs)
    train = [c for c in read_manifest(tmp_path / "data" / "toy_tiny") if c.split == "train"]
    assert sum(j.size for j in jobs) == len(train) > 0  # every training clip, once
    assert Path(run_dir, "dyvim", "train", "summary.json").exists()
