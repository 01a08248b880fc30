"""The Metric interface and registry (built-ins + the `dyvim_bench.metrics` entry-point group).

A metric takes the generated and reference sets paired by clip id and returns a set-level value
(with a bootstrap CI) and, where defined, per-clip values. Concrete metrics (FD, FAD, KL, beat
and video–music alignment) arrive with the metrics issue.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Mapping

from bench.errors import UnknownNameError

ENTRY_POINT_GROUP = "dyvim_bench.metrics"


@dataclass
class MetricResult:
    name: str
    value: float
    ci_low: float | None = None
    ci_high: float | None = None
    per_clip: dict[str, float] = field(default_factory=dict)
    weights: str = "pretrained"  # or 'random': then the value is not comparable to published numbers


class Metric(abc.ABC):
    name: ClassVar[str] = ""

    @abc.abstractmethod
    def compute(self, generated: Mapping[str, Path], reference: Mapping[str, Path]) -> MetricResult:
        """Score `generated` against `reference`, both keyed by clip id (same keys)."""


_BUILTIN: dict[str, type[Metric]] = {}


def register_metric(name: str):
    def deco(cls: type[Metric]) -> type[Metric]:
        cls.name = name
        _BUILTIN[name] = cls
        return cls

    return deco


def _entry_points() -> dict:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def known_metrics() -> list[str]:
    return sorted(set(_BUILTIN) | set(_entry_points()))


def get_metric_class(name: str) -> type[Metric]:
    if name in _BUILTIN:
        return _BUILTIN[name]
    eps = _entry_points()
    if name in eps:
        return eps[name].load()
    raise UnknownNameError("metric", name, known_metrics())
