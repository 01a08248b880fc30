"""MERT-v1 hidden states as fadtk 1.1.0 (``MERT-v1-95M``, ``MERTModel(layer=…)``) and audioldm_eval
main (``backbone="mert"``) compute them.

Reference (fadtk/model_loader.py ``MERTModel``; audioldm_eval main eval.py; the MERT modeling code
``modeling_MERT.py`` / ``configuration_MERT.py`` the hub repos m-a-p/MERT-v1-95M and -330M load with
``trust_remote_code``, as published in github.com/yizhilll/MERT scripts/mert_hf/):

- model: ``MERTModel`` = transformers' ``HubertModel`` with a LayerNorm before the feature
  projection (``feat_proj_layer_norm``), optional CQT features (off in v1), optional DeepNorm
  residuals and attention "relaxation" (off in v1: 95M has ``deepnorm=False, attention_relax=-1``;
  330M uses the stable-layer-norm encoder, which ignores both). With those off it is exactly
  transformers' ``HubertModel`` (HuBERT conv feature encoder with group norm, 7 convs of 512,
  stride 320; convolutional position embedding, 128 taps in 16 groups, weight-normed; post-LN encoder
  for 95M, pre-LN "stable layer norm" encoder for 330M), with the same parameter names. fadtk sets
  ``conv_pos_batch_norm=False`` (the weight-normed position conv).
- files: the hub repos' ``pytorch_model.bin`` (a state dict of MERTModel).
- input: 24 kHz mono (fadtk: its ``load_audio`` Kaiser resampling + 16-bit PCM, read back ``/32768``;
  cut at 6 minutes), then the repos' ``Wav2Vec2FeatureExtractor`` (``do_normalize``: ``(x − mean)
  / √(var + 1e-7)`` over the whole file in float32).
- output: the 13 (95M) / 25 (330M) hidden states, 75 frames per second. fadtk keeps one layer
  (``layer``, 12 by default, the last of 95M) per frame, cast to float16: ``"frames"`` here.
  audioldm_eval main keeps every hidden state averaged over time, each as one row of its FD:
  ``"layer_means"`` (layers, dim) here, float32.

tests/metrics/test_mert.py checks the numbers against golden values made by the MERT modeling code
itself (run in a side environment on one file of seeded random weights; scripts/golden/mert_golden.py).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from metrics.embedders.timing import seconds_per_10s_file
from metrics.preprocess import load_like_reference, resample_sinc
from core.atomic import atomic_path
from core.cache import file_digest
from core.errors import ConfigError
from metrics.embedders.cnn14 import embed_files_cached
from metrics.embedders.encodec import load_like_fadtk
from metrics.embedders.weights import check_weights_kind, resolve_weights_file, torch_load
from metrics.errors import MetricError

IMPL_VERSION = 2  # 2: sharper random queries/keys (random weights only)
SAMPLE_RATE = 24000
MAX_SECONDS = 6 * 60  # fadtk MERTModel(limit_minutes=6)
RECEPTIVE_FIELD = 400  # samples the conv feature encoder needs for one frame (hop 320)
DEFAULT_BATCH_SIZE = 4

#: the hub repos' config.json, as MERTConfig takes it (v1: no CQT, no DeepNorm)
SIZES = {
    "95M": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
            "do_stable_layer_norm": False, "mask_time_prob": 0.05},
    "330M": {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096,
             "do_stable_layer_norm": True, "mask_time_prob": 0.075},
}
#: the hub repos' preprocessor_config.json (Wav2Vec2FeatureExtractor)
PREPROCESSOR = {"feature_size": 1, "sampling_rate": SAMPLE_RATE, "padding_value": 0.0, "do_normalize": True,
                "return_attention_mask": True}
DEFAULT_LAYER = 12  # fadtk MERTModel(layer=12)
#: how a file becomes the 24 kHz waveform: fadtk's load_audio, or audioldm_eval main's WaveDataset at
#: its evaluation rate (16 or 32 kHz) followed by its ``torchaudio.transforms.Resample(rate, 24000)``
PREPROCESS = ("fadtk", "audioldm_eval-main")


def hub_id(size: str) -> str:
    return f"m-a-p/MERT-v1-{size}"


def official_file(size: str) -> tuple[str, str]:
    """(name under ``<cache_dir>/weights/``, URL) of a size's hub weights."""
    return f"MERT-v1-{size}/pytorch_model.bin", f"https://huggingface.co/{hub_id(size)}/resolve/main/pytorch_model.bin"


def transformers_config(size: str):
    """transformers' HubertConfig equal to the hub's MERTConfig of MERT-v1-`size`."""
    from transformers import HubertConfig

    if size not in SIZES:
        raise ConfigError(f"MERT-v1 comes in sizes {sorted(SIZES)}, got {size!r}")
    return HubertConfig(**SIZES[size], hidden_act="gelu", feat_extract_norm="group", feat_extract_activation="gelu",
                        conv_dim=(512,) * 7, conv_stride=(5, 2, 2, 2, 2, 2, 2), conv_kernel=(10, 3, 3, 3, 3, 2, 2),
                        conv_bias=False, num_conv_pos_embeddings=128, num_conv_pos_embedding_groups=16,
                        feat_proj_layer_norm=True, layer_norm_eps=1e-5, conv_pos_batch_norm=False,
                        hidden_dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, feat_proj_dropout=0.0,
                        layerdrop=0.0, vocab_size=32)


def build_model(size: str, seed: int | None = 0) -> torch.nn.Module:
    """transformers' HubertModel in MERT-v1-`size`'s shape; with a seed, informative random
    weights, else to load weights into."""
    from transformers import HubertModel

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0 if seed is None else seed)
        model = HubertModel(transformers_config(size))
        if seed is not None:
            # transformers' init (std 0.02) leaves frames near-identical; at std 1/√fan_in attention is
            # still near-uniform and averages the frames away layer by layer (layer 12: frame spread 2 % of
            # the magnitude, cosine 0.98 between a chirp's and a noise's mean frame); queries/keys at std
            # 3/√fan_in: 4 % and 0.85 (at 5/√fan_in attention is so sharp that float rounding differs by 1e-3)
            with torch.no_grad():
                for name, p in model.named_parameters():
                    if name.endswith(("q_proj.weight", "k_proj.weight")):
                        p.normal_(0.0, 3.0 / math.sqrt(p.shape[1]))
                    elif p.dim() == 2 and name.endswith("weight"):
                        p.normal_(0.0, 1.0 / math.sqrt(p.shape[1]))
                    elif name.endswith("bias") and "norm" not in name:
                        p.uniform_(-0.02, 0.02)
    return model.eval()


# --------------------------------------------------------------------------- key mapping
_WN = {"parametrizations.weight.original0": "weight_g", "parametrizations.weight.original1": "weight_v"}


def _official_key(key: str) -> str:
    """transformers key → the hub file's (saved by transformers 4.2x: weight norm as weight_g/_v)."""
    for new, old in _WN.items():
        if key.endswith(new):
            return key[: -len(new)] + old
    return key


def official_to_transformers(state, model: torch.nn.Module, path: Path, size: str) -> dict:
    """A MERT-v1 hub state dict under transformers' names; a missing entry or a wrong shape is a
    MetricError naming the expected keys (another size's file, another model's)."""
    if not isinstance(state, dict):
        raise MetricError(f"{path}: not a MERT checkpoint (expected a state dict, got {type(state).__name__})")
    own = model.state_dict()
    out, missing, wrong = {}, [], []
    for key, tensor in own.items():
        name = _official_key(key)
        value = state.get(name, state.get(key))
        if value is None:
            missing.append(name)
        elif tuple(value.shape) != tuple(tensor.shape):
            wrong.append(f"{name} {tuple(value.shape)} (expected {tuple(tensor.shape)})")
        else:
            out[key] = value
    cqt = [k for k in state if isinstance(k, str) and "cqt" in k]
    if missing or wrong or cqt:
        shown = sorted(_official_key(k) for k in own)
        raise MetricError(
            f"{path}: not a MERT-v1-{size} checkpoint ({len(missing)} keys missing, e.g. {missing[:3]}; "
            f"{len(wrong)} of another shape, e.g. {wrong[:2]}{'; it has CQT features (not v1)' if cqt else ''}). "
            f"Expected the {len(shown)} keys of {hub_id(size)}'s pytorch_model.bin: {shown[:3]} … {shown[-3:]}")
    return out


def save_random_weights(path: str | os.PathLike, size: str = "95M", seed: int = 0) -> Path:
    """Seeded random MERT-v1 weights in the hub file's layout (a flat state dict of MERTModel,
    weight-normed position conv as ``weight_g``/``weight_v``)."""
    model = build_model(size, seed)
    state = {_official_key(k): v.detach().clone() for k, v in model.state_dict().items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    path.chmod(0o644)
    return path


def load_state(path: Path):
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    return torch_load(path)


# --------------------------------------------------------------------------- preprocessing
def normalize_like_processor(audio: np.ndarray) -> np.ndarray:
    """Wav2Vec2FeatureExtractor's ``zero_mean_unit_var_norm`` of one file (float32 NumPy)."""
    x = np.asarray(audio, dtype=np.float32)
    return (x - x.mean()) / np.sqrt(x.var() + 1e-7)


class MertEmbedder:
    """Per file: ``{"frames": float16 (frames, dim) of hidden state `layer`, "layer_means": float32
    (layers, dim)}`` — fadtk's ``MERT-v1-95M`` (layer 12) / ``MERT-v1-95M-<layer>`` rows and
    audioldm_eval main's per-clip rows. weights ``"pretrained"``: the hub file (`checkpoint`, or
    ``<cache_dir>/weights/MERT-v1-<size>/pytorch_model.bin``; absent → an error naming it and its
    URL); ``"random"``: seeded (tests only)."""

    def __init__(self, size: str = "95M", layer: int = DEFAULT_LAYER, weights: str = "random",
                 checkpoint: str | None = None, seed: int = 0, device: str = "cpu",
                 cache_dir: str | os.PathLike | None = None, batch_size: int = DEFAULT_BATCH_SIZE,
                 preprocess: str = "fadtk", reference_rate: int = 16000):
        if size not in SIZES:
            raise ConfigError(f"MERT-v1 comes in sizes {sorted(SIZES)}, got {size!r}")
        n_layers = SIZES[size]["num_hidden_layers"]
        if not 0 <= int(layer) <= n_layers:
            raise ConfigError(f"MERT-v1-{size} has hidden states 0…{n_layers} (0: before the first transformer "
                              f"layer), got layer={layer}")
        if int(batch_size) < 1:
            raise ConfigError(f"batch_size must be ≥ 1, got {batch_size}")
        if preprocess not in PREPROCESS:
            raise ConfigError(f"MERT preprocess must be one of {PREPROCESS}, got {preprocess!r}")
        if preprocess == "audioldm_eval-main" and int(reference_rate) not in (16000, 32000):
            raise ConfigError(f"audioldm_eval main evaluates at 16000 or 32000 Hz, got reference_rate={reference_rate}")
        self.preprocess, self.reference_rate = preprocess, int(reference_rate)
        self.size, self.layer, self.weights, self.seed = size, int(layer), check_weights_kind(weights), int(seed)
        self.device, self.batch_size = torch.device(device), int(batch_size)
        self.official_name, self.official_url = official_file(size)
        self.checkpoint: Path | None = None
        self.weights_sha256: str | None = None
        if self.weights == "pretrained":
            self.checkpoint = resolve_weights_file(f"MERT-v1-{size} ({hub_id(size)})", checkpoint,
                                                   self.official_name, self.official_url, cache_dir)
            self.weights_sha256 = file_digest(self.checkpoint)
        self._model: torch.nn.Module | None = None

    @property
    def rows(self) -> str:
        """The output a Fréchet/kernel metric pools: audioldm_eval main's per-clip layer means (its
        '2048' feature) with its preprocessing, fadtk's frames of `layer` otherwise."""
        return "layer_means" if self.preprocess == "audioldm_eval-main" else "frames"

    @property
    def model(self) -> torch.nn.Module:
        if self._model is None:
            if self.checkpoint is not None:
                model = build_model(self.size, seed=None)
                state = official_to_transformers(load_state(self.checkpoint), model, self.checkpoint, self.size)
                model.load_state_dict(state, strict=True)
            else:
                model = build_model(self.size, self.seed)
            self._model = model.to(self.device).eval()
        return self._model

    def cache_name(self) -> str:
        return f"mert_{self.size.lower()}"  # the preprocessing is part of config(), hence of the cache key

    def config(self) -> dict:
        preprocess = "fadtk-1.1.0" if self.preprocess == "fadtk" else f"audioldm_eval-main@{self.reference_rate}"
        return {"model": "mert-v1", "impl": IMPL_VERSION, "size": self.size, "processor": PREPROCESSOR,
                "preprocess": preprocess, "layer": self.layer, "max_seconds": MAX_SECONDS,
                "weights": f"sha256:{self.weights_sha256}" if self.weights_sha256 else f"random:{self.seed}"}

    def describe(self) -> dict:
        return {"name": self.cache_name(), "sample_rate": SAMPLE_RATE, "layer": self.layer, "weights": self.weights,
                "checkpoint": str(self.checkpoint) if self.checkpoint else None, "weights_sha256": self.weights_sha256,
                "seed": self.seed if self.weights == "random" else None, "official_file": self.official_name,
                "hub_id": hub_id(self.size),
                "peer": f"fadtk 1.1.0 MERT-v1-{self.size}" + ("" if self.layer == 12 else f"-{self.layer}")
                + " (frames); audioldm_eval main backbone=mert (layer_means)",
                "preprocess": self.preprocess, "reference_rate": self.reference_rate
                if self.preprocess != "fadtk" else None, "batch_size": self.batch_size}

    def load(self, path) -> np.ndarray:
        """The 24 kHz waveform: fadtk's (``pcm / 32768``, cut at 6 minutes) or audioldm_eval main's
        (first channel, mean removed, torchaudio-resampled to `reference_rate`, zero-padded to ≥ 32000
        samples, then torchaudio-resampled to 24 kHz); shorter than one frame's 400 samples (16.7 ms)
        is a MetricError naming the file."""
        if self.preprocess == "fadtk":
            audio = load_like_fadtk(path, SAMPLE_RATE)[: MAX_SECONDS * SAMPLE_RATE]
        else:
            audio = resample_sinc(load_like_reference(path, self.reference_rate), self.reference_rate, SAMPLE_RATE)
        if audio.shape[0] < RECEPTIVE_FIELD:
            ms = audio.shape[0] / SAMPLE_RATE * 1000
            raise MetricError(f"{path}: {audio.shape[0]} samples at 24 kHz ({ms:.1f} ms); "
                              f"MERT needs at least {RECEPTIVE_FIELD} (16.7 ms, one frame)")
        return audio

    @torch.no_grad()
    def hidden_states(self, batch: np.ndarray) -> torch.Tensor:
        """(files, samples) of equal length, each normalised → (files, layers, frames, dim) float32."""
        x = np.stack([normalize_like_processor(a) for a in np.atleast_2d(batch)])
        out = self.model(torch.from_numpy(x).to(self.device), output_hidden_states=True)
        # MERT's code (transformers 4.x encoders) returns the encoder's output as the last hidden state:
        # after the final LayerNorm in 330M's stable-layer-norm encoder; transformers 5 records the last
        # layer's output before that norm
        states = list(out.hidden_states[:-1]) + [out.last_hidden_state]
        return torch.stack(states, dim=1).cpu()

    def _rows(self, states: torch.Tensor) -> dict[str, np.ndarray]:
        return {"frames": states[self.layer].numpy().astype(np.float16),
                "layer_means": states.mean(dim=1).numpy().astype(np.float32)}

    def embed_waveform(self, audio: np.ndarray) -> dict[str, np.ndarray]:
        audio = np.asarray(audio, np.float32)
        if audio.ndim != 1 or audio.shape[0] < RECEPTIVE_FIELD:
            raise MetricError(f"MERT needs a mono waveform of ≥ {RECEPTIVE_FIELD} samples, got shape {audio.shape}")
        return self._rows(self.hidden_states(audio[None])[0])

    def embed_file(self, path) -> dict[str, np.ndarray]:
        return self.embed_waveform(self.load(path))

    def _embed_many(self, paths: Sequence, batch_size: int) -> list[dict]:
        """Files of equal length go through together (the feature encoder's group norm spans the whole
        file, so files are never padded to a common length)."""
        audios = [self.load(p) for p in paths]
        out: list[dict | None] = [None] * len(audios)
        by_len: dict[int, list[int]] = {}
        for i, a in enumerate(audios):
            by_len.setdefault(a.shape[0], []).append(i)
        for idx in by_len.values():
            for s in range(0, len(idx), batch_size):
                chunk = idx[s:s + batch_size]
                states = self.hidden_states(np.stack([audios[i] for i in chunk]))
                for i, st in zip(chunk, states):
                    out[i] = self._rows(st)
        return out  # type: ignore[return-value]

    def embed_files(self, paths: Sequence[str | os.PathLike], cache=None) -> list[dict]:
        return embed_files_cached(self, paths, cache, self.batch_size)


def perf_line(files: Sequence[str | os.PathLike], size: str = "95M", seed: int = 0) -> str:
    """``mert_<size>: <s> per 10-s file`` of this embedder (random weights, 1 thread) — ours only; the
    peer's time (MERT's own modeling code in fadtk's loop) comes from scripts/golden/mert_golden.py --perf."""
    per10 = seconds_per_10s_file(MertEmbedder(size, weights="random", seed=seed), files, SAMPLE_RATE)
    return f"mert_{size.lower()}: {per10:.2f} s per 10-s file (ours, 1 thread, {len(files)} files)"


__all__ = ["MertEmbedder", "save_random_weights", "official_to_transformers", "normalize_like_processor",
           "build_model", "SIZES", "PREPROCESSOR", "official_file", "perf_line"]
