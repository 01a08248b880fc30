"""VGGish frame embedders: as haoheliu/audioldm_eval 0.0.3 runs it for FAD (`VGGishEmbedder`, DESIGN.md
§8), as fadtk 1.1.0's ``vggish`` model does (`FadtkVGGishEmbedder`, below) and as audiocraft 1.3.0's
FAD runs Google's TensorFlow VGGish (`AudiocraftVGGishEmbedder`, at the end: its own front end,
1 s windows every 0.5 s, and ``vggish_model.ckpt`` read without TensorFlow).

Reference (audioldm_eval/metrics/fad.py, torchvggish GitHub master f3f9096 through torch.hub):

- model: ``torch.hub.load("harritaylor/torchvggish", "vggish")`` (weights
  ``vggish-10086976.pth``; PCA ``vggish_pca_params-970ea276.pth`` is loaded but unused), then
  ``model.postprocess = False`` (no PCA/whitening/8-bit quantisation) and the final ReLU of
  ``model.embeddings`` removed (``use_activation=False``): the output is the 128-d pre-activation of
  the last Linear layer. Eval mode.
- input: :func:`metrics.preprocess.load_like_reference_vggish` (int16/32768, mono mean, resampy to
  16 kHz), then ``vggish_input.waveform_to_examples(audio, 16000)``: log-mel (25 ms window,
  10 ms hop, 64 bands 125–7500 Hz, log(x + 0.01)) framed into non-overlapping 0.96 s examples
  (96 × 64); one 128-d row per example. A 10 s clip gives 10 rows; the tail that does not fill an
  example is dropped.
- FAD pools every row of every clip.

The network code is torchvggish 0.2 from PyPI (``VGG``, ``make_layers``, ``vggish_input``), whose
layers, parameter names, ``vggish_input``, ``mel_features`` and ``vggish_params`` are identical to the
hub code's.

fadtk 1.1.0 (fadtk/model_loader.py ``VGGishModel``, fadtk/fad.py ``load_audio``) runs the same
network from the same hub call and the same weights file, ``use_pca=False`` → ``postprocess =
False``, ``use_activation=False`` → the final ReLU removed, and ``_get_embedding(audio)`` =
``model.forward(audio, 16000)`` (the hub model's ``waveform_to_examples`` at 16 kHz: no resampy).
Only its input and output differ (`load_like_fadtk_vggish`, `FadtkVGGishEmbedder`):

- input: the file decoded (torchaudio, soundfile backend), channels averaged, resampled to 16 kHz
  by torchaudio's Kaiser ``Resample`` (``metrics.embedders.encodec.resample_kaiser``), written as
  16-bit PCM and read back by ``ModelLoader.load_wav`` (int16 / 32768.0, float64); audio under
  1 s is zero-padded to 1 s (``min_len=1``, ``enforce_min_len``), so every file gives at least
  one row. No length cap (the 3-minute cut is EnCodec's ``load_wav`` only).
- output: float16 (``ModelLoader.get_embedding`` stores every float32 embedding as float16).
"""

from __future__ import annotations

import os
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from metrics.preprocess import load_like_reference, load_like_reference_vggish
from core.atomic import atomic_path
from core.cache import file_digest
from core.errors import ConfigError, WeightsNotFoundError
from metrics.embedders.cnn14 import embed_files_cached
from metrics.embedders.encodec import fadtk_pcm16
from metrics.embedders.weights import check_weights_kind, load_strict, resolve_weights_file, torch_load
from metrics.errors import MetricError

IMPL_VERSION = 3  # 2: FIR form of resampy's 2:1 filter, files batched; 3: channels-last convolutions, informative random init
EMBEDDING_DIM = 128
FRAME_SECONDS = 0.96
# one example needs 96 log-mel frames of 400 samples at a 160 hop: 400 + 95 * 160 samples at 16 kHz
MIN_SAMPLES_16K = 400 + 95 * 160
VGGISH_FILE = "vggish-10086976.pth"
VGGISH_URL = "https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth"
# torch.hub's naming: the part after the last "-" is the first digits of the file's sha256
VGGISH_CHECKSUM = ("sha256", "10086976")
PCA_FILE = "vggish_pca_params-970ea276.pth"
PCA_URL = "https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish_pca_params-970ea276.pth"
FADTK_MIN_SECONDS = 1  # fadtk VGGishModel(min_len=1): shorter audio is zero-padded to 1 s


def _torch_hub_checkpoints() -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints"


#: (state-dict prefix, weight shape) of torchvggish's VGG, in module order
LAYERS = [
    ("features.0", (64, 1, 3, 3)), ("features.3", (128, 64, 3, 3)),
    ("features.6", (256, 128, 3, 3)), ("features.8", (256, 256, 3, 3)),
    ("features.11", (512, 256, 3, 3)), ("features.13", (512, 512, 3, 3)),
    ("embeddings.0", (4096, 512 * 4 * 6)), ("embeddings.2", (4096, 4096)), ("embeddings.4", (128, 4096)),
]


def informative_random_state(rng: np.random.RandomState) -> "OrderedDict[str, np.ndarray]":
    """Seeded random VGGish weights (float32 arrays) that keep the embedding informative: He-uniform
    weights, biases within ±0.01, drawn from NumPy's legacy RandomState (stable across versions).
    PyTorch's default init shrinks the signal at every layer, so the 128-d output is nearly the
    same vector for every clip (spread across toy clips ~2 % of its magnitude, vs ~16 % here) and
    FAD on random weights is ~0 whatever the audio. scripts/make_fad_golden.py draws its weight
    files from this function too."""
    state = OrderedDict()
    for prefix, shape in LAYERS:
        bound = np.sqrt(6.0 / int(np.prod(shape[1:])))
        state[f"{prefix}.weight"] = ((2.0 * rng.random_sample(shape) - 1.0) * bound).astype(np.float32)
        state[f"{prefix}.bias"] = ((2.0 * rng.random_sample(shape[0]) - 1.0) * 0.01).astype(np.float32)
    return state


def build_vggish(seed: int | None = 0, final_relu: bool = True) -> nn.Module:
    """torchvggish's VGG (postprocess off); with a seed, `informative_random_state(seed)`, else
    untrained (to load a checkpoint into). `final_relu=False` drops the last ReLU of
    ``embeddings`` as audioldm_eval does (parameter names are unchanged)."""
    try:
        from torchvggish.torchvggish import VGG, make_layers
    except ImportError as e:
        raise MetricError("the VGGish embedder needs torchvggish and resampy: pip install torchvggish resampy") from e
    with torch.random.fork_rng(devices=[]):
        model = VGG(make_layers(), postprocess=False)
    if seed is not None:
        state = informative_random_state(np.random.RandomState(seed))
        model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=True)
    if not final_relu:
        model.embeddings = nn.Sequential(*list(model.embeddings.children())[:-1])
    return model.eval()


def save_random_weights(path: str | os.PathLike, seed: int = 0) -> Path:
    """Write a seeded random VGGish in the official file format (a bare state dict, as
    ``vggish-10086976.pth``)."""
    model = build_vggish(seed)
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(model.state_dict(), tmp)
    path.chmod(0o644)
    return path


def save_random_pca_params(path: str | os.PathLike, seed: int = 0) -> Path:
    """Write seeded random PCA parameters in the layout of ``vggish_pca_params-970ea276.pth``
    (``pca_eigen_vectors`` 128×128, ``pca_means`` 128; tensors). The hub model loads this file when
    it is built even though audioldm_eval's FAD then switches postprocessing off."""
    g = torch.Generator().manual_seed(seed)
    params = {"pca_eigen_vectors": torch.randn(EMBEDDING_DIM, EMBEDDING_DIM, generator=g, dtype=torch.float64),
              "pca_means": torch.randn(EMBEDDING_DIM, generator=g, dtype=torch.float64)}
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(params, tmp)
    path.chmod(0o644)
    return path


class VGGishEmbedder:
    """Per file: ``{"frames": float32 (n_frames, 128)}``, one row per 0.96 s example, as the
    embeddings audioldm_eval's FAD pools (no PCA, no final ReLU).

    weights: ``"pretrained"`` loads `checkpoint`, or ``vggish-10086976.pth`` from
    ``<cache_dir>/weights/`` or ``$TORCH_HOME/hub/checkpoints/`` (absent → WeightsNotFoundError with the
    release URL); ``"random"`` builds a seeded random network. `pca_params` is optional and, as in
    the reference's FAD, not applied; when given it must exist and is recorded in describe().
    preprocess: ``"audioldm_eval-0.0.3"`` (its fad.py ``load_audio_task``: int16 / 32768, channel
    mean, resampy) or ``"audioldm_eval-main"`` (main's fad.py reads files through its
    ``WaveDataset(16000)``: first channel, mean removed, torchaudio-resampled, zero-padded to 2 s).
    """

    #: how a file becomes VGGish's 16 kHz waveform, by `preprocess` (a subclass has its own: empty)
    PREPROCESS: tuple[str, ...] = ("audioldm_eval-0.0.3", "audioldm_eval-main")

    #: the official weights file (name, URL, first digits of its sha256 or None) and further folders searched
    official_file, official_url, official_checksum = VGGISH_FILE, VGGISH_URL, VGGISH_CHECKSUM

    @staticmethod
    def extra_weights_dirs() -> list[Path]:
        return [_torch_hub_checkpoints()]

    def __init__(self, weights: str = "random", checkpoint: str | None = None, pca_params: str | None = None,
                 seed: int = 0, device: str = "cpu", cache_dir: str | os.PathLike | None = None,
                 batch_size: int = 8, preprocess: str | None = None):
        if preprocess is not None and preprocess not in self.PREPROCESS:
            raise ConfigError(f"{self.cache_name()}: preprocess must be one of {', '.join(self.PREPROCESS)}, got "
                              f"{preprocess!r}" if self.PREPROCESS else
                              f"{self.cache_name()} has its peer tool's own preprocessing; preprocess= is not taken")
        self.preprocess = preprocess or "audioldm_eval-0.0.3"
        self.weights = check_weights_kind(weights)
        self.seed = int(seed)
        self.device = torch.device(device)
        # files per forward pass: their 0.96 s examples go through the network together. The
        # reference runs one file (10 examples for 10 s) at a time, so its 12288×4096 fc layer
        # (200 MB of weights) is read once per file; results differ only by float reordering.
        self.batch_size = int(batch_size)
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be ≥ 1, got {batch_size}")
        if self.weights == "pretrained":
            self.checkpoint: Path | None = resolve_weights_file(
                "VGGish", checkpoint, self.official_file, self.official_url, cache_dir,
                extra_dirs=self.extra_weights_dirs(), checksum=self.official_checksum)
            self.weights_sha256: str | None = file_digest(self.checkpoint)
        else:
            self.checkpoint = None
            self.weights_sha256 = None
        self.pca_params: Path | None = None
        self.pca_sha256: str | None = None
        if pca_params is not None and str(pca_params).strip() not in ("", "None", "null"):
            p = Path(os.path.expanduser(str(pca_params)))
            if not p.is_file():
                raise WeightsNotFoundError(
                    f"{p}: VGGish PCA parameters not found. Download {PCA_FILE} from {PCA_URL}, or leave "
                    "pca_params unset (audioldm_eval's FAD does not apply the PCA).")
            self.pca_params, self.pca_sha256 = p, file_digest(p)
        # built on the first file missing from the cache (a warm run loads no weights)
        self._model: nn.Module | None = None

    @property
    def model(self) -> nn.Module:
        if self._model is None:
            if self.checkpoint is not None:
                model = build_vggish(seed=None)
                load_strict(model, self._checkpoint_state(), self.checkpoint, "VGGish")
                model.embeddings = nn.Sequential(*list(model.embeddings.children())[:-1])
            else:
                model = build_vggish(self.seed, final_relu=False)
            # channels-last convolutions: the same function, ~20 % less CPU time (float reordering
            # only, ~1e-6 relative); parameter values and names are untouched
            model.features.to(memory_format=torch.channels_last)
            self._model = model.to(self.device).eval()
        return self._model

    def _checkpoint_state(self):
        """The state dict of `checkpoint` (torchvggish's bare state dict)."""
        return torch_load(self.checkpoint)

    # ---- identity
    def cache_name(self) -> str:
        return "vggish"

    def config(self) -> dict:
        return {"model": "vggish", "impl": IMPL_VERSION, "postprocess": False, "final_relu": False,
                "weights": f"sha256:{self.weights_sha256}" if self.weights_sha256 else f"random:{self.seed}",
                "preprocess": self.preprocess, "batch_size": self.batch_size}

    def describe(self) -> dict:
        return {"name": "vggish", "weights": self.weights,
                "checkpoint": str(self.checkpoint) if self.checkpoint else None,
                "weights_sha256": self.weights_sha256, "seed": self.seed if self.weights == "random" else None,
                "official_file": VGGISH_FILE, "pca_params": str(self.pca_params) if self.pca_params else None,
                "pca_sha256": self.pca_sha256, "pca_applied": False, "final_relu": False,
                "peer": "audioldm_eval 0.0.3" if self.preprocess == "audioldm_eval-0.0.3"
                else "audioldm_eval GitHub main (8dc07ee)", "preprocess": self.preprocess,
                "batch_size": self.batch_size}

    # ---- computing
    def load(self, path) -> np.ndarray:
        if self.preprocess == "audioldm_eval-main":
            return load_like_reference(path, 16000)
        return load_like_reference_vggish(path)

    @staticmethod
    def examples(audio: np.ndarray, sample_rate: int = 16000) -> torch.Tensor:
        """torchvggish's (n, 1, 96, 64) log-mel examples of a mono waveform (float64 in [-1, 1]);
        resampled with resampy inside ``waveform_to_examples`` if `sample_rate` is not 16 kHz, as
        the hub model's forward does. n = 0 when no whole example fits."""
        from torchvggish import vggish_input

        audio = np.asarray(audio)
        n_16k = audio.shape[0] if sample_rate == 16000 else int(audio.shape[0] * 16000 / sample_rate)
        if n_16k < MIN_SAMPLES_16K:  # no whole example (the reference's forward then raises)
            return torch.zeros((0, 1, 96, 64))
        return vggish_input.waveform_to_examples(audio, sample_rate).detach()

    @torch.no_grad()
    def embed_examples(self, examples: torch.Tensor) -> np.ndarray:
        """(n, 128) rows for (n, 1, 96, 64) examples (of one file or of several, concatenated)."""
        if examples.shape[0] == 0:
            return np.zeros((0, EMBEDDING_DIM), np.float32)
        return self.model(examples.to(self.device)).cpu().numpy().astype(np.float32)

    def embed_waveform(self, audio: np.ndarray, sample_rate: int = 16000) -> np.ndarray:
        """Rows for a mono waveform (see :meth:`examples`)."""
        return self.embed_examples(self.examples(audio, sample_rate))

    def _file_examples(self, path) -> torch.Tensor:
        ex = self.examples(self.load(path), 16000)
        if ex.shape[0] == 0:
            # the reference's forward raises on zero examples and skips the file (it adds no rows)
            warnings.warn(f"{path}: shorter than one VGGish example ({FRAME_SECONDS} s + 15 ms); it adds no "
                          "frames to FAD, as in audioldm_eval", stacklevel=3)
        return ex

    def embed_file(self, path) -> dict[str, np.ndarray]:
        return {"frames": self.embed_examples(self._file_examples(path))}

    def _embed_many(self, paths: Sequence, batch_size: int) -> list[dict]:
        """The examples of `batch_size` files at a time through one forward pass, split back.
        A reader thread decodes, resamples and frames the next files (NumPy/SciPy, ~45 ms per
        10 s file) while the network runs on the current ones."""
        from concurrent.futures import ThreadPoolExecutor

        results = []
        step = max(1, batch_size)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="vggish-reader") as reader:
            pending = reader.map(self._file_examples, paths)  # submitted at once, read in order
            for s in range(0, len(paths), step):
                examples = [next(pending) for _ in paths[s:s + step]]
                rows = self.embed_examples(torch.cat(examples))
                bounds = np.cumsum([0] + [e.shape[0] for e in examples])
                results += [{"frames": rows[a:b]} for a, b in zip(bounds[:-1], bounds[1:])]
        return results

    def embed_files(self, paths: Sequence[str | os.PathLike], cache=None) -> list[dict]:
        return embed_files_cached(self, paths, cache, self.batch_size)


# --------------------------------------------------------------------------- fadtk 1.1.0's vggish
def load_like_fadtk_vggish(path) -> np.ndarray:
    """The waveform fadtk 1.1.0's VGGishModel embeds: float64, mono, 16 kHz, 16-bit values.

    fadtk/fad.py ``load_audio`` (torchaudio load, channel mean, Kaiser ``Resample`` to 16 kHz,
    ``torchaudio.save`` as 16-bit PCM) then ``ModelLoader.load_wav`` (int16 / 32768.0, zero-padded
    to ``min_len`` = 1 s). The same steps as ``metrics.embedders.encodec.load_like_fadtk`` except its
    3-minute cut (EnCodec's ``load_wav`` only) and the float32 result; the resampler is shared."""
    audio = fadtk_pcm16(path, 16000) / 32768.0
    short = FADTK_MIN_SECONDS * 16000 - audio.shape[0]
    if short > 0:
        warnings.warn(f"{path}: {audio.shape[0] / 16000:.2f} s, shorter than fadtk's {FADTK_MIN_SECONDS} s minimum "
                      "for VGGish; zero-padded to it, as fadtk does", stacklevel=2)
        audio = np.pad(audio, (0, short))
    return audio


class FadtkVGGishEmbedder(VGGishEmbedder):
    """Per file: ``{"frames": float16 (n_frames, 128)}``, what fadtk 1.1.0's ``vggish`` model
    (``VGGishModel()``: no PCA, no final ReLU) stores per file: one row per 0.96 s example of
    `load_like_fadtk_vggish`'s waveform (at least one: audio under 1 s is zero-padded).

    The network, weights resolution (``vggish-10086976.pth``, the file torch.hub gives fadtk),
    random weights and batching are `VGGishEmbedder`'s; `pca_params` is accepted and not applied,
    as with fadtk's default ``use_pca=False``."""

    PREPROCESS: tuple[str, ...] = ()

    def cache_name(self) -> str:
        return "vggish_fadtk"

    def config(self) -> dict:
        return {**super().config(), "preprocess": "fadtk-1.1.0", "dtype": "float16"}

    def describe(self) -> dict:
        return {**super().describe(), "name": "vggish_fadtk", "peer": "fadtk 1.1.0 vggish", "dtype": "float16",
                "min_seconds": FADTK_MIN_SECONDS}

    def load(self, path) -> np.ndarray:
        return load_like_fadtk_vggish(path)

    def embed_examples(self, examples: torch.Tensor) -> np.ndarray:
        """(n, 128) float16 rows: the network's float32 output rounded as fadtk's ``get_embedding`` does."""
        return super().embed_examples(examples).astype(np.float16)


# --------------------------------------------------------------------------- audiocraft 1.3.0's FAD
#: Google's TensorFlow VGGish weights, what audiocraft's FrechetAudioDistanceMetric(model_path=…) loads
TF_VGGISH_FILE = "vggish_model.ckpt"
TF_VGGISH_URL = "https://storage.googleapis.com/audioset/vggish_model.ckpt"
#: torchvggish parameter prefix → TF-Slim variable scope of vggish_slim.define_vggish_slim
TF_SCOPES = {"features.0": "vggish/conv1", "features.3": "vggish/conv2", "features.6": "vggish/conv3/conv3_1",
             "features.8": "vggish/conv3/conv3_2", "features.11": "vggish/conv4/conv4_1",
             "features.13": "vggish/conv4/conv4_2", "embeddings.0": "vggish/fc1/fc1_1",
             "embeddings.2": "vggish/fc1/fc1_2", "embeddings.4": "vggish/fc2"}
AUDIOCRAFT_STEP = 8000  # frechet_audio_distance's --model_step_size default: a 1 s window every 0.5 s
AUDIOCRAFT_PEAK_DB = 1  # audio_write's peak_clip_headroom_db


def state_from_tf_checkpoint(path) -> "OrderedDict[str, torch.Tensor]":
    """torchvggish's state dict from Google's TensorFlow VGGish checkpoint (``vggish_model.ckpt``,
    V1; or a V2 checkpoint): convolution kernels HWIO → OIHW, dense kernels (in, out) → (out, in).
    torchvggish flattens its last feature map in TF's NHWC order, so fc1's rows map one to one.
    A checkpoint of another network is a MetricError naming the variables expected and found."""
    from metrics.embedders.tf_checkpoint import read_checkpoint

    variables = read_checkpoint(path)
    expected = [f"{scope}/{kind}" for scope in TF_SCOPES.values() for kind in ("weights", "biases")]
    missing = [v for v in expected if v not in variables]
    if missing:
        raise MetricError(f"{path}: not a VGGish TensorFlow checkpoint: missing variables {missing[:4]}"
                          f"{'…' if len(missing) > 4 else ''} (expected {expected[:2]} … {expected[-2:]}); found "
                          f"{sorted(variables)[:4]}{'…' if len(variables) > 4 else ''}")
    state = OrderedDict()
    for prefix, scope in TF_SCOPES.items():
        kernel = variables[f"{scope}/weights"]
        kernel = kernel.transpose(3, 2, 0, 1) if kernel.ndim == 4 else kernel.T
        state[f"{prefix}.weight"] = torch.from_numpy(np.ascontiguousarray(kernel, dtype=np.float32))
        state[f"{prefix}.bias"] = torch.from_numpy(np.ascontiguousarray(variables[f"{scope}/biases"], dtype=np.float32))
    return state


def audiocraft_fad_pcm(path) -> np.ndarray | None:
    """The int16 samples audiocraft 1.3.0's FAD writes for one file (16 kHz mono), or None for a
    silent file.

    ``FrechetAudioDistanceMetric.update``: ``convert_audio(wav, sr, 16000, 1)`` (julius, channel
    mean: ``passt.load_like_audiocraft``), then ``audio_write(format="wav", strategy="peak")``:
    ×(10^(−1/20) / peak) in float32, piped as f32le to ffmpeg's ``pcm_s16le`` encoder, whose
    conversion is ``av_clip_int16(lrintf(x · 2^15))`` (round half to even, as torch's ``round``).
    A silent file becomes NaN there (0/0) and ffmpeg writes it as garbage (−32768 on x86); here it
    is None, with a warning, and adds no rows."""
    from metrics.embedders.passt import load_like_audiocraft

    wav = torch.from_numpy(np.ascontiguousarray(load_like_audiocraft(path, 16000), dtype=np.float32))
    peak = wav.abs().max()
    if not bool(peak > 0):
        warnings.warn(f"{path}: silent; audiocraft's audio_write divides it by its peak (0) and writes NaN "
                      "samples, so its FAD is undefined for it: left out (no rows)", stacklevel=3)
        return None
    wav = wav * ((10 ** (-AUDIOCRAFT_PEAK_DB / 20)) / peak)
    return (wav * 2 ** 15).round().clamp(-2 ** 15, 2 ** 15 - 1).numpy().astype(np.int16)


def load_like_audiocraft_fad(path) -> np.ndarray | None:
    """The samples Google's ``AudioSetModel.extract_features`` analyses for one file of audiocraft's
    FAD (float64, mono, 16 kHz), or None for a silent file: `audiocraft_fad_pcm`'s int16 values as
    ``ReadWavFiles`` (``scipy.io.wavfile``) and a ``tf.train.FloatList`` give them, divided by
    ``max(0.1, amax(samples))`` (the largest *positive* sample) as ``extract_features`` does."""
    pcm = audiocraft_fad_pcm(path)
    if pcm is None:
        return None
    samples = pcm.astype(np.float64)
    samples /= np.maximum(0.1, np.amax(samples))
    return samples


class AudiocraftVGGishEmbedder(VGGishEmbedder):
    """Per file: ``{"frames": float32 (n, 128)}``, the VGGish embeddings audiocraft 1.3.0's FAD
    (``FrechetAudioDistanceMetric``, Google's ``frechet_audio_distance`` on TensorFlow) pools: one
    row per 1 s window every 0.5 s of `load_like_audiocraft_fad`'s samples (n = ⌊(N − 16000) / 8000⌋
    + 1; a file under 1 s gives none, as there), each window's log-mel computed on its own
    (``mel_features.log_mel_spectrogram``, 98 frames, the first 96 framed). Network: TF VGGish, whose
    ``vggish/embedding`` is fc2 without ReLU — torchvggish's VGG without its final ReLU.

    weights: ``vggish_model.ckpt`` (Google's TensorFlow checkpoint, read without TensorFlow:
    ``metrics.embedders.tf_checkpoint``), or torchvggish's ``vggish-10086976.pth`` given as
    `checkpoint` (the same weights ported); ``"random"``: `VGGishEmbedder`'s seeded network."""

    official_file, official_url, official_checksum = TF_VGGISH_FILE, TF_VGGISH_URL, None
    PREPROCESS: tuple[str, ...] = ()

    @staticmethod
    def extra_weights_dirs() -> list[Path]:
        return []

    def _checkpoint_state(self):
        if self.checkpoint.suffix == ".pth":
            return torch_load(self.checkpoint)
        return state_from_tf_checkpoint(self.checkpoint)

    def cache_name(self) -> str:
        return "vggish_audiocraft"

    def config(self) -> dict:
        return {**super().config(), "preprocess": "audiocraft-1.3.0-google-fad", "step": AUDIOCRAFT_STEP}

    def describe(self) -> dict:
        return {**super().describe(), "name": "vggish_audiocraft", "official_file": TF_VGGISH_FILE,
                "peer": "audiocraft 1.3.0 FrechetAudioDistanceMetric (google-research frechet_audio_distance)",
                "window_s": 1.0, "hop_s": AUDIOCRAFT_STEP / 16000}

    def load(self, path) -> np.ndarray | None:
        return load_like_audiocraft_fad(path)

    @staticmethod
    def examples(audio: np.ndarray | None, sample_rate: int = 16000) -> torch.Tensor:
        """(n, 1, 96, 64) log-mel examples, one per 1 s window every 0.5 s (`audio` at 16 kHz).

        Google computes each window's log-mel on its own; a window starting at sample 8000·k has
        its STFT frames at 8000·k + 160·j, i.e. the whole file's frames 50·k + j, so the file's
        log-mel is computed once and window k is its frames [50·k, 50·k + 96) (the same frames,
        not twice each)."""
        from torchvggish import mel_features, vggish_params as p

        if sample_rate != 16000:
            raise MetricError(f"audiocraft's FAD analyses 16 kHz audio, got {sample_rate} Hz")
        n = 0 if audio is None else max(0, (audio.shape[0] - p.SAMPLE_RATE) // AUDIOCRAFT_STEP + 1)
        if n == 0:
            return torch.zeros((0, 1, 96, 64))
        log_mel = mel_features.log_mel_spectrogram(
            audio, audio_sample_rate=p.SAMPLE_RATE, log_offset=p.LOG_OFFSET,
            window_length_secs=p.STFT_WINDOW_LENGTH_SECONDS, hop_length_secs=p.STFT_HOP_LENGTH_SECONDS,
            num_mel_bins=p.NUM_MEL_BINS, lower_edge_hertz=p.MEL_MIN_HZ, upper_edge_hertz=p.MEL_MAX_HZ)
        hop = AUDIOCRAFT_STEP // int(round(p.SAMPLE_RATE * p.STFT_HOP_LENGTH_SECONDS))  # 50 frames
        windows = mel_features.frame(log_mel, window_length=96, hop_length=hop)[:n]
        return torch.from_numpy(np.ascontiguousarray(windows)).float()[:, None]

    def _file_examples(self, path) -> torch.Tensor:
        audio = self.load(path)
        ex = self.examples(audio, 16000)
        if ex.shape[0] == 0 and audio is not None:
            warnings.warn(f"{path}: {audio.shape[0] / 16000:.2f} s, shorter than the 1 s window of audiocraft's FAD; "
                          "it adds no rows, as there", stacklevel=3)
        return ex


def perf_line(keep: Path | None = None) -> dict:
    """`bench perf metrics` hook: audiocraft's FAD on the golden clips against the value its own
    metric gave (tests/metrics/golden/audiocraft_fad_golden.npz, the same seeded weights) and seconds
    per 10-s file on one thread, ours now against Google's embedding steps as the golden script timed
    them in the TensorFlow environment. Returns {"line", "presets", "rel"}."""
    import tempfile
    import time

    from metrics.embedders.timing import ROOT, golden_script
    from metrics.small_sample import google_fad_distance, google_fad_stats

    script = golden_script("audiocraft_fad")
    golden = np.load(ROOT / "tests/metrics/golden/audiocraft_fad_golden.npz")
    folder = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="perf_vggish_audiocraft_"))
    clips = script.make_audio(folder / "audio")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        emb = AudiocraftVGGishEmbedder(weights="random", seed=script.SEED)
        ten = [clips["generated"][n] for n in ("a_10s_32k", "b_10s_44k_stereo", "e_10s_24k")]
        emb.embed_file(ten[0])  # model built and run once outside the timing, as the tool's is
        t0 = time.perf_counter()
        for path in ten:
            emb.embed_file(path)
        ours = (time.perf_counter() - t0) / len(ten)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the 0.6 s clip adds no rows
            stats = {kind: google_fad_stats([o["frames"] for o in emb.embed_files(list(clips[kind].values()))])
                     for kind in clips}
    finally:
        torch.set_num_threads(threads)
    fad = google_fad_distance(stats["reference"], stats["generated"])
    rel = abs(fad - float(golden["fad"])) / float(golden["fad"])
    peer, peer_all = (float(x) for x in golden["perf_s_per_10s"])
    line = (f"vggish_audiocraft: ours {ours:.2f} s per 10-s file, Google's TF VGGish steps {peer:.2f} s (audiocraft's "
            f"whole metric {peer_all:.1f} s with TF start-up; timed once by scripts/golden/audiocraft_fad_golden.py); "
            f"FAD rel diff vs audiocraft's {rel:.1e}")
    return {"line": line, "presets": ["audiocraft"], "rel": {"fad": rel}}


__all__ = ["VGGishEmbedder", "FadtkVGGishEmbedder", "AudiocraftVGGishEmbedder", "load_like_fadtk_vggish",
           "load_like_audiocraft_fad", "audiocraft_fad_pcm", "state_from_tf_checkpoint", "TF_VGGISH_FILE", "TF_VGGISH_URL", "save_random_weights",
           "save_random_pca_params", "build_vggish", "VGGISH_FILE", "VGGISH_URL", "PCA_FILE", "PCA_URL"]
