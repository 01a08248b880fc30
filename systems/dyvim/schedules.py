"""Annealing tuning (paper §4.3, Eq. 5; schedules of §6.3.5).

The objective weights each music frame's log-likelihood by a_τ, τ = 1..|Q| over time steps
(music frames at f'_m = 50 Hz), emphasising the first frames, where the theme is set:

    max_Θ Σ_τ a_τ · log p(Q_τ | Q_<τ; z_s, z_d)    ⇔    minimise  Σ_τ a_τ · CE_τ.

Two misprints in the paper, and what is implemented instead:
- Eq. 5 as printed reads Σ_τ log a_τ p(Q̃_τ | …), i.e. a_τ *inside* the log: log a_τ + log p adds a
  constant and would not change any gradient, so no schedule could have an effect. The text ("the
  annealing schedule a_τ controls the weight of each token") and Table 4 need the weight outside:
  a_τ · log p.
- §4.3 prints the cosine schedule as a_max · (1 + cos((π − τ)/|Q|))/2 + ε. For τ in 1..|Q| the
  argument only runs from ≈ π/|Q| to ≈ −1, so the weight would stay between ≈ a_max and ≈ 0.77·a_max
  instead of decaying to ε. §6.3.5 gives the intended a_max · (1 + cos(π·τ/|Q|))/2 + ε, used here.

Schedules (a_max and ε: the paper gives no values; defaults here 1.0 and 0.1):
    constant  a_τ = 1                          (no annealing; plain fine-tuning)
    random    a_τ ~ U(ε, a_max)                (seeded; no annealing)
    step      a_τ = 𝟙(τ < |Q|/2) · a_max + ε
    linear    a_τ = (|Q| − τ) · a_max / |Q| + ε
    cosine    a_τ = a_max · (1 + cos(π τ / |Q|)) / 2 + ε      (default)

Delay pattern: a_τ weights a *music frame*, so it is shared by the K codes of frame τ, although
MusicGen predicts them at K different decoder positions (codebook k of frame τ at position
τ − 1 + k, 0-based positions; see conditioning.py). `weighted_token_loss` therefore takes
time-aligned logits and targets — revert the decoder's delayed logits with
`conditioning.revert_delay_pattern` first — and broadcasts a_τ over the codebook axis;
`delayed_weights` gives the same weights laid out over (codebook, position) instead.
"""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from core.errors import ConfigError, UnknownNameError

SCHEDULES = ("constant", "random", "step", "linear", "cosine")


def annealing_weights(schedule: str, n_steps: int, a_max: float = 1.0, epsilon: float = 0.1,
                      seed: int = 0) -> torch.Tensor:
    """a_τ for τ = 1..|Q| (|Q| = `n_steps`), as float32 (n_steps,); element t holds a_{τ = t+1}.

    `random` draws from its own generator seeded by `seed` (pass e.g. the training step to redraw
    per step); the other schedules ignore it.
    """
    if schedule not in SCHEDULES:
        raise UnknownNameError("annealing schedule", schedule, list(SCHEDULES))
    if n_steps < 1:
        raise ValueError(f"|Q| must be >= 1, got {n_steps}")
    if not (math.isfinite(a_max) and a_max > 0):
        raise ConfigError(f"system.dyvim.a_max={a_max} must be a positive number")
    if not (math.isfinite(epsilon) and 0 <= epsilon <= a_max):
        raise ConfigError(f"system.dyvim.epsilon={epsilon} must lie in [0, a_max={a_max}]")
    q = float(n_steps)
    tau = torch.arange(1, n_steps + 1, dtype=torch.float64)
    if schedule == "constant":
        a = torch.ones_like(tau)
    elif schedule == "random":
        gen = torch.Generator().manual_seed(int(seed))
        a = epsilon + (a_max - epsilon) * torch.rand(n_steps, generator=gen, dtype=torch.float64)
    elif schedule == "step":
        a = (tau < q / 2).double() * a_max + epsilon
    elif schedule == "linear":
        a = (q - tau) * a_max / q + epsilon
    else:  # cosine
        a = a_max * (1 + torch.cos(math.pi * tau / q)) / 2 + epsilon
    return a.float()


def delayed_weights(weights: torch.Tensor, n_codebooks: int) -> torch.Tensor:
    """Per-frame a_τ (T,) → per (codebook, delayed position) weights (K, T + K − 1): W[k, i] = a[i − k],
    0 where position i holds no code of codebook k (the delay pattern's padding)."""
    t = weights.shape[-1]
    out = weights.new_zeros(n_codebooks, t + n_codebooks - 1)
    for k in range(n_codebooks):
        out[k, k:k + t] = weights
    return out


def weighted_token_loss(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor,
                        pad_mask: torch.Tensor | None = None) -> torch.Tensor:
    """−Σ_τ a_τ log p(Q_τ | …) averaged over the valid codes (Eq. 5, a_τ outside the log).

    logits (B, K, T, V) and targets (B, K, T) are time-aligned (element [b, k, t] is codebook k of
    frame t); weights (T,) or (B, T) is a_τ, shared by the K codes of each frame; pad_mask (B, T) or
    (B, K, T), True where the target is padding (ignored). Dividing by the number of valid codes
    (not by Σ a_τ) makes the constant schedule the usual mean cross-entropy and keeps a_max as a
    genuine scale.
    """
    if logits.ndim != 4 or targets.shape != logits.shape[:3]:
        raise ValueError(f"logits (B, K, T, V) and targets (B, K, T) expected, got {tuple(logits.shape)} "
                         f"and {tuple(targets.shape)}")
    b, k, t, v = logits.shape
    if weights.shape[-1] != t or weights.ndim not in (1, 2):
        raise ValueError(f"weights must be (T,) or (B, T) with T = {t}, got {tuple(weights.shape)}")
    w = weights.to(logits.device, torch.float32)
    w = w.view(1, 1, t) if w.ndim == 1 else w.view(b, 1, t)
    valid = torch.ones(b, k, t, dtype=torch.bool, device=logits.device)
    if pad_mask is not None:
        pm = pad_mask.to(logits.device).bool()
        valid = valid & ~(pm[:, None, :] if pm.ndim == 2 else pm)
    safe_targets = torch.where(valid, targets, torch.zeros_like(targets))
    ce = F.cross_entropy(logits.reshape(-1, v).float(), safe_targets.reshape(-1), reduction="none").view(b, k, t)
    weighted = (ce * w * valid).sum()
    return weighted / valid.sum().clamp(min=1)
