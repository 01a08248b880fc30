"""DeSync: the audio–visual offset Synchformer predicts between a clip's video and a system's music,
as av-benchmark computes it (hkchengrex/av-benchmark, used by MMAudio and later video-to-audio
work; model: v-iashin/Synchformer, the `24-01-04T16-39-21` AudioSet checkpoint, distributed by
MMAudio as ``synchformer_state_dict.pth``).

Per clip (av-benchmark's extract_video.py, av_bench/extract.py and av_bench/evaluate.py):

video  the clip's frames at 25 fps (the first ⌊25·d⌋ for a d-s clip), resized so the short side is
       224 (bicubic, antialiased: torchvision v2.Resize), centre-cropped to 224², scaled to [0, 1]
       and normalised with mean = std = 0.5; cut into 16-frame segments with a step of 8 (0.64 s
       segments every 0.32 s).
audio  the wav's channels averaged, resampled to 16 kHz (torchaudio's sinc resampler,
       metrics.preprocess.resample_sinc), the first ⌊16000·d⌋ samples; segments of 10240 samples
       with a step of 5120 (the same 0.64 s / 0.32 s); each a 128-band mel power spectrogram
       (torchaudio MelSpectrogram: n_fft 1024, 400-sample Hann window, hop 160, HTK mel, no
       norm), log(x + 1e-6), zero-padded from 65 to 66 frames, normalised
       (x + 4.2677393) / (2 · 4.5689974).
window the synchronisation transformer sees 14 segments (4.8 s) at a time: av-benchmark scores the
       first 14 and the last 14 segments of each clip (the first and last 4.8 s).
offset the class with the highest logit among 21 offsets, −2.0 … +2.0 s in 0.2 s steps.

    desync = mean over the two windows of |offset|  (s; lower is better; 0 = in sync)

av-benchmark's DeSync is the mean of these per-window values over all clips, i.e. the mean of the
per-clip values here; the CI is the bootstrap over clips. A clip shorter than 4.8 s has no window:
ClipTooShortError in `clip_desync`, NaN in the metric's row (left out of the set value, with a
note).

Weights: ``synchformer_state_dict.pth`` (the official file, a plain state dict that av-benchmark
loads with torch.load(..., weights_only=True) + load_state_dict, strict) from the URL below, put in
<cache_dir>/weights/ or passed as `checkpoint`; nothing is downloaded (no published checksum).
v-iashin/Synchformer's own `24-01-04T16-39-21.pt` ({'model': state dict, ...}) is unwrapped and
loaded the same strict way when it loads tensors-only (not checked: neither file can be fetched here).
``weights: random`` builds a small Synchformer (same code, 64-d, one layer per encoder) with seeded
weights, saved in the official layout and loaded the same way: **random weights cannot estimate
offsets**; every row says so. The model code (metrics/synchformer/model.py) is checked against
av-benchmark's own Synchformer code on seeded weights (scripts/golden/desync_synchformer.py,
tests/metrics/test_desync.py).
"""

from __future__ import annotations

import hashlib
import math
import os
import warnings
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from core.atomic import atomic_path
from core.cache import Cache, default_cache_dir
from core.media import decode_frames
from core.manifest import Clip
from metrics.base import Metric, Score, register_metric
from metrics.errors import MetricError

OFFICIAL_NAME = "synchformer_state_dict.pth"
OFFICIAL_URL = "https://github.com/hkchengrex/MMAudio/releases/download/v0.1/synchformer_state_dict.pth"
ORIGINAL_CHECKPOINT = "24-01-04T16-39-21"  # v-iashin/Synchformer's AudioSet run the file comes from
VIDEO_FPS, SIZE = 25.0, 224
AUDIO_SR = 16000
SEGMENT_FRAMES, SEGMENT_STEP = 16, 8
SEGMENT_SAMPLES, SEGMENT_HOP = 10240, 5120
WINDOW_SEGMENTS = 14  # 4.8 s
MEL = dict(n_fft=1024, win_length=400, hop_length=160, n_mels=128)
SPEC_FRAMES = 66
SPEC_MEAN, SPEC_STD = -4.2677393, 4.5689974
MIN_SECONDS = ((WINDOW_SEGMENTS - 1) * SEGMENT_STEP + SEGMENT_FRAMES) / VIDEO_FPS  # 4.8
VERSION = 1
RANDOM_CONFIG = dict(dim=64, video_depth=1, video_heads=4, audio_depth=1, audio_heads=4, sync_layers=1, sync_heads=4)


class ClipTooShortError(MetricError):
    """A clip shorter than Synchformer's 4.8-s window."""


class DesyncRandomWeightsNote(UserWarning):
    """Carries 'random weights cannot estimate offsets' into the evaluation's notes."""


class DesyncUndefinedNote(UserWarning):
    """Clips with no DeSync value (shorter than the 4.8-s window)."""


# ----------------------------------------------------------------------------- weights


def seeded_state_dict(shapes: Mapping[str, Sequence[int]], seed: int = 0) -> dict:
    """Deterministic random tensors for a Synchformer state dict's keys: each key's tensor drawn
    from its own generator (seed, crc of the key), so any module with these keys — ours or the
    official code's — gets the very same weights. Matrices and kernels ~ N(0, 1/fan_in), LayerNorm
    weights 1 + N(0, 0.1²), biases and 1-d tensors N(0, 0.02²), tokens and position embeddings
    N(0, 0.02²) · 25 (visible against the activations)."""
    import zlib

    import torch

    out = {}
    for key, shape in shapes.items():
        shape = tuple(int(s) for s in shape)
        g = torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(key.encode()))
        x = torch.randn(shape, generator=g)
        name = key.rsplit(".", 1)[-1]
        if len(shape) >= 2 and name in ("weight", "in_proj_weight"):
            x = x / math.sqrt(float(np.prod(shape[1:])))
        elif name == "weight":  # LayerNorm
            x = 1.0 + 0.1 * x
        elif len(shape) == 3:  # tokens, position embeddings
            x = 0.5 * x
        else:  # biases
            x = 0.02 * x
        out[key] = x.contiguous()
    return out


def save_random_weights(path: str | os.PathLike, config=None, seed: int = 0) -> Path:
    """Seeded random weights for `config` (default: the small random-mode config) in the official
    file's layout: a plain state dict, as synchformer_state_dict.pth."""
    import torch

    from metrics.synchformer import Synchformer, SynchformerConfig

    config = config or SynchformerConfig(**RANDOM_CONFIG)
    with torch.device("meta"):
        shapes = {k: v.shape for k, v in Synchformer(config).state_dict().items()}

    path = Path(path)
    with atomic_path(path) as tmp:  # two evaluations may make it at once
        torch.save(seeded_state_dict(shapes, seed), tmp)
    return path


def load_synchformer(path: str | os.PathLike, config=None):
    """Synchformer in eval mode with the weights of `path`, loaded as av-benchmark loads the
    official file (torch.load, weights only; load_state_dict, strict), or a MetricError naming the
    file and the missing / unexpected keys."""
    import torch

    from metrics.embedders.weights import load_strict
    from metrics.synchformer import Synchformer

    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise MetricError(f"{path}: cannot read the Synchformer weights as a tensors-only file "
                          f"({type(e).__name__}: {e}); use {OFFICIAL_NAME} from {OFFICIAL_URL}") from e
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        # v-iashin/Synchformer's own training checkpoint (24-01-04T16-39-21.pt) keeps the same module
        # names under 'model' (its example.py: model.load_state_dict(ckpt['model'])); strict loading
        # below still names any key that differs. Its other entries need a full unpickle, refused here.
        state = state["model"]
    model = Synchformer(config)
    try:
        load_strict(model, state, path, f"Synchformer ({OFFICIAL_NAME})")
    except RuntimeError as e:  # right keys, wrong shapes
        raise MetricError(f"{path}: not a Synchformer checkpoint of this architecture: {str(e).splitlines()[-1].strip()}") from e
    return model.eval()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


# ----------------------------------------------------------------------------- inputs


def mel_filterbank(n_freqs: int, n_mels: int, sample_rate: int, f_min: float = 0.0, f_max: float | None = None):
    """(n_freqs, n_mels) triangular HTK-mel filters without normalisation, as
    torchaudio.functional.melscale_fbanks(..., norm=None, mel_scale='htk')."""
    import torch

    f_max = float(sample_rate // 2) if f_max is None else f_max
    freqs = torch.linspace(0, sample_rate // 2, n_freqs)
    to_mel = lambda f: 2595.0 * math.log10(1.0 + f / 700.0)  # noqa: E731
    m = torch.linspace(to_mel(f_min), to_mel(f_max), n_mels + 2)
    f_pts = 700.0 * (10 ** (m / 2595.0) - 1.0)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts.unsqueeze(0) - freqs.unsqueeze(1)
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return torch.clamp(torch.min(down, up), min=0.0)


def mel_spectrogram(x):
    """(..., samples) → (..., 128, frames) mel power, torchaudio.transforms.MelSpectrogram(16000,
    n_fft=1024, win_length=400, hop_length=160, n_mels=128) (centred, reflect-padded, Hann)."""
    import torch

    shape = x.shape
    flat = x.reshape(-1, shape[-1])
    spec = torch.stft(flat, n_fft=MEL["n_fft"], hop_length=MEL["hop_length"], win_length=MEL["win_length"],
                      window=torch.hann_window(MEL["win_length"]), center=True, pad_mode="reflect",
                      normalized=False, onesided=True, return_complex=True).abs().pow(2.0)
    fb = mel_filterbank(MEL["n_fft"] // 2 + 1, MEL["n_mels"], AUDIO_SR)
    mel = torch.matmul(spec.transpose(-1, -2), fb).transpose(-1, -2)
    return mel.reshape(*shape[:-1], *mel.shape[-2:])


def audio_segments(wave) -> "torch.Tensor":  # noqa: F821
    """(samples,) 16-kHz waveform → (S, 128, 66) normalised log-mel segments (av-benchmark's
    encode_audio_with_sync before the model)."""
    import torch

    x = torch.as_tensor(np.asarray(wave, np.float32))
    n = (x.shape[-1] - SEGMENT_SAMPLES) // SEGMENT_HOP + 1
    if n < 1:
        return torch.zeros((0, MEL["n_mels"], SPEC_FRAMES))
    segs = torch.stack([x[i * SEGMENT_HOP:i * SEGMENT_HOP + SEGMENT_SAMPLES] for i in range(n)])
    spec = torch.log(mel_spectrogram(segs) + 1e-6)
    pad = SPEC_FRAMES - spec.shape[-1]
    spec = torch.nn.functional.pad(spec, (0, pad)) if pad > 0 else spec[..., :SPEC_FRAMES]
    return (spec - SPEC_MEAN) / (2 * SPEC_STD)


def video_segments(frames: np.ndarray) -> "torch.Tensor":  # noqa: F821
    """(T, H, W, 3) uint8 frames at 25 fps → (S, 16, 3, 224, 224) (av-benchmark's sync_transform
    and encode_video_with_sync before the model)."""
    import torch
    from torchvision.transforms import v2

    transform = v2.Compose([v2.Resize(SIZE, interpolation=v2.InterpolationMode.BICUBIC), v2.CenterCrop(SIZE),
                            v2.ToImage(), v2.ToDtype(torch.float32, scale=True),
                            v2.Normalize(mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5])])
    x = transform(torch.as_tensor(np.ascontiguousarray(frames)).permute(0, 3, 1, 2))
    n = (x.shape[0] - SEGMENT_FRAMES) // SEGMENT_STEP + 1
    if n < 1:
        return torch.zeros((0, SEGMENT_FRAMES, 3, SIZE, SIZE))
    return torch.stack([x[i * SEGMENT_STEP:i * SEGMENT_STEP + SEGMENT_FRAMES] for i in range(n)])


def load_audio_16k(path: str | os.PathLike, duration: float) -> np.ndarray:
    """The wav's channels averaged, resampled to 16 kHz (torchaudio's sinc resampler), the first
    ⌊16000·duration⌋ samples (av-benchmark's SynchformerAudioDataset)."""
    from metrics.preprocess import _read, resample_sinc

    data, sr = _read(path, "float32")
    x = np.asarray(data, np.float32)
    x = x.mean(axis=1) if x.ndim == 2 else x
    if sr != AUDIO_SR:
        x = np.asarray(resample_sinc(x, sr, AUDIO_SR), np.float32)
    return x[: int(AUDIO_SR * duration)]


def clip_frames(clip: Clip) -> np.ndarray:
    frames = decode_frames(clip.video_path, fps=VIDEO_FPS, start=clip.start, duration=clip.duration)
    return frames[: int(VIDEO_FPS * clip.duration)]


# ----------------------------------------------------------------------------- the estimate


def window_offsets(model, video, spec) -> np.ndarray:
    """Offsets (s) of the first and the last 14-segment windows (av-benchmark's two windows)."""
    import torch

    from metrics.synchformer import offset_grid

    w = WINDOW_SEGMENTS
    if video.shape[0] < w or spec.shape[0] < w:
        raise ClipTooShortError(f"{min(video.shape[0], spec.shape[0])} segments; Synchformer needs {w} "
                                f"({MIN_SECONDS:.1f} s)")
    grid = offset_grid(model.cfg.classes)
    with torch.inference_mode():
        vf = model.video_features(video[None])
        af = model.audio_features(spec[None])
        out = []
        for sl in (slice(0, w), slice(-w, None)):
            logits = model.offset_logits(vf[:, sl], af[:, sl])
            out.append(float(grid[int(torch.argmax(logits, dim=-1)[0])]))
    return np.array(out)


def clip_desync(model, clip: Clip, wav: str | os.PathLike) -> np.ndarray:
    """The two window offsets (s) of `wav` against `clip`'s video; ClipTooShortError below 4.8 s."""
    if clip.duration + 1e-9 < MIN_SECONDS:
        raise ClipTooShortError(f"clip {clip.id}: {clip.duration:g} s is shorter than Synchformer's "
                                f"{MIN_SECONDS:.1f}-s window; DeSync is undefined")
    frames = clip_frames(clip)
    audio = load_audio_16k(wav, clip.duration)
    if audio.shape[0] < int(AUDIO_SR * clip.duration):
        raise ClipTooShortError(f"{wav}: {audio.shape[0] / AUDIO_SR:.2f} s of audio for a {clip.duration:g}-s clip")
    return window_offsets(model, video_segments(frames), audio_segments(audio))


# ----------------------------------------------------------------------------- the metric


@register_metric("desync")
class DesyncMetric(Metric):
    """Synchformer's DeSync (mean |predicted offset| over the first and last 4.8 s) per clip."""

    def __init__(self, cache=None, seed: int = 0, weights: str = "pretrained", checkpoint: str | None = None,
                 threads: int = 1):
        from metrics.embedders.weights import check_weights_kind

        super().__init__(cache, seed)
        self.weights = check_weights_kind(weights)
        self.checkpoint = checkpoint
        self.threads = int(threads)
        self._model = None
        self._path: Path | None = None
        self._sha: str | None = None

    def _resolve(self) -> Path:
        from metrics.embedders.weights import resolve_weights_file

        if self._path is None:
            if self.weights == "pretrained":
                self._path = resolve_weights_file(f"Synchformer ({ORIGINAL_CHECKPOINT}, as av-benchmark loads it)",
                                                  self.checkpoint, OFFICIAL_NAME, OFFICIAL_URL)
            else:
                self._path = default_cache_dir() / "weights" / f"synchformer_random_seed{self.seed}_v{VERSION}.pth"
                if not self._path.is_file():
                    save_random_weights(self._path, seed=self.seed)
            self._sha = file_sha256(self._path)
        return self._path

    @property
    def model(self):
        if self._model is None:
            from metrics.synchformer import SynchformerConfig

            cfg = SynchformerConfig() if self.weights == "pretrained" else SynchformerConfig(**RANDOM_CONFIG)
            self._model = load_synchformer(self._resolve(), cfg)
        return self._model

    def describe(self) -> dict:
        d = {"weights": self.weights, "version": VERSION, "official_file": OFFICIAL_NAME,
             "checkpoint_run": ORIGINAL_CHECKPOINT, "windows": "first and last 4.8 s (14 x 0.64-s segments)",
             "offsets_s": "-2.0..2.0 step 0.2 (21 classes)",
             "architecture": "official (ViT-B Motionformer, AST, 3-layer sync transformer)"
             if self.weights == "pretrained" else f"small seeded ({RANDOM_CONFIG})"}
        if self.weights == "random":
            d["seed"] = self.seed
            d["warning"] = "random weights cannot estimate offsets: desync is noise, shown only to prove the pipeline runs"
        if self._sha:
            d["weights_sha256"] = self._sha
        return d

    def config(self) -> dict:
        self._resolve()
        return {"version": VERSION, "weights": f"sha256:{self._sha}", "random": self.weights == "random"}

    def _offsets(self, clip: Clip, wav: Path) -> np.ndarray:
        def compute():
            import torch

            old = torch.get_num_threads()
            torch.set_num_threads(self.threads)
            try:
                return {"offsets": clip_desync(self.model, clip, wav)}
            except ClipTooShortError:
                return {"offsets": np.full(2, np.nan)}
            finally:
                torch.set_num_threads(old)

        if self.cache is False:
            return compute()["offsets"]
        cache = self.cache if isinstance(self.cache, Cache) else Cache()
        cfg = {**self.config(), "video": [str(clip.video_path), float(clip.start), float(clip.duration)]}
        return np.asarray(cache.get_or_compute("desync", cfg, [Path(wav), Path(clip.video_path)], compute)["offsets"])

    def scores(self, clips: Sequence[Clip], generated: Mapping[str, Path], reference: Mapping[str, Path]):
        offsets = np.stack([self._offsets(c, Path(generated[c.id])) for c in clips])
        per_clip = np.abs(offsets).mean(axis=1)
        short = [c.id for c, v in zip(clips, per_clip) if not np.isfinite(v)]
        if short:
            warnings.warn(f"desync: {len(short)} clip(s) shorter than Synchformer's {MIN_SECONDS:.1f}-s window have "
                          f"no value and are left out ({', '.join(short[:5])}{'…' if len(short) > 5 else ''})",
                          DesyncUndefinedNote, stacklevel=2)
        if self.weights == "random":
            warnings.warn("desync: seeded RANDOM Synchformer weights (no synchformer_state_dict.pth): random weights "
                          "cannot estimate offsets; desync is noise, shown only to prove the pipeline runs",
                          DesyncRandomWeightsNote, stacklevel=2)
        return {"desync": Score(per_clip=per_clip, higher_is_better=False, floor=0.0)}
