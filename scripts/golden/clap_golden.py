"""Golden CLAP embeddings made by the real code: fadtk 1.1.0's ``CLAPLaionModel`` (its
``load_model`` → ``laion_clap.CLAP_Module(enable_fusion=False, amodel=…).load_ckpt(file)``, its
``get_embedding`` → int16 round trip, 10 s windows every 1 s, ``get_audio_embedding_from_data``)
on files of seeded random weights written by our ``save_random_weights`` (the official layout).

laion_clap pins numpy<2 / an old transformers, so it runs in a side environment:

    python3.11 -m venv /tmp/sideenv-clapmert
    echo /work/main/.venv/lib/python3.11/site-packages > /tmp/sideenv-clapmert/lib/python3.11/site-packages/main.pth
    /tmp/sideenv-clapmert/bin/pip install --no-deps transformers==4.38.2 tokenizers==0.15.2 \\
        huggingface_hub==0.23.5 laion_clap==1.1.7
    .venv/bin/python scripts/golden/clap_golden.py --side-python /tmp/sideenv-clapmert/bin/python [--perf]

(torch, numpy, librosa, torchlibrosa, timm come from the project's venv through the .pth file; only
the transformers pin differs.) The laion model is built offline: ``RobertaModel.from_pretrained
('roberta-base')`` becomes ``RobertaModel(roberta-base's config)`` and the tokenizers are not
loaded (the text branch's weights come from the file, and no text is embedded); training-only
imports (h5py, webdataset, braceexpand, wget) get empty stand-ins. The official files hold the
whole CLAP model; our file holds the audio branch and audio projection, so the side process adds
the entries no audio embedding reads (text branch, text projection, HTS-AT's classifier head, the
fixed STFT/mel matrices) from laion's own freshly built model before ``load_ckpt`` loads it strictly.

Writes tests/metrics/golden/clap_golden.npz: per variant the float32 embeddings (before fadtk's
float16 cast) and the float16 rows fadtk stores, of one seeded 48 kHz 16-bit clip.
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
GOLDEN = ROOT / "tests" / "metrics" / "golden" / "clap_golden.npz"
SEEDS = {"general": 5, "music": 6}  # weights
CLIP_SEED, CLIP_SECONDS = 0, 1.5  # 2 windows


def clip_pcm(seconds: float = CLIP_SECONDS, seed: int = CLIP_SEED) -> np.ndarray:
    """A seeded 48 kHz int16 clip: a chirp, a pulsed noise and a tone (legacy RandomState: bit-stable)."""
    rng = np.random.RandomState(seed)
    n = int(seconds * 48000)
    t = np.arange(n) / 48000
    x = 0.3 * np.sin(2 * np.pi * 220 * t * (1 + t)) + 0.1 * np.sign(np.sin(2 * np.pi * 3 * t)) * rng.standard_normal(n)
    x += 0.2 * np.sin(2 * np.pi * 1500 * t) * (t > seconds / 2)
    return np.round(np.clip(x, -1, 1) * 32767).astype(np.int16)


# --------------------------------------------------------------------------- side environment
def _laion_offline():
    """Import laion_clap without network: see the module docstring."""
    import importlib.util
    import types

    import transformers

    for name in ("h5py", "braceexpand", "webdataset", "wget"):
        if importlib.util.find_spec(name) is None:
            sys.modules[name] = types.ModuleType(name)
    roberta_base = transformers.RobertaConfig(vocab_size=50265, max_position_embeddings=514, type_vocab_size=1,
                                              layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0, eos_token_id=2)
    transformers.RobertaModel.from_pretrained = classmethod(lambda cls, *a, **k: cls(roberta_base))
    for tok in ("RobertaTokenizer", "BertTokenizer", "BartTokenizer"):
        getattr(transformers, tok).from_pretrained = classmethod(lambda cls, *a, **k: None)
    import laion_clap

    return laion_clap


def side_main(job: dict) -> None:
    """In the side environment: fadtk's CLAPLaionModel on our weights file; writes job['out']."""
    import torch

    torch.set_num_threads(1)
    laion_clap = _laion_offline()
    sys.path.insert(0, str(ROOT / "scripts"))
    import reference_fadtk

    reference_fadtk.load_fadtk()
    from fadtk.model_loader import CLAPLaionModel, ModelLoader

    amodel = "HTSAT-tiny" if job["variant"] == "general" else "HTSAT-base"
    # the official file = our audio entries + what laion's own model holds for the rest
    ours = torch.load(job["weights"], map_location="cpu")["state_dict"]
    fresh = laion_clap.CLAP_Module(enable_fusion=False, amodel=amodel, device="cpu").model.state_dict()
    full = {"module." + k: v for k, v in fresh.items()}
    added = sorted(k for k in full if k not in ours)
    assert not [k for k in added if k.startswith("module.audio_branch.") and not any(
        s in k for s in ("spectrogram_extractor", "logmel_extractor", "tscam_conv", "head.", "attn_mask",
                         "num_batches_tracked", "relative_position_index"))], "an audio weight is missing from our file"
    assert not [k for k in ours if k not in full], "our file has keys laion's model does not"
    full.update(ours)
    # the official files carry it (laion's load_state_dict deletes it for transformers ≥ 4.31)
    full.setdefault("module.text_branch.embeddings.position_ids", torch.arange(514)[None])
    with tempfile.TemporaryDirectory() as tmp:
        official = Path(tmp) / Path(job["official_name"]).name
        torch.save({"state_dict": full, "epoch": 0}, official)
        ml = CLAPLaionModel.__new__(CLAPLaionModel)  # fadtk's __init__ downloads the pretrained file
        ModelLoader.__init__(ml, f"clap-laion-{'audio' if job['variant'] == 'general' else 'music'}", 512, 48000)
        ml.type = "audio" if job["variant"] == "general" else "music"
        ml.model_file, ml.device = official, torch.device("cpu")
        ml.load_model()  # fadtk's: CLAP_Module(enable_fusion=False, amodel=…) + load_ckpt(file)
    assert ml.model.model.audio_branch.__class__.__name__ == "HTSAT_Swin_Transformer"
    pcm = np.load(job["pcm"])
    audio = pcm / 32768.0  # fadtk's ModelLoader.load_wav
    with torch.no_grad():
        emb32 = ml._get_embedding(audio).numpy()
    emb16 = ml.get_embedding(audio)
    result = {"emb32": emb32, "emb16": emb16}
    if job.get("perf_pcm"):
        long = np.load(job["perf_pcm"]) / 32768.0
        t0 = time.perf_counter()
        ml.get_embedding(long)
        result["perf_s_per_10s"] = np.float64((time.perf_counter() - t0) / (len(long) / 48000) * 10)
    np.savez(job["out"], **result)


# --------------------------------------------------------------------------- project side
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--side-python", default="/tmp/sideenv-clapmert/bin/python")
    ap.add_argument("--perf", action="store_true", help="also time both on one 10-s clip, 1 thread")
    ap.add_argument("--out", default=str(GOLDEN))
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    import torch

    from metrics.embedders.clap import VARIANTS, ClapEmbedder, quantize_like_laion, save_random_weights

    torch.set_num_threads(1)
    golden: dict[str, np.ndarray] = {"clip_seed": np.int64(CLIP_SEED), "clip_seconds": np.float64(CLIP_SECONDS)}
    perf = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pcm = clip_pcm()
        np.save(tmp / "pcm.npy", pcm)
        long = clip_pcm(10.0, seed=1)
        np.save(tmp / "long.npy", long)
        for variant, seed in SEEDS.items():
            weights = save_random_weights(tmp / f"clap_{variant}.pt", variant, seed)
            job = {"variant": variant, "weights": str(weights), "official_name": VARIANTS[variant][1],
                   "pcm": str(tmp / "pcm.npy"), "out": str(tmp / f"{variant}.npz"),
                   "perf_pcm": str(tmp / "long.npy") if args.perf else None}
            r = subprocess.run([args.side_python, __file__, "--side", json.dumps(job)], cwd=ROOT)
            if r.returncode != 0:
                raise SystemExit(f"side environment failed for {variant}")
            theirs = np.load(job["out"])
            golden[f"{variant}_seed"] = np.int64(seed)
            golden[f"{variant}_emb32"] = theirs["emb32"]
            golden[f"{variant}_emb16"] = theirs["emb16"]
            ours = ClapEmbedder(variant, weights="pretrained", checkpoint=str(weights))
            got = ours.embed_waveform(quantize_like_laion(pcm))
            from metrics.embedders.clap import windows

            rel = np.abs(ours.embed_windows(windows(quantize_like_laion(pcm))) - theirs["emb32"]).max()
            print(f"{variant}: rows {got.shape}, max |ours - laion| float32 {rel:.2e}, float16 rows equal "
                  f"{np.array_equal(got, theirs['emb16'])}")
            if args.perf:
                t0 = time.perf_counter()
                ours.embed_waveform(quantize_like_laion(long))
                perf[variant] = ((time.perf_counter() - t0), float(theirs["perf_s_per_10s"]))
    for v, (o, t) in perf.items():
        print(f"perf clap_{v}: ours {o:.2f} s per 10-s file, fadtk+laion_clap {t:.2f} s (1 thread, same weights)")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **golden)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--side":
        side_main(json.loads(sys.argv[2]))
    else:
        main()
