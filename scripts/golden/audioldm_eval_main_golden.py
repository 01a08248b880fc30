"""Golden values for the ``audioldm_eval-main`` preset, made once by audioldm_eval GitHub main's
own code (haoheliu/audioldm_eval at 8dc07ee).

    python scripts/golden/audioldm_eval_main_golden.py --src /path/to/audioldm_eval --work /tmp/aem

runs ``EvaluationHelper.calculate_metrics(generated, reference, same_name=True, recalculate=True)``
from main's eval.py, unchanged: its WaveDataset and DataLoader read the files, its
``get_featuresdict`` stacks MERT's hidden states, its ``calculate_kl`` / ``calculate_isc`` /
``calculate_fid`` score them and its ``FrechetAudioDistance.score`` gives FAD; then its
``calculate_kid`` (commented out in eval.py) on the feature caches it wrote. Once as
``EvaluationHelper(16000)`` (timed: ``bench perf metrics``' peer time) and once as
``EvaluationHelper(32000)``. Writes tests/metrics/golden/audioldm_eval_main_golden.json.

What stands in for what cannot be downloaded here (``EvaluationHelper.__init__`` is bypassed and
its attributes set as it sets them for ``backbone="mert"``):
- ``AutoModel.from_pretrained("m-a-p/MERT-v1-95M", trust_remote_code=True)``: the project's MERT
  model (transformers' HubertModel in MERT-v1-95M's shape; its parity with the MERT modeling code
  is scripts/golden/mert_golden.py's) with seeded random weights — the embedder's own
  ``weights="random", seed=0``;
- its ``Wav2Vec2FeatureExtractor``: transformers' own, built from the hub repo's
  preprocessor_config.json (``metrics.embedders.mert.PREPROCESSOR``);
- ``torch.hub.load("harritaylor/torchvggish", "vggish")``: the same hub code loaded from a local
  checkout (``--torchvggish``, commit f3f9096, ``source="local"``, ``pretrained=False``) with the
  seeded random state the ``vggish`` embedder uses (seed 0); main's own ``__get_model`` edits
  (postprocess off, last ReLU dropped) are applied as it applies them;
- ``torchaudio.load`` (torchcodec + FFmpeg libraries in torchaudio ≥ 2.9): scripts/reference_eval.py's
  soundfile reader, the same (channels × frames) float32 tensor;
- ``skimage.metrics`` and ``ssr_eval.metrics``: empty stand-ins (imported at the top of eval.py,
  used only for PSNR/SSIM/LSD, which calculate_metrics computes only on request).

Needs torchaudio (main's WaveDataset and T.Resample) beside the project's packages: run it with a
Python whose environment has both (e.g. a venv with a .pth to the project's site-packages plus
``pip install --no-deps torchaudio``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import types
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
GOLDEN = ROOT / "tests" / "metrics" / "golden" / "audioldm_eval_main_golden.json"
COMMIT = "8dc07ee"
#: the clip sets: make_fad_golden's seeded music-like clips, the reference at another rate
CLIPS = {"n": 10, "duration_s": 4.0, "rate_generated": 32000, "rate_reference": 22050,
         "seed_generated": 11, "seed_reference": 12}
SEED = 0  # the embedders' random weights (metric seed 0)


def _script(name: str):
    from importlib.util import module_from_spec, spec_from_file_location

    spec = spec_from_file_location(f"_{name}", ROOT / "scripts" / f"{name}.py")
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_fad_golden():
    return _script("make_fad_golden")


def write_clip_sets(root: Path, recipe: dict = CLIPS) -> dict:
    """generated/ and reference/ (the same file names, other rates); returns their samples' sha256."""
    golden = make_fad_golden()
    return {family: golden.write_clips(root / family, family, recipe[f"seed_{family}"], recipe["n"],
                                       recipe[f"rate_{family}"], recipe["duration_s"])
            for family in ("generated", "reference")}


def _stub_modules() -> None:
    skimage, metrics = types.ModuleType("skimage"), types.ModuleType("skimage.metrics")
    metrics.peak_signal_noise_ratio = metrics.structural_similarity = None
    skimage.metrics = metrics
    ssr, ssr_metrics = types.ModuleType("ssr_eval"), types.ModuleType("ssr_eval.metrics")
    ssr_metrics.AudioMetrics = None
    ssr.metrics = ssr_metrics
    sys.modules.update({"skimage": skimage, "skimage.metrics": metrics, "ssr_eval": ssr,
                        "ssr_eval.metrics": ssr_metrics})


def helper(src: Path, torchvggish_src: Path):
    """main's EvaluationHelper(16000, "cpu", backbone="mert") with the stand-ins above."""
    import torch
    import torchaudio.transforms as T
    from torch import nn
    from transformers import Wav2Vec2FeatureExtractor

    # hubconf imports the checkout's torchvggish/ (no __init__.py: a namespace package, which any
    # installed torchvggish would shadow), so that package is put in place first
    for name in [m for m in sys.modules if m.split(".")[0] == "torchvggish"]:
        del sys.modules[name]
    package = types.ModuleType("torchvggish")
    package.__path__ = [str(torchvggish_src / "torchvggish")]
    sys.modules["torchvggish"] = package
    vggish = torch.hub.load(str(torchvggish_src), "vggish", source="local", pretrained=False, device="cpu")
    _stub_modules()
    _script("reference_eval").install_soundfile_loader()
    sys.path.insert(0, str(src))
    from audioldm_eval.eval import EvaluationHelper
    from audioldm_eval.metrics.fad import FrechetAudioDistance
    from metrics.embedders.mert import PREPROCESSOR, MertEmbedder
    from metrics.embedders.vggish import informative_random_state

    h = EvaluationHelper.__new__(EvaluationHelper)
    h.device, h.backbone, h.sampling_rate = torch.device("cpu"), "mert", 16000
    fad = FrechetAudioDistance.__new__(FrechetAudioDistance)
    state = informative_random_state(np.random.RandomState(SEED))
    missing = vggish.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=False).missing_keys
    assert all(k.startswith("pproc.") for k in missing), missing  # the PCA buffers: unused with postprocess off
    # FrechetAudioDistance.__get_model(use_pca=False, use_activation=False), as written there
    vggish.postprocess = False
    vggish.embeddings = nn.Sequential(*list(vggish.embeddings.children())[:-1])
    vggish.eval()
    fad.model, fad.verbose, fad.audio_load_worker = vggish, False, 8
    h.frechet = fad
    h.mel_model = MertEmbedder("95M", weights="random", seed=SEED).model
    h.processor = Wav2Vec2FeatureExtractor(**PREPROCESSOR)
    h.target_sample_rate = h.processor.sampling_rate
    h.resampler = T.Resample(orig_freq=h.sampling_rate, new_freq=h.target_sample_rate)
    h.mel_model.eval()
    h.fbin_mean = h.fbin_std = None
    return h


def score(h, gen: str, ref: str) -> tuple[dict, dict, dict]:
    """main's calculate_metrics result, the calculate_kid eval.py has commented out (with its
    arguments) on the feature caches it wrote, and the generated set's features."""
    from audioldm_eval import calculate_kid
    from audioldm_eval.audio.tools import load_pickle

    result = h.calculate_metrics(gen, ref, same_name=True, recalculate=True)
    f1 = load_pickle(gen + "classifier_logits_feature_cache.pkl")
    f2 = load_pickle(ref + "classifier_logits_feature_cache.pkl")
    kid = calculate_kid(f1, f2, feat_layer_name="2048", subsets=100, subset_size=1000, degree=3, gamma=None,
                        coef0=1, rng_seed=2020)
    return ({k: float(v) for k, v in result.items() if np.isfinite(v)}, {k: float(v) for k, v in kid.items()}, f1)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--src", type=Path, required=True, help=f"a checkout of haoheliu/audioldm_eval at {COMMIT}")
    p.add_argument("--torchvggish", type=Path, required=True,
                   help="a checkout of harritaylor/torchvggish at f3f9096 (the hub code main loads)")
    p.add_argument("--work", type=Path, required=True, help="an empty folder for the clips and main's caches")
    p.add_argument("--out", type=Path, default=GOLDEN)
    args = p.parse_args(argv)
    import torch
    import torchaudio.transforms as T

    torch.set_num_threads(2)
    args.work.mkdir(parents=True, exist_ok=True)
    sha = write_clip_sets(args.work)
    h = helper(args.src, args.torchvggish)
    gen, ref = str(args.work / "generated"), str(args.work / "reference")
    t0 = time.perf_counter()
    metrics, kid, f1 = score(h, gen, ref)
    seconds = time.perf_counter() - t0  # its whole scoring, models already built (bench perf metrics' peer time)
    # EvaluationHelper(32000): its WaveDataset reads at 32 kHz, then T.Resample(32000, 24000) for MERT
    h.sampling_rate = 32000
    h.resampler = T.Resample(orig_freq=32000, new_freq=h.target_sample_rate)
    metrics_32k, kid_32k, _ = score(h, gen, ref)
    out = {"audioldm_eval": f"haoheliu/audioldm_eval@{COMMIT}", "clips": CLIPS, "clips_sha256": sha,
           "weights": f"random seed {SEED} (MERT-v1-95M shape; VGGish)",
           "rows_generated": list(f1["2048"].shape), "file_order_generated": list(f1["file_path_"]),
           "metrics": metrics, "kid": kid, "at_32000": {"metrics": metrics_32k, "kid": kid_32k},
           "perf": {"peer_seconds": round(seconds, 2), "torch_threads": torch.get_num_threads(),
                    "audio_seconds": 2 * CLIPS["n"] * CLIPS["duration_s"]}}
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out["metrics"], indent=1), out["kid"], json.dumps(out["at_32000"], indent=1))
    return out


if __name__ == "__main__":
    main()
