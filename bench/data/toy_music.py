"""Music side of the `toy` dataset: Bach scores from the music21 corpus, read into plain note
lists, timed at a chosen tempo (looped when too short) and rendered with FluidSynth
(the synthesizer itself lives in `systems.render`, shared with the symbolic baselines).

We build the MIDI ourselves from music21's notes (offsets in quarter lengths × 60/tempo) rather
than using music21's MIDI export: the chorales carry a hidden playback tempo mark, and pickup
bars shift downbeats (the beat grid here honours `Measure.paddingLeft`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import DatasetError
from systems.render import INSTALL_HINT, SOUNDFONT, render_instrument  # noqa: F401  (re-exported)
from systems.render import check_synth as _check_synth


# Instrument family → General MIDI program (0-based). The family is the clip's `genre`.
FAMILIES: dict[str, int] = {
    "piano": 0,      # Acoustic Grand Piano
    "organ": 19,     # Church Organ
    "strings": 48,   # String Ensemble 1
    "choir": 52,     # Choir Aahs
    "flute": 73,     # Flute
    "guitar": 24,    # Acoustic Guitar (nylon)
    "brass": 61,     # Brass Section
}
TEMPO_RANGE = (70, 140)  # bpm, inclusive
PEAK = 0.9               # reference audio is peak-normalised to this


def check_synth(soundfont: Path = SOUNDFONT) -> None:
    """Raise DatasetError (with the install command) if FluidSynth or the soundfont is missing."""
    _check_synth(soundfont, DatasetError, "the toy dataset renders its music with it")


def list_pieces() -> list[tuple[str, str]]:
    """(name, path) of the playable Bach works in the music21 corpus, sorted by name.

    Only MusicXML files (RomanText analyses and Humdrum files are left out). Names are
    filesystem- and id-friendly: 'bwv10.7.mxl' → 'bwv10-7'.
    """
    from music21 import corpus

    out = []
    for p in corpus.getComposer("bach"):
        p = Path(str(p))
        if p.suffix not in (".mxl", ".xml"):
            continue
        out.append((p.name[: -len(p.suffix)].replace(".", "-").replace("_", "-"), str(p)))
    out.sort()
    return out


@dataclass
class Score:
    """A piece as plain arrays, in quarter lengths (ql) from the score's start."""

    name: str
    notes: np.ndarray      # (N, 3) float64: start_ql, end_ql, midi pitch; sorted by start, pitch
    beats: np.ndarray      # (B,) beat positions (ql)
    downbeats: np.ndarray  # (M,) bar starts (ql), pickup excluded
    length: float          # ql; the loop period
    mode: str              # 'major' | 'minor'
    key: str               # e.g. 'g minor'
    time_signature: str    # first one, e.g. '4/4'


def load_score(name: str, path: str) -> Score:
    from music21 import corpus

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = corpus.parse(path, forceSource=True)  # no pickle cache: parallel workers never race on it
        notes = []
        for part in s.parts:
            flat = part.stripTies().flatten()
            for n in flat.notes:
                ql = float(n.duration.quarterLength)
                if ql <= 0:  # grace notes
                    continue
                start = float(n.offset)
                for p in n.pitches:
                    notes.append((start, start + ql, float(p.midi)))
        if len(notes) < 8:
            raise DatasetError(f"{path}: too few notes for the toy dataset")
        arr = np.asarray(sorted(notes), dtype=np.float64)
        beats, downbeats, ts_name = _beat_grid(s.parts[0])
        k = s.analyze("key")
    length = max(float(s.highestTime), float(arr[:, 1].max()))
    mode = "minor" if k.mode == "minor" else "major"
    return Score(name, _merge_unisons(arr), beats, downbeats, length, mode, f"{k.tonic.name} {k.mode}", ts_name)


def _beat_grid(part) -> tuple[np.ndarray, np.ndarray, str]:
    """Beats and downbeats (ql) from the measures; a pickup bar's beats align to its end."""
    from music21 import meter

    beats: list[float] = []
    downbeats: list[float] = []
    ts = None
    first_ts = None
    measures = list(part.getElementsByClass("Measure"))
    for i, m in enumerate(measures):
        if m.timeSignature is not None:
            ts = m.timeSignature
        if ts is None:
            ts = meter.TimeSignature("4/4")
        first_ts = first_ts or ts
        beat = float(ts.beatDuration.quarterLength)
        bar = float(ts.barDuration.quarterLength)
        off, dur = float(m.offset), float(m.duration.quarterLength)
        pad = float(m.paddingLeft or 0.0)
        if i == 0 and pad == 0.0 and 0 < dur < bar:  # an unmarked pickup
            pad = bar - dur
        nominal = off - pad
        if pad == 0.0:
            downbeats.append(off)
        for j in range(int(math.ceil(bar / beat))):
            b = nominal + j * beat
            if off - 1e-9 <= b < off + dur - 1e-9:
                beats.append(b)
    return np.asarray(beats), np.asarray(downbeats), (first_ts.ratioString if first_ts else "4/4")


def _merge_unisons(notes: np.ndarray) -> np.ndarray:
    """One MIDI channel cannot hold two notes of one pitch: merge unisons (voices doubling a
    pitch) and cut an earlier note where the same pitch is struck again."""
    out = []
    order = np.lexsort((notes[:, 0], notes[:, 2]))  # by pitch, then start
    cur = None
    for s, e, p in notes[order]:
        if cur is not None and cur[2] == p and s < cur[1] - 1e-9:
            if s <= cur[0] + 1e-9:        # same attack: a doubled voice
                cur[1] = max(cur[1], e)
                continue
            cur[1] = s                    # re-struck: the held note stops here
        if cur is not None:
            out.append(cur)
        cur = [s, e, p]
    out.append(cur)
    arr = np.asarray(out, dtype=np.float64)
    return arr[np.lexsort((arr[:, 2], arr[:, 0]))]


@dataclass
class Rendition:
    """A score at a tempo, in seconds, looped `loops` times when the piece is too short."""

    score: Score
    tempo: float
    loops: int
    notes: np.ndarray      # (N, 3) start_s, end_s, pitch
    onsets: np.ndarray     # unique note start times (s)
    beats: np.ndarray      # (s)
    downbeats: np.ndarray  # (s)

    @property
    def span(self) -> tuple[float, float]:
        """First onset to last note end (s): where clips may be cut."""
        return float(self.notes[:, 0].min()), float(self.notes[:, 1].max())


def fit_tempo(score: Score, wanted: float, needed_s: float) -> tuple[float, int]:
    """Tempo (bpm) and loop count so that the sounding span lasts at least `needed_s` seconds.

    The wanted tempo is kept when the piece is long enough at it; otherwise the tempo is
    lowered (not below TEMPO_RANGE[0]); a piece still too short is looped.
    """
    span_ql = float(score.notes[:, 1].max() - score.notes[:, 0].min())
    tempo = float(wanted)
    if span_ql * 60.0 / tempo < needed_s:
        tempo = max(float(TEMPO_RANGE[0]), math.floor(span_ql * 60.0 / needed_s))
    loops = 1
    while (span_ql + (loops - 1) * score.length) * 60.0 / tempo < needed_s:
        loops += 1
    return tempo, loops


def make_rendition(score: Score, tempo: float, loops: int) -> Rendition:
    spb = 60.0 / tempo
    shifts = np.arange(loops) * score.length
    notes = np.concatenate([score.notes + [sh, sh, 0.0] for sh in shifts])
    beats = np.unique(np.concatenate([score.beats + sh for sh in shifts]))
    downbeats = np.unique(np.concatenate([score.downbeats + sh for sh in shifts]))
    notes = notes * [spb, spb, 1.0]
    return Rendition(score, tempo, loops, notes, np.unique(np.round(notes[:, 0], 6)),
                     beats * spb, downbeats * spb)


def clip_starts(rend: Rendition, n_clips: int, duration: float) -> list[float]:
    """`n_clips` starts spread evenly over the sounding span (non-overlapping when it allows),
    rounded to whole milliseconds (the clip id's resolution)."""
    a, b = rend.span
    last = max(a, b - duration)
    pos = [a] if n_clips == 1 else list(np.linspace(a, last, n_clips))
    return [round(float(p), 3) for p in pos]


def render_clip(rend: Rendition, program: int, start: float, duration: float, sample_rate: int,
                soundfont: Path = SOUNDFONT, preroll: float = 1.0) -> np.ndarray:
    """Render [start, start + duration) of the rendition: mono float32, exactly
    round(duration · sample_rate) samples, peak-normalised to PEAK.

    pretty_midi's `Instrument.fluidsynth` drives the synthesizer (`systems.render`); it hands back
    float samples instead of pyfluidsynth's dithered 16-bit ones, so the bytes do not depend on
    which process renders.

    Only the clip plus a short pre-roll is synthesised (notes held into the clip are struck at
    the pre-roll's start, outside the clip). A fresh synthesizer per clip keeps the output
    independent of what was rendered before (reverb tails), hence of the worker layout.
    """
    import pretty_midi

    pre = min(preroll, start)
    t0, t1 = start - pre, start + duration
    sel = (rend.notes[:, 1] > t0) & (rend.notes[:, 0] < t1)
    inst = pretty_midi.Instrument(program=program)
    for s, e, p in rend.notes[sel]:
        s2, e2 = max(s, t0) - t0, min(e, t1 + 0.05) - t0
        if e2 - s2 > 1e-3:
            inst.notes.append(pretty_midi.Note(velocity=_velocity(p), pitch=int(p), start=float(s2), end=float(e2)))
    n = int(round(duration * sample_rate))
    first = int(round(pre * sample_rate))
    if not inst.notes:
        return np.zeros(n, dtype=np.float32)
    wave = render_instrument(inst, sample_rate, soundfont)[first:first + n]
    if wave.size < n:
        wave = np.pad(wave, (0, n - wave.size))
    peak = float(np.abs(wave).max())
    if peak > 0:
        wave = wave * (PEAK / peak)
    return wave.astype(np.float32)


def _velocity(pitch: float) -> int:
    """Slightly louder top: high notes (the melody) 88, low ones 72."""
    return int(np.clip(72 + (pitch - 48) * 0.6, 64, 96))
