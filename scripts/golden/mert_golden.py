"""Golden MERT-v1 hidden states made by the real code: MERT's own modeling code (``MERTModel`` from
``modeling_MERT.py`` / ``configuration_MERT.py``, the files the hub repos m-a-p/MERT-v1-95M and -330M
load with ``trust_remote_code``; published in github.com/yizhilll/MERT under scripts/mert_hf/) loaded
with ``from_pretrained`` from a folder holding our seeded random ``pytorch_model.bin`` (the hub
layout), run through fadtk 1.1.0's ``MERTModel._get_embedding`` / ``get_embedding`` (layer 12,
float16) and through audioldm_eval main's MERT lines (every hidden state, time-averaged).

The modeling code imports transformers' HuBERT modules as of 2023, so it runs in a side environment
with transformers 4.38 (the same one as scripts/golden/clap_golden.py):

    python3.11 -m venv /tmp/sideenv-clapmert
    echo /work/main/.venv/lib/python3.11/site-packages > /tmp/sideenv-clapmert/lib/python3.11/site-packages/main.pth
    /tmp/sideenv-clapmert/bin/pip install --no-deps transformers==4.38.2 tokenizers==0.15.2 huggingface_hub==0.23.5
    .venv/bin/python scripts/golden/mert_golden.py --mert-hf DIR [--side-python …] [--perf]

DIR holds ``configuration_MERT.py`` and ``modeling_MERT.py`` (e.g. ``git show
HEAD:scripts/mert_hf/modeling_MERT.py`` of github.com/yizhilll/MERT; not copied into this project).
The config is the hub's: the GitHub hf_config/mert_base.json / mert_large.json values plus the v1 flags
(``feature_extractor_cqt=False, deepnorm=False``, ``attention_relax`` −1 / 32) and fadtk's
``conv_pos_batch_norm=False``. The preprocessor is ``Wav2Vec2FeatureExtractor(**PREPROCESSOR)``
(metrics/embedders/mert.py: the hub's preprocessor_config.json values, not fetched here).

Writes tests/metrics/golden/mert_golden.npz.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "metrics" / "golden" / "mert_golden.npz"
SEEDS = {"95M": 7, "330M": 8}
CLIP_SEED, CLIP_SECONDS = 0, 1.3
FRAMES = [0, 1, 2, 48, 95, 96]  # of the clip's 97 frames: both edges (position conv padding) and the middle

#: hub config.json values beyond transformers' HubertConfig defaults (GitHub hf_config + v1 flags)
HUB_CONFIG = {
    "95M": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072,
            "do_stable_layer_norm": False, "mask_time_prob": 0.05, "attention_relax": -1.0,
            "hidden_dropout": 0.1, "attention_dropout": 0.1, "activation_dropout": 0.1, "feat_proj_dropout": 0.1},
    "330M": {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096,
             "do_stable_layer_norm": True, "mask_time_prob": 0.075, "attention_relax": 32.0,
             "hidden_dropout": 0.0, "attention_dropout": 0.0, "activation_dropout": 0.0, "feat_proj_dropout": 0.0},
}
COMMON = {"sample_rate": 24000, "conv_bias": False, "conv_dim": [512] * 7, "conv_kernel": [10, 3, 3, 3, 3, 2, 2],
          "conv_stride": [5, 2, 2, 2, 2, 2, 2], "feat_extract_norm": "group", "feat_extract_activation": "gelu",
          "feat_proj_layer_norm": True, "hidden_act": "gelu", "layer_norm_eps": 1e-5, "num_conv_pos_embeddings": 128,
          "num_conv_pos_embedding_groups": 16, "vocab_size": 32, "feature_extractor_cqt": False, "deepnorm": False}


def clip_pcm(seconds: float = CLIP_SECONDS, seed: int = CLIP_SEED) -> np.ndarray:
    """A seeded 24 kHz int16 clip (legacy RandomState: bit-stable)."""
    rng = np.random.RandomState(seed)
    n = int(seconds * 24000)
    t = np.arange(n) / 24000
    x = 0.3 * np.sin(2 * np.pi * 220 * t * (1 + t)) + 0.1 * np.sign(np.sin(2 * np.pi * 3 * t)) * rng.standard_normal(n)
    x += 0.2 * np.sin(2 * np.pi * 1500 * t) * (t > seconds / 2)
    return np.round(np.clip(x, -1, 1) * 32767).astype(np.int16)


# --------------------------------------------------------------------------- side environment
def side_main(job: dict) -> None:
    import importlib
    import shutil
    import types

    import torch

    torch.set_num_threads(1)
    pkg = types.ModuleType("mert_hf")  # the two files as a package (modeling imports .configuration_MERT)
    pkg.__path__ = [job["mert_hf"]]
    sys.modules["mert_hf"] = pkg
    configuration = importlib.import_module("mert_hf.configuration_MERT")
    modeling = importlib.import_module("mert_hf.modeling_MERT")
    from transformers import Wav2Vec2FeatureExtractor

    sys.path.insert(0, str(ROOT / "scripts"))
    import reference_fadtk

    reference_fadtk.load_fadtk()
    from fadtk.model_loader import MERTModel as FadtkMERT
    from fadtk.model_loader import ModelLoader

    with tempfile.TemporaryDirectory() as tmp:
        cfg = configuration.MERTConfig(**COMMON, **HUB_CONFIG[job["size"]])
        cfg.conv_pos_batch_norm = False  # fadtk's load_model
        cfg.save_pretrained(tmp)
        # transformers 4.38 + a torch with parametrized weight norm does not rename the hub files'
        # weight_g / weight_v on loading (later 4.x releases do): rename as they do
        state = torch.load(job["weights"], map_location="cpu")
        renames = {".weight_g": ".parametrizations.weight.original0", ".weight_v": ".parametrizations.weight.original1"}
        state = {next((k[: -len(a)] + b for a, b in renames.items() if k.endswith(a)), k): v for k, v in state.items()}
        torch.save(state, Path(tmp) / "pytorch_model.bin")
        model, info = modeling.MERTModel.from_pretrained(tmp, config=cfg, output_loading_info=True)
        assert not info["missing_keys"] and not info["unexpected_keys"], info
        shutil.rmtree(tmp, ignore_errors=True)
    model.eval()
    processor = Wav2Vec2FeatureExtractor(**job["preprocessor"])
    ml = FadtkMERT.__new__(FadtkMERT)  # fadtk's __init__ + load_model, minus the hub download
    ModelLoader.__init__(ml, f"MERT-v1-{job['size']}", 768, 24000)
    ml.layer, ml.limit, ml.model, ml.processor = 12, 6 * 60 * 24000, model, processor
    ml.device = torch.device("cpu")
    audio = np.load(job["pcm"]) / 32768.0  # fadtk's load_wav
    frames16 = ml.get_embedding(audio)
    with torch.no_grad():
        inputs = processor(audio, sampling_rate=24000, return_tensors="pt")
        states = torch.stack(model(**inputs, output_hidden_states=True).hidden_states).squeeze().numpy()
        # audioldm_eval main (eval.py): a float32 torch waveform, every hidden state averaged over time
        waveform = torch.from_numpy(audio.astype(np.float32))
        mert_input = processor(waveform, sampling_rate=24000, return_tensors="pt")
        mert_output = model(**mert_input, output_hidden_states=True)
        layer_means = torch.stack(mert_output.hidden_states).squeeze().mean(dim=1).numpy()
    result = {"frames16": frames16, "states": states, "layer_means": layer_means}
    if job.get("perf_pcm"):
        long = np.load(job["perf_pcm"]) / 32768.0
        t0 = time.perf_counter()
        ml.get_embedding(long)
        result["perf_s_per_10s"] = np.float64((time.perf_counter() - t0) / (len(long) / 24000) * 10)
    np.savez(job["out"], **result)


# --------------------------------------------------------------------------- project side
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mert-hf", required=True, help="folder with configuration_MERT.py and modeling_MERT.py")
    ap.add_argument("--side-python", default="/tmp/sideenv-clapmert/bin/python")
    ap.add_argument("--sizes", default="95M,330M")
    ap.add_argument("--perf", action="store_true", help="also time both on one 10-s clip, 1 thread")
    ap.add_argument("--out", default=str(GOLDEN))
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    import torch

    from metrics.embedders.mert import PREPROCESSOR, MertEmbedder, save_random_weights

    torch.set_num_threads(1)
    golden: dict[str, np.ndarray] = {"clip_seed": np.int64(CLIP_SEED), "clip_seconds": np.float64(CLIP_SECONDS)}
    if Path(args.out).is_file():  # keep the other size's entries when only one is remade
        golden.update(dict(np.load(args.out)))
    perf = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pcm = clip_pcm()
        np.save(tmp / "pcm.npy", pcm)
        long = clip_pcm(10.0, seed=1)
        np.save(tmp / "long.npy", long)
        for size in args.sizes.split(","):
            seed = SEEDS[size]
            weights = save_random_weights(tmp / f"mert_{size}.bin", size, seed)
            job = {"size": size, "weights": str(weights), "mert_hf": str(Path(args.mert_hf).resolve()),
                   "preprocessor": PREPROCESSOR, "pcm": str(tmp / "pcm.npy"), "out": str(tmp / f"{size}.npz"),
                   "perf_pcm": str(tmp / "long.npy") if args.perf else None}
            r = subprocess.run([args.side_python, __file__, "--side", json.dumps(job)], cwd=ROOT)
            if r.returncode != 0:
                raise SystemExit(f"side environment failed for {size}")
            theirs = np.load(job["out"])
            golden[f"{size}_seed"] = np.int64(seed)
            golden["frames"] = np.asarray(FRAMES)
            # a few frames of every hidden state keep the file small (all 97 frames × all layers: 13 MB)
            golden[f"{size}_states"] = theirs["states"][:, FRAMES]
            golden[f"{size}_layer_means"] = theirs["layer_means"]
            if size == "95M":  # fadtk's stored rows (layer 12, float16)
                golden[f"{size}_frames16"] = theirs["frames16"]
            ours = MertEmbedder(size, weights="pretrained", checkpoint=str(weights))
            states = ours.hidden_states((pcm / 32768.0).astype(np.float32)[None])[0].numpy()
            rel = np.abs(states - theirs["states"]).max() / np.abs(theirs["states"]).max()  # every frame
            print(f"{size}: states {states.shape}, max |ours - MERT| / max |MERT| = {rel:.2e}")
            if args.perf:
                t0 = time.perf_counter()
                ours.embed_waveform((long / 32768.0).astype(np.float32))
                perf[size] = (time.perf_counter() - t0, float(theirs["perf_s_per_10s"]))
            weights.unlink()
    for s, (o, t) in perf.items():
        print(f"perf mert_{s.lower()}: ours {o:.2f} s per 10-s file, fadtk+MERT code {t:.2f} s "
              "(1 thread, same weights)")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **golden)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--side":
        side_main(json.loads(sys.argv[2]))
    else:
        main()
