"""DyViM (Liu, Tu, Ma, Chua 2025), the harness's reference video-to-music system: its building blocks.

- `encoders`: dynamics z_d per video frame — FwDF (Eq. 1: RAFT motion features of frame triplets,
  self-attention over positions, average pooling), I3D, 2D pose — and semantics z_s — CLIP last
  hidden states averaged over the MPEG-4 I-frames (Eq. 2), T5 over captions; extraction cached.
- `conditioning`: frame→token nearest-neighbour interpolation, projectors to the decoder width,
  token extension (Eq. 3) aligned with MusicGen's codebook delay pattern.
- `schedules`: annealing weights a_τ and the weighted token loss (Eq. 5).

Heavy dependencies (torchvision RAFT, pytorchvideo, transformers) load when an encoder is built.
"""

from systems.dyvim.conditioning import (
    DynamicsProjector,
    SemanticsProjector,
    apply_delay_pattern,
    check_alpha,
    delay_aligned_dynamics,
    dynamics_time_steps,
    interpolate_dynamics,
    revert_delay_pattern,
    token_extension,
    token_index_map,
)
from systems.dyvim.encoders import (
    CLIPSemanticsConfig,
    CLIPSemanticsEncoder,
    FwDFConfig,
    FwDFEncoder,
    I3DConfig,
    I3DEncoder,
    PoseConfig,
    PoseEncoder,
    SemanticFeatures,
    T5SemanticsConfig,
    T5SemanticsEncoder,
    VideoFeatures,
    build_dynamics_encoder,
    build_semantics_encoder,
)
from systems.dyvim.schedules import SCHEDULES, annealing_weights, delayed_weights, weighted_token_loss

__all__ = [
    "CLIPSemanticsConfig", "CLIPSemanticsEncoder", "DynamicsProjector", "FwDFConfig", "FwDFEncoder", "I3DConfig",
    "I3DEncoder", "PoseConfig", "PoseEncoder", "SCHEDULES", "SemanticFeatures", "SemanticsProjector",
    "T5SemanticsConfig", "T5SemanticsEncoder", "VideoFeatures", "annealing_weights", "apply_delay_pattern",
    "build_dynamics_encoder", "build_semantics_encoder", "check_alpha", "delay_aligned_dynamics", "delayed_weights",
    "dynamics_time_steps", "interpolate_dynamics", "revert_delay_pattern", "token_extension", "token_index_map",
    "weighted_token_loss",
]
