"""Aggregation against hand-computed values: Wilson intervals, Bradley–Terry strengths (MLE by
Zermelo's iteration), OVL/REL means, Krippendorff's α, and the rater exclusion rule."""

import math

import numpy as np
import pandas as pd
import pytest

from human_eval.aggregate import (ExclusionRule, aggregate, bradley_terry, comparison_matrix, krippendorff_alpha,
                                  wilson)
from human_eval.export import COLUMNS


def test_wilson_matches_hand_computation():
    # k=8, n=10, z=1.96: centre (0.8 + 0.19208)/1.38415 = 0.71676, half 0.22653
    lo, hi = wilson(8, 10)
    assert lo == pytest.approx(0.49016, abs=1e-4) and hi == pytest.approx(0.94334, abs=1e-4)
    assert wilson(0, 5)[0] == 0.0 and wilson(5, 5)[1] == 1.0
    assert all(math.isnan(x) for x in wilson(0, 0))


def _zermelo(m: np.ndarray, iters: int = 3000) -> np.ndarray:
    """Bradley–Terry MLE by the classic fixed point p_i = W_i / Σ_j n_ij / (p_i + p_j)."""
    p = np.ones(len(m))
    n = m + m.T  # zero diagonal: no self-comparisons
    for _ in range(iters):
        p = m.sum(1) / (n / (p[:, None] + p[None, :])).sum(1)
        p /= np.exp(np.log(p).mean())
    return np.log(p)


def test_bradley_terry_matches_the_maximum_likelihood_fixed_point():
    m = np.array([[0, 7, 9], [3, 0, 6], [1, 4, 0]], float)
    assert bradley_terry(m, alpha=0.0) == pytest.approx(_zermelo(m), abs=1e-5)
    two = np.array([[0, 3], [1, 0]], float)  # two systems: θ1 − θ2 = log(3/1)
    theta = bradley_terry(two, alpha=0.0)
    assert theta[0] - theta[1] == pytest.approx(math.log(3), abs=1e-5)


def test_krippendorff_alpha_hand_example():
    # coincidences o_aa=2, o_bb=2, o_ab=o_ba=1: D_o=1/3, D_e=18/30 -> α = 1 - (1/3)/0.6 = 4/9
    assert krippendorff_alpha([["a", "a"], ["b", "b"], ["a", "b"]]) == pytest.approx(4 / 9)
    assert krippendorff_alpha([["a", "a"], ["b", "b"]]) == pytest.approx(1.0)
    assert math.isnan(krippendorff_alpha([["a"], ["b"]]))


def _row(rater, item, question, answer, kind="pairwise", a="x", b="y", a_on_left=True, check=None, expected=None,
         spent=20000):
    left, right = (a, b) if a_on_left else (b, a)
    winner = {"left": left, "right": right, "tie": "tie"}.get(answer) if kind == "pairwise" else None
    return dict(study="s", rater=rater, item=item, kind=kind, clip_id=f"c{item}", check=check, expected=expected,
                system_a=a, system_b=b if kind == "pairwise" else None, a_on_left=a_on_left, left_system=left,
                right_system=right, position=0, question=question, answer=answer, winner=winner, shown_at=None,
                answered_at=None, time_spent_ms=spent, submission_id="x")


def _votes():
    rows = []
    # raters 0..3 compare x vs y on item 1 (x on the left for raters 0,1; on the right for 2,3)
    answers = {0: "left", 1: "left", 2: "left", 3: "tie"}  # rater 2 prefers the left = y
    for r, ans in answers.items():
        for q in ("semantic", "dynamic", "overall"):
            rows.append(_row(r, 1, q, ans, a_on_left=r < 2))
        rows.append(_row(r, 2, "ovl", str(5 + r), kind="single"))
        rows.append(_row(r, 2, "rel", "8", kind="single"))
        rows.append(_row(r, 9, "overall", "tie", a="x", b="x", check="identical", expected="tie"))
    # rater 4 fails the identical check: excluded
    for q in ("semantic", "dynamic", "overall"):
        rows.append(_row(4, 1, q, "right", a_on_left=True))
    rows.append(_row(4, 9, "overall", "left", a="x", b="x", check="identical", expected="tie"))
    return pd.DataFrame(rows, columns=COLUMNS)


def test_aggregate_counts_wins_ties_and_applies_the_exclusion_rule():
    res = aggregate(_votes(), "s", ExclusionRule(min_median_s=3.0), systems=["x", "y"])
    assert res.raters.set_index("rater").loc[4, "excluded"]
    assert "attention" in res.raters.set_index("rater").loc[4, "reasons"]
    t = res.table
    assert list(t.columns[:12]) == ["study", "kind", "question", "system", "opponent", "wins", "ties", "losses", "n",
                                    "value", "ci_low", "ci_high"]
    x = t[(t.kind == "pairwise") & (t.question == "overall") & (t.system == "x")].iloc[0]
    assert (x.wins, x.ties, x.losses, x.n) == (2, 1, 1, 4)
    assert x.value == pytest.approx(0.5) and (x.ci_low, x.ci_high) == pytest.approx(wilson(2, 4))
    y = t[(t.kind == "pairwise") & (t.question == "overall") & (t.system == "y")].iloc[0]
    assert (y.wins, y.losses) == (1, 2)
    ovl = t[(t.kind == "rating") & (t.question == "ovl")].iloc[0]
    assert ovl.value == pytest.approx(65.0) and ovl.n == 4  # mean of 5,6,7,8 × 10
    half = 10 * 3.182446 * np.std([5, 6, 7, 8], ddof=1) / 2
    assert (ovl.ci_low, ovl.ci_high) == pytest.approx((65 - half, 65 + half), abs=1e-3)
    assert not (t.kind == "bradley_terry").any()  # two systems: win shares say it all
    # the excluded rater's votes are gone: with them x would have 3 losses
    kept_all = aggregate(_votes(), "s", ExclusionRule(max_check_failures=None), systems=["x", "y"]).table
    assert kept_all[(kept_all.question == "overall") & (kept_all.system == "x")].iloc[0].losses == 2


def test_straight_lining_and_too_fast_raters_are_flagged():
    rows = [_row(7, i, "overall", "left", spent=1000) for i in range(6)]
    rows += [_row(8, i, "overall", ["left", "right", "tie"][i % 3]) for i in range(6)]
    res = aggregate(pd.DataFrame(rows, columns=COLUMNS), "s", ExclusionRule(), systems=["x", "y"])
    q = res.raters.set_index("rater")
    assert "straight-lining" in q.loc[7, "reasons"] and "too fast" in q.loc[7, "reasons"]
    assert not q.loc[8, "excluded"]
    off = aggregate(pd.DataFrame(rows, columns=COLUMNS), "s",
                    ExclusionRule(straightline_share=None, min_median_s=None), systems=["x", "y"])
    assert not off.raters["excluded"].any()


def test_bradley_terry_rows_with_bootstrap_ci_for_three_systems():
    rows = []
    rng = np.random.default_rng(0)
    strength = {"x": 1.0, "y": 0.0, "z": -1.0}
    item = 0
    for r in range(12):
        for a, b in (("x", "y"), ("y", "z"), ("x", "z")):
            for _ in range(3):
                item += 1
                p = 1 / (1 + math.exp(strength[b] - strength[a]))
                rows.append(_row(r, item, "overall", "left" if rng.random() < p else "right", a=a, b=b))
    votes = pd.DataFrame(rows, columns=COLUMNS)
    res = aggregate(votes, "s", ExclusionRule(straightline_share=None), systems=["x", "y", "z"], n_boot=200)
    bt = res.table[res.table.kind == "bradley_terry"].set_index("system")
    expected = bradley_terry(comparison_matrix(votes, ["x", "y", "z"]))
    assert bt["value"].to_numpy() == pytest.approx(expected)
    assert bt.loc["x", "value"] > bt.loc["y", "value"] > bt.loc["z", "value"]
    assert (bt["ci_low"] <= bt["value"]).all() and (bt["value"] <= bt["ci_high"]).all()
    assert bt["opponent"].isna().all()


def test_rating_intervals_stay_on_the_scale():
    """n=2 ratings 6 and 7: the t interval (65 ± 63.5) is clipped to the 1-10 scale (×10)."""
    rows = [_row(r, 1, q, a, kind="single") for r, a in ((0, "6"), (1, "7")) for q in ("ovl", "rel")]
    table = aggregate(pd.DataFrame(rows, columns=COLUMNS), "s", ExclusionRule(None, None, 5, None)).table
    ovl = table[(table["kind"] == "rating") & (table["question"] == "ovl")].iloc[0]
    assert ovl["value"] == pytest.approx(65.0)
    assert ovl["ci_low"] == 10.0 and ovl["ci_high"] == 100.0


def test_batched_bradley_terry_equals_choix_on_every_replicate():
    from human_eval.aggregate import bradley_terry_batch

    rng = np.random.default_rng(3)
    mats = rng.integers(0, 15, (40, 3, 3)).astype(float)
    for i in range(3):
        mats[:, i, i] = 0
    batch = bradley_terry_batch(mats, alpha=0.01)
    for m, got in zip(mats, batch):
        assert got == pytest.approx(bradley_terry(m, alpha=0.01), abs=1e-6)
