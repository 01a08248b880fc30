"""The science check: does DyViM use *when* the video moves? (issue 18; docs/science.md)

One DyViM per seed is trained on the toy's train split (features and codes from the cache). On the
held-out clips the same trained parameters then score the reference codes (per-position token
NLL, nats per code, teacher-forced) under conditions that each destroy one piece of information:

    full                the clip's own dynamics and semantics
    dyn_time_shuffled   the clip's own motion maps in a random frame order (content kept, timing gone)
    dyn_other_clip      another held-out clip's motion maps (from another piece)
    dyn_time_mean       the clip's motion maps averaged over time (content kept, no change at all)
    sem_other_clip      another held-out clip's CLIP keyframe states
    sem_mean            the mean CLIP state over every clip of the dataset

gain(control) = NLL(control) − NLL(full) per clip (seeds averaged per clip, so clips are the
units; bootstrap over clips for 95 % CIs). Where the model uses timing, the gain against the
time-shuffled control is concentrated at note onsets: `onset_gain_ratio` = mean per-position gain
within ±`onset_window` music frames of an onset (events/<id>.json) / mean gain over all positions
(> 1 exactly when the gain near onsets exceeds the gain elsewhere, given a positive overall gain).
The denominator is the overall gain, not the gain elsewhere: a model whose gain is all at the
onsets has a gain elsewhere near 0 of either sign, and near / elsewhere then has no stable interval
(measured: 20.5 [−134.6, 126.2] for a run whose overall gain was 0.018 [0.000, 0.033]).
`near_far_ratio` (near / elsewhere) is kept in results.json.

Also reported: the floors every model must beat — uniform (ln 2048 = 7.625) and the code-frequency
model fitted on the train codes — and the codes' onset probe (how much more often codes change at
onsets than elsewhere; AUC of the code changes against onset frames).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from bench import api
from bench.config import DatasetSettings, PathSettings, RunSettings, to_dict
from core.atomic import write_text_atomic
from core.cache import Cache
from bench.experiments.science_audio import (GENERATION_CONDITIONS, generation_lines, measure, sample_clips,
                                             summarise_generation)
from core.errors import ConfigError
from reports.science import (CONTROLS, DYNAMICS_CONTROLS, LABELS, PER_CLIP_FILE, PERI, RESULTS_FILE,  # noqa: F401
                             SCIENCE_DIR, SEMANTICS_CONTROLS, read_results)

@dataclass(frozen=True)
class ScienceConfig:
    """The `science:` section of the experiment YAML."""

    seeds: tuple[int, ...] = (0, 1, 2)
    steps: int = 300
    batch_size: int = 8
    lr: float = 3e-3
    warmup_steps: int = 30
    segment_seconds: float = 2.0
    test_fraction: float = 0.3  # of the pieces (sources), held out for this check
    onset_window: int = 1  # music frames either side of an onset that count as "near"
    n_resamples: int = 2000
    split_seed: int = 0
    generate_seconds: float = 10.0  # the generation half (science_audio.py); 0 skips it

    @classmethod
    def from_dict(cls, raw: dict | None) -> "ScienceConfig":
        raw = dict(raw or {})
        unknown = sorted(set(raw) - set(cls.__dataclass_fields__))
        if unknown:
            raise ConfigError(f"experiment science: unknown key(s) {unknown} under `science:`; known: "
                              f"{sorted(cls.__dataclass_fields__)}")
        if "seeds" in raw:
            raw["seeds"] = tuple(int(s) for s in raw["seeds"])
        return cls(**raw)


@dataclass
class ScienceResult:
    config: dict
    nll: dict  # condition → {mean, lo, hi}
    gains: dict  # control → {mean, lo, hi, near, far, ratio, ratio_lo, ratio_hi, near_far_ratio}
    floors: dict  # uniform, code_frequency
    probe: dict  # code change rate near onsets / elsewhere, AUC
    peri_onset: dict  # control → gain per offset (−PERI..PERI)
    n_train: int = 0
    n_test: int = 0
    seconds: float = 0.0
    notes: list = field(default_factory=list)
    generation: dict = field(default_factory=dict)  # science_audio.summarise_generation

    def bar_line(self) -> str:
        g = self.gains["dyn_time_shuffled"]
        return (f"gain_vs_timeshuffle={g['mean']:.4f} [{g['lo']:.4f}, {g['hi']:.4f}] "
                f"onset_gain_ratio={g['ratio']:.2f} [{g['ratio_lo']:.2f}, {g['ratio_hi']:.2f}]")


# --- labels and controls ----------------------------------------------------------------------
def onset_frames(events_path: Path, n_steps: int, rate: float = 50.0) -> np.ndarray:
    """Music frames (at `rate`) of the note onsets in a toy `events/<id>.json`."""
    if not events_path.exists():
        raise ConfigError(f"{events_path}: no event file; the science check needs the toy dataset's true onsets "
                          "(bench experiment run science --dataset toy)")
    onsets = json.loads(events_path.read_text())["onsets"]
    idx = np.unique(np.round(np.asarray(onsets, dtype=np.float64) * rate).astype(int))
    return idx[(idx >= 0) & (idx < n_steps)]


def near_mask(onsets: np.ndarray, n_steps: int, window: int) -> np.ndarray:
    mask = np.zeros(n_steps, bool)
    for i in onsets:
        mask[max(0, i - window):i + window + 1] = True
    return mask


def other_index(sources: Sequence[str], i: int) -> int:
    """The next clip (cyclically) from another source: 'another clip' never shares the piece."""
    n = len(sources)
    for step in range(1, n):
        j = (i + step) % n
        if sources[j] != sources[i]:
            return j
    raise ConfigError("the science check needs held-out clips from at least two pieces")


def control_inputs(control: str, i: int, items: list, others: list[int], mean_semantics, rng: np.random.Generator):
    """(dynamics, semantics, semantics_mask) arrays of held-out clip i under `control`."""
    it = items[i]
    dyn, sem, mask = it.dynamics, it.semantics, it.semantics_mask
    if control == "dyn_time_shuffled":
        dyn = dyn[rng.permutation(dyn.shape[0])]
    elif control == "dyn_other_clip":
        other = items[others[i]].dynamics
        dyn = other[np.minimum(np.arange(dyn.shape[0]), other.shape[0] - 1)]
    elif control == "dyn_time_mean":
        dyn = np.repeat(dyn.astype(np.float32).mean(0, keepdims=True), dyn.shape[0], 0)
    elif control == "sem_other_clip":
        sem, mask = items[others[i]].semantics, items[others[i]].semantics_mask
    elif control == "sem_mean":
        sem, mask = mean_semantics
    elif control != "full":
        raise ConfigError(f"unknown science condition {control!r}")
    return dyn, sem, mask


def per_position_nll(model, item, dyn, sem, mask, device: str = "cpu") -> np.ndarray:
    """Teacher-forced NLL of each music frame's codes (mean over the K codebooks) (T,)."""
    import torch

    from systems.dyvim.features import ClipFeatures, collate

    feats = ClipFeatures(item.clip_id, item.codes, dyn, sem, mask, item.n_steps)
    batch = collate([feats], device)
    codes = batch["codes"]
    with torch.no_grad():
        cond = model.condition(batch.get("dynamics"), batch.get("semantics"), batch.get("semantics_mask"),
                               codes.shape[-1])
        logits = model(codes, cond).float()
        nll = torch.nn.functional.cross_entropy(logits.permute(0, 3, 1, 2), codes, reduction="none")
    return nll[0].mean(0).cpu().numpy()


# --- floors and the codes' onset probe ---------------------------------------------------------
def code_frequency_nll(train_codes: list[np.ndarray], test_codes: list[np.ndarray], vocab: int = 2048) -> float:
    """NLL per code of a per-codebook unigram model fitted on the train codes (add-one smoothing)."""
    k = train_codes[0].shape[0]
    total = 0.0
    count = 0
    for cb in range(k):
        freq = np.bincount(np.concatenate([c[cb] for c in train_codes]).astype(np.int64), minlength=vocab) + 1.0
        logp = np.log(freq / freq.sum())
        test = np.concatenate([c[cb] for c in test_codes]).astype(np.int64)
        total += float(-logp[test].sum())
        count += test.size
    return total / count


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (Mann–Whitney, ties averaged)."""
    from scipy.stats import rankdata

    labels = np.asarray(labels, bool)
    n1, n0 = int(labels.sum()), int((~labels).sum())
    if not n1 or not n0:
        return float("nan")
    r = rankdata(scores)
    return float((r[labels].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def code_onset_probe(codes: list[np.ndarray], onsets: list[np.ndarray], tolerance: int = 1) -> dict:
    """How the codes change at onsets: per codebook, the rate of a change within ±`tolerance` frames
    of an onset frame vs at frames at least 3 frames from any onset, and the AUC of that score
    (number of codebooks changing within ±tolerance) for onset frames against the others."""
    scores, labels, per_book = [], [], []
    for c, on in zip(codes, onsets):
        t = c.shape[1]
        change = np.concatenate([np.zeros((c.shape[0], 1)), np.diff(c, axis=1) != 0], 1)
        padded = np.pad(change, ((0, 0), (tolerance, tolerance)))
        windowed = np.max(np.stack([padded[:, j:j + t] for j in range(2 * tolerance + 1)]), 0)  # (K, T)
        is_on = np.zeros(t, bool)
        is_on[on] = True
        keep = is_on | ~near_mask(on, t, 2 + tolerance)
        scores.append(windowed.sum(0)[keep])
        labels.append(is_on[keep])
        per_book.append((windowed[:, keep], is_on[keep]))
    s, lab = np.concatenate(scores), np.concatenate(labels)
    w = np.concatenate([p for p, _ in per_book], 1)
    return {"auc": auc(lab, s), "change_near": [float(x) for x in w[:, lab].mean(1)],
            "change_elsewhere": [float(x) for x in w[:, ~lab].mean(1)], "onset_frames": int(lab.sum()),
            "other_frames": int((~lab).sum())}


# --- statistics ------------------------------------------------------------------------------
def bootstrap_mean(values: np.ndarray, n: int, rng: np.random.Generator) -> tuple[float, float, float]:
    """Mean of per-clip values and its 95 % percentile bootstrap interval over clips."""
    values = np.asarray(values, np.float64)
    idx = rng.integers(0, len(values), (n, len(values)))
    means = values[idx].mean(1)
    return float(values.mean()), float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def bootstrap_ratio(num: np.ndarray, den: np.ndarray, n: int, rng: np.random.Generator) -> tuple[float, float, float]:
    """Ratio of means (num / den over clips), with its 95 % percentile bootstrap interval."""
    num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
    idx = rng.integers(0, len(num), (n, len(num)))
    ratios = num[idx].mean(1) / np.where(np.abs(den[idx].mean(1)) > 1e-12, den[idx].mean(1), np.nan)
    ratios = ratios[np.isfinite(ratios)]
    point = float(num.mean() / den.mean()) if abs(den.mean()) > 1e-12 else float("nan")
    if not len(ratios):
        return point, float("nan"), float("nan")
    return point, float(np.quantile(ratios, 0.025)), float(np.quantile(ratios, 0.975))


# --- the experiment --------------------------------------------------------------------------
def science_split(clips: list, test_fraction: float, seed: int) -> tuple[list, list]:
    """Train / held-out clips, grouped by piece (every clip of a piece on one side)."""
    sources = sorted({c.source for c in clips})
    rng = np.random.default_rng(seed)
    n_test = max(2, int(round(test_fraction * len(sources))))
    if len(sources) - n_test < 1:
        raise ConfigError(f"the science check needs at least 3 pieces; the dataset has {len(sources)}")
    held = set(rng.permutation(sources)[:n_test].tolist())
    train = sorted((c for c in clips if c.source not in held), key=lambda c: c.id)
    test = sorted((c for c in clips if c.source in held), key=lambda c: c.id)
    return train, test


def run_science(dyvim: dict, clips: list, dataset_root: Path, cache_dir: Path, out_dir: Path, config: ScienceConfig,
                log: Callable[[str], None] = print, device: str = "cpu") -> ScienceResult:
    """Train one model per seed, score every condition on the held-out clips, write
    `out_dir/results.json` + `per_clip.csv`, and return the result (see the module docstring)."""
    import torch

    from systems.dyvim.model import DyViMConfig
    from systems.dyvim.system import MODEL_KEYS, build_model
    from systems.dyvim.train import TrainConfig, train_dyvim

    t_start = time.perf_counter()
    model_keys = {k: v for k, v in dyvim.items() if k in MODEL_KEYS}
    if model_keys.get("conditions", "full") != "full":
        raise ConfigError("the science check compares controls against the full model: system.dyvim.conditions=full")
    train_clips, test_clips = science_split(clips, config.test_fraction, config.split_seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    cache = Cache(cache_dir)
    log(f"science: {len(train_clips)} train / {len(test_clips)} held-out clips "
        f"({len({c.source for c in test_clips})} pieces); seeds {list(config.seeds)}, {config.steps} steps")
    conditions = ("full", *CONTROLS)
    per_seed: dict[str, list[np.ndarray]] = {c: [] for c in conditions}  # each (n_test, T)
    generated: dict[str, list[dict]] = {c: [] for c in GENERATION_CONDITIONS}  # per seed: measure → (n_test,)
    items_test = onsets = None
    for seed in config.seeds:
        cfg = DyViMConfig(**{**model_keys, "seed": seed})
        model, extractor = build_model(cfg, cache, video_fps=float(dyvim.get("video_fps", 25.0)),
                                       encoder_weights=dyvim.get("encoder_weights"),
                                       weights_paths=dyvim.get("weights_paths"), device=device, encoder_seed=0)
        items_train = [extractor.extract(c, True) for c in train_clips]
        items_test = [extractor.extract(c, True) for c in test_clips]
        if onsets is None:
            onsets = [onset_frames(Path(dataset_root) / "events" / f"{c.id}.json", it.n_steps)
                      for c, it in zip(test_clips, items_test)]
            all_sem = [it.semantics for it in items_train + items_test]
            mean_semantics = (np.mean(np.stack(all_sem), 0).astype(np.float32),
                              np.ones(all_sem[0].shape[0], dtype=bool))
            others = [other_index([c.source for c in test_clips], i) for i in range(len(test_clips))]
            floors = {"uniform": math.log(2048),
                      "code_frequency": code_frequency_nll([it.codes for it in items_train],
                                                           [it.codes for it in items_test])}
            probe = code_onset_probe([it.codes for it in items_test], onsets)
        train = TrainConfig(steps=config.steps, batch_size=config.batch_size, lr=config.lr,
                            warmup_steps=config.warmup_steps, eval_every=config.steps,
                            segment_seconds=config.segment_seconds, val_fraction=0.0, seed=seed)
        t0 = time.perf_counter()
        train_dyvim(model, items_train, [], train, out_dir / f"train_seed{seed}_{_identity(cfg, train)}", device=device,
                    progress=False)  # resumes a finished or interrupted training of the same config
        model.eval()
        rng = np.random.default_rng(1000 + seed)
        for cond in conditions:
            rows = []
            for i, it in enumerate(items_test):
                dyn, sem, mask = control_inputs(cond, i, items_test, others, mean_semantics, rng)
                rows.append(per_position_nll(model, it, dyn, sem, mask, device))
            per_seed[cond].append(np.stack(rows))
        if config.generate_seconds > 0:
            generate_for_seed(model, seed, cfg, train, items_test, test_clips, onsets, generated,
                              lambda c: build_model(c, cache, video_fps=float(dyvim.get("video_fps", 25.0)),
                                                    encoder_weights=dyvim.get("encoder_weights"),
                                                    weights_paths=dyvim.get("weights_paths"), device=device,
                                                    encoder_seed=0),
                              train_clips, out_dir, config, device, log, cache)
        full = np.stack(per_seed["full"][-1]).mean()
        shuf = np.stack(per_seed["dyn_time_shuffled"][-1]).mean()
        log(f"science: seed {seed}: trained {config.steps} steps in {time.perf_counter() - t0:.0f} s; held-out NLL "
            f"full {full:.4f}, time-shuffled dynamics {shuf:.4f}")
        del model
        torch.set_grad_enabled(True)
    result = summarise(per_seed, onsets, test_clips, config, floors, probe)
    if config.generate_seconds > 0:
        result.generation = summarise_generation(generated, config.n_resamples, bootstrap_mean,
                                                 generation_steps(config, items_test) / 50.0)
    result.n_train, result.n_test = len(train_clips), len(test_clips)
    result.seconds = round(time.perf_counter() - t_start, 1)
    result.config = {**asdict(config), "dyvim": model_keys}
    write_results(result, per_seed, test_clips, onsets, out_dir, config.onset_window)
    return result


def generation_steps(config: ScienceConfig, items: list) -> int:
    return min(int(round(config.generate_seconds * 50)), min(it.n_steps for it in items))


def generate_for_seed(model, seed: int, cfg, train, items_test: list, test_clips: list, onsets: list,
                      generated: dict, build: Callable, train_clips: list, out_dir: Path, config: ScienceConfig,
                      device: str, log: Callable[[str], None], cache) -> None:
    """Sample the held-out clips with the trained model (own and time-shuffled dynamics) and with a
    model trained the same way without the dynamics path; measure each against the video
    (science_audio.py)."""
    from dataclasses import replace

    from systems.dyvim.train import train_dyvim

    t0 = time.perf_counter()
    n = generation_steps(config, items_test)
    seeds = [10_000 * (seed + 1) + i for i in range(len(items_test))]
    codec = model.decoder.codec
    rng = np.random.default_rng(2000 + seed)
    own = sample_clips(model, items_test, [it.dynamics for it in items_test], n, seeds, device)
    shuffled = sample_clips(model, items_test, [it.dynamics[rng.permutation(it.dynamics.shape[0])]
                                                for it in items_test], n, seeds, device)
    generated["full"].append(measure(own, test_clips, onsets, codec, cache))
    generated["dyn_time_shuffled"].append(measure(shuffled, test_clips, onsets, codec, cache))
    if not generated["reference"]:  # the same for every seed
        generated["reference"].append(measure(np.stack([it.codes[:, :n] for it in items_test]), test_clips, onsets,
                                              codec, cache))
    plain_cfg = replace(cfg, conditions="no_dynamics")
    plain, extractor = build(plain_cfg)
    plain_train = [extractor.extract(c, True) for c in train_clips]
    plain_test = [extractor.extract(c, True) for c in test_clips]
    train_dyvim(plain, plain_train, [], train, out_dir / f"train_nodyn_seed{seed}_{_identity(plain_cfg, train)}",
                device=device, progress=False)
    plain.eval()
    generated["no_dynamics"].append(measure(sample_clips(plain, plain_test, [None] * len(plain_test), n, seeds, device),
                                            test_clips, onsets, codec, cache))
    log(f"science: seed {seed}: generated {n / 50:.0f} s × {len(items_test)} clips × 3 models/conditions "
        f"(+ the no-dynamics model's training) in {time.perf_counter() - t0:.0f} s")


def _identity(cfg, train) -> str:
    """Short hash of what a trained model depends on, code versions included (a stale training of
    an older codec or decoder init is never resumed)."""
    import hashlib

    from systems.musicgen.codec import CODEC_VERSION
    from systems.dyvim.features import CODES_VERSION

    blob = json.dumps([asdict(cfg), asdict(train), CODEC_VERSION, CODES_VERSION, EMBEDDING_INIT], default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


EMBEDDING_INIT = 5  # 2: decoder.scale_code_embeddings; 3: FwDF standardises its motion maps; 4: tied heads at init; 5: checkpoints keep the running statistics (bump with any init change)


def summarise(per_seed: dict, onsets: list, test_clips: list, config: ScienceConfig, floors: dict,
              probe: dict) -> ScienceResult:
    rng = np.random.default_rng(12345)
    mean_over_seeds = {c: np.mean(np.stack(v), 0) for c, v in per_seed.items()}  # (n_test, T)
    nll = {}
    for c, v in mean_over_seeds.items():
        m, lo, hi = bootstrap_mean(v.mean(1), config.n_resamples, rng)
        nll[c] = {"mean": m, "lo": lo, "hi": hi, "per_seed": [float(np.mean(s)) for s in per_seed[c]]}
    gains, peri = {}, {}
    full = mean_over_seeds["full"]
    for c in CONTROLS:
        g = mean_over_seeds[c] - full  # (n_test, T): per-position gain of the real input over the control
        near = np.array([g[i][near_mask(on, g.shape[1], config.onset_window)].mean() for i, on in enumerate(onsets)])
        far = np.array([g[i][~near_mask(on, g.shape[1], config.onset_window)].mean() for i, on in enumerate(onsets)])
        m, lo, hi = bootstrap_mean(g.mean(1), config.n_resamples, rng)
        r, rlo, rhi = bootstrap_ratio(near, g.mean(1), config.n_resamples, rng)
        gains[c] = {"mean": m, "lo": lo, "hi": hi, "near": float(near.mean()), "far": float(far.mean()),
                    "ratio": r, "ratio_lo": rlo, "ratio_hi": rhi,
                    "near_far_ratio": float(near.mean() / far.mean()) if abs(far.mean()) > 1e-12 else float("nan"),
                    "per_seed": [float(np.mean(s - f)) for s, f in zip(per_seed[c], per_seed["full"])]}
        curve = np.zeros(2 * PERI + 1)
        count = np.zeros(2 * PERI + 1)
        for i, on in enumerate(onsets):
            for o in on:
                for d in range(-PERI, PERI + 1):
                    if 0 <= o + d < g.shape[1]:
                        curve[d + PERI] += g[i, o + d]
                        count[d + PERI] += 1
        peri[c] = (curve / np.maximum(count, 1)).tolist()
    return ScienceResult(config={}, nll=nll, gains=gains, floors=floors, probe=probe, peri_onset=peri)


def write_results(result: ScienceResult, per_seed: dict, test_clips: list, onsets: list, out_dir: Path,
                  window: int) -> None:
    write_text_atomic(out_dir / RESULTS_FILE, json.dumps(asdict(result), indent=1))
    lines = ["clip,condition,seed,nll,nll_near_onsets,nll_elsewhere"]
    for cond, seeds in per_seed.items():
        for s, rows in enumerate(seeds):
            for clip, on, row in zip(test_clips, onsets, rows):
                near = near_mask(on, len(row), window)
                lines.append(f"{clip.id},{cond},{s},{row.mean():.6f},{row[near].mean():.6f},{row[~near].mean():.6f}")
    write_text_atomic(out_dir / PER_CLIP_FILE, "\n".join(lines) + "\n")


def run_science_experiment(exp, folder: Path, datasets: Sequence[str], overrides: Sequence[str],
                           log: Callable[[str], None] = print, science_overrides: Sequence[str] = ()
                           ) -> tuple[list[str], dict[str, str]]:
    """`bench experiment run science`: the check on each dataset into `<folder>/<dataset>/science/`.
    `science_overrides` (`science.steps=50`, `science.seeds=[0]`) change the YAML's `science:`
    settings. Returns (the Bar lines, failures by dataset)."""
    import torch
    import yaml

    lines, failed = [], {}
    settings = dict(exp.science or {})
    for item in science_overrides:
        key, sep, value = item[len("science."):].partition("=")
        if not sep:
            raise ConfigError(f"{item!r}: science overrides take science.<key>=<value>")
        settings[key] = yaml.safe_load(value)
    config = ScienceConfig.from_dict(settings)
    variant = exp.variants[0]
    for dataset in datasets:
        try:
            cfg = api.load_config(dataset, ["dyvim"], [*exp.overrides, *variant.overrides, *overrides], metrics=[])
            run, paths = RunSettings.from_config(cfg), PathSettings.from_config(cfg)
            device = run.device
            if device == "auto":
                device = "cuda" if torch.cuda.is_available() else "cpu"
            clips = api.dataset_clips(cfg)
            result = run_science(to_dict(cfg)["system"]["dyvim"], clips, DatasetSettings.from_config(cfg).root,
                                 Path(paths.cache_dir), Path(folder) / dataset / SCIENCE_DIR, config,
                                 log=log, device=device)
        except Exception as exc:  # recorded like a failed variant; other datasets still run
            failed[dataset] = str(exc) if isinstance(exc, ConfigError) else f"{type(exc).__name__}: {exc}"
            log(f"  failed: {failed[dataset]}")
            continue
        for line in generation_lines(result.generation) if result.generation else ():
            log(line)
        log(f"science ({dataset}): {result.seconds:.0f} s; floors: uniform {result.floors['uniform']:.3f}, "
            f"code frequency {result.floors['code_frequency']:.3f}; held-out NLL full {result.nll['full']['mean']:.4f}")
        lines.append(result.bar_line())
    return lines, failed
