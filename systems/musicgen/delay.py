"""MusicGen's codebook delay pattern: codebook k of time step t sits at decoder position t + k."""

from __future__ import annotations

import torch


def apply_delay_pattern(codes: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Time-aligned codes (B, K, T) → delayed sequence D (B, K, T + K − 1): D[:, k, i] = Q[:, k, i − k]."""
    b, k_total, t = codes.shape
    out = codes.new_full((b, k_total, t + k_total - 1), pad_id)
    for k in range(k_total):
        out[:, k, k:k + t] = codes[:, k]
    return out


def revert_delay_pattern(x: torch.Tensor, n_steps: int) -> torch.Tensor:
    """Delayed layout (B, K, S, …) → time-aligned (B, K, n_steps, …): out[:, k, t] = x[:, k, t + k].

    Works for the delayed codes and for the decoder's logits (position i's logits for codebook k
    predict time step i − k), so loss terms can be weighted per music frame."""
    k_total = x.shape[1]
    if x.shape[2] < n_steps + k_total - 1:
        raise ValueError(f"a delayed sequence of {x.shape[2]} positions holds fewer than {n_steps} steps "
                         f"for {k_total} codebooks (needs {n_steps + k_total - 1})")
    # one gather (not K selects): its backward scatters into one zero tensor instead of filling
    # and copying a full-size gradient per codebook; each element is read once, so the values and
    # gradients are exactly those of slicing
    t = torch.arange(n_steps, device=x.device)[None, :] + torch.arange(k_total, device=x.device)[:, None]
    index = t.view(1, k_total, n_steps, *([1] * (x.ndim - 3))).expand(x.shape[0], k_total, n_steps, *x.shape[3:])
    return x.gather(2, index)
