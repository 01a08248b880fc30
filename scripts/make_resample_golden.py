"""Make tests/metrics/golden/resample_torchaudio.npz: torchaudio.functional.resample outputs that
metrics.preprocess.resample_sinc must reproduce (≤ 1e-6 abs).

Run with a Python that has torchaudio (it cannot be installed beside this project's torch), e.g.:

    python3 -m venv /tmp/ta && /tmp/ta/bin/pip install torch==2.13.0 numpy
    /tmp/ta/bin/pip install torchaudio==2.11.0 --no-deps      # the newest on PyPI at the time
    rm /tmp/ta/lib/python3*/site-packages/torchaudio/lib/*.so  # CUDA-linked; resample is pure torch
    /tmp/ta/bin/python scripts/make_resample_golden.py

Stored per case: the input signal (so the test does not depend on numpy's RNG), the rates and the
output. Inputs are seeded: 0.3·N(0,1) noise plus a sine, odd lengths so the ceil() of the output
length matters.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
import torchaudio
import torchaudio.functional as F

OUT = Path(__file__).resolve().parent.parent / "tests" / "metrics" / "golden" / "resample_torchaudio.npz"

# (orig, new, seed, n_samples, dtype)
CASES = [
    (32000, 16000, 0, 3201, "float32"),
    (32000, 16000, 1, 1999, "float32"),
    (44100, 16000, 2, 4411, "float32"),
    (44100, 16000, 3, 2205, "float64"),
    (22050, 16000, 4, 2207, "float32"),
    (48000, 32000, 5, 4801, "float32"),
    (48000, 32000, 6, 77, "float32"),
    (16000, 16000, 7, 1601, "float32"),
    (16000, 32000, 8, 1603, "float32"),
]


def signal(seed: int, n: int, sr: int, dtype: str) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sr
    x = 0.3 * rng.standard_normal(n) + 0.5 * np.sin(2 * np.pi * (440.0 + 100 * seed) * t)
    return x.astype(dtype)


def main() -> int:
    arrays = {"torch_version": np.array(torch.__version__), "torchaudio_version": np.array(torchaudio.__version__)}
    for i, (orig, new, seed, n, dtype) in enumerate(CASES):
        x = signal(seed, n, orig, dtype)
        y = F.resample(torch.from_numpy(x)[None], orig, new)[0].numpy()
        arrays[f"case{i}_rates"] = np.array([orig, new, seed])
        arrays[f"case{i}_input"] = x
        arrays[f"case{i}_output"] = y
        print(f"case{i}: {orig}->{new} seed {seed} {dtype}: {n} -> {y.shape[0]} samples")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT} (torch {torch.__version__}, torchaudio {torchaudio.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
