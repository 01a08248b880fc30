"""End-to-end: the `bench` CLI in subprocesses, including a real kill part-way and a resume."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import soundfile as sf

BENCH = [sys.executable, "-m", "bench"]
VERBS = ["run", "generate", "train", "data", "systems", "perf", "evaluate", "report", "experiment", "human-eval"]


def bench(*args, check=True, **kw):
    proc = subprocess.run([*BENCH, *args], capture_output=True, text=True, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"bench {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.mark.slow
def test_every_verb_has_help():
    out = bench("--help").stdout
    for verb in VERBS:
        assert verb in out
        assert bench(verb, "--help").stdout.startswith("usage: bench " + verb)
    for sub in (("data", "prepare"), ("data", "show"), ("data", "list"), ("systems", "check"), ("perf", "run")):
        assert "usage:" in bench(*sub, "--help").stdout


@pytest.mark.slow
def test_systems_list_shows_builtins_and_entry_points():
    out = bench("systems", "list").stdout
    for name in ("reference", "shuffled", "slow_sine", "flaky"):
        assert name in out


@pytest.mark.slow
def test_bad_names_are_named_errors(mini_dataset):
    root, ov = mini_dataset
    proc = bench("run", "--systems", "reference,nope", "--dataset", "toy", *ov, check=False)
    assert proc.returncode == 2 and "unknown system 'nope'" in proc.stderr and "shuffled" in proc.stderr
    proc = bench("run", "--systems", "reference", "--dataset", "imagenet", check=False)
    assert proc.returncode == 2 and "unknown dataset 'imagenet'" in proc.stderr and "toy" in proc.stderr
    proc = bench("run", "--systems", "reference", "--dataset", "toy", *ov, "system.reference.bogus=1", check=False)
    assert proc.returncode == 2 and "bogus" in proc.stderr


@pytest.mark.slow
def test_missing_media_is_a_failure_naming_the_file_and_others_go_on(mini_dataset):
    root, ov = mini_dataset
    victim = sorted((root / "audio").glob("*.wav"))
    from core.manifest import read_manifest

    test_ids = sorted(c.id for c in read_manifest(root) if c.split == "test")
    (root / "audio" / f"{test_ids[0]}.wav").unlink()
    proc = bench("run", "--systems", "reference", "--dataset", "toy", *ov, "--name", "miss", "--metrics", "none", check=False)
    assert proc.returncode == 3, proc.stderr
    run = Path(os.environ["BENCH_RUNS_ROOT"]) / "miss" / "reference"
    fail = (run / "failures.jsonl").read_text()
    assert f"{test_ids[0]}.wav" in fail and "not found" in fail
    assert len(list(run.glob("*.wav"))) == len(test_ids) - 1 and victim


@pytest.mark.slow
def test_kill_part_way_then_resume(mini_dataset):
    root, ov = mini_dataset
    args = ["run", "--systems", "slow_sine", "--dataset", "toy", *ov, "--name", "killed", "--metrics", "none",
            "system.slow_sine.delay=0.5", "executor.workers=1", "run.split=all"]
    out = Path(os.environ["BENCH_RUNS_ROOT"]) / "killed" / "slow_sine"
    proc = subprocess.Popen([*BENCH, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline and len(list(out.glob("*.wav"))) < 3:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.wav")}
    assert 3 <= len(done_before) < 10, "the kill should land part-way"
    for p in out.glob("*.wav"):
        assert sf.info(p).frames == 2 * 16000  # nothing half-written under a final name

    res = bench(*args[:-3], "system.slow_sine.delay=0.5", "executor.workers=1", "run.split=all")
    wavs = sorted(out.glob("*.wav"))
    assert len(wavs) == 10 and not list(out.glob(".*.tmp"))
    assert all(p.stat().st_mtime_ns == done_before[p.name] for p in wavs if p.name in done_before)
    assert f"outputs=10 already_done={len(done_before)} generated={10 - len(done_before)} failed=0" in res.stdout
    assert "results:" in res.stdout
    # the identical command once more: nothing to do
    assert "outputs=10 already_done=10 generated=0 failed=0" in bench(*args).stdout


@pytest.mark.slow
def test_generate_mux_writes_the_clip_video_with_the_generated_music(mini_dataset):
    from core.media import probe_video

    root, ov = mini_dataset
    bench("generate", "--systems", "slow_sine", "--dataset", "toy", *ov, "--name", "mux", "--mux")
    out = Path(os.environ["BENCH_RUNS_ROOT"]) / "mux" / "slow_sine"
    videos = sorted(out.glob("*.mp4"))
    assert videos and len(videos) == len(list(out.glob("*.wav")))
    info = probe_video(videos[0])
    assert info.has_audio and abs(info.duration - 2.0) < 0.15
