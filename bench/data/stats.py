"""Dataset facts (the paper's Table 5: clips, sources, hours per split) and a media check."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.data.cutting import rms_db
from core.media import audio_info, probe_video, reaches, read_audio, to_mono
from core.media.video import not_reached
from core.manifest import Clip
from core.errors import BenchError, MediaError

SPLIT_ORDER = ("train", "val", "test")


def dataset_stats(clips: list[Clip]):
    """One row per split plus `total`: clips, sources, videos, hours (clip time, in hours)."""
    import pandas as pd

    cols = ["clips", "sources", "videos", "hours"]
    splits = sorted({c.split for c in clips}, key=lambda s: (SPLIT_ORDER.index(s) if s in SPLIT_ORDER else 99, s))
    rows = {}
    for name, group in [(s, [c for c in clips if c.split == s]) for s in splits] + [("total", list(clips))]:
        rows[name] = {
            "clips": len(group),
            "sources": len({c.source for c in group}),
            "videos": len({str(c.video_path) for c in group}),
            "hours": float(sum(c.duration for c in group)) / 3600.0,
        }
    df = pd.DataFrame.from_dict(rows, orient="index", columns=cols)
    df.index.name = "split"
    return df.astype({"clips": int, "sources": int, "videos": int, "hours": float})


@dataclass(frozen=True)
class Problem:
    clip_id: str
    path: str
    problem: str

    def __str__(self) -> str:
        return f"{self.clip_id}: {self.path}: {self.problem}"


def validate_media(clips: list[Clip], progress: bool = True, silence_db: float = -60.0) -> list[Problem]:
    """Check every clip's media; returns the problems found (empty when all is well).

    Video: opens, covers [start, start + duration) by its header (within 1.5 frames), and really
    decodes there (a seek and decode of the clip's last second).
    Audio: readable, mono-able, at least `duration` long, finite and not silent (its RMS over
    the clip is above `silence_db` dBFS). Keypoints, when set: the file exists.
    """
    from tqdm.auto import tqdm

    problems: list[Problem] = []
    probes: dict[str, object] = {}
    for c in tqdm(clips, desc="checking media", unit="clip", disable=None if progress else True):
        # video
        try:
            vpath = c.video_path
            key = str(vpath)
            if key not in probes:
                try:
                    probes[key] = probe_video(vpath)
                except MediaError as exc:
                    probes[key] = exc
            info = probes[key]
            if isinstance(info, MediaError):
                problems.append(Problem(c.id, key, info.problem))
            else:
                slack = 1.5 / info.fps if info.fps else 0.05
                if info.duration + slack < c.start + c.duration:
                    problems.append(Problem(c.id, key, f"the video ends at {info.duration:.2f} s; the clip needs "
                                                       f"[{c.start:.2f}, {c.start + c.duration:.2f}) s"))
                else:  # the header may claim more than the file holds: decode the clip's last second
                    ok, last = reaches(vpath, c.start + c.duration, info.fps)
                    if not ok:
                        problems.append(Problem(c.id, key, (
                            f"{not_reached(c.start + c.duration, last, info.duration)}; the clip needs "
                            f"[{c.start:.2f}, {c.start + c.duration:.2f}) s (truncated file? re-download it)")))
        except BenchError as exc:
            problems.append(Problem(c.id, str(c.video), str(exc)))
        # audio
        try:
            apath = c.audio_path
            ai = audio_info(apath)
            if ai.channels < 1:
                raise MediaError(apath, "no audio channel")
            if ai.duration + 1.0 / ai.sample_rate < c.duration:
                raise MediaError(apath, f"audio is {ai.duration:.3f} s, the clip is {c.duration:.3f} s")
            data, _ = read_audio(apath, 0.0, c.duration)
            level = rms_db(to_mono(data))
            if not np.isfinite(level) or level < silence_db:
                raise MediaError(apath, f"the audio is silent ({level:.1f} dBFS RMS)")
        except MediaError as exc:
            problems.append(Problem(c.id, str(exc.path), exc.problem))
        except BenchError as exc:
            problems.append(Problem(c.id, str(c.audio), str(exc)))
        if c.keypoints and not Path(c.path("keypoints")).exists():
            problems.append(Problem(c.id, str(c.path("keypoints")), "keypoints file not found"))
    return problems
