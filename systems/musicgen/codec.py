"""The offline music codec of the random-weight models: EnCodec-shaped codes that carry the music's events.

MusicGen reads and writes EnCodec 32 kHz codes: 50 frames/s (hop 640 samples), 4 residual
codebooks of 2048 entries. With random weights an `EncodecModel` is a random function of the
waveform's fine structure: on the toy its first codebook changed at 98–100 % of all frames, at
note onsets no more often than elsewhere (onset AUC of the code changes 0.49; docs/science.md), so
the codes said nothing about *when* a note starts and no conditioning could help predict them.

`SpectralCodec` keeps EnCodec's interface and rates but codes a representation that has the
music's events by construction:

- encoder: log-mel spectrum (64 bands, 2048-sample Hann window) of each 640-sample frame;
- quantizer: residual vector quantization, 4 codebooks × 2048, fitted (a few Lloyd iterations of
  k-means, as EnCodec's own codebook init) on a seeded probe of synthetic notes — harmonic tones
  with random pitch, timbre, attack, decay and level, overlapping into chords — so it needs no
  data and no download, and is the same for every dataset (fitted in ~3 s of CPU, cached on disk);
- decoder: the quantized log-mel back to a linear power spectrum (each bin the triangle-weighted
  mean of the bands over it), magnitudes with phases that advance at each bin's frequency (steady
  partials add up across frames) from an offset drawn per first-codebook code (so different code
  sequences give uncorrelated waveforms), inverse STFT.

A held note keeps its code while its spectrum holds; a new note changes the spectrum and the code.
The decoded audio follows the codes' spectral envelopes (it sounds like filtered noise and
partials, and is labelled `weights=random` like every other random component).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from torch import nn

CODEC_VERSION = 3  # bump when the codes of the same audio change (3: 160 s probe, 4 Lloyd iterations)


@dataclass(frozen=True)
class SpectralCodecConfig:
    sampling_rate: int = 32000
    hop: int = 640  # 50 Hz frames, as EnCodec 32 kHz
    n_fft: int = 2048
    n_mels: int = 64
    num_codebooks: int = 4
    codebook_size: int = 2048
    target_bandwidths: tuple[float, ...] = (2.2,)  # 4 × 11 bits × 50 Hz, as EnCodec 32 kHz at 2.2 kbps
    probe_seconds: float = 160.0
    lloyd_iters: int = 4
    coarse_entries: int = 2048  # distinct entries of the first codebook (the rest repeat them)
    floor_db: float = -80.0  # log-power floor of a mel band

    @property
    def frame_rate(self) -> int:
        return self.sampling_rate // self.hop


class SpectralCodec(nn.Module):
    """`encode(audio (B, 1, N))` → `.audio_codes` (1, B, K, T), T = ceil(N / hop);
    `decode(codes (1, B, K, T), scales)` → `.audio_values` (B, 1, T · hop): EnCodecModel's calls."""

    def __init__(self, config: SpectralCodecConfig | None = None, seed: int = 0):
        super().__init__()
        self.config = cfg = config or SpectralCodecConfig()
        mel = mel_filters(cfg).numpy()
        self.register_buffer("mel", torch.as_tensor(mel))  # (M, F)
        # decoder: bin f's power = Σ_m tri_m(f) · P_m / width_m (the triangles sum to 1 over each bin)
        self.register_buffer("unmel", torch.as_tensor(mel.T / np.maximum(mel.sum(1), 1e-9), dtype=torch.float32))
        self.register_buffer("window", torch.hann_window(cfg.n_fft))
        g = torch.Generator().manual_seed(seed + 211)
        self.register_buffer("phase0", torch.rand(cfg.n_fft // 2 + 1, generator=g) * 2 * math.pi)
        self.register_buffer("codebooks", fitted_codebooks(cfg, seed).clone())  # (K, V, M)

    # --- encoder / quantizer -----------------------------------------------------------------
    def features(self, audio: torch.Tensor) -> torch.Tensor:
        """Mono audio (B, N) → log-mel frames (B, T, M) (natural log of band power), T = ceil(N / hop)."""
        return log_mel(audio, self.mel, self.window, self.config)

    def quantize(self, feats: torch.Tensor) -> torch.Tensor:
        """(B, T, M) → codes (B, K, T) by residual nearest-codeword search."""
        residual, codes = feats, []
        for book in self.codebooks:
            idx = _nearest(residual.reshape(-1, residual.shape[-1]), book).view(residual.shape[:-1])
            codes.append(idx)
            residual = residual - book[idx]
        return torch.stack(codes, dim=1)

    def dequantize(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (B, K, T) → quantized log-mel (B, T, M)."""
        return sum(self.codebooks[k][codes[:, k].long()] for k in range(codes.shape[1]))

    @torch.no_grad()
    def encode(self, input_values: torch.Tensor, bandwidth: float | None = None, **_):
        x = input_values[:, 0] if input_values.dim() == 3 else input_values
        codes = self.quantize(self.features(x))
        return SimpleNamespace(audio_codes=codes[None], audio_scales=[None])

    # --- decoder -----------------------------------------------------------------------------
    @torch.no_grad()
    def decode(self, audio_codes: torch.Tensor, audio_scales=None, **_):
        cfg = self.config
        codes = audio_codes[0].clamp(0, cfg.codebook_size - 1)  # (B, K, T)
        power = torch.einsum("fm,btm->bft", self.unmel, self.dequantize(codes).exp())
        t = codes.shape[-1]
        bins = torch.arange(cfg.n_fft // 2 + 1, device=codes.device, dtype=torch.float32)
        advance = 2 * math.pi * bins * cfg.hop / cfg.n_fft  # a steady partial's phase step per frame
        phase = self.phase0[:, None] + advance[:, None] * torch.arange(t, device=codes.device)[None]
        # plus a phase offset per (codebook-0 code, bin): constant while a code is held (partials stay
        # continuous), different between code sequences (two random sequences' waveforms decorrelate)
        h = torch.sin(codes[:, 0, None, :].float() * 12.9898 + bins[None, :, None] * 78.233) * 43758.5453
        phase = phase[None] + 2 * math.pi * (h - torch.floor(h))
        spec = torch.polar(power.clamp(min=0).sqrt(), phase)
        audio = torch.istft(spec, cfg.n_fft, cfg.hop, window=self.window, center=True, length=t * cfg.hop)
        return SimpleNamespace(audio_values=audio[:, None])


def mel_filters(config: SpectralCodecConfig, fmin: float = 30.0) -> torch.Tensor:
    """Triangular filters (M, F) on the HTK mel scale from `fmin` to Nyquist, peak 1 (not area-normalised)."""
    mel = lambda f: 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)  # noqa: E731
    hz = lambda m: 700.0 * (10 ** (np.asarray(m) / 2595.0) - 1.0)  # noqa: E731
    edges = hz(np.linspace(mel(fmin), mel(config.sampling_rate / 2), config.n_mels + 2))
    freqs = np.linspace(0, config.sampling_rate / 2, config.n_fft // 2 + 1)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    fb = np.maximum(0.0, np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)))
    return torch.as_tensor(fb, dtype=torch.float32)


def log_mel(audio: torch.Tensor, mel: torch.Tensor, window: torch.Tensor, config: SpectralCodecConfig) -> torch.Tensor:
    """Mono audio (B, N) → log mel-band power (B, T, M), T = ceil(N / hop) (centred STFT frames)."""
    n = audio.shape[-1]
    t = max(1, math.ceil(n / config.hop))
    spec = torch.stft(audio.float(), config.n_fft, config.hop, window=window, center=True, return_complex=True)
    power = spec.abs().pow(2)[..., :t]  # (B, F, T)
    if power.shape[-1] < t:
        power = nn.functional.pad(power, (0, t - power.shape[-1]))
    return torch.log(torch.einsum("mf,bft->btm", mel, power).clamp(min=10 ** (config.floor_db / 10)))


def _nearest(x: torch.Tensor, book: torch.Tensor) -> torch.Tensor:
    """Index of the nearest codeword (Euclidean) for each row of x, in chunks."""
    out = []
    sq = book.pow(2).sum(1)
    for s in range(0, x.shape[0], 4096):
        xs = x[s:s + 4096]
        out.append((sq[None] - 2 * xs @ book.T).argmin(1))
    return torch.cat(out) if out else x.new_zeros(0, dtype=torch.long)


@lru_cache(maxsize=4)
def fitted_codebooks(config: SpectralCodecConfig, seed: int) -> torch.Tensor:
    """Residual codebooks (K, V, M) fitted by k-means on the seeded probe's log-mel frames; kept in
    the bench cache folder ($BENCH_CACHE_DIR, default ~/.cache/dyvim-bench) after the first fit."""
    import hashlib
    import json
    import os
    from dataclasses import asdict

    key = hashlib.sha256(json.dumps([asdict(config), seed, CODEC_VERSION], default=str).encode()).hexdigest()[:16]
    folder = Path(os.environ.get("BENCH_CACHE_DIR") or Path.home() / ".cache" / "dyvim-bench") / "spectral_codec"
    path = folder / f"{key}.pt"
    if path.is_file():
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # a torn or foreign file: fit again and replace it
            pass
    books = _fit_codebooks(config, seed)
    try:
        from core.atomic import atomic_path

        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            torch.save(books, tmp)
    except OSError:  # a read-only cache folder only costs the refit
        pass
    return books


def _fit_codebooks(config: SpectralCodecConfig, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed + 101)
    probe = probe_music(g, config.probe_seconds, config.sampling_rate)
    residual = log_mel(probe[None], mel_filters(config), torch.hann_window(config.n_fft), config)[0]  # (T, M)
    books = []
    for k in range(config.num_codebooks):
        size = config.coarse_entries if k == 0 else config.codebook_size
        book = _kmeans(residual, size, config.lloyd_iters, g)
        if size < config.codebook_size:  # unused ids repeat entries; the search returns the first
            book = book[torch.arange(config.codebook_size) % size]
        books.append(book)
        residual = residual - book[_nearest(residual, book)]
    return torch.stack(books)


def _kmeans(x: torch.Tensor, k: int, iters: int, g: torch.Generator) -> torch.Tensor:
    """k centroids of x (N, M): seeded random rows, jittered when N < k, then Lloyd iterations
    (an empty cluster keeps its centroid)."""
    rows = torch.randint(0, x.shape[0], (k,), generator=g)
    book = x[rows] + torch.randn(k, x.shape[1], generator=g) * x.std(0, keepdim=True) * 0.05
    for _ in range(iters):
        idx = _nearest(x, book)
        sums = torch.zeros_like(book).index_add_(0, idx, x)
        counts = torch.bincount(idx, minlength=k).to(x.dtype)
        filled = counts > 0
        book[filled] = sums[filled] / counts[filled, None]
    return book


def probe_music(g: torch.Generator, seconds: float, sample_rate: int, segment: float = 5.0) -> torch.Tensor:
    """Seeded four-voice synthetic "chorales" in `segment`-second pieces, each with its own tempo
    (70–140 bpm), timbre (1–10 partials, spectral tilt, attack 2–40 ms, held or decaying 1–8 /s)
    and level; voices in SATB ranges move by up to 5 semitones on notes of ½–2 beats; each piece
    peak-normalised to 0.9 like the toy's clips, over faint noise."""
    n_seg = max(1, int(round(seconds / segment)))
    seg_n = int(segment * sample_rate)
    out = torch.zeros(n_seg * seg_n)
    ranges = ((40, 60), (48, 67), (55, 74), (60, 81))
    for s in range(n_seg):
        u = torch.rand(6, generator=g)
        beat = 60.0 / (70 + 70 * float(u[0]))
        partials = 1 + int(9 * u[1])
        tilt = 0.3 + 0.65 * float(u[2])
        attack = 0.002 + 0.038 * float(u[3])
        decay = 0.0 if u[4] < 0.4 else 1 + 7 * float(u[5])
        h = torch.arange(1, partials + 1, dtype=torch.float32)
        piece = torch.zeros(seg_n)
        for lo, hi in ranges:
            pitch = float(lo + (hi - lo) * torch.rand(1, generator=g))
            t0 = 0.0
            while t0 < segment:
                dur = beat * float((torch.randint(1, 5, (1,), generator=g)) * 0.5)
                a, b = int(t0 * sample_rate), min(seg_n, int((t0 + dur) * sample_rate))
                t = torch.arange(b - a) / sample_rate
                f0 = 440.0 * 2 ** ((round(pitch) - 69) / 12)
                amp = (tilt ** (h - 1)) * (f0 * h < sample_rate / 2)
                tone = (amp[:, None] * torch.sin(2 * math.pi * f0 * h[:, None] * t[None])).sum(0)
                env = (t / attack).clamp(max=1.0) * torch.exp(-decay * t)
                env = env * (1.0 - ((t - (t[-1] - 0.01)).clamp(min=0) / 0.01)).clamp(min=0)  # no click at the end
                piece[a:b] += env * tone
                pitch = min(hi, max(lo, pitch + float(torch.randint(-5, 6, (1,), generator=g))))
                t0 += dur
        out[s * seg_n:(s + 1) * seg_n] = 0.9 * piece / piece.abs().max().clamp(min=1e-9)
    return out + 1e-3 * torch.randn(out.shape[0], generator=g)
