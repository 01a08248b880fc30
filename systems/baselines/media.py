"""The clip a baseline sees: its span of the source video, as a small H.264 file of its own.

Baselines read whole video files, so each clip's [start, start + duration) is cut out once
(cached under the run's `_work/clips/`) and optionally scaled to a height (CMT works at 360p).
The file name is chosen by the adapter: several baselines build output names from it, and
Video2Music passes the path unquoted to a shell (no spaces allowed).
"""

from __future__ import annotations

from pathlib import Path

from core.media import decode_frames, probe_video, write_video
from core.manifest import Clip


def scaled_size(width: int, height: int, target_height: int) -> tuple[int, int]:
    """(width, height) scaled to `target_height`, both even (H.264 yuv420p)."""
    h = max(2, int(target_height) // 2 * 2)
    w = max(2, int(round(width * h / height / 2.0)) * 2)
    return w, h


def cut_clip_video(clip: Clip, out: Path, height: int | None = None) -> Path:
    info = probe_video(clip.video_path)
    size = None
    if height is not None and info.height != height:
        size = scaled_size(info.width, info.height, height)
    frames = decode_frames(clip.video_path, size=size, start=clip.start, duration=clip.duration)
    if size is None and (frames.shape[1] % 2 or frames.shape[2] % 2):
        size = (frames.shape[2] // 2 * 2, frames.shape[1] // 2 * 2)
        frames = frames[:, : size[1], : size[0]]
    fps = int(round(info.fps)) if info.fps else 25
    return write_video(out, frames, fps)
