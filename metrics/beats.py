"""Musical beats, onsets and tempo of a waveform, and the beat metrics between a generated and a
reference track: Beat Coverage Score (BCS), Beat Hit Score (BHS) and tempo error.

Analysis front end (one cached feature set per waveform, `music_features`)
--------------------------------------------------------------------------
beats / tempo   `librosa.beat.beat_track` on `librosa.onset.onset_strength` computed at
                BEAT_SR = 30720 Hz with hop 512, i.e. a 60 Hz envelope. This is FACT's setting
                (google-research/mint, tools/preprocessing.py: FPS = 60, HOP_LENGTH = 512,
                SR = FPS * HOP_LENGTH; beat_track(tightness=100)), so music beats fall on the same
                60 Hz grid as FACT's Beat Align Score (metrics.alignment). We keep librosa's
                default start_bpm=120 (FACT passes the AIST++ tempo known from the file name; we
                cannot for generated music). A 60 Hz grid also makes 120 bpm an exact lag (30).
onsets          `librosa.onset.onset_detect(y, sr=22050, hop 512, wait=1, delta=0.2, pre_avg=1,
                post_avg=1, post_max=1)` (pre_max default = 1 frame): exactly the detector of the
                D2M-GAN authors' scoring script (L-YeZhu/Beats_Scores, beats_scores.py, which loads
                audio with librosa's default 22050 Hz). Their "beats" are these onset peaks, not
                beat-tracker output.

BCS / BHS, as published (keys `bcs`, `bhs`)
-------------------------------------------
D2M-GAN (Zhu et al. 2022, "Quantized GAN for Complex Music Generation from Dance Videos") defines
BCS = B_g / B_t and BHS = B_a / B_t with B_t the reference's beats, B_g the generated beats and
B_a the generated beats aligned with a reference beat. In the authors' code (L-YeZhu/Beats_Scores)
the tolerance is a **1-second bin**: each track becomes a binary vector with one entry per whole
second (ceil(duration) entries), set where at least one onset falls in that second
(trunc(t)); B_t and B_g are the numbers of set bins and B_a the bins set in both. So "aligned"
means "in the same wall-clock second", not within a symmetric window. LORIS (OpenGVLab/LORIS,
beats_scores.py) keeps the 1-s bins and BHS, uses pre_avg/post_avg/pre_max/post_max = 3 in the
onset detector, and redefines its "cover" as B_a / B_g (a precision); we do not follow that
redefinition. Per-clip values are averaged over clips, as both scripts do. Consequence of the
1-s bins: any music with at least one onset per second scores BCS ≈ BHS ≈ 1 against any other
such music, however the onsets are placed, which is why published BCS/BHS are all near 0.9.

BCS / BHS with a time tolerance (keys `bcs_tol`, `bhs_tol`)
------------------------------------------------------------
Our variant, not a published number: the brief's definition applied to beat-tracker beats
(`beat_times`) instead of binned onset peaks. BCS_tol = #gen beats / #ref beats; BHS_tol = #gen
beats matched one-to-one to a reference beat within ±TOLERANCE_S / #ref beats. TOLERANCE_S =
0.07 s is the standard beat-evaluation window (mir_eval.beat.f_measure's f_measure_threshold,
MIREX audio beat tracking). Beat-tracker beats cover every clip with a regular grid, whereas the
D2M onset detector (delta=0.2 on an envelope normalised by its maximum) often finds only one or
two onsets in legato music (on `toy`'s organ/strings/choir clips: 1-3 onsets in 10 s), so the
published BCS/BHS rest on very few events there.

Beat precision / recall / F1 (keys `beat_precision`, `beat_recall`, `beat_f`)
---------------------------------------------------------------------------
The same one-to-one ±TOLERANCE_S matches of tracker beats, over the generated beats
(precision: LORIS's redefined "coverage", B_a / B_g; Yu et al. 2023, "Long-Term Rhythmic Video
Soundtracker"), over the reference beats (recall: D2M-GAN's BHS, B_a / B_t, = `bhs_tol`), and
their harmonic mean (the beat F-measure of Dixon 2007 as mir_eval and MIREX compute it). All
three are higher-is-better, unlike BCS: B_g / B_t is a ratio of counts whose ideal is 1 (a system
with twice the reference's beats scores 2), so `bcs` and `bcs_tol` carry `target = 1` and rank
by |BCS − 1|.

Beat tracker
------------
`beat_tracker="librosa"` (default) uses beat_track's beats above; `"madmom"` madmom's RNN + DBN
tracker (metrics.trackers; its models are CC BY-NC-SA 4.0). The tempo then comes from the
median inter-beat interval (60 / median IBI). The published BCS/BHS use onset peaks, whatever
the tracker.

Tempo
-----
`tempo_gen`, `tempo_ref` (bpm from beat_track), `tempo_error` = |bpm_gen - bpm_ref| and
`tempo_error_octave` = min over k in {1/2, 1, 2} of |k * bpm_gen - bpm_ref| (octave errors of
either the system or the tracker are forgiven).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Union

import numpy as np

from metrics.errors import PairingError
from core.errors import MediaError
from core.media import load_audio, resample, to_mono
from core.cache import Cache
from core.registry import Registry

# --- front-end constants (changing any of them changes the cache key via FEATURE_CONFIG) ---
BEAT_SR = 30720  # = 60 * 512: a 60 Hz onset envelope (FACT)
BEAT_HOP = 512
ENVELOPE_RATE = BEAT_SR / BEAT_HOP  # 60.0 frames/s
ONSET_SR = 22050  # librosa.load's default, as in the D2M-GAN / LORIS scripts
ONSET_HOP = 512
D2M_ONSET_PARAMS = {"wait": 1, "delta": 0.2, "pre_avg": 1, "post_avg": 1, "pre_max": 1, "post_max": 1}
D2M_BIN_S = 1.0  # the published BCS/BHS "tolerance": 1-second bins
TOLERANCE_S = 0.07  # ±70 ms, mir_eval / MIREX beat F-measure window, for bcs_tol / bhs_tol

#: beat trackers other than librosa's (each beat metric's `beat_tracker=` option), name → "module:function"
#: with `beat_times(audio, tracker, sample_rate, cache=)`; librosa's beats come with `music_features`
BEAT_TRACKERS = Registry("beat tracker", {"madmom": "metrics.trackers:beat_times"})


FEATURE_EXTRACTOR = "music_beats"
FEATURE_CONFIG = {
    "version": 1,
    "beat_sr": BEAT_SR,
    "beat_hop": BEAT_HOP,
    "beat_track": {"start_bpm": 120.0, "tightness": 100},
    "onset_sr": ONSET_SR,
    "onset_hop": ONSET_HOP,
    "onset_detect": D2M_ONSET_PARAMS,
}

AudioInput = Union[str, os.PathLike, np.ndarray]


@dataclass(frozen=True)
class MusicFeatures:
    """Per-waveform rhythm features; times in seconds from the waveform's start."""

    beat_times: np.ndarray  # beat_track beats (60 Hz grid)
    onset_times: np.ndarray  # D2M-GAN onset detector peaks
    tempo: float  # bpm from beat_track (0.0 for silence)
    onset_envelope: np.ndarray  # onset strength at ENVELOPE_RATE
    duration: float  # s

    @property
    def envelope_rate(self) -> float:
        return ENVELOPE_RATE


def _resolve_cache(cache: Cache | bool | None) -> Cache | None:
    if cache is True or cache is None:
        return Cache()
    if cache is False:
        return None
    return cache


def _load(audio: AudioInput, sample_rate: int | None, target_sr: int) -> np.ndarray:
    if isinstance(audio, np.ndarray):
        if sample_rate is None:
            raise ValueError("sample_rate is required when audio is given as an array")
        y = resample(to_mono(np.asarray(audio, dtype=np.float32)), int(sample_rate), target_sr)
    else:
        y = load_audio(audio, target_sr)
    bad = int(np.count_nonzero(~np.isfinite(y)))
    if bad:  # librosa would stop with a ParameterError that names no file
        raise MediaError(audio if not isinstance(audio, np.ndarray) else "<array>",
                         f"{bad} of {y.size} samples are NaN or Inf", "regenerate the file; beats need finite audio")
    return y


def _compute_features(audio: AudioInput, sample_rate: int | None) -> dict[str, np.ndarray]:
    import librosa

    y = _load(audio, sample_rate, BEAT_SR)
    env = librosa.onset.onset_strength(y=y, sr=BEAT_SR, hop_length=BEAT_HOP)
    if env.size and np.any(env > 0):
        tempo, frames = librosa.beat.beat_track(onset_envelope=env, sr=BEAT_SR, hop_length=BEAT_HOP,
                                                **FEATURE_CONFIG["beat_track"])
        tempo = float(np.atleast_1d(tempo)[0])
        beat_times = librosa.frames_to_time(np.asarray(frames), sr=BEAT_SR, hop_length=BEAT_HOP)
    else:  # silence: no beats, tempo 0
        tempo, beat_times = 0.0, np.zeros(0)

    y22 = _load(audio, sample_rate, ONSET_SR)
    if y22.size and np.any(y22 != 0):
        onsets = librosa.onset.onset_detect(y=y22, sr=ONSET_SR, hop_length=ONSET_HOP, units="time",
                                            **D2M_ONSET_PARAMS)
    else:
        onsets = np.zeros(0)
    return {
        "beat_times": np.asarray(beat_times, dtype=np.float64),
        "onset_times": np.asarray(onsets, dtype=np.float64),
        "tempo": np.asarray(tempo, dtype=np.float64),
        "onset_envelope": np.asarray(env, dtype=np.float32),
        "duration": np.asarray(y22.shape[0] / ONSET_SR, dtype=np.float64),
    }


def music_features(audio: AudioInput, sample_rate: int | None = None, *,
                   cache: Cache | bool | None = True) -> MusicFeatures:
    """Beats, onsets, tempo and onset envelope of a waveform (a file path, or a mono/(n, ch) array
    at `sample_rate`). Cached per file content (or array bytes) and FEATURE_CONFIG."""
    c = _resolve_cache(cache)
    if c is None:
        arrays = _compute_features(audio, sample_rate)
    else:
        if isinstance(audio, np.ndarray):
            if sample_rate is None:
                raise ValueError("sample_rate is required when audio is given as an array")
            inputs: list = [np.ascontiguousarray(audio, dtype=np.float32).tobytes()]
            config = {**FEATURE_CONFIG, "array_sample_rate": int(sample_rate)}
        else:
            inputs, config = [Path(audio)], FEATURE_CONFIG
        arrays = c.get_or_compute(FEATURE_EXTRACTOR, config, inputs, lambda: _compute_features(audio, sample_rate))
    return MusicFeatures(
        beat_times=np.asarray(arrays["beat_times"], dtype=np.float64),
        onset_times=np.asarray(arrays["onset_times"], dtype=np.float64),
        tempo=float(arrays["tempo"]),
        onset_envelope=np.asarray(arrays["onset_envelope"]),
        duration=float(arrays["duration"]),
    )


# ----------------------------------------------------------------------------- scores


def match_events(generated: Iterable[float], reference: Iterable[float], tolerance: float) -> int:
    """Number of one-to-one pairs (generated, reference) with |Δt| <= tolerance, closest pairs
    first (greedy; exact whenever events on each side are more than 2·tolerance apart)."""
    g = np.sort(np.asarray(list(generated), dtype=np.float64))
    r = np.sort(np.asarray(list(reference), dtype=np.float64))
    if g.size == 0 or r.size == 0:
        return 0
    d = np.abs(g[:, None] - r[None, :])
    gi, ri = np.nonzero(d <= tolerance + 1e-9)
    order = np.argsort(d[gi, ri], kind="stable")
    used_g, used_r, hits = set(), set(), 0
    for k in order:
        a, b = int(gi[k]), int(ri[k])
        if a not in used_g and b not in used_r:
            used_g.add(a)
            used_r.add(b)
            hits += 1
    return hits


def beat_coverage_hit(generated: Iterable[float], reference: Iterable[float],
                      tolerance: float = TOLERANCE_S) -> tuple[float, float]:
    """(BCS, BHS) with a time tolerance: #gen / #ref and #gen matched within ±tolerance / #ref.
    NaN for both when the reference has no beats."""
    g = np.asarray(list(generated), dtype=np.float64)
    r = np.asarray(list(reference), dtype=np.float64)
    if r.size == 0:
        return math.nan, math.nan
    return g.size / r.size, match_events(g, r, tolerance) / r.size


def beat_bins(times: Iterable[float], duration: float, bin_s: float = D2M_BIN_S) -> np.ndarray:
    """D2M-GAN's binary beat vector: ceil(duration / bin_s) bins, bin trunc(t / bin_s) set for
    every event time t (events past the last bin are dropped)."""
    n = int(math.ceil(duration / bin_s - 1e-9))
    out = np.zeros(max(n, 0), dtype=bool)
    for t in times:
        i = int(math.trunc(float(t) / bin_s))
        if 0 <= i < n:
            out[i] = True
    return out


def beat_coverage_hit_binned(generated: Iterable[float], reference: Iterable[float],
                             duration_generated: float, duration_reference: float | None = None,
                             bin_s: float = D2M_BIN_S) -> tuple[float, float]:
    """(BCS, BHS) exactly as the D2M-GAN authors' script scores them: 1-s bins, BCS = set gen
    bins / set ref bins, BHS = bins set in both / set ref bins. Bins are compared over the shorter
    of the two tracks (LORIS truncates the reference to the generated length). NaN for both when
    the reference has no set bin (the original script divides by zero there)."""
    gb = beat_bins(generated, duration_generated, bin_s)
    rb = beat_bins(reference, duration_reference if duration_reference is not None else duration_generated, bin_s)
    n = min(gb.size, rb.size)
    gb, rb = gb[:n], rb[:n]
    total = int(rb.sum())
    if total == 0:
        return math.nan, math.nan
    return int(gb.sum()) / total, int((gb & rb).sum()) / total


def tempo_error(bpm_generated: float, bpm_reference: float) -> float:
    return abs(float(bpm_generated) - float(bpm_reference))


def tempo_error_octave(bpm_generated: float, bpm_reference: float) -> float:
    """min over k in {1/2, 1, 2} of |k * bpm_generated - bpm_reference|."""
    g, r = float(bpm_generated), float(bpm_reference)
    return min(abs(k * g - r) for k in (0.5, 1.0, 2.0))


def beat_metrics(generated_wav: AudioInput, reference_wav: AudioInput, sample_rate: int | None = None, *,
                 tolerance: float = TOLERANCE_S, beat_tracker: str = "librosa",
                 cache: Cache | bool | None = True) -> dict[str, float]:
    """Beat metrics of one generated track against its reference.

    Either argument may be a file path or an array; `sample_rate` is the rate of array inputs
    (files are read at their own rate). Keys: bcs, bhs (published protocol: onset peaks in 1-s
    bins), bcs_tol, bhs_tol, beat_precision, beat_recall, beat_f (`beat_tracker`'s beats within
    ±`tolerance` s), tempo_gen, tempo_ref,
    tempo_error, tempo_error_octave, n_onsets_gen, n_onsets_ref, n_beats_gen, n_beats_ref. See
    the module docstring.
    """
    gen = music_features(generated_wav, sample_rate, cache=cache)
    ref = music_features(reference_wav, sample_rate, cache=cache)
    bcs, bhs = beat_coverage_hit_binned(gen.onset_times, ref.onset_times, gen.duration, ref.duration)
    if beat_tracker == "librosa":
        gen_beats, ref_beats, gen_tempo, ref_tempo = gen.beat_times, ref.beat_times, gen.tempo, ref.tempo
    else:
        beat_times = BEAT_TRACKERS.load(beat_tracker)
        gen_beats = beat_times(generated_wav, beat_tracker, sample_rate, cache=cache)
        ref_beats = beat_times(reference_wav, beat_tracker, sample_rate, cache=cache)
        gen_tempo, ref_tempo = tempo_from_beats(gen_beats), tempo_from_beats(ref_beats)
    bcs_tol, bhs_tol = beat_coverage_hit(gen_beats, ref_beats, tolerance)
    return {
        "bcs": bcs,
        "bhs": bhs,
        "bcs_tol": bcs_tol,
        "bhs_tol": bhs_tol,
        **beat_precision_recall_f(gen_beats, ref_beats, tolerance),
        "tempo_gen": gen_tempo,
        "tempo_ref": ref_tempo,
        "tempo_error": tempo_error(gen_tempo, ref_tempo),
        "tempo_error_octave": tempo_error_octave(gen_tempo, ref_tempo),
        "n_onsets_gen": float(gen.onset_times.size),
        "n_onsets_ref": float(ref.onset_times.size),
        "n_beats_gen": float(gen_beats.size),
        "n_beats_ref": float(ref_beats.size),
    }


def beat_precision_recall_f(generated: Iterable[float], reference: Iterable[float],
                            tolerance: float = TOLERANCE_S) -> dict[str, float]:
    """beat_precision = hits / #gen (LORIS), beat_recall = hits / #ref (D2M-GAN's BHS),
    beat_f = their harmonic mean (Dixon 2007; mir_eval), hits one-to-one within ±tolerance.
    No reference beats: all NaN; reference beats but no generated ones: 0, NaN precision."""
    g = np.asarray(list(generated), dtype=np.float64)
    r = np.asarray(list(reference), dtype=np.float64)
    if r.size == 0:
        return {"beat_precision": math.nan, "beat_recall": math.nan, "beat_f": math.nan}
    hits = match_events(g, r, tolerance)
    p = hits / g.size if g.size else math.nan
    rec = hits / r.size
    f = 2 * hits / (g.size + r.size)
    return {"beat_precision": p, "beat_recall": rec, "beat_f": f}


def tempo_from_beats(beats: np.ndarray) -> float:
    """60 / median inter-beat interval (0.0 with fewer than two beats)."""
    b = np.sort(np.asarray(beats, np.float64))
    return 60.0 / float(np.median(np.diff(b))) if b.size >= 2 else 0.0


def beat_metrics_set(generated: Mapping[str, AudioInput], reference: Mapping[str, AudioInput],
                     sample_rate: int | None = None, **kwargs) -> dict:
    """`beat_metrics` for every clip id in `generated` (paired with `reference[id]`), and the mean
    over clips: {"per_clip": {id: {...}}, "mean": {...}}. Both sets must have the same ids."""
    if set(generated) != set(reference):
        only_gen, only_ref = sorted(set(generated) - set(reference)), sorted(set(reference) - set(generated))
        raise PairingError(f"beat metrics: generated and reference clip ids differ (only generated: "
                           f"{only_gen[:5]}, only reference: {only_ref[:5]})")
    per_clip = {cid: beat_metrics(generated[cid], reference[cid], sample_rate, **kwargs) for cid in sorted(generated)}
    return {"per_clip": per_clip, "mean": aggregate(per_clip)}


def aggregate(per_clip: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """Mean over clips of every numeric key (NaN values are left out; a key that is NaN for every
    clip stays NaN). `n_clips` counts the clips."""
    keys: list[str] = []
    for values in per_clip.values():
        for k, v in values.items():
            if k not in keys and isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool):
                keys.append(k)
    out: dict[str, float] = {}
    for k in keys:
        vals = np.asarray([float(v[k]) for v in per_clip.values() if k in v], dtype=np.float64)
        vals = vals[~np.isnan(vals)]
        out[k] = float(vals.mean()) if vals.size else math.nan
    out["n_clips"] = float(len(per_clip))
    return out
