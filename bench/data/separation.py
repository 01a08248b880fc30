"""Vocal separation for the reference music: a pluggable `Separator` and a registry of them.

A separator takes a waveform and gives back its accompaniment (the music without the
singing voice) with the same shape and rate:

    separate(audio: np.ndarray, sample_rate: int) -> np.ndarray

`audio` is float32, 1-D (mono) or (samples, channels) as `core.media.read_audio` gives it.

Registered here:
- `none`: identity, always available (AIST++'s music has no vocals).
- `demucs`: Hybrid Transformer Demucs (Rouard, Massa & Défossez 2023) from the `demucs` package
  (4.1.0 runs on torch 2.14 without torchaudio; install it with the `separation` extra). The
  paper used tsurumeso/vocal-remover, which is not packaged; htdemucs is the stronger, packaged
  and offline-loadable model. Weights are read from a local path only (never downloaded here).

Third-party separators register with `register_separator(name, factory)`, where
`factory(weights_path=None, **options)` returns an object with a `separate` method.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Protocol, runtime_checkable

import numpy as np

from core.media import resample
from core.errors import DatasetError, UnknownNameError, WeightsNotFoundError


@runtime_checkable
class Separator(Protocol):
    name: str

    def separate(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Return the accompaniment of `audio`: same shape, same rate, float32."""
        ...


class SeparatorWeightsError(DatasetError, WeightsNotFoundError):
    """The separator's weights file is missing (a DatasetError and a WeightsNotFoundError)."""


class IdentitySeparator:
    """`none`: the audio as it is (for music without vocals, or already separated)."""

    name = "none"

    def __init__(self, weights_path: str | os.PathLike | None = None, **options):
        if options:
            raise DatasetError(f"separator 'none' takes no options, got {sorted(options)}")

    def separate(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        return np.asarray(audio, dtype=np.float32)

    def describe(self) -> dict:
        return {"name": self.name}


HTDEMUCS_FILE = "955717e8-8726e21a.th"
HTDEMUCS_URL = "https://dl.fbaipublicfiles.com/demucs/hybrid_transformer/" + HTDEMUCS_FILE
HTDEMUCS_HF = "https://huggingface.co/adefossez/HTDemucs (955717e8.safetensors)"


class DemucsSeparator:
    """`demucs`: accompaniment = the sum of every stem but `vocals`.

    weights_path: one of
      - a single-model package `.th` as the demucs project publishes them (htdemucs:
        `955717e8-8726e21a.th`),
      - a `.safetensors` file of the HuggingFace export (`adefossez/HTDemucs`),
      - a folder holding `<model>.yaml` (a bag of models, e.g. `htdemucs_ft.yaml`) and its
        `.th` files, loaded as a demucs local repo.
    Separation is deterministic (no random time shifts). `device=None` picks CUDA when present.
    """

    name = "demucs"

    def __init__(self, weights_path: str | os.PathLike | None = None, *, model: str = "htdemucs",
                 device: str | None = None, segment: float | None = None, overlap: float = 0.25,
                 shifts: int = 0, stem: str = "vocals"):
        self.weights_path = _check_weights(weights_path, model)
        self.model_name, self.device, self.segment = model, device, segment
        self.overlap, self.shifts, self.stem = float(overlap), int(shifts), stem
        _import_demucs()  # fail now, before any work, when the extra is not installed
        self._model = None

    def describe(self) -> dict:
        d = {"name": self.name, "weights": str(self.weights_path), "overlap": self.overlap,
             "shifts": self.shifts, "stem": self.stem, "segment": self.segment}
        if self.weights_path.is_dir():
            d["model"] = self.model_name
        return d

    # -- model -------------------------------------------------------------------------------
    def _load(self):
        if self._model is not None:
            return self._model
        import torch

        demucs = _import_demucs()
        path = self.weights_path
        try:
            if path.is_dir():
                model = demucs.pretrained.get_model(self.model_name, repo=path)
            elif path.suffix == ".safetensors":
                model = demucs.hf.load_safetensors_model(path)
            else:
                model = demucs.states.load_model(path)
        except SystemExit as exc:  # demucs' `fatal` exits; turn it into a named error
            raise DatasetError(f"{path}: demucs could not load model {self.model_name!r} ({exc})") from exc
        except Exception as exc:
            raise DatasetError(
                f"{path}: not a demucs model ({type(exc).__name__}: {exc}); expected {HTDEMUCS_FILE} "
                f"from {HTDEMUCS_URL}, a .safetensors file from {HTDEMUCS_HF}, or a folder with "
                f"{self.model_name}.yaml and its .th files"
            ) from exc
        if self.stem not in model.sources:
            raise DatasetError(f"{path}: the model's stems are {list(model.sources)}, no {self.stem!r}")
        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        model.eval()
        self._device = torch.device(device)
        self._model = model
        return model

    def separate(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        import torch

        model = self._load()
        demucs = _import_demucs()
        x = np.asarray(audio, dtype=np.float32)
        mono_in = x.ndim == 1
        chans = x[:, None] if mono_in else x
        n_in, c_in = chans.shape
        if n_in == 0:
            return x.copy()
        # To the model's channel count (2): mono is duplicated, more channels are mixed down.
        want = int(model.audio_channels)
        if c_in == want:
            wav = chans
        elif c_in == 1:
            wav = np.repeat(chans, want, axis=1)
        else:
            wav = np.repeat(chans.mean(axis=1, keepdims=True), want, axis=1)
        wav = resample(wav, sample_rate, int(model.samplerate))
        t = torch.from_numpy(np.ascontiguousarray(wav.T))
        ref = t.mean(0)
        mean, std = ref.mean(), ref.std() + 1e-8
        with torch.no_grad():
            out = demucs.apply.apply_model(model, ((t - mean) / std)[None], shifts=self.shifts, split=True,
                                           overlap=self.overlap, device=self._device, segment=self.segment,
                                           progress=False)[0]
        keep = [i for i, s in enumerate(model.sources) if s != self.stem]
        acc = (out[keep].sum(0) * std + mean).cpu().numpy().T  # (samples, model channels)
        acc = resample(np.ascontiguousarray(acc, dtype=np.float32), int(model.samplerate), sample_rate)
        if mono_in or c_in != want:
            acc = acc.mean(axis=1)
            acc = acc if mono_in else np.repeat(acc[:, None], c_in, axis=1)
        acc = acc[:n_in]
        if acc.shape[0] < n_in:
            acc = np.pad(acc, [(0, n_in - acc.shape[0])] + [(0, 0)] * (acc.ndim - 1))
        return acc.astype(np.float32, copy=False)


def _check_weights(weights_path, model: str) -> Path:
    hint = (f"download {HTDEMUCS_FILE} from {HTDEMUCS_URL} (or {HTDEMUCS_HF}) and set "
            "dataset.params.separator_weights=/path/to/" + HTDEMUCS_FILE)
    if weights_path is None or str(weights_path).strip() in ("", "None", "null"):
        raise SeparatorWeightsError(f"the demucs separator needs local weights: {hint}")
    path = Path(os.path.expanduser(str(weights_path)))
    if not path.exists():
        raise SeparatorWeightsError(f"{path}: demucs weights not found; {hint}")
    if path.is_dir() and not (path / f"{model}.yaml").exists() and not any(path.glob("*.th")):
        raise SeparatorWeightsError(f"{path}: no {model}.yaml or .th file in this folder; {hint}")
    return path


def _import_demucs():
    try:
        import demucs.apply
        import demucs.hf
        import demucs.pretrained
        import demucs.states
    except ImportError as exc:
        raise DatasetError(
            f"the demucs separator needs the `demucs` package ({exc}); install it with "
            "`pip install 'dyvim-bench[separation]'` (demucs>=4.1 needs no torchaudio), "
            "or prepare with dataset.params.separator=none"
        ) from exc
    return demucs


SEPARATORS: dict[str, Callable[..., Separator]] = {
    "none": IdentitySeparator,
    "demucs": DemucsSeparator,
}

# The real separator the music-video datasets (SymMV, BGM909) use by default.
DEFAULT_SEPARATOR = "demucs"


def register_separator(name: str, factory: Callable[..., Separator]) -> None:
    SEPARATORS[name] = factory


def make_separator(name: str | Separator | None = "none", weights_path: str | os.PathLike | None = None,
                   **options) -> Separator:
    """Build a registered separator by name (an object with `separate` is returned as is)."""
    if name is None:
        name = "none"
    if not isinstance(name, str):
        if not hasattr(name, "separate"):
            raise DatasetError(f"{name!r} is not a separator (no `separate` method)")
        return name
    if name not in SEPARATORS:
        raise UnknownNameError("separator", name, list(SEPARATORS))
    return SEPARATORS[name](weights_path=weights_path, **options)


def describe(separator: Separator) -> dict:
    d = getattr(separator, "describe", None)
    return d() if callable(d) else {"name": getattr(separator, "name", type(separator).__name__)}
