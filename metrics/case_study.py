"""Case-study features (paper Fig. 6) stored when a run is scored, so a report only reads them.

For each scored clip, `<run>/case_studies/<clip>.json` holds the clip's motion envelope over time
(metrics.alignment's video motion curve, the one the alignment metric uses) and the onset and beat
times of its original music and of every system's output (metrics.beats' features, the ones the
beat metric uses), plus the clip's duration. `bench evaluate` writes them (through
`write_case_studies`, atomically, skipping a clip whose inputs are unchanged); reports read them
with `read_case_study`, and an old run folder without them is told to re-run `bench evaluate`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from core.atomic import write_text_atomic
from core.cache import Cache, file_digest
from core.errors import BenchError
from core.manifest import Clip
from metrics.alignment import clip_motion_curve
from metrics.beats import FEATURE_CONFIG, music_features

CASE_STUDY_DIR = "case_studies"
#: the label of the clip's own music in a case study (the run's `reference` system is the same audio)
ORIGINAL = "original"
#: bump when the stored features change meaning, so old files are recomputed
FORMAT = 1


class CaseStudyMissing(BenchError):
    """A run folder has no stored case study for a clip (scored before they were stored, or the
    clip was not scored)."""


@dataclass(frozen=True)
class CaseStudy:
    """Fig. 6 data of one clip: motion energy `motion` at `times` (s from the clip start) and, per
    music label, its onset and beat times (s)."""

    clip: str
    duration: float
    times: np.ndarray
    motion: np.ndarray
    music: dict[str, dict[str, np.ndarray]]

    def to_json(self, fingerprint: str) -> str:
        return json.dumps({
            "format": FORMAT, "clip": self.clip, "duration": float(self.duration), "fingerprint": fingerprint,
            "times": [float(t) for t in self.times], "motion": [float(v) for v in self.motion],
            "music": {label: {k: [float(t) for t in v] for k, v in f.items()} for label, f in self.music.items()},
        }, indent=1)


def case_study_path(run_dir: str | Path, clip_id: str) -> Path:
    return Path(run_dir) / CASE_STUDY_DIR / f"{clip_id}.json"


def case_study_music(clip: Clip, outputs: Mapping[str, Mapping[str, Path]]) -> dict[str, Path]:
    """label → wav of a clip's case study: its original music first, then each system's output
    (the `reference` control is the original music again, so it is left out)."""
    music = {ORIGINAL: clip.audio_path}
    for system, files in outputs.items():
        if system != "reference" and clip.id in files:
            music[system] = Path(files[clip.id])
    return music


def compute_case_study(clip: Clip, music: Mapping[str, Path], cache: Cache | bool | None = None) -> CaseStudy:
    """The clip's motion curve and each music's onsets and beats, through the metrics' cached
    feature functions (the same numbers the alignment and beat metrics use)."""
    curve, times = clip_motion_curve(clip, cache=cache)
    features = {label: music_features(wav, cache=cache) for label, wav in music.items()}
    return CaseStudy(clip.id, float(clip.duration), np.asarray(times), np.asarray(curve),
                     {label: {"onsets": f.onset_times, "beats": f.beat_times} for label, f in features.items()})


def _fingerprint(clip: Clip, music: Mapping[str, Path]) -> str:
    """What a stored case study depends on: the clip's span of its video, each music file's bytes,
    the feature settings and the format."""
    h = hashlib.sha256(json.dumps({"format": FORMAT, "features": FEATURE_CONFIG, "start": clip.start,
                                   "duration": clip.duration}, sort_keys=True, default=str).encode())
    h.update(file_digest(clip.video_path).encode())
    for label, wav in music.items():
        h.update(f"{label}:{file_digest(wav)}".encode())
    return h.hexdigest()


def write_case_studies(run_dir: str | Path, clips: Sequence[Clip], outputs: Mapping[str, Mapping[str, Path]],
                       cache: Cache | bool | None = None) -> list[str]:
    """Store `<run>/case_studies/<clip>.json` for every clip with a video; a file whose inputs are
    unchanged is kept as is. Returns notes for clips whose case study could not be made (an
    illustration never fails the scoring)."""
    notes = []
    for clip in clips:
        if not clip.video:
            continue
        music = case_study_music(clip, outputs)
        path = case_study_path(run_dir, clip.id)
        try:
            fp = _fingerprint(clip, music)
            if path.exists() and json.loads(path.read_text()).get("fingerprint") == fp:
                continue
            study = compute_case_study(clip, music, cache)
        except (BenchError, OSError, ValueError) as exc:
            notes.append(f"case study of {clip.id} not stored: {type(exc).__name__}: {exc}")
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, study.to_json(fp))
    return notes


def read_case_study(run_dir: str | Path, clip_id: str) -> CaseStudy:
    """The stored case study of a clip (CaseStudyMissing naming the file and the fix when absent)."""
    path = case_study_path(run_dir, clip_id)
    if not path.exists():
        raise CaseStudyMissing(f"{path}: no stored case study for clip {clip_id!r} (this run was scored before "
                               f"case studies were stored, or not scored yet); re-run `bench evaluate --run "
                               f"{Path(run_dir)}` to store them")
    data = json.loads(path.read_text())
    return CaseStudy(data["clip"], float(data["duration"]), np.asarray(data["times"], dtype=np.float64),
                     np.asarray(data["motion"], dtype=np.float64),
                     {label: {k: np.asarray(v, dtype=np.float64) for k, v in f.items()}
                      for label, f in data["music"].items()})
