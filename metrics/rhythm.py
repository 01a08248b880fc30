"""Registered metrics built on metrics.beats and metrics.alignment (beat_tracker 'librosa': no
learned weights; 'madmom': madmom's shipped RNN weights, CC BY-NC-SA 4.0)."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from metrics import alignment, beats, trackers
from core.manifest import Clip
from metrics.alignment import video_music_alignment
from metrics.base import Metric, Score, register_metric
from metrics.beats import beat_metrics
from metrics.trackers import check_beat_tracker, madmom_prefill

# keys reported: True (higher is better), False (lower is better) or a float target (closer is
# better: BCS = #gen / #ref beats, ideal 1; D2M-GAN's paper reads it as higher-is-better, which
# ranks a system with twice the reference's beats above the reference itself)
BEAT_KEYS = {"bcs": 1.0, "bhs": True, "bcs_tol": 1.0, "bhs_tol": True, "beat_precision": True, "beat_recall": True,
             "beat_f": True, "tempo_error": False, "tempo_error_octave": False}
ALIGN_KEYS = {"ba_v2m": True, "ba_m2v": True, "ba_mean": True, "ba_v2m_minima": True, "ba_m2v_minima": True}
TRUTH_TRACKERS = ("librosa", "madmom")


def _per_clip_scores(rows: list[dict], keys: dict[str, bool | float]) -> dict[str, Score]:
    out = {}
    for k, d in keys.items():
        values = np.array([r[k] for r in rows], np.float64)
        if isinstance(d, bool):
            out[k] = Score(per_clip=values, higher_is_better=d)
        else:
            out[k] = Score(per_clip=values, higher_is_better=False, target=float(d))
    return out


def _weights(tracker: str) -> str:
    return "pretrained" if tracker == "madmom" else "none"


@register_metric("beat")
class BeatMetric(Metric):
    """Beat Coverage / Hit Scores (D2M-GAN's 1-s bins, and ±70 ms beat matching), beat
    precision / recall / F1 and tempo error, generated vs. reference music (metrics.beats); and,
    where the dataset ships ground truth (the toy's events/<id>.json), each of `truth_trackers`'
    beat F-measure on the system's music against the clip's true beats (for `reference`: how
    good the tracker is; keys beat_f_truth_<tracker>, downbeat_f_truth_madmom)."""

    def __init__(self, cache=None, seed: int = 0, beat_tracker: str = "librosa",
                 truth_trackers: Sequence[str] = ()):
        super().__init__(cache, seed)
        self.beat_tracker = beat_tracker
        self.truth_trackers = tuple(truth_trackers or ())
        for t in (beat_tracker, *self.truth_trackers):
            check_beat_tracker(t)
        self.weights = "pretrained" if "madmom" in (beat_tracker, *self.truth_trackers) else "none"

    def describe(self) -> dict:
        d = {"weights": self.weights, "tolerance_s": beats.TOLERANCE_S, "beat_tracker": self.beat_tracker,
             "truth_trackers": list(self.truth_trackers)}
        if "madmom" in (self.beat_tracker, *self.truth_trackers):
            d["licence"] = trackers.MADMOM_LICENCE
        return d

    def prepare(self, generated: Sequence[Path], reference: Sequence[Path]) -> None:
        """madmom's beats of every file it will track, on every core (metrics.trackers.madmom_prefill)."""
        if "madmom" in (self.beat_tracker, *self.truth_trackers):
            madmom_prefill([*generated, *(reference if self.beat_tracker == "madmom" else ())], self.cache or True)

    def scores(self, clips: Sequence[Clip], generated: Mapping[str, Path], reference: Mapping[str, Path]):
        cache = self.cache or True
        rows = [beat_metrics(generated[c.id], reference[c.id], beat_tracker=self.beat_tracker, cache=cache)
                for c in clips]
        out = _per_clip_scores(rows, BEAT_KEYS)
        out.update(truth_scores(clips, generated, self.truth_trackers, cache))
        return out


def truth_scores(clips: Sequence[Clip], music: Mapping[str, Path], trackers_: Sequence[str], cache) -> dict[str, Score]:
    """beat_f_truth_<tracker> (and downbeat_f_truth_madmom): F-measure of the tracker's beats on
    `music` against the clips' true beats; nothing when no clip has ground truth."""
    if not trackers_:
        return {}
    events = [trackers.clip_events(c) for c in clips]
    if not any(e is not None for e in events):
        return {}
    out: dict[str, Score] = {}
    for t in trackers_:
        f, fd = [], []
        for c, ev in zip(clips, events):
            if ev is None:
                f.append(np.nan)
                fd.append(np.nan)
                continue
            if t == "madmom":
                beats, downbeats = trackers.madmom_beats(music[c.id], cache=cache)
                fd.append(trackers.beat_f_measure(ev.downbeats, downbeats))
            else:
                beats = trackers.beat_times(music[c.id], t, cache=cache)
            f.append(trackers.beat_f_measure(ev.beats, beats))
        out[f"beat_f_truth_{t}"] = Score(per_clip=np.array(f, np.float64), higher_is_better=True)
        if t == "madmom":
            out["downbeat_f_truth_madmom"] = Score(per_clip=np.array(fd, np.float64), higher_is_better=True)
    return out


@register_metric("align")
class AlignMetric(Metric):
    """Beat Align Score between the clip's video motion beats and the music's beats, both
    directions (metrics.alignment; FACT's σ = 0.05 s)."""

    def __init__(self, cache=None, seed: int = 0, beat_tracker: str = "librosa"):
        super().__init__(cache, seed)
        check_beat_tracker(beat_tracker)
        self.beat_tracker = beat_tracker
        self.weights = _weights(beat_tracker)

    def describe(self) -> dict:
        d = {"weights": self.weights, "sigma_s": alignment.SIGMA_S, "beat_tracker": self.beat_tracker}
        if self.beat_tracker == "madmom":
            d["licence"] = trackers.MADMOM_LICENCE
        return d

    def prepare(self, generated: Sequence[Path], reference: Sequence[Path]) -> None:
        """madmom's beats of every output, on every core (metrics.trackers.madmom_prefill)."""
        if self.beat_tracker == "madmom":
            madmom_prefill(generated, self.cache or True)

    def scores(self, clips: Sequence[Clip], generated: Mapping[str, Path], reference: Mapping[str, Path]):
        rows = [video_music_alignment(c, generated[c.id], beat_tracker=self.beat_tracker, cache=self.cache or True)
                for c in clips]
        return _per_clip_scores(rows, ALIGN_KEYS)
