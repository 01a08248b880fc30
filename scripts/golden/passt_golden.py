"""Golden PaSST values made by the real code: stable-audio-metrics' ``return_probabilities``
(src/passt_kld.py at fd55536cc812c460ecc421220864993c7f168184) running hear21passt 0.0.26's
``get_basic_model(mode="logits")`` loaded from a seeded random weight file in the official layout.

Side environment (no torch download: the project venv's site-packages through a .pth file):

    python3 -m venv /tmp/sideenv-passt
    echo /work/main/.venv/lib/python3.11/site-packages > /tmp/sideenv-passt/lib/python3.11/site-packages/dyvim.pth
    /tmp/sideenv-passt/bin/pip install --no-deps hear21passt==0.0.26 torchaudio==2.11.0
    /tmp/sideenv-passt/bin/pip install pyloudnorm librosa tqdm
    # stable-audio-metrics' src/passt_kld.py copied (not vendored) to /tmp/sideenv-passt/sam/src/
    /tmp/sideenv-passt/bin/python scripts/golden/passt_golden.py --out tests/metrics/golden/passt_golden.npz

What is substituted, and only that: hear21passt downloads its weights through timm's
``download_cached_file`` (imported into hear21passt's vit_helpers); here that name returns the local
random weight file. ``torch.Tensor.cuda`` is the identity (the reference assumes a GPU). The embedding
(768-d features) is read by wrapping the hear21passt model so that it computes ``mode="all"``
(logits ‖ features) once per window and returns the logits to the reference code.

``--time`` instead prints the seconds the reference takes for the given files (perf_line).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
SAM_SRC = Path(os.environ.get("SAM_SRC", "/tmp/sideenv-passt/sam"))
#: audiocraft's audiocraft/data/audio_utils.py and audiocraft/metrics/kld.py (commit
#: 896ec7c47f5e5d1e5aa1e4b260c4405328bf009d) under this folder; the rest of audiocraft is not imported
AUDIOCRAFT_SRC = Path(os.environ.get("AUDIOCRAFT_SRC", "/tmp/sideenv-passt/audiocraft"))
SEED = 0


def make_audio(folder: Path) -> dict[str, Path]:
    """Seeded test clips (written as 16-bit WAV): tones + noise bursts at several rates, lengths
    and channel counts, covering one window, overlapping windows, a padded last window, an unpadded
    short window and resampling."""
    import soundfile as sf

    rng = np.random.RandomState(1234)
    specs = {"tone_10s_32k": (32000, 10.0, 1), "mix_15s_44k_stereo": (44100, 15.0, 2),
             "noise_12s_48k": (48000, 12.0, 1), "short_1s_16k": (16000, 1.0, 1), "chirp_3s_32k": (32000, 3.0, 1)}
    out = {}
    for name, (sr, dur, ch) in specs.items():
        t = np.arange(int(sr * dur)) / sr
        f0 = rng.uniform(100, 1000)
        x = 0.3 * np.sin(2 * np.pi * f0 * t * (1 + 0.5 * t / dur))
        env = (rng.uniform(size=int(dur * 4) + 1) > 0.5).repeat(sr // 4 + 1)[: t.size]
        x = x + 0.2 * env * rng.standard_normal(t.size)
        if ch == 2:
            x = np.stack([x, 0.5 * x + 0.1 * rng.standard_normal(t.size)], axis=1)
        path = folder / f"{name}.wav"
        sf.write(path, np.clip(x, -1, 1).astype(np.float32), sr, subtype="PCM_16")
        out[name] = path
    return out


def state_digest(state) -> str:
    """sha256 over a state dict's names and float32 bytes (torch.save's bytes vary run to run)."""
    import hashlib

    h = hashlib.sha256()
    for k in sorted(state):
        h.update(k.encode())
        h.update(np.ascontiguousarray(state[k].float().numpy()).tobytes())
    return h.hexdigest()


def reference_model(weights: Path):
    """hear21passt's get_basic_model(mode="logits") with `weights` as its downloaded file."""
    import contextlib
    import io

    from hear21passt.models.helpers import vit_helpers

    vit_helpers.download_cached_file = lambda url, check_hash=False, progress=False: str(weights)
    with contextlib.redirect_stdout(io.StringIO()):
        from hear21passt.base import get_basic_model

        return get_basic_model(mode="logits")


def audiocraft_metric():
    """audiocraft's PasstKLDivergenceMetric, its two source files loaded under their own module names
    (empty parent packages: audiocraft/__init__.py would import the whole library). Call after
    reference_model(), whose weight-file substitution it then shares."""
    import importlib.util
    import types

    for name in ("audiocraft", "audiocraft.data", "audiocraft.metrics"):
        pkg = types.ModuleType(name)
        pkg.__path__ = [str(AUDIOCRAFT_SRC / name.replace(".", "/"))]
        sys.modules[name] = pkg
    for name in ("audiocraft.data.audio_utils", "audiocraft.metrics.kld"):
        spec = importlib.util.spec_from_file_location(name, AUDIOCRAFT_SRC / (name.replace(".", "/") + ".py"))
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules["audiocraft.metrics.kld"].PasstKLDivergenceMetric()


def main() -> None:
    import torch

    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(REPO / "tests/metrics/golden/passt_golden.npz"))
    ap.add_argument("--time", action="store_true")
    ap.add_argument("--weights")
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.Tensor.cuda = lambda self, *a, **k: self  # the reference moves every window to a GPU
    torch.nn.Module.cuda = lambda self, *a, **k: self
    sys.path.insert(0, str(SAM_SRC))
    sys.path.insert(0, str(REPO))
    from src import passt_kld  # stable-audio-metrics

    tmp = Path(tempfile.mkdtemp())
    if args.weights:
        weights = Path(args.weights)
    else:
        from metrics.embedders.passt import save_random_weights

        weights = save_random_weights(tmp / "passt-s-f128-p16-s10-ap.476-swa.pt", seed=SEED)
    model = reference_model(weights)
    model.eval()

    class Recording(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner, self.features = inner, []

        def forward(self, x):
            self.inner.mode = "all"
            out = self.inner(x)
            self.features.append(out[:, 527:].squeeze(0))
            return out[:, :527]

    rec = Recording(model).eval()
    if args.time:
        t0 = time.perf_counter()
        for f in args.files:
            passt_kld.return_probabilities(rec, f, collect="mean")
        print(time.perf_counter() - t0)
        return
    clips = make_audio(tmp)
    result = {}
    for name, path in clips.items():
        rec.features = []
        probs = passt_kld.return_probabilities(rec, str(path), collect="mean")
        result[f"{name}/probs"] = probs.numpy().astype(np.float64)
        result[f"{name}/embedding"] = torch.stack(rec.features).mean(0).numpy().astype(np.float64)
        result[f"{name}/n_windows"] = np.array(len(rec.features))
    # audiocraft: per-segment label distributions of each clip as the metric's update() gets them
    import soundfile as sf

    metric = audiocraft_metric()
    for name, path in clips.items():
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
        x = torch.from_numpy(data.T.copy())[None]
        probs = metric._get_label_distribution(x, torch.tensor([x.shape[-1]]), torch.tensor([sr]))
        result[f"{name}/audiocraft_probs"] = probs.numpy().astype(np.float64)
    result["weights_digest"] = np.array(state_digest(torch.load(weights)))
    np.savez_compressed(args.out, **result)
    print("wrote", args.out, {k: v.shape for k, v in result.items()})


if __name__ == "__main__":
    main()
