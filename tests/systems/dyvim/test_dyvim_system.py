"""`dyvim` and `musicgen` end to end through the CLI on the tiny toy: train-then-generate with the
message that says so, exact 32 kHz outputs, resume without retraining, `bench train dyvim`, and
`bench generate my_video.mp4 --system dyvim` (music + muxed video)."""

from __future__ import annotations

import os
import subprocess
import sys

import av
import pytest
import soundfile as sf

BENCH = [sys.executable, "-m", "bench"]
TOY = ["--dataset", "toy", "dataset.params.size=tiny"]
FAST = ["system.dyvim.train.steps=6", "system.dyvim.train.eval_every=3", "system.dyvim.train.warmup_steps=2",
        "system.dyvim.train.batch_size=4", "system.dyvim.train.segment_seconds=1.0"]


def bench(*args, env, check=True):
    proc = subprocess.run([*BENCH, *args], capture_output=True, text=True, env={**os.environ, **env})
    if check and proc.returncode != 0:
        raise AssertionError(f"bench {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    base = tmp_path_factory.mktemp("dyvim_e2e")
    return {"BENCH_DATA_ROOT": str(base / "data"), "BENCH_RUNS_ROOT": str(base / "runs"),
            "BENCH_CACHE_DIR": str(base / "cache"), "base": str(base)}


@pytest.mark.slow
def test_run_trains_first_then_generates_and_resumes_without_retraining(env):
    first = bench("run", "--systems", "dyvim,musicgen", *TOY, *FAST, "--metrics", "none", env=env)
    assert "no checkpoint given: training the tiny model" in first.stderr
    run = os.path.join(env["base"], "runs", "toy")
    assert os.path.exists(os.path.join(run, "dyvim", "train", "summary.json"))
    for system in ("dyvim", "musicgen"):
        wavs = sorted(f for f in os.listdir(os.path.join(run, system)) if f.endswith(".wav"))
        assert wavs, system
        for w in wavs:
            audio, sr = sf.read(os.path.join(run, system, w))
            assert sr == 32000 and audio.ndim == 1 and len(audio) == 320000 and abs(audio).max() > 0
    assert "summary: system=dyvim weights=random" in first.stdout
    again = bench("run", "--systems", "dyvim,musicgen", *TOY, *FAST, "--metrics", "none", env=env)
    assert "training" not in again.stderr and "generated=0" in again.stdout
    trained = bench("train", "dyvim", *TOY, *FAST, env=env)
    assert "dyvim: needs no training" in trained.stdout


@pytest.mark.slow
def test_generate_for_a_users_video_writes_music_and_muxed_video(env):
    # needs the trained run of the test above (same module, same folders)
    data = os.path.join(env["base"], "data", "toy_tiny", "video")
    video = os.path.join(data, sorted(os.listdir(data))[0])
    out = os.path.join(env["base"], "mine")
    proc = bench("generate", video, "--system", "dyvim", *TOY, *FAST, "--out", out, env=env)
    stem = os.path.splitext(os.path.basename(video))[0]
    wav, mp4 = os.path.join(out, f"{stem}.dyvim.wav"), os.path.join(out, f"{stem}.dyvim.mp4")
    assert wav in proc.stdout and os.path.exists(mp4)
    audio, sr = sf.read(wav)
    assert sr == 32000 and len(audio) > 0
    with av.open(mp4) as c:
        assert c.streams.video and c.streams.audio
    missing = bench("generate", os.path.join(out, "nope.mp4"), "--system", "dyvim", *TOY, *FAST, env=env, check=False)
    assert missing.returncode == 2 and "nope.mp4" in missing.stderr
