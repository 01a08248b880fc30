"""The science check's generation half (issue 18 item 3): does DyViM's *generated* music follow when
the video moves?

Each seed's trained DyViM samples music for the held-out clips (top-k 250, temperature 1, the
first `generate_seconds`) twice: with the clip's own dynamics, and with the same dynamics shuffled
in time (its own control: the same parameters, the video's timing destroyed). A comparator with no
dynamics path at all — the same decoder and training, conditioned on the CLIP keyframes only
(`conditions: no_dynamics`: MusicGen fine-tuned on the clips' semantics) — samples the same clips.
Two measures per generated clip, both against the video:

- `change_f`: the generated codes' changes (a frame where any codebook's code differs from the
  frame before) against the video's moves (the toy figure snaps to a new pose at each note onset,
  events/<id>.json), F-measure within ±1 music frame. Measured on the codes because the random
  codec's decoded audio is filtered noise and partials (README, "Random weights");
- `sync_strength`: the model-free synchrony (metrics/sync.py) of the decoded audio with the video's
  motion curve: peak correlation of the music's onset envelope with the motion within ±1 s.

Gains (full − control) are paired by clip, seeds averaged per clip, with 95 % bootstrap CIs over
clips; the reference codes and audio give the ceiling.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from metrics.sync import clip_synchrony

GENERATION_CONDITIONS = ("full", "dyn_time_shuffled", "no_dynamics", "reference")
MEASURES = ("change_f", "sync_strength")


def change_frames(codes: np.ndarray) -> np.ndarray:
    """Frames t ≥ 1 where any codebook's code differs from frame t − 1 (codes (K, T))."""
    return np.flatnonzero((np.diff(codes, axis=1) != 0).any(0)) + 1


def change_f(codes: np.ndarray, onsets: np.ndarray, tolerance: int = 1) -> float:
    """F-measure of the code changes against the onset frames (each matched within ±`tolerance`);
    0 when either side is empty."""
    changes = change_frames(codes)
    onsets = np.asarray(onsets, np.int64)
    onsets = onsets[(onsets >= 1) & (onsets < codes.shape[1])]
    if not len(changes) or not len(onsets):
        return 0.0
    precision = float(np.mean([np.abs(onsets - c).min() <= tolerance for c in changes]))
    recall = float(np.mean([np.abs(changes - o).min() <= tolerance for o in onsets]))
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def sample_clips(model, items: list, dynamics: Sequence[np.ndarray | None], n_steps: int, seeds: list[int],
                 device: str) -> np.ndarray:
    """Sampled codes (B, K, n_steps) for held-out `items` with the given dynamics per clip."""
    from systems.dyvim.features import ClipFeatures, collate
    from systems.musicgen.sampling import sample_codes

    feats = [ClipFeatures(it.clip_id, it.codes, dyn, it.semantics, it.semantics_mask, it.n_steps)
             for it, dyn in zip(items, dynamics)]
    batch = collate(feats, device)
    cond = model.condition(batch.get("dynamics"), batch.get("semantics"), batch.get("semantics_mask"), n_steps)
    return sample_codes(model, cond, n_steps, seeds).cpu().numpy()


def measure(codes: np.ndarray, clips: list, onsets: list[np.ndarray], codec, cache) -> dict[str, np.ndarray]:
    """Per clip `change_f` of codes (B, K, T) and `sync_strength` of their decoded audio; `cache`
    (core.cache.Cache) keeps each clip's motion curve for every condition and seed."""
    import torch

    from systems.musicgen.decoder import SAMPLE_RATE, decode_codes

    audio = decode_codes(codec, torch.as_tensor(codes)).cpu().numpy()
    f = np.array([change_f(c, on) for c, on in zip(codes, onsets)])
    sync = np.array([clip_synchrony(clip, a.astype(np.float32), SAMPLE_RATE, cache=cache).strength
                     for clip, a in zip(clips, audio)])
    return {"change_f": f, "sync_strength": sync}


def summarise_generation(per_seed: dict[str, list[dict]], n_resamples: int, bootstrap_mean: Callable,
                         seconds: float) -> dict:
    """{condition: {measure: {mean, lo, hi}}, gains: {control: {measure: {mean, lo, hi}}}}; seeds
    averaged per clip, clips the bootstrap units."""
    rng = np.random.default_rng(2024)
    per_clip = {c: {m: np.mean([s[m] for s in runs], 0) for m in MEASURES} for c, runs in per_seed.items() if runs}
    out: dict = {"seconds": seconds, "conditions": {}, "gains": {}}
    for c, vals in per_clip.items():
        out["conditions"][c] = {m: dict(zip(("mean", "lo", "hi"), bootstrap_mean(v, n_resamples, rng)))
                                for m, v in vals.items()}
    for control in ("dyn_time_shuffled", "no_dynamics"):
        if control in per_clip and "full" in per_clip:
            out["gains"][control] = {
                m: dict(zip(("mean", "lo", "hi"), bootstrap_mean(per_clip["full"][m] - per_clip[control][m],
                                                                   n_resamples, rng)))
                for m in MEASURES}
    return out


def generation_lines(gen: dict) -> list[str]:
    """Human-readable summary lines of `summarise_generation`'s output."""
    lines = []
    for m in MEASURES:
        parts = [f"{c} {v[m]['mean']:.3f}" for c, v in gen["conditions"].items()]
        gains = [f"full − {c} {g[m]['mean']:+.3f} [{g[m]['lo']:+.3f}, {g[m]['hi']:+.3f}]" for c, g in gen["gains"].items()]
        lines.append(f"science: generated {gen['seconds']:.0f} s, {m}: " + ", ".join(parts) + "; " + ", ".join(gains))
    return lines
