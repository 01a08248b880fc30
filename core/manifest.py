"""The clip manifest (DESIGN.md §3): one Parquet row per clip, media paths relative to the
dataset folder so a prepared dataset can be moved as a whole."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from core.atomic import atomic_path
from core.errors import DatasetError

MANIFEST_NAME = "manifest.parquet"
INFO_NAME = "dataset.json"


@dataclass(frozen=True)
class Clip:
    """One protocol clip: `duration` seconds of `video` from `start`, with its reference music.

    `audio` is the prepared reference track, already cut to the clip (its own t=0 is the clip's
    start) while `video` is the source video, of which the clip spans [start, start+duration).
    `source` is the unit that never crosses splits (AIST++ music id, video/song id elsewhere).
    """

    id: str
    video: str
    audio: str
    start: float
    duration: float
    source: str
    split: str = "train"
    genre: str | None = None
    tempo: float | None = None
    caption: str | None = None
    keypoints: str | None = None
    root: str = field(default="", compare=False, repr=False)

    def path(self, attr: str) -> Path:
        """Absolute path of a media attribute ('video', 'audio', 'keypoints')."""
        value = getattr(self, attr)
        if value is None:
            raise DatasetError(f"clip {self.id} has no {attr}")
        p = Path(value)
        return p if p.is_absolute() else Path(self.root) / p

    @property
    def video_path(self) -> Path:
        return self.path("video")

    @property
    def audio_path(self) -> Path:
        return self.path("audio")


COLUMNS = [f.name for f in fields(Clip) if f.name != "root"]


def clip_id(source_name: str, start: float) -> str:
    """Stable id `<source>__<start_ms>` (DESIGN.md §3)."""
    return f"{source_name}__{int(round(start * 1000)):07d}"


def write_manifest(folder: str | Path, clips: list[Clip], info: dict) -> Path:
    """Write `manifest.parquet` and `dataset.json` (the preparer's config and facts) atomically."""
    import pandas as pd

    folder = Path(folder)
    ids = [c.id for c in clips]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise DatasetError(f"{folder}: duplicate clip ids {dup[:5]}")
    df = pd.DataFrame([{k: v for k, v in asdict(c).items() if k != "root"} for c in clips], columns=COLUMNS)
    with atomic_path(folder / INFO_NAME) as tmp:
        tmp.write_text(json.dumps(info, indent=2, sort_keys=True, default=str))
    with atomic_path(folder / MANIFEST_NAME) as tmp:
        df.to_parquet(tmp, index=False)
    return folder / MANIFEST_NAME


def read_manifest(folder: str | Path) -> list[Clip]:
    import pyarrow.parquet as pq  # not pandas: reading stays cheap for a resumed run

    folder = Path(folder)
    path = folder / MANIFEST_NAME
    if not path.exists():
        raise DatasetError(f"{path}: no manifest; prepare the dataset first (`bench data prepare <name>`)")
    try:
        table = pq.read_table(path)
    except Exception as exc:
        raise DatasetError(f"{path}: unreadable manifest ({exc}); delete it and prepare the dataset again") from exc
    missing = [c for c in ("id", "video", "audio", "start", "duration", "source", "split") if c not in table.column_names]
    if missing:
        raise DatasetError(f"{path}: manifest lacks columns {missing}")
    clips = []
    for row in table.to_pylist():
        row = {k: (None if _is_na(v) else v) for k, v in row.items() if k in COLUMNS}
        clips.append(Clip(**row, root=str(folder)))
    return clips


def read_info(folder: str | Path) -> dict:
    path = Path(folder) / INFO_NAME
    return json.loads(path.read_text()) if path.exists() else {}


def _is_na(v) -> bool:
    try:
        return v != v  # NaN
    except Exception:
        return False
