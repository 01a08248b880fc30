"""`musicgen`: plain MusicGen (Copet et al. 2023) as an in-process baseline, through the same decoder
loading and KV-cached sampling loop as DyViM (`systems/musicgen/decoder.py`, `generate.py`), so the two
differ only in conditioning.

`conditioning: text` (default) conditions on the clip's caption from the manifest (or a fixed
`prompt`) through MusicGen's own T5 encoder and projection (cross-attention), with classifier-free
guidance 3.0 as MusicGen's default; `unconditional` passes no memory at all. Sizes as DyViM's:
`tiny` (random, CPU), `small`, `medium` (facebook/musicgen-*; `model` = hub id or local folder).
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import torch
from torch import nn

from core.media import fit_duration
from core.errors import ConfigError, DatasetError
from systems.base import GenerationRequest, GenerationResult, System, SystemContext
from systems.musicgen.decoder import (
    FRAME_RATE,
    SAMPLE_RATE,
    decode_codes,
    load_music_decoder,
    summed_code_embeddings,
)
from systems.musicgen.sampling import SamplingConfig, sample_codes
from systems.musicgen.conditioning import Conditioning


class MusicGenModel(nn.Module):
    """MusicGen's decoder with its text conditioning: T5 states → projection → cross-attention."""

    def __init__(self, decoder, tokenizer=None, max_tokens: int = 64):
        super().__init__()
        self.decoder, self.lm, self.tokenizer, self.max_tokens = decoder, decoder.lm, tokenizer, max_tokens

    def input_embeddings(self, columns: torch.Tensor, cond: Conditioning, positions: torch.Tensor) -> torch.Tensor:
        return summed_code_embeddings(self.lm, columns)

    @torch.no_grad()
    def condition(self, texts: list[str] | None) -> Conditioning:
        if texts is None:
            return Conditioning()
        dev = next(self.lm.parameters()).device
        tok = self.tokenizer(texts, max_length=self.max_tokens, truncation=True, padding=True, return_tensors="pt")
        mask = tok["attention_mask"].to(dev)
        states = self.decoder.text_encoder(input_ids=tok["input_ids"].to(dev), attention_mask=mask).last_hidden_state
        return Conditioning(memory=self.decoder.text_proj(states) * mask[..., None], memory_mask=mask.bool())


class MusicGenSystem(System):
    """Plain MusicGen (text-conditioned on the clip's caption, or unconditional); no video input."""

    uses_accelerator = True
    max_workers = 1

    def __init__(self, context: SystemContext, size: str = "tiny", weights: str = "random", model: str | None = None,
                 conditioning: str = "text", prompt: str | None = None, sampling: dict | None = None,
                 batch_size: int = 4, seed: int = 0):
        super().__init__(context)
        if conditioning not in ("text", "unconditional"):
            raise ConfigError(f"system.musicgen.conditioning={conditioning!r}: text or unconditional")
        self.conditioning, self.prompt, self.batch_size = conditioning, prompt, int(batch_size)
        self.sampling = SamplingConfig(**(sampling or {}))
        self.weights = weights
        decoder = load_music_decoder(size, weights, model, seed=seed, with_text=conditioning == "text")
        tokenizer = _tokenizer(decoder) if conditioning == "text" else None
        self.model = MusicGenModel(decoder.to(context.device), tokenizer).eval()

    @property
    def sample_rate(self) -> int:
        return SAMPLE_RATE

    def describe(self) -> dict:
        return {"weights": self.weights, "sample_rate": SAMPLE_RATE, "decoder": self.model.decoder.source,
                "conditioning": self.conditioning, "prompt": self.prompt,
                "guidance_scale": self.sampling.guidance_scale}

    def text(self, req: GenerationRequest) -> str:
        text = self.prompt or req.clip.caption
        if not text:
            raise DatasetError(f"clip {req.clip.id} has no caption for text-conditioned MusicGen: set "
                               "system.musicgen.prompt='...' or system.musicgen.conditioning=unconditional")
        return text

    def generate(self, requests: Sequence[GenerationRequest]) -> Iterable[GenerationResult]:
        by_len: dict[int, list[GenerationRequest]] = {}
        for req in requests:
            by_len.setdefault(int(round(req.clip.duration * FRAME_RATE)), []).append(req)
        for n_steps, reqs in by_len.items():
            try:
                texts = [self.text(r) for r in reqs] if self.conditioning == "text" else None
                cond = self.model.condition(texts)
                guided = self.sampling if texts is not None else SamplingConfig(self.sampling.top_k,
                                                                                self.sampling.temperature, 1.0)
                codes = sample_codes(self.model, cond, n_steps, [r.seed for r in reqs], guided)
                audio = decode_codes(self.model.decoder.codec, codes).cpu().numpy()
                for r, a in zip(reqs, audio):
                    yield GenerationResult(r, fit_duration(a.astype(np.float32), SAMPLE_RATE, r.clip.duration))
            except Exception as exc:
                for r in reqs:
                    yield GenerationResult(r, error=exc)


def _tokenizer(decoder):
    if decoder.weights == "pretrained":
        from transformers import AutoTokenizer

        from core.weights import load_pretrained

        return load_pretrained(AutoTokenizer.from_pretrained, decoder.source, "MusicGen T5 tokenizer",
                               config_key="system.musicgen.model")
    from transformers import ByT5Tokenizer  # random weights: a byte tokenizer that needs no files

    return ByT5Tokenizer()
