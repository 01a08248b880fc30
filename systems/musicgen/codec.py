"""The offline music codec of the random-weight models: EnCodec-shaped codes that carry the music's events.

MusicGen reads and writes EnCodec 32 kHz codes: 50 frames/s (hop 640 samples), 4 residual
codebooks of 2048 entries. With random weights an `EncodecModel` is a random function of the
waveform's fine structure: on the toy its first codebook changed at 98–100 % of all frames, at
note onsets no more often than elsewhere (onset AUC of the code changes 0.49; docs/science.md), so
the codes said nothing about *when* a note starts and no conditioning could help predict them.

`SpectralCodec` keeps EnCodec's interface and rates but codes a representation that has the
music's events by construction:

- encoder: the log power spectrum on a semitone scale (one triangular band per MIDI pitch from 24
  to 134, 4096-sample Hann window) of each 640-sample frame. On the mel scale of v3 (64 bands) a
  voice moving by a semitone barely changed a band below ~1 kHz: the frames' spectral flux marked
  the toy's note onsets with AUC 0.69; on the semitone scale it is 0.91 (docs/science.md);
- events: the frames where the (3-frame smoothed) semitone spectrum rises, picked as peaks of its
  positive flux (a local maximum within ±2 frames, above the ±0.5-s local mean by half the clip's
  flux deviation, at least 3 frames apart) — from the audio alone;
- quantizer: residual vector quantization, 4 codebooks × 2048, fitted (a few Lloyd iterations of
  k-means, as EnCodec's own codebook init) on a seeded probe of synthetic notes — harmonic tones
  with random pitch, timbre, attack, decay and level, overlapping into chords — so it needs no
  data and no download, and is the same for every dataset (fitted in a few s of CPU, cached on
  disk). Each segment between two events is coded once, by its mean spectrum: a held note keeps
  its codes, a new note changes them;
- decoder: the quantized log spectrum back to a linear power spectrum (each bin the
  triangle-weighted mean of the bands over it), magnitudes with phases that advance at each bin's
  frequency (steady partials add up across frames) from an offset drawn per first-codebook code
  (so different code sequences give uncorrelated waveforms), inverse STFT.

The decoded audio follows the codes' spectra segment by segment (it sounds like filtered noise and
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

CODEC_VERSION = 5  # bump when the codes of the same audio change (3: 160 s probe, 4 Lloyd iterations;
#                   4: semitone-scale spectrum, codes held between the audio's own events)


@dataclass(frozen=True)
class SpectralCodecConfig:
    sampling_rate: int = 32000
    hop: int = 640  # 50 Hz frames, as EnCodec 32 kHz
    n_fft: int = 4096
    pitch_range: tuple[int, int] = (24, 135)  # MIDI pitches of the semitone bands [lo, hi)
    num_codebooks: int = 4
    codebook_size: int = 2048
    target_bandwidths: tuple[float, ...] = (2.2,)  # 4 × 11 bits × 50 Hz, as EnCodec 32 kHz at 2.2 kbps
    probe_seconds: float = 160.0
    lloyd_iters: int = 4
    entries: int = 64  # distinct entries per codebook fitted (ids above repeat them and are never chosen)
    floor_db: float = -80.0  # log-power floor of a band
    event_smooth: int = 3  # frames of the moving average before the flux
    event_peak_window: int = 2  # an event is the flux maximum within ± this many frames
    event_mean_window: int = 25  # ... above the mean within ± this many frames (0.5 s)
    event_delta: float = 0.5  # ... by this many standard deviations of the clip's flux
    event_min_gap: int = 3  # frames between two events at least

    @property
    def frame_rate(self) -> int:
        return self.sampling_rate // self.hop


class SpectralCodec(nn.Module):
    """`encode(audio (B, 1, N))` → `.audio_codes` (1, B, K, T), T = ceil(N / hop);
    `decode(codes (1, B, K, T), scales)` → `.audio_values` (B, 1, T · hop): EnCodecModel's calls."""

    def __init__(self, config: SpectralCodecConfig | None = None, seed: int = 0):
        super().__init__()
        self.config = cfg = config or SpectralCodecConfig()
        bands = semitone_filters(cfg).numpy()
        self.register_buffer("bands", torch.as_tensor(bands))  # (M, F)
        # decoder: bin f's power = Σ_m tri_m(f) · P_m / width_m (the triangles sum to 1 over each bin)
        self.register_buffer("unband", torch.as_tensor(bands.T / np.maximum(bands.sum(1), 1e-9), dtype=torch.float32))
        self.register_buffer("window", torch.hann_window(cfg.n_fft))
        g = torch.Generator().manual_seed(seed + 211)
        self.register_buffer("phase0", torch.rand(cfg.n_fft // 2 + 1, generator=g) * 2 * math.pi)
        self.register_buffer("codebooks", fitted_codebooks(cfg, seed).clone())  # (K, V, M)

    # --- encoder / quantizer -----------------------------------------------------------------
    def features(self, audio: torch.Tensor) -> torch.Tensor:
        """Mono audio (B, N) → log band-power frames (B, T, M) (natural log), T = ceil(N / hop)."""
        return log_spectrum(audio, self.bands, self.window, self.config)

    def events(self, feats: torch.Tensor) -> list[np.ndarray]:
        """The frames where each item's spectrum changes (B lists of frame indices; see the module docstring)."""
        return [spectral_events(f.numpy(), self.config) for f in feats.detach().float().cpu()]

    def segment_means(self, feats: torch.Tensor) -> torch.Tensor:
        """(B, T, M) → (B, T, M) with each frame replaced by the mean of its segment between events."""
        out = torch.empty_like(feats)
        for b, starts in enumerate(self.events(feats)):
            bounds = [0, *[int(s) for s in starts if s > 0], feats.shape[1]]
            for s, e in zip(bounds[:-1], bounds[1:]):
                if e > s:
                    out[b, s:e] = feats[b, s:e].mean(0, keepdim=True)
        return out

    def quantize(self, feats: torch.Tensor) -> torch.Tensor:
        """(B, T, M) → codes (B, K, T) by residual nearest-codeword search."""
        residual, codes = feats, []
        for book in self.codebooks:
            idx = _nearest(residual.reshape(-1, residual.shape[-1]), book).view(residual.shape[:-1])
            codes.append(idx)
            residual = residual - book[idx]
        return torch.stack(codes, dim=1)

    def dequantize(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (B, K, T) → quantized log band power (B, T, M)."""
        return sum(self.codebooks[k][codes[:, k].long()] for k in range(codes.shape[1]))

    @torch.no_grad()
    def encode(self, input_values: torch.Tensor, bandwidth: float | None = None, **_):
        x = input_values[:, 0] if input_values.dim() == 3 else input_values
        codes = self.quantize(self.segment_means(self.features(x)))
        return SimpleNamespace(audio_codes=codes[None], audio_scales=[None])

    # --- decoder -----------------------------------------------------------------------------
    @torch.no_grad()
    def decode(self, audio_codes: torch.Tensor, audio_scales=None, **_):
        cfg = self.config
        codes = audio_codes[0].clamp(0, cfg.codebook_size - 1)  # (B, K, T)
        power = torch.einsum("fm,btm->bft", self.unband, self.dequantize(codes).exp())
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


def semitone_filters(config: SpectralCodecConfig) -> torch.Tensor:
    """Triangular filters (M, F), one per MIDI pitch in `config.pitch_range`, each one semitone wide
    either side, peak 1; pitches with no STFT bin inside their triangle (the lowest, where bins are
    wider than a semitone) are dropped."""
    freqs = np.linspace(0, config.sampling_rate / 2, config.n_fft // 2 + 1)
    midi = 69.0 + 12.0 * np.log2(np.maximum(freqs, 1e-3) / 440.0)
    fb = np.maximum(0.0, 1.0 - np.abs(midi[None] - np.arange(*config.pitch_range)[:, None]))
    return torch.as_tensor(fb[fb.sum(1) > 0], dtype=torch.float32)


def log_spectrum(audio: torch.Tensor, bands: torch.Tensor, window: torch.Tensor, config: SpectralCodecConfig
                 ) -> torch.Tensor:
    """Mono audio (B, N) → log band power (B, T, M), T = ceil(N / hop) (centred STFT frames, zero-padded
    at the edges so that clips shorter than the window work too)."""
    n = audio.shape[-1]
    t = max(1, math.ceil(n / config.hop))
    spec = torch.stft(audio.float(), config.n_fft, config.hop, window=window, center=True, pad_mode="constant",
                      return_complex=True)
    power = spec.abs().pow(2)[..., :t]  # (B, F, T)
    if power.shape[-1] < t:
        power = nn.functional.pad(power, (0, t - power.shape[-1]))
    return torch.log(torch.einsum("mf,bft->btm", bands, power).clamp(min=10 ** (config.floor_db / 10)))


def spectral_events(feats: np.ndarray, config: SpectralCodecConfig) -> np.ndarray:
    """Event frames of one item's log band power (T, M): peaks of the smoothed spectrum's positive
    flux (mean over bands) — a maximum within ±`event_peak_window` frames, above the local mean
    (±`event_mean_window`) by `event_delta` × the clip's flux deviation, `event_min_gap` apart."""
    from scipy.ndimage import maximum_filter1d, uniform_filter1d

    t = feats.shape[0]
    if t < 2:
        return np.zeros(0, dtype=np.int64)
    smooth = uniform_filter1d(feats.astype(np.float64), config.event_smooth, axis=0, mode="nearest")
    flux = np.zeros(t)
    flux[1:] = np.maximum(smooth[1:] - smooth[:-1], 0.0).mean(1)
    local_max = maximum_filter1d(flux, 2 * config.event_peak_window + 1, mode="nearest")
    local_mean = uniform_filter1d(flux, 2 * config.event_mean_window + 1, mode="nearest")
    candidates = np.flatnonzero((flux >= local_max) & (flux > local_mean + config.event_delta * flux.std())
                                & (flux > 0))
    events, last = [], -config.event_min_gap
    for c in candidates:
        if c - last >= config.event_min_gap:
            events.append(int(c))
            last = c
    return np.asarray(events, dtype=np.int64)


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
    """Residual codebooks (K, V, M) fitted by k-means on the seeded probe's log band-power frames; kept in
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
    residual = log_spectrum(probe[None], semitone_filters(config), torch.hann_window(config.n_fft), config)[0]  # (T, M)
    books = []
    for k in range(config.num_codebooks):
        size = min(config.entries, config.codebook_size)
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
