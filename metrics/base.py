"""The Metric interface and registry (`METRICS`: built-ins, the `dyvim_bench.metrics` entry-point group,
or a metric YAML naming its `class:`).

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
from core.registry import Registry, keep_name, named

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
    #: whether `scores` reads each clip's caption (the text–audio CLAP score): stored rows then
    #: depend on the captions too (their fingerprint covers them)
    uses_captions: ClassVar[bool] = False

    def __init__(self, cache=None, seed: int = 0):
        self.cache = cache
        self.seed = seed

    def describe(self) -> dict:
        """Config, weights kind and weights file digest: stored beside every value."""
        return {"weights": self.weights}

    def prepare(self, generated: Sequence[Path], reference: Sequence[Path]) -> None:
        """Optional, called once before `scores` with every file the evaluation will score (all
        systems' outputs) and the references: a metric may fill its per-file cache here, e.g. in
        parallel (the beat trackers run madmom over the files on every core). Default: nothing."""

    @abc.abstractmethod
    def scores(self, clips: Sequence[Clip], generated: Mapping[str, Path],
               reference: Mapping[str, Path]) -> dict[str, Score]:
        """Score `generated` against `reference` (both: clip id → wav) for `clips`, in the order
        of `clips`; every clip id is in both mappings (the caller pairs and checks)."""


#: Every built-in metric, name → "module:Class" (imported when asked for). Plug-ins: an entry point
#: (group ENTRY_POINT_GROUP) or a `bench/conf/metric/<name>.yaml` with `class: mypkg.mod:MyMetric`.
BUILTIN_METRICS: dict[str, str] = {
    "fd": "metrics.embedding_metrics:FD",
    "fad": "metrics.embedding_metrics:FAD",
    "fad_inf": "metrics.embedding_metrics:FADInf",
    "fad_clip": "metrics.embedding_metrics:FADPerClip",
    "kid": "metrics.embedding_metrics:KID",
    "kl": "metrics.embedding_metrics:KL",
    "is": "metrics.embedding_metrics:IS",
    "beat": "metrics.rhythm:BeatMetric",
    "align": "metrics.rhythm:AlignMetric",
    "sync": "metrics.sync:SyncMetric",
    "desync": "metrics.desync:DesyncMetric",
    "retrieval": "metrics.retrieval:RetrievalMetric",
    "symbolic": "metrics.symbolic:SymbolicMetric",
    "imagebind": "metrics.relevance:ImageBindMetric",
    "clap_score": "metrics.embedding_metrics:ClapScore",
}


METRICS: Registry[type[Metric]] = Registry("metric", BUILTIN_METRICS, base=Metric, entry_point_group=ENTRY_POINT_GROUP,
                                           yaml_group="metric", on_load=keep_name)


#: class decorator naming a metric class (`cls.name`); built-ins are declared in BUILTIN_METRICS, a plug-in is
#: found through its entry point or its YAML's `class:` (README: "Adding a system or a metric")
register_metric = named


def known_metrics() -> list[str]:
    return METRICS.names()


def get_metric_class(name: str) -> type[Metric]:
    return METRICS.load(name)
