"""The alternative dynamics encoders of the paper's Table 3: I3D and 2D pose (OpenPose-style keypoints).

Both give per-frame features at the video rate f_o, like FwDF, so the same interpolation to the
token rate (conditioning.py) applies to all three.

- `I3DEncoder`: pytorchvideo's I3D-R50 (Kinetics-400; 8×8 setting), frozen. The network runs over
  the clip in windows of `window` frames with the classification head removed; the res5 output
  (2048 channels, time stride 2) is averaged over space and each frame takes the feature of the
  time cell it falls in ("per-window upsampled"). I3D's temporal max-pool needs ≥ 2 frames: a
  window with an odd frame count is padded by repeating its last frame.
- `PoseEncoder`: joint velocities of the 17 COCO keypoints (AIST++'s keypoints2d format) resampled
  to f_o → a trained MLP → d_m per frame.
"""

from __future__ import annotations

import os
import pickle
import re
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from core.media import decode_frames
from core.cache import Cache
from core.errors import ConfigError, MediaError
from core.weights import file_identity, read_torch_file, seeded, torch_checkpoint_path
from systems.dyvim.extraction import VideoFeatures, cached, check_choice, module_device, video_rate

I3D_URL = "https://dl.fbaipublicfiles.com/pytorchvideo/model_zoo/kinetics/I3D_8x8_R50.pyth"
I3D_DIM = 2048
KINETICS_MEAN, KINETICS_STD = 0.45, 0.225  # pytorchvideo's Kinetics normalisation (all channels)


@dataclass(frozen=True)
class I3DConfig:
    weights: Literal["random", "pretrained"] = "random"
    weights_path: str | None = None
    frame_size: tuple[int, int] = (224, 224)  # (W, H)
    fps: float | None = None
    window: int = 64
    seed: int = 0

    @classmethod
    def tiny(cls, **overrides) -> "I3DConfig":
        return cls(**{"frame_size": (64, 64), "window": 16, **overrides})

    def __post_init__(self):
        check_choice("weights", self.weights, ("random", "pretrained"))
        if self.window < 2 or self.window % 2:
            raise ConfigError(f"I3D window must be an even number >= 2, got {self.window}")
        if min(self.frame_size) < 32:
            raise ConfigError(f"I3D frame_size must be at least 32x32, got {self.frame_size}")

    def weights_file(self) -> Path:
        return torch_checkpoint_path(self.weights_path, os.path.basename(I3D_URL), I3D_URL, "I3D-R50")

    def extractor_config(self) -> dict:
        cfg = {k: v for k, v in asdict(self).items() if k != "weights_path"}
        if self.weights == "pretrained":
            cfg["weights_file"] = file_identity(self.weights_file())
        return cfg


class I3DEncoder(nn.Module):
    """Frozen I3D-R50 features (T_o, 2048) at f_o; `forward` is the identity (nothing trained here)."""

    out_dim = I3D_DIM

    def __init__(self, config: I3DConfig | None = None):
        super().__init__()
        with warnings.catch_warnings():  # pytorchvideo's import-time torch.jit.script deprecation notice
            warnings.simplefilter("ignore", FutureWarning)
            from pytorchvideo.models.hub.resnet import i3d_r50  # not .transforms: broken on torchvision 0.29

        self.config = config or I3DConfig()
        with seeded(self.config.seed):
            net = i3d_r50(pretrained=False)
        if self.config.weights == "pretrained":
            path = self.config.weights_file()
            hint = "I3D needs pytorchvideo's I3D_8x8_R50.pyth; set system.dyvim.weights_paths.i3d to it"
            checkpoint = read_torch_file(path, hint, weights_only=False)  # pytorchvideo pickles more than tensors
            state = checkpoint.get("model_state", checkpoint) if isinstance(checkpoint, dict) else checkpoint
            try:
                net.load_state_dict(state)
            except (RuntimeError, TypeError, AttributeError) as exc:
                from core.errors import WeightsNotFoundError

                raise WeightsNotFoundError(f"{path} is not I3D-R50 weights ({str(exc).splitlines()[0][:200]}); "
                                           f"{hint}") from exc
        self.body = nn.Sequential(*net.blocks[:-1])  # without ResNetBasicHead (pool + 400-way projection)
        self.body.requires_grad_(False)
        self.body.eval()

    @property
    def weights_kind(self) -> str:
        return self.config.weights

    def train(self, mode: bool = True):
        return super().train(False)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features

    @torch.no_grad()
    def frame_features(self, frames: np.ndarray | torch.Tensor) -> torch.Tensor:
        """uint8 (T, H, W, 3) → (T, 2048)."""
        x = torch.as_tensor(np.asarray(frames))
        if x.ndim != 4 or x.shape[-1] != 3 or x.shape[0] == 0:
            raise ValueError(f"frames must be uint8 (T, H, W, 3) with T >= 1, got {tuple(x.shape)}")
        x = x.permute(0, 3, 1, 2).float().div(255.0).to(module_device(self))
        w, h = self.config.frame_size
        if x.shape[-2:] != (h, w):
            x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False, antialias=True)
        x = (x - KINETICS_MEAN) / KINETICS_STD
        out = []
        for s in range(0, x.shape[0], self.config.window):
            win = x[s:s + self.config.window]
            n = win.shape[0]
            if n % 2:
                win = torch.cat([win, win[-1:]])
            cells = self.body(win.permute(1, 0, 2, 3).unsqueeze(0)).mean(dim=(-2, -1))[0].T  # (T'/2, 2048)
            idx = torch.clamp(torch.arange(n, device=cells.device) * cells.shape[0] // win.shape[0], max=cells.shape[0] - 1)
            out.append(cells[idx])
        return torch.cat(out)

    def extract(self, video_path: str | os.PathLike, start: float = 0.0, duration: float | None = None,
                cache: Cache | None = None) -> VideoFeatures:
        fps = video_rate(video_path, self.config.fps)
        key = {**self.config.extractor_config(), "fps": fps, "start": float(start), "duration": duration}

        def compute():
            frames = decode_frames(video_path, fps=fps, size=self.config.frame_size, start=start, duration=duration)
            return {"features": self.frame_features(frames).cpu().numpy().astype(np.float32), "fps": np.float64(fps)}

        out = cached(cache, "dyvim.i3d", key, [video_path], compute)
        return VideoFeatures(out["features"], float(out["fps"]))

    def extract_clip(self, clip, cache: Cache | None = None) -> VideoFeatures:
        return self.extract(clip.video_path, clip.start, clip.duration, cache)


N_JOINTS = 17
POSE_FEATURES = 3 * N_JOINTS  # vx, vy, |v| per joint


@dataclass(frozen=True)
class PoseConfig:
    """`view`: which camera of a multi-view keypoints file; None = the only one, or the camera in an
    AIST++ video name (`_c01_` → view 0). Joints below `min_confidence` get zero velocity."""

    d_m: int = 1024
    hidden: int = 256
    fps: float | None = None
    view: int | None = None
    min_confidence: float = 0.1
    seed: int = 0

    @classmethod
    def tiny(cls, **overrides) -> "PoseConfig":
        return cls(**{"d_m": 32, "hidden": 32, **overrides})

    def extractor_config(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k not in ("d_m", "hidden", "seed")}


_CAMERA_RE = re.compile(r"_c(\d{2})_")


def read_keypoints(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """AIST++ keypoints2d pickle → (keypoints (views, N, 17, 3) float32, timestamps (N,) in seconds)."""
    path = Path(path)
    if not path.is_file():
        raise MediaError(path, "keypoints file not found")
    try:
        with open(path, "rb") as fh:
            data = pickle.load(fh)
        kp = np.asarray(data["keypoints2d"], dtype=np.float32)
        ts = np.asarray(data["timestamps"], dtype=np.float64) / 1000.0
    except Exception as exc:
        raise MediaError(path, f"not an AIST++ keypoints2d pickle ({exc})",
                         "expected a dict with keypoints2d (views, N, 17, 3) and timestamps (N,) in ms") from exc
    if kp.ndim == 3:
        kp = kp[None]
    if kp.ndim != 4 or kp.shape[2:] != (N_JOINTS, 3) or kp.shape[1] != ts.shape[0] or ts.size == 0:
        raise MediaError(path, f"keypoints2d has shape {kp.shape} for {ts.shape[0]} timestamps; "
                         "expected (views, N, 17, 3) with N = len(timestamps) > 0")
    return kp, ts


def pose_velocity_features(keypoints: np.ndarray, times: np.ndarray, fps: float, start: float, n_frames: int,
                           min_confidence: float = 0.1) -> np.ndarray:
    """One view's keypoints (N, 17, 3) at `times` (s) → (n_frames, 51) features at f_o from `start`.

    Each output frame takes the nearest keypoint frame in time. Positions are divided by the body
    height (median over the clip of the confident joints' vertical extent), so velocities are in body
    heights per second whatever the image size; v_j = (p_j − p_{j−1})·f_o, with frame 0 taking frame
    1's velocity (zero for a one-frame clip). NaN or low-confidence joints contribute zero velocity.
    """
    targets = start + np.arange(n_frames) / fps
    order = np.argsort(times)
    times, keypoints = times[order], keypoints[order]
    right = np.clip(np.searchsorted(times, targets), 0, len(times) - 1)
    left = np.clip(right - 1, 0, len(times) - 1)
    nearest = np.where(np.abs(times[left] - targets) <= np.abs(times[right] - targets), left, right)
    kp = keypoints[nearest]
    xy, conf = kp[..., :2].astype(np.float64), np.nan_to_num(kp[..., 2], nan=0.0)
    valid = (conf >= min_confidence) & np.isfinite(xy).all(-1)
    xy = np.where(valid[..., None], xy, 0.0)
    extents = [np.ptp(f[v, 1]) for f, v in zip(xy, valid) if v.sum() >= 2]
    height = float(np.median(extents)) if extents and np.median(extents) > 0 else 1.0
    xy = xy / height
    vel = np.zeros_like(xy)
    if n_frames > 1:
        vel[1:] = (xy[1:] - xy[:-1]) * fps
        vel[1:] *= (valid[1:] & valid[:-1])[..., None]
        vel[0] = vel[1]
    speed = np.linalg.norm(vel, axis=-1, keepdims=True)
    return np.concatenate([vel, speed], axis=-1).reshape(n_frames, POSE_FEATURES).astype(np.float32)


class PoseEncoder(nn.Module):
    """Pose dynamics (Table 3, "OpenPose"): keypoint velocity features (cached) → MLP → (T_o, d_m)."""

    def __init__(self, config: PoseConfig | None = None):
        super().__init__()
        self.config = config or PoseConfig()
        with seeded(self.config.seed):
            self.mlp = nn.Sequential(nn.LayerNorm(POSE_FEATURES), nn.Linear(POSE_FEATURES, self.config.hidden), nn.GELU(),
                                     nn.Linear(self.config.hidden, self.config.d_m))

    @property
    def out_dim(self) -> int:
        return self.config.d_m

    weights_kind = "none"  # no pretrained part: the MLP is trained with DyViM

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(..., T_o, 51) velocity features → (..., T_o, d_m)."""
        return self.mlp(features.to(self.mlp[1].weight.dtype))

    def select_view(self, n_views: int, video_name: str | None) -> int:
        if self.config.view is not None:
            if not 0 <= self.config.view < n_views:
                raise ConfigError(f"pose view {self.config.view} is out of range for {n_views} views")
            return self.config.view
        if n_views == 1:
            return 0
        m = _CAMERA_RE.search(video_name or "")
        if m is None or not 1 <= int(m.group(1)) <= n_views:
            raise ConfigError(f"keypoints have {n_views} views and the camera of video {video_name!r} is unknown; "
                              "set the pose encoder's view")
        return int(m.group(1)) - 1

    def extract(self, keypoints_path: str | os.PathLike, fps: float, start: float = 0.0, duration: float | None = None,
                video_name: str | None = None, cache: Cache | None = None) -> VideoFeatures:
        """Velocity features (T_o, 51) of the clip [start, start + duration) at f_o = `fps`."""
        key = {**self.config.extractor_config(), "fps": float(fps), "start": float(start), "duration": duration,
               "video_name": video_name}

        def compute():
            kp, ts = read_keypoints(keypoints_path)
            if start > ts.max() + 1.0:
                raise MediaError(keypoints_path, f"keypoints end at {ts.max():.2f} s, the clip starts at {start:.2f} s")
            n = int(round(duration * fps)) if duration is not None else int(np.floor((ts.max() - start) * fps + 1e-6)) + 1
            view = self.select_view(kp.shape[0], video_name)
            feats = pose_velocity_features(kp[view], ts, fps, start, max(n, 1), self.config.min_confidence)
            return {"features": feats, "fps": np.float64(fps)}

        out = cached(cache, "dyvim.pose", key, [keypoints_path], compute)
        return VideoFeatures(out["features"], float(out["fps"]))

    def extract_clip(self, clip, cache: Cache | None = None) -> VideoFeatures:
        fps = video_rate(clip.video_path, self.config.fps)
        return self.extract(clip.path("keypoints"), fps, clip.start, clip.duration, Path(clip.video).name, cache)
