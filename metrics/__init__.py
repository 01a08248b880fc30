"""Metrics: embedders and scores of generated music against the reference (DESIGN.md §4)."""

from metrics.base import Metric, Score, get_metric_class, known_metrics, register_metric

__all__ = ["Metric", "Score", "get_metric_class", "known_metrics", "register_metric"]
