"""`bench perf metrics`: our FD/KL/IS (+FAD) against audioldm_eval 0.0.3 on the same files and
weight files, cold (empty cache) and warm (one new system added to an evaluated run).

Files: `clips` × 10 s at 32 kHz for a reference set and two systems (A, then B added later),
seeded clips from the FAD golden's recipe (scripts/make_fad_golden.py); seeded random Cnn14 (and VGGish) weights in the official file formats.
The reference runs in its side environment (scripts/reference_env.sh) through
scripts/reference_eval.py, which reports per-step seconds: only its Cnn14 passes and its
FD/KL/IS (and FAD) work are timed, not model loading and not the extra metrics it would add.

Ours is the real pipeline, `metrics.evaluate.evaluate` on a run folder (runs/<name>/A, B), with
its default settings (batched embedders, `fd_method: exact`, 1000-resample bootstrap CIs, parquet
results), timed after the models are built: cold = evaluate [A] with an empty cache (reference set
and A embedded); warm = evaluate [A, B] afterwards — A's stored rows are reused (fingerprints)
and only B's files are embedded; the benchmark checks both from the cache's counters.

FAD needs torchvggish's hub code on the reference side: `--torch-home` is either a TORCH_HOME
holding ``hub/harritaylor_torchvggish_master/`` (+ its weights in ``hub/checkpoints/``) or the
harritaylor/torchvggish repository itself (a git dir or checkout, e.g. from `fetch`), in which
case a TORCH_HOME with seeded VGGish weights is made here. Without it FAD is left out of both
sides and the output says so. Last line: `cold_speedup=<x> warm_speedup=<y> max_rel_diff=<d>`.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from metrics.perf_fadtk import print_suite, run_suite
from core.cache import Cache
from core.manifest import Clip

ROOT = Path(__file__).resolve().parent.parent
#: our result key → reference_eval.py's JSON key
KEYS = {"fd": "fd", "kl_softmax": "kl_softmax", "kl_sigmoid": "kl_sigmoid", "is": "is_mean", "fad": "fad"}
HUB_DIR = Path("hub") / "harritaylor_torchvggish_master"


def _golden_script():
    """scripts/make_fad_golden.py as a module: its seeded clip and VGGish-weight generators."""
    from importlib.util import module_from_spec, spec_from_file_location

    spec = spec_from_file_location("_bench_make_fad_golden", ROOT / "scripts" / "make_fad_golden.py")
    module = module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _write_set(folder: Path, n: int, family: str, seed: int) -> dict[str, Path]:
    """n seeded 10 s clips at 32 kHz (16-bit PCM) of the FAD golden's `family` ("reference" or
    "generated": the two families differ in pitch, harmonics, tempo and noise, so FD and FAD
    are well above their rounding noise)."""
    golden = _golden_script()
    golden.write_clips(folder, family, seed, n, 32000, 10.0)
    return {Path(name).stem: folder / name for name in golden.clip_names(n)}


def _torch_home(given: str | None, base: Path) -> Path | None:
    """A TORCH_HOME with the torchvggish hub code and weights, or None (no FAD)."""
    if not given:
        return None
    given_path = Path(given).expanduser().resolve()
    if (given_path / HUB_DIR / "hubconf.py").is_file():
        return given_path
    if not ((given_path / "hubconf.py").is_file() or (given_path / "objects").is_dir()
            or (given_path / "HEAD").is_file()):
        raise SystemExit(f"perf: --torch-home {given_path}: neither a TORCH_HOME with {HUB_DIR}/hubconf.py nor "
                         f"the harritaylor/torchvggish repository (git dir or checkout)")
    golden = _golden_script()
    home = base / "torch_home"
    golden.install_torchvggish(given_path, home)
    golden.write_vggish_weights(home / "hub" / "checkpoints", golden.VGGISH_SEED)
    return home


def _reference(python: str, gen: Path, ref: Path, ckpt: Path, metrics: list[str], torch_home: Path | None) -> dict:
    cmd = [python, str(ROOT / "scripts" / "reference_eval.py"), "--generated", str(gen), "--reference", str(ref),
           "--ckpt-dir", str(ckpt), "--sample-rate", "16000", "--metrics", ",".join(metrics)]
    if torch_home:
        cmd += ["--torch-home", str(torch_home)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"perf: reference_eval.py failed:\n{r.stderr[-3000:]}")
    out = json.loads(r.stdout)
    sec = out["seconds"]
    out["work_s"] = sum(sec.get(k, 0.0) for k in ("cnn14_reference", "cnn14_generated", "fd", "kl", "is", "fad"))
    return out


def _values(table, system: str) -> dict[str, float]:
    rows = table[table["system"] == system]
    return {k: float(v) for k, v in zip(rows["key"], rows["value"])}


#: presets `--suite all` compares, and those it cannot, with why
SUITES = ("audioldm_eval-0.0.3", "fadtk-encodec", "fadtk-encodec-48k", "fadtk-vggish")

#: The new embedders' benchmarks, run by `--suite all` after SUITES: "module:function" entries,
#: each ``function(keep: Path | None) -> dict`` with ``"line"`` (its printed line: seconds per
#: 10-s file, ours against the peer tool's, same files, same weights), ``"presets"`` (the preset
#: names it compares, e.g. ["fadtk-clap"]) and ``"rel"`` ({key: relative difference against the
#: peer}). A hook whose module or function is absent is listed as not compared, with why.
EMBEDDER_PERF_HOOKS: list[str] = ["metrics.embedders.passt:perf_line", "metrics.embedders.openl3:perf_line",
                                   "metrics.embedders.clap_score:perf_line", "metrics.embedders.vggish:perf_line",
                                   "metrics.perf:audioldm_main_line"]
# CLAP and MERT time our side only (metrics.embedders.clap/mert.perf_line(files)); their peers' times come from
# scripts/golden/clap_golden.py / mert_golden.py --perf in the side environment, so fadtk-clap/-mert are not compared


#: audioldm_eval main's keys in its calculate_metrics result, by our result key
MAIN_KEYS = {"fd": "frechet_distance", "fad": "frechet_audio_distance", "is": "inception_score_mean",
             "kl_softmax": "kullback_leibler_divergence_softmax", "kl_sigmoid": "kullback_leibler_divergence_sigmoid"}


def main_golden_values(part: dict) -> dict[str, float]:
    """Our result keys → main's values, from one part of the golden json (the 16 kHz top level or
    ``at_32000``): its calculate_metrics numbers and its calculate_kid mean."""
    return {**{k: part["metrics"][v] for k, v in MAIN_KEYS.items()}, "kid": part["kid"]["kernel_inception_distance_mean"]}


def build_embedders(configs: dict[str, dict], cache) -> None:
    """Build every metric config's embedder network now, so that a timing leaves model loading out
    (embedders build theirs on the first cache miss)."""
    from metrics.base import get_metric_class
    from metrics.embedders.timing import build

    for cfg in configs.values():
        build(get_metric_class(cfg["name"])(cache=cache, seed=0, **{k: v for k, v in cfg.items() if k != "name"}).embedder)


def audioldm_main_line(keep: Path | None = None, sample_rate: int = 16000) -> dict:
    """`--suite all` hook for the audioldm_eval-main preset: its six numbers on the golden clips
    against those main's own ``calculate_metrics`` + ``calculate_kid`` gave
    (tests/metrics/golden/audioldm_eval_main_golden.json, the same seeded MERT and VGGish weights; at
    `sample_rate` 16000 or 32000, main's EvaluationHelper rate), and the whole scoring's wall time, ours
    now (``metrics.evaluate.evaluate`` on an empty cache: embeddings, six metrics with their
    bootstrap CIs; models built first) against main's as the golden script timed it (models built,
    2 torch threads). Returns {"line", "presets", "rel"} (and "evaluation", the scored table)."""
    import shutil

    from metrics.embedders.timing import golden_script
    from metrics.evaluate import evaluate
    from metrics.presets import preset_metric_configs

    script = golden_script("audioldm_eval_main")
    golden = json.loads((ROOT / "tests/metrics/golden/audioldm_eval_main_golden.json").read_text())
    folder = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="perf_audioldm_main_"))
    script.write_clip_sets(folder)  # <folder>/generated: the run's one system; <folder>/reference
    clips = [Clip(p.stem, "", str(p), 0.0, script.CLIPS["duration_s"], p.stem)
             for p in sorted((folder / "reference").glob("*.wav"))]
    configs = preset_metric_configs("audioldm_eval-main", weights="random")
    for cfg in configs.values():
        if "reference_rate" in cfg:
            cfg["reference_rate"] = int(sample_rate)
    cache = Cache(folder / "cache")
    build_embedders(configs, cache)  # untimed, as main's models are
    t0 = time.perf_counter()
    ev = evaluate(folder, clips, ["generated"], configs, cache=cache, progress=False)
    ours = time.perf_counter() - t0
    shutil.rmtree(folder / "metrics", ignore_errors=True)  # a later call scores afresh
    table = ev.table[ev.table["system"] == "generated"].set_index("key")
    expected = main_golden_values(golden if sample_rate == 16000 else golden["at_32000"])
    rel = {k: abs(float(table.loc[k, "value"]) - v) / abs(v) for k, v in expected.items()}
    line = (f"audioldm_eval-main: ours {ours:.1f} s cold for {golden['perf']['audio_seconds']:.0f} s of audio "
            f"(6 metrics with CIs), main's calculate_metrics + calculate_kid {golden['perf']['peer_seconds']:.1f} s "
            f"(timed once by scripts/golden/audioldm_eval_main_golden.py); worst rel diff vs main's "
            f"{max(rel.values()):.1e}")
    return {"line": line, "presets": ["audioldm_eval-main"], "rel": rel, "evaluation": ev}


def run_embedder_hooks(hooks, keep: str | None = None) -> tuple[dict[str, float], list[str], dict[str, str]]:
    """(relative differences by "preset:key", presets compared, hook → why it did not run)."""
    import importlib

    rels, compared, failed = {}, [], {}
    for hook in hooks:
        module, _, fn = hook.partition(":")
        try:
            func = getattr(importlib.import_module(module), fn)
        except (ImportError, AttributeError) as exc:
            failed[hook] = f"{type(exc).__name__}: {exc}"
            continue
        r = func(Path(keep) / module.rsplit(".", 1)[-1] if keep else None)
        print(r["line"])
        for preset in r.get("presets", []):
            compared.append(preset)
            rels.update({f"{preset}:{k}": v for k, v in r.get("rel", {}).items()})
    return rels, compared, failed


def perf_metrics(clips: int = 64, torch_home: str | None = None, keep: str | None = None,
                 suite: str = "audioldm_eval-0.0.3", fadtk_files: int | None = None) -> int:
    """`--suite audioldm_eval-0.0.3` (default: the cold/warm benchmark below), a fadtk preset, or
    `all`: each comparable preset, then one line
    ``suites=<n> max_rel_diff=<x> cold_speedup=<c> warm_speedup=<w>`` (speedups: the
    audioldm_eval suite's, the one with a cold/warm protocol against the peer)."""
    names = list(SUITES) if suite == "all" else [suite]
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        raise SystemExit(f"perf: unknown suite {unknown[0]!r}; choose from all, {', '.join(SUITES)}")
    rels, speed = {}, None
    for name in names:
        if name == "audioldm_eval-0.0.3":
            speed = _perf_audioldm(clips, torch_home, keep)
            rels.update({f"{name}:{k}": v for k, v in speed["rel"].items()})
        else:
            r = run_suite(name, Path(keep) / name if keep else None, max_files=fadtk_files)
            print_suite(r)
            rels.update({f"{name}:{k}": v for k, v in r["rel"].items()})
    if suite != "all":
        return 0
    hook_rels, hooked, failed = run_embedder_hooks(EMBEDDER_PERF_HOOKS, keep)
    rels.update(hook_rels)
    names += [p for p in dict.fromkeys(hooked) if p not in names]
    print(bar_line(names, rels, speed, failed))
    return 0


def not_compared(compared, failed_hooks: dict[str, str] | None = None) -> dict[str, str]:
    """Every preset `--suite all` did not compare, with why (unavailable here, or no benchmark)."""
    from metrics.presets import PRESETS, unavailable_reason

    out = {}
    for p in PRESETS.values():
        if p.name in compared:
            continue
        if p.name == "audioldm_eval-0.0.3-32k":
            out[p.name] = ("same code path as audioldm_eval-0.0.3 at the other Cnn14 front end; checked by "
                           "tests/metrics/test_parity.py, not timed here")
        elif unavailable_reason(p):
            out[p.name] = f"unavailable: {unavailable_reason(p)}"
        else:
            out[p.name] = "no benchmark against its peer tool here (metrics.perf.EMBEDDER_PERF_HOOKS)"
    for hook, why in (failed_hooks or {}).items():
        out[hook] = f"benchmark hook did not load: {why}"
    return out


def bar_line(compared, rels: dict[str, float], speed: dict | None, failed_hooks: dict[str, str] | None = None) -> str:
    """The notes and the last line of `--suite all`:
    ``suites=<n> max_rel_diff=<x> cold_speedup=<c> warm_speedup=<w>`` (speedups: the audioldm_eval
    suite's, the one with a cold/warm protocol against the peer)."""
    lines = ["not compared: " + "; ".join(f"{k} ({v})" for k, v in not_compared(compared, failed_hooks).items())]
    worst = max(rels, key=rels.get) if rels else None
    if worst:
        lines.append(f"worst relative difference: {worst} {rels[worst]:.2e}")
    cold = f"{speed['cold']:.2f}" if speed else "nan"
    warm = f"{speed['warm']:.2f}" if speed else "nan"
    lines.append(f"suites={len(compared)} max_rel_diff={rels[worst] if worst else float('nan'):.2e} "
                 f"cold_speedup={cold} warm_speedup={warm}")
    return "\n".join(lines)


def _perf_audioldm(clips: int, torch_home: str | None, keep: str | None) -> dict:
    from metrics.base import get_metric_class
    from metrics.embedders.cnn14 import save_random_weights
    from metrics.evaluate import evaluate

    base = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="bench-perf-metrics-"))
    run_dir = base / "runs" / "perf"
    reference = _write_set(base / "reference", clips, "reference", 1)
    for name, seed in (("A", 2), ("B", 3)):
        _write_set(run_dir / name, clips, "generated", seed)
    ckpt = base / "ckpt"
    save_random_weights(ckpt / "Cnn14_16k_mAP=0.438.pth", 16000, seed=11)
    home = _torch_home(torch_home, base)
    names = ["fd", "kl", "is"] + (["fad"] if home else [])
    if not home:
        print("note: no --torch-home (torchvggish hub code): FAD is left out of both sides")

    python = subprocess.run(["bash", str(ROOT / "scripts" / "reference_env.sh")], capture_output=True,
                            text=True, check=True).stdout.strip().splitlines()[-1] + "/bin/python"
    ref_a = _reference(python, run_dir / "A", base / "reference", ckpt, names, home)
    ref_b = _reference(python, run_dir / "B", base / "reference", ckpt, names, home)

    cache = Cache(base / "cache")
    cnn14 = {"weights": "pretrained", "checkpoint": str(ckpt / "Cnn14_16k_mAP=0.438.pth")}
    configs = {n: dict(cnn14, name=n) for n in names if n != "fad"}
    if home:
        hub = home / "hub" / "checkpoints"
        configs["fad"] = {"name": "fad", "weights": "pretrained", "checkpoint": str(hub / "vggish-10086976.pth"),
                          "pca_params": str(hub / "vggish_pca_params-970ea276.pth")}
    build_embedders(configs, cache)  # model loading is not timed on either side
    clip_list = [Clip(cid, "", str(p), 0.0, 10.0, cid) for cid, p in reference.items()]

    def timed(systems):
        before = cache.misses
        t0 = time.perf_counter()
        ev = evaluate(run_dir, clip_list, systems, configs, cache=cache, progress=False)
        return ev, time.perf_counter() - t0, cache.misses - before

    ev_a, cold_s, cold_embedded = timed(["A"])
    ev_b, warm_s, warm_embedded = timed(["A", "B"])
    per_file = 1 + ("fad" in configs)  # files embedded per clip: Cnn14 (shared by FD/KL/IS) + VGGish
    if cold_embedded != 2 * clips * per_file or warm_embedded != clips * per_file:
        raise SystemExit(f"perf: expected {2 * clips * per_file} embeddings cold and {clips * per_file} warm "
                         f"(only B's files), got {cold_embedded} and {warm_embedded}")
    ours_a, ours_b = _values(ev_a.table, "A"), _values(ev_b.table, "B")

    rel = {}
    for sysname, ours, theirs in (("A", ours_a, ref_a), ("B", ours_b, ref_b)):
        for key, rkey in KEYS.items():
            if key in ours and theirs.get(rkey) is not None:
                rel[f"{sysname}.{key}"] = abs(ours[key] - theirs[rkey]) / max(abs(theirs[rkey]), 1e-12)

    # the bootstrap CIs alone (FD: one row per clip; FAD: a clip's frames resampled together),
    # and the default FD route against the reference's sqrtm code path
    from metrics.bootstrap import bootstrap_ci
    from metrics.embedding_metrics import frechet_score

    generated = {c.id: run_dir / "A" / f"{c.id}.wav" for c in clip_list}
    ci_s = {}
    for n, key in (("fd", "embedding"), ("fad", "frames")):
        if n not in configs:
            continue
        metric = get_metric_class(n)(cache=cache, seed=0, **{k: v for k, v in configs[n].items() if k != "name"})
        gen = [g[key] for g in metric._embed(generated, clip_list)]
        ref = [r[key] for r in metric._embed(reference, clip_list)]
        score = frechet_score(gen, ref, method="exact")
        t0 = time.perf_counter()
        bootstrap_ci(score.statistic, n_resamples=1000, n=clips)
        ci_s[n] = time.perf_counter() - t0
        if n == "fd":
            fd_exact = score.statistic(np.arange(clips)[None])[0]
            t0 = time.perf_counter()
            fd_sqrtm = frechet_score(gen, ref, method="sqrtm").statistic(np.arange(clips)[None])[0]
            sqrtm_s = time.perf_counter() - t0

    print(f"files: {clips} clips × 10 s at 32 kHz per set; metrics {','.join(names)}; under {base}")
    print(f"reference (audioldm_eval 0.0.3, its FD/KL/IS/FAD work only): cold {ref_a['work_s']:.1f} s, "
          f"new system {ref_b['work_s']:.1f} s; steps (cold) "
          + json.dumps({k: round(v, 1) for k, v in ref_a["seconds"].items()}))
    print(f"ours (bench evaluate, incl. 1000-resample CIs and parquet): cold {cold_s:.1f} s ({cold_embedded} files "
          f"embedded), one system added to the evaluated run {warm_s:.1f} s ({warm_embedded} files embedded)")
    print("bootstrap CIs, 1000 resamples: " + ", ".join(f"{n.upper()} {t:.2f} s" for n, t in ci_s.items()))
    print(f"FD point estimate: exact route {fd_exact:.9g}, sqrtm route {fd_sqrtm:.9g} ({sqrtm_s:.1f} s), relative "
          f"difference {abs(fd_exact - fd_sqrtm) / abs(fd_sqrtm):.2e}")
    print(f"values A: ours {json.dumps({k: round(v, 6) for k, v in ours_a.items() if k in KEYS})}")
    print(f"values A: reference {json.dumps({k: ref_a.get(v) for k, v in KEYS.items()})}")
    print("relative differences: " + json.dumps({k: float(f"{v:.3g}") for k, v in rel.items()}))
    print(f"[audioldm_eval-0.0.3] cold_speedup={ref_a['work_s'] / cold_s:.2f} warm_speedup={ref_b['work_s'] / warm_s:.2f} "
          f"max_rel_diff={max(rel.values()):.2e}")
    return {"rel": rel, "cold": ref_a["work_s"] / cold_s, "warm": ref_b["work_s"] / warm_s}
