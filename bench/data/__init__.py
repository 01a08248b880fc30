"""Datasets: clip manifests, grouped splits, the offline `toy` dataset and the preparers."""
