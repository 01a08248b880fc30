"""Miniature copies of the real datasets' official layouts, with synthetic media under the
official names: AIST++ (videos + AIST Dance DB music + keypoints2d + splits + ignore list),
SymMV (SymMV.csv + midi/ + videos named by index, music in the videos' audio tracks) and
BGM909 (Diff-BGM's split pickle + videos named by POP909 id)."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

SRC_SR = 16000  # the source media's audio rate
OUT_SR = 8000  # the prepared datasets' rate in these tests
CLIP = 2.0  # clip duration in these tests
FPS = 10


def tone(duration: float, freq: float = 330.0, sr: int = SRC_SR, silent: tuple[float, float] | None = None,
         seed: int = 0) -> np.ndarray:
    """A loud tone + a little noise, with an optional stretch of digital silence."""
    t = np.arange(int(round(duration * sr))) / sr
    rng = np.random.default_rng(seed)
    x = (0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(t.size)).astype(np.float32)
    if silent is not None:
        x[int(silent[0] * sr):int(silent[1] * sr)] = 0.0
    return x


def video(path: Path, duration: float, audio: np.ndarray | None = None, shade: int = 60) -> Path:
    """A tiny H.264 video (32×32, 10 fps) with an optional AAC audio track."""
    from core.media import write_video

    n = int(round(duration * FPS))
    frames = np.zeros((n, 32, 32, 3), np.uint8)
    frames[:] = shade
    frames[np.arange(n), :, (np.arange(n) % 32)] = 255  # a moving bar
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_video(path, frames, FPS, audio=audio, sample_rate=SRC_SR if audio is not None else None)


def wav(path: Path, audio: np.ndarray, sr: int = SRC_SR) -> Path:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), audio, sr)
    return path


def corrupt(path: Path, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    return path


# -- AIST++ ---------------------------------------------------------------------------------------

AIST_TEST = ["gBR_sBM_cAll_d04_mBR0_ch01", "gJS_sBM_cAll_d01_mJS3_ch01"]  # crossmodal_test
AIST_IGNORE = ["gJS_sBM_cAll_d01_mJS3_ch01"]
AIST_TRAIN = ["gPO_sBM_cAll_d10_mPO1_ch01", "gHO_sFM_cAll_d20_mHO5_ch03"]
AIST_VAL = ["gLO_sBM_cAll_d13_mLO2_ch01"]
AIST_VIDEOS = {  # video name -> duration (s)
    "gBR_sBM_c01_d04_mBR0_ch01": 4.5,  # official test
    "gBR_sBM_c02_d04_mBR0_ch01": 4.5,  # the same sequence from camera 2
    "gBR_sFM_c01_d05_mBR0_ch02": 4.5,  # not listed, but uses a test music
    "gPO_sBM_c01_d10_mPO1_ch01": 4.5,
    "gHO_sFM_c01_d20_mHO5_ch03": 4.5,  # its music is silent over [2, 4.5) s
    "gLO_sBM_c01_d13_mLO2_ch01": 4.5,
    "gJS_sBM_c01_d01_mJS3_ch01": 4.5,  # official test, but on the ignore list
}
AIST_MUSIC = {"mBR0": 200.0, "mPO1": 250.0, "mHO5": 300.0, "mLO2": 350.0, "mJS3": 400.0}


def make_aist(root: Path) -> Path:
    src = root / "aist_plusplus_final"
    for i, (name, dur) in enumerate(AIST_VIDEOS.items()):
        video(src / "videos" / f"{name}.mp4", dur, shade=20 * i)
    for k, (mid, f) in enumerate(AIST_MUSIC.items()):
        silent = (2.0, 6.0) if mid == "mHO5" else None
        wav(src / "music" / f"{mid}.wav", tone(6.0, f, silent=silent, seed=k))
    (src / "splits").mkdir(parents=True)
    for part, names in (("train", AIST_TRAIN), ("val", AIST_VAL), ("test", AIST_TEST)):
        (src / "splits" / f"crossmodal_{part}.txt").write_text("\n".join(names) + "\n")
    (src / "ignore_list.txt").write_text("\n".join(AIST_IGNORE) + "\n")
    (src / "keypoints2d").mkdir()
    kp = {"keypoints2d": np.zeros((9, 45, 17, 3), np.float32), "det_scores": np.ones((9, 45)),
          "timestamps": np.arange(45)}
    with open(src / "keypoints2d" / "gBR_sBM_cAll_d04_mBR0_ch01.pkl", "wb") as fh:
        pickle.dump(kp, fh)
    (src / "ignore_me.txt").write_text("not media")
    return src


@pytest.fixture(scope="session")
def aist_src(tmp_path_factory) -> Path:
    return make_aist(tmp_path_factory.mktemp("aist_download"))


# -- SymMV ----------------------------------------------------------------------------------------

SYMMV_CSV = (
    "index\tyoutube_url\ttonality\tshazam_id\n"
    "00001\thttps://www.youtube.com/watch?v=AAAAAAAAAAA\tC major\t555683241\n"
    "00002\thttps://www.youtube.com/watch?v=BBBBBBBBBBB\tc minor\n"
    "00003\thttps://www.youtube.com/watch?v=CCCCCCCCCCC\td minor\t474750126\n"
    "00004\thttps://www.youtube.com/watch?v=AAAAAAAAAAA\tf minor\n"  # the same video as 00001
    "00005\thttps://www.bilibili.com/video/BV1xx411c7mD\tG major\t1\n"
    "00006\thttps://www.youtube.com/watch?v=DDDDDDDDDDD\tG major\t2\n"
    "00007\thttps://www.youtube.com/watch?v=EEEEEEEEEEE\tA major\t3\n"
    "00008\thttps://www.youtube.com/watch?v=FFFFFFFFFFF\tB major\t4\n"
    "00009\thttps://www.youtube.com/watch?v=GGGGGGGGGGG\tE major\n"  # no video downloaded
    "00011\thttps://www.youtube.com/watch?v=HHHHHHHHHHH\tF major\t5\n"
)


def make_symmv(root: Path) -> Path:
    src = root / "SymMV"
    src.mkdir(parents=True)
    (src / "SymMV.csv").write_text(SYMMV_CSV)
    (src / "midi").mkdir()
    for i in (1, 2, 3, 4, 5, 6, 7, 8, 9, 11):
        (src / "midi" / f"{i:05d}.mid").write_bytes(b"MThd")
    v = src / "videos"
    video(v / "00001.mp4", 4.5, tone(4.5, 220, seed=1))
    video(v / "00002.mp4", 4.5, tone(4.5, 260, seed=2))
    corrupt(v / "00003.mp4")
    video(v / "00004.mp4", 4.5, tone(4.5, 300, seed=4))
    video(v / "5.mp4", 4.5, tone(4.5, 340, seed=5))  # not zero-padded
    video(v / "00006.mp4", 4.5)  # no audio track
    video(v / "00007.mp4", 6.5, tone(2.5, 380, seed=7))  # audio much shorter than the picture
    video(v / "00008.mp4", 4.5, tone(4.5, 420, silent=(0.0, 2.5), seed=8))  # first clip silent
    video(v / "00010.mp4", 4.5, tone(4.5, 460, seed=10))  # not in the CSV
    video(v / "00011.mp4", 4.5, np.zeros(int(4.5 * SRC_SR), np.float32))  # a silent audio track
    (v / "notes.txt").write_text("not a video")
    return src


@pytest.fixture(scope="session")
def symmv_src(tmp_path_factory) -> Path:
    return make_symmv(tmp_path_factory.mktemp("symmv_download"))


# -- BGM909 ---------------------------------------------------------------------------------------

BGM_TRAIN = ["001.npz", "002.npz", "003.npz"]
BGM_VAL = ["004.npz", "005.npz"]


def make_bgm909(root: Path) -> Path:
    src = root / "Diff-BGM"
    split = src / "data" / "train_split_pnt" / "pop909_new.pickle"
    split.parent.mkdir(parents=True)
    with open(split, "wb") as fh:
        pickle.dump([BGM_TRAIN, BGM_VAL], fh)
    for i in range(1, 7):  # 006 is in neither list
        video(src / "videos" / f"{i:03d}.mp4", 4.5, tone(4.5, 200 + 40 * i, seed=i), shade=30 * i)
    return src


@pytest.fixture(scope="session")
def bgm909_src(tmp_path_factory) -> Path:
    return make_bgm909(tmp_path_factory.mktemp("bgm909_download"))


@pytest.fixture(scope="session")
def media():
    """The media helpers above, for test modules (pytest's importlib mode has no relative imports)."""
    from types import SimpleNamespace

    return SimpleNamespace(tone=tone, video=video, wav=wav, corrupt=corrupt, SRC_SR=SRC_SR, OUT_SR=OUT_SR,
                           CLIP=CLIP, FPS=FPS)
