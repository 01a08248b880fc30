"""The science check's machinery (bench/experiments/science.py) on synthetic inputs: the controls
destroy only what they say, the onset probe and the floors, the paired statistics, the Bar line."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from bench.experiments import science as sc


def items(n=4, t_o=20, seed=0):
    rng = np.random.default_rng(seed)
    return [SimpleNamespace(clip_id=f"c{i}", dynamics=rng.normal(size=(t_o, 3, 2, 2)).astype(np.float32),
                            semantics=rng.normal(size=(5, 8)).astype(np.float32), semantics_mask=np.ones(5, bool),
                            codes=rng.integers(0, 2048, (4, 40)), n_steps=40) for i in range(n)]


def test_controls_destroy_only_what_they_say():
    its = items()
    sources = ["a", "a", "b", "b"]
    others = [sc.other_index(sources, i) for i in range(4)]
    assert [sources[o] != sources[i] for i, o in enumerate(others)] == [True] * 4
    mean_sem = (np.zeros((5, 8), np.float32), np.ones(5, bool))
    rng = np.random.default_rng(0)
    own = its[0].dynamics
    shuffled, sem, _ = sc.control_inputs("dyn_time_shuffled", 0, its, others, mean_sem, rng)
    assert sorted(map(bytes, shuffled)) == sorted(map(bytes, own)) and not np.array_equal(shuffled, own)
    assert sem is its[0].semantics
    mean, _, _ = sc.control_inputs("dyn_time_mean", 0, its, others, mean_sem, rng)
    assert np.allclose(mean, own.mean(0, keepdims=True)) and mean.shape == own.shape
    other, _, _ = sc.control_inputs("dyn_other_clip", 0, its, others, mean_sem, rng)
    assert np.array_equal(other, its[others[0]].dynamics)
    dyn, sem, _ = sc.control_inputs("sem_mean", 0, its, others, mean_sem, rng)
    assert dyn is own and np.array_equal(sem, mean_sem[0])
    with pytest.raises(Exception, match="unknown science condition"):
        sc.control_inputs("nothing", 0, its, others, mean_sem, rng)


def test_onset_probe_sees_codes_that_change_at_onsets_and_not_random_ones():
    rng = np.random.default_rng(0)
    onsets = [np.sort(rng.choice(np.arange(5, 195), 15, replace=False)) for _ in range(6)]
    codes = []
    for on in onsets:
        c = np.zeros((4, 200), np.int64)
        for k in range(4):
            c[k] = np.cumsum(np.isin(np.arange(200), on)) * (k + 1)
        codes.append(c)
    assert sc.code_onset_probe(codes, onsets)["auc"] > 0.99
    noise = [rng.integers(0, 2048, (4, 200)) for _ in onsets]
    assert abs(sc.code_onset_probe(noise, onsets)["auc"] - 0.5) < 0.05


def test_code_frequency_floor_and_auc():
    train = [np.zeros((4, 50), np.int64)]
    test = [np.zeros((4, 10), np.int64)]
    assert sc.code_frequency_nll(train, test) == pytest.approx(-np.log(51 / (50 + 2048)))
    assert sc.auc(np.array([0, 0, 1, 1], bool), np.array([0.1, 0.2, 0.8, 0.9])) == 1.0


def test_summary_pairs_by_clip_and_the_bar_line(tmp_path):
    t, n = 60, 6
    onsets = [np.arange(5, t, 10) for _ in range(n)]
    full = [np.full((n, t), 7.0) for _ in range(2)]
    shuffled = []
    for f in full:  # the control costs 0.5 nats at onsets, 0.1 elsewhere
        s = f.copy()
        for i, on in enumerate(onsets):
            s[i] += 0.1
            s[i, on] += 0.4
        shuffled.append(s)
    per_seed = {"full": full, **{c: [f.copy() for f in full] for c in sc.CONTROLS}}
    per_seed["dyn_time_shuffled"] = shuffled
    cfg = sc.ScienceConfig(seeds=(0, 1), onset_window=0, n_resamples=200)
    res = sc.summarise(per_seed, onsets, [None] * n, cfg, {"uniform": 7.6, "code_frequency": 6.0}, {"auc": 0.6})
    g = res.gains["dyn_time_shuffled"]
    assert g["near"] == pytest.approx(0.5) and g["far"] == pytest.approx(0.1)
    # near / overall: 6 onset frames of 60 → overall 0.1 · 0.5 + 0.9 · 0.1 = 0.14
    assert g["ratio"] == pytest.approx(0.5 / 0.14) and g["near_far_ratio"] == pytest.approx(5.0)
    assert res.gains["dyn_other_clip"]["mean"] == 0.0
    assert res.peri_onset["dyn_time_shuffled"][sc.PERI] == pytest.approx(0.5)
    line = res.bar_line()
    assert line.startswith("gain_vs_timeshuffle=") and "onset_gain_ratio=3.57 [3.57, 3.57]" in line
    clips = [SimpleNamespace(id=f"c{i}") for i in range(n)]
    res.config = {"onset_window": 0}
    sc.write_results(res, per_seed, clips, onsets, tmp_path, 0)
    assert json.loads((tmp_path / sc.RESULTS_FILE).read_text())["gains"]["dyn_time_shuffled"]["ratio"] == pytest.approx(0.5 / 0.14)
    assert len((tmp_path / sc.PER_CLIP_FILE).read_text().splitlines()) == 1 + 6 * 2 * n


def test_science_config_rejects_unknown_keys():
    from core.errors import ConfigError

    assert sc.ScienceConfig.from_dict({"seeds": [3, 4]}).seeds == (3, 4)
    with pytest.raises(ConfigError, match="unknown key"):
        sc.ScienceConfig.from_dict({"steps": 3, "epochs": 2})


def test_the_science_experiment_is_defined():
    from bench.experiments import load_experiment

    exp = load_experiment("science")
    assert exp.artefact == "science" and exp.science["seeds"] and "toy" in exp.datasets
