"""What MusicGen's decoder is conditioned on, for a batch: per-position additions, a cross-attention
memory (text states for MusicGen; semantics and dynamics tokens for DyViM) and prefix positions."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class Conditioning:
    """What the decoder receives for a batch: per-position additions and the cross-attention memory."""

    dynamics: torch.Tensor | None = None  # z̃_d per music frame (B, T, d) for `extend`
    memory: torch.Tensor | None = None  # cross-attention states (B, M, d)
    memory_mask: torch.Tensor | None = None  # (B, M) bool
    prefix: torch.Tensor | None = None  # `prepend` positions (B, N_d, d)
    extras: dict = field(default_factory=dict)

    def select(self, rows: torch.Tensor) -> "Conditioning":
        pick = (lambda t: None if t is None else t[rows])
        return Conditioning(pick(self.dynamics), pick(self.memory), pick(self.memory_mask), pick(self.prefix))


def memory_kwargs(lm: nn.Module, cond: Conditioning) -> dict:
    """The decoder's cross-attention inputs for `cond` (none: cross-attention is skipped, as in
    unconditional MusicGen)."""
    if cond.memory is None:
        return {}
    return {"encoder_hidden_states": cond.memory.to(lm.dtype), "encoder_attention_mask": cond.memory_mask.long()}
