"""Golden text–audio CLAP scores made by the real code, on files of seeded random weights written
by our ``metrics.embedders.clap_score.save_random_weights`` (the official layout) and the synthetic
RoBERTa tokenizer files (roberta-base's formats; metrics/embedders/data/roberta_synthetic):

- ``stable-audio-metrics``: its own ``clap_score(id2text, audio_path)`` from ``src/clap_score.py``
  (pass ``--sam-src``: a clone of github.com/Stability-AI/stable-audio-metrics at fd55536), run in a
  scratch folder holding our file as ``load/clap_score/630k-audioset-fusion-best.pt``;
- ``audiocraft``: ``CLAPTextConsistencyMetric.update``'s steps (audiocraft 1.3.0
  metrics/clap_consistency.py: ``convert_audio`` = julius ``resample_frac`` to 48 kHz + channel mean,
  ``get_audio_embedding_from_data(use_tensor=True)``, ``get_text_embedding`` with its tokenizer
  call, ``cosine_similarity(eps=1e-8)``) around laion_clap's own ``CLAP_Module``; audiocraft itself
  is not installed (it pins torch 2.1).

laion_clap runs in the side environment of scripts/golden/clap_golden.py, plus torchaudio (its
``get_mel``) and pyloudnorm (stable-audio-metrics' peak normalisation):

    /tmp/sideenv-clapmert/bin/pip install --no-deps torchaudio==2.11.1 pyloudnorm future
    .venv/bin/python scripts/golden/clap_score_golden.py --sam-src /path/to/stable-audio-metrics/src/clap_score.py

Offline stand-ins in the side process, none on the computed path: ``RobertaModel.from_pretrained
('roberta-base')`` builds RoBERTa with our file's size (the weights then come from the file);
``RobertaTokenizer.from_pretrained`` reads the synthetic folder (the real class, the real files'
formats); the BERT and BART tokenizers laion's data module loads at import are not loaded; ``CLAP_Module(device='cuda')`` (stable-audio-metrics' call) runs on the CPU. laion's crops
of files over 10 s draw from numpy's global RNG: ``np.random.seed(CROP_SEED)`` before each file,
the draws our embedder makes with ``RandomState(seed)``. Our file lacks the entries no embedding
reads (HTS-AT's classifier head, the text/audio MLP transforms, the logit scales, the fixed
STFT/mel matrices): the side process takes them from laion's freshly built model.

Writes tests/metrics/golden/clap_score_golden.npz: per protocol the text and audio embeddings of
every clip, the per-clip cosines and the tool's own mean score; and laion's ``get_mel`` of one clip
(torchaudio) for the front end's own check.
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
GOLDEN = ROOT / "tests" / "metrics" / "golden" / "clap_score_golden.npz"
SEEDS = {"stable-audio-metrics": 21, "audiocraft": 22}  # weights
CROP_SEED = 0
#: (name, seconds, sample rate, channels): under 10 s (repeat-padding), exactly 10 s, over 10 s (crops)
CLIPS = [("short_stereo_44k", 3.3, 44100, 2), ("tiny_16k", 0.7, 16000, 1), ("exact_10s_48k", 10.0, 48000, 1),
         ("long_12s_32k", 12.5, 32000, 1)]
CAPTIONS = {"short_stereo_44k": "Energetic electronic dance music with a strong beat, 128 bpm!",
            "tiny_16k": "a calm piano melody at night",
            "exact_10s_48k": "A figure dances in front of a red wall.",
            "long_12s_32k": "loud rock guitar and drums, a crowd on the street"}


def make_audio(folder: Path) -> dict[str, Path]:
    """The seeded test clips as 16-bit WAVs (legacy RandomState: bit-stable)."""
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for i, (name, seconds, sr, ch) in enumerate(CLIPS):
        rng = np.random.RandomState(100 + i)
        n = int(seconds * sr)
        t = np.arange(n) / sr
        f0 = 110 * (i + 1)
        x = 0.3 * np.sin(2 * np.pi * f0 * t * (1 + 0.3 * t)) + 0.05 * rng.standard_normal(n)
        x += 0.2 * np.sign(np.sin(2 * np.pi * 2 * t)) * np.sin(2 * np.pi * 3 * f0 * t)
        data = np.stack([x, 0.7 * x + 0.05 * rng.standard_normal(n)], axis=1) if ch == 2 else x
        path = folder / f"{name}.wav"
        sf.write(path, np.clip(data, -1, 1), sr, subtype="PCM_16")
        out[name] = path
    return out


# --------------------------------------------------------------------------- side environment
def _laion_offline(tokenizer_dir: str, vocab: int, layers: int):
    """Import laion_clap without network (see the module docstring)."""
    import importlib.util
    import types

    import transformers

    for name in ("h5py", "braceexpand", "webdataset", "wget"):
        if importlib.util.find_spec(name) is None:
            sys.modules[name] = types.ModuleType(name)
    config = transformers.RobertaConfig(vocab_size=vocab, num_hidden_layers=layers, max_position_embeddings=514,
                                        type_vocab_size=1, layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0,
                                        eos_token_id=2)
    transformers.RobertaModel.from_pretrained = classmethod(lambda cls, *a, **k: cls(config))
    for tok in ("BertTokenizer", "BartTokenizer"):  # module-level loads in laion's training/data.py, unused here
        getattr(transformers, tok).from_pretrained = classmethod(lambda cls, *a, **k: None)
    real = transformers.RobertaTokenizer.from_pretrained.__func__
    transformers.RobertaTokenizer.from_pretrained = classmethod(lambda cls, *a, **k: real(cls, tokenizer_dir))
    import laion_clap

    init = laion_clap.CLAP_Module.__init__

    def on_cpu(self, *a, **k):
        k["device"] = "cpu"
        init(self, *a, **k)

    laion_clap.CLAP_Module.__init__ = on_cpu
    return laion_clap


def _complete_file(laion_clap, ours_path: str, fusion: bool, amodel: str, dest: Path) -> None:
    """Our file + the entries laion's model holds that no embedding reads → a strict-loadable file."""
    import torch

    ours = torch.load(ours_path, map_location="cpu")["state_dict"]
    fresh = laion_clap.CLAP_Module(enable_fusion=fusion, amodel=amodel).model.state_dict()
    full = {"module." + k: v for k, v in fresh.items()}
    assert not [k for k in ours if k not in full and not k.endswith("position_ids")], "keys laion's model lacks"
    read = [k for k in full if k not in ours and (k.startswith("module.text_branch.") or k.startswith(
        "module.text_projection.") or k.startswith("module.audio_projection."))]
    assert not read, f"entries an embedding reads are missing from our file: {read[:5]}"
    full.update(ours)
    dest.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": full, "epoch": 0}, dest)


def side_main(job: dict) -> None:
    import os

    import torch

    torch.set_num_threads(1)
    laion_clap = _laion_offline(job["tokenizer"], job["vocab"], job["layers"])
    records: dict[str, list] = {"audio": [], "text": []}
    get_audio, get_text = laion_clap.CLAP_Module.get_audio_embedding_from_data, laion_clap.CLAP_Module.get_text_embedding

    def audio_seeded(self, *a, **k):
        np.random.seed(CROP_SEED)  # laion's crops of files over 10 s: reproducible
        t0 = time.perf_counter()
        out = get_audio(self, *a, **k)
        records.setdefault("seconds", []).append(time.perf_counter() - t0)
        records["audio"].append(out.detach().cpu().numpy())
        return out

    def text_recorded(self, *a, **k):
        out = get_text(self, *a, **k)
        records["text"].append(out.detach().cpu().numpy())
        return out

    laion_clap.CLAP_Module.get_audio_embedding_from_data = audio_seeded
    laion_clap.CLAP_Module.get_text_embedding = text_recorded
    result = {}
    ids = list(job["captions"])
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        if job["protocol"] == "stable-audio-metrics":
            _complete_file(laion_clap, job["weights"], True, "HTSAT-tiny",
                           scratch / "load" / "clap_score" / "630k-audioset-fusion-best.pt")
            spec = __import__("importlib.util").util.spec_from_file_location("sam_clap_score", job["sam_src"])
            sam = __import__("importlib.util").util.module_from_spec(spec)
            spec.loader.exec_module(sam)
            cwd = os.getcwd()
            os.chdir(scratch)
            try:
                score = sam.clap_score(job["captions"], job["audio_dir"] + "/", audio_files_extension=".wav")
            finally:
                os.chdir(cwd)
            result["score"] = np.float64(float(score))
            result["audio_seconds"] = np.array(records["seconds"])  # per file, the embedding call alone
            result["audio"] = np.concatenate(records["audio"])
            result["text"] = np.concatenate(records["text"])
        else:
            import julius
            import soundfile as sf

            path = scratch / "music_audioset_epoch_15_esc_90.14.pt"
            _complete_file(laion_clap, job["weights"], False, "HTSAT-base", path)
            model = laion_clap.CLAP_Module(enable_fusion=False, amodel="HTSAT-base")
            # audiocraft's load_clap_state_dict
            from clap_module.factory import load_state_dict

            pkg = load_state_dict(str(path))
            pkg.pop("text_branch.embeddings.position_ids", None)
            model.model.load_state_dict(pkg)
            model.eval()
            from transformers import RobertaTokenizer

            tok = RobertaTokenizer.from_pretrained("roberta-base")
            cos = []
            with torch.no_grad():
                for cid in ids:
                    data, sr = sf.read(Path(job["audio_dir"]) / f"{cid}.wav", dtype="float32", always_2d=True)
                    wav = torch.from_numpy(data.T.copy())[None]  # [B, C, T]
                    wav = julius.resample_frac(wav, int(sr), 48000)  # convert_audio: resample, then channels
                    wav = wav.mean(dim=-2, keepdim=True).mean(dim=1)  # to_channels=1, then .mean(dim=1)
                    a = model.get_audio_embedding_from_data(wav, use_tensor=True)
                    t = model.get_text_embedding([job["captions"][cid]], tokenizer=lambda x: tok(
                        x, padding="max_length", truncation=True, max_length=77, return_tensors="pt"), use_tensor=True)
                    cos.append(torch.nn.functional.cosine_similarity(a, t, dim=1, eps=1e-8))
            result["score"] = np.float64(torch.cat(cos).mean().item())
            result["audio_seconds"] = np.array(records["seconds"])
            result["audio"] = np.concatenate(records["audio"])
            result["text"] = np.concatenate(records["text"])
    if job.get("mel_wav"):
        import torchaudio
        from laion_clap.training.data import get_mel

        x = torch.from_numpy(np.load(job["mel_wav"]))
        result["mel"] = get_mel(x, {"sample_rate": 48000, "window_size": 1024, "hop_size": 480, "mel_bins": 64,
                                    "fmin": 50, "fmax": 14000}).numpy()
        result["torchaudio"] = np.array(torchaudio.__version__)
    np.savez(job["out"], **result)


# --------------------------------------------------------------------------- project side
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--side-python", default="/tmp/sideenv-clapmert/bin/python")
    ap.add_argument("--sam-src", required=True, help="stable-audio-metrics' src/clap_score.py (fd55536)")
    ap.add_argument("--out", default=str(GOLDEN))
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    import torch

    from metrics.embedders.clap_score import (SYNTHETIC_TOKENIZER, ClapScoreEmbedder, clap_scores, load_tokenizer,
                                              save_random_weights)

    torch.set_num_threads(1)
    vocab = len(load_tokenizer(SYNTHETIC_TOKENIZER))
    golden: dict[str, np.ndarray] = {"crop_seed": np.int64(CROP_SEED), "ids": np.array(list(CAPTIONS)),
                                     "captions": np.array([CAPTIONS[k] for k in CAPTIONS])}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        files = make_audio(tmp / "audio")
        mel_wav = np.random.RandomState(7).standard_normal(48000 * 2).astype(np.float32) * 0.1
        np.save(tmp / "mel.npy", mel_wav)
        golden["mel_input"] = mel_wav
        for protocol, seed in SEEDS.items():
            weights = save_random_weights(tmp / f"{protocol}.pt", protocol, seed)
            job = {"protocol": protocol, "weights": str(weights), "tokenizer": str(SYNTHETIC_TOKENIZER),
                   "vocab": vocab, "layers": 2, "audio_dir": str(tmp / "audio"), "captions": CAPTIONS,
                   "sam_src": str(Path(args.sam_src).resolve()), "out": str(tmp / f"{protocol}.npz"),
                   "mel_wav": str(tmp / "mel.npy") if protocol == "stable-audio-metrics" else None}
            r = subprocess.run([args.side_python, __file__, "--side", json.dumps(job)], cwd=ROOT)
            if r.returncode != 0:
                raise SystemExit(f"side environment failed for {protocol}")
            theirs = dict(np.load(job["out"]))
            for k, v in theirs.items():
                golden[f"{protocol}/{k}"] = v
            golden[f"{protocol}/seed"] = np.int64(seed)
            emb = ClapScoreEmbedder(protocol, weights="pretrained", checkpoint=str(weights),
                                    tokenizer=str(SYNTHETIC_TOKENIZER), seed=CROP_SEED)
            audio = np.stack([o["embedding"] for o in emb.embed_files([files[k] for k in CAPTIONS])])
            text = emb.embed_texts(list(CAPTIONS.values()))
            ours = clap_scores(audio, text)
            ten = list(CAPTIONS).index("exact_10s_48k")
            t0 = time.perf_counter()
            emb.embed_waveform(emb.load(files["exact_10s_48k"]))
            mine = time.perf_counter() - t0
            golden[f"{protocol}/perf_s_per_10s"] = np.array([mine, float(theirs["audio_seconds"][ten])])
            print(f"perf {protocol}: ours {mine:.2f} s per 10-s file (load + embed), the tool's embedding call "
                  f"{float(theirs['audio_seconds'][ten]):.2f} s (1 thread, same weights)")
            print(f"{protocol}: max |audio - theirs| {np.abs(audio - theirs['audio']).max():.2e}, "
                  f"|text - theirs| {np.abs(text - theirs['text']).max():.2e}, score ours {ours.mean():.7f} "
                  f"theirs {float(theirs['score']):.7f}")
    if "stable-audio-metrics/mel" in golden:
        from metrics.embedders.clap_score import laion_log_mel

        ours = laion_log_mel(torch.from_numpy(mel_wav)).numpy()
        print(f"get_mel: max |ours - torchaudio| {np.abs(ours - golden['stable-audio-metrics/mel']).max():.2e} dB")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **golden)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--side":
        side_main(json.loads(sys.argv[2]))
    else:
        main()
