"""Regenerate tests/metrics/golden/fad_golden.json: the reference FAD on seeded clips and weights.

audioldm_eval 0.0.3 loads VGGish through ``torch.hub.load("harritaylor/torchvggish", "vggish")``,
code that CI cannot download, so its FAD is computed once, here, and committed as a golden value;
tests/metrics/test_parity.py recomputes our FAD from the same seeds and compares. Nothing binary
is committed: the clips and the VGGish weight files are recreated from the seeds by the
functions below (also imported by the test), with NumPy's legacy ``RandomState`` stream, which
NumPy keeps bit-stable across versions, so the same seeds give the same bytes whatever torch.

    python scripts/make_fad_golden.py --torchvggish /path/to/torchvggish [--work DIR] [--out JSON]

``--torchvggish`` is the harritaylor/torchvggish repository: a git directory (the files of commit
f3f9096 are taken with ``git archive``) or a checkout of that commit (a folder with hubconf.py).
It is placed as ``$TORCH_HOME/hub/harritaylor_torchvggish_master/``, the seeded weights as
``$TORCH_HOME/hub/checkpoints/vggish-10086976.pth`` and ``vggish_pca_params-970ea276.pth`` (the
names torch.hub derives from the official URLs), and ``scripts/reference_eval.py --metrics fad``
runs the reference in the side environment (``scripts/reference_env.sh``).

Weight files in the official formats: ``vggish-10086976.pth`` is a torch-saved state dict of
float32 tensors for torchvggish's ``VGG`` (features.{0,3,6,8,11,13}, embeddings.{0,2,4});
``vggish_pca_params-970ea276.pth`` a torch-saved dict of NumPy float64 arrays
``pca_eigen_vectors`` (128×128) and ``pca_means`` (128,), which the hub code converts with
``torch.as_tensor`` (the reference loads it but switches PCA off). Values: He-uniform weights
(U(±√(6/fan_in))) and small uniform biases, so activations neither die nor blow up.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections import OrderedDict
from io import BytesIO
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "metrics" / "golden" / "fad_golden.json"
TORCHVGGISH_COMMIT = "f3f90969ce8fb77a05d984b892ddf662e8466377"
HUB_DIR_NAME = "harritaylor_torchvggish_master"
VGGISH_FILE = "vggish-10086976.pth"
VGGISH_PCA_FILE = "vggish_pca_params-970ea276.pth"

# the committed golden's recipe (changing any of these needs a new golden)
CLIPS = {"n": 20, "duration_s": 10.0, "sample_rate": 32000, "seed_generated": 101, "seed_reference": 202}
VGGISH_SEED = 7


# ---------------------------------------------------------------------------------- clips
def clip_signal(seed: int, index: int, family: str, sample_rate: int, duration_s: float) -> np.ndarray:
    """One clip as int16: harmonic tones with slow amplitude modulation, a decaying click train
    at a random tempo, and white noise, at a random level.

    The two families differ in pitch range, harmonic content, tempo and noise level, so the two
    sets are clearly apart (a FAD well above its rounding noise); within a family, levels and
    mixtures vary widely so the clips' embeddings and label distributions differ (an Inception
    Score away from 1). Only RandomState draws, arithmetic and ``np.sin`` / ``np.exp`` (float64)
    are used; the int16 rounding absorbs ulp-level differences between platforms.
    """
    rng = np.random.RandomState([seed, index])
    n = int(round(sample_rate * duration_s))
    t = np.arange(n, dtype=np.float64) / sample_rate
    lo, hi, noise, bpm = {"generated": (110.0, 880.0, 0.01, (60.0, 120.0)),
                          "reference": (220.0, 2500.0, 0.04, (100.0, 180.0))}[family]
    x = np.zeros(n)
    for _ in range(rng.randint(1, 7)):
        f0 = lo * (hi / lo) ** rng.uniform()
        amp = rng.uniform(0.02, 0.3)
        rate, depth, phase = rng.uniform(0.2, 3.0), rng.uniform(0.0, 0.9), rng.uniform(0, 2 * np.pi)
        envelope = 1.0 - depth * 0.5 * (1.0 + np.sin(2 * np.pi * rate * t + phase))
        for h in range(1, rng.randint(2, 5) + (family == "reference")):
            if f0 * h < sample_rate / 2.5:
                x += amp / h * envelope * np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 2 * np.pi))
    period = 60.0 / rng.uniform(*bpm)
    clicks = rng.uniform(0.0, 0.6) * np.exp(-np.mod(t, period) * rng.uniform(20.0, 200.0))
    x += clicks * np.sin(2 * np.pi * rng.uniform(60.0, 4000.0) * t)
    x += noise * 10.0 ** rng.uniform(-1.0, 1.0) * rng.standard_normal(n)
    x *= 10.0 ** rng.uniform(-1.5, -0.05) / max(np.abs(x).max(), 1e-9)
    return np.round(x * 32767.0).astype(np.int16)


def clip_names(n: int) -> list[str]:
    return [f"clip{k:03d}.wav" for k in range(n)]


def write_clips(folder: Path, family: str, seed: int, n: int, sample_rate: int, duration_s: float) -> str:
    """Write the n clips of one set as 16-bit PCM wavs; returns the sha256 of their samples."""
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    for k, name in enumerate(clip_names(n)):
        pcm = clip_signal(seed, k, family, sample_rate, duration_s)
        digest.update(pcm.tobytes())
        sf.write(folder / name, pcm, sample_rate, subtype="PCM_16")
    return digest.hexdigest()


def write_clip_sets(root: Path, recipe: dict = CLIPS) -> dict:
    """generated/ and reference/ folders (same file names: the reference pairs by name)."""
    hashes = {}
    for family in ("generated", "reference"):
        hashes[family] = write_clips(root / family, family, recipe[f"seed_{family}"], recipe["n"],
                                     recipe["sample_rate"], recipe["duration_s"])
    return {"generated": root / "generated", "reference": root / "reference", "sha256": hashes}


# ------------------------------------------------------------------------- VGGish weights
def vggish_state(seed: int) -> tuple["OrderedDict[str, np.ndarray]", dict[str, np.ndarray]]:
    """Seeded VGGish state dict (float32 arrays) and PCA params (float64 arrays)."""
    from metrics.embedders.vggish import informative_random_state

    rng = np.random.RandomState(seed)
    state = informative_random_state(rng)  # the embedder's own seeded init (same draws as before)
    # an orthogonal matrix without LAPACK (a QR's bits differ between BLAS builds): a signed
    # permutation. The reference loads these parameters but never applies them (PCA off).
    q = np.eye(128)[rng.permutation(128)] * np.where(rng.random_sample(128) < 0.5, -1.0, 1.0)
    pca = {"pca_eigen_vectors": q.T.copy(), "pca_means": 0.1 * rng.standard_normal(128)}
    return state, pca


def state_digest(arrays) -> str:
    """sha256 over names, shapes, dtypes and bytes: equal for equal weights, whatever torch wrote."""
    digest = hashlib.sha256()
    for name, a in arrays:
        a = np.ascontiguousarray(a)
        digest.update(f"{name}{a.shape}{a.dtype}".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def write_vggish_weights(checkpoints: Path, seed: int = VGGISH_SEED) -> dict:
    """Write both VGGish files under `checkpoints` in the official formats; returns paths + digests."""
    import torch

    checkpoints.mkdir(parents=True, exist_ok=True)
    state, pca = vggish_state(seed)
    torch.save(OrderedDict((k, torch.from_numpy(v)) for k, v in state.items()), checkpoints / VGGISH_FILE)
    torch.save(pca, checkpoints / VGGISH_PCA_FILE)
    return {"vggish": checkpoints / VGGISH_FILE, "pca_params": checkpoints / VGGISH_PCA_FILE,
            "sha256": {"vggish": state_digest(state.items()), "pca_params": state_digest(sorted(pca.items()))}}


# ------------------------------------------------------------------- torchvggish hub code
def install_torchvggish(source: Path, torch_home: Path, commit: str = TORCHVGGISH_COMMIT) -> Path:
    """Put the torchvggish code of `commit` at $TORCH_HOME/hub/harritaylor_torchvggish_master/."""
    dest = torch_home / "hub" / HUB_DIR_NAME
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    if (source / "hubconf.py").is_file():
        shutil.copytree(source, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".git"))
    else:  # a git directory (bare mirror or .git)
        blob = subprocess.run(["git", "--git-dir", str(source), "archive", "--format=tar", commit],
                              check=True, capture_output=True).stdout
        with tarfile.open(fileobj=BytesIO(blob)) as tar:
            tar.extractall(dest, filter="data")
    if not (dest / "hubconf.py").is_file():
        raise SystemExit(f"{source}: no hubconf.py at commit {commit}; pass the harritaylor/torchvggish repo")
    return dest


def reference_python() -> str:
    """The side environment's python (built or reused by scripts/reference_env.sh)."""
    out = subprocess.run(["bash", str(ROOT / "scripts" / "reference_env.sh")], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return str(Path(out.strip().splitlines()[-1]) / "bin" / "python")


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--torchvggish", required=True, type=Path,
                   help=f"harritaylor/torchvggish: git dir (commit {TORCHVGGISH_COMMIT[:7]} is used) or checkout")
    p.add_argument("--work", type=Path, help="keep the clips, weights and TORCH_HOME here (default: temp)")
    p.add_argument("--out", type=Path, default=GOLDEN)
    args = p.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="fad-golden-") as tmp:
        work = (args.work or Path(tmp)).resolve()
        clips = write_clip_sets(work / "clips")
        torch_home = work / "torch_home"
        weights = write_vggish_weights(torch_home / "hub" / "checkpoints")
        install_torchvggish(args.torchvggish.resolve(), torch_home)
        cmd = [reference_python(), str(ROOT / "scripts" / "reference_eval.py"),
               "--generated", str(clips["generated"]), "--reference", str(clips["reference"]),
               "--torch-home", str(torch_home), "--metrics", "fad",
               "--save-features", str(work / "reference_features.npz")]
        print("+", " ".join(cmd), file=sys.stderr)
        result = json.loads(subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True,
                                           env={**os.environ, "PYTHONHASHSEED": "0"}).stdout)
        if result["fad"] is None or result["fad"] < 0:
            raise SystemExit(f"the reference FAD failed ({result['fad']}); see its output above")
        feats = np.load(work / "reference_features.npz")
        golden = {
            "fad": result["fad"],
            "reference": "audioldm_eval 0.0.3 FrechetAudioDistance(use_pca=False, use_activation=False)"
                         ".score(generated, reference), via scripts/reference_eval.py --metrics fad",
            "torchvggish_commit": TORCHVGGISH_COMMIT,
            "clips": {**CLIPS, "subtype": "PCM_16", "names": "clip000.wav …", "sha256_samples": clips["sha256"]},
            "vggish_weights": {"seed": VGGISH_SEED, "files": [VGGISH_FILE, VGGISH_PCA_FILE],
                               "sha256_arrays": weights["sha256"]},
            # order-free summaries of the reference's VGGish frames, for diagnosing a mismatch
            "frames": {side: {"n": int(feats[f"fad_{side}"].shape[0]),
                              "mean_of_mean": float(feats[f"fad_{side}"].astype(np.float64).mean()),
                              "trace_cov": float(np.trace(np.cov(feats[f"fad_{side}"], rowvar=False)))}
                       for side in ("generated", "reference")},
            "environment": result["versions"],
            "seconds": result["seconds"],
            "regenerate": "python scripts/make_fad_golden.py --torchvggish <harritaylor/torchvggish git dir>",
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(golden, indent=2) + "\n")
    print(json.dumps({"fad": golden["fad"], "out": str(args.out)}))
    return golden


if __name__ == "__main__":
    main()
