"""The external-program runner, through the CMT adapter and its stand-in: per-clip working
directories, seeds, logs, tempo-correct rendering, a crash and a hang that become failures
while the other clips go on, and the launcher's fixes."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from systems.render import SOUNDFONT
from tests.systems.baselines.conftest import failures, records, run, system_overrides, split_test_ids

pytestmark = pytest.mark.skipif(not SOUNDFONT.is_file(), reason="FluidR3_GM soundfont not installed")


def onsets(audio, sr, frame=0.01):
    """Times where the short-frame energy jumps (notes struck after a decay)."""
    n = int(sr * frame)
    audio = np.concatenate([np.zeros(10 * n, audio.dtype), audio])  # silence first: a note at t = 0 is an onset
    env = np.sqrt(np.convolve(audio ** 2, np.ones(n) / n, mode="same"))[::n]
    hits = [i for i in range(3, len(env)) if env[i] > 0.15 * env.max() and env[i] > 2.5 * env[i - 3]]
    out = []
    for i in hits:
        if not out or i - out[-1] > 10:
            out.append(i)
    return np.array(out) * frame - 10 * frame


@pytest.mark.slow
def test_cmt_crash_and_hang_become_failures_and_the_others_render_at_the_video_tempo(mini_dataset, standin, monkeypatch):
    root, ov = mini_dataset
    repo = standin("cmt")
    ids = split_test_ids(root)
    assert len(ids) >= 4
    crash, hang = ids[0], ids[1]
    monkeypatch.setenv("STANDIN_CRASH", crash)  # the baseline's own environment, not the config
    monkeypatch.setenv("STANDIN_HANG", hang)
    overrides = [*ov, *system_overrides("cmt", repo, timeout=4), "++system.cmt.env.STANDIN_TEMPO=90"]
    result, run_dir = run(["cmt"], overrides)
    fails = failures(run_dir, "cmt")
    assert set(fails) == {crash, hang}
    assert "exited with status 1" in fails[crash] and "simulated crash" in fails[crash]
    assert "timed out after 4 s" in fails[hang]
    done = sorted(p.stem for p in (run_dir / "cmt").glob("*.wav"))
    assert done == ids[2:] and result.systems[0].generated == len(ids) - 2
    # tempo-correct: written at 120 bpm (a note every 0.5 s), planned at 90 bpm → every 2/3 s
    audio, sr = sf.read(run_dir / "cmt" / f"{ids[2]}.wav", dtype="float32")
    assert sr == 32000 and audio.shape == (64000,)
    got = onsets(audio, sr)
    assert len(got) == 3 and np.allclose(got, [0, 2 / 3, 4 / 3], atol=0.02), got
    rec = records(run_dir, "cmt")[ids[2]]
    assert abs(rec["tempo_scale"] - 120 / 90) < 1e-9 and rec["kind"] == "midi" and rec["trimmed_seconds"] > 0
    logs = run_dir / "cmt" / "logs"
    assert "simulated crash" in (logs / f"{crash}.optical_flow.try1.err").read_text()
    assert "--seed" in (logs / f"{ids[2]}.generate.try1.err").read_text().splitlines()[0]
    assert not any((run_dir / "cmt" / "_work").glob(f"{ids[2]}.*"))  # per-clip work dirs removed
    # resuming keeps finished clips and retries only the failed ones
    monkeypatch.delenv("STANDIN_CRASH")
    monkeypatch.delenv("STANDIN_HANG")
    result, _ = run(["cmt"], overrides)
    assert result.systems[0].already_done == len(ids) - 2 and result.systems[0].generated == 2


@pytest.mark.slow
def test_a_midi_without_notes_is_a_failure_not_silence(mini_dataset, standin):
    root, ov = mini_dataset
    ids = split_test_ids(root)
    _, run_dir = run(["cmt"], [*ov, *system_overrides("cmt", standin("cmt")), f"++system.cmt.env.STANDIN_EMPTY_MIDI={ids[0]}"])
    assert "the MIDI has no notes" in failures(run_dir, "cmt")[ids[0]]
    assert (run_dir / "cmt" / f"{ids[1]}.wav").exists()


def test_retries_rerun_a_failed_clip_in_a_fresh_directory(mini_dataset, standin, tmp_path):
    from bench import api
    from bench.config import to_dict
    from bench.generation import build_system

    root, ov = mini_dataset
    repo = standin("cmt")
    flag = tmp_path / "crashed-once"
    # the first optical-flow call crashes, the retry succeeds
    script = repo / "src" / "video2npz" / "optical_flow.py"
    script.write_text(script.read_text().replace(
        "common.misbehave(os.path.basename(a.video))",
        f"common.misbehave(os.path.basename(a.video))\nif not os.path.exists({str(flag)!r}):\n"
        f"    open({str(flag)!r}, 'w').close()\n    raise SystemExit(3)"))
    cfg = api.load_config("toy", ["cmt"], [*ov, *system_overrides("cmt", repo), "system.cmt.retries=1"], metrics=[])
    conf = to_dict(cfg)
    clips = api.dataset_clips(cfg)
    system = build_system("cmt", conf["system"]["cmt"], api.system_context(conf, clips, "cmt"))
    from systems.base import GenerationRequest

    req = GenerationRequest(clips[0], 0, 7)
    (res,) = list(system.generate([req]))
    assert res.error is None and res.audio.shape == (64000,)
    logs = Path(conf["paths"]["runs_root"]) / conf["run"]["name"] / "cmt" / "logs"
    assert (logs / f"{clips[0].id}.optical_flow.try1.err").exists() and (logs / f"{clips[0].id}.generate.try2.out").exists()


def test_launcher_seeds_pins_environment_and_skips_sleeps(tmp_path):
    from systems.baselines.external import LAUNCH

    script = tmp_path / "s.py"
    script.write_text("import os, random, time, numpy\nos.environ['CUDA_VISIBLE_DEVICES'] = '1'\n"
                      "t = time.time(); time.sleep(3)\n"
                      "print(random.random(), numpy.random.rand(), os.environ['CUDA_VISIBLE_DEVICES'], time.time() - t < 1)\n")
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "0"}

    def go(seed):
        return subprocess.run([sys.executable, str(LAUNCH), "--seed", str(seed), "--pin-env", "CUDA_VISIBLE_DEVICES",
                               "--no-sleep-from", "__main__", "--", str(script)], capture_output=True, text=True,
                              env=env, check=True).stdout.split()

    a, b, c = go(1), go(1), go(2)
    assert a == b and a[:2] != c[:2]
    assert a[2:] == ["0", "True"]


def test_missing_repo_and_environment_are_named_with_the_fix(mini_dataset, tmp_path):
    from systems.baselines.cmt import CMTSystem

    problems = CMTSystem.readiness({"repo_dir": str(tmp_path / "nope"), "env_dir": str(tmp_path / "env"),
                                    "checkpoint": str(tmp_path / "ck.pt")})
    text = "\n".join(problems)
    assert "nope/src/gen_midi_conditional.py not found" in text and "bench systems setup cmt" in text
    assert f"{tmp_path / 'env' / 'bin' / 'python'} not found" in text and "Python 3.8" in text
    assert "ck.pt not found" in text and "drive.google.com" in text
    from systems.baselines.external import NotReadyError

    root, ov = mini_dataset
    with pytest.raises(NotReadyError, match="bench systems setup cmt"):  # the run stops before any clip
        run(["cmt"], [*ov, f"system.cmt.repo_dir={tmp_path / 'nope'}"])
