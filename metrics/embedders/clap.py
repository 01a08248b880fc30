"""LAION-CLAP audio embeddings as fadtk 1.1.0 computes them (``clap-laion-music``, ``clap-laion-audio``).

Reference (fadtk/model_loader.py ``CLAPLaionModel``, laion_clap 1.1.7 ``CLAP_Module``):

- model: ``laion_clap.CLAP_Module(enable_fusion=False, amodel=…)`` with ``load_ckpt(file)``:
  ``clap_music`` = HTSAT-base + ``music_audioset_epoch_15_esc_90.14.pt``; ``clap_general`` =
  HTSAT-tiny + ``630k-audioset-best.pt`` (fadtk's ``clap-laion-audio``: the non-fusion 630k+AudioSet
  file, not ``630k-audioset-fusion-best.pt``). Both files are ``{"state_dict": {"module.<key>": …}}``
  of the whole CLAP model (audio branch, text branch, projections).
- input: fadtk's ``load_audio`` (channels averaged, torchaudio Kaiser resampling to 48 kHz, saved
  as 16-bit PCM, read back ``/32768``), then laion_clap's quantisation round trip
  ``int16(clip(x, -1, 1) · 32767) / 32767``; windows of 10 s (480,000 samples) starting every
  1 s, the last ones zero-padded to 10 s; each window → HTS-AT (torchlibrosa log-mel 1024/480,
  64 bins 50–14000 Hz, ``bn0``, bicubic stretch to 1024 frames, Swin) → the 2-layer audio
  projection → L2 normalisation.
- output: ``(windows, 512)`` cast to **float16** (``ModelLoader.get_embedding``): one row per
  second of audio (``ceil(seconds)`` rows).

The network is transformers' ``ClapAudioModelWithProjection`` (the maintained port of HTS-AT +
projection) with the official file's audio-branch weights mapped onto it key by key
(``official_to_transformers``; laion's fused ``qkv`` split into query/key/value). The front end is
torchlibrosa's ``Spectrogram`` + ``LogmelFilterBank``, the very modules HTS-AT builds.
tests/metrics/test_clap.py checks the numbers against golden values made by laion_clap's own code on
one file of seeded random weights (scripts/golden/clap_golden.py).

The fusion checkpoint (``630k-audioset-fusion-best.pt``, stable-audio-metrics' CLAP score) and the
text branch are read by ``metrics.embedders.clap_score`` with the same key mapping
(``official_to_transformers(…, "fusion")``).
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from metrics.embedders.timing import seconds_per_10s_file
from core.atomic import atomic_path
from core.cache import file_digest
from core.errors import ConfigError
from metrics.embedders.cnn14 import embed_files_cached
from metrics.embedders.encodec import load_like_fadtk
from metrics.embedders.weights import check_weights_kind, resolve_weights_file, torch_load
from metrics.errors import MetricError

IMPL_VERSION = 1
SAMPLE_RATE = 48000
WINDOW = 10 * SAMPLE_RATE  # laion_clap's max_len (480000)
HOP = SAMPLE_RATE  # fadtk: "Split the audio into 10s chunks with 1s hop"
EMBEDDING_DIM = 512
DEFAULT_BATCH_SIZE = 4  # windows per forward (each a 10 s log-mel)

_HF = "https://huggingface.co/lukewys/laion_clap/resolve/main/"
#: variant → (laion amodel, official file, URL, fadtk's name)
VARIANTS = {
    "music": ("HTSAT-base", "music_audioset_epoch_15_esc_90.14.pt", _HF + "music_audioset_epoch_15_esc_90.14.pt",
              "clap-laion-music"),
    "general": ("HTSAT-tiny", "630k-audioset-best.pt", _HF + "630k-audioset-best.pt", "clap-laion-audio"),
}
#: every official file whose audio branch is read here: variant → (laion amodel, official file, URL, fusion);
#: "fusion" is laion's CLAP_Module(enable_fusion=True) default (HTSAT-tiny + aff_2d feature fusion)
CHECKPOINTS = {**{v: (a, f, u, False) for v, (a, f, u, _) in VARIANTS.items()},
               "fusion": ("HTSAT-tiny", "630k-audioset-fusion-best.pt", _HF + "630k-audioset-fusion-best.pt", True)}
# laion_clap/clap_module/model_configs/HTSAT-*.json + htsat.py create_htsat_model
HTSAT = {
    "HTSAT-tiny": {"patch_embeds_hidden_size": 96, "depths": [2, 2, 6, 2], "hidden_size": 768},
    "HTSAT-base": {"patch_embeds_hidden_size": 128, "depths": [2, 2, 12, 2], "hidden_size": 1024},
}
FRONT_END = {"n_fft": 1024, "hop_length": 480, "n_mels": 64, "fmin": 50, "fmax": 14000}


def transformers_config(amodel: str, fusion: bool = False):
    """transformers' ClapAudioConfig of laion's HTSAT-tiny / HTSAT-base audio branch (with `fusion`:
    laion's ``aff_2d`` attentional feature fusion of a global and three local mel chunks)."""
    from transformers import ClapAudioConfig

    if amodel not in HTSAT:
        raise ConfigError(f"CLAP audio model must be one of {sorted(HTSAT)}, got {amodel!r}")
    return ClapAudioConfig(**HTSAT[amodel], num_attention_heads=[4, 8, 16, 32], window_size=8, spec_size=256,
                           num_mel_bins=64, patch_size=4, patch_stride=[4, 4], projection_dim=EMBEDDING_DIM,
                           enable_fusion=fusion, fusion_type="aff_2d" if fusion else None, aff_block_r=4,
                           hidden_act="gelu", projection_hidden_act="relu", layer_norm_eps=1e-5)


@torch.no_grad()
def _informative_init(model: torch.nn.Module) -> None:
    """transformers' init (std 0.02) leaves every clip with nearly the same embedding (cosine 0.9995
    between a chirp and noise); linear layers at std 2/√fan_in, attention position biases at std 1
    and bn0 holding log-mel statistics (dB) bring it to ~0.92."""
    for name, p in model.named_parameters():
        if p.dim() == 2 and name.endswith("weight"):
            p.normal_(0.0, 2.0 / math.sqrt(p.shape[1]))
        elif name.endswith("relative_position_bias_table"):
            p.normal_(0.0, 1.0)
        elif name.endswith("bias") and p.dim() == 1 and "norm" not in name:
            p.uniform_(-0.02, 0.02)
    bn = model.audio_model.audio_encoder.batch_norm
    bn.running_mean.uniform_(-60.0, -20.0)
    bn.running_var.uniform_(100.0, 400.0)


def build_audio_model(amodel: str, seed: int | None = 0, fusion: bool = False) -> torch.nn.Module:
    """transformers' ClapAudioModelWithProjection; with a seed, informative random weights
    (``_informative_init``) to test with, else to load weights into."""
    from transformers import ClapAudioModelWithProjection

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0 if seed is None else seed)
        model = ClapAudioModelWithProjection(transformers_config(amodel, fusion))
        if seed is not None:
            _informative_init(model)
    return model.eval()


# --------------------------------------------------------------------------- key mapping
#: transformers' names inside one Swin block → laion's (htsat.py SwinTransformerBlock)
_BLOCK = {"layernorm_before": "norm1", "layernorm_after": "norm2", "attention.self": "attn",
          "attention.output.dense": "attn.proj", "intermediate.dense": "mlp.fc1", "output.dense": "mlp.fc2"}
_QKV = ("query", "key", "value")


def _official_key(key: str) -> tuple[str, int | None]:
    """transformers key → (the official file's key without ``module.``, the index of query/key/value
    in laion's fused ``attn.qkv``, else None)."""
    if key.startswith("audio_projection."):
        return key.replace(".linear1.", ".0.").replace(".linear2.", ".2."), None
    k = key.replace("audio_model.audio_encoder.", "audio_branch.", 1).replace("audio_branch.batch_norm.",
                                                                             "audio_branch.bn0.", 1)
    m = re.match(r"^(audio_branch\.layers\.\d+\.blocks\.\d+)\.(.+)\.([a-z_]+)$", k)
    if m is None:
        return k, None
    block, mid, leaf = m.groups()
    q = re.fullmatch(r"attention\.self\.(query|key|value)", mid)
    if q:
        return f"{block}.attn.qkv.{leaf}", _QKV.index(q.group(1))
    if mid not in _BLOCK:
        return k, None
    return f"{block}.{_BLOCK[mid]}.{leaf}", None


def _unwrap(state) -> dict:
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        return {}
    return {(k[7:] if isinstance(k, str) and k.startswith("module.") else k): v for k, v in state.items()}


def official_to_transformers(state, model: torch.nn.Module, path: Path, variant: str) -> dict:
    """The audio branch + audio projection of an official LAION-CLAP checkpoint, under transformers'
    names. Text-branch and classifier entries are ignored; a missing entry or a wrong shape is a
    MetricError naming the expected keys (another variant's file, a fusion file, another model's).
    `variant`: a key of CHECKPOINTS."""
    amodel, official, _, fused = CHECKPOINTS[variant]
    if not isinstance(state, dict):
        raise MetricError(f"{path}: not a LAION-CLAP checkpoint (expected a dict, got {type(state).__name__})")
    flat = _unwrap(state)
    own = model.state_dict()
    out, missing, wrong = {}, [], []
    for key, tensor in own.items():
        if key.endswith("num_batches_tracked") or key.endswith("relative_position_index"):
            out[key] = flat.get(_official_key(key)[0], tensor)  # buffers laion also rebuilds at init
            continue
        name, part = _official_key(key)
        if name not in flat:
            missing.append(name)
            continue
        value = flat[name]
        if part is not None:
            n = value.shape[0] // 3
            value = value[part * n:(part + 1) * n]
        if tuple(value.shape) != tuple(tensor.shape):
            wrong.append(f"{name} {tuple(value.shape)} (expected {tuple(tensor.shape)})")
            continue
        out[key] = value
    fusion = [k for k in flat if "fusion_model" in k or "mel_conv2d" in k] if not fused else []
    kind = "fusion" if fused else "non-fusion"
    if missing or wrong or fusion:
        shown = sorted({_official_key(k)[0] for k in own if not k.endswith("num_batches_tracked")})
        what = f"the {amodel} {kind} audio branch of {official}"
        raise MetricError(
            f"{path}: not a LAION-CLAP {variant} ({amodel}, {kind}) checkpoint "
            f"({len(missing)} audio keys missing, e.g. {missing[:3]}; {len(wrong)} of another shape, e.g. {wrong[:2]}"
            f"{'; it holds fusion layers (a *-fusion-best.pt file)' if fusion else ''}). "
            f"Expected the {len(shown)} keys of {what} (under state_dict, prefixed 'module.'): "
            f"{shown[:3]} … {shown[-3:]}")
    return out


def random_official_state(variant: str = "music", seed: int = 0) -> dict[str, torch.Tensor]:
    """Seeded random CLAP audio weights under the official file's names (``module.audio_branch.…``,
    ``module.audio_projection.…``, laion's fused ``qkv``); `variant`: a key of CHECKPOINTS."""
    if variant not in CHECKPOINTS:
        raise ConfigError(f"CLAP variant must be one of {sorted(CHECKPOINTS)}, got {variant!r}")
    amodel, _, _, fused = CHECKPOINTS[variant]
    model = build_audio_model(amodel, seed, fusion=fused)
    state: dict[str, torch.Tensor] = {}
    parts: dict[str, list] = {}
    for key, tensor in model.state_dict().items():
        name, part = _official_key(key)
        if part is None:
            state["module." + name] = tensor.detach().clone()
        else:
            parts.setdefault(name, [None] * 3)[part] = tensor.detach()
    for name, (q, k, v) in parts.items():
        state["module." + name] = torch.cat([q, k, v]).clone()
    return state


def save_random_weights(path: str | os.PathLike, variant: str = "music", seed: int = 0) -> Path:
    """Seeded random CLAP audio weights in the official file's layout: ``{"state_dict":
    {"module.audio_branch.…", "module.audio_projection.…"}}``. The official file also holds the
    text branch and HTS-AT's classifier head, which no audio embedding reads (the CLAP score's
    files with a text branch: ``metrics.embedders.clap_score.save_random_weights``)."""
    state = random_official_state(variant, seed)
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save({"state_dict": state}, tmp)
    path.chmod(0o644)
    return path


# --------------------------------------------------------------------------- preprocessing
def quantize_like_laion(pcm16: np.ndarray) -> np.ndarray:
    """laion_clap's ``int16_to_float32(float32_to_int16(x))`` of fadtk's ``pcm / 32768`` (float64, as
    fadtk holds it): ``int16(clip(x, -1, 1) · 32767)`` truncates toward zero, then ``/ 32767``."""
    x = np.clip(pcm16.astype(np.float64) / 32768.0, -1.0, 1.0)
    return ((x * 32767.0).astype(np.int16) / 32767.0).astype(np.float32)


def window_starts(n_samples: int) -> range:
    """fadtk's chunk starts: every second, from 0 to the last sample."""
    return range(0, n_samples, HOP)


def windows(audio: np.ndarray, starts: Sequence[int] | None = None) -> np.ndarray:
    """fadtk's chunks: 10 s windows starting every second (or at `starts`), zero-padded to 10 s →
    (n, 480000)."""
    starts = window_starts(audio.shape[0]) if starts is None else starts
    out = np.zeros((len(starts), WINDOW), np.float32)
    for i, s in enumerate(starts):
        chunk = audio[s:s + WINDOW]
        out[i, :chunk.shape[0]] = chunk
    return out


class LogMel(torch.nn.Module):
    """HTS-AT's front end: torchlibrosa ``Spectrogram`` (hann, centre, reflect) + ``LogmelFilterBank``
    (ref 1, amin 1e-10, no top_db) → (batch, 1, frames, 64)."""

    def __init__(self):
        super().__init__()
        from torchlibrosa.stft import LogmelFilterBank, Spectrogram

        fe = FRONT_END
        self.spectrogram = Spectrogram(n_fft=fe["n_fft"], hop_length=fe["hop_length"], win_length=fe["n_fft"],
                                       window="hann", center=True, pad_mode="reflect", freeze_parameters=True)
        self.logmel = LogmelFilterBank(sr=SAMPLE_RATE, n_fft=fe["n_fft"], n_mels=fe["n_mels"], fmin=fe["fmin"],
                                       fmax=fe["fmax"], ref=1.0, amin=1e-10, top_db=None, freeze_parameters=True)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.logmel(self.spectrogram(waveform))


def load_pcm_like_fadtk(path) -> np.ndarray:
    """The 16-bit PCM samples fadtk's CLAP reads (mono, 48 kHz), as int16."""
    audio = load_like_fadtk(path, SAMPLE_RATE)  # pcm / 32768 exactly (float32 holds it)
    return np.round(audio.astype(np.float64) * 32768.0).astype(np.int16)


class ClapEmbedder:
    """Per file: ``{"frames": float16 (ceil(seconds), 512)}``, fadtk's ``clap-laion-music`` (variant
    ``"music"``) or ``clap-laion-audio`` (``"general"``). weights ``"pretrained"``: the official file
    (`checkpoint`, or ``<cache_dir>/weights/<official name>``; absent → an error naming it and its
    URL); ``"random"``: seeded (tests only)."""

    def __init__(self, variant: str = "music", weights: str = "random", checkpoint: str | None = None,
                 seed: int = 0, device: str = "cpu", cache_dir: str | os.PathLike | None = None,
                 batch_size: int = DEFAULT_BATCH_SIZE):
        if variant not in VARIANTS:
            raise ConfigError(f"CLAP variant must be one of {sorted(VARIANTS)}, got {variant!r}")
        if int(batch_size) < 1:
            raise ConfigError(f"batch_size must be ≥ 1, got {batch_size}")
        self.variant, self.weights, self.seed = variant, check_weights_kind(weights), int(seed)
        self.amodel, self.official_name, self.official_url, self.peer_name = VARIANTS[variant]
        self.device, self.batch_size = torch.device(device), int(batch_size)
        self.checkpoint: Path | None = None
        self.weights_sha256: str | None = None
        if self.weights == "pretrained":
            self.checkpoint = resolve_weights_file(f"LAION-CLAP {variant}", checkpoint, self.official_name,
                                                   self.official_url, cache_dir)
            self.weights_sha256 = file_digest(self.checkpoint)
        self._model: torch.nn.Module | None = None
        self._logmel: LogMel | None = None

    @property
    def model(self) -> torch.nn.Module:
        if self._model is None:
            if self.checkpoint is not None:
                model = build_audio_model(self.amodel, seed=None)
                state = official_to_transformers(torch_load(self.checkpoint), model, self.checkpoint, self.variant)
                model.load_state_dict(state, strict=True)
            else:
                model = build_audio_model(self.amodel, self.seed)
            self._model = model.to(self.device).eval()
            self._logmel = LogMel().to(self.device).eval()
        return self._model

    def cache_name(self) -> str:
        return f"clap_{self.variant}"

    def config(self) -> dict:
        return {"model": "laion-clap", "impl": IMPL_VERSION, "variant": self.variant, "amodel": self.amodel,
                "preprocess": "fadtk-1.1.0", "window_s": WINDOW // SAMPLE_RATE, "hop_s": HOP // SAMPLE_RATE,
                "weights": f"sha256:{self.weights_sha256}" if self.weights_sha256 else f"random:{self.seed}",
                "dtype": "float16"}

    def describe(self) -> dict:
        return {"name": self.cache_name(), "sample_rate": SAMPLE_RATE, "weights": self.weights,
                "checkpoint": str(self.checkpoint) if self.checkpoint else None, "weights_sha256": self.weights_sha256,
                "seed": self.seed if self.weights == "random" else None, "official_file": self.official_name,
                "peer": f"fadtk 1.1.0 {self.peer_name} (laion_clap 1.1.7, {self.amodel})",
                "batch_size": self.batch_size}

    def load(self, path) -> np.ndarray:
        """The quantised 48 kHz waveform laion_clap sees (float32)."""
        return quantize_like_laion(load_pcm_like_fadtk(path))

    @torch.no_grad()
    def embed_windows(self, batch: np.ndarray | torch.Tensor) -> np.ndarray:
        """(n, 480000) waveforms → (n, 512) float32 unit vectors (laion's ``get_audio_embedding``)."""
        model = self.model
        x = torch.as_tensor(np.asarray(batch, np.float32)).to(self.device)
        mel = self._logmel(x)  # (n, 1, 1001, 64)
        out = model(input_features=mel).audio_embeds
        return torch.nn.functional.normalize(out, dim=-1).cpu().numpy()

    def _embed_audio(self, audio: np.ndarray, batch_size: int) -> np.ndarray:
        """All windows of one waveform, `batch_size` at a time (a 3-minute file has 180 windows of
        1.9 MB each: never all materialised at once)."""
        starts = window_starts(audio.shape[0])
        rows = [self.embed_windows(windows(audio, starts[s:s + batch_size])) for s in range(0, len(starts), batch_size)]
        return np.concatenate(rows)

    def embed_waveform(self, audio: np.ndarray) -> np.ndarray:
        """Quantised 48 kHz audio → fadtk's rows: (ceil(seconds), 512) float16."""
        audio = np.asarray(audio, np.float32)
        if audio.ndim != 1 or audio.shape[0] == 0:
            raise MetricError(f"CLAP needs a non-empty mono waveform, got shape {audio.shape}")
        return self._embed_audio(audio, self.batch_size).astype(np.float16)

    def embed_file(self, path) -> dict[str, np.ndarray]:
        return {"frames": self.embed_waveform(self.load(path))}

    def _embed_many(self, paths: Sequence, batch_size: int) -> list[dict]:
        """Each file's windows in batches of `batch_size` (every window is its own item: eval-mode
        batch norm, per-window attention), one file decoded at a time."""
        return [{"frames": self._embed_audio(self.load(p), batch_size).astype(np.float16)} for p in paths]

    def embed_files(self, paths: Sequence[str | os.PathLike], cache=None) -> list[dict]:
        return embed_files_cached(self, paths, cache, self.batch_size)


def perf_line(files: Sequence[str | os.PathLike], variant: str = "music", seed: int = 0) -> str:
    """``clap_<variant>: <s>/10-s file`` of this embedder (random weights, 1 thread) — ours only; the
    peer's time (laion_clap in fadtk's loop) is measured by scripts/golden/clap_golden.py --perf."""
    per10 = seconds_per_10s_file(ClapEmbedder(variant, weights="random", seed=seed), files, SAMPLE_RATE)
    return f"clap_{variant}: {per10:.2f} s per 10-s file (ours, 1 thread, {len(files)} files)"


__all__ = ["ClapEmbedder", "save_random_weights", "random_official_state", "official_to_transformers",
           "quantize_like_laion", "windows", "window_starts", "VARIANTS", "CHECKPOINTS", "build_audio_model",
           "LogMel", "perf_line"]
