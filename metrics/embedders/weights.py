"""Weight files of the embedders: where `weights: pretrained` finds them, the one-time download
into the cache (checked against the official checksum), and strict loading.

Lookup order for an official file: an explicit ``checkpoint`` path (never downloaded: a path the
user named must exist), ``<cache_dir>/weights/<official name>``, the embedder's extra folders
(VGGish: ``$TORCH_HOME/hub/checkpoints/``), then a download from the official URL into
``<cache_dir>/weights/`` — kept only when its checksum matches. Offline (or with
``BENCH_OFFLINE=1``), the error names the file, its URL and where to put it. Nothing depends on
the current working directory.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Sequence

import torch

from core.atomic import atomic_path
from core.cache import default_cache_dir
from core.errors import ConfigError, WeightsNotFoundError
from metrics.errors import MetricError

DOWNLOAD_TIMEOUT_S = 30
_CHUNK = 1 << 20


def weights_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """Where `weights: pretrained` looks for official files: ``<cache_dir>/weights/``."""
    return Path(cache_dir if cache_dir is not None else default_cache_dir()) / "weights"


def check_weights_kind(weights: str) -> str:
    if weights not in ("random", "pretrained"):
        raise ConfigError(f"weights must be 'random' or 'pretrained', got {weights!r}")
    return weights


def download_verified(url: str, dest: Path, checksum: tuple[str, str]) -> Path:
    """Download `url` to `dest` atomically, keeping it only if its digest matches `checksum`
    (``(algorithm, hex)``; a hex shorter than the digest is a prefix, as torch.hub's file names
    carry). A mismatch is a MetricError and leaves nothing at `dest`."""
    import urllib.request

    algorithm, expected = checksum
    h = hashlib.new(algorithm)
    with atomic_path(dest) as tmp:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response, open(tmp, "wb") as fh:
            while chunk := response.read(_CHUNK):
                h.update(chunk)
                fh.write(chunk)
        got = h.hexdigest()
        if not got.startswith(expected.lower()):
            raise MetricError(f"{url}: the downloaded file's {algorithm} is {got}, not the official "
                              f"{expected}; it was not kept. Download it by hand and check it, or retry.")
    return dest


def resolve_weights_file(what: str, checkpoint: str | os.PathLike | None, official_name: str, url: str,
                         cache_dir: str | os.PathLike | None = None, extra_dirs: Sequence[Path] = (),
                         checksum: tuple[str, str] | None = None) -> Path:
    """The checkpoint file to load for `weights: pretrained` (see the module docstring), or
    WeightsNotFoundError naming the official file, its URL and where to put it."""
    default = weights_dir(cache_dir) / official_name
    if checkpoint is not None and str(checkpoint).strip() not in ("", "None", "null"):
        path = Path(os.path.expanduser(str(checkpoint)))
        if path.is_file():
            return path
        raise WeightsNotFoundError(
            f"{path}: {what} weights file not found. Download {official_name} from {url} and pass its path "
            f"as checkpoint, or put it at {default} and leave checkpoint unset.")
    for candidate in [default, *(Path(d) / official_name for d in extra_dirs)]:
        if candidate.is_file():
            return candidate
    reason = "BENCH_OFFLINE is set" if os.environ.get("BENCH_OFFLINE") else "no checksum to check it against"
    if checksum is not None and not os.environ.get("BENCH_OFFLINE"):
        try:
            return download_verified(url, default, checksum)
        except OSError as e:  # offline, DNS, HTTP errors (urllib's errors are OSErrors)
            reason = f"download failed: {e}"
    where = default if not extra_dirs else f"{default} (or {', '.join(str(Path(d)) for d in extra_dirs)})"
    raise WeightsNotFoundError(
        f"{what} pretrained weights not found: {official_name} ({reason}). Download it from {url} and put it "
        f"at {where}, or pass checkpoint=/path/to/{official_name}; or use weights=random (seeded, for tests only).")


def torch_load(path: Path):
    """torch.load on CPU; tensors-only first, then a full unpickle for official files that carry
    training state (optimizer/sampler) besides the weights."""
    import pickle

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:
        raise MetricError(f"{path}: cannot read the weights file ({e}); re-download it") from e


def load_strict(model: torch.nn.Module, state_dict, path: Path, what: str) -> None:
    if not isinstance(state_dict, dict):
        raise MetricError(f"{path}: not a {what} checkpoint (expected a state dict, got {type(state_dict).__name__})")
    result = model.load_state_dict(state_dict, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise MetricError(
            f"{path}: not a {what} checkpoint: missing keys {list(result.missing_keys)[:5]}"
            f"{'…' if len(result.missing_keys) > 5 else ''}, unexpected keys {list(result.unexpected_keys)[:5]}"
            f"{'…' if len(result.unexpected_keys) > 5 else ''}")
