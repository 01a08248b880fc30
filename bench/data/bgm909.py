"""BGM909 preparer: music videos named by POP909 id + their own audio → 10 s clips.

Layout read (sizhelee/Diff-BGM):

    <source_dir>/                      a Diff-BGM checkout (or any folder holding the split)
      data/train_split_pnt/pop909_new.pickle   [train, val] lists of `<id>.npz` (official split)
      videos/                          the videos (or give `videos_dir`; without a videos/
                                       folder, source_dir itself), named by POP909 id:
                                       001.mp4 … 909.mp4 (or 1.mp4, .mkv, .webm …)

No list of the raw videos is published: the reference music is each video's own audio track,
vocals removed by the separator (default demucs). Source = the POP909 id. `split="official"`
makes Diff-BGM's validation list the test split (ids in neither list go to train; they are
counted in dataset.json); otherwise a seeded grouped 9:1 split.
"""

from __future__ import annotations

import io
import os
import pickle
import re
from dataclasses import dataclass
from pathlib import Path

from core.manifest import Clip
from core.split import official_split
from bench.data.params import MusicVideoOptions, PrepareParams
from bench.data.videoaudio import (
    Item,
    check_split_mode,
    grouped,
    limit_items,
    numbered_videos,
    prepare_items,
    require_dir,
)
from core.errors import DatasetError

SPLIT_FILE = "data/train_split_pnt/pop909_new.pickle"


class _DataOnlyUnpickler(pickle.Unpickler):
    """Lists, tuples, dicts and strings only: loading never runs code from the file."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}: expected plain lists of strings")


def read_split_pickle(path: Path) -> tuple[list[str], list[str]]:
    """Diff-BGM's split: ([train ids], [val ids]) as 3-digit POP909 ids."""
    expected = "a pickled [train, val] pair of lists of '<id>.npz' names (e.g. '001.npz')"
    if not path.is_file():
        raise DatasetError(f"{path}: BGM909 split file not found; it is {SPLIT_FILE} in the Diff-BGM repository "
                           "(github.com/sizhelee/Diff-BGM); or use dataset.params.split=grouped")
    try:
        data = _DataOnlyUnpickler(io.BytesIO(path.read_bytes())).load()
    except Exception as exc:
        raise DatasetError(f"{path}: unreadable pickle ({type(exc).__name__}: {exc}); expected {expected}") from exc
    if not isinstance(data, (list, tuple)) or len(data) < 2 or not all(isinstance(p, (list, tuple)) for p in data[:2]):
        raise DatasetError(f"{path}: holds {type(data).__name__}; expected {expected}")
    out = []
    for part in data[:2]:
        ids = []
        for entry in part:
            m = re.fullmatch(r"(?:.*/)?(\d+)(?:\.npz)?", str(entry)) if isinstance(entry, str) else None
            if not m:
                raise DatasetError(f"{path}: entry {entry!r} is not '<id>.npz'; expected {expected}")
            ids.append(f"{int(m[1]):03d}")
        out.append(ids)
    overlap = set(out[0]) & set(out[1])
    if overlap:
        raise DatasetError(f"{path}: ids {sorted(overlap)[:5]} are in both the train and the val list")
    return out[0], out[1]


@dataclass(frozen=True)
class BGM909Options(MusicVideoOptions):
    """BGM909's options (bench/conf/dataset/bgm909.yaml, `params`): the shared ones, and Diff-BGM's
    split file for `split="official"`."""

    split_file: str | os.PathLike | None = None  # default: <source_dir>/data/train_split_pnt/pop909_new.pickle


def prepare_bgm909(params: PrepareParams, options: BGM909Options) -> list[Clip]:
    split = check_split_mode(options.split)
    src = require_dir(options.source_dir, "BGM909 folder", "source_dir")
    split_file, videos_dir = options.split_file, options.videos_dir
    official = None
    if split == "official":
        official = read_split_pickle(Path(split_file) if split_file else src / SPLIT_FILE)
    if videos_dir is None:  # videos/ beside the split, or the videos right in source_dir
        videos_dir = src / "videos" if (src / "videos").is_dir() else src
    vdir = require_dir(videos_dir, "BGM909 videos folder", "videos_dir")

    found, skipped = numbered_videos(vdir, "POP909 id")
    items = []
    for n, path in sorted(found.items()):
        if not 1 <= n <= 909:
            skipped.append({"path": str(path), "reason": f"{n} is not a POP909 id (001-909)"})
            continue
        items.append(Item(name=f"{n:03d}", video=path.absolute(), source=f"{n:03d}"))
    if not items:
        raise DatasetError(f"{vdir}: no video named by a POP909 id (expected 001.mp4 … 909.mp4)")
    items = limit_items(items, options.limit)

    if official is not None:
        train_ids, test_ids = official
        split_path = str(Path(split_file) if split_file else src / SPLIT_FILE)

        def assign(clips: list[Clip]):
            out = official_split(clips, set(test_ids))
            if not any(c.split == "test" for c in out):
                raise DatasetError(f"{split_path}: none of its val ids has a usable video in {vdir}")
            listed = set(train_ids) | set(test_ids)
            return out, {"mode": "official", "file": split_path, "train_ids": len(train_ids),
                         "test_ids": len(test_ids),
                         "unlisted_sources_in_train": sorted({c.source for c in out if c.source not in listed})}
    else:
        assign = grouped(options.test_fraction, params.seed)
    return prepare_items(
        params, options, items, kind="bgm909", assign_split=assign, skipped=skipped,
        extra_info={"source_dir": str(src), "videos_dir": str(vdir)},
    )
