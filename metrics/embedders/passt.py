"""PaSST (``passt_s_swa_p16_128_ap476``, AudioSet, 32 kHz) as stable-audio-metrics computes its KL.

Reference (Stability-AI/stable-audio-metrics ``src/passt_kld.py`` ``return_probabilities``, with
hear21passt's ``base.get_basic_model(mode="logits")``; audiocraft's ``metrics/kld.py`` loads the same
model and takes the softmax of the same logits):

- model: hear21passt's PaSST-S (ViT, 12 blocks, 768-d, 16×16 patches, stride 10×10, distilled: a
  class and a distillation token), official file ``passt-s-f128-p16-s10-ap.476-swa.pt`` (the
  network's state dict; hear21passt downloads it from the PaSST GitHub release). Front end
  hear21passt's ``AugmentMelSTFT`` in eval mode: pre-emphasis ``x[n+1] − 0.97·x[n]``, STFT
  (n_fft 1024, hop 320, window 800 symmetric Hann, centred, reflect), power, 128 Kaldi mel bands
  0–15000 Hz, ``(log(mel + 1e-5) + 4.5) / 5``.
- input: ``librosa.load(path, sr=32000, mono=True)`` (channel mean, soxr HQ, length
  ``ceil(n·32000/sr)``), peak-normalised to −1 dBFS (pyloudnorm), cut into 10 s windows with a 5 s
  hop (``range(0, max(5 s, n − 5 s), 5 s)``); a window shorter than 10 s but longer than 1.5 s is
  zero-padded to 10 s, a shorter one goes in as it is.
- outputs, per file: ``"logits"`` (527,) = the mean over windows of the 527 AudioSet logits
  (``head(features)``), whose softmax is the KL's distribution (metric ``kl``, softmax form);
  ``"embedding"`` (768,) = the mean over windows of ``features`` (the mean of the class and
  distillation tokens after the last norm; hear21passt's ``mode="embed_only"``) for FD.

``protocol="audiocraft"`` (registry ``passt_audiocraft``) follows audiocraft's
``PasstKLDivergenceMetric`` (audiocraft/metrics/kld.py, ``pretrained_length=None``): the file's
channels resampled to 32 kHz with ``julius.resample_frac`` (``convert_audio``), then averaged, no
normalisation, split into 10 s segments without overlap or padding, segments of ≤ 4800 samples left
out; each segment is one row (``"segment_logits"``; audiocraft's KL pairs the segments of a
generated and a reference clip and averages over segments). For clips of ≤ 10 s that is one row
per clip, ``"logits"``; for longer clips the per-clip KL metric on ``"logits"`` (their mean) is not
audiocraft's number — a segment-paired KL is needed for that.

Audio under 4801 samples at 32 kHz (0.15 s: fewer than one 16-frame patch) cannot go through the
network: MediaError naming the file. A silent file cannot be peak-normalised (the reference
divides by its peak and gets NaN): MediaError.

The network here is this module's own (same parameter names as hear21passt's ``PaSST``, so the
official file loads strictly); tests/metrics/test_passt.py checks it against golden values made by
hear21passt 0.0.26's own code on the same weight file (scripts/golden/passt_golden.py).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from metrics.preprocess import _read
from core.atomic import atomic_path
from core.cache import file_digest
from core.errors import ConfigError, MediaError
from metrics.embedders.cnn14 import embed_files_cached
from metrics.embedders.weights import check_weights_kind, resolve_weights_file, torch_load
from metrics.errors import MetricError

IMPL_VERSION = 1
SAMPLE_RATE = 32000
CLASSES_NUM = 527
EMBEDDING_DIM = 768
WINDOW_S, HOP_S = 10, 5  # stable-audio-metrics return_probabilities(window_size=10, overlap=5)
#: "stable-audio-metrics": −1 dBFS peak, soxr, 10 s windows / 5 s hop, padded, mean logits;
#: "audiocraft": no normalisation, julius, 10 s segments without overlap or padding
PROTOCOLS = ("stable-audio-metrics", "audiocraft")
MIN_SAMPLES = 4801  # one 16-frame patch: pre-emphasis leaves n − 1 samples, (n − 1)//320 + 1 ≥ 16 frames
OFFICIAL_FILE = ("passt-s-f128-p16-s10-ap.476-swa.pt",
                 "https://github.com/kkoutini/PaSST/releases/download/v0.0.1-audioset/passt-s-f128-p16-s10-ap.476-swa.pt")
# hear21passt checks no hash (timm's download_cached_file, check_hash=False) and none is published
OFFICIAL_CHECKSUM = None
# the network's input grid: 128 mel bins × 998 frames, 16×16 patches with stride 10 → 12 × 99
GRID = (12, 99)


# --------------------------------------------------------------------------- front end
def kaldi_mel_banks(n_mels: int = 128, n_fft: int = 1024, sr: int = SAMPLE_RATE, fmin: float = 0.0,
                    fmax: float = 15000.0) -> torch.Tensor:
    """``torchaudio.compliance.kaldi.get_mel_banks(n_mels, n_fft, sr, fmin, fmax, 100, −500, 1.0)``
    (no VTLN warp at factor 1), padded with a zero column for the Nyquist bin: (n_mels, n_fft//2+1)."""
    num_fft_bins = n_fft // 2
    fft_bin_width = sr / n_fft

    def mel(f):
        return 1127.0 * torch.log(1.0 + f / 700.0) if isinstance(f, torch.Tensor) else 1127.0 * math.log(1.0 + f / 700.0)

    mel_low, mel_high = mel(fmin), mel(fmax)
    delta = (mel_high - mel_low) / (n_mels + 1)
    b = torch.arange(n_mels).unsqueeze(1)
    left = mel_low + b * delta
    center = mel_low + (b + 1.0) * delta
    right = mel_low + (b + 2.0) * delta
    m = mel(fft_bin_width * torch.arange(num_fft_bins)).unsqueeze(0)
    up = (m - left) / (center - left)
    down = (right - m) / (right - center)
    banks = torch.max(torch.zeros(1), torch.min(up, down))
    return F.pad(banks, (0, 1))


class PasstMel(nn.Module):
    """hear21passt ``AugmentMelSTFT`` (eval mode, no augmentation): (B, n) → (B, 128, frames)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("window", torch.hann_window(800, periodic=False), persistent=False)
        self.register_buffer("preemphasis", torch.tensor([[[-0.97, 1.0]]]), persistent=False)
        self.register_buffer("mel_basis", kaldi_mel_banks(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.conv1d(x.unsqueeze(1), self.preemphasis).squeeze(1)
        spec = torch.stft(x, 1024, hop_length=320, win_length=800, center=True, normalized=False,
                          window=self.window, return_complex=True)
        power = torch.view_as_real(spec).pow(2).sum(-1)
        mel = torch.matmul(self.mel_basis, power)
        return ((mel + 0.00001).log() + 4.5) / 5.0


# --------------------------------------------------------------------------- network
class Attention(nn.Module):
    def __init__(self, dim: int = 768, heads: int = 12):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        return self.proj(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self, dim: int = 768, hidden: int = 3072):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim: int = 768):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim, eps=1e-6), nn.LayerNorm(dim, eps=1e-6)
        self.attn, self.mlp = Attention(dim), Mlp(dim)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, dim: int = 768):
        super().__init__()
        self.proj = nn.Conv2d(1, dim, kernel_size=16, stride=10)


class PaSST(nn.Module):
    """PaSST-S, distilled, inference only (no patchout): mel (B, 1, 128, T) → (logits (B, 527),
    features (B, 768)). Parameter names as hear21passt's ``PaSST``."""

    def __init__(self, dim: int = 768, depth: int = 12):
        super().__init__()
        self.patch_embed = PatchEmbed(dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.dist_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.new_pos_embed = nn.Parameter(torch.zeros(1, 2, dim))
        self.freq_new_pos_embed = nn.Parameter(torch.zeros(1, dim, GRID[0], 1))
        self.time_new_pos_embed = nn.Parameter(torch.zeros(1, dim, 1, GRID[1]))
        self.blocks = nn.Sequential(*[Block(dim) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, CLASSES_NUM))
        self.head_dist = nn.Linear(dim, CLASSES_NUM)  # in the file; hear21passt's forward never uses it

    def forward(self, x):
        x = self.patch_embed.proj(x)  # (B, E, F, T)
        x = x + self.time_new_pos_embed[:, :, :, :x.shape[-1]] + self.freq_new_pos_embed
        x = x.flatten(2).transpose(1, 2)
        b = x.shape[0]
        cls = self.cls_token.expand(b, -1, -1) + self.new_pos_embed[:, :1]
        dist = self.dist_token.expand(b, -1, -1) + self.new_pos_embed[:, 1:]
        x = self.norm(self.blocks(torch.cat((cls, dist, x), dim=1)))
        features = (x[:, 0] + x[:, 1]) / 2
        return self.head(features), features


def _shapes() -> dict[str, tuple[int, ...]]:
    """Parameter name → shape of PaSST (built on the meta device: no memory, no init)."""
    with torch.device("meta"):
        return {k: tuple(v.shape) for k, v in PaSST().state_dict().items()}


def informative_random_state(seed: int) -> dict[str, torch.Tensor]:
    """Seeded random weights (NumPy RandomState, stable across versions). hear21passt's own init
    zeroes the classifier (every clip: uniform logits), so here every linear/conv weight is
    normal with std 1/√fan_in, biases ±0.02, positional embeddings std 0.02, norms at 1 / 0."""
    rng = np.random.RandomState(seed)
    state = {}
    for k, v in _shapes().items():
        shape = v
        if "norm" in k or k.startswith("head.0"):
            arr = np.ones(shape) if k.endswith("weight") else np.zeros(shape)
        elif k.endswith("weight"):
            arr = rng.standard_normal(shape) / math.sqrt(int(np.prod(shape[1:])))
        elif k.endswith("bias"):
            arr = rng.uniform(-0.02, 0.02, shape)
        else:  # tokens and positional embeddings
            arr = rng.standard_normal(shape) * 0.02
        state[k] = torch.from_numpy(arr.astype(np.float32))
    return state


def check_state(state, path: Path) -> dict:
    """The official file's state dict, as hear21passt's ``checkpoint_filter_fn`` reads it (a
    ``"model"`` entry unwrapped); anything else is a MetricError listing the expected keys."""
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    own = _shapes()
    if not isinstance(state, dict):
        raise MetricError(f"{path}: not a PaSST checkpoint (expected a state dict, got {type(state).__name__})")
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [f"{k} {tuple(getattr(state[k], 'shape', ()))} (expected {own[k]})" for k in own
             if k in state and tuple(getattr(state[k], "shape", ())) != own[k]]
    if missing or unexpected or wrong:
        keys = list(own)
        raise MetricError(
            f"{path}: not a PaSST passt_s_swa_p16_128_ap476 checkpoint ({len(missing)} keys missing, e.g. "
            f"{missing[:3]}; {len(unexpected)} unexpected, e.g. {unexpected[:3]}; {len(wrong)} of another shape, "
            f"e.g. {wrong[:2]}). Expected the {len(keys)} keys of {OFFICIAL_FILE[0]}: {keys[:6]} … {keys[-3:]}")
    return {k: state[k] for k in own}


def save_random_weights(path: str | os.PathLike, seed: int = 0) -> Path:
    """Seeded random weights in the official file's layout (a plain state dict, hear21passt's names)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(informative_random_state(seed), tmp)
    path.chmod(0o644)
    return path


# --------------------------------------------------------------------------- preprocessing
def load_like_stable_audio_metrics(path, sample_rate: int = SAMPLE_RATE, exact_gain: bool = False) -> np.ndarray:
    """``pyln.normalize.peak(librosa.load(path, sr=sample_rate, mono=True)[0], -1.0)``: float32; with
    `exact_gain`, float64 as pyloudnorm returns it (its float64 gain times the float32 samples,
    what the CLAP score's int16 round trip then reads)."""
    import soxr

    data, sr = _read(path, "float32")
    y = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    if sr != sample_rate:
        n = int(math.ceil(y.shape[0] * float(sample_rate) / sr))
        y = soxr.resample(y, sr, sample_rate, quality="soxr_hq")
        y = y[:n] if y.shape[0] >= n else np.pad(y, (0, n - y.shape[0]))
    peak = float(np.max(np.abs(y)))
    if peak == 0.0:
        raise MediaError(path, "audio is silent: peak normalisation (as stable-audio-metrics does) is undefined",
                         "the reference would give NaN; leave silent files out")
    gain = 10.0 ** (-1.0 / 20.0) / peak
    return y.astype(np.float64) * gain if exact_gain else (y * gain).astype(np.float32)


def load_like_audiocraft(path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The waveform audiocraft's ``convert_audio(wav, sr, sample_rate, 1)`` gives a metric (its
    PaSST KLD at 32 kHz, its CLAP text consistency at 48 kHz): the file's float32 channels,
    ``julius.resample_frac`` to `sample_rate`, channel mean; no normalisation."""
    data, sr = _read(path, "float32")
    wav = torch.from_numpy(np.ascontiguousarray(data.T))
    if sr != sample_rate:
        try:
            import julius
        except ImportError as e:
            raise MetricError("audiocraft's metrics resample with julius: pip install julius") from e
        wav = julius.resample_frac(wav, int(sr), int(sample_rate))
    return wav.mean(dim=0).numpy() if wav.shape[0] > 1 else wav[0].numpy()


def audiocraft_segments(audio: np.ndarray, path=None) -> list[np.ndarray]:
    """audiocraft's segments: ``torch.split`` into 10 s pieces (no overlap, no padding), those of
    ≤ 4800 samples (0.15 s) left out; a file left with none is a MediaError (audiocraft skips it)."""
    w = WINDOW_S * SAMPLE_RATE
    segs = [audio[i:i + w] for i in range(0, len(audio), w) if len(audio[i:i + w]) > int(0.15 * SAMPLE_RATE)]
    if not segs:
        raise MediaError(path, f"{len(audio)} samples at 32 kHz: no audiocraft PaSST segment longer than 4800 "
                               f"samples (0.15 s)", "leave clips under 0.15 s out")
    return [np.ascontiguousarray(x, dtype=np.float32) for x in segs]


def windows(audio: np.ndarray, path=None) -> list[np.ndarray]:
    """stable-audio-metrics' analysis windows of one 32 kHz waveform (see the module docstring)."""
    w, step = WINDOW_S * SAMPLE_RATE, (WINDOW_S - HOP_S) * SAMPLE_RATE
    out = []
    for i in range(0, max(step, len(audio) - step), step):
        win = audio[i:i + w]
        if len(win) < w and len(win) > int(w * 0.15):
            win = np.pad(win, (0, w - len(win)))
        if len(win) < MIN_SAMPLES:
            raise MediaError(path, f"a PaSST window has {len(win)} samples at 32 kHz ({len(win) / SAMPLE_RATE:.3f} s); "
                                   f"the network needs ≥ {MIN_SAMPLES} (0.15 s, one 16-frame patch)",
                             "leave clips under 0.15 s out")
        out.append(win.astype(np.float32, copy=False))
    return out


# --------------------------------------------------------------------------- embedder
class PasstEmbedder:
    """Per file: ``{"embedding": (768,), "logits": (527,)}`` (float32), as stable-audio-metrics'
    ``return_probabilities`` before its softmax; with ``protocol="audiocraft"`` also
    ``"segment_logits"`` (n_segments, 527), the rows audiocraft's KLD pairs (``"logits"`` is then
    their mean; for clips of ≤ 10 s, one segment, it is audiocraft's row). weights ``"pretrained"``: the official file
    (`checkpoint`, or ``<cache_dir>/weights/passt-s-f128-p16-s10-ap.476-swa.pt``; absent → an
    error naming it and its URL); ``"random"``: seeded (tests only)."""

    def __init__(self, weights: str = "random", checkpoint: str | None = None, seed: int = 0, device: str = "cpu",
                 cache_dir: str | os.PathLike | None = None, batch_size: int = 8,
                 protocol: str = "stable-audio-metrics"):
        if protocol not in PROTOCOLS:
            raise ConfigError(f"PaSST protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
        self.protocol = protocol
        if int(batch_size) < 1:
            raise ConfigError(f"batch_size must be ≥ 1, got {batch_size}")
        self.weights, self.seed = check_weights_kind(weights), int(seed)
        self.device, self.batch_size = torch.device(device), int(batch_size)
        self.checkpoint: Path | None = None
        self.weights_sha256: str | None = None
        if self.weights == "pretrained":
            self.checkpoint = resolve_weights_file("PaSST (passt_s_swa_p16_128_ap476)", checkpoint, *OFFICIAL_FILE,
                                                   cache_dir, checksum=OFFICIAL_CHECKSUM)
            self.weights_sha256 = file_digest(self.checkpoint)
        self._model: nn.Module | None = None

    @property
    def model(self) -> nn.Module:
        if self._model is None:
            if self.checkpoint is not None:
                state = check_state(torch_load(self.checkpoint), self.checkpoint)
            else:
                state = informative_random_state(self.seed)
            with torch.device("meta"):
                net = PaSST()
            net.load_state_dict({k: v.float().contiguous() for k, v in state.items()}, strict=True, assign=True)
            self._model = nn.ModuleDict({"mel": PasstMel(), "net": net}).to(self.device).eval()
        return self._model

    def cache_name(self) -> str:
        return "passt" if self.protocol == "stable-audio-metrics" else "passt_audiocraft"

    def config(self) -> dict:
        return {"model": "passt_s_swa_p16_128_ap476", "impl": IMPL_VERSION, "sample_rate": SAMPLE_RATE,
                "preprocess": self.protocol, "window_s": WINDOW_S,
                "hop_s": HOP_S if self.protocol == "stable-audio-metrics" else WINDOW_S,
                "weights": f"sha256:{self.weights_sha256}" if self.weights_sha256 else f"random:{self.seed}"}

    def describe(self) -> dict:
        return {"name": self.cache_name(), "sample_rate": SAMPLE_RATE, "weights": self.weights,
                "checkpoint": str(self.checkpoint) if self.checkpoint else None, "weights_sha256": self.weights_sha256,
                "seed": self.seed if self.weights == "random" else None, "official_file": OFFICIAL_FILE[0],
                "peer": ("stable-audio-metrics passt_kld" if self.protocol == "stable-audio-metrics" else
                         "audiocraft PasstKLDivergenceMetric") + " (hear21passt get_basic_model(mode='logits'))",
                "protocol": self.protocol,
                "batch_size": self.batch_size}

    def load(self, path) -> np.ndarray:
        if self.protocol == "audiocraft":
            return load_like_audiocraft(path)
        return load_like_stable_audio_metrics(path)

    def segments(self, path) -> list[np.ndarray]:
        """The network inputs of one file under this protocol."""
        audio = self.load(path)
        return audiocraft_segments(audio, path) if self.protocol == "audiocraft" else windows(audio, path)

    @torch.no_grad()
    def _run(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        m = self.model
        mel = m["mel"](torch.from_numpy(batch).to(self.device)).unsqueeze(1)
        logits, features = m["net"](mel)
        return logits.cpu().numpy(), features.cpu().numpy()

    def _embed_many(self, paths: Sequence, batch_size: int) -> list[dict]:
        """Windows of equal length (every full 10 s window) go through the network together; each
        item's output is its own (layer norms and attention act per item)."""
        wins = [self.segments(p) for p in paths]
        flat = [(i, j, w) for i, ws in enumerate(wins) for j, w in enumerate(ws)]
        by_len: dict[int, list] = {}
        for item in flat:
            by_len.setdefault(item[2].shape[0], []).append(item)
        outs: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        for items in by_len.values():
            for s in range(0, len(items), batch_size):
                chunk = items[s:s + batch_size]
                logits, feats = self._run(np.stack([c[2] for c in chunk]))
                for (i, j, _), lg, ft in zip(chunk, logits, feats):
                    outs[(i, j)] = (lg, ft)
        results = []
        for i, ws in enumerate(wins):
            lg = np.stack([outs[(i, j)][0] for j in range(len(ws))])
            ft = np.stack([outs[(i, j)][1] for j in range(len(ws))])
            out = {"embedding": ft.mean(0), "logits": lg.mean(0)}
            if self.protocol == "audiocraft":  # audiocraft's KL pairs segments: one row each
                out["segment_logits"] = lg
            results.append(out)
        return results

    def embed_file(self, path) -> dict[str, np.ndarray]:
        return self._embed_many([path], 1)[0]

    def embed_files(self, paths: Sequence[str | os.PathLike], cache=None) -> list[dict]:
        return embed_files_cached(self, paths, cache, self.batch_size)


def perf_line(keep: Path | None = None, peer_python: str | None = None) -> dict:
    """`bench perf metrics` hook: seconds per 10-s file, ours against hear21passt run by the peer
    tools' own code (stable-audio-metrics' return_probabilities; scripts/golden/passt_golden.py
    --time), one thread each, the same file (the golden 10 s clip) and the same seeded weight file.
    The peer runs only where its side environment is (`peer_python`, $DYVIM_PASST_PEER_PYTHON or
    /tmp/sideenv-passt/bin/python); "rel" is against the golden values the peer code made
    (tests/metrics/golden/passt_golden.npz) for both protocols. Returns {"line", "presets", "rel"}."""
    import subprocess
    import time

    from metrics.embedders.timing import ROOT, build, golden_fixture

    golden_script, folder, clip, weights, golden = golden_fixture("passt", OFFICIAL_FILE[0], save_random_weights,
                                                                  keep, "perf_passt_")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rel, seconds = {}, {}
        for protocol, key in (("stable-audio-metrics", "probs"), ("audiocraft", "audiocraft_probs")):
            emb = PasstEmbedder(weights="pretrained", checkpoint=str(weights), batch_size=1, protocol=protocol)
            build(emb)  # built outside the timing, as the peer's model is
            t0 = time.perf_counter()
            out = emb._embed_many([clip], 1)[0]
            seconds[protocol] = time.perf_counter() - t0
            logits = out["segment_logits"] if protocol == "audiocraft" else out["logits"]
            probs = torch.softmax(torch.from_numpy(logits).double(), -1).numpy()
            ref = golden[f"tone_10s_32k/{key}"].reshape(probs.shape)
            rel[f"passt_{key}"] = float(np.max(np.abs(probs - ref)) / np.max(np.abs(ref)))
    finally:
        torch.set_num_threads(threads)
    ours = seconds["stable-audio-metrics"]
    line = f"passt: ours {ours:.2f} s per 10-s file (audiocraft protocol {seconds['audiocraft']:.2f} s)"
    peer_python = peer_python or os.environ.get("DYVIM_PASST_PEER_PYTHON") or "/tmp/sideenv-passt/bin/python"
    if Path(peer_python).exists():
        out = subprocess.run([peer_python, str(ROOT / "scripts/golden/passt_golden.py"), "--time", "--weights",
                              str(weights), str(clip)], capture_output=True, text=True, check=True,
                             env={**os.environ, "OMP_NUM_THREADS": "1"})
        peer = float(out.stdout.strip().splitlines()[-1])
        line += f", peer (stable-audio-metrics + hear21passt 0.0.26) {peer:.2f} s: {peer / ours:.2f}x"
    else:
        line += f", peer not timed (no side environment at {peer_python}: see scripts/golden/passt_golden.py)"
    line += f"; max_rel_diff vs golden {max(rel.values()):.1e}"
    return {"line": line, "presets": ["stable-audio-metrics", "audiocraft"], "rel": rel}


__all__ = ["PasstEmbedder", "PaSST", "PasstMel", "save_random_weights", "load_like_stable_audio_metrics", "windows",
           "check_state", "kaldi_mel_banks", "perf_line", "OFFICIAL_FILE"]
