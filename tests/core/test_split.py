from collections import Counter

import pytest

from core.manifest import Clip
from core.split import grouped_split, official_split
from core.errors import DatasetError


def _clips(n_sources=30, per=(1, 2, 3, 4, 5)):
    out = []
    for s in range(n_sources):
        for k in range(per[s % len(per)]):
            out.append(Clip(f"s{s}__{k}", "v.mp4", "a.wav", 10.0 * k, 10.0, f"s{s}"))
    return out


@pytest.mark.parametrize("seed", range(5))
def test_no_source_in_both_splits_and_about_ten_percent(seed):
    clips = grouped_split(_clips(), 0.1, seed)
    by_split = {sp: {c.source for c in clips if c.split == sp} for sp in ("train", "test")}
    assert not by_split["train"] & by_split["test"]
    n_test = Counter(c.split for c in clips)["test"]
    assert 0.05 * len(clips) <= n_test <= 0.2 * len(clips)


def test_deterministic_for_a_seed_and_varies_across_seeds():
    a = [c.split for c in grouped_split(_clips(), 0.1, 3)]
    assert a == [c.split for c in grouped_split(_clips(), 0.1, 3)]
    assert any(a != [c.split for c in grouped_split(_clips(), 0.1, s)] for s in range(4, 9))


def test_independent_of_clip_order():
    clips = _clips()
    a = {c.id: c.split for c in grouped_split(clips, 0.1, 1)}
    b = {c.id: c.split for c in grouped_split(list(reversed(clips)), 0.1, 1)}
    assert a == b


def test_keeps_a_training_source_and_needs_two_sources():
    clips = _clips(2, per=(3,))
    split = grouped_split(clips, 0.9, 0)
    assert {c.split for c in split} == {"train", "test"}
    with pytest.raises(DatasetError, match="2 sources"):
        grouped_split(_clips(1), 0.1, 0)


def test_official_split_uses_the_listed_sources():
    clips = official_split(_clips(4), {"s1", "s3"})
    assert {c.source for c in clips if c.split == "test"} == {"s1", "s3"}
