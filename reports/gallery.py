"""Videos with generated music muxed in (`bench generate --mux`; later, report galleries)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from tqdm.auto import tqdm

from core.manifest import Clip
from core.media import decode_frames, load_audio, probe_video, write_video


def mux_clip(clip: Clip, wav: Path, out: Path) -> Path:
    """The clip's span of its video, re-encoded, with `wav` as its sound track."""
    info = probe_video(clip.video_path)
    fps = int(round(info.fps)) or 25
    frames = decode_frames(clip.video_path, fps=fps, start=clip.start, duration=clip.duration)
    sr = 32000
    audio = load_audio(wav, sr, 0.0, clip.duration)
    return write_video(out, frames, fps, audio=audio, sample_rate=sr)


def mux_run(run_dir: Path, clips: Sequence[Clip], systems: Sequence[str]) -> int:
    """Write <system>/<clip>.mp4 for every finished wav of the given systems; skips existing."""
    by_id = {c.id: c for c in clips}
    todo = []
    for system in systems:
        for wav in sorted((Path(run_dir) / system).glob("*.wav")):
            clip = by_id.get(wav.stem)  # first samples only (<clip>.wav)
            out = wav.with_suffix(".mp4")
            if clip is not None and not out.exists():
                todo.append((clip, wav, out))
    for clip, wav, out in tqdm(todo, desc="mux", unit="video", disable=None):
        mux_clip(clip, wav, out)
    return len(todo)
