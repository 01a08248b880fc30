"""The Metric interface and registry (built-ins + the `dyvim_bench.metrics` entry-point group).

A metric scores a system's generated set against the reference set, **paired by clip id**.
It returns `Score`s, one per key (a metric may report several: KL's softmax and sigmoid
variants, beat coverage and hit, alignment in both directions). A score is either

* per-clip values (in the order of the clip ids given): the set value is their mean, or
* a set-level statistic of resampled clip indices (FD, FAD, IS): `statistic(idx)` with `idx`
  an R×n array returns R values, `statistic(arange(n)[None])` the value on all clips.

`metrics.evaluate` turns either into a value with a bootstrap CI, and pairs two systems' scores
for a comparison (difference, CI, p-value) — so every metric gets uncertainty the same way.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ClassVar, Mapping, Sequence

import numpy as np

from core.manifest import Clip
from core.errors import UnknownNameError

ENTRY_POINT_GROUP = "dyvim_bench.metrics"


@dataclass
class Score:
    per_clip: np.ndarray | None = None
    statistic: Callable[[np.ndarray], np.ndarray] | None = None
    higher_is_better: bool = False
    #: a metric that needs at least this many clips (e.g. IS: 10) raises below it
    min_clips: int = 1
    #: the least value the statistic can take (FD, FAD: 0; IS: 1), or None: its CI is clipped
    #: there (a basic interval, 2θ̂ − q, can fall below it when θ̂ sits at the bound)
    floor: float | None = None
    #: a value the statistic should be close to (BCS: 1, a signed offset: 0), or None: systems
    #: then rank by |value − target| instead of by `higher_is_better`
    target: float | None = None


class Metric(abc.ABC):
    name: ClassVar[str] = ""
    #: 'pretrained', 'random' (numbers not comparable to published ones) or 'none' (no model)
    weights: str = "none"

    def __init__(self, cache=None, seed: int = 0):
        self.cache = cache
        self.seed = seed

    def describe(self) -> dict:
        """Config, weights kind and weights file digest: stored beside every value."""
        return {"weights": self.weights}

    @abc.abstractmethod
    def scores(self, clips: Sequence[Clip], generated: Mapping[str, Path],
               reference: Mapping[str, Path]) -> dict[str, Score]:
        """Score `generated` against `reference` (both: clip id → wav) for `clips`, in the order
        of `clips`; every clip id is in both mappings (the caller pairs and checks)."""


_BUILTIN: dict[str, type[Metric]] = {}


def register_metric(name: str):
    def deco(cls: type[Metric]) -> type[Metric]:
        cls.name = name
        _BUILTIN[name] = cls
        return cls

    return deco


def _builtin_modules() -> None:
    import metrics.rhythm  # noqa: F401  (registers beat, align)
    import metrics.embedding_metrics  # noqa: F401  (registers fd, fad, kl, is)
    import metrics.sync  # noqa: F401  (registers sync)
    import metrics.desync  # noqa: F401  (registers desync)
    import metrics.retrieval  # noqa: F401  (registers retrieval)
    import metrics.symbolic  # noqa: F401  (registers symbolic)
    import metrics.relevance  # noqa: F401  (registers imagebind)


def _entry_points() -> dict:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def known_metrics() -> list[str]:
    _builtin_modules()
    return sorted(set(_BUILTIN) | set(_entry_points()))


def get_metric_class(name: str) -> type[Metric]:
    _builtin_modules()
    if name in _BUILTIN:
        return _BUILTIN[name]
    eps = _entry_points()
    if name in eps:
        return eps[name].load()
    raise UnknownNameError("metric", name, known_metrics())
