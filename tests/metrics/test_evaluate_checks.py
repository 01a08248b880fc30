"""Outputs are checked when they are scored: a wav that breaks the protocol (rate, channels,
length, finite samples) is named and not scored, and a resumed run regenerates it; a metric that
fails names itself; --allow-missing with a system that has no output leaves it out."""

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bench import api
from metrics.errors import MetricFailed, PairingError


def _run(ov, **kw):
    return api.run(["reference", "slow_sine"], "toy", ov + ["executor.workers=1", "run.split=all"], name="chk", metrics=[], **kw)


@pytest.fixture
def run_with_bad_outputs(mini_dataset):
    root, ov = mini_dataset
    res = _run(ov)
    out = res.run_dir / "slow_sine"
    wavs = sorted(p for p in out.glob("*.wav"))
    assert len(wavs) >= 4
    n = sf.info(str(wavs[0])).frames
    sf.write(wavs[0], np.zeros(n // 2, np.float32), 8000, subtype="FLOAT")  # another rate
    sf.write(wavs[1], np.zeros(n // 2, np.float32), 16000, subtype="FLOAT")  # too short
    sf.write(wavs[2], np.zeros((n, 2), np.int16), 16000, subtype="PCM_16")  # stereo 16-bit
    nan = np.zeros(n, np.float32)
    nan[10] = np.nan
    sf.write(wavs[3], nan, 16000, subtype="FLOAT")  # NaN samples
    return ov, res.run_dir, wavs[:4]


def test_scoring_refuses_outputs_that_break_the_protocol(run_with_bad_outputs):
    ov, run_dir, bad = run_with_bad_outputs
    with pytest.raises(PairingError) as info:
        api.evaluate(run_dir, metrics=["beat"])
    msg = str(info.value)
    assert "4 output(s) break the protocol" in msg
    for p, why in zip(bad, ("sample rate 8000 Hz", "samples (1.000 s), the clip needs", "2 channels", "NaN or infinite")):
        assert f"{p}: " in msg and why in msg, (p, why, msg)
    assert not (run_dir / "metrics" / "beat.parquet").exists()


def test_a_resume_regenerates_bad_outputs_then_they_score(run_with_bad_outputs):
    ov, run_dir, bad = run_with_bad_outputs
    res = _run(ov)
    summary = {s.system: s for s in res.systems}["slow_sine"]
    assert summary.generated == 4 and summary.already_done == summary.requested - 4
    ev = api.evaluate(run_dir, metrics=["beat"])
    assert set(ev.table["system"]) == {"reference", "slow_sine"}


def test_allow_missing_leaves_out_a_bad_output_with_a_note(run_with_bad_outputs):
    ov, run_dir, bad = run_with_bad_outputs
    ev = api.evaluate(run_dir, metrics=["beat"], allow_missing=True)
    n = int(ev.table["n_clips"].max())
    assert n == len(list((run_dir / "reference").glob("*.wav"))) - 4
    assert any("break the protocol" in note for note in ev.notes)


def test_allow_missing_with_a_system_without_outputs_scores_the_others(mini_dataset):
    root, ov = mini_dataset
    res = _run(ov)
    for p in (res.run_dir / "slow_sine").glob("*.wav"):
        p.unlink()
    ev = api.evaluate(res.run_dir, metrics=["beat"], allow_missing=True)
    assert set(ev.table["system"]) == {"reference"}
    assert int(ev.table["n_clips"].max()) == len(list((res.run_dir / "reference").glob("*.wav")))
    assert any("left out" in n and "slow_sine" in n for n in ev.notes)


def test_a_failing_metric_names_itself(mini_dataset, monkeypatch):
    from metrics.base import get_metric_class

    root, ov = mini_dataset
    res = _run(ov)
    cls = get_metric_class("beat")

    def boom(self, clips, generated, reference):
        raise ValueError("x must have at least 2 elements")

    monkeypatch.setattr(cls, "scores", boom)
    with pytest.raises(MetricFailed, match=r"metric 'beat' failed on system 'reference' \(\d+ clip\(s\)\): "
                                           r"ValueError: x must have"):
        api.evaluate(res.run_dir, metrics=["beat"])


def test_a_key_defined_on_one_clip_keeps_its_value_without_an_interval():
    from metrics.base import Score
    from metrics.evaluate import summarise

    ci, n = summarise(Score(per_clip=np.array([np.nan, 0.4, np.nan])), 3, 100, 0)
    assert n == 1 and ci.estimate == 0.4 and np.isnan(ci.ci_low) and ci.method.startswith("none")


def test_a_metric_prepares_once_with_every_file_it_will_score(mini_dataset, monkeypatch):
    """Metric.prepare gets all systems' outputs and the references in one call (where the beat
    metrics run madmom over every core), before any system is scored."""
    from metrics.rhythm import BeatMetric

    _, ov = mini_dataset
    res = _run(ov)
    calls = []
    monkeypatch.setattr(BeatMetric, "prepare", lambda self, gen, ref: calls.append((sorted(map(str, gen)), list(ref))))
    api.evaluate(res.run_dir, metrics=["beat"])
    assert len(calls) == 1
    gen, ref = calls[0]
    assert gen == sorted(str(p) for s in ("reference", "slow_sine") for p in (res.run_dir / s).glob("*.wav"))
    assert len(ref) == len(gen) // 2 and all(Path(p).exists() for p in ref)
