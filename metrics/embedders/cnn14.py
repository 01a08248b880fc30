"""PANNs Cnn14 embedder as haoheliu/audioldm_eval 0.0.3 runs it (FD, KL, IS). DESIGN.md §8.

Reference (audioldm_eval/eval.py, feature_extractors/panns/models.py, datasets/load_mel.py):

- model: Cnn14 with ``sample_rate=16000, window_size=512, hop_size=160, mel_bins=64, fmin=50,
  fmax=8000`` (file ``Cnn14_16k_mAP=0.438.pth``) or ``sample_rate=32000, window_size=1024,
  hop_size=320, mel_bins=64, fmin=50, fmax=14000`` (file ``Cnn14_mAP=0.431.pth``), 527 classes,
  weights ``torch.load(file)["model"]`` loaded strictly, eval mode.
- input: :func:`metrics.preprocess.load_like_reference` (first channel, mean removed, torchaudio
  sinc resampling, zero-padded to ≥ 32000 samples), one file per batch.
- outputs used: ``"2048"`` = ``ReLU(fc1(max_t + mean_t of the pooled conv features))`` (FD, KID) and
  ``"logits"`` = ``fc_audioset("2048")`` *before* the sigmoid (KL softmax/sigmoid variants and IS
  take softmax / sigmoid of these). Here they are ``"embedding"`` (2048,) and ``"logits"`` (527,).

The network code is ``panns_inference.models.Cnn14`` (same modules and parameter names as
audioldm_eval's copy; its forward returns ReLU(fc1) as "embedding" and only the sigmoid output, so the
logits are taken from ``fc_audioset`` with a forward hook). It is loaded without running
``panns_inference/__init__.py``, whose config module downloads a labels CSV with wget at import.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from metrics.preprocess import load_like_reference
from core.atomic import atomic_path
from core.cache import file_digest
from core.errors import ConfigError
from metrics.embedders.weights import (check_weights_kind, load_strict, resolve_weights_file,  # noqa: F401
                                       torch_load, weights_dir)
from metrics.errors import MetricError

IMPL_VERSION = 2  # (model built lazily since: same numbers) 2: inference through `inference_net` (batch norms folded, channels-last blocks)
DEFAULT_BATCH_SIZE = 8
CLASSES_NUM = 527
EMBEDDING_DIM = 2048

# audioldm_eval.eval.EvaluationHelper.__init__
FRONT_END = {
    16000: {"window_size": 512, "hop_size": 160, "mel_bins": 64, "fmin": 50, "fmax": 8000},
    32000: {"window_size": 1024, "hop_size": 320, "mel_bins": 64, "fmin": 50, "fmax": 14000},
}
# audioldm_eval.feature_extractors.panns.models.Cnn14.__init__ (the files it wgets into ckpt/)
OFFICIAL_FILES = {
    16000: ("Cnn14_16k_mAP=0.438.pth", "https://zenodo.org/record/3987831/files/Cnn14_16k_mAP%3D0.438.pth"),
    32000: ("Cnn14_mAP=0.431.pth", "https://zenodo.org/record/3576403/files/Cnn14_mAP%3D0.431.pth"),
}
# checksums a download must match: Zenodo's published md5 for the 16 kHz file; the sha256 of the
# 32 kHz file (327,428,481 bytes) as independent projects pin it
OFFICIAL_CHECKSUMS = {
    16000: ("md5", "362fc5ff18f1d6ad2f6d464b45893f2c"),
    32000: ("sha256", "0dc499e40e9761ef5ea061ffc77697697f277f6a960894903df3ada000e34b31"),
}

_PANNS_ALIAS = "_dyvim_panns_inference"


# --------------------------------------------------------------------------- shared helpers

#: files decoded and embedded per round: bounds the waveforms held in memory (~64 × 10 s at 16 kHz)
#: while leaving whole batches of equal-length files to the network
EMBED_WINDOW = 64


def file_cache_keys(embedder, paths: Sequence[str | os.PathLike], cache) -> list[str]:
    """The cache key of each file's entry under `embedder` (file content + ``config()``): the one
    place that says where a file's embedding lives, read by `embed_files_cached` and by the
    executor that asks which files still need embedding (bench/executors/embeddings.py)."""
    name, config = embedder.cache_name(), embedder.config()
    return [cache.key(name, config, [p]) for p in paths]


def embed_files_cached(embedder, paths: Sequence[str | os.PathLike], cache, batch_size: int = 1) -> list[dict]:
    """Per-file outputs of `embedder` (``_embed_many(paths, batch_size)``), cached by file content +
    ``config()``.

    Only the files missing from the cache are decoded and run, in rounds of EMBED_WINDOW files
    (each stored as soon as its round is done, so an interrupted evaluation keeps its progress);
    cached files are read, never decoded. Entries are written atomically; two processes that
    miss the same file at once both compute it and write the same entry."""
    paths = list(paths)
    results: list[dict | None] = [None] * len(paths)
    if cache is not None:
        name, keys = embedder.cache_name(), file_cache_keys(embedder, paths, cache)
        for i, key in enumerate(keys):
            results[i] = cache.load(name, key)
        cache.hits += sum(r is not None for r in results)
    missing = [i for i, r in enumerate(results) if r is None]
    window = max(EMBED_WINDOW, batch_size)
    for s in range(0, len(missing), window):
        chunk = missing[s:s + window]
        for i, out in zip(chunk, embedder._embed_many([paths[i] for i in chunk], batch_size)):
            out = {k: np.asarray(v) for k, v in out.items()}
            if cache is not None:
                cache.store(name, keys[i], out)
                cache.misses += 1
            results[i] = out
    return results  # type: ignore[return-value]


# --------------------------------------------------------------------------- model code

def panns_models() -> types.ModuleType:
    """``panns_inference.models`` without executing ``panns_inference/__init__.py`` (which wgets a CSV).

    If the package was already imported normally its module is used; otherwise the package folder
    is mounted under a private name so that ``models.py``'s relative imports resolve."""
    if "panns_inference.models" in sys.modules:
        return sys.modules["panns_inference.models"]
    alias = f"{_PANNS_ALIAS}.models"
    if alias in sys.modules:
        return sys.modules[alias]
    spec = importlib.util.find_spec("panns_inference")
    if spec is None or not spec.submodule_search_locations:
        raise MetricError("the Cnn14 embedder needs panns_inference: pip install panns_inference torchlibrosa "
                          "(panns_inference with --no-deps is enough beside librosa and matplotlib)")
    pkg = types.ModuleType(_PANNS_ALIAS)
    pkg.__path__ = list(spec.submodule_search_locations)
    pkg.__package__ = _PANNS_ALIAS
    sys.modules[_PANNS_ALIAS] = pkg
    return importlib.import_module(alias)


CNN14_BLOCKS = [(1, 64), (64, 128), (128, 256), (256, 512), (512, 1024), (1024, 2048)]


def informative_random_state(model: torch.nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """Seeded random trained tensors that keep Cnn14 informative (NumPy RandomState: stable
    across versions); the front-end tensors (STFT kernels, mel filterbank) are the model's own.

    PyTorch's default init leaves batch-norm running statistics at 0 / 1 while bn0 sees log-mel
    dB values around −20 ± 20, so every clip saturates to nearly the same embedding and FD/KL
    are ~0 whatever the audio. Here conv/linear weights are He-uniform, batch-norm scales near 1
    and running statistics chosen so each layer's input is roughly standardised.
    """
    rng = np.random.RandomState(seed)

    def uniform(shape, lo, hi):
        return (lo + (hi - lo) * rng.random_sample(shape)).astype(np.float32)

    def he(shape, fan_in):
        bound = np.sqrt(6.0 / fan_in)
        return ((2.0 * rng.random_sample(shape) - 1.0) * bound).astype(np.float32)

    def bn(prefix, n, mean=(-0.05, 0.05), var=(0.5, 1.5)):
        return [(f"{prefix}.weight", uniform(n, 0.8, 1.2)), (f"{prefix}.bias", uniform(n, -0.1, 0.1)),
                (f"{prefix}.running_mean", uniform(n, *mean)), (f"{prefix}.running_var", uniform(n, *var)),
                (f"{prefix}.num_batches_tracked", np.array(0, dtype=np.int64))]

    state = dict(bn("bn0", 64, mean=(-30.0, -10.0), var=(200.0, 600.0)))
    for i, (c_in, c_out) in enumerate(CNN14_BLOCKS, start=1):
        p = f"conv_block{i}"
        state[f"{p}.conv1.weight"] = he((c_out, c_in, 3, 3), c_in * 9)
        state[f"{p}.conv2.weight"] = he((c_out, c_out, 3, 3), c_out * 9)
        state.update(bn(f"{p}.bn1", c_out))
        state.update(bn(f"{p}.bn2", c_out))
    state["fc1.weight"] = he((2048, 2048), 2048)
    state["fc1.bias"] = uniform(2048, -0.05, 0.05)
    state["fc_audioset.weight"] = he((527, 2048), 2048)
    state["fc_audioset.bias"] = uniform(527, -0.5, 0.5)
    own = model.state_dict()
    return {k: torch.from_numpy(np.asarray(state[k])) if k in state else v for k, v in own.items()}


def build_cnn14(sample_rate: int, seed: int | None = 0) -> torch.nn.Module:
    """Cnn14 with audioldm_eval's front end for `sample_rate`; with a seed, informative seeded
    random weights (`informative_random_state`), else untrained (to load a checkpoint into)."""
    if sample_rate not in FRONT_END:
        raise ConfigError(f"Cnn14 runs at 16000 or 32000 Hz (as audioldm_eval), got sample_rate={sample_rate}")
    Cnn14 = panns_models().Cnn14
    with torch.random.fork_rng(devices=[]):
        model = Cnn14(sample_rate=sample_rate, classes_num=CLASSES_NUM, **FRONT_END[sample_rate])
    if seed is not None:
        model.load_state_dict(informative_random_state(model, seed), strict=True)
    return model.eval()


#: conv blocks run in channels-last layout; the last two (≤ 62×4 positions, up to 2048 channels)
#: are faster in the contiguous layout with oneDNN on a CPU (measured, `bench perf metrics`)
CHANNELS_LAST_BLOCKS = 4


def inference_net(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of an eval-mode Cnn14 for inference only, computing the same function faster: each
    conv block's batch norms folded into the convolutions before them (`fuse_conv_bn_eval`), and
    blocks 1–4 in channels-last layout (oneDNN avoids re-ordering the 1001×64 and 500×32 maps at
    every layer). Results differ from the module by float reordering only (~1e-6 relative of the
    largest embedding value); ~20 % less CPU time per file on this machine."""
    import copy

    from torch.nn.utils.fusion import fuse_conv_bn_eval

    net = copy.deepcopy(model).eval()
    net._forward_hooks.clear()
    for i in range(1, 7):
        block = getattr(net, f"conv_block{i}")
        block.conv1, block.bn1 = fuse_conv_bn_eval(block.conv1, block.bn1), torch.nn.Identity()
        block.conv2, block.bn2 = fuse_conv_bn_eval(block.conv2, block.bn2), torch.nn.Identity()
        if i <= CHANNELS_LAST_BLOCKS:
            block.to(memory_format=torch.channels_last)
        elif i == CHANNELS_LAST_BLOCKS + 1:
            block.register_forward_pre_hook(lambda _m, args: (args[0].contiguous(), *args[1:]))
    return net


def save_random_weights(path: str | os.PathLike, sample_rate: int = 16000, seed: int = 0) -> Path:
    """Write a seeded random Cnn14 in the official file format (``{"model": state_dict}``)."""
    model = build_cnn14(sample_rate, seed)
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save({"model": model.state_dict()}, tmp)
    path.chmod(0o644)
    return path


# --------------------------------------------------------------------------- embedder

class Cnn14Embedder:
    """Per file: ``{"embedding": float32 (2048,), "logits": float32 (527,)}`` as audioldm_eval's
    Cnn14 "2048" and "logits" outputs (see the module docstring).

    weights: ``"pretrained"`` loads `checkpoint`, or ``<cache_dir>/weights/<official name>``
    (absent → WeightsNotFoundError with the Zenodo URL); ``"random"`` builds a seeded random network.
    batch_size 1 is the reference's; larger batches (default 8: all clips of a protocol set have
    one length) only group files of equal length, never padding one to another, and differ from
    batch 1 by the order of float additions inside the convolutions (~1e-6 of the largest
    embedding value; FD/KL/IS stay within 1e-4 of the reference, tests/metrics/test_parity.py).
    On a CPU that is ~10–15 % more throughput (the 2048-channel weights are read once per batch,
    not once per file); on a GPU much more.
    """

    def __init__(self, sample_rate: int = 16000, weights: str = "random", checkpoint: str | None = None,
                 seed: int = 0, device: str = "cpu", batch_size: int = DEFAULT_BATCH_SIZE,
                 cache_dir: str | os.PathLike | None = None):
        if sample_rate not in FRONT_END:
            raise ConfigError(f"Cnn14 runs at 16000 or 32000 Hz (as audioldm_eval), got sample_rate={sample_rate}")
        if int(batch_size) < 1:
            raise ConfigError(f"batch_size must be ≥ 1, got {batch_size}")
        self.sample_rate = int(sample_rate)
        self.weights = check_weights_kind(weights)
        self.seed = int(seed)
        self.device = torch.device(device)
        self.batch_size = int(batch_size)
        self.official_name, self.official_url = OFFICIAL_FILES[self.sample_rate]
        if self.weights == "pretrained":
            self.checkpoint: Path | None = resolve_weights_file(
                f"Cnn14 ({self.sample_rate // 1000} kHz)", checkpoint, self.official_name, self.official_url, cache_dir,
                checksum=OFFICIAL_CHECKSUMS[self.sample_rate])

            self.weights_sha256: str | None = file_digest(self.checkpoint)
        else:
            self.checkpoint = None
            self.weights_sha256 = None
        # the network is built on the first file missing from the cache: a warm run whose
        # embeddings are all cached loads no weights (the file's digest above names them)
        self._model: torch.nn.Module | None = None
        self._net_cache: torch.nn.Module | None = None
        self._logits: list[torch.Tensor] = []

    @property
    def model(self) -> torch.nn.Module:
        """The official module and parameters (built on first use)."""
        if self._model is None:
            if self.checkpoint is not None:
                model = build_cnn14(self.sample_rate, seed=None)
                obj = torch_load(self.checkpoint)
                state = obj["model"] if isinstance(obj, dict) and "model" in obj else obj
                load_strict(model, state, self.checkpoint, "Cnn14")
            else:
                model = build_cnn14(self.sample_rate, self.seed)
            self._model = model.to(self.device).eval()
        return self._model

    def build(self) -> None:
        """Build what the first embedding builds: the network and its inference copy."""
        _ = self._net

    @property
    def _net(self) -> torch.nn.Module:
        """What runs: the same function as `model`, faster (inference_net)."""
        if self._net_cache is None:
            self._net_cache = inference_net(self.model)
            self._net_cache.fc_audioset.register_forward_hook(lambda _m, _i, out: self._logits.append(out))
        return self._net_cache

    # ---- identity
    def cache_name(self) -> str:
        return f"cnn14_{self.sample_rate // 1000}k"

    def config(self) -> dict:
        return {"model": "cnn14", "impl": IMPL_VERSION, "sample_rate": self.sample_rate, **FRONT_END[self.sample_rate],
                "weights": f"sha256:{self.weights_sha256}" if self.weights_sha256 else f"random:{self.seed}",
                "preprocess": "audioldm_eval-0.0.3", "batch_size": self.batch_size}

    def describe(self) -> dict:
        return {"name": self.cache_name(), "sample_rate": self.sample_rate, "weights": self.weights,
                "checkpoint": str(self.checkpoint) if self.checkpoint else None,
                "weights_sha256": self.weights_sha256, "seed": self.seed if self.weights == "random" else None,
                "official_file": self.official_name, "peer": "audioldm_eval 0.0.3", "batch_size": self.batch_size}

    # ---- computing
    def load(self, path) -> np.ndarray:
        return load_like_reference(path, self.sample_rate)

    @torch.no_grad()
    def embed_waveforms(self, waves: torch.Tensor | np.ndarray) -> dict[str, np.ndarray]:
        """Run the network on a (batch, samples) float32 batch; returns (batch, 2048) and (batch, 527)."""
        x = torch.as_tensor(np.asarray(waves, dtype=np.float32) if not isinstance(waves, torch.Tensor) else waves)
        if x.dim() == 1:
            x = x[None]
        self._logits.clear()
        out = self._net(x.float().to(self.device))
        logits = self._logits.pop()
        self._logits.clear()
        return {"embedding": out["embedding"].cpu().numpy().astype(np.float32),
                "logits": logits.cpu().numpy().astype(np.float32)}

    def embed_file(self, path) -> dict[str, np.ndarray]:
        out = self.embed_waveforms(self.load(path)[None])
        return {k: v[0] for k, v in out.items()}

    def _embed_many(self, paths: Sequence, batch_size: int) -> list[dict]:
        if batch_size <= 1:
            return [self.embed_file(p) for p in paths]
        results: list[dict | None] = [None] * len(paths)
        waves = [self.load(p) for p in paths]
        by_len: dict[int, list[int]] = {}
        for i, w in enumerate(waves):
            by_len.setdefault(w.shape[0], []).append(i)
        for idx in by_len.values():
            for s in range(0, len(idx), batch_size):
                chunk = idx[s:s + batch_size]
                out = self.embed_waveforms(np.stack([waves[i] for i in chunk]))
                for j, i in enumerate(chunk):
                    results[i] = {k: v[j] for k, v in out.items()}
        return results  # type: ignore[return-value]

    def embed_files(self, paths: Sequence[str | os.PathLike], cache=None) -> list[dict]:
        return embed_files_cached(self, paths, cache, self.batch_size)


__all__ = ["Cnn14Embedder", "save_random_weights", "build_cnn14", "FRONT_END", "OFFICIAL_FILES"]
