"""EnCodec encoder embeddings as fadtk 1.1.0 computes them (``encodec-emb``, ``encodec-emb-48k``).

Reference (fadtk/model_loader.py ``EncodecEmbModel``, fadtk/fad.py ``load_audio``):

- model: ``encodec.EncodecModel.encodec_model_24khz()`` / ``_48khz()`` — the official files
  ``encodec_24khz-d7cc33bc.th`` / ``encodec_48khz-7e698e3e.th`` (facebookresearch/encodec, a state
  dict of the whole codec); only its SEANet **encoder** runs: the embedding is the encoder's
  continuous output, 128-d, 75 frames/s at 24 kHz and 150 frames/s at 48 kHz. fadtk calls
  ``model.encoder`` directly, so the 48 kHz model's per-segment loudness normalisation is *not*
  applied; at 48 kHz the audio is cut into 1 s segments with stride 1 s (no overlap), each encoded
  alone and the frames concatenated.
- input: the file decoded (soundfile), channels averaged, resampled to the model rate with
  ``torchaudio.transforms.Resample(sinc_interp_kaiser, lowpass_filter_width=64,
  rolloff=0.9475937167399596, beta=14.769656459379492)``, written as 16-bit PCM and read back
  (float / 32768), mono duplicated to stereo for the 48 kHz model, cut at 3 minutes.
- output: ``(frames, 128)`` cast to **float16**, as fadtk stores every embedding
  (``ModelLoader.get_embedding``); FAD statistics are then computed from float16 rows.

The network is transformers' ``EncodecEncoder`` (maintained; same layers as facebookresearch's
SEANet encoder) with the official file's encoder weights mapped onto it key by key
(``official_to_transformers``): the same numbers as the encodec package's encoder
(tests/metrics/test_encodec.py runs both on one file of seeded random weights).
"""

from __future__ import annotations

import io
import math
import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from core.atomic import atomic_path
from core.cache import file_digest
from core.errors import ConfigError, MediaError
from metrics.embedders.cnn14 import embed_files_cached
from metrics.embedders.weights import check_weights_kind, resolve_weights_file, torch_load
from metrics.errors import MetricError

IMPL_VERSION = 2  # 2: informative random init (random weights only)
EMBEDDING_DIM = 128
MAX_SECONDS = 180  # fadtk: "If it's longer than 3 minutes, cut it"
# fadtk/fad.py load_audio: torchaudio.transforms.Resample's Kaiser settings (librosa's "kaiser_best")
KAISER = {"lowpass_filter_width": 64, "rolloff": 0.9475937167399596, "beta": 14.769656459379492}

OFFICIAL_FILES = {
    24000: ("encodec_24khz-d7cc33bc.th", "https://dl.fbaipublicfiles.com/encodec/v0/encodec_24khz-d7cc33bc.th"),
    48000: ("encodec_48khz-7e698e3e.th", "https://dl.fbaipublicfiles.com/encodec/v0/encodec_48khz-7e698e3e.th"),
}
# encodec's own check (encodec/utils.py _check_checksum): the file name's suffix is the start of its sha256
OFFICIAL_CHECKSUMS = {24000: ("sha256", "d7cc33bc"), 48000: ("sha256", "7e698e3e")}


def transformers_config(sample_rate: int):
    """transformers' EncodecConfig of facebook/encodec_24khz or facebook/encodec_48khz."""
    from transformers import EncodecConfig

    if sample_rate == 24000:
        return EncodecConfig(sampling_rate=24000, audio_channels=1, norm_type="weight_norm", use_causal_conv=True,
                             target_bandwidths=[1.5, 3.0, 6.0, 12.0, 24.0])
    if sample_rate == 48000:
        return EncodecConfig(sampling_rate=48000, audio_channels=2, norm_type="time_group_norm",
                             use_causal_conv=False, normalize=True, chunk_length_s=1.0, overlap=0.01,
                             target_bandwidths=[3.0, 6.0, 12.0, 24.0])
    raise ConfigError(f"EnCodec runs at 24000 or 48000 Hz (as fadtk's encodec-emb / encodec-emb-48k), got {sample_rate}")


def build_encoder(sample_rate: int, seed: int | None = 0) -> torch.nn.Module:
    """transformers' EncodecEncoder; with a seed, informative random weights, else to load weights into.

    PyTorch's default init shrinks the signal ~1.7× per layer while the biases stay, so at the
    output every clip gives nearly the same frames (spread across very different inputs ~1e-4 of
    the magnitude; FAD ~1e-5 whatever the audio). With a seed: each conv's weight-norm gain set to
    √2 (He scale for the ELUs), group-normed convs He-uniform, biases within ±0.01."""
    from transformers.models.encodec.modeling_encodec import EncodecEncoder

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0 if seed is None else seed)
        enc = EncodecEncoder(transformers_config(sample_rate))
        if seed is not None:
            with torch.no_grad():
                for name, p in enc.named_parameters():
                    if name.endswith("parametrizations.weight.original0"):
                        p.fill_(math.sqrt(2.0))
                    elif name.endswith("conv.weight") and p.dim() == 3:
                        bound = math.sqrt(6.0 / (p.shape[1] * p.shape[2]))
                        p.uniform_(-bound, bound)
                    elif name.endswith("conv.bias"):
                        p.uniform_(-0.01, 0.01)
    return enc.eval()


def _official_key(key: str) -> str:
    """transformers encoder key → the official file's (facebookresearch/encodec) key."""
    k = "encoder." + key
    k = re.sub(r"^encoder\.layers\.", "encoder.model.", k)
    k = k.replace(".conv.parametrizations.weight.original0", ".conv.conv.weight_g")
    k = k.replace(".conv.parametrizations.weight.original1", ".conv.conv.weight_v")
    k = re.sub(r"\.conv\.(weight|bias)$", r".conv.conv.\1", k)
    k = re.sub(r"\.norm\.(weight|bias)$", r".conv.norm.\1", k)
    return k


def official_to_transformers(state: dict, encoder: torch.nn.Module, path: Path, sample_rate: int) -> dict:
    """The encoder's weights of an official EnCodec state dict, under transformers' names. Decoder and
    quantizer entries are ignored; a missing encoder entry or a wrong shape is a MetricError listing
    the expected keys (another model's or another rate's file)."""
    if isinstance(state, dict) and "best_state" in state:  # audiocraft-style training checkpoints
        state = state["best_state"]
    if not isinstance(state, dict):
        raise MetricError(f"{path}: not an EnCodec checkpoint (expected a state dict, got {type(state).__name__})")
    expected = {k: _official_key(k) for k in encoder.state_dict()}
    own = encoder.state_dict()
    missing = [v for v in expected.values() if v not in state]
    wrong = [f"{v} {tuple(state[v].shape)} (expected {tuple(own[k].shape)})" for k, v in expected.items()
             if v in state and tuple(state[v].shape) != tuple(own[k].shape)]
    if missing or wrong:
        shown = sorted(expected.values())
        raise MetricError(
            f"{path}: not an EnCodec {sample_rate // 1000} kHz checkpoint "
            f"({len(missing)} encoder keys missing, e.g. {missing[:3]}; {len(wrong)} of another shape, e.g. {wrong[:2]}). "
            f"Expected the {len(shown)} encoder keys of {OFFICIAL_FILES[sample_rate][0]}: "
            f"{shown[:4]} … {shown[-2:]}")
    return {k: state[v] for k, v in expected.items()}


def save_random_weights(path: str | os.PathLike, sample_rate: int = 24000, seed: int = 0) -> Path:
    """Seeded random EnCodec *encoder* weights in the official file's layout and key names
    (``encoder.model.<i>.….conv.conv.weight_g`` …); the official file also holds the decoder and
    quantizer, which no embedding reads."""
    enc = build_encoder(sample_rate, seed)
    state = {_official_key(k): v.detach().clone() for k, v in enc.state_dict().items()}
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(state, tmp)
    path.chmod(0o644)
    return path


# --------------------------------------------------------------------------- preprocessing
def kaiser_resample_kernel(orig: int, new: int) -> tuple[torch.Tensor, int]:
    """torchaudio.transforms.Resample's kernel with fadtk's Kaiser settings (dtype None: built in
    float64 — the phase term ``arange(…)/new`` in float32, as torch divides an int64 arange — then
    cast to float32)."""
    g = math.gcd(orig, new)
    o, n = orig // g, new // g
    width_lp, rolloff, beta = KAISER["lowpass_filter_width"], KAISER["rolloff"], KAISER["beta"]
    base = min(o, n) * rolloff
    width = math.ceil(width_lp * o / base)
    idx = torch.arange(-width, width + o, dtype=torch.float64)[None, None] / o
    t = torch.arange(0, -n, -1)[:, None, None] / n + idx
    t *= base
    t = t.clamp_(-width_lp, width_lp)
    b = torch.tensor(float(beta))
    window = torch.i0(b * torch.sqrt(1 - (t / width_lp) ** 2)) / torch.i0(b)
    t *= math.pi
    kernels = torch.where(t == 0, torch.tensor(1.0).to(t), t.sin() / t)
    kernels *= window * (base / o)
    return kernels.to(torch.float32), width


def resample_kaiser(x: torch.Tensor, orig: int, new: int) -> torch.Tensor:
    """(channels, samples) float32 through torchaudio's ``_apply_sinc_resample_kernel``."""
    if orig == new:
        return x
    kernel, width = kaiser_resample_kernel(orig, new)
    g = math.gcd(orig, new)
    o, n = orig // g, new // g
    length = x.shape[-1]
    y = torch.nn.functional.pad(x, (width, width + o))
    y = torch.nn.functional.conv1d(y[:, None], kernel, stride=o).transpose(1, 2).reshape(x.shape[0], -1)
    return y[..., :int(math.ceil(n * length / o))]


def fadtk_pcm16(path, sample_rate: int) -> np.ndarray:
    """The 16-bit samples fadtk 1.1.0's ``load_audio`` writes for a file (fadtk/fad.py: decoded,
    channels averaged, Kaiser-resampled to `sample_rate`, ``torchaudio.save`` as 16-bit PCM), int16."""
    import soundfile as sf

    if not os.path.exists(path):
        raise MediaError(path, "audio file not found")
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:
        raise MediaError(path, f"cannot read audio ({e})", "use a format libsndfile reads (WAV, FLAC, OGG/Opus)") from e
    if data.shape[0] == 0:
        raise MediaError(path, "audio file has no samples")
    x = torch.from_numpy(np.ascontiguousarray(data.T)).mean(0, keepdim=True)
    with torch.no_grad():
        y = resample_kaiser(x, int(sr), sample_rate)
    # torchaudio.save(..., encoding="PCM_S", bits_per_sample=16) goes through libsndfile's float → int16
    buf = io.BytesIO()
    sf.write(buf, y[0].numpy(), sample_rate, subtype="PCM_16", format="WAV")
    buf.seek(0)
    return sf.read(buf, dtype="int16")[0]


def load_like_fadtk(path, sample_rate: int) -> np.ndarray:
    """The mono waveform fadtk's EnCodec sees (float32, ``/32768`` of 16-bit PCM at `sample_rate`,
    cut at 3 minutes)."""
    return (fadtk_pcm16(path, sample_rate).astype(np.float32) / 32768.0)[: MAX_SECONDS * sample_rate]


def default_batch_size(device: torch.device, sample_rate: int) -> int:
    """Model inputs per forward: 1 on the CPU, where the encoder is memory-bound and batching is
    slower (measured, one thread, per 10 s of audio: 24 kHz 0.72 s unbatched, 1.20 s in batches of
    8 files; 48 kHz 1.00 s unbatched, 1.74 s in batches of 10 segments, 2.44 s of 40; the encodec
    package's encoder the same within 10 %); on a GPU 8 files at 24 kHz, 80 one-second segments at
    48 kHz."""
    if device.type == "cpu":
        return 1
    return 8 if sample_rate == 24000 else 80


class EncodecEmbedder:
    """Per file: ``{"frames": float16 (n_frames, 128)}``, fadtk's ``encodec-emb`` (24 kHz) or
    ``encodec-emb-48k``. weights ``"pretrained"``: the official file (`checkpoint`, or
    ``<cache_dir>/weights/encodec_24khz-d7cc33bc.th``; absent → an error naming it and its URL);
    ``"random"``: seeded (tests only)."""

    def __init__(self, sample_rate: int = 24000, weights: str = "random", checkpoint: str | None = None,
                 seed: int = 0, device: str = "cpu", cache_dir: str | os.PathLike | None = None,
                 batch_size: int | None = None):
        if sample_rate not in OFFICIAL_FILES:
            raise ConfigError(f"EnCodec runs at 24000 or 48000 Hz, got sample_rate={sample_rate}")
        self.device = torch.device(device)
        if batch_size is None:
            batch_size = default_batch_size(self.device, int(sample_rate))
        if int(batch_size) < 1:
            raise ConfigError(f"batch_size must be ≥ 1, got {batch_size}")
        self.sample_rate, self.weights, self.seed = int(sample_rate), check_weights_kind(weights), int(seed)
        self.batch_size = int(batch_size)
        self.official_name, self.official_url = OFFICIAL_FILES[self.sample_rate]
        self.checkpoint: Path | None = None
        self.weights_sha256: str | None = None
        if self.weights == "pretrained":
            self.checkpoint = resolve_weights_file(f"EnCodec {self.sample_rate // 1000} kHz", checkpoint,
                                                   self.official_name, self.official_url, cache_dir,
                                                   checksum=OFFICIAL_CHECKSUMS[self.sample_rate])
            self.weights_sha256 = file_digest(self.checkpoint)
        self._model: torch.nn.Module | None = None  # built on the first file not found in the cache

    @property
    def model(self) -> torch.nn.Module:
        if self._model is None:
            if self.checkpoint is not None:
                enc = build_encoder(self.sample_rate, seed=None)
                state = official_to_transformers(torch_load(self.checkpoint), enc, self.checkpoint, self.sample_rate)
                enc.load_state_dict(state, strict=True)
            else:
                enc = build_encoder(self.sample_rate, self.seed)
            self._model = enc.to(self.device).eval()
        return self._model

    def cache_name(self) -> str:
        return f"encodec_{self.sample_rate // 1000}k"

    def config(self) -> dict:
        return {"model": "encodec", "impl": IMPL_VERSION, "sample_rate": self.sample_rate, "preprocess": "fadtk-1.1.0",
                "weights": f"sha256:{self.weights_sha256}" if self.weights_sha256 else f"random:{self.seed}",
                "dtype": "float16"}

    def describe(self) -> dict:
        return {"name": self.cache_name(), "sample_rate": self.sample_rate, "weights": self.weights,
                "checkpoint": str(self.checkpoint) if self.checkpoint else None, "weights_sha256": self.weights_sha256,
                "seed": self.seed if self.weights == "random" else None, "official_file": self.official_name,
                "peer": "fadtk 1.1.0 " + ("encodec-emb" if self.sample_rate == 24000 else "encodec-emb-48k"),
                "batch_size": self.batch_size}

    def load(self, path) -> np.ndarray:
        return load_like_fadtk(path, self.sample_rate)

    def _segments(self, audio: np.ndarray) -> list[np.ndarray]:
        """Model inputs (channels, samples) of one waveform: the whole file at 24 kHz; 1 s segments,
        stride 1 s, duplicated to stereo at 48 kHz (fadtk's loop over ``segment_length``)."""
        if self.sample_rate == 24000:
            return [audio[None]]
        stereo = np.stack([audio, audio])
        return [stereo[:, s:s + self.sample_rate] for s in range(0, audio.shape[0], self.sample_rate)]

    @torch.no_grad()
    def _encode(self, batch: np.ndarray) -> np.ndarray:
        out = self.model(torch.from_numpy(batch).to(self.device))  # (B, 128, frames)
        return out.transpose(1, 2).cpu().numpy()

    def embed_waveform(self, audio: np.ndarray) -> np.ndarray:
        rows = [self._encode(seg[None])[0] for seg in self._segments(np.asarray(audio, np.float32))]
        return np.concatenate(rows).astype(np.float16)

    def embed_file(self, path) -> dict[str, np.ndarray]:
        return {"frames": self.embed_waveform(self.load(path))}

    def _embed_many(self, paths: Sequence, batch_size: int) -> list[dict]:
        """Model inputs of equal length (all 1-s segments at 48 kHz but each file's last; whole files
        of one length at 24 kHz), `batch_size` per forward; every layer acts per item, so a batch
        gives each item's own output (float reordering only)."""
        segs = [self._segments(self.load(p)) for p in paths]
        flat = [(i, j, s) for i, ss in enumerate(segs) for j, s in enumerate(ss)]
        outs: dict[tuple[int, int], np.ndarray] = {}
        by_len: dict[int, list] = {}
        for item in flat:
            by_len.setdefault(item[2].shape[-1], []).append(item)
        step = max(1, batch_size)
        for items in by_len.values():
            for s in range(0, len(items), step):
                chunk = items[s:s + step]
                rows = self._encode(np.stack([c[2] for c in chunk]))
                for (i, j, _), r in zip(chunk, rows):
                    outs[(i, j)] = r
        return [{"frames": np.concatenate([outs[(i, j)] for j in range(len(ss))]).astype(np.float16)}
                for i, ss in enumerate(segs)]

    def embed_files(self, paths: Sequence[str | os.PathLike], cache=None) -> list[dict]:
        return embed_files_cached(self, paths, cache, self.batch_size)


__all__ = ["EncodecEmbedder", "save_random_weights", "official_to_transformers", "load_like_fadtk", "fadtk_pcm16",
           "OFFICIAL_FILES", "build_encoder"]
