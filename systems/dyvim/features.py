"""Per-clip inputs of DyViM, computed once into the cache: EnCodec codes of the reference music,
the frozen dynamics extractor's output (FwDF motion maps, I3D features, pose velocities) at the
video rate f_o, and the semantics states z_s. `collate` stacks them into a batch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from core.media import load_audio
from core.cache import Cache
from core.manifest import Clip
from systems.musicgen.codec import CODEC_VERSION
from systems.musicgen.decoder import FRAME_RATE, SAMPLE_RATE, MusicDecoder, encode_audio
from systems.dyvim.encoders import build_dynamics_encoder, build_semantics_encoder

CODES_VERSION = 3  # 2: random EnCodec with a data-dependent init; 3: random weights use codec.SpectralCodec


@dataclass
class ClipFeatures:
    clip_id: str
    codes: np.ndarray | None  # (K, T) EnCodec codes of the reference music (None when only generating)
    dynamics: np.ndarray | None  # (T_o, ...) cached dynamics-extractor output at f_o
    semantics: np.ndarray | None  # (N_h, d_s)
    semantics_mask: np.ndarray | None  # (N_h,)
    n_steps: int  # music frames of the clip: round(duration · 50)


def dynamics_head(name: str, encoder: nn.Module) -> nn.Module:
    """The trainable part of a dynamics encoder (what runs on cached features during training)."""
    if name == "fwdf":
        return encoder.aggregator
    if name == "pose":
        return encoder
    return nn.Identity()  # I3D: frozen features; the projector learns the map to d


class FeatureExtractor:
    """The frozen encoders of one DyViM config and the cache they write to."""

    def __init__(self, *, size: str, dynamics_encoder: str, semantics_encoder: str, use_dynamics: bool,
                 use_semantics: bool, decoder: MusicDecoder, cache: Cache | None, video_fps: float,
                 encoder_weights: str = "random", flow_iters: int | None = None, d_m: int | None = None,
                 weights_paths: dict | None = None, seed: int = 0, fwdf_pool: int | None = None,
                 fwdf_frame_size: tuple[int, int] | None = None):
        paths = weights_paths or {}
        self.cache, self.decoder, self.video_fps = cache, decoder, float(video_fps)
        self.dynamics_name, self.semantics_name = dynamics_encoder, semantics_encoder
        self.dynamics = self.semantics = None
        if use_dynamics:
            self.dynamics = build_dynamics_encoder(dynamics_encoder, size=size, weights=encoder_weights,
                                                   flow_iters=flow_iters, d_m=d_m, fps=video_fps, seed=seed,
                                                   weights_path=paths.get(dynamics_encoder), pool=fwdf_pool,
                                                   frame_size=fwdf_frame_size)
        if use_semantics:
            self.semantics = build_semantics_encoder(semantics_encoder, size=size, weights=encoder_weights,
                                                     model=paths.get(semantics_encoder), seed=seed)

    @property
    def dynamics_dim(self) -> int:
        return int(self.dynamics.out_dim) if self.dynamics is not None else 0

    @property
    def semantics_shape(self) -> tuple[int, int] | None:
        if self.semantics is None:
            return None
        n_h = self.semantics.n_states if self.semantics_name == "clip" else self.semantics.config.max_tokens
        return int(n_h), int(self.semantics.out_dim)

    def codes(self, clip: Clip) -> np.ndarray:
        key = {"codec": self.decoder.source, "duration": clip.duration, "version": CODES_VERSION}
        if self.decoder.weights == "random":
            key["spectral_codec"] = CODEC_VERSION

        def compute():
            audio = load_audio(clip.audio_path, SAMPLE_RATE, 0.0, clip.duration)
            return {"codes": encode_audio(self.decoder.codec, audio, SAMPLE_RATE)}

        if self.cache is None:
            return compute()["codes"]
        return self.cache.get_or_compute("dyvim.encodec", key, [clip.audio_path], compute)["codes"]

    def extract(self, clip: Clip, with_codes: bool) -> ClipFeatures:
        n_steps = int(round(clip.duration * FRAME_RATE))
        dyn = sem = mask = None
        if self.dynamics is not None:
            dyn = self.dynamics.extract_clip(clip, self.cache).values
        if self.semantics is not None:
            s = self.semantics.extract_clip(clip, self.cache)
            sem, mask = s.values, s.mask
        codes = self.codes(clip)[:, :n_steps] if with_codes else None
        return ClipFeatures(clip.id, codes, dyn, sem, mask, n_steps)


def _stack_frames(arrays: list[np.ndarray]) -> np.ndarray:
    """Same-rate features of clips whose decoders gave ±1 frame: pad by repeating the last frame."""
    n = max(a.shape[0] for a in arrays)
    return np.stack([np.concatenate([a, np.repeat(a[-1:], n - a.shape[0], 0)]) if a.shape[0] < n else a
                     for a in arrays])


def collate(items: list[ClipFeatures], device) -> dict:
    out: dict = {"clip_ids": [c.clip_id for c in items]}
    if items[0].codes is not None:
        t = min(c.codes.shape[-1] for c in items)
        out["codes"] = torch.as_tensor(np.stack([c.codes[:, :t] for c in items]).astype(np.int64), device=device)
    if items[0].dynamics is not None:
        out["dynamics"] = torch.as_tensor(_stack_frames([c.dynamics for c in items]), dtype=torch.float32,
                                          device=device)
    if items[0].semantics is not None:
        out["semantics"] = torch.as_tensor(np.stack([c.semantics for c in items]), dtype=torch.float32, device=device)
        out["semantics_mask"] = torch.as_tensor(np.stack([c.semantics_mask for c in items]), device=device)
    return out
