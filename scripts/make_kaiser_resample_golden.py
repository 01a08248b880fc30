"""Make tests/metrics/golden/resample_kaiser_torchaudio.npz: fadtk 1.1.0's resampler
(``torchaudio.transforms.Resample(orig, new, lowpass_filter_width=64, rolloff=0.9475937167399596,
resampling_method="sinc_interp_kaiser", beta=14.769656459379492)``, fadtk/fad.py ``load_audio``) on
seeded signals, which metrics.embedders.encodec.resample_kaiser must reproduce.

Run with the reference environment's Python (it has torchaudio 2.11, pure-Python resampling)::

    $(bash scripts/reference_env.sh | tail -1)/bin/python scripts/make_kaiser_resample_golden.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
import torchaudio

OUT = Path(__file__).resolve().parent.parent / "tests" / "metrics" / "golden" / "resample_kaiser_torchaudio.npz"
KAISER = dict(lowpass_filter_width=64, rolloff=0.9475937167399596, resampling_method="sinc_interp_kaiser",
              beta=14.769656459379492)
# (orig, new, seed, n_samples): the fadtk samples are 48 kHz Opus; WAVs of the protocol are 32 kHz
CASES = [(48000, 24000, 0, 4801), (32000, 24000, 1, 3203), (44100, 24000, 2, 4411), (32000, 48000, 3, 1601),
         (16000, 24000, 4, 1603)]


def signal(seed: int, n: int, sr: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sr
    return (0.3 * rng.standard_normal(n) + 0.5 * np.sin(2 * np.pi * (440.0 + 100 * seed) * t)).astype(np.float32)


def main() -> int:
    arrays = {"torch_version": np.array(torch.__version__), "torchaudio_version": np.array(torchaudio.__version__)}
    for i, (orig, new, seed, n) in enumerate(CASES):
        x = signal(seed, n, orig)
        y = torchaudio.transforms.Resample(orig, new, **KAISER)(torch.from_numpy(x)[None])[0].numpy()
        arrays[f"case{i}_rates"] = np.array([orig, new, seed])
        arrays[f"case{i}_input"] = x
        arrays[f"case{i}_output"] = y
        print(f"case{i}: {orig}->{new}: {n} -> {y.shape[0]} samples")
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT} (torch {torch.__version__}, torchaudio {torchaudio.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
