"""Runs through the Python API on the miniature dataset: layout, protocol, resume, refusal."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from bench import api
from core.errors import RunConfigMismatch, UnknownNameError
from bench.runs import request_seed


def _test_clips(run_result):
    return sorted(p.stem for p in (run_result.run_dir / "reference").glob("*.wav"))


def test_run_layout_and_protocol(mini_dataset):
    root, ov = mini_dataset
    res = api.run(["reference", "shuffled", "slow_sine"], "toy", ov + ["executor.workers=1"], name="r1", metrics=[])
    d = res.run_dir
    assert (d / "config.yaml").exists() and (d / "env.json").exists()
    env = json.loads((d / "env.json").read_text())
    assert set(env["systems"]) == {"reference", "shuffled", "slow_sine"}
    assert env["systems"]["reference"]["weights"] == "none" and env["packages"]["numpy"]
    cfg = yaml.safe_load((d / "config.yaml").read_text())
    assert cfg["dataset"]["root"] == str(root) and set(cfg["system"]) == {"reference", "shuffled", "slow_sine"}
    n_test = res.clips
    assert n_test >= 2
    for s in res.systems:
        assert (s.generated, s.failed, s.already_done) == (n_test, 0, 0)
    # every file: mono float32 at the system's rate, exactly the clip duration
    for system, sr in (("reference", 32000), ("shuffled", 32000), ("slow_sine", 16000)):
        wavs = sorted((d / system).glob("*.wav"))
        assert len(wavs) == n_test
        for w in wavs:
            info = sf.info(w)
            assert (info.samplerate, info.channels, info.frames, info.subtype) == (sr, 1, 2 * sr, "FLOAT")


@pytest.mark.slow
def test_reference_is_the_clip_music_and_shuffled_another_source(mini_dataset):
    root, ov = mini_dataset
    res = api.run(["reference", "shuffled"], "toy", ov, name="r2", metrics=[])
    clips = {c.id: c for c in api.dataset_clips(api.load_config("toy", (), ov))}
    for cid in _test_clips(res):
        ref, _ = sf.read(res.run_dir / "reference" / f"{cid}.wav", dtype="float32")
        own, _ = sf.read(clips[cid].audio_path, dtype="float32")
        assert np.allclose(ref, own, atol=1e-6)
        shuf, _ = sf.read(res.run_dir / "shuffled" / f"{cid}.wav", dtype="float32")
        donors = [c for c in clips.values() if np.allclose(sf.read(c.audio_path, dtype="float32")[0], shuf, atol=1e-6)]
        assert len(donors) == 1 and donors[0].source != clips[cid].source and donors[0].split == "test"


@pytest.mark.slow
def test_resume_skips_finished_and_redoes_broken_outputs(mini_dataset):
    root, ov = mini_dataset
    res = api.run(["slow_sine"], "toy", ov, name="r3", metrics=[])
    out = res.run_dir / "slow_sine"
    wavs = sorted(out.glob("*.wav"))
    mtimes = {w: w.stat().st_mtime_ns for w in wavs}
    # a truncated final file (e.g. from another tool) and a stale temp from a killed writer
    wavs[0].write_bytes(wavs[0].read_bytes()[:1000])
    (out / f".{wavs[1].name}.abc.tmp").write_bytes(b"half")
    res2 = api.run(["slow_sine"], "toy", ov, name="r3", metrics=[])
    s = res2.systems[0]
    assert (s.already_done, s.generated) == (len(wavs) - 1, 1)
    assert all(w.stat().st_mtime_ns == mtimes[w] for w in wavs[1:])
    assert sf.info(wavs[0]).frames == 32000 and not list(out.glob("*.tmp"))
    env = json.loads((res2.run_dir / "env.json").read_text())
    assert len(env["sessions"]) == 2


@pytest.mark.slow
def test_changed_config_is_refused_and_adding_a_system_is_not(mini_dataset):
    root, ov = mini_dataset
    api.run(["slow_sine"], "toy", ov, name="r4", metrics=[])
    run_dir = Path(api.load_config("toy", (), ov).paths.runs_root) / "r4"
    before = sorted(p.name for p in (run_dir / "slow_sine").glob("*.wav"))
    with pytest.raises(RunConfigMismatch, match=r"system.slow_sine.*delay"):
        api.run(["slow_sine"], "toy", ov + ["system.slow_sine.delay=0.01"], name="r4", metrics=[])
    with pytest.raises(RunConfigMismatch, match="seed"):
        api.run(["slow_sine"], "toy", ov + ["run.seed=1"], name="r4", metrics=[])
    res = api.run(["reference"], "toy", ov, name="r4", metrics=[])  # a new system joins the run
    cfg = yaml.safe_load((res.run_dir / "config.yaml").read_text())
    assert set(cfg["system"]) == {"slow_sine", "reference"}
    assert sorted(p.name for p in (res.run_dir / "slow_sine").glob("*.wav")) == before


@pytest.mark.slow
def test_samples_per_clip_are_seeded_and_named(mini_dataset):
    root, ov = mini_dataset
    res = api.run(["slow_sine"], "toy", ov, name="r5", samples_per_clip=3, metrics=[])
    out = res.run_dir / "slow_sine"
    cid = _test_clips(api.run(["reference"], "toy", ov, name="r5x", metrics=[]))[0]
    files = [out / f"{cid}.wav", out / f"{cid}.s1.wav", out / f"{cid}.s2.wav"]
    assert all(f.exists() for f in files)
    assert len({request_seed(0, "slow_sine", cid, k) for k in range(3)}) == 3
    a, b = (sf.read(f)[0] for f in files[:2])
    assert not np.allclose(a, b)


@pytest.mark.slow
def test_failures_are_recorded_and_the_other_clips_go_on(mini_dataset):
    root, ov = mini_dataset
    res = api.run(["flaky"], "toy", ov, name="r6", metrics=[])
    s = res.systems[0]
    assert s.failed == 3 and s.generated == res.clips - 3
    records = [json.loads(l) for l in (res.run_dir / "flaky" / "failures.jsonl").read_text().splitlines()]
    errors = " | ".join(r["error"] for r in records)
    assert "model exploded" in errors and "samples" in errors and "mono" in errors
    assert all(r["traceback"] and r["clip"] for r in records)
    res2 = api.run(["flaky"], "toy", ov, name="r6", metrics=[])  # failed clips are retried, finished ones kept
    assert (res2.systems[0].already_done, res2.systems[0].failed) == (res.clips - 3, 3)


@pytest.mark.slow
def test_parallel_executor_gives_identical_files(mini_dataset):
    root, ov = mini_dataset
    a = api.run(["slow_sine"], "toy", ov + ["executor.workers=1"], name="serial", metrics=[])
    b = api.run(["slow_sine"], "toy", ov + ["executor.workers=2", "executor.shard_size=1"], name="parallel", metrics=[])
    for w in sorted((a.run_dir / "slow_sine").glob("*.wav")):
        assert w.read_bytes() == (b.run_dir / "slow_sine" / w.name).read_bytes()


def test_unknown_names_list_the_known_ones(mini_dataset):
    root, ov = mini_dataset
    with pytest.raises(UnknownNameError, match="unknown system 'nope'.*reference.*shuffled"):
        api.run(["nope"], "toy", ov, metrics=[])
    with pytest.raises(UnknownNameError, match="unknown dataset 'nope'.*toy"):
        api.run(["reference"], "nope", ov, metrics=[])


def test_full_disk_stops_the_run_and_keeps_finished_files(mini_dataset, small_tmpfs, monkeypatch):
    """A real full disk (a small tmpfs as the runs folder): one named error, no per-clip
    failures, nothing half-written; after freeing space the same command resumes."""
    from core.errors import DiskFullError

    root, ov = mini_dataset
    disk = small_tmpfs("300k")  # the run's config + env and two 2-s 16 kHz float wavs (128 KiB each)
    monkeypatch.setenv("BENCH_RUNS_ROOT", str(disk))
    with pytest.raises(DiskFullError, match=r"full/slow_sine: no space left on the device") as info:
        api.run(["slow_sine"], "toy", ov + ["executor.workers=1"], name="full", metrics=[])
    assert "free" in str(info.value) and "needed" in str(info.value)
    out = disk / "full" / "slow_sine"
    assert len(list(out.glob("*.wav"))) == 2 and not list(out.glob(".*.tmp"))
    assert not (out / "failures.jsonl").exists()  # a full disk is not the clip's failure
    small_tmpfs.resize(disk, "8m")
    res = api.run(["slow_sine"], "toy", ov + ["executor.workers=1"], name="full", metrics=[])
    assert (res.systems[0].already_done, res.systems[0].failed) == (2, 0)


def test_a_run_with_other_dataset_settings_is_refused_not_rebuilt(mini_dataset):
    from core.errors import DatasetError

    root, ov = mini_dataset
    before = (root / "manifest.parquet").read_bytes()
    with pytest.raises(DatasetError, match=r"params\.fps: prepared 25, asked 10.*dataset\.name=toy_small"):
        api.run(["reference"], "toy", ov + ["dataset.params.fps=10"], name="t2", metrics=[])
    assert (root / "manifest.parquet").read_bytes() == before
    assert not (Path(api.load_config("toy", (), ov).paths.runs_root) / "t2").exists()


@pytest.mark.slow
def test_a_refused_run_writes_no_config_so_the_corrected_command_runs(mini_dataset):
    from core.errors import ConfigError

    root, ov = mini_dataset
    with pytest.raises(ConfigError, match="sample_rat"):
        api.run(["slow_sine"], "toy", ov + ["+system.slow_sine.sample_rat=8000"], name="fix", metrics=[])
    run_dir = Path(api.load_config("toy", (), ov).paths.runs_root) / "fix"
    assert not (run_dir / "config.yaml").exists()
    res = api.run(["slow_sine"], "toy", ov, name="fix", metrics=[])
    assert res.failed == 0 and (run_dir / "config.yaml").exists()


def test_an_unquoted_special_value_gets_a_quoting_hint():
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match=r"Hint: quote a value.*'dataset\.params\.source_dir=\"/data/m\(ä\)\"'"):
        api.load_config("aist", (), ["dataset.params.source_dir=/data/m(ä)"])
