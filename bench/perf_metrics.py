"""`bench perf metrics`: our FD/KL/IS (+FAD) against audioldm_eval 0.0.3 on the same files and
weight files, cold (empty cache) and warm (one new system added to an evaluated run).

Files: `clips` × 10 s at 32 kHz for a reference set and two systems (A, then B added later),
seeded tone mixtures; seeded random Cnn14 (and VGGish) weights in the official file formats.
The reference runs in its side environment (scripts/reference_env.sh) through
scripts/reference_eval.py, which reports per-step seconds: only its Cnn14 passes and its
FD/KL/IS (and FAD) work are timed, not model loading and not the extra metrics it would add.
Ours: the registered metrics over `Cache`d embeddings, timed in-process after model loading.

Reference FAD needs torchvggish's hub code (`--torch-home`, see README "Parity"); without it,
FAD is left out of both sides and the output says so. Last line:
`cold_speedup=<x> warm_speedup=<y> max_rel_diff=<d>`.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
KEYS = {"fd": "fd", "kl_softmax": "kl_softmax", "kl_sigmoid": "kl_sigmoid", "is": "is_mean", "fad": "fad"}


def _write_set(folder: Path, n: int, seed: int, sr: int = 32000, seconds: float = 10.0) -> dict[str, Path]:
    from bench.media import atomic_write_audio

    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    out = {}
    for i in range(n):
        freqs = rng.uniform(80, 4000, size=4)
        x = sum(rng.uniform(0.05, 0.2) * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3)) for f in freqs)
        x = x * (1 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.5, 4) * t)) + 0.02 * rng.standard_normal(t.size)
        out[f"clip{i:03d}"] = atomic_write_audio(folder / f"clip{i:03d}.wav", (0.5 * x / np.abs(x).max()), sr)
    return out


def _reference(python: str, gen: Path, ref: Path, ckpt: Path, metrics: list[str], torch_home: str | None) -> dict:
    cmd = [python, str(ROOT / "scripts" / "reference_eval.py"), "--generated", str(gen), "--reference", str(ref),
           "--ckpt-dir", str(ckpt), "--sample-rate", "16000", "--metrics", ",".join(metrics)]
    if torch_home:
        cmd += ["--torch-home", torch_home]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"perf: reference_eval.py failed:\n{r.stderr[-3000:]}")
    out = json.loads(r.stdout)
    sec = out["seconds"]
    out["work_s"] = sum(sec.get(k, 0.0) for k in ("cnn14_reference", "cnn14_generated", "fd", "kl", "is", "fad"))
    return out


def _ours(metrics: dict, clips, gen: dict, ref: dict) -> tuple[dict, float]:
    t0 = time.perf_counter()
    values = {}
    for m in metrics.values():
        for key, score in m.scores(clips, gen, ref).items():
            values[key] = float(score.per_clip.mean()) if score.per_clip is not None else \
                float(score.statistic(np.arange(len(clips))[None])[0])
    return values, time.perf_counter() - t0


def perf_metrics(clips: int = 64, torch_home: str | None = None, keep: str | None = None) -> int:
    from bench.cache import Cache
    from bench.data.manifest import Clip
    from metrics.base import get_metric_class
    from metrics.embedders.cnn14 import save_random_weights

    base = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="bench-perf-metrics-"))
    sets = {name: _write_set(base / name, clips, seed) for name, seed in (("reference", 1), ("A", 2), ("B", 3))}
    ckpt = base / "ckpt"
    save_random_weights(ckpt / "Cnn14_16k_mAP=0.438.pth", 16000, seed=11)
    names = ["fd", "kl", "is"] + (["fad"] if torch_home else [])
    if not torch_home:
        print("note: no --torch-home with torchvggish's hub code: FAD is left out of both sides")
    vggish = {}
    if torch_home:
        hub = Path(torch_home) / "hub" / "checkpoints"
        vggish = {"checkpoint": str(hub / "vggish-10086976.pth"), "pca_params": str(hub / "vggish_pca_params-970ea276.pth")}

    python = subprocess.run(["bash", str(ROOT / "scripts" / "reference_env.sh")], capture_output=True,
                            text=True, check=True).stdout.strip().splitlines()[-1] + "/bin/python"
    ref_a = _reference(python, base / "A", base / "reference", ckpt, names, torch_home)
    ref_b = _reference(python, base / "B", base / "reference", ckpt, names, torch_home)

    cache = Cache(base / "cache")
    cfg = {"weights": "pretrained", "checkpoint": str(ckpt / "Cnn14_16k_mAP=0.438.pth")}
    metrics = {n: get_metric_class(n)(cache=cache, **(dict(vggish, weights="pretrained") if n == "fad" else cfg))
               for n in names}  # model loading is not timed, as on the reference side
    clip_list = [Clip(cid, "", str(p), 0.0, 10.0, cid) for cid, p in sets["reference"].items()]
    ours_a, cold_s = _ours(metrics, clip_list, sets["A"], sets["reference"])
    ours_b, warm_s = _ours(metrics, clip_list, sets["B"], sets["reference"])  # reference set cached

    rel = []
    for ours, theirs in ((ours_a, ref_a), (ours_b, ref_b)):
        for key, rkey in KEYS.items():
            if key in ours and theirs.get(rkey) is not None:
                rel.append(abs(ours[key] - theirs[rkey]) / max(abs(theirs[rkey]), 1e-12))
    from metrics.bootstrap import bootstrap_ci

    scores = metrics["fd"].scores(clip_list, sets["A"], sets["reference"])
    t0 = time.perf_counter()
    bootstrap_ci(scores["fd"].statistic, n_resamples=1000, n=clips)
    ci_s = time.perf_counter() - t0

    print(f"files: {clips} clips × 10 s at 32 kHz per set; metrics {','.join(names)}; under {base}")
    print(f"reference (audioldm_eval 0.0.3, its FD/KL/IS/FAD work only): cold {ref_a['work_s']:.1f} s, "
          f"new system {ref_b['work_s']:.1f} s")
    print(f"ours: cold {cold_s:.1f} s, one system added to an evaluated run {warm_s:.1f} s")
    print(f"bootstrap CI of FD, 1000 resamples: {ci_s:.2f} s")
    print(f"values A: ours {json.dumps({k: round(v, 6) for k, v in ours_a.items()})}")
    print(f"cold_speedup={ref_a['work_s'] / cold_s:.2f} warm_speedup={ref_b['work_s'] / warm_s:.2f} "
          f"max_rel_diff={max(rel):.2e}")
    return 0
