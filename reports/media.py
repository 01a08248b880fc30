"""Gallery media and case-study data for reports.

Each gallery clip gets a muxed preview `report/media/<clip>.mp4` (the clip's span of its video
with its original music, made once with reports.gallery's PyAV muxer) so the report plays the
video offline; every system's music is referenced relatively (`../<system>/<clip>.wav`), so the
run folder can be zipped and sent as a whole. Case studies (Fig. 6) read the motion energy,
onsets and beats that `bench evaluate` stored in `<run>/case_studies/<clip>.json`
(metrics.case_study): a report never recomputes them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from core.errors import BenchError
from core.runfiles import stored_run_clips
from core.manifest import Clip
from metrics.case_study import read_case_study


@dataclass
class GalleryItem:
    clip: Clip
    video: str | None  # path relative to the report folder
    music: list[tuple[str, str | None, str]] = field(default_factory=list)  # (label, relative wav or None, note)
    caption: str = ""


def run_clips(config: dict) -> tuple[list[Clip], str | None]:
    """The run's clips (its split and limit, sorted as generation sorts them), or a note why not."""
    if (config.get("dataset") or {}).get("kind") == "folders":  # `bench evaluate --generated/--reference`
        return [], "no gallery: two folders of audio were scored, without videos"
    try:
        return stored_run_clips(config), None
    except BenchError as exc:
        return [], f"gallery skipped: the run's dataset is not available here ({exc})"


def relative(path: Path, start: Path) -> str:
    """A URL path from `start` to `path` (forward slashes, works from file://)."""
    return Path(os.path.relpath(Path(path).resolve(), Path(start).resolve())).as_posix()


def preview(clip: Clip, media_dir: Path) -> Path:
    """`media_dir/<clip>.mp4`: the clip's video span with its original music (kept once made)."""
    from reports.gallery import mux_clip

    out = media_dir / f"{clip.id}.mp4"
    if not out.exists():
        media_dir.mkdir(parents=True, exist_ok=True)
        mux_clip(clip, clip.audio_path, out)
    return out


def gallery(clips: Sequence[Clip], sources: Sequence[tuple[str, Path]], report_dir: Path, limit: int,
            failures: dict[str, dict[str, str]] | None = None) -> tuple[list[GalleryItem], list[str]]:
    """Gallery items for the first `limit` clips: preview video + each source's music.
    `sources` are (label, folder holding <clip>.wav); `failures` maps label → {clip: error}."""
    items, notes = [], []
    failures = failures or {}
    for clip in list(clips)[:limit]:
        try:
            video = relative(preview(clip, report_dir / "media"), report_dir)
        except (BenchError, OSError, ValueError) as exc:  # unreadable video: keep the music
            video = None
            notes.append(f"{clip.id}: no video preview ({exc})")
        item = GalleryItem(clip, video, caption=clip.caption or "")
        for label, folder in sources:
            wav = Path(folder) / f"{clip.id}.wav"
            if wav.exists():
                item.music.append((label, relative(wav, report_dir), ""))
            else:
                err = failures.get(label, {}).get(clip.id)
                item.music.append((label, None, f"failed: {err}" if err else "no output"))
        items.append(item)
    return items, notes


def failure_messages(system_dir: Path) -> dict[str, str]:
    """clip → last recorded error of a system's failures.jsonl (empty if none)."""
    import json

    path = Path(system_dir) / "failures.jsonl"
    out: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                rec = json.loads(line)
                out[rec.get("clip", "?")] = rec.get("error", "")
    return out


def case_study(run_dir: str | Path, clip_id: str) -> dict:
    """Fig. 6 data of one clip as `bench evaluate` stored it: its motion energy over time and each
    music's onsets and beats (CaseStudyMissing, saying to re-run `bench evaluate`, when absent)."""
    study = read_case_study(run_dir, clip_id)
    return {"times": study.times, "motion": study.motion, "music": study.music, "duration": study.duration}
