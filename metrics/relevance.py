"""ImageBind score: cosine of a clip's video and music embeddings in ImageBind's joint space
(Girdhar et al. 2023, "ImageBind: One Embedding Space To Bind Them All", CVPR), per clip with a
bootstrap CI, and video↔music retrieval on it (metrics.retrieval). The video-to-audio and
video-to-music literature reports it as "IB-score" (e.g. Seeing and Hearing, Xing et al. 2024;
VidMuse, Tian et al. 2024).

Model code and checkpoint format
--------------------------------
`ImageBindModel` is ImageBind's own model code, imported from the `imagebind-unofficial` wheel
(PyPI), whose `imagebind/models/*.py` are byte-for-byte the files of facebookresearch/ImageBind
at 53680b0 (checked with a diff). The package's `__init__` also imports its data module (torchaudio,
decord, pytorchvideo transforms: none installable beside this torch), so the models subpackage is
imported without running it (`_imagebind_models`). `weights: pretrained` builds `imagebind_huge`'s
architecture (ViT-H vision, 1024-d joint space) and loads the official `imagebind_huge.pth`
exactly as `imagebind_huge(pretrained=True)` does (`torch.load(..., weights_only=True)` +
`load_state_dict`, strict); the file is not downloaded here (offline): pass `checkpoint=` or put it
in <cache_dir>/weights/. `weights: random` builds a small ImageBindModel (same class, same init,
64-d) under a fixed seed: **random weights cannot rank anything**; the numbers only show that the
pipeline runs, and every row says `random weights`.

Inputs (ImageBind's data.py, reimplemented where its imports are unavailable)
---------------------------------------------------------------------------
audio  16 kHz mono, 3 clips of 2 s placed by pytorchvideo's ConstantClipsPerVideoSampler; each
       mean-removed, Kaldi fbank (torchaudio.compliance.kaldi.fbank settings: 25 ms Hanning frames,
       10 ms shift, 128 mel bins, pre-emphasis 0.97, power spectrum, log with float32-eps floor,
       htk_compat, no dither, snip_edges), cut/padded to 204 frames, normalised (x + 4.268) / 9.138.
video  5 clips of 2 s (same sampler), 2 frames each (pytorchvideo UniformTemporalSubsample), /255,
       short side scaled to 224 (bilinear), CLIP mean/std, 3 spatial crops of 224 → 15 views.
The model averages a modality's views (its forward's `reduce_list`); the score is the cosine of
the two normalised embeddings.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import sys
import types
from fractions import Fraction
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from metrics import retrieval
from core.cache import Cache, default_cache_dir
from core.errors import ConfigError
from core.media import decode_frames, load_audio, probe_video
from core.manifest import Clip
from metrics.base import Metric, Score, register_metric

HUGE = dict(vision_embed_dim=1280, vision_num_blocks=32, vision_num_heads=16, text_embed_dim=1024,
            text_num_blocks=24, text_num_heads=16, out_embed_dim=1024, audio_drop_path=0.1, imu_drop_path=0.7)
TINY = dict(out_embed_dim=64, vision_embed_dim=64, vision_num_blocks=2, vision_num_heads=4,
            audio_embed_dim=64, audio_num_blocks=2, audio_num_heads=4, audio_drop_path=0.0,
            text_embed_dim=32, text_num_blocks=1, text_num_heads=4, depth_embed_dim=32, depth_num_blocks=1,
            depth_num_heads=4, thermal_embed_dim=32, thermal_num_blocks=1, thermal_num_heads=4,
            imu_embed_dim=32, imu_num_blocks=1, imu_num_heads=4, imu_drop_path=0.0)
CHECKPOINT_NAME = "imagebind_huge.pth"
AUDIO_SR = 16000
AUDIO_MEAN, AUDIO_STD = -4.268, 9.138
N_MELS, TARGET_LEN = 128, 204
CLIP_S, AUDIO_CLIPS, VIDEO_CLIPS, FRAMES_PER_CLIP, SIZE = 2, 3, 5, 2, 224
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
EMBEDDING_VERSION = 1


class ImageBindUnavailableError(ImportError):
    """ImageBind's model code is not installed."""


def _imagebind_models():
    """imagebind.models.imagebind_model without executing imagebind/__init__.py (see above)."""
    if "imagebind.models.imagebind_model" in sys.modules:
        return sys.modules["imagebind.models.imagebind_model"]
    spec = importlib.util.find_spec("imagebind")
    if spec is None or not spec.submodule_search_locations:
        raise ImageBindUnavailableError("the imagebind metric needs ImageBind's model code: pip install --no-deps "
                                        "imagebind-unofficial && pip install ftfy timm iopath einops regex")
    if "imagebind" not in sys.modules:
        pkg = types.ModuleType("imagebind")
        pkg.__path__ = list(spec.submodule_search_locations)
        pkg.__spec__ = spec
        sys.modules["imagebind"] = pkg
    return importlib.import_module("imagebind.models.imagebind_model")


def build_model(weights: str = "random", checkpoint: str | Path | None = None, seed: int = 0):
    """ImageBindModel in eval mode: the huge architecture with the official checkpoint, or the
    small seeded one."""
    import torch

    ib = _imagebind_models()
    if weights == "pretrained":
        path = Path(checkpoint) if checkpoint else _default_checkpoint()
        if not path.is_file():
            raise ConfigError(f"metric imagebind: weights=pretrained needs {path} (the official {CHECKPOINT_NAME}, "
                              "from ImageBind's README); pass metric.imagebind.checkpoint=PATH, or use weights=random")
        model = ib.ImageBindModel(**HUGE)
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    elif weights == "random":
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            model = ib.ImageBindModel(**TINY)
    else:
        raise ConfigError(f"metric imagebind: weights must be 'pretrained' or 'random', not {weights!r}")
    return model.eval()


def _default_checkpoint() -> Path:
    return default_cache_dir() / "weights" / CHECKPOINT_NAME


# ----------------------------------------------------------------------------- inputs


def clip_timepoints(duration: float, clip_s: float, n_clips: int) -> list[tuple[float, float]]:
    """pytorchvideo's ConstantClipsPerVideoSampler as ImageBind's get_clip_timepoints reads it."""
    from pytorchvideo.data.clip_sampling import ConstantClipsPerVideoSampler

    sampler = ConstantClipsPerVideoSampler(clip_duration=clip_s, clips_per_video=n_clips)
    out, end, last = [], 0.0, False
    while not last:
        start, end, _, _, last = sampler(end, Fraction(duration).limit_denominator(10 ** 6), annotation=None)
        out.append((float(start), float(end)))
    return out


def _mel_banks(n_mels: int, n_fft: int, sr: float, low: float = 20.0, high: float = 0.0):
    """Kaldi's triangular mel banks (mel = 1127 ln(1 + f / 700)), (n_mels, n_fft // 2 + 1), in
    float32 with the same operation order as torchaudio's get_mel_banks (no VTLN warp)."""
    import torch

    high = high if high > 0 else sr / 2 + high
    lo, hi = 1127.0 * math.log(1.0 + low / 700.0), 1127.0 * math.log(1.0 + high / 700.0)
    delta = (hi - lo) / (n_mels + 1)
    b = torch.arange(n_mels).unsqueeze(1)
    left, centre, right = lo + b * delta, lo + (b + 1.0) * delta, lo + (b + 2.0) * delta
    m = (1127.0 * (1.0 + (sr / n_fft) * torch.arange(n_fft / 2) / 700.0).log()).unsqueeze(0)
    up, down = (m - left) / (centre - left), (right - m) / (right - centre)
    banks = torch.max(torch.zeros(1), torch.min(up, down))
    return torch.nn.functional.pad(banks, (0, 1)).to(torch.float32)


def kaldi_fbank(waveform, sample_rate: int = AUDIO_SR, n_mels: int = N_MELS):
    """(frames, n_mels) log mel energies with torchaudio.compliance.kaldi.fbank's settings as
    ImageBind's waveform2melspec calls it (see the module docstring)."""
    import torch

    x = torch.as_tensor(waveform, dtype=torch.float32).reshape(-1)
    size, shift = int(sample_rate * 0.025), int(sample_rate * 0.010)
    if x.numel() < size:
        return torch.zeros((0, n_mels))
    n_fft = 1 << (size - 1).bit_length()
    frames = x.unfold(0, size, shift)  # snip_edges: only whole frames
    frames = frames - frames.mean(dim=1, keepdim=True)  # remove_dc_offset
    prev = torch.cat([frames[:, :1], frames[:, :-1]], dim=1)
    frames = frames - 0.97 * prev  # pre-emphasis, first sample against itself
    frames = frames * torch.hann_window(size, periodic=False)
    frames = torch.nn.functional.pad(frames, (0, n_fft - size))
    power = torch.fft.rfft(frames).abs().pow(2.0)
    mel = power @ _mel_banks(n_mels, n_fft, sample_rate).T
    return torch.clamp_min(mel, torch.finfo(torch.float32).eps).log()


def audio_input(path: str | Path):
    """(3, 1, 128, 204) normalised fbank views of a waveform file."""
    import torch

    y = load_audio(path, AUDIO_SR)
    views = []
    for start, end in clip_timepoints(y.shape[0] / AUDIO_SR, CLIP_S, AUDIO_CLIPS):
        seg = torch.as_tensor(y[int(start * AUDIO_SR):int(end * AUDIO_SR)], dtype=torch.float32)
        seg = seg - seg.mean() if seg.numel() else seg
        fb = kaldi_fbank(seg).T  # (mels, frames)
        p = TARGET_LEN - fb.shape[1]
        fb = torch.nn.functional.pad(fb, (0, p)) if p > 0 else fb[:, :TARGET_LEN]
        views.append(((fb - AUDIO_MEAN) / AUDIO_STD).unsqueeze(0))
    return torch.stack(views)


def video_input(path: str | Path, start: float = 0.0, duration: float | None = None):
    """(15, 3, 2, 224, 224) views: 5 clips × 3 spatial crops."""
    import torch

    info = probe_video(path)
    fps = float(info.fps) if info.fps and info.fps > 0 else 25.0
    frames = decode_frames(path, fps=fps, start=start, duration=duration)  # (T, H, W, 3) uint8
    total = frames.shape[0] / fps
    views = []
    mean = torch.tensor(CLIP_MEAN)[:, None, None, None]
    std = torch.tensor(CLIP_STD)[:, None, None, None]
    for t0, t1 in clip_timepoints(total, CLIP_S, VIDEO_CLIPS):
        idx = np.arange(frames.shape[0])[(np.arange(frames.shape[0]) / fps >= t0 - 1e-9)
                                         & (np.arange(frames.shape[0]) / fps < t1 - 1e-9)]
        if idx.size == 0:
            idx = np.array([min(int(t0 * fps), frames.shape[0] - 1)])
        pick = idx[np.round(np.linspace(0, idx.size - 1, FRAMES_PER_CLIP)).astype(int)]  # UniformTemporalSubsample
        clip = torch.as_tensor(frames[pick], dtype=torch.float32).permute(3, 0, 1, 2) / 255.0  # C, T, H, W
        h, w = clip.shape[-2:]
        nh, nw = (SIZE, int(math.floor(w / h * SIZE))) if h <= w else (int(math.floor(h / w * SIZE)), SIZE)
        clip = torch.nn.functional.interpolate(clip, size=(nh, nw), mode="bilinear", align_corners=False)
        clip = (clip - mean) / std
        for k in range(3):  # SpatialCrop(224, num_crops=3): left/top, centre, right/bottom
            y0, x0 = int(math.ceil((nh - SIZE) / 2)), int(math.ceil((nw - SIZE) / 2))
            if nh > nw:
                y0 = 0 if k == 0 else nh - SIZE if k == 2 else y0
            else:
                x0 = 0 if k == 0 else nw - SIZE if k == 2 else x0
            views.append(clip[:, :, y0:y0 + SIZE, x0:x0 + SIZE])
    return torch.stack(views)


# ----------------------------------------------------------------------------- the metric


@register_metric("imagebind")
class ImageBindMetric(Metric):
    """ImageBind score (cosine of video and music embeddings) per clip, and retrieval on it."""

    def __init__(self, cache=None, seed: int = 0, weights: str = "random", checkpoint: str | None = None):
        super().__init__(cache, seed)
        self.weights = weights
        self.checkpoint = checkpoint
        self._model = None

    def describe(self) -> dict:
        d = {"weights": self.weights, "architecture": "imagebind_huge" if self.weights == "pretrained" else "tiny (64-d)",
             "seed": self.seed, "inputs": "ImageBind data.py: 3 x 2-s audio fbank views, 15 video views"}
        if self.weights == "random":
            d["warning"] = "random weights cannot rank: ImageBind scores and their retrieval are noise"
        if self.checkpoint:
            d["checkpoint"] = str(self.checkpoint)
        return d

    @property
    def model(self):
        if self._model is None:
            self._model = build_model(self.weights, self.checkpoint, self.seed)
        return self._model

    def _embed(self, kind: str, path: Path, clip: Clip) -> np.ndarray:
        import torch

        def compute():
            x = audio_input(path) if kind == "audio" else video_input(path, clip.start, clip.duration)
            with torch.inference_mode():
                e = self.model({kind: x[None]})[kind][0]
            return {"embedding": e.numpy().astype(np.float32)}

        cache = self.cache if isinstance(self.cache, Cache) else Cache()
        config = {"version": EMBEDDING_VERSION, **self.describe(), "kind": kind,
                  "span": [float(clip.start), float(clip.duration)] if kind == "vision" else None}
        return np.asarray(cache.get_or_compute("imagebind", config, [Path(path)], compute)["embedding"])

    def scores(self, clips: Sequence[Clip], generated: Mapping[str, Path], reference: Mapping[str, Path]):
        import warnings

        v = np.stack([self._embed("vision", c.video_path, c) for c in clips])
        a = np.stack([self._embed("audio", generated[c.id], c) for c in clips])
        v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
        s = v @ a.T
        if self.weights == "random":
            warnings.warn("imagebind: seeded RANDOM weights (no checkpoint offline): random weights cannot rank; "
                          "ib_score and ib_r*/ib_medr* are noise, shown only to prove the pipeline runs",
                          RandomWeightsNote, stacklevel=2)
        return {"ib_score": Score(per_clip=np.diag(s).astype(np.float64), higher_is_better=True),
                **retrieval.retrieval_scores(s, prefix="ib_")}


class RandomWeightsNote(UserWarning):
    """Carries 'random weights cannot rank' into the evaluation's notes."""
