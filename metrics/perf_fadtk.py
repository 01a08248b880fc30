"""`bench perf metrics --suite fadtk-encodec[-48k]`: our preset against fadtk 1.1.0's own code on
fadtk's real music (its wheel's 23 test samples: 11 MusicGen as the reference set, 5 MusicLM + 7
Mubert as the evaluated set, 10 s at 48 kHz, Opus) with one file of seeded random EnCodec weights
(random weights: the values check the computation, not the codec) in the official layout.

Theirs: fadtk's ``EncodecEmbModel.get_embedding`` running facebookresearch/encodec 0.1.1's model
(scripts/reference_fadtk.py), then fadtk's ``score``, ``score_inf`` (``np.random.seed(seed)``
first) and ``score_individual`` on the embeddings it wrote in its own layout. Its decoding and
resampling step (torchaudio load + Kaiser Resample + 16-bit save, fadtk/fad.py ``load_audio``) cannot
run beside this torch; both sides take the waveform from our ``load_like_fadtk``, whose resampler
matches torchaudio's on golden outputs (tests/metrics/test_encodec.py).

Ours: the preset's metrics through their embedder (batched, per-file cache): cold = empty cache,
warm = the same sets again (all cached: no network is built). Seconds per 10-s file: embedding
only (waveforms decoded beforehand on both sides).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from core.cache import Cache

ROOT = Path(__file__).resolve().parent.parent
SEED = 5


def _ref_tools():
    from importlib.util import module_from_spec, spec_from_file_location

    spec = spec_from_file_location("_bench_reference_fadtk", ROOT / "scripts" / "reference_fadtk.py")
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_suite(preset: str, base: Path | None = None, steps: int = 10, min_n: int = 500,
              max_files: int | None = None) -> dict:
    """One preset's comparison; `max_files` caps each set (the first files by name) on a slow machine."""
    import torch

    from metrics.embedders.encodec import EncodecEmbedder, OFFICIAL_FILES, load_like_fadtk, save_random_weights
    from metrics.frechet import frechet_distance_exact
    from metrics.small_sample import fad_inf, fadtk_stats, per_clip_fad

    sr = {"fadtk-encodec": 24000, "fadtk-encodec-48k": 48000}[preset]
    tools = _ref_tools()
    base = Path(base or tempfile.mkdtemp(prefix="bench-perf-fadtk-"))
    base.mkdir(parents=True, exist_ok=True)
    samples = sorted(tools.fadtk_samples().glob("*.opus"))
    ref_files = [p for p in samples if p.name.startswith("mg-")][:max_files]
    eval_files = [p for p in samples if not p.name.startswith("mg-")][:max_files]
    if max_files:  # keep both model families (MusicLM, Mubert) in the evaluated set
        others = [p for p in samples if not p.name.startswith("mg-")]
        eval_files = others[:max_files // 2] + others[-(max_files - max_files // 2):]
    weights = save_random_weights(base / OFFICIAL_FILES[sr][0], sr, seed=SEED)

    # ---- ours: cold (empty cache) then warm (same files, all cached)
    cache = Cache(base / "cache")
    t0 = time.perf_counter()
    emb = EncodecEmbedder(sr, weights="pretrained", checkpoint=str(weights))
    ours_ref = [o["frames"] for o in emb.embed_files(ref_files, cache=cache)]
    ours_eval = [o["frames"] for o in emb.embed_files(eval_files, cache=cache)]
    stats_ref = fadtk_stats(ours_ref)
    ours = {"fad": frechet_distance_exact(*fadtk_stats(ours_eval), *stats_ref),
            "fad_inf": fad_inf(ours_eval, stats_ref, steps=steps, min_n=min_n, seed=SEED).score}
    ours_clip = per_clip_fad(ours_eval, stats_ref)
    cold_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    warm_emb = EncodecEmbedder(sr, weights="pretrained", checkpoint=str(weights))
    warm_eval = [o["frames"] for o in warm_emb.embed_files(eval_files, cache=cache)]
    warm_ref = [o["frames"] for o in warm_emb.embed_files(ref_files, cache=cache)]
    stats_w = fadtk_stats(warm_ref)
    frechet_distance_exact(*fadtk_stats(warm_eval), *stats_w)
    fad_inf(warm_eval, stats_w, steps=steps, min_n=min_n, seed=SEED)
    per_clip_fad(warm_eval, stats_w)
    warm_s = time.perf_counter() - t0
    if warm_emb._model is not None:
        raise SystemExit("perf: the warm run built the EnCodec network although every embedding was cached")

    # ---- embedding seconds per 10-s file, same waveforms, same weights file
    waves = [load_like_fadtk(p, sr) for p in eval_files]
    t0 = time.perf_counter()
    fresh = EncodecEmbedder(sr, weights="pretrained", checkpoint=str(weights))
    segs = [fresh._segments(w) for w in waves]
    flat = np.stack([s for ss in segs for s in ss if s.shape[-1] == segs[0][0].shape[-1]])
    fresh._encode(flat[:1])  # build the network outside the timing, as on their side
    t0 = time.perf_counter()
    for s in range(0, len(flat), 8 * (1 if sr == 24000 else 10)):
        fresh._encode(flat[s:s + 8 * (1 if sr == 24000 else 10)])
    ours_per_file = (time.perf_counter() - t0) / len(waves)

    fad_mod = tools.load_fadtk()
    encodec = tools.load_encodec()
    from fadtk.model_loader import EncodecEmbModel

    ml = EncodecEmbModel("24k" if sr == 24000 else "48k")
    model = encodec.EncodecModel.encodec_model_24khz(pretrained=False) if sr == 24000 else \
        encodec.EncodecModel.encodec_model_48khz(pretrained=False)
    model.load_state_dict(torch.load(weights), strict=False)
    ml.model, ml.device = model.eval(), torch.device("cpu")

    def theirs_embed(w):
        x = torch.from_numpy(w)[None]
        return ml.get_embedding((x.expand(2, -1) if sr == 48000 else x)[None])

    t0 = time.perf_counter()
    theirs_eval = [theirs_embed(w) for w in waves]
    theirs_per_file = (time.perf_counter() - t0) / len(waves)
    theirs_ref = [theirs_embed(load_like_fadtk(p, sr)) for p in ref_files]
    name = ml.name
    ref_dir, eval_dir = base / "fadtk" / "reference", base / "fadtk" / "eval"
    tools.write_fadtk_layout(ref_dir, name, {p.stem: e for p, e in zip(ref_files, theirs_ref)})
    eval_paths = tools.write_fadtk_layout(eval_dir, name, {p.stem: e for p, e in zip(eval_files, theirs_eval)})
    fad = fad_mod.FrechetAudioDistance(ml, load_model=False)
    theirs = {"fad": float(np.real(fad.score(str(ref_dir), str(eval_dir))))}
    np.random.seed(SEED)
    npys = [eval_dir / "embeddings" / name / f"{p.stem}.npy" for p in eval_paths]
    theirs["fad_inf"] = float(np.real(fad.score_inf(str(ref_dir), npys, steps=steps, min_n=min_n).score))
    csv = fad.score_individual(str(ref_dir), eval_dir, base / "fadtk" / "individual.csv")
    by_name = {}
    for line in csv.read_text().splitlines():
        path, value = line.rsplit(",", 1)
        by_name[Path(path).stem] = float(np.real(complex(value.strip("()"))))
    theirs_clip = np.array([by_name[p.stem] for p in eval_files])

    rel = {k: abs(ours[k] - theirs[k]) / max(abs(theirs[k]), 1e-12) for k in ours}
    rel["fad_clip"] = float(np.max(np.abs(ours_clip - theirs_clip) / np.maximum(np.abs(theirs_clip), 1e-12)))
    return {"preset": preset, "ours": ours, "theirs": theirs, "rel": rel, "cold_s": cold_s, "warm_s": warm_s,
            "ours_per_file_s": ours_per_file, "theirs_per_file_s": theirs_per_file, "n_ref": len(ref_files),
            "n_eval": len(eval_files), "embedder": f"encodec_{sr // 1000}k"}


def print_suite(r: dict) -> None:
    print(f"[{r['preset']}] fadtk's samples ({r['n_ref']} MusicGen as reference, {r['n_eval']} MusicLM/Mubert "
          f"evaluated, 10 s), random "
          f"weights; ours cold {r['cold_s']:.1f} s, warm {r['warm_s']:.2f} s (all cached, no network built)")
    print(f"[{r['preset']}] values ours {({k: round(v, 6) for k, v in r['ours'].items()})} fadtk "
          f"{({k: round(v, 6) for k, v in r['theirs'].items()})} rel diff "
          f"{({k: float(f'{v:.3g}') for k, v in r['rel'].items()})}")
    print(f"[{r['preset']}] {r['embedder']}: ours {r['ours_per_file_s']:.3f} s per 10-s file, fadtk (encodec 0.1.1) "
          f"{r['theirs_per_file_s']:.3f} s (same waveforms, same weights file)")
