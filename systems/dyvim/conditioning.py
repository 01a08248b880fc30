"""Token-level conditioning of the music decoder (paper §4.2, Eqs. 3–4).

Dynamics: z_d (T_o × d_m, video rate f_o) → nearest-neighbour interpolation to the token rate f'_m
(`interpolate_dynamics`) → MLP to the decoder width d (`DynamicsProjector`) → z̃_d, added to the
summed codebook embeddings by **token extension** (Eq. 3, `token_extension`), aligned with
MusicGen's codebook delay pattern (`delay_aligned_dynamics`).

Semantics: z_s (N_h × d_s) → MLP to N_d × d (`SemanticsProjector`) → the decoder's cross-attention
in every layer (Eq. 4; MusicGen's own conditioning path, so its pretrained cross-attention weights
are reused).

MusicGen's delay pattern, as used here (the same layout as transformers' `MusicgenForCausalLM` and
audiocraft's `DelayedPatternProvider`). Let Q[k, t] be codebook k's code of music frame t
(t = 0..T−1, K codebooks). The *delayed sequence* has S = T + K − 1 columns,

    D[k, i] = Q[k, i − k]      (the pad/special id where i − k is outside 0..T−1),

i.e. **in column i, codebook k holds the code of time step i − k**. The decoder is teacher-forced
with its input shifted one column right (a BOS column first): decoder position i *reads* column
i − 1 (codes of time steps i − 1 − k) and *predicts* column i (codebook k of time step i − k).
`apply_delay_pattern` / `revert_delay_pattern` convert between the two layouts.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch
from torch import nn

from core.errors import ConfigError
from systems.musicgen.delay import apply_delay_pattern, revert_delay_pattern  # noqa: F401  (re-exported: Eq. 3 aligns with it)

ALIGNMENTS = ("predicted", "input")


def token_index_map(n_frames: int, f_o: float, n_tokens: int, f_m: float) -> np.ndarray:
    """For each music token j (at f_m = f'_m, 50 Hz for EnCodec 32 kHz) the video frame it takes:

        idx_j = min(T_o − 1, round(j · f_o / f_m)),   rounding halves up.

    This maps each token *back* to its nearest frame, so every token gets a frame; the paper's
    printed forward map i' = round(t · f_m / f_o · i) sends frames to tokens and leaves tokens without
    a frame whenever f_m > f_o (README, "DyViM": `conditioning.py`). Frames past the last one are clamped to it.
    """
    if n_frames < 1:
        raise ValueError(f"need at least one video frame, got {n_frames}")
    if n_tokens < 0 or f_o <= 0 or f_m <= 0:
        raise ValueError(f"bad rates or lengths: n_tokens={n_tokens}, f_o={f_o}, f_m={f_m}")
    j = np.arange(n_tokens, dtype=np.float64)
    # half-up rounding (np.round would round 0.5 to even); the epsilon absorbs j·f_o/f_m landing at x.4999…
    idx = np.floor(j * (float(f_o) / float(f_m)) + 0.5 + 1e-9).astype(np.int64)
    return np.minimum(idx, n_frames - 1)


def interpolate_dynamics(z_d: torch.Tensor, f_o: float, n_tokens: int, f_m: float) -> torch.Tensor:
    """z'_d: (..., T_o, d_m) at f_o → (..., n_tokens, d_m) at f_m by `token_index_map` (frame-level alignment)."""
    idx = torch.as_tensor(token_index_map(z_d.shape[-2], f_o, n_tokens, f_m), device=z_d.device)
    return z_d.index_select(-2, idx)


class DynamicsProjector(nn.Module):
    """Dimensional alignment: z̃_d = MLP(z'_d), d_m → d (two layers, GELU)."""

    def __init__(self, d_m: int, d: int, hidden: int | None = None):
        super().__init__()
        hidden = hidden or d
        self.net = nn.Sequential(nn.Linear(d_m, hidden), nn.GELU(), nn.Linear(hidden, d))

    def forward(self, z_d: torch.Tensor) -> torch.Tensor:
        return self.net(z_d)


class SemanticsProjector(nn.Module):
    """z̃_s = MLP(z_s): (…, N_h, d_s) → (…, N_d, d) for the decoder's cross-attention (Eq. 4).

    A token-wise two-layer MLP d_s → d; when N_d ≠ N_h a learned linear map over the token axis
    follows (padded rows zeroed first; every output row is then valid). Returns the states and their
    mask (…, N_d) (True = attend), to pass as the decoder's encoder attention mask.
    """

    def __init__(self, n_h: int, d_s: int, n_d: int, d: int, hidden: int | None = None):
        super().__init__()
        hidden = hidden or d
        self.n_h, self.n_d = n_h, n_d
        self.mlp = nn.Sequential(nn.Linear(d_s, hidden), nn.GELU(), nn.Linear(hidden, d))
        self.token_map = nn.Linear(n_h, n_d) if n_d != n_h else None

    def forward(self, z_s: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if z_s.shape[-2] != self.n_h:
            raise ValueError(f"expected {self.n_h} semantic states, got {z_s.shape[-2]} ({tuple(z_s.shape)})")
        if mask is None:
            mask = torch.ones(z_s.shape[:-1], dtype=torch.bool, device=z_s.device)
        x = self.mlp(z_s)
        if self.token_map is None:
            return x, mask.bool()
        x = x * mask[..., None].to(x.dtype)
        x = self.token_map(x.transpose(-1, -2)).transpose(-1, -2)
        return x, torch.ones(x.shape[:-1], dtype=torch.bool, device=x.device)


def check_alpha(alpha: float) -> float:
    """α of Eq. 3 must be a finite number in [0, 1]."""
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise ConfigError(f"system.dyvim.alpha={alpha!r} is not a number; use a value in [0, 1]") from None
    if not math.isfinite(a) or not 0.0 <= a <= 1.0:
        raise ConfigError(f"system.dyvim.alpha={alpha!r} is outside [0, 1] (Eq. 3's dynamics strength; "
                          "the paper finds values below 0.5 best)")
    return a


def dynamics_time_steps(n_positions: int, n_codebooks: int, n_steps: int,
                        alignment: Literal["predicted", "input"] = "predicted") -> np.ndarray:
    """Which music frame's z̃_d is added at each decoder position i = 0..n_positions−1.

    - `predicted` (default): frame i — the newest frame the position writes (it predicts codebook 0
      of frame i, and codebook k of frame i − k). The model sees the video at the frame it is about
      to start, which is what lets onsets follow motion; the whole video is known up front, so this
      is still causal in the music.
    - `input`: frame i − 1 — the frame of codebook 0's code in the position's input embedding
      (Eq. 3 read as pairing z̃_{d,i} with the codes it is summed with).

    Indices are clamped to 0..n_steps−1: position 0 under `input` (the BOS column) takes frame 0 and
    the tail positions i ≥ T, which only predict later codebooks of the last K − 1 frames, take the
    last frame. `n_codebooks` is accepted for symmetry with the delay helpers (the frame of codebook
    k at position i is always i − k, or i − 1 − k in the input).
    """
    if alignment not in ALIGNMENTS:
        raise ConfigError(f"dynamics alignment {alignment!r} is not one of {', '.join(ALIGNMENTS)}")
    if n_steps < 1 or n_codebooks < 1:
        raise ValueError(f"need n_steps >= 1 and n_codebooks >= 1, got {n_steps}, {n_codebooks}")
    pos = np.arange(n_positions, dtype=np.int64)
    frames = pos if alignment == "predicted" else pos - 1
    return np.clip(frames, 0, n_steps - 1)


def delay_aligned_dynamics(z_d_tilde: torch.Tensor, n_positions: int, n_codebooks: int,
                           alignment: Literal["predicted", "input"] = "predicted") -> torch.Tensor:
    """z̃_d per music frame (…, T, d) → the vector added at each decoder position (…, n_positions, d).

    Training uses n_positions = T + K − 1 (the delayed sequence's length); generation calls it once
    with the final length and indexes position i at step i.
    """
    idx = dynamics_time_steps(n_positions, n_codebooks, z_d_tilde.shape[-2], alignment)
    return z_d_tilde.index_select(-2, torch.as_tensor(idx, device=z_d_tilde.device))


def token_extension(code_embeddings_summed: torch.Tensor, z_d_tilde: torch.Tensor, alpha: float) -> torch.Tensor:
    """Eq. 3: z_i = α · z̃_{d,i} + Σ_k (1 − α) · z_{i,k}.

    `code_embeddings_summed` (B, S, d) is Σ_k z_{i,k}, the sum of the K codebook embeddings that
    MusicGen feeds its decoder (`inputs_embeds`). Under the delay pattern (module docstring) the K
    codes summed at position i belong to K different frames: codebook k's code is of time step
    i − 1 − k (the BOS shift), and the position predicts codebook k of time step i − k.
    `z_d_tilde` must already be delay-aligned (B, S, d) — `delay_aligned_dynamics`, default
    `predicted`: position i gets z̃_d of frame i, the frame whose first code it predicts.

    α = 0 returns the summed embeddings themselves, so the decoder computes exactly what plain
    MusicGen computes; α = 1 leaves the dynamics alone. α outside [0, 1] is a ConfigError.
    """
    a = check_alpha(alpha)
    if code_embeddings_summed.shape != z_d_tilde.shape:
        raise ValueError(f"summed code embeddings {tuple(code_embeddings_summed.shape)} and aligned dynamics "
                         f"{tuple(z_d_tilde.shape)} differ in shape; align with delay_aligned_dynamics first")
    if a == 0.0:
        return code_embeddings_summed
    if a == 1.0:
        return z_d_tilde.to(code_embeddings_summed.dtype)
    return a * z_d_tilde.to(code_embeddings_summed.dtype) + (1.0 - a) * code_embeddings_summed
