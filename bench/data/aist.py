"""AIST++ preparer: dance videos + the AIST Dance DB music → 10 s clips.

Layout read (BASELINES.md, "Datasets"; google/aistplusplus_api):

    <source_dir>/                   the AIST++ annotations, unpacked
      splits/crossmodal_{train,val,test}.txt   sequence names, one a line (`cAll` camera)
      ignore_list.txt               sequences with bad annotations
      keypoints2d/<sequence>.pkl    optional: 2D keypoints (9 views × N × 17 × 3)
      videos/                       the AIST++ videos (or give `videos_dir`, or put them right
                                    in source_dir): flat, 60 fps,
                                    g{genre}_s{BM|FM}_c{01-09}_d{dancer}_m{GG}{0-5}_ch{choreo}.mp4
      music/ or wav/                the AIST Dance DB music (or give `music_dir`): one file per
                                    music id, `mBR0.wav` … `mWA5.wav` (the "Musical pieces only
                                    (wav)" zip of https://aistdancedb.ongaaccel.jp/database_download/;
                                    naming as google-research/mint's tools/preprocessing.py reads it)

The music is aligned with the video at t = 0 (as AIST++ pairs motion frame 0 with the music's
start). `music_dir="video"` takes each video's own audio track instead. Source (the unit that
never crosses splits) = the music id: the same music recurs across dancers, sequences and
cameras. The tempo comes from the music id (AIST Dance DB: 80 + 10·k bpm, house 110 + 5·k).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from core.manifest import Clip
from core.split import official_split
from bench.data.params import MusicVideoOptions, PrepareParams
from bench.data.videoaudio import (
    AUDIO_EXTENSIONS,
    MAX_AUDIO_SHORTFALL,
    VIDEO_EXTENSIONS,
    Item,
    check_split_mode,
    find_media,
    grouped,
    limit_items,
    prepare_items,
    require_dir,
)
from core.errors import DatasetError

NAME_RE = re.compile(
    r"g(?P<genre>[A-Z]{2})_s(?P<situation>BM|FM)_c(?P<camera>\d{2}|All)_d(?P<dancer>\d{2})"
    r"_m(?P<music>[A-Z]{2}\d)_ch(?P<choreo>\d{2})"
)

GENRES = {
    "BR": "break", "PO": "pop", "LO": "lock", "MH": "middle hip-hop", "LH": "LA-style hip-hop",
    "HO": "house", "WA": "waack", "KR": "krump", "JS": "street jazz", "JB": "ballet jazz",
}

ALL_VIEWS = tuple(f"c{i:02d}" for i in range(1, 10))


def music_id(name: str) -> str:
    """`gBR_sBM_c01_d04_mBR0_ch01` → `mBR0`."""
    m = NAME_RE.fullmatch(name)
    if not m:
        raise ValueError(f"not an AIST++ name: {name}")
    return "m" + m["music"]


def sequence_name(name: str) -> str:
    """The annotation name of a video: its camera field replaced by `cAll`."""
    m = NAME_RE.fullmatch(name)
    if not m:
        raise ValueError(f"not an AIST++ name: {name}")
    return f"g{m['genre']}_s{m['situation']}_cAll_d{m['dancer']}_m{m['music']}_ch{m['choreo']}"


def music_tempo(mid: str) -> float | None:
    """The AIST Dance DB's tempo for a music id (`mBR0` → 80, `mHO5` → 135)."""
    m = re.fullmatch(r"m([A-Z]{2})(\d)", mid)
    if not m or m[1] not in GENRES:
        return None
    k = int(m[2])
    return float(110 + 5 * k) if m[1] == "HO" else float(80 + 10 * k)


def parse_views(views) -> tuple[str, ...]:
    """'c01' | 'c01,c02' | ['c01', 'c02'] | 'all' → camera names."""
    if views is None or (isinstance(views, str) and views.strip().lower() in ("all", "*")):
        return ALL_VIEWS
    items = views.split(",") if isinstance(views, str) else list(views)
    out = []
    for v in items:
        v = str(v).strip()
        if re.fullmatch(r"\d{1,2}", v):
            v = f"c{int(v):02d}"
        if v not in ALL_VIEWS:
            raise DatasetError(f"views: {v!r} is not an AIST++ camera; use c01 … c09, a comma list, or 'all'")
        out.append(v)
    if not out:
        raise DatasetError("views: no camera given; use e.g. 'c01' or 'all'")
    return tuple(sorted(set(out)))


def read_name_list(path: Path, what: str) -> list[str]:
    """A split or ignore file: one `cAll` sequence name a line (blank lines and # comments allowed)."""
    if not path.is_file():
        raise DatasetError(f"{path}: {what} not found; it is part of the AIST++ annotations "
                           "(https://google.github.io/aistplusplus_dataset/download.html)")
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: unreadable {what} ({exc})") from exc
    names = []
    for no, line in enumerate(lines, 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if not NAME_RE.fullmatch(line):
            raise DatasetError(f"{path}, line {no}: {line[:80]!r} is not an AIST++ sequence name "
                               "(expected e.g. gBR_sBM_cAll_d04_mBR0_ch01)")
        names.append(line)
    return names


def _find_dir(source_dir: Path, given, candidates: tuple[str, ...], what: str, param: str) -> Path:
    if given is not None and str(given).strip() not in ("", "None", "null"):
        return require_dir(given, what, param)
    for c in candidates:
        if (source_dir / c).is_dir():
            return (source_dir / c).absolute()
    raise DatasetError(f"{source_dir}: no {' or '.join(c + '/' for c in candidates)} folder for the {what}; "
                       f"put it there or set dataset.params.{param}=/path/to/it (see README, 'Real datasets')")


@dataclass(frozen=True)
class AistOptions(MusicVideoOptions):
    """AIST++'s options (bench/conf/dataset/aist.yaml, `params`): the shared ones, and where the
    music is (`music_dir`; "video": the videos' own audio) and which cameras (`views`)."""

    music_dir: str | os.PathLike | None = None  # default: <source_dir>/music or wav/
    separator: str = "none"  # AIST++ music has no vocals
    views: str | tuple[str, ...] | list[str] = "c01"  # c01 | c01,c02 | all


def prepare_aist(params: PrepareParams, options: AistOptions) -> list[Clip]:
    split = check_split_mode(options.split)
    src = require_dir(options.source_dir, "AIST++ folder", "source_dir")
    videos_dir, music_dir = options.videos_dir, options.music_dir
    if videos_dir is None and not any((src / c).is_dir() for c in ("videos", "video")) \
            and find_media(src, VIDEO_EXTENSIONS):
        videos_dir = src  # the videos right in source_dir
    vdir = _find_dir(src, videos_dir, ("videos", "video"), "AIST++ videos", "videos_dir")
    own_audio = music_dir is not None and str(music_dir).strip().lower() == "video"
    mdir = None if own_audio else _find_dir(src, music_dir, ("music", "wav", "musics"), "AIST Dance DB music",
                                            "music_dir")
    cams = parse_views(options.views)

    test_sequences: set[str] = set()
    if split == "official":  # read (and so validate) the annotation files before any media work
        test = read_name_list(src / "splits" / "crossmodal_test.txt", "official test split")
        for part in ("train", "val"):
            read_name_list(src / "splits" / f"crossmodal_{part}.txt", f"official {part} split")
        ignore = set(read_name_list(src / "ignore_list.txt", "ignore list"))
        test_sequences = {s for s in test if s not in ignore}
        if not test_sequences:
            raise DatasetError(f"{src / 'splits' / 'crossmodal_test.txt'}: no test sequence left after the ignore list")

    music_files: dict[str, Path] = {}
    if mdir is not None:
        for p in find_media(mdir, AUDIO_EXTENSIONS):
            music_files.setdefault(p.stem, p.absolute())

    videos = find_media(vdir, VIDEO_EXTENSIONS)
    if not videos:
        raise DatasetError(f"{vdir}: no video files ({', '.join(VIDEO_EXTENSIONS)}); expected the AIST++ videos "
                           "named like gBR_sBM_c01_d04_mBR0_ch01.mp4")
    kp_dir = src / "keypoints2d"
    skipped: list[dict] = []
    items: list[Item] = []
    for p in videos:
        m = NAME_RE.fullmatch(p.stem)
        if not m or m["camera"] == "All":
            skipped.append({"path": str(p), "reason": "not an AIST++ video name "
                            "(expected g{genre}_s{BM|FM}_c{01-09}_d{dancer}_m{GG}{0-5}_ch{choreo})"})
            continue
        if f"c{m['camera']}" not in cams:
            continue
        mid = "m" + m["music"]
        music = None
        if mdir is not None:
            music = music_files.get(mid)
            if music is None:
                skipped.append({"path": str(p), "reason": f"its music {mid}.wav is not in {mdir}"})
                continue
        seq = sequence_name(p.stem)
        kp = kp_dir / f"{seq}.pkl"
        items.append(Item(
            name=p.stem, video=p.absolute(), source=mid, music=music, genre=GENRES.get(m["genre"]),
            tempo=music_tempo(mid), keypoints=str(kp.absolute()) if kp.is_file() else None,
            max_audio_shortfall=None if mdir is not None else MAX_AUDIO_SHORTFALL,
        ))
    if not items:
        raise DatasetError(f"{vdir}: no AIST++ video for camera(s) {', '.join(cams)} with its music"
                           + (f"; skipped: {skipped[0]['path']}: {skipped[0]['reason']}" if skipped else ""))
    items = limit_items(items, options.limit)

    if split == "official":
        assign = _official(test_sequences)
    else:
        assign = grouped(options.test_fraction, params.seed)
    return prepare_items(
        params, options, items, kind="aist", assign_split=assign, skipped=skipped,
        extra_info={"source_dir": str(src), "videos_dir": str(vdir), "music_dir": str(mdir) if mdir else "video",
                    "views": list(cams)},
    )


def _official(test_sequences: set[str]):
    """crossmodal_test (less the ignore list) is the test split. Other sequences that use a test
    music are left out (they would carry the test music into training); the rest is train."""

    def assign(clips: list[Clip]):
        seq = {c.id: sequence_name(c.id.rsplit("__", 1)[0]) for c in clips}
        test_music = {music_id(s) for s in test_sequences}
        kept = [c for c in clips if c.source not in test_music or seq[c.id] in test_sequences]
        kept_ids = {c.id for c in kept}
        excluded = sorted({seq[c.id] for c in clips if c.id not in kept_ids})
        out = official_split(kept, test_music)
        if not any(c.split == "test" for c in out):
            raise DatasetError("official split: none of the crossmodal_test sequences gave a clip "
                               "(their videos are missing, too short or silent)")
        if not any(c.split == "train" for c in out):
            raise DatasetError("official split: no training clip left outside the crossmodal_test musics")
        return out, {"mode": "official", "test_sequences": len(test_sequences),
                     "test_sequences_used": len({seq[c.id] for c in out if c.split == "test"}),
                     "excluded_sequences_sharing_test_music": excluded}

    return assign
