"""DyViM's semantics encoders: z_s = SE(X_v^S), SE := E_image ∘ Avg-Pool (Eq. 2), and T5 over captions.

`CLIPSemanticsEncoder` (the paper's choice): the MPEG-4 I-frames inside the clip window
(`core.media.keyframe_times`, read from packet flags) go through CLIP's vision tower; its last
hidden states (N_h = 50 tokens × d_s = 768 for ViT-B/32 at 224 px: 49 patches + CLS) are averaged
over the keyframes → z_s ∈ R^{N_h × d_s}. A clip with no I-frame inside its window (long GOPs cut
mid-way) uses its middle frame instead, and says so (`SemanticFeatures.fallback`). Clips with more
than `max_keyframes` I-frames (intra-only codecs) use that many, evenly spaced.

`T5SemanticsEncoder` (Table 3's "T5"): T5 encoder states over the clip's caption, padded or
truncated to `max_tokens` rows with a mask.

Sizes: `tiny` builds tiny random configs (CI); `small`/`medium` build the real shapes
(ViT-B/32, t5-base) — random with `weights: random`, or loaded by hub id / local folder with
`weights: pretrained` (absent → WeightsNotFoundError naming the id or path). Both encoders are frozen
and cached; the trained projection to the decoder lives in `conditioning.SemanticsProjector`.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from core.media import decode_frames, keyframe_times, probe_video
from core.cache import Cache
from core.errors import ConfigError, DatasetError
from core.weights import load_pretrained, seeded, weights_identity
from systems.dyvim.extraction import SIZES, SemanticFeatures, cached, check_choice, module_device

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def _check_size_weights(size: str, weights: str) -> None:
    check_choice("size", size, SIZES)
    check_choice("weights", weights, ("random", "pretrained"))
    if size == "tiny" and weights == "pretrained":
        raise ConfigError("system.dyvim.size=tiny has no pretrained weights; use weights: random or size: small|medium")


@dataclass(frozen=True)
class CLIPSemanticsConfig:
    size: Literal["tiny", "small", "medium"] = "medium"
    weights: Literal["random", "pretrained"] = "random"
    model: str = "openai/clip-vit-base-patch32"
    max_keyframes: int = 32
    seed: int = 0

    def __post_init__(self):
        _check_size_weights(self.size, self.weights)
        if self.max_keyframes < 1:
            raise ConfigError(f"max_keyframes must be >= 1, got {self.max_keyframes}")

    def extractor_config(self) -> dict:
        cfg = asdict(self)
        cfg["model"] = weights_identity(self.model) if self.weights == "pretrained" else None
        return cfg


def _clip_vision_config(size: str):
    from transformers import CLIPVisionConfig

    if size == "tiny":  # still 224 px / 32 px patches, so N_h = 50 as in the real model
        return CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                                projection_dim=32)
    return CLIPVisionConfig()  # defaults = ViT-B/32 at 224 px (README, "DyViM")


class CLIPSemanticsEncoder(nn.Module):
    """Keyframe-averaged CLIP last hidden states (Eq. 2) → SemanticFeatures (N_h, d_s)."""

    def __init__(self, config: CLIPSemanticsConfig | None = None):
        super().__init__()
        from transformers import CLIPVisionModel

        self.config = config or CLIPSemanticsConfig()
        if self.config.weights == "pretrained":
            self.model = load_pretrained(CLIPVisionModel.from_pretrained, self.config.model, "CLIP semantics encoder",
                                         config_key="system.dyvim.weights_paths.clip")
        else:
            with seeded(self.config.seed):
                self.model = CLIPVisionModel(_clip_vision_config(self.config.size))
        self.model.requires_grad_(False)
        self.model.eval()
        self.image_size = int(self.model.config.image_size)

    @property
    def out_dim(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def n_states(self) -> int:
        return (self.image_size // self.model.config.patch_size) ** 2 + 1

    @property
    def weights_kind(self) -> str:
        return self.config.weights

    def train(self, mode: bool = True):
        return super().train(False)

    def preprocess(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 (N, H, W, 3) → CLIP input: short side resized to the model's size (bicubic), centre
        crop, CLIP mean/std normalisation (as openai's preprocessing)."""
        x = torch.as_tensor(np.asarray(images))
        if x.ndim != 4 or x.shape[-1] != 3 or x.shape[0] == 0:
            raise ValueError(f"images must be uint8 (N, H, W, 3) with N >= 1, got {tuple(x.shape)}")
        x = x.permute(0, 3, 1, 2).float().div(255.0)
        s = self.image_size
        h, w = x.shape[-2:]
        if min(h, w) != s:
            scale = s / min(h, w)
            x = F.interpolate(x, size=(max(s, round(h * scale)), max(s, round(w * scale))), mode="bicubic",
                              align_corners=False, antialias=True).clamp(0, 1)
        h, w = x.shape[-2:]
        top, left = (h - s) // 2, (w - s) // 2
        x = x[..., top:top + s, left:left + s]
        mean = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(CLIP_STD).view(1, 3, 1, 1)
        return ((x - mean) / std).to(module_device(self))

    @torch.no_grad()
    def encode_images(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """E_image: (N, H, W, 3) uint8 → last hidden states (N, N_h, d_s)."""
        return self.model(pixel_values=self.preprocess(images)).last_hidden_state

    def extract(self, video_path: str | os.PathLike, start: float = 0.0, duration: float | None = None,
                cache: Cache | None = None) -> SemanticFeatures:
        key = {**self.config.extractor_config(), "start": float(start), "duration": duration}

        def compute():
            frames, fallback = self.keyframes(video_path, start, duration)
            states = self.encode_images(frames).mean(dim=0)  # Avg-Pool over the N_s keyframes
            return {"states": states.cpu().numpy().astype(np.float32), "n_images": np.int64(len(frames)),
                    "fallback": np.bool_(fallback)}

        out = cached(cache, "dyvim.clip", key, [video_path], compute)
        return SemanticFeatures(out["states"], np.ones(out["states"].shape[0], dtype=bool), int(out["n_images"]),
                                bool(out["fallback"]))

    def extract_clip(self, clip, cache: Cache | None = None) -> SemanticFeatures:
        return self.extract(clip.video_path, clip.start, clip.duration, cache)

    def keyframes(self, video_path, start: float, duration: float | None) -> tuple[np.ndarray, bool]:
        """The I-frames in [start, start + duration) as uint8 images with short side = the model's size,
        and whether the middle-frame fallback was used."""
        info = probe_video(video_path)
        fps = float(info.fps) if info.fps and info.fps > 0 else 25.0
        scale = self.image_size / min(info.width, info.height)
        size = (max(self.image_size, round(info.width * scale)), max(self.image_size, round(info.height * scale)))
        # one pass over the window at the native rate: a frame sampled at an I-frame's time is that I-frame
        frames = decode_frames(video_path, fps=fps, size=size, start=start, duration=duration)
        end = np.inf if duration is None else start + duration
        times = keyframe_times(video_path)
        times = times[(times >= start - 1e-6) & (times < end - 1e-6)]
        if times.size == 0:
            return frames[len(frames) // 2][None], True
        idx = np.unique(np.clip(np.floor((times - start) * fps + 0.5).astype(int), 0, len(frames) - 1))
        if idx.size > self.config.max_keyframes:
            idx = idx[np.linspace(0, idx.size - 1, self.config.max_keyframes).round().astype(int)]
        return frames[idx], False


@dataclass(frozen=True)
class T5SemanticsConfig:
    size: Literal["tiny", "small", "medium"] = "medium"
    weights: Literal["random", "pretrained"] = "random"
    model: str = "t5-base"
    max_tokens: int = 50
    seed: int = 0

    def __post_init__(self):
        _check_size_weights(self.size, self.weights)
        if self.max_tokens < 1:
            raise ConfigError(f"max_tokens must be >= 1, got {self.max_tokens}")

    def extractor_config(self) -> dict:
        cfg = asdict(self)
        cfg["model"] = weights_identity(self.model) if self.weights == "pretrained" else None
        return cfg


def _t5_config(size: str):
    from transformers import T5Config

    if size == "tiny":  # byte vocabulary (ByT5 tokenizer: 256 bytes + 3 specials + 125 extra ids)
        return T5Config(vocab_size=384, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4)
    return T5Config(vocab_size=32128, d_model=768, d_kv=64, d_ff=3072, num_layers=12, num_heads=12)  # t5-base


class T5SemanticsEncoder(nn.Module):
    """T5 encoder states over a caption → SemanticFeatures (max_tokens, d_s) with a padding mask.

    Random weights tokenise by UTF-8 bytes (ByT5's tokenizer needs no files); pretrained weights
    use the checkpoint's own tokenizer."""

    def __init__(self, config: T5SemanticsConfig | None = None):
        super().__init__()
        from transformers import AutoTokenizer, ByT5Tokenizer, T5EncoderModel

        self.config = config or T5SemanticsConfig()
        if self.config.weights == "pretrained":
            self.model = load_pretrained(T5EncoderModel.from_pretrained, self.config.model, "T5 semantics encoder",
                                         config_key="system.dyvim.weights_paths.t5")
            self.tokenizer = load_pretrained(AutoTokenizer.from_pretrained, self.config.model, "T5 tokenizer",
                                             config_key="system.dyvim.weights_paths.t5",
                                             files="tokenizer_config.json + spiece.model or tokenizer.json")
        else:
            with seeded(self.config.seed):
                self.model = T5EncoderModel(_t5_config(self.config.size))
            self.tokenizer = ByT5Tokenizer()
        self.model.requires_grad_(False)
        self.model.eval()

    @property
    def out_dim(self) -> int:
        return int(self.model.config.d_model)

    @property
    def weights_kind(self) -> str:
        return self.config.weights

    def train(self, mode: bool = True):
        return super().train(False)

    @torch.no_grad()
    def encode_text(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, max_tokens, d_s) states (padding rows zeroed) and (B, max_tokens) bool mask."""
        tok = self.tokenizer(captions, max_length=self.config.max_tokens, truncation=True, padding="max_length",
                             return_tensors="pt")
        device = module_device(self)
        mask = tok["attention_mask"].to(device)
        states = self.model(input_ids=tok["input_ids"].to(device), attention_mask=mask).last_hidden_state
        return states * mask[..., None], mask.bool()

    def extract(self, caption: str | None, cache: Cache | None = None, clip_id: str = "") -> SemanticFeatures:
        if caption is None or not caption.strip():
            raise DatasetError(f"clip {clip_id or '?'} has no caption; the t5 semantics encoder needs one "
                               "(write captions into the manifest with a captioner, or use semantics_encoder: clip)")

        def compute():
            states, mask = self.encode_text([caption])
            return {"states": states[0].cpu().numpy().astype(np.float32), "mask": mask[0].cpu().numpy()}

        out = cached(cache, "dyvim.t5", self.config.extractor_config(), [caption.encode("utf-8")], compute)
        return SemanticFeatures(out["states"], out["mask"].astype(bool))

    def extract_clip(self, clip, cache: Cache | None = None) -> SemanticFeatures:
        return self.extract(clip.caption, cache, clip.id)
