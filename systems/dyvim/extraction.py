"""What DyViM's feature encoders share: the cached-extraction call, seeded random weights,
checkpoint lookup with errors that name the file and where to get it, and the video rate.

Every encoder splits into a *frozen extractor* (RAFT, I3D, CLIP, T5, keypoint resampling), whose
output is computed once per input file and stored in `core.cache.Cache`, and, where the paper
trains one, a small *trainable head* (`forward`) that runs on the cached arrays during training.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np
import torch

from core.media import probe_video
from core.cache import Cache
from core.errors import ConfigError, MediaError

#: bumped whenever an extractor's output for the same input and config changes
EXTRACTOR_VERSION = 1

WEIGHT_KINDS = ("random", "pretrained")
SIZES = ("tiny", "small", "medium")


@dataclass(frozen=True)
class VideoFeatures:
    """Per-frame features of one clip: `values` (T_o, ...) sampled at `fps` (= f_o) from the clip start."""

    values: np.ndarray
    fps: float

    @property
    def n_frames(self) -> int:
        return int(self.values.shape[0])


@dataclass(frozen=True)
class SemanticFeatures:
    """z_s ∈ R^{N_h × d_s} (Eq. 2) and which of the N_h rows hold states (False = padding).

    `n_images` is how many keyframes were averaged (0 for text); `fallback` says the clip had no
    I-frame inside its window and the middle frame was used instead."""

    values: np.ndarray
    mask: np.ndarray
    n_images: int = 0
    fallback: bool = False


def check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"system.dyvim.{name}={value!r} is not one of {', '.join(allowed)}")


def cached(cache: Cache | None, extractor: str, config: Mapping, inputs: list, compute: Callable[[], Mapping[str, np.ndarray]]
           ) -> dict[str, np.ndarray]:
    """`cache.get_or_compute` with the extractor version in the key; computes directly without a cache."""
    if cache is None:
        return {k: np.asarray(v) for k, v in compute().items()}
    return cache.get_or_compute(extractor, {**config, "_version": EXTRACTOR_VERSION}, inputs, compute)


def video_rate(path: str | os.PathLike, fps: float | None) -> float:
    """f_o: the configured rate, else the file's average frame rate (variable-rate videos are
    resampled to it by `decode_frames`, so frames are evenly spaced in time)."""
    if fps is not None:
        if fps <= 0:
            raise ConfigError(f"video rate must be > 0, got {fps}")
        return float(fps)

    rate = probe_video(path).fps
    if not rate or rate <= 0:
        raise MediaError(path, "the video stream declares no frame rate", "set the encoder's fps explicitly")
    return float(rate)


def module_device(module: torch.nn.Module) -> torch.device:
    for p in module.parameters():
        return p.device
    return torch.device("cpu")


