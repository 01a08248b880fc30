"""Dataset statistics (Table 5) and the media check."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import soundfile as sf

from bench.data.bgm909 import BGM909Options, prepare_bgm909
from bench.data.params import PrepareParams
from core.manifest import Clip
from bench.data.stats import dataset_stats, validate_media


def _clip(i: int, source: str, split: str, duration: float = 10.0, video: str | None = None) -> Clip:
    return Clip(id=f"{source}__{i:07d}", video=video or f"/v/{source}.mp4", audio=f"audio/{source}{i}.wav",
                start=float(i), duration=duration, source=source, split=split)


def test_dataset_stats_counts_per_split_and_total():
    clips = [_clip(0, "a", "train"), _clip(10, "a", "train"), _clip(0, "b", "train"),
             _clip(0, "c", "test"), _clip(0, "c", "test", video="/v/c2.mp4")]
    df = dataset_stats(clips)
    assert list(df.index) == ["train", "test", "total"]
    assert df.loc["train", "clips"] == 3 and df.loc["train", "sources"] == 2 and df.loc["train", "videos"] == 2
    assert df.loc["test", "clips"] == 2 and df.loc["test", "sources"] == 1 and df.loc["test", "videos"] == 2
    assert df.loc["total", "clips"] == 5 and df.loc["total", "sources"] == 3
    assert df.loc["total", "hours"] == pytest.approx(50 / 3600)
    assert df.loc["train", "hours"] + df.loc["test", "hours"] == pytest.approx(df.loc["total", "hours"])


def test_dataset_stats_empty():
    df = dataset_stats([])
    assert list(df.index) == ["total"] and df.loc["total", "clips"] == 0


@pytest.fixture(scope="module")
def prepared(bgm909_src, tmp_path_factory):
    out = tmp_path_factory.mktemp("bgm_stats")
    return prepare_bgm909(PrepareParams(out, sample_rate=8000, clip_duration=2.0, seed=0),
                          BGM909Options(source_dir=bgm909_src, separator="none", test_fraction=0.2))


def test_validate_media_passes_on_a_prepared_dataset(prepared):
    assert validate_media(prepared, progress=False) == []


def test_validate_media_finds_each_problem(prepared, tmp_path, media):
    c0, c1, c2, c3, c4 = prepared[:5]
    silent = tmp_path / "silent.wav"
    sf.write(str(silent), np.zeros(16000, np.float32), 8000)
    short = tmp_path / "short.wav"
    sf.write(str(short), 0.3 * np.ones(4000, np.float32), 8000)
    broken_video = media.corrupt(tmp_path / "broken.mp4")
    bad = [
        dataclasses.replace(c0, start=3.0),  # the 4.5 s video does not cover [3, 5)
        dataclasses.replace(c1, audio=str(silent)),
        dataclasses.replace(c2, audio=str(short)),
        dataclasses.replace(c3, video=str(broken_video)),
        dataclasses.replace(c4, audio="audio/missing.wav", keypoints=str(tmp_path / "none.pkl")),
    ]
    problems = validate_media(bad, progress=False)
    text = "\n".join(str(p) for p in problems)
    assert len(problems) == 6, text
    assert any("video ends at" in p.problem and p.clip_id == c0.id for p in problems)
    assert any("silent" in p.problem and p.path == str(silent) for p in problems)
    assert any("0.500 s" in p.problem and p.path == str(short) for p in problems)
    assert any("cannot open video" in p.problem and p.path == str(broken_video) for p in problems)
    assert any("not found" in p.problem and p.path.endswith("audio/missing.wav") for p in problems)
    assert any("keypoints" in p.problem for p in problems)
