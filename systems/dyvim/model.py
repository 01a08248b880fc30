"""DyViM's model: the trainable heads and projectors around MusicGen's decoder (paper §4, Eqs. 1–4).

    dynamics   z_d = head(cached encoder features)  (T_o, d_m) at f_o           [FwDF: Eq. 1]
               z'_d = nearest-neighbour interpolation to 50 Hz tokens           [§4.2]
               z̃_d = MLP(z'_d)  → d
       extend: z_i = α·z̃_{d,i} + Σ_k (1−α)·z_{i,k}  at the decoder input        [Eq. 3]
       cross:  z̃_d (at f_o) joins the cross-attention memory, each frame's token plus the decoder's
               sinusoidal position of its music time (`dynamics_time_encoding`), so the
               decoder can tell which frame a token is
    semantics  z̃_s = MLP(z_s)  (N_d, d)                                         [Eq. 2 → Eq. 4]
       cross:  the cross-attention memory of every decoder layer (MusicGen's conditioning path)
       prepend: N_d prefix positions before the first code column

`DyViMConfig` holds the `system.dyvim.*` keys (README, "DyViM"; `bench/conf/system/dyvim.yaml`). Tuning: `full` trains the decoder,
`lora` (peft) trains low-rank adapters on its attention projections, `frozen` only the heads and
projectors; in every mode the dynamics head and both projectors train.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

from core.errors import ConfigError
from systems.dyvim.conditioning import (
    ALIGNMENTS,
    DynamicsProjector,
    SemanticsProjector,
    apply_delay_pattern,
    check_alpha,
    dynamics_time_steps,
    revert_delay_pattern,
    token_extension,
    token_index_map,
)
from systems.musicgen.conditioning import Conditioning, memory_kwargs
from systems.musicgen.decoder import FRAME_RATE, PAD_ID, MusicDecoder, decoder_forward, summed_code_embeddings
from core.weights import seeded
from systems.dyvim.extraction import check_choice
from systems.dyvim.schedules import SCHEDULES

CONDITIONS = ("full", "no_dynamics", "no_semantics")
DYNAMICS_STRATEGIES = ("extend", "cross")
SEMANTICS_STRATEGIES = ("cross", "prepend")
TUNINGS = ("full", "lora", "frozen")
LORA_TARGETS = ("q_proj", "v_proj")  # in self- and cross-attention of every decoder layer


@dataclass(frozen=True)
class DyViMConfig:
    """The model-defining keys (README, "DyViM"). Anything here changes what a checkpoint holds."""

    size: Literal["tiny", "small", "medium"] = "tiny"
    weights: Literal["random", "pretrained"] = "random"
    model: str | None = None  # hub id / local folder of the MusicGen checkpoint (default: the size's)
    conditions: str = "full"
    dynamics_strategy: str = "extend"
    dynamics_alignment: str = "predicted"  # Eq. 3 pairing under the delay pattern (conditioning.dynamics_time_steps)
    semantics_strategy: str = "cross"
    dynamics_encoder: str = "fwdf"
    semantics_encoder: str = "clip"
    alpha: float = 0.3
    schedule: str = "cosine"
    a_max: float = 1.0
    epsilon: float = 0.1
    tuning: str = "lora"
    flow_iters: int | None = None  # None: the encoder size's default (12; tiny 2)
    d_m: int | None = None  # None: 1024 (tiny 32)
    fwdf_pool: int | None = None  # FwDF motion-map average pooling (None: 4; tiny 2)
    fwdf_frame_size: tuple[int, int] | None = None  # FwDF input (W, H) (None: 224 × 224; tiny 128 × 128)
    n_d: int = 50
    lora_rank: int = 8
    lora_alpha: int = 16
    cond_dropout: float = 0.0  # condition dropout while training (enables classifier-free guidance)
    seed: int = 0

    def __post_init__(self):
        check_choice("size", self.size, ("tiny", "small", "medium"))
        check_choice("weights", self.weights, ("random", "pretrained"))
        check_choice("conditions", self.conditions, CONDITIONS)
        check_choice("dynamics_strategy", self.dynamics_strategy, DYNAMICS_STRATEGIES)
        check_choice("semantics_strategy", self.semantics_strategy, SEMANTICS_STRATEGIES)
        check_choice("dynamics_alignment", self.dynamics_alignment, ALIGNMENTS)
        check_choice("dynamics_encoder", self.dynamics_encoder, ("fwdf", "i3d", "pose"))
        check_choice("semantics_encoder", self.semantics_encoder, ("clip", "t5"))
        check_choice("schedule", self.schedule, SCHEDULES)
        check_choice("tuning", self.tuning, TUNINGS)
        check_alpha(self.alpha)
        if self.fwdf_frame_size is not None:
            object.__setattr__(self, "fwdf_frame_size", tuple(int(x) for x in self.fwdf_frame_size))
            if len(self.fwdf_frame_size) != 2:
                raise ConfigError(f"system.dyvim.fwdf_frame_size={list(self.fwdf_frame_size)}: give [width, height]")
        if self.n_d < 1:
            raise ConfigError(f"system.dyvim.n_d={self.n_d} must be >= 1")
        if not 0.0 <= self.cond_dropout < 1.0:
            raise ConfigError(f"system.dyvim.cond_dropout={self.cond_dropout} must lie in [0, 1)")

    @property
    def use_dynamics(self) -> bool:
        return self.conditions != "no_dynamics"

    @property
    def use_semantics(self) -> bool:
        return self.conditions != "no_semantics"

    def fingerprint(self) -> dict:
        """What a checkpoint must match to be loaded (α, schedule and dropout only steer training)."""
        d = asdict(self)
        for k in ("alpha", "schedule", "a_max", "epsilon", "cond_dropout", "seed"):
            d.pop(k)
        return d


class DyViMModel(nn.Module):
    """Heads, projectors and the decoder. `dynamics_head` is the trainable part of the dynamics
    encoder (FwDF's aggregator, pose's MLP, identity for I3D); the frozen extractors live outside,
    their outputs cached."""

    def __init__(self, config: DyViMConfig, decoder: MusicDecoder, dynamics_head: nn.Module | None, dynamics_dim: int,
                 semantics_shape: tuple[int, int] | None, video_fps: float):
        super().__init__()
        self.config = config
        self.decoder = decoder
        self.lm = decoder.lm
        self.video_fps = float(video_fps)
        d = decoder.width
        with seeded(config.seed + 11):
            self.dynamics_head = dynamics_head if config.use_dynamics else None
            self.dynamics_projector = DynamicsProjector(dynamics_dim, d) if config.use_dynamics else None
            self.semantics_projector = (SemanticsProjector(semantics_shape[0], semantics_shape[1], config.n_d, d)
                                        if config.use_semantics else None)
        self._apply_tuning()

    # --- tuning -------------------------------------------------------------------------------
    def _apply_tuning(self) -> None:
        self.lm.requires_grad_(self.config.tuning == "full")
        if self.config.tuning == "lora":
            from peft import LoraConfig, inject_adapter_in_model

            with seeded(self.config.seed + 13):
                inject_adapter_in_model(LoraConfig(r=self.config.lora_rank, lora_alpha=self.config.lora_alpha,
                                                   lora_dropout=0.0, target_modules=list(LORA_TARGETS)), self.lm)
            for name, p in self.lm.named_parameters():
                p.requires_grad_("lora_" in name)
        for m in (self.dynamics_head, self.dynamics_projector, self.semantics_projector):
            if m is not None:
                for p in m.parameters():
                    p.requires_grad_(True)

    def trained_names(self) -> set[str]:
        """State keys training changes: the trainable parameters and the running statistics of the
        batch-norm layers (FwDF's motion-map standardisation), which change with no gradient."""
        names = {n for n, p in self.named_parameters() if p.requires_grad}
        for prefix, module in self.named_modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                names |= {f"{prefix}.{b}" for b, _ in module.named_buffers(recurse=False)}
        return names

    def trainable_state(self) -> dict[str, torch.Tensor]:
        """What training changes (what a checkpoint stores; the rest rebuilds from config)."""
        names = self.trained_names()
        return {k: v.detach().cpu() for k, v in self.state_dict().items() if k in names}

    def load_trainable_state(self, state: dict[str, torch.Tensor], source: str) -> None:
        own = self.state_dict()
        expected = self.trained_names()
        missing, unexpected = sorted(expected - set(state)), sorted(set(state) - set(own))
        wrong = [k for k in state if k in own and tuple(own[k].shape) != tuple(state[k].shape)]
        if missing or unexpected or wrong:
            raise ConfigError(f"checkpoint {source} does not fit this DyViM config: missing {missing[:3]}, "
                              f"unexpected {unexpected[:3]}, shape mismatch {wrong[:3]} (was it trained with another "
                              "size, encoder, strategy or tuning?)")
        self.load_state_dict(state, strict=False)

    def count_parameters(self) -> tuple[int, int]:
        """(trainable, total) parameter counts."""
        total = sum(p.numel() for p in self.parameters())
        return sum(p.numel() for p in self.parameters() if p.requires_grad), total

    # --- conditioning -------------------------------------------------------------------------
    def condition(self, dynamics: torch.Tensor | None, semantics: torch.Tensor | None,
                  semantics_mask: torch.Tensor | None, n_steps: int, drop: torch.Tensor | None = None,
                  window: tuple[int, int] | None = None) -> Conditioning:
        """Encoder outputs for a batch → Conditioning for `n_steps` music frames.

        dynamics: cached features (B, T_o, ...) for the head; semantics (B, N_h, d_s) + mask (B, N_h);
        `drop` (B,) bool nulls a sample's conditions (condition dropout / the unconditional branch of
        classifier-free guidance): its projected conditions become zeros. `window` (start, length)
        conditions only those music frames of the clip (training on segments): `extend` then runs
        the dynamics head on just the video frames they map to."""
        cfg, out = self.config, Conditioning()
        keep = None if drop is None else (~drop).to(torch.float32)
        mem, mem_mask = [], []
        if cfg.use_dynamics:
            if dynamics is None:
                raise ValueError("this DyViM config uses dynamics but no dynamics features were given")
            if cfg.dynamics_strategy == "extend":
                start, length = window or (0, n_steps)
                idx = token_index_map(dynamics.shape[1], self.video_fps, n_steps, FRAME_RATE)[start:start + length]
                lo, hi = int(idx.min()), int(idx.max()) + 1
                z_d = self.dynamics_head(dynamics[:, lo:hi])  # (B, frames, d_m): Eq. 1 on the frames needed
                z_d = z_d.index_select(1, torch.as_tensor(idx - lo, device=z_d.device))  # §4.2 interpolation
                z = self.dynamics_projector(z_d)
                out.dynamics = z if keep is None else z * keep.view(-1, 1, 1).to(z.dtype)
            else:
                start, length = window or (0, n_steps)
                frames = frames_of_window(dynamics.shape[1], self.video_fps, n_steps, start, length)
                z = self.dynamics_projector(self.dynamics_head(dynamics[:, frames]))
                z = z + self.dynamics_time_encoding(frames, start).to(z.dtype)
                mem.append(z if keep is None else z * keep.view(-1, 1, 1).to(z.dtype))
                mem_mask.append(torch.ones(z.shape[:2], dtype=torch.bool, device=z.device))
        if cfg.use_semantics:
            if semantics is None:
                raise ValueError("this DyViM config uses semantics but no semantic features were given")
            z, mask = self.semantics_projector(semantics, semantics_mask)
            z = z if keep is None else z * keep.view(-1, 1, 1).to(z.dtype)
            if cfg.semantics_strategy == "cross":
                mem.append(z)
                mem_mask.append(mask)
            else:
                out.prefix = z
        if mem:
            out.memory = torch.cat(mem, dim=1)
            out.memory_mask = torch.cat(mem_mask, dim=1)
        return out

    def dynamics_time_encoding(self, frames: np.ndarray, start: int) -> torch.Tensor:
        """`cross` strategy: the decoder's own sinusoidal positional embedding of each video frame's
        music position (frame f at f / f_o s → token round(f · 50 / f_o), minus the window start;
        clamped at 0), added to that frame's memory token. Without it the cross-attention memory is
        a set: the decoder could not tell which frame a dynamics token belongs to (a strawman for
        D_cross in Table 2)."""
        tokens = np.floor(frames * FRAME_RATE / self.video_fps + 0.5).astype(np.int64) - int(start)
        tokens = np.clip(tokens, 0, None)
        pos = self.lm.model.decoder.embed_positions
        table = pos(torch.empty((1, 1, int(tokens.max()) + 1), device=pos.weights.device))
        return table.index_select(0, torch.as_tensor(tokens, device=table.device))[None]

    def input_embeddings(self, columns: torch.Tensor, cond: Conditioning, positions: torch.Tensor) -> torch.Tensor:
        """Code columns (B, K, L) in the delayed layout at decoder positions `positions` (L,) →
        the decoder input (B, L, d): summed codebook embeddings, token-extended when `extend`."""
        emb = summed_code_embeddings(self.lm, columns)
        if cond.dynamics is None:
            return emb
        frames = dynamics_time_steps(int(positions.max()) + 1, columns.shape[1], cond.dynamics.shape[1],
                                     self.config.dynamics_alignment)
        idx = torch.as_tensor(frames, device=cond.dynamics.device)[positions.to(cond.dynamics.device)]
        return token_extension(emb, cond.dynamics.index_select(1, idx), self.config.alpha)  # Eq. 3


    # --- teacher-forced forward (training, NLL) -------------------------------------------------
    def forward(self, codes: torch.Tensor, cond: Conditioning) -> torch.Tensor:
        """codes (B, K, T) time-aligned → time-aligned logits (B, K, T, V).

        The delayed sequence D (B, K, T+K−1) is read shifted right by one BOS column; position i
        predicts column i (codebook k of frame i − k; see conditioning.py), so reverting the delay
        on the logits lines each one up with its target code Q[k, t]."""
        b, k, t = codes.shape
        delayed = apply_delay_pattern(codes, PAD_ID)
        inputs = torch.cat([delayed.new_full((b, k, 1), PAD_ID), delayed[:, :, :-1]], dim=2)
        positions = torch.arange(inputs.shape[2], device=codes.device)
        embeds = self.input_embeddings(inputs, cond, positions)
        if cond.prefix is not None:
            embeds = torch.cat([cond.prefix.to(embeds.dtype), embeds], dim=1)
        logits, _ = decoder_forward(self.lm, embeds, **memory_kwargs(self.lm, cond))
        if cond.prefix is not None:
            logits = logits[:, :, cond.prefix.shape[1]:]
        return revert_delay_pattern(logits, t)


def frames_of_window(n_frames: int, video_fps: float, n_steps: int, start: int, length: int) -> np.ndarray:
    """The video frames (sorted, unique) that music frames start..start+length−1 map to (§4.2)."""
    idx = token_index_map(n_frames, video_fps, n_steps, FRAME_RATE)[start:start + length]
    return np.unique(idx)


def token_nll(model: DyViMModel, codes: torch.Tensor, cond: Conditioning) -> torch.Tensor:
    """Mean negative log-likelihood per code (nats), unweighted: the held-out measure."""
    logits = model(codes, cond)
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), codes.reshape(-1).long())


def cosine_lr(step: int, warmup: int, total: int, floor: float = 0.0) -> float:
    """Linear warm-up for `warmup` steps, then cosine decay to `floor` at `total` (a multiplier)."""
    if step < warmup:
        return (step + 1) / max(1, warmup)
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
