"""DyViM's dynamics encoder FwDF (Eq. 1): z_d^i = DE(X_{v; i−1, i, i+1}), DE := E_motion ∘ Self-Attn.

The paper adapts VideoFlow's motion encoder (d_m = 1024). Here the motion encoder is torchvision's
RAFT (README, "DyViM"), driven submodule by submodule as `RAFT.forward` does:

1. For frame i, the pairs (i, i−1) and (i, i+1). The feature encoder runs once per frame; the
   correlation pyramid Corr(i, i±1) is built at H' × W' = H/8 × W/8; the context encoder runs on
   frame i (shared by both directions).
2. `flow_iters` refinement iterations per direction. In iteration l the motion encoder fuses the
   correlation features looked up around the current flow estimate with that flow's own features
   (RAFT's `update_block.motion_encoder(flow, corr)`: 82 channels for raft_small, 128 for
   raft_large). The final iteration's motion features are kept (that iteration's GRU update and
   flow head would only refine a flow nobody reads, so they are skipped).
3. The two directions are fused per position by concatenation (2·C channels) — optionally
   average-pooled `pool`× spatially — and a learned linear layer maps them to d_m.
4. Self-attention over the H'×W' positions of the frame (pre-norm, residual), then average pooling
   → z_d^i ∈ R^{d_m}. z_d ∈ R^{T_o × d_m} at the video rate f_o.

Steps 1–2 are frozen (pretrained or seeded-random RAFT) and cached per video file; steps 3–4
(`DynamicsAggregator`) are trained with DyViM (the paper trains its self-attention module).

Edge frames: the triplet is padded by replication — frame −1 is frame 0 and frame T_o is frame
T_o − 1 — so the outer direction of the first and last frame sees a still pair (zero motion). A
1-frame video is the triplet (0, 0, 0); a 2-frame video gives (0, 0, 1) and (0, 1, 1).
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from core.media import decode_frames
from core.cache import Cache
from core.errors import ConfigError, WeightsNotFoundError
from core.weights import file_identity, read_torch_file, seeded, torch_checkpoint_path
from systems.dyvim.extraction import VideoFeatures, cached, check_choice, module_device, video_rate

RAFT_MOTION_CHANNELS = {"small": 82, "large": 128}


@dataclass(frozen=True)
class FwDFConfig:
    """FwDF settings. `frame_size` is (W, H): multiples of 8 and at least 128 (RAFT's 4-level
    correlation pyramid needs feature maps of ≥ 16 cells). `fps` None = the video's own rate.

    `pool` average-pools the H/8 × W/8 motion maps before they are cached and attended over: at
    224² the default 4 gives 7 × 7 positions (6.3 MB float16 per 10 s clip at 25 fps with raft_large);
    pool 2 gives 14 × 14 (25.1 MB per clip, 4× the attention tokens). The cache holds the maps,
    not z_d, because the head after them is trained."""

    raft: Literal["small", "large"] = "large"
    weights: Literal["random", "pretrained"] = "random"
    weights_path: str | None = None
    flow_iters: int = 12
    d_m: int = 1024
    n_heads: int = 8
    frame_size: tuple[int, int] = (224, 224)
    pool: int = 4
    fps: float | None = None
    chunk: int = 8
    seed: int = 0
    cache_dtype: str = "float16"

    @classmethod
    def tiny(cls, **overrides) -> "FwDFConfig":
        """CI size: raft_small at 128², 2 iterations, 8×8 positions, d_m 32."""
        base = dict(raft="small", flow_iters=2, d_m=32, n_heads=4, frame_size=(128, 128), pool=2)
        return cls(**{**base, **overrides})

    def __post_init__(self):
        check_choice("raft", self.raft, tuple(RAFT_MOTION_CHANNELS))
        check_choice("weights", self.weights, ("random", "pretrained"))
        w, h = self.frame_size
        if w % 8 or h % 8 or min(w, h) < 128:
            raise ConfigError(f"FwDF frame_size {w}x{h}: width and height must be multiples of 8 and >= 128 (RAFT)")
        if self.flow_iters < 1:
            raise ConfigError(f"system.dyvim.flow_iters must be >= 1, got {self.flow_iters}")
        if self.d_m < 1 or self.d_m % self.n_heads:
            raise ConfigError(f"system.dyvim.d_m={self.d_m} must be a positive multiple of n_heads={self.n_heads}")
        if self.pool < 1 or (h // 8) % self.pool or (w // 8) % self.pool:
            raise ConfigError(f"FwDF pool={self.pool} must divide the motion map {w // 8}x{h // 8}")

    @property
    def motion_channels(self) -> int:
        """Channels of the fused two-direction motion map (2 · C_RAFT)."""
        return 2 * RAFT_MOTION_CHANNELS[self.raft]

    def extractor_config(self) -> dict:
        """What determines the cached motion maps (not d_m / n_heads: those belong to the trained head)."""
        cfg = {k: v for k, v in asdict(self).items() if k not in ("d_m", "n_heads", "chunk", "weights_path")}
        if self.weights == "pretrained":
            cfg["weights_file"] = file_identity(self.weights_file())
        return cfg

    def weights_file(self):
        from torchvision.models.optical_flow import Raft_Large_Weights, Raft_Small_Weights

        enum = Raft_Large_Weights.DEFAULT if self.raft == "large" else Raft_Small_Weights.DEFAULT
        return torch_checkpoint_path(self.weights_path, os.path.basename(enum.url), enum.url,
                                     f"FwDF raft_{self.raft}")


class RAFTMotionEncoder(nn.Module):
    """Frozen part of FwDF: frames → bi-directional final-iteration RAFT motion features.

    Input (T, 3, H, W) in [−1, 1] (RAFT's normalisation); output (T, 2·C, H/8/pool, W/8/pool), the
    (i → i−1) features in the first C channels and (i → i+1) in the last C. Always in eval mode
    (raft_large's context encoder has batch norm) and never receives gradients.
    """

    def __init__(self, config: FwDFConfig):
        super().__init__()
        from torchvision.models.optical_flow import raft_large, raft_small

        self.config = config
        with seeded(config.seed):
            self.raft = (raft_large if config.raft == "large" else raft_small)(weights=None, progress=False)
        if config.weights == "pretrained":
            self.raft.load_state_dict(_raft_state(config.weights_file(), config.raft))
        self.raft.requires_grad_(False)
        self.raft.eval()

    def train(self, mode: bool = True):  # the backbone stays frozen whatever the parent does
        return super().train(False)

    @torch.no_grad()
    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        if frames.ndim != 4 or frames.shape[1] != 3:
            raise ValueError(f"frames must be (T, 3, H, W), got {tuple(frames.shape)}")
        t = frames.shape[0]
        chunk = max(1, self.config.chunk)
        fmaps = torch.cat([self.raft.feature_encoder(frames[s:s + chunk]) for s in range(0, t, chunk)])
        context = torch.cat([self.raft.context_encoder(frames[s:s + chunk]) for s in range(0, t, chunk)])
        idx = torch.arange(t, device=frames.device)
        neighbours = (idx - 1).clamp(min=0), (idx + 1).clamp(max=t - 1)  # replicate-padded triplets
        directions = []
        for nb in neighbours:
            parts = [self._pair_motion(fmaps[s:s + chunk], fmaps[nb[s:s + chunk]], context[s:s + chunk])
                     for s in range(0, t, chunk)]
            directions.append(torch.cat(parts))
        motion = torch.cat(directions, dim=1)
        if self.config.pool > 1:
            motion = F.avg_pool2d(motion, self.config.pool)
        return motion

    def _pair_motion(self, fmap1: torch.Tensor, fmap2: torch.Tensor, context_out: torch.Tensor) -> torch.Tensor:
        from torchvision.models.optical_flow._utils import make_coords_grid

        raft = self.raft
        raft.corr_block.build_pyramid(fmap1, fmap2)
        hidden_size = raft.update_block.hidden_state_size
        hidden, context = torch.split(context_out, [hidden_size, context_out.shape[1] - hidden_size], dim=1)
        hidden, context = torch.tanh(hidden), F.relu(context)
        b, _, h, w = fmap1.shape
        coords0 = make_coords_grid(b, h, w).to(fmap1.device)
        coords1 = coords0.clone()
        for it in range(self.config.flow_iters):
            corr = raft.corr_block.index_pyramid(centroids_coords=coords1)
            flow = coords1 - coords0
            if it == self.config.flow_iters - 1:
                return raft.update_block.motion_encoder(flow, corr)
            hidden, delta = raft.update_block(hidden, context, corr, flow)
            coords1 = coords1 + delta
        raise AssertionError("unreachable: flow_iters >= 1")


def _raft_state(path, variant: str) -> dict:
    """The state dict of torchvision's raft_<variant> from `path`, or a WeightsNotFoundError that
    says what the file is instead (not a torch checkpoint; the other RAFT variant; not RAFT) and
    lists the keys expected."""
    other = "small" if variant == "large" else "large"
    hint = (f"FwDF raft_{variant} needs torchvision's Raft_{variant.capitalize()}_Weights file (size tiny uses "
            "raft_small, small/medium raft_large); set system.dyvim.weights_paths.fwdf to it")
    state = read_torch_file(path, hint)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    with seeded(0):
        expected = (raft_small_model() if variant == "small" else raft_large_model()).state_dict()
    shapes = {k: tuple(v.shape) for k, v in expected.items()}
    listed = ", ".join(f"{k} {shapes[k]}" for k in list(shapes)[:3])
    if not isinstance(state, dict) or not any(str(k).startswith("feature_encoder.") for k in state):
        raise WeightsNotFoundError(f"{path} holds no RAFT weights (no feature_encoder.* tensors; raft_{variant} has "
                                   f"{len(shapes)} tensors: {listed}, ...); {hint}")
    wrong = [k for k, v in state.items() if k in shapes and shapes[k] != tuple(getattr(v, "shape", ()))]
    missing, extra = [k for k in shapes if k not in state], [k for k in state if k not in shapes]
    if wrong or missing or extra:
        is_other = not _raft_mismatch(state, other)
        what = f"raft_{other} weights" if is_other else f"not raft_{variant} weights"
        details = "; ".join(part for part in (
            f"{len(wrong)} tensors of another shape (e.g. {wrong[0]}: expected {shapes[wrong[0]]}, "
            f"found {tuple(state[wrong[0]].shape)})" if wrong else "",
            f"{len(missing)} expected tensors missing (e.g. {', '.join(missing[:3])})" if missing else "",
            f"{len(extra)} unknown tensors (e.g. {', '.join(map(str, extra[:3]))})" if extra else "") if part)
        raise WeightsNotFoundError(f"{path} is {what}, not raft_{variant}: {details}; raft_{variant} expects "
                                   f"{len(shapes)} tensors: {listed}, ...; {hint}")
    return state


def _raft_mismatch(state: dict, variant: str) -> bool:
    """Whether `state` does not fit torchvision's raft_<variant> exactly (key set and shapes)."""
    with seeded(0):
        ref = (raft_small_model() if variant == "small" else raft_large_model()).state_dict()
    return set(ref) != set(state) or any(tuple(ref[k].shape) != tuple(getattr(state[k], "shape", ())) for k in ref)


def raft_small_model():
    from torchvision.models.optical_flow import raft_small

    return raft_small(weights=None, progress=False)


def raft_large_model():
    from torchvision.models.optical_flow import raft_large

    return raft_large(weights=None, progress=False)


class DynamicsAggregator(nn.Module):
    """Trainable part of FwDF: per-channel standardisation, per-position linear map to d_m,
    self-attention over the H'×W' positions of each frame, average pooling → z_d^i (Eq. 1).

    The standardisation (batch normalisation without affine parameters: running mean and variance
    of the training clips' motion maps, per channel) is there because a frozen motion encoder's
    channels are mostly a constant offset: on the toy with random RAFT-small the channels' spread
    over time was 9 % of their mean, so the frames where the figure moves changed z_d by ~1 % of
    its norm and training never amplified it (docs/science.md). Standardised, the same motion is
    of unit scale.

    `forward(motion (..., C, H', W'))` → z_d (..., d_m) and, if asked, the head-averaged attention
    weights (..., P, P) with P = H'·W' (row = query position; paper Fig. 5).
    """

    def __init__(self, in_channels: int, d_m: int, n_heads: int):
        super().__init__()
        self.standardise = nn.BatchNorm1d(in_channels, affine=False)
        self.proj = nn.Linear(in_channels, d_m)
        self.norm = nn.LayerNorm(d_m)
        self.attn = nn.MultiheadAttention(d_m, n_heads, batch_first=True)

    def forward(self, motion: torch.Tensor, return_attention: bool = False):
        lead = motion.shape[:-3]
        x = motion.flatten(-2).transpose(-1, -2).reshape(-1, motion.shape[-2] * motion.shape[-1], motion.shape[-3])
        x = x.to(self.proj.weight.dtype)
        x = self.standardise(x.reshape(-1, x.shape[-1])).view(x.shape)
        x = self.proj(x)
        q = self.norm(x)
        y, weights = self.attn(q, q, q, need_weights=return_attention, average_attn_weights=True)
        z = (x + y).mean(dim=1).reshape(*lead, -1)
        if return_attention:
            return z, weights.reshape(*lead, *weights.shape[-2:])
        return z


class FwDFEncoder(nn.Module):
    """Frame-wise dynamics features (Eq. 1). `extract` (frozen RAFT, cached) → motion maps;
    `forward` (trained) → z_d (T_o, d_m); `encode_frames` does both on decoded frames."""

    def __init__(self, config: FwDFConfig | None = None):
        super().__init__()
        self.config = config or FwDFConfig()
        self.motion_encoder = RAFTMotionEncoder(self.config)
        with seeded(self.config.seed + 1):
            self.aggregator = DynamicsAggregator(self.config.motion_channels, self.config.d_m, self.config.n_heads)

    @property
    def out_dim(self) -> int:
        return self.config.d_m

    @property
    def weights_kind(self) -> str:
        return self.config.weights

    def forward(self, motion: torch.Tensor, return_attention: bool = False):
        """Cached motion maps (..., T_o, 2C, H', W') → z_d (..., T_o, d_m) [, attention (..., T_o, P, P)]."""
        return self.aggregator(motion, return_attention=return_attention)

    def prepare(self, frames: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 (T, H, W, 3) RGB → float (T, 3, H, W) in [−1, 1] at `frame_size`, on the module's device."""
        x = torch.as_tensor(np.asarray(frames))
        if x.ndim != 4 or x.shape[-1] != 3:
            raise ValueError(f"frames must be uint8 (T, H, W, 3), got {tuple(x.shape)}")
        if x.shape[0] == 0:
            raise ValueError("no frames to encode")
        x = x.permute(0, 3, 1, 2).float().div(127.5).sub(1.0).to(module_device(self))
        w, h = self.config.frame_size
        if x.shape[-2:] != (h, w):
            x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
        return x

    def motion_features(self, frames: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Frozen step on decoded frames → (T_o, 2C, H', W') float32."""
        return self.motion_encoder(self.prepare(frames))

    def encode_frames(self, frames: np.ndarray | torch.Tensor, return_attention: bool = False):
        return self(self.motion_features(frames), return_attention=return_attention)

    def extract(self, video_path: str | os.PathLike, start: float = 0.0, duration: float | None = None,
                cache: Cache | None = None) -> VideoFeatures:
        """Motion maps of the clip [start, start + duration) at f_o, cached per video file + config."""
        fps = video_rate(video_path, self.config.fps)
        w, h = self.config.frame_size
        key = {**self.config.extractor_config(), "fps": fps, "start": float(start), "duration": duration}

        def compute():
            frames = decode_frames(video_path, fps=fps, size=(w, h), start=start, duration=duration)
            maps = self.motion_features(frames).cpu().numpy().astype(self.config.cache_dtype)
            return {"motion": maps, "fps": np.float64(fps)}

        out = cached(cache, "dyvim.fwdf", key, [video_path], compute)
        return VideoFeatures(out["motion"], float(out["fps"]))

    def extract_clip(self, clip, cache: Cache | None = None) -> VideoFeatures:
        return self.extract(clip.video_path, clip.start, clip.duration, cache)
