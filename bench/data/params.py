"""What a dataset preparer is given: `PrepareParams`, the same for every dataset kind (where to
write, the reference audio's rate, the clip length, the split seed, the spec recorded in
dataset.json), and its own options dataclass, built from the dataset config's `params`.

Every preparer reads

    prepare_<kind>(params: PrepareParams, options: <Kind>Options) -> list[Clip]

and `bench.data.prepare` builds both once from the dataset config: the options type is the
annotation of the preparer's `options` parameter, so a `params` key the preparer does not know
is refused naming the key. The music-video datasets (AIST++, SymMV, BGM909) share
`MusicVideoOptions`: where the user's download is, how it splits, how clips are cut and cleaned.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from core.errors import ConfigError, DatasetError
from core.settings import DatasetSettings


@dataclass(frozen=True)
class PrepareParams:
    out_dir: Path  # the media and the manifest go here
    sample_rate: int  # the reference audio's rate (Hz)
    clip_duration: float  # seconds
    seed: int  # the split's seed
    spec: dict | None = None  # the content settings, recorded in dataset.json (the prepared dataset's identity)

    @classmethod
    def for_dataset(cls, dataset: DatasetSettings, out_dir: str | os.PathLike, spec: dict | None) -> "PrepareParams":
        return cls(Path(out_dir), dataset.sample_rate, dataset.clip_duration, dataset.seed, spec)


@dataclass(frozen=True)
class MusicVideoOptions:
    """The options AIST++, SymMV and BGM909 share (bench/conf/dataset/<name>.yaml, `params`)."""

    source_dir: str | os.PathLike | None = None  # the user's download (required)
    videos_dir: str | os.PathLike | None = None  # default: a videos/ folder in source_dir
    split: str = "grouped"  # grouped (seeded, by source) | official (where the dataset publishes one)
    test_fraction: float = 0.1
    hop: float | None = None  # seconds between clip starts; None: clip_duration
    separator: str = "demucs"  # vocals removed; `none` keeps them
    separator_weights: str | None = None
    max_silence: float | None = 2.0  # discard a clip with a silent stretch this long (s); None disables
    silence_db: float = -50.0  # silence level, dB relative to full scale
    limit: int | None = None  # prepare only the first N videos (a quick try)


def options_type(preparer: Callable) -> type:
    """The options dataclass a preparer takes: the annotation of its `options` parameter."""
    import typing

    kind = typing.get_type_hints(preparer).get("options")
    if kind is None or not dataclasses.is_dataclass(kind):
        raise DatasetError(f"{preparer.__module__}.{preparer.__qualname__}: a preparer is written "
                           "prepare_x(params: PrepareParams, options: XOptions) with XOptions a dataclass "
                           "(bench/data/params.py)")
    return kind


def make_options(preparer: Callable, kind: str, given: dict[str, Any]):
    """The preparer's options from a dataset config's `params` (a key it does not know is refused)."""
    cls = options_type(preparer)
    known = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ConfigError(f"dataset.params.{unknown[0]}: not an option of dataset kind {kind!r}; "
                          f"its options: {', '.join(known)}")
    return cls(**given)
