"""The real-dataset preparers on miniature official layouts (see conftest.py)."""

from __future__ import annotations

import dataclasses
import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from bench.data.aist import AistOptions, music_id, music_tempo, parse_views, prepare_aist, sequence_name
from bench.data.bgm909 import BGM909Options, prepare_bgm909
from bench.data.params import MusicVideoOptions, PrepareParams, make_options, options_type
from core.manifest import read_info, read_manifest
from bench.data.symmv import prepare_symmv, video_key
from core.errors import ConfigError, DatasetError

CLIP = 2.0  # as in conftest.py
OUT_SR = 8000


def params(out_dir, spec=None) -> PrepareParams:
    return PrepareParams(Path(out_dir), OUT_SR, CLIP, 0, spec)


def _check_clips(clips, out_dir: Path):
    """Invariants every prepared dataset satisfies."""
    assert clips, "no clips"
    ids = [c.id for c in clips]
    assert len(ids) == len(set(ids))
    train = {c.source for c in clips if c.split == "train"}
    test = {c.source for c in clips if c.split == "test"}
    assert train and test and not (train & test), "a source crosses the splits"
    for c in clips:
        assert c.duration == CLIP
        assert c.id.endswith(f"__{int(round(c.start * 1000)):07d}")
        assert Path(c.video).is_absolute() and c.video_path.exists()
        assert not Path(c.audio).is_absolute() and c.audio_path.parent == out_dir / "audio"
        data, sr = sf.read(str(c.audio_path), always_2d=True)
        assert sr == OUT_SR and data.shape == (int(CLIP * OUT_SR), 1)
    # the folder holds exactly the clips' audio
    assert sorted(p.name for p in (out_dir / "audio").iterdir()) == sorted(f"{c.id}.wav" for c in clips)
    assert not (out_dir / ".partial").exists()


# -- AIST++ ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def aist_grouped(aist_src, tmp_path_factory):
    out = tmp_path_factory.mktemp("aist_grouped")
    return out, prepare_aist(params(out, spec={"k": 1}), AistOptions(source_dir=aist_src, test_fraction=0.3))


def test_aist_grouped_clips_ids_sources_and_paths(aist_grouped, aist_src):
    out, clips = aist_grouped
    _check_clips(clips, out)
    names = {c.id.rsplit("__", 1)[0] for c in clips}
    assert all("_c01_" in n for n in names)  # default view c01 only
    assert "gBR_sBM_c01_d04_mBR0_ch01__0002000" in {c.id for c in clips}
    for c in clips:
        name = c.id.rsplit("__", 1)[0]
        assert c.source == music_id(name)
        assert c.video == str(aist_src / "videos" / f"{name}.mp4")
        assert c.start in (0.0, 2.0)
        assert c.tempo == music_tempo(c.source)
    br = [c for c in clips if c.source == "mBR0" and "sBM" in c.id]
    assert br and all(c.genre == "break" for c in br)
    assert all(c.keypoints == str(aist_src / "keypoints2d" / "gBR_sBM_cAll_d04_mBR0_ch01.pkl") for c in br)
    assert all(c.keypoints is None for c in clips if "d04_mBR0_ch01" not in c.id)
    info = read_info(out)
    assert info["spec"] == {"k": 1} and info["split"]["mode"] == "grouped"
    assert not any("ignore_me" in s["path"] for s in info["skipped"])  # other files are not media


def test_aist_reference_audio_is_the_music_window(aist_grouped, aist_src):
    from core.media import load_audio

    _, clips = aist_grouped
    c = next(c for c in clips if c.id == "gPO_sBM_c01_d10_mPO1_ch01__0002000")
    want = load_audio(aist_src / "music" / "mPO1.wav", OUT_SR)[int(2.0 * OUT_SR):int(4.0 * OUT_SR)]
    got, _ = sf.read(str(c.audio_path), dtype="float32")
    assert np.allclose(got, want, atol=1e-4)


def test_aist_silent_clip_discarded_and_loud_one_kept(aist_grouped):
    out, clips = aist_grouped
    ho = sorted(c.id for c in clips if c.source == "mHO5")
    assert ho == ["gHO_sFM_c01_d20_mHO5_ch03__0000000"]  # [2, 4) s of its music is silent
    assert read_info(out)["discarded_silent"] == 1


def test_aist_official_split_honoured(aist_src, tmp_path):
    clips = prepare_aist(params(tmp_path), AistOptions(source_dir=aist_src, split="official"))
    _check_clips(clips, tmp_path)
    test_names = {c.id.rsplit("__", 1)[0] for c in clips if c.split == "test"}
    assert test_names == {"gBR_sBM_c01_d04_mBR0_ch01"}  # the ignored gJS test sequence is not test
    assert not any("gBR_sFM_c01_d05_mBR0_ch02" in c.id for c in clips)  # shares the test music: left out
    assert any(c.source == "mJS3" and c.split == "train" for c in clips)
    info = read_info(tmp_path)["split"]
    assert info["mode"] == "official" and info["test_sequences"] == 1
    assert info["excluded_sequences_sharing_test_music"] == ["gBR_sFM_cAll_d05_mBR0_ch02"]


def test_aist_views_hop_and_limit(aist_src, tmp_path):
    clips = prepare_aist(params(tmp_path), AistOptions(source_dir=aist_src, views="all", hop=1.0, max_silence=None,
                                                       test_fraction=0.3))
    names = {c.id.rsplit("__", 1)[0] for c in clips}
    assert "gBR_sBM_c02_d04_mBR0_ch01" in names
    starts = sorted(c.start for c in clips if c.id.startswith("gPO_"))
    assert starts == [0.0, 1.0, 2.0]  # whole 2 s windows, 1 s apart, inside 4.5 s of video
    small = prepare_aist(params(tmp_path / "small"), AistOptions(source_dir=aist_src, limit=2))
    assert len({c.id.rsplit("__", 1)[0] for c in small}) == 2


def test_aist_deterministic(aist_src, aist_grouped, tmp_path):
    _, clips = aist_grouped
    again = prepare_aist(params(tmp_path, spec={"k": 1}), AistOptions(source_dir=aist_src, test_fraction=0.3))
    strip = lambda cs: [(c.id, c.split, c.source, c.start) for c in cs]  # noqa: E731
    assert strip(again) == strip(clips)
    for a, b in zip(again, clips):  # (not the bytes: libsndfile stamps float WAVs with a time)
        assert np.array_equal(sf.read(str(a.audio_path))[0], sf.read(str(b.audio_path))[0])


def test_aist_music_missing_is_skipped_with_reason(aist_src, tmp_path, media):
    src = tmp_path / "copy"
    shutil.copytree(aist_src, src)
    (src / "music" / "mLO2.wav").unlink()
    media.corrupt(src / "videos" / "gPO_sBM_c01_d10_mPO1_ch01.mp4")
    clips = prepare_aist(params(tmp_path / "out"), AistOptions(source_dir=src, test_fraction=0.3))
    assert not any(c.source in ("mLO2", "mPO1") for c in clips)
    skipped = {Path(s["path"]).name: s["reason"] for s in read_info(tmp_path / "out")["skipped"]}
    assert "mLO2.wav" in skipped["gLO_sBM_c01_d13_mLO2_ch01.mp4"]
    assert "cannot open video" in skipped["gPO_sBM_c01_d10_mPO1_ch01.mp4"]


def test_aist_errors_name_the_path(aist_src, tmp_path):
    with pytest.raises(DatasetError, match=r"dataset\.params\.source_dir="):
        prepare_aist(params(tmp_path / "o"), AistOptions(source_dir=None))
    with pytest.raises(DatasetError, match="nowhere"):
        prepare_aist(params(tmp_path / "o"), AistOptions(source_dir=tmp_path / "nowhere"))
    src = tmp_path / "copy"
    shutil.copytree(aist_src, src)
    (src / "splits" / "crossmodal_test.txt").write_text("gBR_sBM_cAll_d04_mBR0_ch01\nnot a sequence\n")
    with pytest.raises(DatasetError, match=r"crossmodal_test\.txt, line 2"):
        prepare_aist(params(tmp_path / "o"), AistOptions(source_dir=src, split="official"))
    (src / "ignore_list.txt").unlink()
    (src / "splits" / "crossmodal_test.txt").write_text("gBR_sBM_cAll_d04_mBR0_ch01\n")
    with pytest.raises(DatasetError, match=r"ignore_list\.txt: ignore list not found"):
        prepare_aist(params(tmp_path / "o"), AistOptions(source_dir=src, split="official"))
    shutil.rmtree(src / "music")
    with pytest.raises(DatasetError, match=r"music/ or wav/ or musics/.*music_dir"):
        prepare_aist(params(tmp_path / "o"), AistOptions(source_dir=src))
    with pytest.raises(DatasetError, match="views"):
        prepare_aist(params(tmp_path / "o"), AistOptions(source_dir=aist_src, views="c10"))


def test_aist_all_corrupt_is_an_error(aist_src, tmp_path, media):
    src = tmp_path / "copy"
    shutil.copytree(aist_src, src)
    for p in (src / "videos").glob("*.mp4"):
        media.corrupt(p)
    with pytest.raises(DatasetError, match="came out empty.*cannot open video") as e:
        prepare_aist(params(tmp_path / "o"), AistOptions(source_dir=src))
    assert str(src / "videos") in str(e.value)


def test_aist_name_helpers():
    assert sequence_name("gBR_sBM_c07_d04_mBR0_ch01") == "gBR_sBM_cAll_d04_mBR0_ch01"
    assert music_id("gHO_sFM_c01_d20_mHO5_ch03") == "mHO5"
    assert music_tempo("mBR0") == 80.0 and music_tempo("mWA5") == 130.0 and music_tempo("mHO5") == 135.0
    assert parse_views("c01") == ("c01",) and parse_views("2, c03") == ("c02", "c03")
    assert len(parse_views("all")) == 9


# -- SymMV ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def symmv_prepared(symmv_src, tmp_path_factory):
    out = tmp_path_factory.mktemp("symmv")
    return out, prepare_symmv(params(out), MusicVideoOptions(source_dir=symmv_src, separator="none", test_fraction=0.3))


def test_symmv_clips_and_sources(symmv_prepared, symmv_src):
    out, clips = symmv_prepared
    _check_clips(clips, out)
    by_name = {}
    for c in clips:
        by_name.setdefault(c.id.rsplit("__", 1)[0], []).append(c)
    assert set(by_name) == {"00001", "00002", "00004", "00005", "00008"}
    assert by_name["00005"][0].video == str(symmv_src / "videos" / "5.mp4")
    assert {c.source for c in by_name["00004"]} == {"00001"}  # the same YouTube video as 00001
    assert {c.split for c in by_name["00004"] + by_name["00001"]} in ({"train"}, {"test"})
    assert [c.start for c in by_name["00001"]] == [0.0, 2.0]


def test_symmv_skips_bad_videos_with_reasons(symmv_prepared, symmv_src):
    out, clips = symmv_prepared
    info = read_info(out)
    skipped = {Path(s["path"]).name: s["reason"] for s in info["skipped"]}
    assert "cannot open video" in skipped["00003.mp4"]
    assert "no audio track" in skipped["00006.mp4"]
    assert "shorter than the video" in skipped["00007.mp4"]
    assert "not in" in skipped["00010.mp4"] and "SymMV.csv" in skipped["00010.mp4"]
    assert "silent" in skipped["00011.mp4"]
    assert "notes.txt" not in skipped
    assert info["rows_without_video"] == 1 and info["rows_without_video_first"] == ["00009"]
    assert info["shared_sources"] == {"00004": "00001"}
    # 00008: its first window is silent (discarded), the second has 0.5 s of silence (kept)
    assert [c.start for c in clips if c.id.startswith("00008")] == [2.0]
    assert info["discarded_silent"] == 1
    json.dumps(info)


def test_symmv_reference_is_the_videos_own_audio(symmv_prepared, media):
    _, clips = symmv_prepared
    c = next(c for c in clips if c.id == "00002__0002000")
    got, _ = sf.read(str(c.audio_path), dtype="float32")
    from core.media import resample

    want = resample(media.tone(4.5, 260, seed=2), media.SRC_SR, OUT_SR)[int(2 * OUT_SR):int(4 * OUT_SR)]
    # AAC is lossy: compare the waveform's correlation and level, not samples
    assert np.corrcoef(got, want)[0, 1] > 0.95
    assert abs(np.std(got) - np.std(want)) < 0.05 * np.std(want)


def test_symmv_malformed_csv_names_path_and_line(symmv_src, tmp_path):
    src = tmp_path / "SymMV"
    shutil.copytree(symmv_src, src)
    (src / "SymMV.csv").write_text("idx,url\n00001,https://x\n")
    with pytest.raises(DatasetError, match=r"SymMV\.csv, line 1: header"):
        prepare_symmv(params(tmp_path / "o"), MusicVideoOptions(source_dir=src, separator="none"))
    (src / "SymMV.csv").write_text("index\tyoutube_url\ttonality\tshazam_id\nx01\thttps://y\tC major\n")
    with pytest.raises(DatasetError, match=r"SymMV\.csv, line 2: index 'x01'"):
        prepare_symmv(params(tmp_path / "o"), MusicVideoOptions(source_dir=src, separator="none"))
    (src / "SymMV.csv").unlink()
    with pytest.raises(DatasetError, match=str(src / "SymMV.csv")):
        prepare_symmv(params(tmp_path / "o"), MusicVideoOptions(source_dir=src, separator="none"))


def test_symmv_missing_videos_folder_and_all_corrupt(symmv_src, tmp_path, media):
    src = tmp_path / "SymMV"
    src.mkdir()
    shutil.copy(symmv_src / "SymMV.csv", src / "SymMV.csv")
    with pytest.raises(DatasetError, match=r"videos.*not found.*videos_dir"):
        prepare_symmv(params(tmp_path / "o"), MusicVideoOptions(source_dir=src, separator="none"))
    for i in (1, 2):
        media.corrupt(src / "videos" / f"{i:05d}.mp4", seed=i)
    with pytest.raises(DatasetError, match=r"came out empty.*00001\.mp4: cannot open video"):
        prepare_symmv(params(tmp_path / "o"), MusicVideoOptions(source_dir=src, separator="none"))


def test_symmv_demucs_default_needs_weights(symmv_src, tmp_path):
    with pytest.raises(DatasetError, match="separator_weights"):
        prepare_symmv(params(tmp_path / "o"), MusicVideoOptions(source_dir=symmv_src))


def test_own_audio_track_is_aligned_with_the_picture(tmp_path, media):
    from core.media import decode_audio_track

    click = np.zeros(int(3.0 * media.SRC_SR), np.float32)
    click[media.SRC_SR:media.SRC_SR + 80] = 0.9  # at 1.0 s
    audio, sr = decode_audio_track(media.video(tmp_path / "click.mp4", 3.0, click))
    assert sr == media.SRC_SR and audio.ndim == 2 and audio.shape[1] == 1
    onset = int(np.argmax(np.abs(audio[:, 0]) > 0.2))
    assert abs(onset / sr - 1.0) < 0.002


def test_video_key():
    assert video_key("https://www.youtube.com/watch?v=caoP4dj2oro") == video_key("https://youtu.be/caoP4dj2oro")
    assert video_key("https://www.bilibili.com/video/BV1/") == "https://www.bilibili.com/video/bv1"


# -- BGM909 ---------------------------------------------------------------------------------------

def test_bgm909_official_split(bgm909_src, tmp_path):
    clips = prepare_bgm909(params(tmp_path), BGM909Options(source_dir=bgm909_src, split="official", separator="none"))
    _check_clips(clips, tmp_path)
    assert {c.source for c in clips if c.split == "test"} == {"004", "005"}
    assert {c.source for c in clips if c.split == "train"} == {"001", "002", "003", "006"}
    assert len(clips) == 12 and {c.id for c in clips} >= {"001__0000000", "006__0002000"}
    info = read_info(tmp_path)["split"]
    assert info["mode"] == "official" and info["unlisted_sources_in_train"] == ["006"]


def test_bgm909_grouped_split_and_custom_separator(bgm909_src, tmp_path, monkeypatch):
    from bench.data import separation

    class Halve:
        name = "halve"

        def __init__(self, weights_path=None):
            pass

        def separate(self, audio, sample_rate):
            return np.asarray(audio, np.float32) * 0.5

    monkeypatch.setitem(separation.SEPARATORS, "halve", Halve)
    plain = prepare_bgm909(params(tmp_path / "a"), BGM909Options(source_dir=bgm909_src, separator="none",
                                                                  test_fraction=0.2))
    half = prepare_bgm909(params(tmp_path / "b"), BGM909Options(source_dir=bgm909_src, separator="halve",
                                                                 test_fraction=0.2))
    _check_clips(plain, tmp_path / "a")
    assert [c.split for c in plain] == [c.split for c in half]
    a, _ = sf.read(str(plain[0].audio_path), dtype="float32")
    b, _ = sf.read(str(half[0].audio_path), dtype="float32")
    assert np.allclose(b, 0.5 * a, atol=1e-6)
    assert read_info(tmp_path / "b")["separator"] == {"name": "halve"}


def test_bgm909_bad_split_pickle(bgm909_src, tmp_path):
    src = tmp_path / "Diff-BGM"
    shutil.copytree(bgm909_src, src)
    split = src / "data" / "train_split_pnt" / "pop909_new.pickle"
    split.write_bytes(b"not a pickle")
    with pytest.raises(DatasetError, match=r"pop909_new\.pickle: unreadable pickle"):
        prepare_bgm909(params(tmp_path / "o"), BGM909Options(source_dir=src, split="official", separator="none"))
    split.write_bytes(pickle.dumps({"train": 1}))
    with pytest.raises(DatasetError, match=r"pop909_new\.pickle: holds dict"):
        prepare_bgm909(params(tmp_path / "o"), BGM909Options(source_dir=src, split="official", separator="none"))
    split.write_bytes(pickle.dumps([np.array(["001.npz"]), []]))  # would need code to load: refused
    with pytest.raises(DatasetError, match="refusing to load"):
        prepare_bgm909(params(tmp_path / "o"), BGM909Options(source_dir=src, split="official", separator="none"))
    split.unlink()
    with pytest.raises(DatasetError, match=r"pop909_new\.pickle: BGM909 split file not found"):
        prepare_bgm909(params(tmp_path / "o"), BGM909Options(source_dir=src, split="official", separator="none"))


def test_bgm909_resumes_from_checkpoints(bgm909_src, tmp_path, monkeypatch):
    """An interrupted preparation keeps its finished videos; the rerun does not redo them."""
    from bench.data import videoaudio

    calls = []
    real = videoaudio._cut_one

    def flaky(item, *a, **k):
        calls.append(item.name)
        if item.name == "004" and calls.count("004") == 1:
            raise KeyboardInterrupt
        return real(item, *a, **k)

    prepare_bgm909(params(tmp_path), BGM909Options(source_dir=bgm909_src, separator="none", max_silence=1.0))
    assert (tmp_path / "manifest.parquet").exists()
    monkeypatch.setattr(videoaudio, "_cut_one", flaky)
    with pytest.raises(KeyboardInterrupt):
        prepare_bgm909(params(tmp_path), BGM909Options(source_dir=bgm909_src, separator="none"))
    assert calls == ["001", "002", "003", "004"]
    # the older manifest no longer claims the folder (its audio is being rewritten)
    assert not (tmp_path / "manifest.parquet").exists() and not (tmp_path / "dataset.json").exists()
    clips = prepare_bgm909(params(tmp_path), BGM909Options(source_dir=bgm909_src, separator="none"))
    assert calls[4:] == ["004", "005", "006"]
    _check_clips(clips, tmp_path)
    assert clips == read_manifest(tmp_path)


# -- configs --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,fn", [("aist", prepare_aist), ("symmv", prepare_symmv), ("bgm909", prepare_bgm909)])
def test_config_matches_preparer_and_requires_source_dir(name, fn, tmp_path, monkeypatch):
    from bench.config import compose
    from bench.data.prepare import prepare_dataset

    monkeypatch.setenv("BENCH_DATA_ROOT", str(tmp_path))
    cfg = compose(name, (), []).dataset
    assert cfg.kind == name and cfg.root == str(tmp_path / name) and cfg.clip_duration == 10.0
    defaults = {f.name: f.default for f in dataclasses.fields(options_type(fn))}
    for key, value in cfg.params.items():
        assert key in defaults, f"{name}.yaml: {key} is not an option of {fn.__name__}"
        assert defaults[key] == value, f"{name}.yaml: {key} default differs from {fn.__name__}'s options"
    assert cfg.params.source_dir is None
    with pytest.raises(DatasetError, match=r"dataset\.params\.source_dir=/path"):
        prepare_dataset(cfg)


@pytest.mark.parametrize("name", ["toy", "aist", "aist_d2mgan", "aist_cdcd", "symmv", "bgm909"])
def test_every_dataset_config_builds_its_preparers_options(name, tmp_path, monkeypatch):
    """prepare.py builds the options once from the config's `params`; a key the preparer does not
    know is refused naming it (and nothing is created)."""
    from bench.config import compose
    from bench.data.prepare import PREPARERS, prepare_dataset

    monkeypatch.setenv("BENCH_DATA_ROOT", str(tmp_path))
    cfg = compose(name, (), []).dataset
    preparer = PREPARERS.load(cfg.kind)
    options = make_options(preparer, cfg.kind, dict(cfg.params))
    assert options == options_type(preparer)(**cfg.params)
    with pytest.raises(ConfigError, match=rf"dataset\.params\.colour: not an option of dataset kind '{cfg.kind}'"):
        prepare_dataset(compose(name, (), ["+dataset.params.colour=red"]).dataset)
    assert not Path(cfg.root).exists()
