"""Balanced assignment: every item shown a near-equal number of times, never twice to a rater,
left/right balanced per item, attention checks per rater, reproducible from the seed."""

from collections import Counter

import pytest

from core.errors import ConfigError
from human_eval.assign import build_plan

CLIPS = [f"c{i}" for i in range(7)]
SYSTEMS = ["dyvim", "vidmuse", "shuffled"]


def _plan(**kw):
    args = dict(clips=CLIPS, systems=SYSTEMS, raters=13, per_rater=10, seed=3)
    args.update(kw)
    return build_plan(**args)


def test_every_item_is_shown_equally_often_and_never_twice_to_one_rater():
    plan = _plan()
    regular = Counter()
    for seq in plan.raters:
        idx = [i for i, _ in seq]
        assert len(idx) == len(set(idx))
        regular.update(i for i in idx if plan.items[i].check is None)
    for kind in ("pairwise", "single"):
        counts = [regular[i] for i, it in enumerate(plan.items) if it.kind == kind and it.check is None]
        assert max(counts) - min(counts) <= 1, (kind, counts)
    n_pairs = sum(it.kind == "pairwise" and it.check is None for it in plan.items)
    assert n_pairs == len(CLIPS) * 3  # 3 system pairs per clip


def test_left_right_is_balanced_per_item_and_systems_per_side():
    plan = _plan(raters=40)
    left = Counter()
    shows = Counter()
    side_of = Counter()
    for seq in plan.raters:
        for i, a_left in seq:
            it = plan.items[i]
            if it.kind == "pairwise" and it.check is None:
                shows[i] += 1
                left[i] += a_left
                side_of[it.system_a if a_left else it.system_b] += 1
    assert all(abs(2 * left[i] - shows[i]) <= 1 for i in shows)
    assert max(side_of.values()) - min(side_of.values()) <= len(shows)  # no system stuck on one side


def test_attention_checks_and_shares():
    plan = _plan(single_share=0.3, checks=2)
    for seq in plan.raters:
        items = [plan.items[i] for i, _ in seq]
        assert sum(it.check is None and it.kind == "single" for it in items) == 3
        assert sum(it.check is None and it.kind == "pairwise" for it in items) == 7
        checks = [it for it in items if it.check]
        assert {c.check for c in checks} == {"identical", "degraded"}
        for c in checks:
            assert c.system_a == c.system_b
            assert c.expected == ("tie" if c.check == "identical" else "a")


def test_same_seed_same_plan_other_seed_other_order():
    assert _plan().raters == _plan().raters
    assert _plan().raters != _plan(seed=4).raters


def test_bad_requests_are_named():
    with pytest.raises(ConfigError, match="only 21 distinct"):
        _plan(per_rater=40, single_share=0)
    with pytest.raises(ConfigError, match="at least two systems"):
        build_plan(CLIPS, ["dyvim"], 2, 3)
    with pytest.raises(ConfigError, match="listed twice"):
        build_plan(CLIPS, ["a", "a"], 2, 3)
