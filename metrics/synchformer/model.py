"""Synchformer's audio–visual offset classifier (Iashin et al. 2024, "Synchformer: Efficient
Synchronization from Sparse Cues", ICASSP), written for this harness so that the official
``synchformer_state_dict.pth`` (the `24-01-04T16-39-21` AudioSet model as av-benchmark loads it)
loads key for key (``load_state_dict`` strict).

Architecture (each part named by its key prefix in the official state dict):

vfeat_extractor  Motionformer's ViT-B/16 with divided space–time attention over a 16-frame,
                 224² segment: a 2×16×16 tubelet embedding (8 × 14 × 14 tokens + CLS), spatial
                 position + temporal embeddings, `depth` blocks of (time attention, space attention,
                 MLP), each pre-norm (norm3, norm1, norm2; LayerNorm eps 1e-6); the CLS token attends
                 to every token, each patch token to the CLS and its own row in time / frame in
                 space. The tokens (CLS dropped) are normed, and a transformer encoder layer with its
                 own CLS token pools each frame's 196 tokens: (segment, 8, D).
afeat_extractor  AST (Gong et al. 2021; transformers' ASTModel layout) on a 128-mel × 66-frame log
                 spectrogram: 16×16 patches with stride 10 (12 × 6 tokens + CLS + distillation),
                 `depth` pre-norm layers (eps 1e-12), a final LayerNorm; a transformer encoder layer
                 with a CLS token pools each time step's 12 frequency tokens: (segment, 6, D).
vproj, aproj     linear maps into the joint space.
transformer      the synchronisation transformer (minGPT blocks): [OFF, v₁…v_{8S}, MOD, a₁…a_{6S}]
                 with LayerNormed inputs and a learned position embedding of 1 + 8S + 1 + 6S = 198
                 tokens (S = 14 segments = 4.8 s), 3 blocks, 8 heads; `off_head` maps the OFF
                 token to the 21 offset classes (−2.0 … +2.0 s in 0.2 s).

Dropouts are left out (inference only). `SynchformerConfig()` is the official size; smaller ones
(fewer layers / dims) serve tests and the seeded random-weight mode.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class SynchformerConfig:
    dim: int = 768
    video_depth: int = 12
    video_heads: int = 12
    audio_depth: int = 12
    audio_heads: int = 12
    sync_layers: int = 3
    sync_heads: int = 8
    mlp_ratio: int = 4
    segments: int = 14  # per window: the sync transformer's position embedding fixes it
    classes: int = 21
    frames: int = 16  # per segment (25 fps: 0.64 s)
    tubelet: int = 2
    image: int = 224
    patch: int = 16
    mels: int = 128
    spec_frames: int = 66
    spec_patch: int = 16
    spec_stride: int = 10

    @property
    def video_tokens(self) -> tuple[int, int]:
        """(temporal, spatial) tokens per segment: (8, 196)."""
        return self.frames // self.tubelet, (self.image // self.patch) ** 2

    @property
    def audio_grid(self) -> tuple[int, int]:
        """(frequency, time) patches per segment: (12, 6)."""
        f = (self.mels - self.spec_patch) // self.spec_stride + 1
        t = (self.spec_frames - self.spec_patch) // self.spec_stride + 1
        return f, t

    def as_dict(self) -> dict:
        return asdict(self)


class ClsPoolingLayer(nn.TransformerEncoderLayer):
    """A pre-norm transformer encoder layer (GELU, eps 1e-6) run on [CLS, tokens]; returns the
    CLS output. The official checkpoint's `*_attn_agg` keys are this layer's."""

    def __init__(self, dim: int, heads: int, mlp_ratio: int):
        super().__init__(d_model=dim, nhead=heads, dim_feedforward=mlp_ratio * dim, dropout=0.0,
                         activation=nn.GELU(), layer_norm_eps=1e-6, batch_first=True, norm_first=True)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, N, D) → (B, D)
        x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        return super().forward(x)[:, 0]


# ----------------------------------------------------------------------------- video: Motionformer


class DividedAttention(nn.Module):
    """Multi-head attention over (CLS + frames × patches) restricted to one axis: every patch
    token attends to the CLS token and to the tokens sharing its patch position (axis 'time') or
    its frame (axis 'space'); the CLS token attends to all tokens."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, frames: int, patches: int, axis: str) -> torch.Tensor:
        b, n, dim = x.shape
        h, d = self.heads, dim // self.heads
        q, k, v = (t.reshape(b, n, h, d).permute(0, 2, 1, 3).reshape(b * h, n, d) for t in self.qkv(x).chunk(3, -1))
        q = q * d ** -0.5
        cls_out = torch.softmax(q[:, :1] @ k.transpose(1, 2), dim=-1) @ v

        def split(t):  # (bh, f·p, d) → (groups, len, d)
            t = t.reshape(b * h, frames, patches, d)
            return (t.permute(0, 2, 1, 3) if axis == "time" else t).reshape(-1, t.shape[2] if axis == "space" else frames, d)

        qs, ks, vs = split(q[:, 1:]), split(k[:, 1:]), split(v[:, 1:])
        r = qs.shape[0] // (b * h)
        ks = torch.cat((k[:, :1].repeat_interleave(r, 0), ks), dim=1)
        vs = torch.cat((v[:, :1].repeat_interleave(r, 0), vs), dim=1)
        out = torch.softmax(qs @ ks.transpose(1, 2), dim=-1) @ vs
        if axis == "time":
            out = out.reshape(b * h, patches, frames, d).permute(0, 2, 1, 3)
        out = torch.cat((cls_out, out.reshape(b * h, frames * patches, d)), dim=1)
        out = out.reshape(b, h, n, d).permute(0, 2, 1, 3).reshape(b, n, dim)
        return self.proj(out)


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class DividedSpaceTimeBlock(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = DividedAttention(dim, heads)
        self.timeattn = DividedAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, mlp_ratio * dim)
        self.norm3 = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x, frames: int, patches: int):
        x = x + self.timeattn(self.norm3(x), frames, patches, "time")
        x = x + self.attn(self.norm1(x), frames, patches, "space")
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, conv: nn.Module):
        super().__init__()
        self.proj = conv


class VideoEncoder(nn.Module):
    """Motionformer feature extractor: (B·S, 3, 16, 224, 224) → (B·S, 8, D)."""

    def __init__(self, cfg: SynchformerConfig):
        super().__init__()
        self.cfg = cfg
        t, p = cfg.video_tokens
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, p + 1, cfg.dim))
        self.temp_embed = nn.Parameter(torch.zeros(1, t, cfg.dim))
        # the 2-d patch embedding is unused (Motionformer keeps it to count patches): in the checkpoint
        self.patch_embed = PatchEmbed(nn.Conv2d(3, cfg.dim, cfg.patch, cfg.patch))
        self.patch_embed_3d = PatchEmbed(nn.Conv3d(3, cfg.dim, (cfg.tubelet, cfg.patch, cfg.patch),
                                                   (cfg.tubelet, cfg.patch, cfg.patch)))
        self.blocks = nn.ModuleList([DividedSpaceTimeBlock(cfg.dim, cfg.video_heads, cfg.mlp_ratio)
                                     for _ in range(cfg.video_depth)])
        self.norm = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.spatial_attn_agg = ClsPoolingLayer(cfg.dim, cfg.video_heads, cfg.mlp_ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, p = self.cfg.video_tokens
        bs = x.shape[0]
        x = self.patch_embed_3d.proj(x).flatten(2).transpose(1, 2)  # (BS, t·p, D), time-major
        x = torch.cat((self.cls_token.expand(bs, -1, -1), x), dim=1)
        pos = self.pos_embed[:, 1:].repeat(1, t, 1) + self.temp_embed.repeat_interleave(p, dim=1)
        x = x + torch.cat((self.pos_embed[:, :1], pos), dim=1)
        for blk in self.blocks:
            x = blk(x, t, p)
        x = self.norm(x[:, 1:])  # (BS, t·p, D)
        x = self.spatial_attn_agg(x.reshape(bs * t, p, -1))  # each frame's patches → its CLS
        return x.reshape(bs, t, -1)


# ----------------------------------------------------------------------------- audio: AST


class _Linear(nn.Module):
    def __init__(self, d_in: int, d_out: int):
        super().__init__()
        self.dense = nn.Linear(d_in, d_out)


class ASTSelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)

    def forward(self, x):
        b, n, dim = x.shape
        h, d = self.heads, dim // self.heads
        q, k, v = (lin(x).reshape(b, n, h, d).transpose(1, 2) for lin in (self.query, self.key, self.value))
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), dim=-1)
        return (att @ v).transpose(1, 2).reshape(b, n, dim)


class ASTAttention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.attention = ASTSelfAttention(dim, heads)
        self.output = _Linear(dim, dim)


class ASTLayer(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: int):
        super().__init__()
        self.attention = ASTAttention(dim, heads)
        self.intermediate = _Linear(dim, mlp_ratio * dim)
        self.output = _Linear(mlp_ratio * dim, dim)
        self.layernorm_before = nn.LayerNorm(dim, eps=1e-12)
        self.layernorm_after = nn.LayerNorm(dim, eps=1e-12)

    def forward(self, x):
        x = x + self.attention.output.dense(self.attention.attention(self.layernorm_before(x)))
        y = nn.functional.gelu(self.intermediate.dense(self.layernorm_after(x)))
        return x + self.output.dense(y)


class ASTEncoderStack(nn.Module):
    def __init__(self, cfg: SynchformerConfig):
        super().__init__()
        self.layer = nn.ModuleList([ASTLayer(cfg.dim, cfg.audio_heads, cfg.mlp_ratio) for _ in range(cfg.audio_depth)])


class ASTPatchEmbeddings(nn.Module):
    def __init__(self, cfg: SynchformerConfig):
        super().__init__()
        self.projection = nn.Conv2d(1, cfg.dim, cfg.spec_patch, cfg.spec_stride)


class ASTEmbeddings(nn.Module):
    def __init__(self, cfg: SynchformerConfig):
        super().__init__()
        f, t = cfg.audio_grid
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        self.distillation_token = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        self.patch_embeddings = ASTPatchEmbeddings(cfg)
        self.position_embeddings = nn.Parameter(torch.zeros(1, f * t + 2, cfg.dim))


class ASTBackbone(nn.Module):
    def __init__(self, cfg: SynchformerConfig):
        super().__init__()
        self.embeddings = ASTEmbeddings(cfg)
        self.encoder = ASTEncoderStack(cfg)
        self.layernorm = nn.LayerNorm(cfg.dim, eps=1e-12)

    def forward(self, spec: torch.Tensor) -> torch.Tensor:  # (BS, T, F) → (BS, 2 + f·t, D)
        e = self.embeddings
        x = e.patch_embeddings.projection(spec.unsqueeze(1).transpose(2, 3)).flatten(2).transpose(1, 2)
        b = x.shape[0]
        x = torch.cat((e.cls_token.expand(b, -1, -1), e.distillation_token.expand(b, -1, -1), x), dim=1)
        x = x + e.position_embeddings
        for layer in self.encoder.layer:
            x = layer(x)
        return self.layernorm(x)


class AudioEncoder(nn.Module):
    """AST feature extractor: (B·S, 66, 128) log-mel → (B·S, 6, D)."""

    def __init__(self, cfg: SynchformerConfig):
        super().__init__()
        self.cfg = cfg
        self.ast = ASTBackbone(cfg)
        self.freq_attn_agg = ClsPoolingLayer(cfg.dim, cfg.audio_heads, cfg.mlp_ratio)

    def forward(self, spec: torch.Tensor) -> torch.Tensor:
        f, t = self.cfg.audio_grid
        x = self.ast(spec)[:, 2:]  # (BS, f·t, D), frequency-major
        bs = x.shape[0]
        x = x.reshape(bs, f, t, -1).transpose(1, 2).reshape(bs * t, f, -1)  # each time step's f tokens
        return self.freq_attn_agg(x).reshape(bs, t, -1)


# ----------------------------------------------------------------------------- the sync transformer


class SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.key, self.query, self.value = nn.Linear(dim, dim), nn.Linear(dim, dim), nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, dim = x.shape
        h, d = self.heads, dim // self.heads
        q, k, v = (lin(x).reshape(b, n, h, d).transpose(1, 2) for lin in (self.query, self.key, self.value))
        att = torch.softmax((q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(d)), dim=-1)
        return self.proj((att @ v).transpose(1, 2).reshape(b, n, dim))


class SyncBlock(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: int):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, heads)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Linear(mlp_ratio * dim, dim))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class PositionEmbedding(nn.Module):
    def __init__(self, n: int, dim: int):
        super().__init__()
        self.pos_emb = nn.Parameter(torch.zeros(1, n, dim))


class SyncTransformer(nn.Module):
    def __init__(self, cfg: SynchformerConfig):
        super().__init__()
        tv, ta = cfg.video_tokens[0], cfg.audio_grid[1]
        self.vis_in_lnorm, self.aud_in_lnorm = nn.LayerNorm(cfg.dim), nn.LayerNorm(cfg.dim)
        self.OFF_tok = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        self.MOD_tok = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        self.pos_emb_cfg = PositionEmbedding(2 + cfg.segments * (tv + ta), cfg.dim)
        self.blocks = nn.Sequential(*[SyncBlock(cfg.dim, cfg.sync_heads, cfg.mlp_ratio) for _ in range(cfg.sync_layers)])
        self.ln_f = nn.LayerNorm(cfg.dim)
        self.off_head = nn.Linear(cfg.dim, cfg.classes)

    def forward(self, v: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        b = v.shape[0]
        x = torch.cat((self.OFF_tok.expand(b, -1, -1), self.vis_in_lnorm(v),
                       self.MOD_tok.expand(b, -1, -1), self.aud_in_lnorm(a)), dim=1)
        x = self.ln_f(self.blocks(x + self.pos_emb_cfg.pos_emb))
        return self.off_head(x[:, 0])


class Synchformer(nn.Module):
    def __init__(self, cfg: SynchformerConfig | None = None):
        super().__init__()
        self.cfg = cfg or SynchformerConfig()
        self.vfeat_extractor = VideoEncoder(self.cfg)
        self.afeat_extractor = AudioEncoder(self.cfg)
        self.vproj = nn.Linear(self.cfg.dim, self.cfg.dim)
        self.aproj = nn.Linear(self.cfg.dim, self.cfg.dim)
        self.transformer = SyncTransformer(self.cfg)

    def video_features(self, video: torch.Tensor) -> torch.Tensor:
        """(B, S, 16, 3, 224, 224) normalised frames → (B, S, 8, D)."""
        b, s, t, c, h, w = video.shape
        x = video.permute(0, 1, 3, 2, 4, 5).reshape(b * s, c, t, h, w)  # Conv3d wants (C, T, H, W)
        return self.vfeat_extractor(x).reshape(b, s, self.cfg.video_tokens[0], self.cfg.dim)

    def audio_features(self, spec: torch.Tensor) -> torch.Tensor:
        """(B, S, 128, 66) normalised log-mel → (B, S, 6, D)."""
        b, s = spec.shape[:2]
        x = spec.reshape(b * s, self.cfg.mels, self.cfg.spec_frames).transpose(1, 2)
        return self.afeat_extractor(x).reshape(b, s, self.cfg.audio_grid[1], self.cfg.dim)

    def offset_logits(self, vfeat: torch.Tensor, afeat: torch.Tensor) -> torch.Tensor:
        """(B, S, 8, D), (B, S, 6, D) → (B, 21) offset-class logits (the official compare_v_a)."""
        b = vfeat.shape[0]
        return self.transformer(self.vproj(vfeat).reshape(b, -1, self.cfg.dim),
                                self.aproj(afeat).reshape(b, -1, self.cfg.dim))

    def forward(self, video: torch.Tensor, spec: torch.Tensor) -> torch.Tensor:
        return self.offset_logits(self.video_features(video), self.audio_features(spec))


def offset_grid(classes: int = 21, max_offset: float = 2.0) -> torch.Tensor:
    """The offset (s) of each class: numpy's linspace(−2, 2, 21) in float32, Synchformer's
    make_class_grid (torch.linspace would give −3e-8 for the in-sync class)."""
    import numpy as np

    return torch.from_numpy(np.linspace(-max_offset, max_offset, classes)).float()
