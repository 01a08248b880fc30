"""SymMV preparer: music videos (downloaded by the user) + their own audio → 10 s clips.

Layout read (zhuole1025/SymMV, `dataset/`):

    <source_dir>/
      SymMV.csv        tab-separated, header `index  youtube_url  tonality  shazam_id`
                       (index is 5 digits, 00001…; shazam_id may be empty)
      midi/<index>.mid, chord/<index>.txt     (not needed here)
      videos/          the videos you downloaded (or give `videos_dir`), named by index:
                       00001.mp4 (or 1.mp4, .mkv, .webm …)

No video or audio is released, and no split: the reference music is each video's own audio
track, with vocals removed by the separator (default demucs, as the paper removed them).
Source = the index; rows whose URLs name the same YouTube video (the CSV has a few) share the
source of the first such row, so one video never lands in both splits.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from core.manifest import Clip
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

CSV_NAME = "SymMV.csv"
COLUMNS = ("index", "youtube_url", "tonality", "shazam_id")


def read_symmv_csv(path: Path) -> list[dict]:
    """Rows of SymMV.csv as dicts (index kept as the 5-digit string); errors name the line."""
    if not path.is_file():
        raise DatasetError(f"{path}: {CSV_NAME} not found; it is in the SymMV repository's dataset/ folder "
                           "(github.com/zhuole1025/SymMV)")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: unreadable {CSV_NAME} ({exc})") from exc
    lines = text.splitlines()
    if not lines:
        raise DatasetError(f"{path}: empty file; expected a tab-separated header ({', '.join(COLUMNS)}) and rows")
    header = [h.strip() for h in lines[0].split("\t")]
    if header[:2] != ["index", "youtube_url"]:
        raise DatasetError(f"{path}, line 1: header {header!r} is not SymMV's; expected tab-separated columns "
                           f"{', '.join(COLUMNS)}")
    rows, seen = [], set()
    for no, fields in enumerate(csv.reader(lines[1:], delimiter="\t"), 2):
        if not fields or all(not f.strip() for f in fields):
            continue
        if len(fields) < 2 or len(fields) > len(header):
            raise DatasetError(f"{path}, line {no}: {len(fields)} tab-separated fields, expected "
                               f"2 to {len(header)} ({', '.join(header)})")
        row = dict(zip(header, (f.strip() for f in fields)))
        if not re.fullmatch(r"\d+", row["index"]):
            raise DatasetError(f"{path}, line {no}: index {row['index']!r} is not a number")
        if row["index"] in seen:
            raise DatasetError(f"{path}, line {no}: index {row['index']} appears twice")
        seen.add(row["index"])
        rows.append(row)
    if not rows:
        raise DatasetError(f"{path}: no rows after the header")
    return rows


def video_key(url: str) -> str:
    """A URL's video identity (YouTube `v=` id or youtu.be path; otherwise the URL itself)."""
    u = url.strip()
    m = re.search(r"(?:[?&]v=|youtu\.be/|/shorts/|/embed/)([A-Za-z0-9_-]{6,})", u)
    if m:
        return "yt:" + m[1]
    return u.split("#", 1)[0].rstrip("/").lower()


def prepare_symmv(params: PrepareParams, options: MusicVideoOptions) -> list[Clip]:
    check_split_mode(options.split, ("grouped",))  # SymMV publishes no split
    src = require_dir(options.source_dir, "SymMV folder", "source_dir")
    rows = read_symmv_csv(src / CSV_NAME)
    vdir = require_dir(options.videos_dir if options.videos_dir is not None else src / "videos",
                       "SymMV videos folder", "videos_dir")

    first_of: dict[str, str] = {}
    source_of: dict[int, str] = {}
    index_of: dict[int, str] = {}
    for r in rows:
        key = video_key(r["youtube_url"]) if r.get("youtube_url") else "row:" + r["index"]
        source_of[int(r["index"])] = first_of.setdefault(key, r["index"])
        index_of[int(r["index"])] = r["index"]

    found, skipped = numbered_videos(vdir, "SymMV index")
    if not found:
        raise DatasetError(f"{vdir}: no video named by a SymMV index (expected 00001.mp4 …)")
    items = []
    for n, path in sorted(found.items()):
        if n not in index_of:
            skipped.append({"path": str(path), "reason": f"index {n} is not in {src / CSV_NAME}"})
            continue
        items.append(Item(name=index_of[n], video=path.absolute(), source=source_of[n]))
    if not items:
        raise DatasetError(f"{vdir}: none of the videos has an index listed in {src / CSV_NAME}")
    missing = sorted(index_of[n] for n in index_of if n not in found)
    items = limit_items(items, options.limit)
    return prepare_items(
        params, options, items, kind="symmv", assign_split=grouped(options.test_fraction, params.seed), skipped=skipped,
        extra_info={"source_dir": str(src), "videos_dir": str(vdir), "csv_rows": len(rows),
                    "rows_without_video": len(missing), "rows_without_video_first": missing[:20],
                    "shared_sources": {index_of[n]: s for n, s in source_of.items() if s != index_of[n]}},
    )
