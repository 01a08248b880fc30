"""The executor interface: the shared driver loop (progress, lost shards, Ctrl-C cancels what it
submitted), config errors, and which keys stay out of a run's identity."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from bench.executors import make_executor
from bench.executors.base import Executor, Shard, ShardLost
from bench.executors.records import read_jobs, read_shard_state, write_shard_state
from bench.generation import identity_config


class FakeEngine(Executor):
    """Handles are shard indices; `script` says per poll what happens."""

    engine = "fake"
    poll_s = 0.0

    def __init__(self, interrupt_at_poll=None, lose=()):
        self.polls, self.cancelled, self.interrupt_at, self.lose = 0, [], interrupt_at_poll, set(lose)

    def submit(self, shards):
        from bench.executors.records import JobRecord

        self.shards = shards
        return [(i, JobRecord("fake", f"job{i}", s.shard_id, s.group, s.size)) for i, s in enumerate(shards)]

    def poll(self, i):
        self.polls += 1
        if self.polls == self.interrupt_at:
            raise KeyboardInterrupt
        s = self.shards[i]
        if self.polls <= len(self.shards):  # first round: every shard reports progress and runs on
            write_shard_state(s.run_dir, s.shard_id, state="running", progress=1)
            return False, None
        if i in self.lose:
            return True, RuntimeError("node went away")
        return True, f"result {i}"

    def cancel(self, i):
        self.cancelled.append(i)


def _shards(tmp_path, n=3):
    return [Shard(print, None, f"sys-{i}", "sys", 2, str(tmp_path)) for i in range(n)]


def test_driver_reports_progress_results_and_lost_shards(tmp_path):
    seen = []
    results = dict((s.shard_id, r) for s, r in FakeEngine(lose={1}).run(_shards(tmp_path), seen.append))
    assert results["sys-0"] == "result 0" and isinstance(results["sys-1"], ShardLost)
    assert sum(seen) == 6 and seen[:3] == [1, 1, 1]  # progress from the state files, then completion
    assert read_shard_state(tmp_path, "sys-1")["state"] == "lost"
    assert "node went away" in read_shard_state(tmp_path, "sys-1")["error"]
    assert [j.job_id for j in read_jobs(tmp_path)] == ["job0", "job1", "job2"]


def test_ctrl_c_cancels_every_submitted_shard_still_in_flight(tmp_path):
    eng = FakeEngine(interrupt_at_poll=3)  # in the first round: nothing finished yet
    with pytest.raises(KeyboardInterrupt):
        for _ in eng.run(_shards(tmp_path), None):
            pass
    assert sorted(eng.cancelled) == [0, 1, 2]
    assert {read_shard_state(tmp_path, f"sys-{i}")["state"] for i in range(3)} == {"cancelled"}


def test_unknown_engine_and_unknown_key_name_the_fix():
    with pytest.raises(ConfigError, match="known executors: local, slurm, ray"):
        make_executor({"name": "condor"})
    with pytest.raises(ConfigError, match=r"executor slurm: .*partitoin.*its keys: cluster, partition"):
        make_executor({"name": "slurm", "partitoin": "gpu"})


def test_the_composed_executor_section_builds_its_engine():
    from bench.config import compose
    from core.settings import ExecutorSettings

    engine = make_executor(ExecutorSettings.from_config(compose(None, (), ["executor.workers=3"], metrics=[])))
    assert engine.engine == "local" and engine.workers == 3
    assert make_executor(ExecutorSettings("slurm", {"partition": "gpu", "cpus_per_task": 2})).partition == "gpu"


def test_a_variant_job_runs_locally_in_the_drivers_folders(tmp_path):
    from bench.executors.variants import in_job_overrides
    from core.settings import PathSettings

    paths = PathSettings(data_root=tmp_path / "data", runs_root=Path("runs"), cache_dir=tmp_path / "cache")
    out = in_job_overrides(["system.dyvim.alpha=0.3", "executor=ray", "executor.address=auto", "paths.runs_root=x"],
                           paths)
    assert out == ["system.dyvim.alpha=0.3", "executor=local", f"paths.runs_root={Path('runs').resolve()}",
                   f"paths.data_root={(tmp_path / 'data').resolve()}",
                   f"paths.cache_dir={(tmp_path / 'cache').resolve()}"]


def test_how_training_is_executed_is_not_part_of_the_run_identity():
    conf = {"system": {"dyvim": {"alpha": 0.3, "train": {"steps": 5, "gpus": 4, "grad_accum_steps": 2}},
                       "reference": {"name": "reference"}}}
    assert identity_config(conf)["system"] == {"dyvim": {"alpha": 0.3, "train": {"steps": 5}},
                                               "reference": {"name": "reference"}}
    assert conf["system"]["dyvim"]["train"]["gpus"] == 4  # the caller's config is left alone


def test_training_features_go_out_as_shards_on_the_engine(tmp_path, monkeypatch):
    """A system with precompute_features gets its training clips' features as shards on a
    non-in-process engine (each shard builds the system and fills the cache); not on workers=1."""
    import bench.generation as generation
    from bench.executors.features import precompute_training_features
    from bench.executors.local import LocalExecutor

    done = []

    class Featured:
        def parallel_cap(self):
            return 1

        def precompute_features(self, clips, with_codes, progress):
            done.append((tuple(clips), with_codes))
            progress(len(clips))

    class Here(LocalExecutor):  # shards run in this process (so the fake system needs no registry)
        def in_process(self, max_workers=None):
            return False

    monkeypatch.setattr(generation, "worker_system", lambda name, cfg, ctx: Featured())
    clips = [f"clip{i}" for i in range(5)]
    seen = []
    assert precompute_training_features(Here(workers=1, shard_size=2), tmp_path, "dyvim", Featured(), {}, None,
                                        clips, seen.append)
    assert [c for c, _ in done] == [("clip0", "clip1"), ("clip2", "clip3"), ("clip4",)] and all(w for _, w in done)
    assert sum(seen) == 5 and {j.group for j in read_jobs(tmp_path)} == {"dyvim:features"}
    assert not precompute_training_features(LocalExecutor(workers=1), tmp_path, "dyvim", Featured(), {}, None, clips)


def test_make_shards_cuts_items_into_named_session_shards(tmp_path):
    """One shard per executor-sized slice, ids `<prefix>-<session>-<nnnn>` shared by one call, the
    payload built from the slice and its id, outputs named per slice; nothing for no items."""
    from bench.executors.base import make_shards
    from bench.executors.local import LocalExecutor

    shards = make_shards(LocalExecutor(workers=1, shard_size=2), print, list("abcde"),
                         lambda part, shard_id: (shard_id, part), "sys", "sys", tmp_path, max_workers=3,
                         outputs=lambda part: tuple(f"{x}.wav" for x in part))
    assert [s.payload[1] for s in shards] == [("a", "b"), ("c", "d"), ("e",)]
    assert [s.size for s in shards] == [2, 2, 1] and all(s.payload[0] == s.shard_id for s in shards)
    session = shards[0].shard_id[len("sys-"):-len("-0000")]
    assert [s.shard_id for s in shards] == [f"sys-{session}-{n:04d}" for n in range(3)]
    assert shards[2].outputs == ("e.wav",) and {s.max_workers for s in shards} == {3}
    assert {s.run_dir for s in shards} == {str(tmp_path)}
    assert make_shards(LocalExecutor(workers=1), print, [], None, "sys", "sys", tmp_path) == []


@pytest.mark.slow
def test_metric_embedding_shards_fill_the_cache_with_only_the_missing_files(tmp_path):
    """The prefetch hook of `bench evaluate`: on a sharding engine, only files not yet in the
    embedding cache go out (one shard per file range) and land in the cache the metric reads; the
    local engine embeds in-process (no hook)."""
    import numpy as np

    from core.cache import Cache
    from bench.executors.embeddings import make_prefetch, missing_files
    from bench.executors.local import LocalExecutor
    from core.media import atomic_write_audio
    from metrics.evaluate import build_metric

    class Sharding(LocalExecutor):  # a non-local engine whose shards happen to run in this process
        engine = "sharding"

    paths = []
    for i in range(5):
        t = np.arange(16000) / 16000
        paths.append(str(atomic_write_audio(tmp_path / f"a{i}.wav", (0.3 * np.sin(2 * np.pi * (200 + 50 * i) * t))
                                            .astype(np.float32), 16000)))
    cache, config = Cache(tmp_path / "cache"), {"weights": "random"}
    metric = build_metric("kl", config, cache, 0)
    metric.embedder.embed_files(paths[:2], cache=cache)  # two already embedded
    assert make_prefetch(LocalExecutor(workers=2), tmp_path, cache, 0) is None
    prefetch = make_prefetch(Sharding(workers=1, shard_size=2), tmp_path / "run", cache, 0)
    prefetch("kl", config, paths)
    jobs = read_jobs(tmp_path / "run")
    assert [j.size for j in jobs] == [2, 1] and {j.group for j in jobs} == {"kl:embed"}
    assert missing_files(metric, paths) == []
    prefetch("kl", config, paths)  # warm: nothing sent
    assert len(read_jobs(tmp_path / "run")) == 2
