"""What DyViM's feature encoders share: the cached-extraction call, seeded random weights,
checkpoint lookup with errors that name the file and where to get it, and the video rate.

Every encoder splits into a *frozen extractor* (RAFT, I3D, CLIP, T5, keypoint resampling), whose
output is computed once per input file and stored in `bench.cache.Cache`, and, where the paper
trains one, a small *trainable head* (`forward`) that runs on the cached arrays during training.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Mapping

import numpy as np
import torch

from bench.cache import Cache
from bench.errors import ConfigError, WeightsNotFoundError

#: bumped whenever an extractor's output for the same input and config changes
EXTRACTOR_VERSION = 1

WEIGHT_KINDS = ("random", "pretrained")
SIZES = ("tiny", "small", "medium")


@dataclass(frozen=True)
class VideoFeatures:
    """Per-frame features of one clip: `values` (T_o, ...) sampled at `fps` (= f_o) from the clip start."""

    values: np.ndarray
    fps: float

    @property
    def n_frames(self) -> int:
        return int(self.values.shape[0])


@dataclass(frozen=True)
class SemanticFeatures:
    """z_s ∈ R^{N_h × d_s} (Eq. 2) and which of the N_h rows hold states (False = padding).

    `n_images` is how many keyframes were averaged (0 for text); `fallback` says the clip had no
    I-frame inside its window and the middle frame was used instead."""

    values: np.ndarray
    mask: np.ndarray
    n_images: int = 0
    fallback: bool = False


def check_choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"system.dyvim.{name}={value!r} is not one of {', '.join(allowed)}")


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Random init that depends only on `seed` and leaves the caller's RNG state untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def torch_checkpoint_path(explicit: str | os.PathLike | None, filename: str, url: str, what: str) -> Path:
    """The local file of a torch checkpoint: `explicit` if given, else `$TORCH_HOME/hub/checkpoints/<filename>`.

    Nothing is downloaded (the harness must work offline); a missing file is a WeightsNotFoundError
    naming the path and the URL to fetch it from.
    """
    path = Path(explicit) if explicit else Path(torch.hub.get_dir()) / "checkpoints" / filename
    if not path.is_file():
        raise WeightsNotFoundError(
            f"{what}: weights file {path} not found; download {url} to {path} "
            f"(or set the weights path), or use weights: random")
    return path


def file_identity(path: str | os.PathLike) -> str:
    """A cheap identity of a weights file for cache keys (hashing a 600 MB checkpoint per call is not)."""
    p = Path(path)
    st = p.stat()
    return f"{p.resolve()}:{st.st_size}:{st.st_mtime_ns}"


def load_pretrained(loader: Callable[..., object], name_or_path: str, what: str, config_key: str | None = None):
    """Call a transformers `from_pretrained` for a hub id or a local folder with a clear error.

    A name that looks like a path (absolute, starting with '.' or '~', or existing) must exist:
    nothing is looked up online for it. A hub id is tried in the local HF cache first, then online
    only when the hub answers within a few seconds (offline, huggingface_hub would retry for about
    a minute before failing). Errors name `config_key`, the key that takes a local folder. The
    loading report (unused/unexpected checkpoint keys, pad/bos ids) is silenced.
    """
    set_it = (f"set {config_key}=/path/to/folder (config.json + weights)" if config_key
              else "give a local folder (config.json + weights)")
    if name_or_path.startswith(("/", ".", "~")) or Path(name_or_path).expanduser().exists():
        path = Path(name_or_path).expanduser()
        if not path.exists():
            raise WeightsNotFoundError(
                f"{what}: local weights folder {path} not found; put the Hugging Face checkpoint folder "
                f"there (config.json + model.safetensors){f' or change {config_key}' if config_key else ''}, "
                "or use weights: random")
        try:
            return _quietly(loader, str(path))
        except (OSError, ValueError) as exc:
            raise WeightsNotFoundError(f"{what}: cannot load weights from {path} ({exc})"
                                       f"{f'; check {config_key}' if config_key else ''}") from exc
    try:
        return _quietly(loader, name_or_path, local_files_only=True)
    except (OSError, ValueError):
        pass
    if os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0") or not hub_reachable():
        raise WeightsNotFoundError(
            f"{what}: {name_or_path!r} is not in the local Hugging Face cache and the hub cannot be reached "
            f"(offline); download https://huggingface.co/{name_or_path} on a connected machine and {set_it}, "
            "or use weights: random")
    try:
        return _quietly(loader, name_or_path)
    except (OSError, ValueError) as exc:
        raise WeightsNotFoundError(
            f"{what}: cannot load {name_or_path!r} from the Hugging Face hub or its local cache ({exc}); "
            f"download https://huggingface.co/{name_or_path} to a folder and {set_it}, "
            f"or use weights: random") from exc


def hub_reachable(host: str = "huggingface.co", timeout: float = 3.0) -> bool:
    """Whether a TCP connection to the hub opens within `timeout` s (name lookup included)."""
    import socket
    import threading

    ok: list[bool] = []

    def probe():
        try:
            with socket.create_connection((host, 443), timeout=timeout):
                ok.append(True)
        except OSError:
            pass

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)  # a hanging name lookup counts as unreachable
    return bool(ok)


def _quietly(loader: Callable[..., object], *args, **kwargs):
    """`loader(...)` with transformers' loading report and warnings silenced (errors still raise)."""
    import warnings

    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return loader(*args, **kwargs)
    finally:
        hf_logging.set_verbosity(level)


def cached(cache: Cache | None, extractor: str, config: Mapping, inputs: list, compute: Callable[[], Mapping[str, np.ndarray]]
           ) -> dict[str, np.ndarray]:
    """`cache.get_or_compute` with the extractor version in the key; computes directly without a cache."""
    if cache is None:
        return {k: np.asarray(v) for k, v in compute().items()}
    return cache.get_or_compute(extractor, {**config, "_version": EXTRACTOR_VERSION}, inputs, compute)


def video_rate(path: str | os.PathLike, fps: float | None) -> float:
    """f_o: the configured rate, else the file's average frame rate (variable-rate videos are
    resampled to it by `decode_frames`, so frames are evenly spaced in time)."""
    if fps is not None:
        if fps <= 0:
            raise ConfigError(f"video rate must be > 0, got {fps}")
        return float(fps)
    from bench.media import probe_video

    rate = probe_video(path).fps
    if not rate or rate <= 0:
        from bench.errors import MediaError

        raise MediaError(path, "the video stream declares no frame rate", "set the encoder's fps explicitly")
    return float(rate)


def module_device(module: torch.nn.Module) -> torch.device:
    for p in module.parameters():
        return p.device
    return torch.device("cpu")


def weights_identity(name_or_path: str) -> str:
    """Cache-key identity of transformers weights: the hub id, or a local folder's weight files."""
    path = Path(name_or_path).expanduser()
    if not path.is_dir():
        return name_or_path
    files = sorted(p for p in path.iterdir() if p.suffix in (".safetensors", ".bin", ".json"))
    return ";".join(file_identity(p) for p in files) or str(path.resolve())
