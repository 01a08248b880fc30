"""The loop every real-dataset preparer shares: (video, music) pairs → protocol clips.

A preparer lists its `Item`s (one per video file: the video, where its music comes from, the
source it belongs to, metadata) and hands them to `cut_items`, which for each item

1. probes the video (PyAV) and reads the music: a separate file (AIST++) or the video's own
   audio track (SymMV, BGM909), decoded with PyAV and aligned to the video's start;
2. removes vocals with the configured separator (on the whole track, once);
3. mixes down to mono and resamples to the dataset rate;
4. cuts whole windows inside both media (`cutting.window_starts`), discards windows with a
   prolonged silence (`cutting.is_silent`; never cuts silence out) and writes the others to
   `audio/<clip_id>.wav`.

A bad media file is skipped with its reason (kept in dataset.json under "skipped"); the
preparation only fails when nothing usable is left. Each finished item is recorded under
`.items/<spec hash>/<item>.json` (kept after the preparation), so an interrupted preparation
resumes where it stopped, and a forced rebuild (`bench data prepare --force`, made beside the old
dataset) reuses every item whose inputs and audio settings did not change instead of cutting
and separating it again. Separated tracks are also kept in the cache, keyed by the music file's
bytes and the separator, so another dataset name or a new split never separates a track twice.

A video is checked to decode to the end of every clip cut from it (a seek and decode of the
clip's last second): a truncated file whose header claims more gives only the clips it can
show, and the rest is listed as skipped.

Video paths are stored absolute (the user's download is not copied: SymMV alone is 76 h of
video; symlinks would break just as absolute paths do when the download moves, and not at all
on some file systems). The prepared audio is stored relative to the dataset folder.
"""

from __future__ import annotations

import contextvars
import dataclasses
import hashlib
import json
import os
import re
import shutil
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from core.split import grouped_split
from core.atomic import atomic_path, remove_stale_temps
from bench.data import cutting
from bench.data.params import MusicVideoOptions, PrepareParams
from core.manifest import INFO_NAME, MANIFEST_NAME, Clip, clip_id, read_manifest, write_manifest
from bench.data.separation import Separator, describe, make_separator
from core.errors import DatasetError, MediaError
from core.media import atomic_write_audio, decode_audio_track, probe_video, reaches, read_audio, resample, to_mono
from core.media.video import not_reached

AUDIO_DIR = "audio"
ITEMS_DIR = ".items"
PARTIAL_DIR = ".partial"  # the name older versions used (removed on finishing)
#: the dataset folder a forced rebuild replaces: its finished items are reused where they match
REUSE_FROM: contextvars.ContextVar[Path | None] = contextvars.ContextVar("REUSE_FROM", default=None)
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".mov", ".m4v", ".avi", ".flv")
AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".ogg")
# An own audio track may end a little before the picture (codec frames); more than this means a
# broken or truncated file, which is skipped.
MAX_AUDIO_SHORTFALL = 1.0


@dataclass(frozen=True)
class Item:
    """One video of a dataset, before cutting."""

    name: str  # unique within the dataset: clip ids are `<name>__<start_ms>`
    video: Path
    source: str  # the split group (music id, song id)
    music: Path | None = None  # a separate music file; None: the video's own audio track
    genre: str | None = None
    tempo: float | None = None
    caption: str | None = None
    keypoints: str | None = None
    # Maximum allowed (video - audio) duration; None: cut inside both, whatever their lengths.
    max_audio_shortfall: float | None = MAX_AUDIO_SHORTFALL


@dataclass
class CutResult:
    clips: list[Clip] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    discarded_silent: int = 0
    warnings: list[str] = field(default_factory=list)
    videos: int = 0  # items that gave at least one clip


# -- media --------------------------------------------------------------------------------------

def find_media(folder: Path, extensions: Iterable[str]) -> list[Path]:
    """Files of `folder` (not recursive) with one of the extensions, sorted by name."""
    exts = {e.lower() for e in extensions}
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in exts
                  and not p.name.startswith("."))


def numbered_videos(folder: Path, what: str) -> tuple[dict[int, Path], list[dict]]:
    """Videos named by a number (`00001.mp4`, `1.mkv`, `001.webm`): {number: path}.

    Files with another name, and second files for the same number, are returned as skips.
    """
    found: dict[int, Path] = {}
    skipped: list[dict] = []
    for p in find_media(folder, VIDEO_EXTENSIONS):
        if not re.fullmatch(r"\d+", p.stem):
            skipped.append({"path": str(p), "reason": f"not named by a {what} (expected e.g. 00001{p.suffix})"})
            continue
        n = int(p.stem)
        if n in found:
            skipped.append({"path": str(p), "reason": f"a second video for {what} {n} (kept {found[n].name})"})
            continue
        found[n] = p
    return found, skipped


def require_dir(path: str | os.PathLike | None, what: str, param: str) -> Path:
    if path is None or str(path).strip() in ("", "None", "null", "???"):
        raise DatasetError(f"{what}: no folder given; set dataset.params.{param}=/path/to/it "
                           "(see README, 'Real datasets')")
    p = Path(os.path.expanduser(str(path)))
    if not p.exists():
        raise DatasetError(f"{p}: {what} not found (dataset.params.{param}); see README, 'Real datasets'")
    if not p.is_dir():
        raise DatasetError(f"{p}: {what} must be a folder (dataset.params.{param})")
    return p.absolute()


def _to_mono_rate(audio: np.ndarray, sr: int, sample_rate: int) -> np.ndarray:
    return resample(to_mono(audio), sr, sample_rate)


class _TrackCache:
    """The last few prepared music tracks (AIST++: many videos share one music file)."""

    def __init__(self, size: int = 2):
        self.size, self.data = size, OrderedDict()

    def get(self, key, make):
        if key in self.data:
            self.data.move_to_end(key)
            return self.data[key]
        value = make()
        self.data[key] = value
        while len(self.data) > self.size:
            self.data.popitem(last=False)
        return value


# -- the loop -----------------------------------------------------------------------------------

def cut_items(
    out_dir: str | os.PathLike,
    items: list[Item],
    *,
    sample_rate: int,
    clip_duration: float,
    hop: float | None = None,
    separator: Separator,
    max_silence: float | None = 2.0,
    silence_db: float = -50.0,
    checkpoint_key: str | None = None,
    desc: str = "videos",
) -> CutResult:
    """Cut every item into clips (see the module doc). Items are processed sorted by
    (source, name) so consecutive items share their music; the result does not depend on it."""
    from tqdm.auto import tqdm

    out_dir = Path(out_dir)
    audio_dir = out_dir / AUDIO_DIR
    audio_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(audio_dir)
    # The folder stops being a prepared dataset until this preparation finishes: an older
    # manifest must never describe audio that is being rewritten under the same clip ids.
    for name in (MANIFEST_NAME, INFO_NAME):
        (out_dir / name).unlink(missing_ok=True)
    ckpt_dir = out_dir / ITEMS_DIR / checkpoint_key if checkpoint_key else None
    reuse = REUSE_FROM.get()
    reuse_dir = reuse / ITEMS_DIR / checkpoint_key if reuse is not None and checkpoint_key else None
    cache = _TrackCache()
    result = CutResult()
    per_item: dict[str, dict] = {}
    for item in tqdm(sorted(items, key=lambda i: (i.source, i.name)), desc=desc, unit="video", disable=None):
        done = _load_checkpoint(ckpt_dir, item, out_dir)
        if done is None and reuse_dir is not None:
            done = _reuse_checkpoint(reuse_dir, reuse, item, out_dir)
            if done is not None:
                _save_checkpoint(ckpt_dir, item, done)
        if done is None:
            done = _cut_one(item, out_dir, cache, sample_rate=sample_rate, clip_duration=clip_duration, hop=hop,
                            separator=separator, max_silence=max_silence, silence_db=silence_db)
            _save_checkpoint(ckpt_dir, item, done)
        per_item[item.name] = done
    for name in sorted(per_item):  # a deterministic order, whatever the processing order
        done = per_item[name]
        result.clips.extend(Clip(**c) for c in done["clips"])
        result.skipped.extend(done["skipped"])
        result.warnings.extend(done["warnings"])
        result.discarded_silent += done["discarded_silent"]
        result.videos += bool(done["clips"])
    return result


def _cut_one(item: Item, out_dir: Path, cache: _TrackCache, *, sample_rate, clip_duration, hop, separator,
             max_silence, silence_db) -> dict:
    done: dict[str, Any] = {"clips": [], "skipped": [], "warnings": [], "discarded_silent": 0}
    try:
        info = probe_video(item.video)
        if not info.duration > 0:
            raise MediaError(item.video, "the video has no duration in its header", "re-mux or re-download it")

        def load():
            if item.music is not None:
                data, sr = read_audio(item.music)
            else:
                data, sr = decode_audio_track(item.video)
            if data.shape[0] == 0:
                raise MediaError(item.music or item.video, "the audio is empty")
            return _to_mono_rate(separator.separate(data, sr), sr, sample_rate)

        src = item.music or item.video
        if getattr(separator, "name", "none") == "none":
            audio = cache.get(src, load)
        else:  # separation is the expensive step: kept in the cache, keyed by the file's bytes
            from core.cache import Cache

            audio = cache.get(src, lambda: Cache().get_or_compute(
                "separated", {"separator": describe(separator), "sample_rate": sample_rate}, [src],
                lambda: {"audio": load()})["audio"])
    except MediaError as exc:
        done["skipped"].append({"path": str(exc.path), "reason": exc.problem})
        return done
    audio_path = item.music or item.video
    audio_duration = audio.shape[0] / sample_rate
    shortfall = info.duration - audio_duration
    if item.max_audio_shortfall is not None and shortfall > item.max_audio_shortfall:
        done["skipped"].append({"path": str(audio_path), "reason": (
            f"the audio is {audio_duration:.2f} s, shorter than the video's {info.duration:.2f} s; expected "
            "an audio track covering the video (truncated download?)")})
        return done
    if shortfall > MAX_AUDIO_SHORTFALL:
        done["warnings"].append(f"{audio_path}: {audio_duration:.2f} s of music for {info.duration:.2f} s of "
                                f"video {item.video.name}; clips are cut only where both exist")
    if cutting.longest_silence(audio, sample_rate, silence_db) * sample_rate >= audio.shape[0] - 1:
        done["skipped"].append({"path": str(audio_path), "reason": (
            f"the audio is silent (below {silence_db} dBFS throughout); expected music")})
        return done
    starts = cutting.window_starts(info.duration, audio_duration, clip_duration, hop)
    if not starts:
        done["skipped"].append({"path": str(item.video), "reason": (
            f"too short: video {info.duration:.2f} s, audio {audio_duration:.2f} s; no whole "
            f"{clip_duration:g} s clip fits in both")})
        return done
    truncated = None
    for start in starts:
        ok, last = reaches(item.video, start + clip_duration, info.fps)
        if not ok:  # a header that claims more than the file holds: keep only what decodes
            truncated = (start, last)
            break
        seg = cutting.cut(audio, sample_rate, start, clip_duration)
        if cutting.is_silent(seg, sample_rate, max_silence, silence_db):
            done["discarded_silent"] += 1
            continue
        cid = clip_id(item.name, start)
        rel = f"{AUDIO_DIR}/{cid}.wav"
        atomic_write_audio(out_dir / rel, seg, sample_rate)
        clip = Clip(id=cid, video=str(item.video), audio=rel, start=float(start), duration=float(clip_duration),
                    source=item.source, genre=item.genre, tempo=item.tempo, caption=item.caption,
                    keypoints=item.keypoints)
        done["clips"].append({k: v for k, v in dataclasses.asdict(clip).items() if k != "root"})
    if truncated is not None:
        start, last = truncated
        done["skipped"].append({"path": str(item.video), "reason": (
            f"{not_reached(start + clip_duration, last, info.duration)} (truncated download?); clips from "
            f"{start:.2f} s on were not kept")})
    return done


def _ckpt_path(ckpt_dir: Path, item: Item) -> Path:
    return ckpt_dir / f"{item.name}.json"


def _load_checkpoint(ckpt_dir: Path | None, item: Item, out_dir: Path) -> dict | None:
    if ckpt_dir is None:
        return None
    path = _ckpt_path(ckpt_dir, item)
    if not path.exists():
        return None
    try:
        done = json.loads(path.read_text())
        if done.get("item") != _item_key(item):
            return None
        if all((out_dir / c["audio"]).exists() for c in done["clips"]):
            return done
    except Exception:
        pass
    return None


def _reuse_checkpoint(ckpt_dir: Path, old_root: Path, item: Item, out_dir: Path) -> dict | None:
    """An item the dataset being rebuilt already finished with the same inputs and settings:
    its clips' audio is linked (or copied) into the new build."""
    done = _load_checkpoint(ckpt_dir, item, old_root)
    if done is None:
        return None
    for c in done["clips"]:
        src, dst = old_root / c["audio"], out_dir / c["audio"]
        if dst.exists():
            continue
        with atomic_path(dst, expected_size=src.stat().st_size) as tmp:
            tmp.unlink()
            try:
                os.link(src, tmp)
            except OSError:
                shutil.copyfile(src, tmp)
    return done


def _save_checkpoint(ckpt_dir: Path | None, item: Item, done: dict) -> None:
    if ckpt_dir is None:
        return
    with atomic_path(_ckpt_path(ckpt_dir, item)) as tmp:
        tmp.write_text(json.dumps({**done, "item": _item_key(item)}, default=str))


def _item_key(item: Item) -> dict:
    key = {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(item).items()}
    for p in (item.video, item.music):
        if p is not None and p.exists():
            st = p.stat()
            key[f"stat:{p.name}"] = [st.st_size, int(st.st_mtime)]
    return json.loads(json.dumps(key, default=str))


def spec_key(params: dict) -> str:
    """A short hash of what determines the prepared audio (for the resume checkpoints)."""
    blob = json.dumps(params, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


# -- finishing ----------------------------------------------------------------------------------

def finish(out_dir: str | os.PathLike, clips: list[Clip], info: dict[str, Any]) -> list[Clip]:
    """Write the manifest, drop prepared audio no clip uses and the checkpoints; read back."""
    out_dir = Path(out_dir)
    if not clips:
        reasons = info.get("skipped") or []
        detail = "; ".join(f"{s['path']}: {s['reason']}" for s in reasons[:5])
        more = f" (and {len(reasons) - 5} more)" if len(reasons) > 5 else ""
        silent = info.get("discarded_silent") or 0
        raise DatasetError(
            f"{out_dir}: the dataset came out empty: no clip was kept from "
            f"{info.get('videos_found', 0)} video(s)"
            + (f", {silent} clip(s) discarded as silent" if silent else "")
            + (f". Skipped: {detail}{more}" if detail else "")
        )
    write_manifest(out_dir, clips, info)
    keep = {Path(c.audio).name for c in clips}
    audio_dir = out_dir / AUDIO_DIR
    for p in audio_dir.glob("*.wav"):
        if p.name not in keep:
            p.unlink(missing_ok=True)
    shutil.rmtree(out_dir / PARTIAL_DIR, ignore_errors=True)
    key = info.get("items_key")
    items_root = out_dir / ITEMS_DIR
    if items_root.is_dir():  # keep this build's item records (a rebuild reuses them), drop older ones
        for d in items_root.iterdir():
            if d.name != key:
                shutil.rmtree(d, ignore_errors=True)
    return read_manifest(out_dir)


def prepare_items(
    params: PrepareParams,
    options: MusicVideoOptions,
    items: list[Item],
    *,
    kind: str,
    assign_split,
    skipped: list[dict] | None = None,
    extra_info: dict | None = None,
) -> list[Clip]:
    """Cut `items` as `options` say (hop, separator, silence), assign splits with
    `assign_split(clips) -> (clips, split_info)`, write to `params.out_dir`."""
    out_dir, sample_rate, clip_duration = params.out_dir, params.sample_rate, params.clip_duration
    hop, max_silence, silence_db = options.hop, options.max_silence, options.silence_db
    sep = make_separator(options.separator, options.separator_weights)
    key = spec_key({"kind": kind, "sample_rate": sample_rate, "clip_duration": clip_duration, "hop": hop,
                    "separator": describe(sep), "max_silence": max_silence, "silence_db": silence_db})
    res = cut_items(out_dir, items, sample_rate=sample_rate, clip_duration=clip_duration, hop=hop, separator=sep,
                    max_silence=max_silence, silence_db=silence_db, checkpoint_key=key, desc=kind)
    all_skipped = sorted((skipped or []) + res.skipped, key=lambda s: (s["path"], s["reason"]))
    info: dict[str, Any] = {
        "spec": params.spec,
        "items_key": key,
        "kind": kind,
        "separator": describe(sep),
        "sample_rate": sample_rate,
        "clip_duration": clip_duration,
        "hop": hop if hop is not None else clip_duration,
        "max_silence": max_silence,
        "silence_db": silence_db,
        "videos_found": len(items),
        "videos_used": res.videos,
        "skipped": all_skipped,
        "discarded_silent": res.discarded_silent,
        "warnings": res.warnings,
        **(extra_info or {}),
    }
    if not res.clips:
        return finish(out_dir, [], info)
    clips, split_info = assign_split(res.clips)
    info["split"] = split_info
    info["clips"] = len(clips)
    return finish(out_dir, clips, info)


def grouped(test_fraction: float, seed: int):
    """`assign_split` for a seeded 9:1 split grouped by source."""
    def assign(clips: list[Clip]):
        if len({c.source for c in clips}) < 2:
            raise DatasetError(f"a grouped split needs clips from at least 2 sources; only "
                               f"{sorted({c.source for c in clips})} gave clips")
        out = grouped_split(clips, test_fraction=test_fraction, seed=seed)
        return out, {"mode": "grouped", "test_fraction": test_fraction, "seed": seed}

    return assign


def check_split_mode(split: str, allowed=("grouped", "official")) -> str:
    if split not in allowed:
        raise DatasetError(f"split must be one of {', '.join(allowed)}; got {split!r}")
    return split


def limit_items(items: list[Item], limit: int | None) -> list[Item]:
    """`limit` items for a quick partial preparation, taken round-robin over the sources (sorted,
    then by name) so that even a small limit spans several sources and can be split; or all."""
    items = sorted(items, key=lambda i: i.name)
    if limit is None:
        return items
    if int(limit) < 1:
        raise DatasetError(f"limit must be a positive number of videos, got {limit}")
    by_source: dict[str, list[Item]] = {}
    for it in items:
        by_source.setdefault(it.source, []).append(it)
    queues = [by_source[s] for s in sorted(by_source)]
    picked: list[Item] = []
    depth = 0
    while len(picked) < int(limit) and any(depth < len(q) for q in queues):
        picked.extend(q[depth] for q in queues if depth < len(q))
        depth += 1
    return sorted(picked[: int(limit)], key=lambda i: i.name)
