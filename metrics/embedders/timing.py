"""What the embedders' `bench perf metrics` lines share: one embedder timed over files, and the
golden fixture a hook compares against (the golden script's clip, its seeded weight file, the
golden values the peer tool's own code made)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def build(emb) -> None:
    """Build everything `emb`'s first embedding would (its network, and an inference copy where it
    keeps one: the embedder's `build()`), so that a timing measures embedding only."""
    builder = getattr(emb, "build", None)
    if builder is not None:
        builder()
    else:
        _ = emb.model


def seconds_per_10s_file(emb, files: Sequence[str | os.PathLike], sample_rate: int) -> float:
    """Seconds `emb` takes per 10 s of audio over `files` (its model built first, untimed; one torch
    thread; the caller's thread count restored). `emb` has `model`, `load(path)` and `embed_waveform`."""
    import time

    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        build(emb)
        t0 = time.perf_counter()
        seconds = 0.0
        for f in files:
            audio = emb.load(f)
            seconds += audio.shape[0] / sample_rate
            emb.embed_waveform(audio)
        return (time.perf_counter() - t0) / max(seconds, 1e-9) * 10
    finally:
        torch.set_num_threads(threads)


def golden_script(name: str):
    """scripts/golden/<name>_golden.py as a module (its seeded clips, seeds and helpers)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"_{name}_golden", ROOT / "scripts/golden" / f"{name}_golden.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def golden_fixture(name: str, weights_file: str, save_random_weights: Callable, keep: Path | None, prefix: str):
    """(the golden script as a module, the work folder, its 10-s clip, the seeded weight file written
    there, the golden values) for embedder `name` (scripts/golden/<name>_golden.py,
    tests/metrics/golden/<name>_golden.npz)."""
    import tempfile

    script = golden_script(name)
    folder = Path(keep) if keep else Path(tempfile.mkdtemp(prefix=prefix))
    folder.mkdir(parents=True, exist_ok=True)
    clip = script.make_audio(folder)["tone_10s_32k"]
    weights = save_random_weights(folder / weights_file, seed=script.SEED)
    golden = np.load(ROOT / "tests/metrics/golden" / f"{name}_golden.npz")
    return script, folder, clip, weights, golden
