"""The `ray` engine on a local Ray instance: byte-identical outputs to the local executor, and a
shard whose worker is killed mid-way re-runs without redoing its finished clips."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
import ray  # a test dependency (pyproject [test]): a missing one must fail CI, not skip

from bench import api
from bench.executors.records import read_jobs, read_shard_state

PLUGINS = Path(__file__).parents[1] / "plugins"
PROMPT = "system.musicgen.prompt=calm piano"  # the miniature dataset has no captions
# batches of the same clips as a 2-clip shard: a batch of another size rounds differently in the last bits
BATCH = "system.musicgen.batch_size=2"


@pytest.fixture(scope="module")
def ray_instance():
    """One small local instance for the module (start-up is the slow part); the executor reuses
    an initialised Ray and leaves it running."""
    env = {"PYTHONPATH": os.pathsep.join([str(PLUGINS), os.environ.get("PYTHONPATH", "")])}
    ray.init(num_cpus=2, object_store_memory=200 << 20, include_dashboard=False, log_to_driver=False,
             configure_logging=False, runtime_env={"env_vars": env})
    yield
    ray.shutdown()


def _files(run_dir: Path, systems) -> dict[str, bytes]:
    return {f"{s}/{p.name}": p.read_bytes() for s in systems for p in sorted((run_dir / s).glob("*.wav"))}


@pytest.mark.slow
def test_ray_sharded_run_is_byte_identical_to_local(mini_dataset, ray_instance):
    root, ov = mini_dataset
    systems = ["reference", "shuffled", "musicgen"]
    local = api.run(systems, "toy", ov + ["executor.workers=1", "executor.threads_per_task=1", PROMPT, BATCH], name="local", metrics=[])
    sharded = api.run(systems, "toy", ov + ["executor=ray", "executor.shard_size=2", PROMPT, BATCH], name="ray", metrics=[])
    assert [(s.generated, s.failed) for s in sharded.systems] == [(local.clips, 0)] * 3
    a, b = _files(local.run_dir, systems), _files(sharded.run_dir, systems)
    assert len(a) == 3 * local.clips and a == b
    jobs = read_jobs(sharded.run_dir)
    assert len(jobs) == 3 * ((local.clips + 1) // 2) and {j.engine for j in jobs} == {"ray"}
    assert all(len(j.job_id) > 8 for j in jobs)  # Ray task ids, recorded for `bench status`
    assert all(read_shard_state(sharded.run_dir, j.shard_id)["state"] == "done" for j in jobs)


@pytest.mark.slow
def test_killed_ray_worker_loses_only_its_unfinished_clips(mini_dataset, ray_instance):
    root, ov = mini_dataset
    over = ov + ["executor=ray", "executor.shard_size=100", "run.split=all", "system.slow_sine.delay=0.4"]
    box = {}
    t = threading.Thread(target=lambda: box.setdefault("res", api.run(["slow_sine"], "toy", over, name="k", metrics=[])))
    t.start()
    run_dir = Path(os.environ["BENCH_RUNS_ROOT"]) / "k"
    deadline = time.time() + 90
    killed = None
    while time.time() < deadline and killed is None:
        jobs = read_jobs(run_dir) if run_dir.exists() else []
        state = read_shard_state(run_dir, jobs[0].shard_id) if jobs else {}
        if state.get("progress", 0) >= 3:
            os.kill(state["pid"], signal.SIGKILL)  # the Ray worker running the shard, mid-shard
            killed = state
        time.sleep(0.05)
    t.join(120)
    assert killed is not None and not t.is_alive()
    first = box["res"].systems[0]
    n_total = first.requested
    before = {p.name: p.stat().st_mtime_ns for p in (run_dir / "slow_sine").glob("*.wav")}
    assert 3 <= len(before) < n_total and first.generated == 0 and first.failed == n_total - len(before)
    assert read_shard_state(run_dir, read_jobs(run_dir)[0].shard_id)["state"] == "lost"

    again = api.run(["slow_sine"], "toy", over, name="k", metrics=[]).systems[0]
    assert (again.already_done, again.generated, again.failed) == (len(before), n_total - len(before), 0)
    after = {p.name: p.stat().st_mtime_ns for p in (run_dir / "slow_sine").glob("*.wav")}
    assert len(after) == n_total and all(after[k] == v for k, v in before.items())  # finished clips untouched


@pytest.mark.slow
def test_metric_embedding_goes_out_as_ray_tasks_and_scores_as_in_process(mini_dataset, ray_instance, tmp_path):
    """`bench evaluate executor=ray`: the files not in the embedding cache are embedded as Ray tasks
    (one per file shard, recorded for `bench status`); the scores equal an in-process evaluation's;
    a warm cache sends nothing."""
    import shutil

    root, ov = mini_dataset
    run = api.run(["reference", "shuffled"], "toy", ov + ["executor.workers=1", "run.split=all"], name="emb",
                  metrics=[])
    metrics = ["kl", "fad"]
    local = api.evaluate(run.run_dir, metrics=metrics, overrides=[f"paths.cache_dir={tmp_path / 'c1'}"])
    assert not [j for j in read_jobs(run.run_dir) if j.group.endswith(":embed")]  # local: in-process
    shutil.rmtree(run.run_dir / "metrics")  # else the stored rows are kept (same fingerprints)
    over = ["executor=ray", "executor.shard_size=3", f"paths.cache_dir={tmp_path / 'c2'}"]
    remote = api.evaluate(run.run_dir, metrics=metrics, overrides=over)
    jobs = [j for j in read_jobs(run.run_dir) if j.group.endswith(":embed")]
    files = 3 * run.clips  # two systems' outputs and the references
    assert {j.group for j in jobs} == {"kl:embed", "fad:embed"} and {j.engine for j in jobs} == {"ray"}
    assert sum(j.size for j in jobs if j.group == "kl:embed") == files
    assert all(read_shard_state(run.run_dir, j.shard_id)["state"] == "done" for j in jobs)
    a = local.table.sort_values(["metric", "key", "system"])["value"].to_numpy()
    b = remote.table.sort_values(["metric", "key", "system"])["value"].to_numpy()
    assert len(a) == len(b) > 0
    assert all((x != x and y != y) or abs(x - y) <= 1e-5 * max(1.0, abs(x)) for x, y in zip(a, b))
    shutil.rmtree(run.run_dir / "metrics")
    api.evaluate(run.run_dir, metrics=metrics, overrides=over)
    assert len([j for j in read_jobs(run.run_dir) if j.group.endswith(":embed")]) == len(jobs)  # warm: none sent
