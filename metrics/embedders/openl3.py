"""OpenL3 (mel256, music, 512-d) frame embeddings as stable-audio-metrics' FD computes them.

Reference (Stability-AI/stable-audio-metrics ``src/openl3_fd.py`` ``extract_embeddings``, running
marl/openl3 0.4.2 with kapre 0.3.7 on TensorFlow):

- model: ``openl3.models.load_audio_embedding_model(input_repr="mel256", content_type="music",
  embedding_size=512)``, official file ``openl3_audio_mel256_music.h5`` (Keras HDF5 weights; the
  openl3 package's setup.py fetches it gzipped as ``openl3_audio_mel256_music-v0_4_0.h5.gz``).
  Front end (kapre 0.3.7 inside the Keras model): 1 s at 48 kHz, ``tf.signal.stft`` (2048-sample
  periodic Hann, hop 242, end zero-padded: 199 frames; float32), magnitude (not power), 256 Slaney
  mel bands 0–24 kHz (librosa's ``filters.mel``), ``10·log10(max(x, 1e-10))`` minus the window's
  maximum, floored at −80 dB. The STFT magnitude is reproduced bit for bit (``stft_magnitude``):
  bands without content hold the float32 FFT's rounding noise, above that floor. Network: batch norm, four blocks of two (3×3 conv, batch norm ε 1e-3, ReLU) with
  64/128/256/512 channels and 2×2 max pools after the first three, then a (32, 24) max pool (the
  whole map) → 512.
- input: ``librosa.load(path, sr=None, mono=False)``, peak-normalised to −1 dBFS over all channels
  (pyloudnorm), ``soxr.resample`` (HQ) to `sample_rate` (48000, or 44100 as in stable-audio-metrics'
  examples — openl3 then resamples to 48 kHz with resampy ``kaiser_best``); openl3 averages
  channels (``channels=1``, 512-d) or, ``channels=2``, each channel is embedded alone and the two
  512-d rows are concatenated (1024-d; mono files are duplicated). Windows of 1 s with a
  ``hop_s`` (0.5 s) hop, centred: ``frame_len/2`` zeros before, zeros after so every sample is
  covered (``openl3.core._preprocess_audio_batch``). Audio shorter than 1 s is zero-padded to one
  window, as openl3 does (a warning there); an empty file or a silent one (peak normalisation
  divides by 0) is a MediaError.
- output, per file: ``"frames"`` (n_windows, 512 or 1024) float32; FD pools the frames of all clips.

The network and front end here are this module's own (PyTorch; the STFT in NumPy/SciPy), reading
the Keras HDF5 file the way Keras' ``load_weights`` does (layers with weights, in file order,
matched by shape);
tests/metrics/test_openl3.py checks them against golden values made by openl3 0.4.2 + kapre 0.3.7 +
TensorFlow 2.15 on the same weight file (scripts/golden/openl3_golden.py).
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
from metrics.embedders.weights import check_weights_kind, resolve_weights_file
from metrics.errors import MetricError

IMPL_VERSION = 3  # 2: TensorFlow's STFT bits (tf_hann_window, pocketfft float32): whole files within 1e-5;
# 3: resampy's float32 loop in every process (resampy_float32): 44.1 kHz frames made after a float64
# resampy call (VGGish) in the same process were off by up to 3 %
MODEL_SR = 48000  # openl3's TARGET_SR: one window = 48000 samples
N_FFT, HOP, N_MELS = 2048, 242, 256
N_FRAMES = -(-MODEL_SR // HOP)  # tf.signal.stft(pad_end=True): 199
CHANNELS = [64, 64, 128, 128, 256, 256, 512, 512]
OFFICIAL_FILE = ("openl3_audio_mel256_music.h5",
                 "https://github.com/marl/openl3/raw/models/openl3_audio_mel256_music-v0_4_0.h5.gz "
                 "(gunzip it; or take openl3/openl3_audio_mel256_music.h5 from an installed openl3 0.4.x)")
BN_EPS = 1e-3  # Keras BatchNormalization's default


# --------------------------------------------------------------------------- front end
def slaney_mel_filterbank(sr: int = MODEL_SR, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """``librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)`` (Slaney scale and area norm,
    0 Hz to sr/2), float32 (n_mels, n_fft//2+1), as kapre's ``filterbank_mel`` builds it."""
    def hz_to_mel(f):
        f = np.asarray(f, float)
        mel = f / (200.0 / 3)
        log_t = f >= 1000.0
        return np.where(log_t, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0), mel)

    def mel_to_hz(m):
        m = np.asarray(m, float)
        f = (200.0 / 3) * m
        return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), f)

    fftfreqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sr)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2.0), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    weights = np.zeros((n_mels, 1 + n_fft // 2), dtype=np.float32)
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights


def eigen_cos_float32(x: np.ndarray) -> np.ndarray:
    """cos in float32 as TensorFlow 2.15's CPU kernel computes it: Eigen's ``psincos_float`` (the
    copy in the TF wheel's include/Eigen, GenericPacketMathFunctions.h) in its branch without FMA —
    the wheel is built without FMA, so every multiply-add is a float32 multiply then a float32 add.
    Why: the reference's Hann window is made with it, and numpy's float32 cos differs from it in 116
    of the 2048 window samples by one ulp, which moves the −80 dB floor bins (see ``stft_magnitude``).
    Only the fast range reduction is written here: |x| < 18838."""
    x = np.asarray(x, np.float32)
    ax = np.abs(x)
    if ax.size and not float(ax.max()) < 18838.0:
        raise ValueError(f"eigen_cos_float32 covers |x| < 18838 (Eigen's fast range reduction), got {ax.max()}")
    f = np.float32
    y_round = ax * f(0.636619746685028076171875) + f(12582912.0)  # 2/π, then the 2^23 rounding trick
    quadrant = y_round.view(np.uint32)  # its low bits are the nearest integer to x·2/π
    y = y_round - f(12582912.0)
    r = ax  # x − y·π/2 in four float32 steps ("extended precision modular arithmetic", no FMA)
    for c in (-1.5703125, -0.000483989715576171875, 1.62865035235881805419921875e-07,
              5.5644315544167710640977020375430583953857421875e-11):
        r = y * f(c) + r
    r2 = r * r
    cos_poly = f(2.4372266125283204019069671630859375e-05)
    for c in (-0.00138865201734006404876708984375, 0.041666619479656219482421875, -0.5, 1.0):
        cos_poly = cos_poly * r2 + f(c)
    sin_poly = f(-0.0001959234114083702898469196984621021329076029360294342041015625)
    for c in (0.0083326873655616851693794799871284340042620897293090820312500000,
              -0.1666666203982298255503735617821803316473960876464843750000000000):
        sin_poly = sin_poly * r2 + f(c)
    sin_poly = (sin_poly * r2) * r + r
    out = np.where((quadrant & 1) == 0, cos_poly, sin_poly).astype(np.float32)
    sign = ((quadrant + np.uint32(1)) << np.uint32(30)) & np.uint32(0x80000000)
    return (out.view(np.uint32) ^ sign).view(np.float32)


def tf_hann_window(n: int = N_FFT) -> np.ndarray:
    """``tf.signal.hann_window(n, periodic=True)`` (float32) bit for bit, as kapre's STFT takes it:
    ``0.5 − 0.5·cos(float32(2π)·k / n)``, every step in float32, cos as ``eigen_cos_float32``."""
    f = np.float32
    arg = f(2 * np.pi) * np.arange(n, dtype=np.float32) / f(n)
    return (f(0.5) - f(0.5) * eigen_cos_float32(arg)).astype(np.float32)


def stft_magnitude(x: np.ndarray, window: np.ndarray | None = None) -> np.ndarray:
    """kapre's ``STFT`` + ``Magnitude`` on (B, 48000) float32 windows → (B, 199, 1025) float32, bit
    for bit as TensorFlow 2.15 computes them (measured on every golden clip): ``tf.signal.stft``
    frames with ``pad_end``, multiplies by its Hann window (``tf_hann_window``) and runs ducc0's
    float32 real FFT, whose passes (radix 4 and 2, twiddles from double precision) are those of
    pocketfft, the ``scipy.fft`` backend: ``scipy.fft.rfft`` of float32 input gives the same bits;
    ``tf.abs`` of complex64 is ``hypotf``, as ``np.hypot`` in float32.
    Why bit for bit: a window's mel bands with no content (above the Nyquist frequency of audio
    resampled up to 48 kHz, or far below a tone) hold only the FFT's float32 rounding noise, about
    1e-7 of the window's largest magnitude, i.e. −70 dB on openl3's ``10·log10(magnitude)`` scale,
    above its −80 dB floor. Any other FFT (torch's, numpy's float64) or window rounding (torch's
    Hann window, numpy's float32 cos) changes that noise and those bands by up to 2.7 dB, and the
    embeddings by up to 5e-3 of their largest value."""
    import scipy.fft

    x = np.asarray(x, np.float32)
    window = tf_hann_window() if window is None else window
    pad = (N_FRAMES - 1) * HOP + N_FFT - x.shape[-1]
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(x, ((0, 0), (0, pad))), N_FFT, axis=-1)[:, ::HOP]
    spec = scipy.fft.rfft(frames * window, axis=-1)  # complex64: pocketfft in float32
    return np.hypot(spec.real, spec.imag)


class KapreMelDb(nn.Module):
    """openl3's kapre front end: (B, 48000) → dB mel (B, 1, 256, 199). The STFT magnitude is
    TensorFlow's bits (``stft_magnitude``, NumPy on the CPU); the mel sum (non-negative terms) and
    the dB step follow in torch, within float32 rounding of TensorFlow's."""

    def __init__(self):
        super().__init__()
        self.window = tf_hann_window()
        self.register_buffer("mel", torch.from_numpy(slaney_mel_filterbank()), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mag = torch.from_numpy(stft_magnitude(x.detach().cpu().numpy(), self.window)).to(x.device)
        mel = torch.matmul(mag, self.mel.T)  # (B, 199, 256)
        db = 10.0 * (torch.log(torch.clamp(mel, min=1e-10)) / math.log(10.0))
        db = db - db.amax(dim=(1, 2), keepdim=True)  # per window: openl3's kapre 0.1.4 dB (amin 1e-10)
        return torch.clamp(db, min=-80.0).transpose(1, 2).unsqueeze(1)


# --------------------------------------------------------------------------- network
class OpenL3Audio(nn.Module):
    """The mel256 audio network, NCHW (H = mel bands, W = frames) → (B, 512)."""

    def __init__(self):
        super().__init__()
        self.bn0 = nn.BatchNorm2d(1, eps=BN_EPS)
        convs, bns, c_in = [], [], 1
        for c in CHANNELS:
            convs.append(nn.Conv2d(c_in, c, 3, padding=1))
            bns.append(nn.BatchNorm2d(c, eps=BN_EPS))
            c_in = c
        self.convs, self.bns = nn.ModuleList(convs), nn.ModuleList(bns)

    def forward(self, x):
        x = self.bn0(x)
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            x = conv(x)
            if i < 7:  # the last conv ("audio_embedding_layer") is pooled as it is
                x = F.relu(bn(x))
            if i in (1, 3, 5):
                x = F.max_pool2d(x, 2, 2)
        return torch.amax(x, dim=(2, 3))  # MaxPooling2D((32, 24), padding="same") over a 32 × 24 map


def keras_layers(model: OpenL3Audio) -> list[tuple[str, list[tuple[str, tuple[int, ...]]]]]:
    """The Keras layers with weights in model order: (default Keras name, [(weight, Keras shape)])."""
    def bn(name, c):
        return (name, [(w, (c,)) for w in ("gamma", "beta", "moving_mean", "moving_variance")])

    out = [bn("batch_normalization", 1)]
    c_in = 1
    for i, c in enumerate(CHANNELS):
        name = "audio_embedding_layer" if i == 7 else f"conv2d{'' if i == 0 else f'_{i}'}"
        out.append((name, [("kernel", (3, 3, c_in, c)), ("bias", (c,))]))
        if i < 7:
            out.append(bn(f"batch_normalization_{i + 1}", c))
        c_in = c
    return out


def _torch_targets(model: OpenL3Audio) -> list[list[torch.Tensor]]:
    """The torch tensors of each Keras layer of ``keras_layers``, in the same order."""
    def bn(m):
        return [m.weight, m.bias, m.running_mean, m.running_var]

    out = [bn(model.bn0)]
    for i, conv in enumerate(model.convs):
        out.append([conv.weight, conv.bias])
        if i < 7:
            out.append(bn(model.bns[i]))
    return out


def read_keras_weights(path: Path) -> list[list[np.ndarray]]:
    """The weight arrays of a Keras 2 HDF5 weights file, per layer with weights, in file order
    (what ``Model.load_weights`` reads; a whole-model file's ``model_weights`` group is used)."""
    import h5py

    def names(attr):
        return [n.decode("utf8") if isinstance(n, bytes) else str(n) for n in attr]

    try:
        with h5py.File(path, "r") as f:
            g = f["model_weights"] if "layer_names" not in f.attrs and "model_weights" in f else f
            if "layer_names" not in g.attrs:
                raise MetricError(f"{path}: not a Keras HDF5 weights file (no layer_names attribute)")
            layers = []
            for layer in names(g.attrs["layer_names"]):
                wn = names(g[layer].attrs.get("weight_names", []))
                if wn:
                    layers.append([np.asarray(g[layer][w]) for w in wn])
            return layers
    except OSError as e:
        raise MetricError(f"{path}: cannot read it as HDF5 ({e}); expected Keras weights "
                          f"({OFFICIAL_FILE[0]})") from e


def load_keras_weights(model: OpenL3Audio, path: Path) -> None:
    """Keras weights of the mel256 audio network into `model` (conv kernels (kh, kw, in, out) →
    (out, in, kh, kw)); another network's file is a MetricError naming the expected layers."""
    layers, expected = read_keras_weights(path), keras_layers(model)
    got = [[tuple(a.shape) for a in ws] for ws in layers]
    want = [[s for _, s in ws] for _, ws in expected]
    if got != want:
        shown = [f"{n}: {', '.join(f'{w}{s}' for w, s in ws)}" for n, ws in expected]
        first = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        raise MetricError(
            f"{path}: not OpenL3 mel256 audio weights ({len(got)} layers with weights, expected {len(want)}; "
            f"layer {first} has {got[first] if first < len(got) else 'nothing'}). Expected the weights of "
            f"{OFFICIAL_FILE[0]}, in order: {shown[:3]} … {shown[-2:]}")
    with torch.no_grad():
        for arrays, tensors in zip(layers, _torch_targets(model)):
            for a, t in zip(arrays, tensors):
                a = torch.from_numpy(np.asarray(a, np.float32))
                t.copy_(a.permute(3, 2, 0, 1) if a.dim() == 4 else a)


def informative_random_keras_weights(seed: int) -> list[tuple[str, list[tuple[str, np.ndarray]]]]:
    """Seeded random weights (NumPy RandomState) per Keras layer: He-normal kernels, biases ±0.01,
    batch-norm scales near 1; the first batch norm standardises the dB input (−80…0 dB: mean −40,
    variance 400) so that the frames differ with the audio."""
    rng = np.random.RandomState(seed)
    out = []
    for name, ws in keras_layers(OpenL3Audio()):
        arrays = []
        for w, shape in ws:
            if w == "kernel":
                a = rng.standard_normal(shape) * math.sqrt(2.0 / (shape[0] * shape[1] * shape[2]))
            elif w == "bias":
                a = rng.uniform(-0.01, 0.01, shape)
            elif w == "gamma":
                a = rng.uniform(0.8, 1.2, shape)
            elif w == "beta":
                a = rng.uniform(-0.1, 0.1, shape)
            elif w == "moving_mean":
                a = np.full(shape, -40.0) if shape == (1,) else rng.uniform(-0.1, 0.1, shape)
            else:
                a = np.full(shape, 400.0) if shape == (1,) else rng.uniform(0.5, 1.5, shape)
            arrays.append((w, a.astype(np.float32)))
        out.append((name, arrays))
    return out


def save_random_weights(path: str | os.PathLike, seed: int = 0) -> Path:
    """Seeded random weights as a Keras 2 HDF5 weights file (``Model.save_weights`` layout: root
    ``layer_names``, per layer ``weight_names`` and ``<layer>/<weight>:0`` datasets), with every layer
    of openl3's mel256 model (kapre front end included) named as Keras 2.15 names them; openl3's
    ``load_audio_embedding_model_from_path`` loads it."""
    import h5py

    with_weights = dict(informative_random_keras_weights(seed))
    # Keras' order: bn, then per block conv, bn, activation (+ pool after every second conv)
    order = ["input_1", "melspectrogram", "batch_normalization"]
    for i in range(8):
        order.append("audio_embedding_layer" if i == 7 else f"conv2d{'' if i == 0 else f'_{i}'}")
        if i < 7:
            order += [f"batch_normalization_{i + 1}", f"activation{'' if i == 0 else f'_{i}'}"]
        if i in (1, 3, 5):
            order.append(f"max_pooling2d{'' if i == 1 else f'_{i // 2}'}")
    path = Path(path)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["layer_names"] = np.array([n.encode() for n in order])
            f.attrs["backend"] = b"tensorflow"
            f.attrs["keras_version"] = b"2.15.0"
            for name in order:
                g = f.create_group(name)
                ws = with_weights.get(name, [])
                g.attrs["weight_names"] = np.array([f"{name}/{w}:0".encode() for w, _ in ws])
                for w, a in ws:
                    g.create_dataset(f"{name}/{w}:0", data=a)
    path.chmod(0o644)
    return path


# --------------------------------------------------------------------------- preprocessing
def load_like_stable_audio_metrics(path, sample_rate: int = MODEL_SR) -> np.ndarray:
    """(samples, channels) float32 at `sample_rate`: librosa.load(sr=None, mono=False), −1 dBFS peak
    over all channels, soxr HQ."""
    import soxr

    data, sr = _read(path, "float32")
    peak = float(np.max(np.abs(data)))
    if peak == 0.0:
        raise MediaError(path, "audio is silent: peak normalisation (as stable-audio-metrics does) is undefined",
                         "the reference would give NaN; leave silent files out")
    data = data * np.float32(10.0 ** (-1.0 / 20.0) / peak)
    if sr != sample_rate:
        data = soxr.resample(data, sr, sample_rate)
    return np.asarray(data, np.float32)


def resampy_float32(x: np.ndarray, sr_orig: int, sr_new: int) -> np.ndarray:
    """``resampy.resample(x, sr_orig, sr_new, filter="kaiser_best")`` of a 1-D float32 signal as a
    fresh process computes it (bit for bit): resampy's own numba loop on float32 arrays, each output
    sample summed into a float32 value, as openl3 runs it.

    Why not ``resampy.resample`` itself: its loop is a dynamic numba gufunc, and numba compiles a
    new loop only when no compiled one takes the arguments by safe casting. Once anything in the
    process has resampled float64 audio (the VGGish loader, torchvggish), float32 audio is cast to
    float64 and runs that loop instead: a few ulp off in most samples, which the −80 dB floor bands
    (``stft_magnitude``) turn into frames off by up to 3 % of their largest value. numba's ``jit``
    kernel called here compiles per array dtype and never casts."""
    from resampy.filters import get_filter
    from resampy.interpn import _resample_loop_s

    x = np.ascontiguousarray(x, np.float32)
    ratio = float(sr_new) / sr_orig
    n_out = int(x.shape[0] * float(sr_new) / float(sr_orig))  # resampy's length rule
    win, precision, _ = get_filter("kaiser_best")
    if ratio < 1:
        win = ratio * win  # as resampy scales the window when downsampling
    delta = np.diff(win, append=win[-1])
    y = np.zeros(n_out, np.float32)
    _resample_loop_s(x, np.arange(n_out) * (1.0 / ratio), win, delta, precision, min(1.0, ratio), y)
    return y


def openl3_windows(audio: np.ndarray, sr: int, hop_s: float) -> np.ndarray:
    """openl3 0.4.2 ``_preprocess_audio_batch`` for 1-D audio: resampled to 48 kHz (resampy
    kaiser_best, ``resampy_float32``) when `sr` differs, centred, end-padded, cut into 1 s windows:
    (n, 48000)."""
    if sr != MODEL_SR:
        audio = resampy_float32(audio, sr, MODEL_SR)
    frame_len, hop_len = MODEL_SR, int(hop_s * MODEL_SR)
    audio = np.pad(audio, (frame_len // 2, 0))
    n = audio.size
    pad = frame_len - n if n < frame_len else int(np.ceil((n - frame_len) / float(hop_len))) * hop_len - (n - frame_len)
    if pad > 0:
        audio = np.pad(audio, (0, pad))
    n_frames = 1 + int((len(audio) - frame_len) / float(hop_len))
    idx = np.arange(n_frames)[:, None] * hop_len + np.arange(frame_len)[None]
    return audio[idx].astype(np.float32)


# --------------------------------------------------------------------------- embedder
class OpenL3Embedder:
    """Per file: ``{"frames": (n_windows, 512·channels)}`` float32, stable-audio-metrics' openl3 FD
    rows. weights ``"pretrained"``: the official file (`checkpoint`, or
    ``<cache_dir>/weights/openl3_audio_mel256_music.h5``; absent → an error naming it and its URL);
    ``"random"``: seeded (tests only)."""

    def __init__(self, channels: int = 1, sample_rate: int = MODEL_SR, hop_s: float = 0.5, weights: str = "random",
                 checkpoint: str | None = None, seed: int = 0, device: str = "cpu",
                 cache_dir: str | os.PathLike | None = None, batch_size: int = 32):
        if channels not in (1, 2):
            raise ConfigError(f"OpenL3 channels must be 1 (512-d) or 2 (L ‖ R, 1024-d), got {channels}")
        if sample_rate not in (48000, 44100):
            raise ConfigError(f"OpenL3 sample_rate must be 48000 or 44100 (stable-audio-metrics' samplingrate), "
                              f"got {sample_rate}")
        if not 0 < float(hop_s) <= 10 or int(batch_size) < 1:
            raise ConfigError(f"OpenL3 needs 0 < hop_s ≤ 10 and batch_size ≥ 1, got {hop_s}, {batch_size}")
        self.channels, self.sample_rate, self.hop_s = int(channels), int(sample_rate), float(hop_s)
        self.weights, self.seed = check_weights_kind(weights), int(seed)
        self.device, self.batch_size = torch.device(device), int(batch_size)
        self.checkpoint: Path | None = None
        self.weights_sha256: str | None = None
        if self.weights == "pretrained":
            self.checkpoint = resolve_weights_file("OpenL3 mel256 music", checkpoint, *OFFICIAL_FILE, cache_dir)
            self.weights_sha256 = file_digest(self.checkpoint)
        self._model: nn.Module | None = None

    @property
    def model(self) -> nn.Module:
        if self._model is None:
            net = OpenL3Audio()
            if self.checkpoint is not None:
                load_keras_weights(net, self.checkpoint)
            else:
                with torch.no_grad():
                    for arrays, tensors in zip(informative_random_keras_weights(self.seed), _torch_targets(net)):
                        for (_, a), t in zip(arrays[1], tensors):
                            a = torch.from_numpy(a)
                            t.copy_(a.permute(3, 2, 0, 1) if a.dim() == 4 else a)
            # channels-last: oneDNN's convolutions run ~2× faster on CPU (same numbers to float rounding)
            net = net.to(memory_format=torch.channels_last)
            self._model = nn.ModuleDict({"mel": KapreMelDb(), "net": net}).to(self.device).eval()
        return self._model

    def cache_name(self) -> str:
        return f"openl3_mel256_music_{512 * self.channels}"

    def config(self) -> dict:
        return {"model": "openl3_mel256_music_512", "impl": IMPL_VERSION, "channels": self.channels,
                "sample_rate": self.sample_rate, "hop_s": self.hop_s, "preprocess": "stable-audio-metrics",
                "weights": f"sha256:{self.weights_sha256}" if self.weights_sha256 else f"random:{self.seed}"}

    def describe(self) -> dict:
        return {"name": self.cache_name(), "sample_rate": self.sample_rate, "channels": self.channels,
                "hop_s": self.hop_s, "weights": self.weights,
                "checkpoint": str(self.checkpoint) if self.checkpoint else None, "weights_sha256": self.weights_sha256,
                "seed": self.seed if self.weights == "random" else None, "official_file": OFFICIAL_FILE[0],
                "peer": "stable-audio-metrics openl3_fd (openl3 0.4.2, kapre 0.3.7)", "batch_size": self.batch_size}

    def load(self, path) -> np.ndarray:
        return load_like_stable_audio_metrics(path, self.sample_rate)

    def _signals(self, audio: np.ndarray) -> list[np.ndarray]:
        """The 1-D signals openl3 embeds: the channel mean (channels=1), or L and R (channels=2)."""
        if self.channels == 1:
            return [audio.mean(axis=1, dtype=np.float32) if audio.shape[1] > 1 else audio[:, 0]]
        if audio.shape[1] == 1:
            return [audio[:, 0], audio[:, 0]]
        return [audio[:, 0], audio[:, 1]]

    @torch.no_grad()
    def _run(self, batch: np.ndarray) -> np.ndarray:
        m = self.model
        mel = m["mel"](torch.from_numpy(batch).to(self.device)).contiguous(memory_format=torch.channels_last)
        return m["net"](mel).cpu().numpy()

    def _embed_many(self, paths: Sequence, batch_size: int) -> list[dict]:
        """Every 1 s window of every file goes through the network in batches of `batch_size`
        windows (each window's output is its own: batch norm in eval mode, per-window dB maximum)."""
        per_file = [[openl3_windows(s, self.sample_rate, self.hop_s) for s in self._signals(self.load(p))]
                    for p in paths]
        flat = np.concatenate([w for sigs in per_file for w in sigs])
        rows = np.concatenate([self._run(flat[s:s + batch_size]) for s in range(0, len(flat), batch_size)])
        out, k = [], 0
        for sigs in per_file:
            parts = []
            for w in sigs:
                parts.append(rows[k:k + len(w)])
                k += len(w)
            out.append({"frames": np.concatenate(parts, axis=1)})
        return out

    def embed_file(self, path) -> dict[str, np.ndarray]:
        return self._embed_many([path], self.batch_size)[0]

    def embed_files(self, paths: Sequence[str | os.PathLike], cache=None) -> list[dict]:
        return embed_files_cached(self, paths, cache, self.batch_size)


def perf_line(keep: Path | None = None, peer_python: str | None = None) -> dict:
    """`bench perf metrics` hook: seconds per 10-s file (mono, 48 kHz, 0.5 s hop), ours against
    stable-audio-metrics' extract_embeddings running openl3 0.4.2 on TensorFlow
    (scripts/golden/openl3_golden.py --time), one thread each, the same file (the golden 10 s clip)
    and the same seeded weight file. The peer runs only where its side environment is
    (`peer_python`, $DYVIM_OPENL3_PEER_PYTHON or /tmp/sideenv-openl3/bin/python); "rel" is against
    the golden values the peer code made (tests/metrics/golden/openl3_golden.npz): the model on
    full-band windows, and the 10 s clip's frames (32 kHz upsampled; both ~2e-6 since our STFT is
    TensorFlow's bit for bit). Returns {"line", "presets", "rel"}."""
    import subprocess
    import time

    from metrics.embedders.timing import ROOT, build, golden_fixture

    golden_script, folder, clip, weights, golden = golden_fixture("openl3", OFFICIAL_FILE[0], save_random_weights,
                                                                  keep, "perf_openl3_")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        emb = OpenL3Embedder(weights="pretrained", checkpoint=str(weights))
        build(emb)
        t0 = time.perf_counter()
        frames = emb._embed_many([clip], emb.batch_size)[0]["frames"]
        ours = time.perf_counter() - t0
        windows_out = emb._run(golden_script.window_check_input())
    finally:
        torch.set_num_threads(threads)
    ref, ref_w = golden["tone_10s_32k/ch1/48000"], golden["windows/out"]
    rel = {"openl3_windows": float(np.max(np.abs(windows_out - ref_w)) / np.max(np.abs(ref_w))),
           "openl3_file_frames": float(np.max(np.abs(frames - ref)) / np.max(np.abs(ref)))}
    line = f"openl3: ours {ours:.2f} s per 10-s file"
    peer_python = peer_python or os.environ.get("DYVIM_OPENL3_PEER_PYTHON") or "/tmp/sideenv-openl3/bin/python"
    if Path(peer_python).exists():
        out = subprocess.run([peer_python, str(ROOT / "scripts/golden/openl3_golden.py"), "--time", "--weights",
                              str(weights), str(clip)], capture_output=True, text=True, check=True,
                             env={**os.environ, "OMP_NUM_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1",
                                  "TF_NUM_INTRAOP_THREADS": "1"})
        peer = float(out.stdout.strip().splitlines()[-1])
        line += f", peer (stable-audio-metrics + openl3 0.4.2 + TensorFlow 2.15) {peer:.2f} s: {peer / ours:.2f}x"
    else:
        line += f", peer not timed (no side environment at {peer_python}: see scripts/golden/openl3_golden.py)"
    line += (f"; rel diff vs golden: model {rel['openl3_windows']:.1e}, 10-s file frames "
             f"{rel['openl3_file_frames']:.1e}")
    return {"line": line, "presets": ["stable-audio-metrics"], "rel": rel}


__all__ = ["OpenL3Embedder", "OpenL3Audio", "KapreMelDb", "stft_magnitude", "tf_hann_window", "eigen_cos_float32",
           "save_random_weights", "load_keras_weights",
           "slaney_mel_filterbank", "resampy_float32", "openl3_windows", "load_like_stable_audio_metrics", "perf_line",
           "OFFICIAL_FILE"]
