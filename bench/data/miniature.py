"""Miniature copies of the real datasets in their official layouts, with real file types, for the
tests and `bench perf data` (synthetic content under the official names and formats).

AIST++ as its documentation lays it out (google/aistplusplus_api README; AIST Dance DB download
page): the annotations folder `aist_plusplus_final/` (keypoints2d `cAll` pickles, splits/,
ignore_list.txt, cameras/), the videos downloaded **separately** into their own folder (60 fps
H.264 mp4, `g{GG}_s{BM|FM}_c{01-09}_d{dd}_m{GG}{k}_ch{cc}.mp4`), and the AIST Dance DB music as
**mp3 files with ID3v2 tags** (`mBR0.mp3` …), each in another folder. `truncate_video` makes the
fault the issue names: a file whose header (index at the front, `faststart`) claims its whole
length while only part of its data is there.
"""

from __future__ import annotations

import pickle
from fractions import Fraction
from pathlib import Path

import numpy as np

from core.media import write_video

AIST_FPS = 60
AIST_SR = 44100
# sequence (cAll) -> [(camera, duration s)]; music ids repeat across dancers (the split groups)
AIST_SEQUENCES = {
    "gBR_sBM_cAll_d04_mBR0_ch01": [("c01", 4.5), ("c02", 4.5)],
    "gBR_sFM_cAll_d05_mBR0_ch02": [("c01", 4.5)],
    "gPO_sBM_cAll_d10_mPO1_ch01": [("c01", 4.5)],
    "gHO_sFM_cAll_d20_mHO5_ch03": [("c01", 4.5)],
    "gLO_sBM_cAll_d13_mLO2_ch01": [("c01", 4.5)],
    "gJS_sBM_cAll_d01_mJS3_ch01": [("c01", 4.5)],
}
AIST_MUSIC = {"mBR0": 200.0, "mPO1": 250.0, "mHO5": 300.0, "mLO2": 350.0, "mJS3": 400.0}


def write_mp4(path: Path, duration: float, fps: int = AIST_FPS, size: int = 64, shade: int = 60,
              faststart: bool = True, audio: np.ndarray | None = None, sample_rate: int | None = None) -> Path:
    """An H.264 mp4 at `fps` with a moving bar; `faststart` puts the index (moov) at the front, as
    web downloads have it."""
    n = int(round(duration * fps))
    frames = np.full((n, size, size, 3), shade, np.uint8)
    frames[np.arange(n), :, (np.arange(n) * 2) % size] = 255
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_video(path, frames, fps, audio=audio, sample_rate=sample_rate, faststart=faststart)


def write_webm(path: Path, duration: float, audio: np.ndarray, sample_rate: int = 48000, fps: int = 25,
               size: int = 64) -> Path:
    """A VP9 + Opus webm (what YouTube downloads of SymMV are)."""
    import av

    n = int(round(duration * fps))
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w", format="webm") as c:
        vs = c.add_stream("libvpx-vp9", rate=Fraction(fps))
        vs.width = vs.height = size
        vs.pix_fmt = "yuv420p"
        vs.options = {"threads": "1", "deadline": "realtime", "cpu-used": "8"}
        aus = c.add_stream("libopus", rate=sample_rate)
        aus.layout = "mono"
        for i in range(n):
            img = np.full((size, size, 3), 90, np.uint8)
            img[(i * 3) % size, :] = 255
            for p in vs.encode(av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p", threads=1)):
                c.mux(p)
        for p in vs.encode():
            c.mux(p)
        _encode_audio(c, aus, audio, sample_rate)
    return path


def _encode_audio(container, stream, audio: np.ndarray, sample_rate: int) -> None:
    from core.media.video import _encode_audio as encode  # PyAV resamples to the codec's format

    encode(container, stream, audio, sample_rate)


def write_mp3(path: Path, audio: np.ndarray, sample_rate: int = AIST_SR, title: str = "", artist: str = "") -> Path:
    """An MP3 (LAME) with an ID3v2 tag, as the AIST Dance DB's music downloads are."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w", format="mp3") as c:
        c.metadata.update({"title": title or path.stem, "artist": artist or "AIST Dance Video Database",
                           "album": "AIST Dance DB (miniature)"})
        st = c.add_stream("libmp3lame", rate=sample_rate)
        st.layout = "mono"
        _encode_audio(c, st, audio, sample_rate)
    return path


def tone(duration: float, freq: float, sr: int, seed: int = 0, silent: tuple[float, float] | None = None) -> np.ndarray:
    t = np.arange(int(round(duration * sr))) / sr
    rng = np.random.default_rng(seed)
    x = 0.3 * np.sin(2 * np.pi * freq * t) * (0.6 + 0.4 * (np.sin(2 * np.pi * 2 * t) > 0))
    x = (x + 0.01 * rng.standard_normal(t.size)).astype(np.float32)
    if silent is not None:
        x[int(silent[0] * sr):int(silent[1] * sr)] = 0.0
    return x


def make_aist_official(root: Path, music_seconds: float = 6.0) -> dict[str, Path]:
    """AIST++ in its official layout under `root`: {'annotations', 'videos', 'music'} folders."""
    root = Path(root)
    ann, vids, music = root / "aist_plusplus_final", root / "aist_videos", root / "aist_dance_db_music"
    for i, (seq, views) in enumerate(AIST_SEQUENCES.items()):
        for cam, dur in views:
            write_mp4(vids / f"{seq.replace('cAll', cam)}.mp4", dur, shade=20 * i)
    for k, (mid, f) in enumerate(AIST_MUSIC.items()):
        write_mp3(music / f"{mid}.mp3", tone(music_seconds, f, AIST_SR, seed=k), title=f"{mid} (AIST Dance DB)")
    (ann / "splits").mkdir(parents=True, exist_ok=True)
    seqs = list(AIST_SEQUENCES)
    (ann / "splits" / "crossmodal_train.txt").write_text("\n".join(seqs[2:5]) + "\n")
    (ann / "splits" / "crossmodal_val.txt").write_text("")
    (ann / "splits" / "crossmodal_test.txt").write_text("\n".join(seqs[:1] + seqs[5:]) + "\n")
    (ann / "ignore_list.txt").write_text("")
    (ann / "cameras").mkdir(exist_ok=True)
    (ann / "cameras" / "mapping.txt").write_text("\n".join(f"{s} setting1" for s in seqs) + "\n")
    (ann / "keypoints2d").mkdir(exist_ok=True)
    for seq, views in AIST_SEQUENCES.items():
        n = int(round(views[0][1] * AIST_FPS))
        kp = {"keypoints2d": np.zeros((9, n, 17, 3), np.float32), "det_scores": np.ones((9, n), np.float32),
              "timestamps": (np.arange(n) * 1000 // AIST_FPS).astype(np.int64)}
        with open(ann / "keypoints2d" / f"{seq}.pkl", "wb") as fh:
            pickle.dump(kp, fh)
    return {"annotations": ann, "videos": vids, "music": music}


def aist_overrides(layout: dict[str, Path], sample_rate: int = 16000, clip_duration: float = 2.0) -> list[str]:
    """The `bench data prepare aist` settings for a miniature folder (short clips, a low rate)."""
    return [f"dataset.params.source_dir={layout['annotations']}", f"dataset.params.videos_dir={layout['videos']}",
            f"dataset.params.music_dir={layout['music']}", f"dataset.sample_rate={sample_rate}",
            f"dataset.clip_duration={clip_duration}", "dataset.params.test_fraction=0.3"]


def truncate_video(path: Path, keep: float = 0.5) -> Path:
    """Cut the file's bytes to `keep` of its size: with the index at the front, its header still
    claims the whole duration (what an interrupted download leaves)."""
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: int(len(data) * keep)])
    return Path(path)
