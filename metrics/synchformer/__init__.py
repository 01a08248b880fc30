"""Synchformer (Iashin et al. 2024) as av-benchmark runs it for DeSync: model (model.py); the
metric and its preprocessing live in metrics/desync.py."""

from metrics.synchformer.model import Synchformer, SynchformerConfig, offset_grid

__all__ = ["Synchformer", "SynchformerConfig", "offset_grid"]
