"""`bench evaluate`: score every system of a run against the reference, with bootstrap CIs,
paired comparisons, and results in `runs/<name>/metrics/<metric>.parquet`.

Pairing is by clip id: the run's clips (its dataset split and limit) are the reference set; a
system that lacks some of them, or has extra files, is an error listing them — unless
`allow_missing`, which evaluates every system on the clips all of them have and says so in the
results. Only first samples (`<clip_id>.wav`) are scored.

Rows of `metrics/<metric>.parquet` (tidy): metric, key, system, clip (None for the set row),
value, ci_low, ci_high, ci_method, n_clips, n_resamples, higher_is_better, weights, plus JSON
columns `config` (the metric's description incl. weights file digest) and `versions`, and the
`fingerprint` of what the row depends on: re-evaluating recomputes only systems whose files or
metric config changed (so re-running a finished `bench run` does no metric work).
Comparisons go to `metrics/comparisons.parquet`. The case-study features of every scored clip
(motion curve, each music's onsets and beats) go to `case_studies/<clip>.json` (metrics.case_study),
so a report reads them and never recomputes.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from systems.base import is_control
from core import __version__
from core.atomic import atomic_path
from core.cache import file_digest
from core.envinfo import package_versions
from core.options import accepted_kwargs
from core.manifest import Clip
from core.errors import ConfigError, DiskFullError, ReadOnlyError
from core.runfiles import output_problem
from metrics.base import Score, get_metric_class
from metrics.case_study import write_case_studies
from metrics.errors import MetricFailed, PairingError


#: the fields of every row of `metrics/<metric>.parquet` (see the module docstring)
ROW_FIELDS = ("metric", "key", "system", "clip", "value", "ci_low", "ci_high", "ci_method", "n_clips", "n_resamples",
              "higher_is_better", "target", "weights", "config", "versions", "fingerprint")


@dataclass
class Evaluation:
    run_dir: Path
    table: "object"  # pandas DataFrame of set-level rows
    comparisons: "object | None" = None
    notes: list[str] = field(default_factory=list)

    @property
    def random_weights(self) -> bool:
        return bool((self.table["weights"] == "random").any()) if len(self.table) else False


def collect_outputs(run_dir: Path, systems: Sequence[str], clips: Sequence[Clip], allow_missing: bool
                    ) -> tuple[list[Clip], dict[str, dict[str, Path]], list[str]]:
    """Pair each system's first-sample wavs with the run's clips; see the module docstring.

    Every paired wav is checked against the protocol (the system's rate as recorded in env.json,
    mono, exactly the clip's length, finite samples): one that breaks it is an error naming the
    file — a resumed `bench run` regenerates it — or, with `allow_missing`, left out with a note."""
    wanted = {c.id for c in clips}
    by_id = {c.id: c for c in clips}
    rates = _recorded_rates(run_dir)
    found: dict[str, dict[str, Path]] = {}
    problems, broken, notes = [], [], []
    for s in systems:
        files = {p.stem: p for p in (run_dir / s).glob("*.wav") if "." not in p.stem}
        missing, extra = sorted(wanted - set(files)), sorted(set(files) - wanted)
        if extra:
            problems.append(f"{s}: {len(extra)} file(s) for clips that are not in the run's clip set "
                            f"(e.g. {extra[:3]})")
        if missing:
            problems.append(f"{s}: {len(missing)} of {len(wanted)} clips have no output (e.g. {missing[:3]}; "
                            f"see {run_dir / s / 'failures.jsonl'})")
        paired = {k: v for k, v in files.items() if k in wanted}
        rate = rates.get(s) or _majority_rate(paired.values())
        for cid in sorted(paired):
            why = output_problem(paired[cid], rate, int(round(by_id[cid].duration * rate))) if rate else None
            if why is not None:
                broken.append(f"{paired.pop(cid)}: {why}")
        found[s] = paired
    if broken and not allow_missing:
        raise PairingError(f"{run_dir}: {len(broken)} output(s) break the protocol and were not scored:\n  "
                           + "\n  ".join(broken[:20]) + (f"\n  ... and {len(broken) - 20} more" if len(broken) > 20 else "")
                           + "\nRe-run the same `bench run` command: outputs that fail these checks count as not "
                             "done and are generated again (or pass --allow-missing to score without them).")
    if broken:
        problems.append(f"{len(broken)} output(s) break the protocol and were left out (e.g. {broken[0]})")
    if problems and not allow_missing:
        raise PairingError(f"{run_dir}: generated and reference sets do not pair by clip id:\n  "
                           + "\n  ".join(problems)
                           + "\nRe-run `bench run` to finish them, or pass --allow-missing to score the "
                             "clips every system has (the results will say so).")
    empty = [s for s, f in found.items() if not f]
    if empty and len(empty) < len(found):  # a system with no output at all would leave no clip to score
        notes.append(f"left out (--allow-missing): {', '.join(empty)} (no usable output)")
        found = {s: f for s, f in found.items() if f}
    common = set.intersection(wanted, *(set(f) for f in found.values())) if found else wanted
    if not common:
        raise PairingError(f"{run_dir}: no clip has a usable output from every system ({'; '.join(problems)}); "
                           "nothing to score. Re-run `bench run` to generate them.")
    if len(common) < len(wanted):
        notes.append(f"evaluated on the {len(common)} of {len(wanted)} clips that every system has "
                     f"(--allow-missing): {'; '.join(problems)}")
    kept = [c for c in clips if c.id in common]
    return kept, {s: {cid: f[cid] for cid in (c.id for c in kept)} for s, f in found.items()}, notes


def _recorded_rates(run_dir: Path) -> dict[str, int]:
    """Each system's sample rate as the run recorded it (env.json), where it did."""
    path = run_dir / "env.json"
    try:
        systems = json.loads(path.read_text()).get("systems", {}) if path.exists() else {}
    except ValueError:
        return {}
    return {s: int(d["sample_rate"]) for s, d in systems.items() if isinstance(d, dict) and d.get("sample_rate")}


def _majority_rate(paths) -> int | None:
    import soundfile as sf
    from collections import Counter

    rates = Counter()
    for p in paths:
        try:
            rates[sf.info(str(p)).samplerate] += 1
        except Exception:
            continue
    return rates.most_common(1)[0][0] if rates else None


def _finite_mask(score: Score) -> np.ndarray | None:
    return None if score.per_clip is None else np.isfinite(score.per_clip)


def summarise(score: Score, n: int, n_resamples: int, seed: int):
    """Value with its bootstrap CI; per-clip NaNs (undefined for that clip) are left out."""
    from metrics.bootstrap import bootstrap_ci

    if score.per_clip is not None:
        v = score.per_clip[np.isfinite(score.per_clip)]
        if v.size == 0:
            return None, 0
        if v.size == 1:  # one defined clip: its value, no interval (a bootstrap needs two)
            from metrics.bootstrap import BootstrapCI

            return BootstrapCI(float(v[0]), np.nan, np.nan, np.nan, 0.0, 0.95, 0, "none (1 clip)", np.empty(0)), 1
        return bootstrap_ci(v, n_resamples=n_resamples, seed=seed), int(v.size)
    return bootstrap_ci(score.statistic, n_resamples=n_resamples, seed=seed, n=n, floor=score.floor), n


def fingerprint(metric_config: Mapping, files: Mapping[str, Path], reference: Mapping[str, Path],
                n_resamples: int, seed: int, captions: Mapping[str, str | None] | None = None) -> str:
    """What a system's scores under one metric depend on: the metric's config (and checkpoint
    file), the bootstrap settings, the bytes of every paired generated and reference file, and
    (for a metric that reads them, `Metric.uses_captions`) the clips' captions."""
    h = hashlib.sha256(json.dumps({"metric": dict(metric_config), "n_resamples": n_resamples, "seed": seed,
                                   "bench": __version__}, sort_keys=True, default=str).encode())
    for key in ("checkpoint", "pca_params"):
        path = metric_config.get(key)
        if path and Path(path).exists():
            h.update(file_digest(path).encode())
    for cid in sorted(files):
        h.update(f"{cid}:{file_digest(files[cid])}:{file_digest(reference[cid])}".encode())
    if captions is not None:
        h.update(json.dumps({cid: captions.get(cid) for cid in sorted(files)}, sort_keys=True).encode())
    return h.hexdigest()


def clip_captions(metric: str, clips: Sequence[Clip]) -> dict[str, str | None] | None:
    """The clips' captions when metric `metric` reads them (`Metric.uses_captions`), else None."""
    if not getattr(get_metric_class(metric), "uses_captions", False):
        return None
    return {c.id: c.caption for c in clips}


def evaluate(run_dir: str | Path, clips: Sequence[Clip], systems: Sequence[str], metric_configs: Mapping[str, dict],
             compare: Sequence[str] = (), allow_missing: bool = False, n_resamples: int = 1000, seed: int = 0,
             cache=None, progress: bool = True, prefetch=None) -> Evaluation:
    """Score `systems` of a run; a system whose fingerprint under a metric is unchanged since the
    last evaluation keeps its stored rows (nothing is recomputed, no model is even built).

    `prefetch(metric_name, metric_config, paths)`, when given, is called before a metric scores,
    with every audio file it will read (the systems' outputs it must score and the references): it
    may fill the per-file embedding cache elsewhere (an executor's shards), so scoring only reads."""
    import pandas as pd

    run_dir = Path(run_dir)
    if not systems:
        raise ConfigError(f"{run_dir}: no systems to evaluate")
    kept, outputs, notes = collect_outputs(run_dir, systems, clips, allow_missing)
    systems = [s for s in systems if s in outputs]  # --allow-missing leaves out systems with no output
    reference = {c.id: c.audio_path for c in kept}
    notes_path = run_dir / "metrics" / "notes.json"
    old_notes = json.loads(notes_path.read_text()).get("by_metric", {}) if notes_path.exists() else {}
    for mname, mcfg in metric_configs.items():  # before any work: a metric that reads captions needs them all
        captions = clip_captions(mname, kept)
        lacking = [cid for cid, text in (captions or {}).items() if not (text or "").strip()]
        if lacking:
            raise ConfigError(f"metric {mname!r} compares each clip's caption (its text prompt) with the music; "
                              f"{len(lacking)} of {len(kept)} clips have none in the dataset's manifest, e.g. "
                              f"{lacking[:5]}: leave {mname} out (--metrics) or use a dataset with captions")
    set_rows, comp_rows, notes_by_metric = [], [], {}
    for mname, mcfg in metric_configs.items():
        captions = clip_captions(mname, kept)
        fps = {s: fingerprint(mcfg, outputs[s], reference, n_resamples, seed, captions) for s in systems}
        path = run_dir / "metrics" / f"{mname}.parquet"
        old = pd.read_parquet(path) if path.exists() else None
        reuse = {s for s in systems if old is not None and "fingerprint" in old.columns
                 and (old.loc[old["system"] == s, "fingerprint"] == fps[s]).any()}
        need = [s for s in systems if s not in reuse or s in compare]
        rows, per_system, metric_notes = [], {}, []
        if need and prefetch is not None:
            prefetch(mname, mcfg, sorted({str(p) for s in need for p in outputs[s].values()}
                                         | {str(p) for p in reference.values()}))
        if need:
            rows_new, per_system, metric_notes = _score_systems(mname, mcfg, need, kept, outputs, reference, fps,
                                                                n_resamples, seed, cache, progress)
            rows += [r for r in rows_new if r["system"] not in reuse]
        for s in reuse:
            # parquet gives the set row's clip back as NaN beside string clip ids: restore None
            rows += [{**r, "clip": r["clip"] if isinstance(r["clip"], str) else None}
                     for r in old[old["system"] == s].to_dict("records")]
        if reuse:
            metric_notes = list(dict.fromkeys(old_notes.get(mname, []) + metric_notes))
        rows.sort(key=lambda r: (systems.index(r["system"]), r["clip"] is not None))
        comp_rows += _comparisons(mname, per_system, compare, len(kept), n_resamples, seed)
        with atomic_path(path) as tmp:
            pd.DataFrame(rows).to_parquet(tmp, index=False)
        set_rows += [r for r in rows if r["clip"] is None]
        notes_by_metric[mname] = metric_notes
        notes += metric_notes
    notes += write_case_studies(run_dir, kept, {s: outputs[s] for s in systems}, cache)
    table = pd.DataFrame(set_rows)
    comparisons = pd.DataFrame(comp_rows) if comp_rows else None
    if comparisons is not None:
        with atomic_path(run_dir / "metrics" / "comparisons.parquet") as tmp:
            comparisons.to_parquet(tmp, index=False)
    with atomic_path(notes_path) as tmp:
        tmp.write_text(json.dumps({"notes": notes, "by_metric": {**old_notes, **notes_by_metric},
                                   "clips": [c.id for c in kept]}, indent=2))
    return Evaluation(run_dir, table, comparisons, notes)


def build_metric(mname: str, mcfg: Mapping, cache, seed: int):
    """The metric `mname` built from its config (``bench/conf/metric/<name>.yaml`` keys); a key the
    class does not take is a ConfigError naming it. Models are built lazily, on first use."""
    cls = get_metric_class(mname)
    kwargs = {k: v for k, v in dict(mcfg).items() if k not in ("name", "class")}
    accepted_kwargs(cls, kwargs, f"metric {mname!r}")
    return cls(cache=cache, seed=seed, **kwargs)


def _score_systems(mname, mcfg, systems, kept, outputs, reference, fps, n_resamples, seed, cache, progress):
    """Build the metric once and score each system: rows (set + per-clip), Scores, notes."""
    from tqdm.auto import tqdm

    metric = build_metric(mname, mcfg, cache, seed)
    config = json.dumps(metric.describe(), default=str)
    versions = json.dumps(package_versions())
    rows, per_system, notes = [], {}, []
    seen_warnings: set[str] = set()
    metric.prepare([p for s in systems for p in outputs[s].values()], list(reference.values()))
    for s in tqdm(systems, desc=f"metric {mname}", unit="system", disable=None if progress else True):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                per_system[s] = scores = metric.scores(kept, outputs[s], reference)
            except (DiskFullError, ReadOnlyError, KeyboardInterrupt):
                raise
            except Exception as exc:
                raise MetricFailed(f"metric {mname!r} failed on system {s!r} ({len(kept)} clip(s)): "
                                   f"{type(exc).__name__}: {exc}") from exc
        for w in caught:  # one note per warning kind, not one per system and set
            if w.category.__name__ not in seen_warnings:
                seen_warnings.add(w.category.__name__)
                notes.append(f"{mname}: {w.message}")
        for key, score in scores.items():
            base = dict(metric=mname, key=key, system=s, higher_is_better=score.higher_is_better,
                        target=score.target, weights=metric.weights, config=config, versions=versions, n_resamples=n_resamples,
                        fingerprint=fps[s])
            if len(kept) < score.min_clips:
                note = f"{key}: not computed, it needs at least {score.min_clips} clips and the run has {len(kept)}"
                if note not in notes:
                    notes.append(note)
                rows.append({**base, "clip": None, "value": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                             "ci_method": None, "n_clips": len(kept)})
                continue
            try:
                ci, n_used = summarise(score, len(kept), n_resamples, seed)
            except (DiskFullError, ReadOnlyError, KeyboardInterrupt):
                raise
            except Exception as exc:
                raise MetricFailed(f"metric {mname!r}, key {key!r}, system {s!r}: its confidence interval "
                                   f"failed on {len(kept)} clip(s): {type(exc).__name__}: {exc}") from exc
            if score.per_clip is not None and n_used < len(kept):
                undefined = [c.id for c, v in zip(kept, score.per_clip) if not np.isfinite(v)]
                notes.append(f"{key} ({s}): undefined for {len(undefined)} of {len(kept)} clips (e.g. "
                             f"{undefined[:3]}: a silent or beatless track), left out of its set value")
            rows.append({**base, "clip": None, "value": ci.estimate if ci else np.nan,
                         "ci_low": ci.ci_low if ci else np.nan, "ci_high": ci.ci_high if ci else np.nan,
                         "ci_method": ci.method if ci else None, "n_clips": n_used})
            if score.per_clip is not None:
                rows += [{**base, "clip": c.id, "value": float(v), "ci_low": np.nan, "ci_high": np.nan,
                          "ci_method": None, "n_clips": 1} for c, v in zip(kept, score.per_clip)]
    return rows, per_system, notes


def _comparisons(metric: str, per_system: dict[str, dict[str, Score]], compare: Sequence[str], n: int,
                 n_resamples: int, seed: int) -> list[dict]:
    from metrics.bootstrap import paired_comparison

    if not compare:
        return []
    a, b = compare
    for s in (a, b):
        if s not in per_system:
            raise ConfigError(f"--compare: system {s!r} is not in the run (systems: {sorted(per_system)})")
    rows = []
    for key, sa in per_system[a].items():
        sb = per_system[b][key]
        if n < sa.min_clips:
            continue
        if sa.per_clip is not None:
            mask = np.isfinite(sa.per_clip) & np.isfinite(sb.per_clip)
            if mask.sum() < 2:
                continue
            pc = paired_comparison(sa.per_clip[mask], sb.per_clip[mask], n_resamples=n_resamples, seed=seed)
        else:
            pc = paired_comparison(sa.statistic, sb.statistic, n_resamples=n_resamples, seed=seed, n=n)
        rows.append(dict(metric=metric, key=key, a=a, b=b, difference=pc.difference, ci_low=pc.ci_low,
                         ci_high=pc.ci_high, p_value=pc.p_value, test=pc.test, n_clips=pc.n_clips,
                         higher_is_better=sa.higher_is_better))
    return rows


def ordered_systems(systems: Sequence[str]) -> list[str]:
    """Controls first (their class's `kind`), then the others, each in the order given."""
    controls = [s for s in systems if is_control(s)]
    return controls + [s for s in systems if s not in controls]
