"""Autoregressive sampling for DyViM and plain MusicGen, with a KV cache and the codebook delay pattern.

transformers' `generate` cannot add DyViM's per-position dynamics (Eq. 3) to the input embeddings,
so this loop does what it does for MusicGen, one decoder position per step:

- position i reads the previous column of the delayed sequence (a BOS column of pad ids at i = 0)
  and predicts column i: codebook k of music frame i − k. Codes whose frame i − k lies outside
  0..T−1 are forced to the pad id (the delay pattern's corners), so S = T + K − 1 steps give T
  complete frames, which `revert_delay_pattern` lines up for EnCodec.
- `extend`: at position i the input is α·z̃_{d,i} + (1−α)·Σ_k z_{i,k} with z̃_d of frame i
  (conditioning.delay_aligned_dynamics); `prepend`: the N_d semantic positions go in with the first
  step; the cross-attention memory's keys/values are computed once and cached.
- top-k (default 250) sampling at temperature 1.0, seeded per sample; classifier-free guidance
  (`guidance_scale` > 1, for models trained with condition dropout) runs a nulled-condition copy of
  the batch and mixes logits as uncond + g · (cond − uncond).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from core.errors import ConfigError
from systems.musicgen.conditioning import Conditioning, memory_kwargs
from systems.musicgen.decoder import CODEBOOK_SIZE, PAD_ID, decoder_forward
from systems.musicgen.delay import revert_delay_pattern


@dataclass(frozen=True)
class SamplingConfig:
    top_k: int = 250
    temperature: float = 1.0
    guidance_scale: float = 1.0  # > 1 needs a model trained with cond_dropout > 0

    def __post_init__(self):
        if self.top_k < 1:
            raise ConfigError(f"top_k={self.top_k} must be >= 1")
        if not self.temperature > 0:
            raise ConfigError(f"temperature={self.temperature} must be > 0")
        if self.guidance_scale < 1.0:
            raise ConfigError(f"guidance_scale={self.guidance_scale} must be >= 1 (1 = no guidance)")


def _null_like(cond: Conditioning) -> Conditioning:
    """The unconditional branch: every projected condition zeroed (what condition dropout trains)."""
    z = (lambda t: None if t is None else torch.zeros_like(t))
    return Conditioning(z(cond.dynamics), z(cond.memory), cond.memory_mask, z(cond.prefix))


def _stack(a: Conditioning, b: Conditioning) -> Conditioning:
    cat = (lambda x, y: None if x is None else torch.cat([x, y], dim=0))
    return Conditioning(cat(a.dynamics, b.dynamics), cat(a.memory, b.memory), cat(a.memory_mask, b.memory_mask),
                        cat(a.prefix, b.prefix))


def _sample(logits: torch.Tensor, cfg: SamplingConfig, generators: list[torch.Generator]) -> torch.Tensor:
    """logits (B, K, V) → codes (B, K), top-k at the temperature, row b drawn with generators[b]."""
    logits = logits[..., :CODEBOOK_SIZE].float() / cfg.temperature
    k = min(cfg.top_k, logits.shape[-1])
    values, indices = logits.topk(k, dim=-1)
    probs = values.softmax(dim=-1)
    out = torch.empty(logits.shape[:2], dtype=torch.long, device=logits.device)
    for b, gen in enumerate(generators):
        choice = torch.multinomial(probs[b], 1, generator=gen).squeeze(-1)
        out[b] = indices[b].gather(-1, choice[:, None]).squeeze(-1)
    return out


@torch.no_grad()
def sample_codes(model, cond: Conditioning, n_steps: int, seeds: list[int],
                 sampling: SamplingConfig = SamplingConfig(), progress=None) -> torch.Tensor:
    """Sample T = `n_steps` music frames for each conditioned sample → codes (B, K, T).

    `model` is a DyViMModel or anything with its two members: `lm` (MusicgenForCausalLM) and
    `input_embeddings(columns, cond, positions)` — e.g. the plain MusicGen baseline."""
    lm = model.lm
    device = next(lm.parameters()).device
    k_total = int(lm.config.num_codebooks)
    b = len(seeds)
    generators = [torch.Generator(device=device).manual_seed(int(s)) for s in seeds]
    guided = sampling.guidance_scale > 1.0
    run_cond = _stack(cond, _null_like(cond)) if guided else cond
    rows = 2 * b if guided else b
    n_positions = n_steps + k_total - 1
    delayed = torch.full((b, k_total, n_positions), PAD_ID, dtype=torch.long, device=device)
    column = torch.full((rows, k_total, 1), PAD_ID, dtype=torch.long, device=device)
    cache = None
    codebook = torch.arange(k_total, device=device)
    for i in range(n_positions):
        embeds = model.input_embeddings(column, run_cond, torch.tensor([i], device=device))
        if i == 0 and run_cond.prefix is not None:
            embeds = torch.cat([run_cond.prefix.to(embeds.dtype), embeds], dim=1)
        logits, cache = decoder_forward(lm, embeds, cache=cache, use_cache=True, **memory_kwargs(lm, run_cond))
        step = logits[:, :, -1]  # (rows, K, V)
        if guided:
            cond_l, uncond_l = step[:b].float(), step[b:].float()
            step = uncond_l + sampling.guidance_scale * (cond_l - uncond_l)
        codes = _sample(step, sampling, generators)
        valid = (i - codebook >= 0) & (i - codebook < n_steps)  # frame i − k exists for codebook k
        codes = torch.where(valid[None], codes, torch.full_like(codes, PAD_ID))
        delayed[:, :, i] = codes
        column = (torch.cat([codes, codes], dim=0) if guided else codes)[:, :, None]
        if progress is not None:
            progress(i + 1, n_positions)
    return revert_delay_pattern(delayed, n_steps)
