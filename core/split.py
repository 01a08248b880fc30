"""Seeded train/test splits grouped by source: no source ever lands in both splits."""

from __future__ import annotations

import dataclasses
import random
from collections import defaultdict

from core.manifest import Clip
from core.errors import DatasetError


def grouped_split(clips: list[Clip], test_fraction: float = 0.1, seed: int = 0) -> list[Clip]:
    """Assign `split` so about `test_fraction` of the clips are test, whole sources at a time.

    Sources are shuffled with `seed`, then taken into the test split until it holds
    round(test_fraction * clips) clips (at least one source, and at least one source is
    left for training). Deterministic for a given clip set and seed.
    """
    by_source: dict[str, list[Clip]] = defaultdict(list)
    for c in clips:
        by_source[c.source].append(c)
    sources = sorted(by_source)
    if len(sources) < 2:
        raise DatasetError(f"a grouped split needs at least 2 sources, got {len(sources)}")
    random.Random(seed).shuffle(sources)
    target = max(1, round(test_fraction * len(clips)))
    test: set[str] = set()
    n_test = 0
    for s in sources[:-1]:
        if n_test >= target:
            break
        test.add(s)
        n_test += len(by_source[s])
    return [dataclasses.replace(c, split="test" if c.source in test else "train") for c in clips]


def official_split(clips: list[Clip], test_sources: set[str]) -> list[Clip]:
    """Use a published list of test sources (e.g. AIST++ crossmodal_test)."""
    return [dataclasses.replace(c, split="test" if c.source in test_sources else "train") for c in clips]
