"""Symbolic-music metrics of every system's output: from its MIDI where the run keeps one
(`<run>/<system>/<clip_id>.mid` beside the wav), else from basic-pitch's transcription of the
audio (metrics.trackers.transcribe, ONNX).

MusDr definitions (Wu & Yang 2020, "The Jazz Transformer on the Front Line: Exploring the
Shortcomings of AI-Composed Music through Quantitative Measures", ISMIR; code slSeanWU/MusDr,
musdr/eval_metrics.py; reported for video background music by CMT, Di et al. 2021)
------------------------------------------------------------------------------------------
PCHE  pitch-class histogram entropy: for every window of `window` consecutive bars (all start
      bars; the whole piece when it has fewer bars), the histogram of the pitch classes of the
      notes starting in it (each note counted once), H = −Σ p log2 p; the mean over windows with
      notes (`pche`: 4-bar windows, `pche_1bar`: 1-bar, MusDr's H4 and H1).
GPS   grooving pattern similarity: each bar's binary onset vector over Q = 64 positions (MusDr's
      64 Position events per bar), GS(a, b) = 1 − |g_a XOR g_b| / Q, averaged over all pairs of
      bars (at most 1000 pairs, drawn with a fixed seed, as MusDr samples them). Bars without
      notes take part, as in MusDr.
SI    structureness indicator (max fitness of Müller's audio-thumbnail scape plot in a range of
      time scales): NOT implemented here; a 10-s clip leaves only SI(3, 8) meaningful.

Bars: from the MIDI's own downbeats (pretty_midi); for audio, from the beat tracker's beats in
groups of 4 from the first beat (madmom: its downbeats).

Also: `note_density` (note onsets per second), `onset_motion_align` (FACT's Beat Align Score,
mean of both directions, between the note onsets — merged within 50 ms — and the clip's motion
peaks, metrics.alignment), and where the dataset has ground truth (toy), `notes_f_truth` (note F,
onset + pitch, of the notes against the clip's true notes: for `reference`, basic-pitch's own
accuracy).

Directions: PCHE, GPS and note density have no better end — the reference's values are the
target (Score.target = the reference set's mean, and the *_diff keys = |system − reference| per
clip, lower is better). A clip with no notes (silence, an empty MIDI) has note_density 0 and
PCHE / GPS / alignment undefined (NaN, left out of the set value with a note).
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from bench.data.manifest import Clip
from metrics.base import Metric, Score, register_metric

POSITIONS_PER_BAR = 64
MAX_PAIRS = 1000
ONSET_MERGE_S = 0.05


@dataclass(frozen=True)
class NoteSet:
    notes: np.ndarray  # (n, 3): onset s, offset s, MIDI pitch, sorted by onset
    bars: np.ndarray  # bar start times (s); the last bar ends at `end`
    end: float
    source: str  # "midi" or "basic-pitch"


def notes_from_midi(path: str | Path, duration: float | None = None) -> NoteSet:
    """Non-drum notes and downbeats of a MIDI file (pretty_midi)."""
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(str(path))
    notes = np.array([[n.start, n.end, n.pitch] for inst in pm.instruments if not inst.is_drum for n in inst.notes],
                     np.float64).reshape(-1, 3)
    end = float(duration if duration is not None else max(pm.get_end_time(), 1e-3))
    notes = notes[notes[:, 0] < end]
    notes = notes[np.argsort(notes[:, 0], kind="stable")]
    bars = np.asarray(pm.get_downbeats(), np.float64)
    bars = bars[bars < end] if bars.size else np.zeros(1)
    return NoteSet(notes, bars if bars.size else np.zeros(1), end, "midi")


def bars_from_beats(beats: np.ndarray, beats_per_bar: int = 4) -> np.ndarray:
    b = np.sort(np.asarray(beats, np.float64))
    return b[::beats_per_bar] if b.size else np.zeros(1)


def notes_from_audio(wav: str | Path, duration: float, beat_tracker: str = "librosa", *, cache=True) -> NoteSet:
    from metrics import trackers

    notes = trackers.transcribe(wav, cache=cache)[:, :3]
    notes = notes[notes[:, 0] < duration]
    if beat_tracker == "madmom":
        beats, downbeats = trackers.madmom_beats(wav, cache=cache)
        bars = downbeats if downbeats.size else bars_from_beats(beats)
    else:
        bars = bars_from_beats(trackers.beat_times(wav, beat_tracker, cache=cache))
    return NoteSet(notes, np.asarray(bars, np.float64), float(duration), "basic-pitch")


def _bar_index(t: np.ndarray, bars: np.ndarray) -> np.ndarray:
    """Bar of each time; times before the first bar start belong to bar 0 (a pickup)."""
    return np.clip(np.searchsorted(bars, t, side="right") - 1, 0, max(bars.size - 1, 0))


def pitch_class_entropy(pitches: np.ndarray) -> float:
    """H (bits) of the pitch-class histogram of `pitches` (MusDr's compute_histogram_entropy)."""
    counts = np.bincount(np.asarray(pitches, np.int64) % 12, minlength=12).astype(np.float64)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum())


def pche(ns: NoteSet, window: int = 4) -> float:
    """Mean `window`-bar pitch-class histogram entropy; NaN without notes."""
    if ns.notes.shape[0] == 0:
        return math.nan
    n_bars = max(ns.bars.size, 1)
    window = min(window, n_bars)
    bar_of = _bar_index(ns.notes[:, 0], ns.bars)
    ents = [pitch_class_entropy(ns.notes[(bar_of >= s) & (bar_of < s + window), 2])
            for s in range(n_bars - window + 1) if np.any((bar_of >= s) & (bar_of < s + window))]
    return float(np.mean(ents)) if ents else math.nan


def grooving_vectors(ns: NoteSet) -> np.ndarray:
    """(bars, 64) binary onset vectors."""
    edges = np.r_[ns.bars, max(ns.end, ns.bars[-1] + 1e-3)]
    out = np.zeros((ns.bars.size, POSITIONS_PER_BAR), bool)
    for t in ns.notes[:, 0]:
        b = int(_bar_index(np.array([t]), ns.bars)[0])
        start, stop = edges[b], edges[b + 1]
        pos = int(np.clip(np.floor((t - start) / max(stop - start, 1e-9) * POSITIONS_PER_BAR), 0, POSITIONS_PER_BAR - 1))
        out[b, pos] = True
    return out


def gps(ns: NoteSet, max_pairs: int = MAX_PAIRS, seed: int = 0) -> float:
    """Mean grooving similarity over pairs of bars; NaN without notes or with one bar."""
    if ns.notes.shape[0] == 0 or ns.bars.size < 2:
        return math.nan
    g = grooving_vectors(ns)
    pairs = list(itertools.combinations(range(g.shape[0]), 2))
    if len(pairs) > max_pairs:
        pairs = random.Random(seed).sample(pairs, max_pairs)
    return float(np.mean([1.0 - np.count_nonzero(g[a] ^ g[b]) / POSITIONS_PER_BAR for a, b in pairs]))


def onset_times(ns: NoteSet, merge_s: float = ONSET_MERGE_S) -> np.ndarray:
    """Note onsets with chord notes (within merge_s of the previous onset) merged."""
    t = np.sort(ns.notes[:, 0])
    if t.size == 0:
        return t
    keep = np.r_[True, np.diff(t) > merge_s]
    return t[keep]


def symbolic_stats(ns: NoteSet, clip: Clip | None = None, *, cache=True) -> dict[str, float]:
    out = {"pche": pche(ns, 4), "pche_1bar": pche(ns, 1), "gps": gps(ns),
           "note_density": float(onset_times(ns).size / ns.end) if ns.end > 0 else 0.0}
    if clip is not None:
        from metrics.alignment import alignment_scores, clip_motion_beats

        onsets = onset_times(ns)
        motion = clip_motion_beats(clip, cache=cache)
        out["onset_motion_align"] = alignment_scores(motion, onsets)["ba_mean"] if onsets.size else math.nan
    return out


# ----------------------------------------------------------------------------- the metric


@register_metric("symbolic")
class SymbolicMetric(Metric):
    """PCHE, GPS (MusDr), note density and onset-to-motion alignment of each system's notes (its
    MIDI where kept beside the wav, else basic-pitch's transcription), with the reference's values
    as targets; notes_f_truth against the dataset's true notes where it has them."""

    weights = "pretrained"  # basic-pitch's shipped ONNX weights (Apache-2.0)

    def __init__(self, cache=None, seed: int = 0, beat_tracker: str = "librosa"):
        from metrics.trackers import check_beat_tracker

        super().__init__(cache, seed)
        check_beat_tracker(beat_tracker)
        self.beat_tracker = beat_tracker

    def describe(self) -> dict:
        from metrics import trackers

        return {"weights": self.weights, "transcriber": trackers.BASIC_PITCH_CONFIG, "beat_tracker": self.beat_tracker,
                "positions_per_bar": POSITIONS_PER_BAR, "pche_windows_bars": [4, 1],
                "si": "not implemented (scape-plot fitness)"}

    def _notes(self, wav: Path, clip: Clip) -> NoteSet:
        midi = Path(wav).with_suffix(".mid")
        if midi.is_file():
            return notes_from_midi(midi, clip.duration)
        return notes_from_audio(wav, clip.duration, self.beat_tracker, cache=self.cache or True)

    def scores(self, clips: Sequence[Clip], generated: Mapping[str, Path], reference: Mapping[str, Path]):
        from metrics import trackers

        cache = self.cache or True
        gen_sets = [self._notes(generated[c.id], c) for c in clips]
        ref_sets = [self._notes(reference[c.id], c) for c in clips]
        gen = [symbolic_stats(ns, c, cache=cache) for ns, c in zip(gen_sets, clips)]
        ref = [symbolic_stats(ns, None, cache=cache) for ns in ref_sets]
        col = lambda rows, k: np.array([r[k] for r in rows], np.float64)  # noqa: E731
        out: dict[str, Score] = {}
        for k in ("pche", "pche_1bar", "gps", "note_density"):
            g, r = col(gen, k), col(ref, k)
            target = float(np.nanmean(r)) if np.isfinite(r).any() else None
            out[k] = Score(per_clip=g, higher_is_better=False, target=target)
            out[f"{k}_diff"] = Score(per_clip=np.abs(g - r), higher_is_better=False)
        out["onset_motion_align"] = Score(per_clip=col(gen, "onset_motion_align"), higher_is_better=True)
        events = [trackers.clip_events(c) for c in clips]
        if any(e is not None for e in events):
            f = [trackers.note_f_measure(e.notes, ns.notes)[2] if e is not None else math.nan
                 for e, ns in zip(events, gen_sets)]
            out["notes_f_truth"] = Score(per_clip=np.array(f, np.float64), higher_is_better=True)
        return out
