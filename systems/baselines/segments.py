"""AIST++ segments of D2M-GAN (2 s) and CDCD (6 s): how a clip of the `aist_d2mgan` /
`aist_cdcd` datasets maps back to the authors' own segment files.

Both repositories list their test segments as three parallel text files (audio `.wav`, I3D
video features `.npy`, motion `.npy`), one path a line, plus a genre-label array in the same
order. A clip of those datasets is named after its segment
(`gPO_sBM_c01_d11_mPO1_ch02_seg1__<start_ms>`, see bench/data/aist_segments.py), so the adapter
finds the segment's files under the user's copy of the authors' preprocessed data and its row
of the genre array.

Segment timing ([(k−1)·d, k·d) for `_seg<k>`, used by bench/data/aist_segments.py), checked
against L-YeZhu/D2M-GAN at 5dc5bbf3f83054107069f8625739c9d6b5c70705 and L-YeZhu/CDCD at
667f9c0156e68d6e884a1ad5201ae1928098b02d: neither repository has segmentation code (the
segments are their preprocessed downloads; D2M-GAN's `d2m/dataset.py` `VAMDataset` and CDCD's
`synthesis/data/aist_dataset.py` `AISTDataset` only read them and zero-pad audio shorter than
the segment). The lists fit consecutive, non-overlapping segments from 0 with a possibly partial
last one: over CDCD's 20 test sequences, `data/aist_audio_test_segment_s6.txt` has ⌈2·K₂/6⌉
segments where `data/aist_audio_test_segment.txt` has K₂ (K₂ = 4 gives 2, which floor
segmentation cannot), and the numbers run 1…K without gaps. The start times remain inferred.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.manifest import Clip
from core.errors import ConfigError, DatasetError

KINDS = ("audio", "video", "motion")
EXT = {"audio": ".wav", "video": ".npy", "motion": ".npy"}


def segment_name(clip: Clip) -> str:
    """`gPO_sBM_c01_d11_mPO1_ch02_seg1__0000000` → `gPO_sBM_c01_d11_mPO1_ch02_seg1`."""
    name = clip.id.rsplit("__", 1)[0]
    if "_seg" not in name:
        raise ConfigError(f"clip {clip.id} is not an AIST++ segment of D2M-GAN/CDCD; these baselines run only on "
                          "the aist_d2mgan / aist_cdcd datasets (bench data prepare aist_d2mgan ...)")
    return name


def read_list(path: Path) -> list[str]:
    """Segment names of an official list file, in order (the path's stem of each line)."""
    if not path.is_file():
        raise DatasetError(f"{path}: segment list not found; it is part of the baseline's repository "
                           "(run `bench systems setup <name>` or set lists_dir)")
    return [Path(line.strip()).stem for line in path.read_text().splitlines() if line.strip()]


def segment_paths(data_dir: Path, seconds: int, split: str, name: str) -> dict[str, Path]:
    """Where the authors' preprocessed files of one segment are: `<data_dir>/<kind>_s<seconds>/<split>/<name><ext>`."""
    return {k: Path(data_dir) / f"{k}_s{seconds}" / split / f"{name}{EXT[k]}" for k in KINDS}


def segment_files(data_dir: Path, seconds: int, split: str, name: str) -> dict[str, Path]:
    """The authors' preprocessed files of one segment (they must exist)."""
    files = segment_paths(data_dir, seconds, split, name)
    missing = [str(p) for p in files.values() if not p.is_file()]
    if missing:
        raise DatasetError(f"segment {name}: missing {', '.join(missing)} (the authors' preprocessed AIST++ data; "
                           "see docs/baselines.md)")
    return files


def genre_rows(genre_file: Path, order: list[str], names: list[str]) -> np.ndarray:
    """The official genre array's rows for `names` (order = the official list's segment order)."""
    genres = np.load(genre_file)
    if len(genres) != len(order):
        raise DatasetError(f"{genre_file}: {len(genres)} rows for {len(order)} listed segments")
    index = {n: i for i, n in enumerate(order)}
    missing = [n for n in names if n not in index]
    if missing:
        raise DatasetError(f"segments {missing[:3]} are not in the official list beside {genre_file}")
    return np.asarray(genres)[[index[n] for n in names]]
