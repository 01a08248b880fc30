"""The science check's generation half (bench/experiments/science_audio.py): the measures and their summary."""

from __future__ import annotations

import numpy as np
import pytest

from bench.experiments import science_audio as sa
from bench.experiments.science import bootstrap_mean
from reports.science import generation_table


def held_codes(changes: list[int], t: int = 40, k: int = 4) -> np.ndarray:
    codes = np.zeros((k, t), np.int64)
    for i, c in enumerate(changes):
        codes[:, c:] = i + 1
    return codes


def test_change_frames_and_f_measure():
    codes = held_codes([5, 15, 25])
    assert sa.change_frames(codes).tolist() == [5, 15, 25]
    assert sa.change_f(codes, np.array([5, 15, 25])) == 1.0
    assert sa.change_f(codes, np.array([6, 14, 26])) == 1.0  # within ±1 frame
    # two of three changes hit two of four onsets: P = 2/3, R = 2/4
    assert sa.change_f(codes, np.array([5, 15, 33, 37])) == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert sa.change_f(codes, np.array([9, 20])) == 0.0
    assert sa.change_f(held_codes([]), np.array([5])) == 0.0  # codes that never change
    assert sa.change_f(codes, np.array([], np.int64)) == 0.0
    one_book = held_codes([]).copy()
    one_book[3, 10:] = 7  # a change in any codebook counts
    assert sa.change_frames(one_book).tolist() == [10]


def test_summary_pairs_by_clip_and_the_table_renders():
    n = 8
    full = {"change_f": np.full(n, 0.5), "sync_strength": np.linspace(0.2, 0.3, n)}
    shuffled = {"change_f": np.full(n, 0.3), "sync_strength": np.linspace(0.2, 0.3, n)}
    per_seed = {"full": [full, full], "dyn_time_shuffled": [shuffled, shuffled], "no_dynamics": [shuffled],
                "reference": [full]}
    gen = sa.summarise_generation(per_seed, 200, bootstrap_mean, 10.0)
    g = gen["gains"]["dyn_time_shuffled"]
    assert g["change_f"]["mean"] == pytest.approx(0.2) and g["change_f"]["lo"] == pytest.approx(0.2)
    assert g["sync_strength"]["mean"] == pytest.approx(0.0)
    assert gen["conditions"]["reference"]["change_f"]["mean"] == pytest.approx(0.5)
    lines = sa.generation_lines(gen)
    assert len(lines) == 2 and "full − dyn_time_shuffled +0.200 [+0.200, +0.200]" in lines[0]
    table = generation_table("toy", gen)
    assert "change F" in table and "+0.200" in table and "reference music" in table
