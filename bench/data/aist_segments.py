"""D2M-GAN's and CDCD's own AIST++ segmentations as datasets of their own (DESIGN.md §3):
`aist_d2mgan` (2 s clips, D2M-GAN's 86 test segments) and `aist_cdcd` (6 s, CDCD's 36).

These baselines only run on the segments their authors cut and featurised (I3D video features,
SMPL motion, the music), so their scores come from those segments, not from the 10-second
protocol clips. Layout read:

    <lists_dir>/                     the baseline's list folder: D2M-GAN's `dataset/`, CDCD's `data/`
      aist_audio_test_segment.txt    (CDCD: aist_audio_test_segment_s6.txt) one segment a line,
                                     e.g. ./aistplus/audio_s2/test/gPO_sBM_c01_d11_mPO1_ch02_seg1.wav
    <source_dir>/                    the authors' preprocessed data (README download links)
      audio_s2/test/<segment>.wav    (CDCD: audio_s6/) the segment's music: the reference
    <videos_dir>/<video>.mp4         the AIST++ videos (the segment name minus `_seg<k>`)

A segment `<video>_seg<k>` is taken to span [(k−1)·d, k·d) of its video (d = clip_duration): the
lists number consecutive segments from 1 and neither repository says more. The reference audio
is the authors' own segment file, resampled to the dataset rate (a few samples short, as
D2M-GAN's 44032-sample files, is padded; more than 5 % short is skipped). Clip ids are
`<segment>__<start_ms>`, the source is the music id (as in `aist`), and every clip is in the
split its list names.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.media import atomic_write_audio, fit_duration, read_audio, resample, to_mono
from bench.data.aist import GENRES, NAME_RE, music_tempo
from bench.data.params import PrepareParams
from core.manifest import Clip, clip_id, read_manifest, write_manifest
from bench.data.videoaudio import require_dir
from core.errors import DatasetError, MediaError

MAX_SHORT = 0.05  # fraction of the clip a reference segment may lack (padded)


def read_segments(path: Path) -> list[str]:
    if not path.is_file():
        raise DatasetError(f"{path}: segment list not found; it ships with the baseline's repository "
                           "(`bench systems setup d2mgan` / `cdcd`), or set dataset.params.lists_dir")
    names = []
    for no, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        stem = Path(line).stem
        video, sep, k = stem.rpartition("_seg")
        if not sep or not k.isdigit() or int(k) < 1 or not NAME_RE.fullmatch(video):
            raise DatasetError(f"{path}, line {no}: {line[:80]!r} is not an AIST++ segment "
                               "(expected …/gBR_sBM_c01_d04_mBR0_ch01_seg1.wav)")
        names.append(stem)
    return names


@dataclass(frozen=True)
class SegmentOptions:
    """A segment dataset's options (bench/conf/dataset/aist_d2mgan.yaml, aist_cdcd.yaml, `params`)."""

    source_dir: str | os.PathLike | None = None  # the authors' preprocessed data (audio_s2/ or audio_s6/)
    lists_dir: str | os.PathLike | None = None  # the baseline's list folder
    videos_dir: str | os.PathLike | None = None  # the AIST++ videos
    list_pattern: str = "aist_audio_{split}_segment.txt"
    splits: str | tuple[str, ...] | list[str] = ("test",)
    limit: int | None = None  # only the first N segments of each list


def prepare_aist_segments(params: PrepareParams, options: SegmentOptions) -> list[Clip]:
    out_dir, sample_rate, clip_duration = Path(params.out_dir), params.sample_rate, params.clip_duration
    src = require_dir(options.source_dir, "preprocessed AIST++ segments", "source_dir")
    lists = require_dir(options.lists_dir, "segment lists folder", "lists_dir")
    vdir = require_dir(options.videos_dir, "AIST++ videos", "videos_dir")
    seconds = int(round(clip_duration))
    if abs(seconds - clip_duration) > 1e-9:
        raise DatasetError(f"clip_duration {clip_duration}: segment datasets have whole-second segments (2 or 6)")
    splits, limit = options.splits, options.limit
    splits = [splits] if isinstance(splits, str) else list(splits)
    clips, skipped = [], []
    n = int(round(clip_duration * sample_rate))
    for split in splits:
        names = read_segments(lists / options.list_pattern.format(split=split))
        for name in names[:limit] if limit else names:
            video_name, _, k = name.rpartition("_seg")
            m = NAME_RE.fullmatch(video_name)
            video = vdir / f"{video_name}.mp4"
            audio_src = src / f"audio_s{seconds}" / split / f"{name}.wav"
            if not video.is_file():
                skipped.append({"path": str(video), "reason": f"the AIST++ video of segment {name} is missing"})
                continue
            try:
                data, sr = read_audio(audio_src)
            except MediaError as exc:
                skipped.append({"path": str(exc.path), "reason": exc.problem})
                continue
            audio = resample(to_mono(data), sr, sample_rate)
            if audio.shape[0] < n * (1 - MAX_SHORT):
                skipped.append({"path": str(audio_src), "reason": f"{audio.shape[0] / sample_rate:.2f} s of music "
                                f"for a {clip_duration:g} s segment"})
                continue
            start = (int(k) - 1) * clip_duration
            cid = clip_id(name, start)
            rel = f"audio/{cid}.wav"
            atomic_write_audio(out_dir / rel, fit_duration(audio, sample_rate, clip_duration).astype(np.float32), sample_rate)
            mid = "m" + m["music"]
            clips.append(Clip(id=cid, video=str(video.absolute()), audio=rel, start=float(start),
                              duration=float(clip_duration), source=mid, split="test" if split == "test" else "train",
                              genre=GENRES.get(m["genre"]), tempo=music_tempo(mid)))
    if not clips:
        detail = "; ".join(f"{s['path']}: {s['reason']}" for s in skipped[:3])
        raise DatasetError(f"{out_dir}: no segment could be prepared" + (f" ({detail})" if detail else ""))
    write_manifest(out_dir, clips, {"spec": params.spec, "kind": "aist_segments", "source_dir": str(src),
                                    "lists_dir": str(lists), "videos_dir": str(vdir), "skipped": skipped,
                                    "segment_start": "(k-1) * clip_duration (assumed; see bench/data/aist_segments.py)"})
    return read_manifest(out_dir)
