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
SI    structureness indicator: the maximum fitness of Müller's audio-thumbnail fitness scape plot
      over segment durations in [low, upp] s (MusDr's compute_structure_indicator on the scape
      plot of its run_python_scapeplot.py; Müller, "Fundamentals of Music Processing", §4.3).
      Computed from each system's audio as MusDr does (for MIDI baselines, the rendered wav):
      librosa chroma_stft at 22.05 kHz (n_fft 4410, hop 2205: 10 Hz, tuning 0), a 21-frame boxcar
      and ×5 downsampling to 2 Hz, l2-normalised; a self-similarity matrix made tempo-invariant
      (7 relative tempi in [0.5, 2], path smoothing of 16 frames forward and backward) and
      transposition-invariant (12 cyclic chroma shifts); relative threshold 0.25 (scaled to [0, 1],
      the rest −2), diagonal 1; then the fitness (harmonic mean of normalised score and coverage
      of the optimal path family) of every segment. `si` is SI(3, 8) (MusDr's short scale; a 10-s
      clip has no segments long enough for SI(8, 15) or SI(15, ·)), in [0, 1], higher = more
      repetition. Silence has no chroma, so no SI: a named SilentMusicError, NaN in the row.

Bars: from the MIDI's own downbeats (pretty_midi); for audio, from the beat tracker's beats in
groups of 4 from the first beat (madmom: its downbeats).

Also: `note_density` (note onsets per second), `onset_motion_align` (FACT's Beat Align Score,
mean of both directions, between the note onsets — merged within 50 ms — and the clip's motion
peaks, metrics.alignment), and where the dataset has ground truth (toy), `notes_f_truth` (note F,
onset + pitch, of the notes against the clip's true notes: for `reference`, basic-pitch's own
accuracy).

Directions: PCHE, GPS, SI and note density have no better end — the reference's values are the
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

from metrics import trackers
from metrics.alignment import alignment_scores, clip_motion_beats
from metrics.trackers import check_beat_tracker, madmom_prefill
from core.cache import Cache
from core.manifest import Clip
from metrics.base import Metric, Score, register_metric
from metrics.errors import MetricError

POSITIONS_PER_BAR = 64
MAX_PAIRS = 1000
ONSET_MERGE_S = 0.05

# SI: MusDr's run_python_scapeplot.py parameters (see the module docstring)
SI_AUDIO_RATE = 22050
SI_CHROMA_HOP, SI_CHROMA_NFFT = 2205, 4410  # 10 Hz
SI_SMOOTH, SI_DOWNSAMPLE = 21, 5  # → 2 Hz
SI_FEATURE_RATE = 2
SI_PATH_SMOOTH = 16
SI_TEMPI = np.exp(np.linspace(np.log(0.5), np.log(2.0), 7))
SI_REL_THRESHOLD, SI_PENALTY = 0.25, -2.0
SI_SCALES = (3, 8)  # seconds: SI(3, 8)
SI_VERSION = 1


class SilentMusicError(MetricError):
    """Audio with no chroma energy: no self-similarity structure to measure."""


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
        onsets = onset_times(ns)
        motion = clip_motion_beats(clip, cache=cache)
        out["onset_motion_align"] = alignment_scores(motion, onsets)["ba_mean"] if onsets.size else math.nan
    return out


# ----------------------------------------------------------------------------- SI (structureness)


def si_chroma(y: np.ndarray, sr: int = SI_AUDIO_RATE) -> np.ndarray:
    """(12, frames) l2-normalised chroma at SI_FEATURE_RATE Hz (columns below 0.001 become the
    uniform unit vector, as FMP's normalize_feature_sequence)."""
    import librosa
    from scipy import signal

    c = librosa.feature.chroma_stft(y=np.asarray(y, np.float32), sr=sr, tuning=0, norm=2,
                                    hop_length=SI_CHROMA_HOP, n_fft=SI_CHROMA_NFFT)
    kernel = signal.get_window("boxcar", SI_SMOOTH)[None, :]
    x = (signal.convolve(c, kernel, mode="same") / SI_SMOOTH)[:, ::SI_DOWNSAMPLE]
    norms = np.sqrt((x ** 2).sum(axis=0))
    out = np.full(x.shape, 1.0 / math.sqrt(x.shape[0]))
    ok = norms > 0.001
    out[:, ok] = x[:, ok] / norms[ok]
    return out


def _resample_columns(n_out: int, n_in: int) -> np.ndarray:
    """Column indices round(k / n_out · n_in) − 1, k = 1..n_out, floored at 0 (FMP's resampling)."""
    return np.maximum(np.round(np.arange(1, n_out + 1) / n_out * n_in) - 1, 0).astype(np.int64)


def _path_smooth(s: np.ndarray, length: int, tempi: np.ndarray, backward: bool) -> np.ndarray:
    """Average along (tempo-warped) diagonals over `length` cells, forward or backward; the
    maximum over the relative tempi (FMP's filter_diag_mult_SM)."""
    n, m = s.shape
    best = np.zeros((m, n))
    for tempo in tempi:
        m_t = int(math.ceil(n / tempo))
        warped = s[:, _resample_columns(m_t, n)]
        ext = np.zeros((m + length, m_t + length))
        acc = np.zeros((m, m_t))
        if backward:
            ext[length:, length:] = warped
            for k in range(length):
                acc += ext[length - k:m + length - k, length - k:m_t + length - k]
        else:
            ext[:m, :m_t] = warped
            for k in range(length):
                acc += ext[k:m + k, k:m_t + k]
        best = np.maximum(best, (acc / length)[:, _resample_columns(n, m_t)])
    return best


def si_ssm(chroma: np.ndarray) -> np.ndarray:
    """The enhanced, thresholded, normalised self-similarity matrix that MusDr's scape plot reads."""
    s_ti = None
    for shift in range(chroma.shape[0]):
        s = np.roll(chroma, shift, axis=0).T @ chroma
        s = np.maximum(_path_smooth(s, SI_PATH_SMOOTH, SI_TEMPI, False), _path_smooth(s, SI_PATH_SMOOTH, SI_TEMPI, True))
        s_ti = s if s_ti is None else np.maximum(s_ti, s)
    s = s_ti.copy()
    # relative threshold: keep the top 25 % of cells, scale them to [0, 1], the rest the penalty
    below = int(np.round(s.size * (1 - SI_REL_THRESHOLD)))
    if below < s.size:
        s[s < np.sort(s.ravel())[below]] = 0
    else:
        s[:] = 0
    zero, pos = s == 0, s > 0
    lo, hi = (float(s[pos].min()) if pos.any() else 0.0), float(s.max())
    if hi > lo:
        s = (s - lo) / (hi - lo)
        s[zero] = SI_PENALTY
    np.fill_diagonal(s, 1.0)
    return s


def _accumulated_score(seg: np.ndarray) -> np.ndarray:
    """FMP's accumulated score matrix D (N, M + 1) of a segment's columns of the SSM: column 0 is
    the 'elevator' (a path family may pause), steps (1,1), (1,2), (2,1)."""
    n, m = seg.shape[0], seg.shape[1] + 1
    d = np.full((n, m), -np.inf)
    d[0, 0], d[0, 1] = 0.0, seg[0, 0]
    for i in range(1, n):
        d[i, 0] = max(d[i - 1, 0], d[i - 1, -1])
        d[i, 1] = d[i, 0] + seg[i, 0]
        for j in range(2, m):
            d[i, j] = seg[i, j - 1] + max(d[i - 1, j - 1], d[i - 1, j - 2], d[i - 2, j - 1])
    return d


def _path_family(d: np.ndarray) -> list[list[tuple[int, int]]]:
    """Backtracking of the optimal path family through D (FMP's compute_optimal_path_family)."""
    n_rows, m_cols = d.shape
    family, path = [], []
    n = n_rows - 1
    if d[n, m_cols - 1] < d[n, 0]:
        m = 0
    else:
        m = m_cols - 1
        path.append((n_rows - 1, m_cols - 2))
    while n > 0 or m > 0:
        if n == 0:
            cell = (0, m - 1)
        elif m == 0:
            if d[n - 1, m_cols - 1] > d[n - 1, 0]:
                cell = (n - 1, m_cols - 1)
                if path:
                    family.append(path[::-1])
                path = [(n - 1, m_cols - 2)]
            else:
                cell = (n - 1, 0)
        elif m == 1:
            cell = (n, 0)
        else:
            steps = [(n - 1, m - 1)]
            if n > 2:
                steps.append((n - 2, m - 1))
            if m > 2:
                steps.append((n - 1, m - 2))
            best = -math.inf
            for c in steps:
                if best < d[c]:
                    best, cell = d[c], c
            path.append((cell[0], cell[1] - 1))
        n, m = cell
    family.append(path[::-1])
    return family[::-1]


def fitness_scape_plot(ssm: np.ndarray) -> np.ndarray:
    """(duration − 1, start) fitness of every segment of the SSM (FMP's compute_fitness_scape_plot,
    fitness only): 2·σ̄·γ̄ / (σ̄ + γ̄), σ̄ the normalised score and γ̄ the normalised coverage of the
    segment's optimal path family, both without the segment's own (trivial) path."""
    eps = 1e-16
    n = ssm.shape[0]
    out = np.zeros((n, n))
    for length in range(1, n + 1):
        for start in range(n - length + 1):
            d = _accumulated_score(ssm[:, start:start + length])
            score = max(d[n - 1, 0], d[n - 1, -1])
            family = _path_family(d)
            m = family[0][-1][1] + 1
            score_n = (score - m) / (sum(len(p) for p in family) + eps)
            coverage = sum(p[-1][0] - p[0][0] + 1 for p in family)
            coverage_n = (coverage - m) / (n + eps)
            out[length - 1, start] = 2 * score_n * coverage_n / (score_n + coverage_n + eps)
    return out


def structure_indicator_from_plot(plot: np.ndarray, low_s: float, upp_s: float,
                                  rate: int = SI_FEATURE_RATE) -> float:
    """SI(low, upp): the maximum fitness over durations low..upp s (MusDr: rows low·rate − 1 up to
    upp·rate, exclusive); 0 when the piece is shorter than `low`."""
    lo, hi = int(low_s * rate) - 1, int(upp_s * rate)
    return 0.0 if lo >= plot.shape[0] else float(np.max(plot[lo:hi]))


def structure_indicator(y: np.ndarray, sr: int, low_s: float = SI_SCALES[0], upp_s: float = SI_SCALES[1],
                        what: str = "audio") -> float:
    """SI(low_s, upp_s) of a waveform (see the module docstring); SilentMusicError on silence."""
    import librosa

    y = np.asarray(y, np.float32).reshape(-1)
    if sr != SI_AUDIO_RATE:
        y = librosa.resample(y, orig_sr=sr, target_sr=SI_AUDIO_RATE)
    if y.size == 0 or not np.isfinite(y).all() or not np.abs(y).max() > 0:
        raise SilentMusicError(f"{what}: silence (or no samples) has no chroma, so no structureness indicator")
    return structure_indicator_from_plot(fitness_scape_plot(si_ssm(si_chroma(y))), low_s, upp_s)


def wav_structure_indicator(wav: str | Path, *, cache=True) -> float:
    """SI(3, 8) of an audio file (loaded at 22.05 kHz mono as MusDr's librosa.load), cached per
    file; NaN (left out of the set value) for silence."""
    def compute():
        import librosa

        y, sr = librosa.load(str(wav), sr=SI_AUDIO_RATE)
        try:
            return {"si": np.array(structure_indicator(y, sr, what=str(wav)))}
        except SilentMusicError:
            return {"si": np.array(math.nan)}

    c = cache if isinstance(cache, Cache) else Cache() if cache else None
    if c is None:
        return float(compute()["si"])
    config = {"version": SI_VERSION, "scales": list(SI_SCALES), "rate": SI_AUDIO_RATE}
    return float(c.get_or_compute("si", config, [Path(wav)], compute)["si"])


# ----------------------------------------------------------------------------- the metric


@register_metric("symbolic")
class SymbolicMetric(Metric):
    """PCHE, GPS (MusDr), note density and onset-to-motion alignment of each system's notes (its
    MIDI where kept beside the wav, else basic-pitch's transcription), with the reference's values
    as targets; notes_f_truth against the dataset's true notes where it has them."""

    weights = "pretrained"  # basic-pitch's shipped ONNX weights (Apache-2.0)

    def __init__(self, cache=None, seed: int = 0, beat_tracker: str = "librosa"):
        super().__init__(cache, seed)
        check_beat_tracker(beat_tracker)
        self.beat_tracker = beat_tracker

    def describe(self) -> dict:
        return {"weights": self.weights, "transcriber": trackers.BASIC_PITCH_CONFIG, "beat_tracker": self.beat_tracker,
                "positions_per_bar": POSITIONS_PER_BAR, "pche_windows_bars": [4, 1],
                "si": {"scales_s": list(SI_SCALES), "version": SI_VERSION,
                       "from": "the wav (MusDr: chroma SSM at 2 Hz, fitness scape plot)"}}

    def _notes(self, wav: Path, clip: Clip) -> NoteSet:
        midi = Path(wav).with_suffix(".mid")
        if midi.is_file():
            return notes_from_midi(midi, clip.duration)
        return notes_from_audio(wav, clip.duration, self.beat_tracker, cache=self.cache or True)

    def prepare(self, generated: Sequence[Path], reference: Sequence[Path]) -> None:
        """madmom's downbeats (the bar grid) of every file it will transcribe, on every core."""
        if self.beat_tracker == "madmom":
            madmom_prefill([*generated, *reference], self.cache or True)

    def scores(self, clips: Sequence[Clip], generated: Mapping[str, Path], reference: Mapping[str, Path]):
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
        gen_si = np.array([wav_structure_indicator(generated[c.id], cache=cache) for c in clips], np.float64)
        ref_si = np.array([wav_structure_indicator(reference[c.id], cache=cache) for c in clips], np.float64)
        out["si"] = Score(per_clip=gen_si, higher_is_better=True,
                          target=float(np.nanmean(ref_si)) if np.isfinite(ref_si).any() else None)
        out["si_diff"] = Score(per_clip=np.abs(gen_si - ref_si), higher_is_better=False)
        out["onset_motion_align"] = Score(per_clip=col(gen, "onset_motion_align"), higher_is_better=True)
        events = [trackers.clip_events(c) for c in clips]
        if any(e is not None for e in events):
            f = [trackers.note_f_measure(e.notes, ns.notes)[2] if e is not None else math.nan
                 for e, ns in zip(events, gen_sets)]
            out["notes_f_truth"] = Score(per_clip=np.array(f, np.float64), higher_is_better=True)
        return out
