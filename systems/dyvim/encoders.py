"""DyViM's visual encoders, built from the config keys in the README's "DyViM" section.

    dynamics_encoder: fwdf (Eq. 1, default) | i3d | pose       → per-frame features at f_o
    semantics_encoder: clip (Eq. 2, default) | t5              → (N_h, d_s) states + mask

Every encoder has `extract_clip(clip, cache)` — the frozen extraction, computed once per input file
and config into `core.cache.Cache` — and the dynamics encoders a trainable `forward` that maps the
cached arrays to z_d (T_o, out_dim). Implementations: `encoders_dynamics` (FwDF),
`encoders_ablation` (I3D, pose), `encoders_semantics` (CLIP, T5), `extraction` (shared).
"""

from __future__ import annotations

from core.errors import UnknownNameError
from systems.dyvim.encoders_ablation import (
    I3DConfig,
    I3DEncoder,
    PoseConfig,
    PoseEncoder,
    pose_velocity_features,
    read_keypoints,
)
from systems.dyvim.extraction import SIZES, SemanticFeatures, VideoFeatures, check_choice
from systems.dyvim.encoders_dynamics import DynamicsAggregator, FwDFConfig, FwDFEncoder, RAFTMotionEncoder
from systems.dyvim.encoders_semantics import (
    CLIPSemanticsConfig,
    CLIPSemanticsEncoder,
    T5SemanticsConfig,
    T5SemanticsEncoder,
)

DYNAMICS_ENCODERS = ("fwdf", "i3d", "pose")
SEMANTICS_ENCODERS = ("clip", "t5")


def build_dynamics_encoder(name: str = "fwdf", *, size: str = "medium", weights: str = "random",
                           flow_iters: int | None = None, d_m: int | None = None, weights_path: str | None = None,
                           fps: float | None = None, seed: int = 0, pool: int | None = None,
                           frame_size: tuple[int, int] | None = None):
    """`system.dyvim.dynamics_encoder` → an encoder module. `size: tiny` gives the CI configs.

    FwDF uses raft_large for small/medium (raft_small for tiny); `weights: pretrained` reads
    torchvision's RAFT (or pytorchvideo's I3D) checkpoint from `weights_path` or $TORCH_HOME.
    `d_m` sets FwDF's and pose's output width; I3D's is always 2048 (the projector maps it to d).
    `pool` and `frame_size` (W, H) set FwDF's motion-map pooling and input size (None: the size's
    defaults: 4 and 224 × 224, i.e. 7 × 7 positions; tiny 2 and 128 × 128).
    """
    check_choice("size", size, SIZES)
    if name == "fwdf":
        base = FwDFConfig.tiny() if size == "tiny" else FwDFConfig()
        over = {k: v for k, v in dict(flow_iters=flow_iters, d_m=d_m, pool=pool,
                                      frame_size=None if frame_size is None else tuple(int(x) for x in frame_size)
                                      ).items() if v is not None}
        if d_m is not None and d_m % base.n_heads:  # the largest head count <= the default that divides d_m
            over["n_heads"] = max(h for h in range(1, base.n_heads + 1) if d_m % h == 0)
        return FwDFEncoder(FwDFConfig(**{**_fields(base), **over, "weights": weights, "weights_path": weights_path,
                                         "fps": fps, "seed": seed}))
    if name == "i3d":
        base = I3DConfig.tiny() if size == "tiny" else I3DConfig()
        return I3DEncoder(I3DConfig(**{**_fields(base), "weights": weights, "weights_path": weights_path, "fps": fps,
                                       "seed": seed}))
    if name == "pose":
        base = PoseConfig.tiny() if size == "tiny" else PoseConfig()
        return PoseEncoder(PoseConfig(**{**_fields(base), **({"d_m": d_m} if d_m else {}), "fps": fps, "seed": seed}))
    raise UnknownNameError("dynamics encoder", name, list(DYNAMICS_ENCODERS))


def build_semantics_encoder(name: str = "clip", *, size: str = "medium", weights: str = "random",
                            model: str | None = None, seed: int = 0):
    """`system.dyvim.semantics_encoder` → an encoder module; `model` = hub id or local folder."""
    if name == "clip":
        cfg = CLIPSemanticsConfig(size=size, weights=weights, seed=seed, **({"model": model} if model else {}))
        return CLIPSemanticsEncoder(cfg)
    if name == "t5":
        cfg = T5SemanticsConfig(size=size, weights=weights, seed=seed, **({"model": model} if model else {}))
        return T5SemanticsEncoder(cfg)
    raise UnknownNameError("semantics encoder", name, list(SEMANTICS_ENCODERS))


def _fields(config) -> dict:
    from dataclasses import fields

    return {f.name: getattr(config, f.name) for f in fields(config)}


__all__ = [
    "CLIPSemanticsConfig", "CLIPSemanticsEncoder", "DYNAMICS_ENCODERS", "DynamicsAggregator", "FwDFConfig",
    "FwDFEncoder", "I3DConfig", "I3DEncoder", "PoseConfig", "PoseEncoder", "RAFTMotionEncoder",
    "SEMANTICS_ENCODERS", "SemanticFeatures", "T5SemanticsConfig", "T5SemanticsEncoder", "VideoFeatures",
    "build_dynamics_encoder", "build_semantics_encoder", "pose_velocity_features", "read_keypoints",
]
