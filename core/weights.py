"""Pretrained weights, one policy for every model file the harness loads: a local path given in the
config → the local cache (Hugging Face's, or `$TORCH_HOME/hub/checkpoints/`) → the hub, online only
when it answers within a few seconds; a missing or wrong file is a named error saying which config
key takes a local path and what it must hold. Also: torch checkpoint files read with a clear error,
a file's identity for cache keys, and seeded random initialisation."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Callable, Iterator

import torch

from core.errors import WeightsNotFoundError


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


def read_torch_file(path: str | os.PathLike, hint: str, weights_only: bool = True):
    """`torch.load(path)` on the CPU, or a WeightsNotFoundError that says what the file is instead:
    not a torch file (a safetensors file, text, an empty or cut-off download), or a torch file that
    holds Python objects besides tensors when only weights may be read. `hint` says which file is
    wanted and the key that sets it. (torch's own message for a non-torch file is a `weights_only`
    hint that would only mislead here.)"""
    import pickle
    import zipfile

    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(16)
    if not zipfile.is_zipfile(path) and not head.startswith(b"\x80"):  # torch's zip format / legacy pickle
        kind = ("an empty file" if not head else "a safetensors file" if _is_safetensors(head)
                else "text" if head.isascii() else f"bytes {head[:8].hex(' ')}")
        raise WeightsNotFoundError(f"{path} is not a torch checkpoint (it is {kind}); {hint}")
    try:
        return torch.load(path, map_location="cpu", weights_only=weights_only)
    except pickle.UnpicklingError as exc:
        if weights_only and "Weights only load failed" in str(exc):
            raise WeightsNotFoundError(
                f"{path} is a torch file that holds Python objects besides tensors, and only weights are read "
                f"from it; save the model's state_dict alone (torch.save(model.state_dict(), path)); {hint}") from exc
        raise WeightsNotFoundError(f"{path} is not a readable torch checkpoint ({str(exc).splitlines()[0][:120]}); "
                                   f"{hint}") from exc
    except (RuntimeError, EOFError, ValueError) as exc:
        raise WeightsNotFoundError(f"{path} is not a readable torch checkpoint (cut off or corrupt: "
                                   f"{str(exc).splitlines()[0][:120]}); {hint}") from exc


def _is_safetensors(head: bytes) -> bool:
    """A safetensors file starts with its JSON header's length (u64, little-endian) and '{'."""
    return len(head) >= 9 and head[8:9] == b"{"


def file_identity(path: str | os.PathLike) -> str:
    """A cheap identity of a weights file for cache keys (hashing a 600 MB checkpoint per call is not)."""
    p = Path(path)
    st = p.stat()
    return f"{p.resolve()}:{st.st_size}:{st.st_mtime_ns}"


def load_pretrained(loader: Callable[..., object], name_or_path: str, what: str, config_key: str | None = None,
                    files: str = "config.json + model.safetensors"):
    """Call a transformers `from_pretrained` for a hub id or a local folder with a clear error.

    Resolution order: a local folder → the local Hugging Face cache → the hub, online only when it
    answers within a few seconds (`hub_reachable`; offline without `HF_HUB_OFFLINE`, huggingface_hub
    would retry for over a minute before failing). A name that looks like a path (absolute, starting
    with '.' or '~', or existing) must exist: nothing is looked up online for it. Errors name
    `config_key`, the key that takes a local folder, and the `files` expected in it.

    transformers' loading report (the table of unused checkpoint keys, e.g. CLIP's text tower when
    only the vision tower is built, and config notes such as MusicGen's pad/bos id 2048 lying
    outside the 2048-code vocabulary) is silenced for the load and the verbosity restored after.
    Real problems still show: load errors raise, Python warnings pass through, and model weights
    the checkpoint lacks (they would stay random) are a `MissingWeightsWarning` naming them.
    """
    set_it = (f"set {config_key}=/path/to/folder holding {files}" if config_key
              else f"give a local folder holding {files}")
    if name_or_path.startswith(("/", ".", "~")) or Path(name_or_path).expanduser().exists():
        path = Path(name_or_path).expanduser()
        if not path.exists():
            raise WeightsNotFoundError(
                f"{what}: local weights folder {path} not found; put the Hugging Face checkpoint folder "
                f"({files}) there{f' or change {config_key}' if config_key else ''}, or use weights: random")
        try:
            return _quietly(loader, what, str(path))
        except (OSError, ValueError) as exc:
            raise WeightsNotFoundError(f"{what}: cannot load weights from {path} ({exc}); the folder must hold "
                                       f"{files}{f'; check {config_key}' if config_key else ''}") from exc
    try:
        return _quietly(loader, what, name_or_path, local_files_only=True)
    except (OSError, ValueError):
        pass
    if os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0") or not hub_reachable():
        raise WeightsNotFoundError(
            f"{what}: {name_or_path!r} is not in the local Hugging Face cache and the hub cannot be reached "
            f"(offline); download https://huggingface.co/{name_or_path} on a connected machine and "
            f"{set_it}, or use weights: random")
    try:
        return _quietly(loader, what, name_or_path)
    except (OSError, ValueError) as exc:
        raise WeightsNotFoundError(
            f"{what}: cannot load {name_or_path!r} from the Hugging Face hub or its local cache ({exc}); "
            f"download https://huggingface.co/{name_or_path} and {set_it}, "
            f"or use weights: random") from exc


def hub_reachable(endpoint: str | None = None, timeout: float = 3.0) -> bool:
    """Whether the hub (`HF_ENDPOINT`, default https://huggingface.co) answers an HTTP request
    within `timeout` s, name lookup included. Any HTTP status counts as an answer; a refused or
    hanging connection (or one a firewall accepts but never answers) does not."""
    import threading
    import urllib.error
    import urllib.request

    if endpoint is None:
        from huggingface_hub import constants

        endpoint = constants.ENDPOINT
    ok: list[bool] = []

    def probe():
        try:
            urllib.request.urlopen(urllib.request.Request(endpoint, method="HEAD"), timeout=timeout).close()
            ok.append(True)
        except urllib.error.HTTPError:  # an HTTP status: the hub (or a proxy in front of it) answered
            ok.append(True)
        except (OSError, ValueError):
            pass

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)  # a hanging name lookup counts as unreachable
    return bool(ok)


class MissingWeightsWarning(UserWarning):
    """A pretrained checkpoint lacked some of the model's weights: they keep their random init."""


def _quietly(loader: Callable[..., object], what: str, *args, **kwargs):
    """`loader(...)` with transformers' log held back for the load (its handlers restored after).

    Holds back the loading report and config notes (transformers logs them at warning level: the
    table of unused checkpoint keys, MusicGen's pad/bos id 2048 outside the 2048-code vocabulary).
    Real problems still show: Python warnings pass through, weights the checkpoint lacks are a
    `MissingWeightsWarning`, and a failed load is a WeightsNotFoundError that carries the report
    the error refers to (e.g. tensors of another shape)."""
    from transformers import PreTrainedModel

    owner = getattr(loader, "__self__", None)  # a model class's from_pretrained reports missing weights
    report = isinstance(owner, type) and issubclass(owner, PreTrainedModel)
    with _held_transformers_log() as held:
        try:
            out = loader(*args, **({"output_loading_info": True} if report else {}), **kwargs)
        except RuntimeError as exc:
            raise WeightsNotFoundError(f"{what}: cannot load {args[0]}: {exc} (transformers' report follows; "
                                       f"is it the right checkpoint?)\n{_plain(held)}") from exc
    if not report:
        return out
    model, info = out
    missing = sorted(info.get("missing_keys") or [])
    if missing:
        import warnings

        warnings.warn(f"{what}: the checkpoint {args[0]} has no weights for {len(missing)} tensors of "
                      f"{type(model).__name__} (first: {', '.join(missing[:3])}); they keep random values. "
                      "Is it the right checkpoint?", MissingWeightsWarning, stacklevel=3)
    return model


@contextlib.contextmanager
def _held_transformers_log() -> Iterator[list[str]]:
    """transformers' log records of the block, collected instead of printed; the library logger's
    handlers, level and propagation restored after."""
    import logging

    logger = logging.getLogger("transformers")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    held: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            held.append(record.getMessage())

    for h in saved[0]:
        logger.removeHandler(h)
    logger.addHandler(Collect(logging.WARNING))
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    try:
        yield held
    finally:
        for h in list(logger.handlers):
            logger.removeHandler(h)
        for h in saved[0]:
            logger.addHandler(h)
        logger.setLevel(saved[1])
        logger.propagate = saved[2]


def _plain(lines: list[str]) -> str:
    """Log lines without terminal colour codes."""
    import re

    text = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(lines))
    return "\n".join(line.rstrip() for line in text.splitlines())


def weights_identity(name_or_path: str) -> str:
    """Cache-key identity of transformers weights: the hub id, or a local folder's weight files."""
    path = Path(name_or_path).expanduser()
    if not path.is_dir():
        return name_or_path
    files = sorted(p for p in path.iterdir() if p.suffix in (".safetensors", ".bin", ".json"))
    return ";".join(file_identity(p) for p in files) or str(path.resolve())
