"""The offline `toy` dataset: deterministic, well-formed, and — the property the offline
evaluation rests on — its video's motion events coincide with its music's onsets."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from bench.data import toy_music
from core.manifest import INFO_NAME, MANIFEST_NAME, read_info
from bench.data.params import PrepareParams
from bench.data.toy import ToyOptions, prepare_toy
from core.errors import DatasetError
from core.media.video import decode_frames, keyframe_times, probe_video

SR = 32000
DUR = 10.0
FPS = 25

pytestmark = pytest.mark.skipif(not toy_music.SOUNDFONT.is_file(), reason="FluidR3_GM soundfont not installed")


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    out = tmp_path_factory.mktemp("toy")
    clips = prepare_toy(PrepareParams(out, SR, DUR, 0, spec={"test": 1}), ToyOptions(size="tiny"))
    return out, clips


def _events(clip) -> dict:
    return json.loads((Path(clip.root) / "events" / f"{clip.id}.json").read_text())


def _motion_peaks(path) -> np.ndarray:
    """Times (s) of frame-difference energy peaks: local maxima (±2 frames) above 20 % of the max."""
    frames = decode_frames(path).astype(np.float32)
    energy = np.r_[0.0, np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3))]
    thr = max(0.2 * energy.max(), 2.0)
    peaks = [i for i in range(1, len(energy)) if energy[i] >= thr and energy[i] == energy[max(0, i - 2):i + 3].max()]
    return np.asarray(peaks, dtype=np.float64) / FPS


def _near(a: np.ndarray, b: np.ndarray, lo: float, hi: float) -> float:
    """Fraction of times in `a` having some time of `b` with lo <= a - b <= hi."""
    if len(a) == 0 or len(b) == 0:
        return 0.0
    d = a[:, None] - b[None, :]
    return float(((d >= lo) & (d <= hi)).any(axis=1).mean())


def _audio_onsets(path) -> np.ndarray:
    """librosa onsets. The clip's first frames are ignored (a cut mid-note is no onset, and the
    envelope normalisation must not be dominated by it); fmax 4 kHz tames FluidR3's vibrato.
    (librosa's first use in a fresh environment compiles numba code for ~20-30 s.)"""
    import librosa
    import soundfile as sf

    y, sr = sf.read(str(path), dtype="float32")
    env = librosa.onset.onset_strength(y=y, sr=sr, fmax=4000)
    env[:4] = 0.0
    return librosa.onset.onset_detect(onset_envelope=env, sr=sr, units="time", delta=0.15)


@pytest.mark.slow
def test_motion_follows_music_onsets(toy):
    _, clips = toy
    assert len(clips) >= 10
    peaks = {c.id: _motion_peaks(c.video_path) for c in clips}
    onsets = {c.id: np.asarray(_events(c)["onsets"]) for c in clips}
    audio_on = {c.id: _audio_onsets(c.audio_path) for c in clips}
    n = len(clips)
    # The figure moves within 0–2 frames after a note onset (it never anticipates one).
    lo, hi = -0.5 / FPS, 2.5 / FPS
    own_prec, other_prec, own_rec, own_audio, other_audio = [], [], [], [], []
    for i, c in enumerate(clips):
        other = clips[(i + n // 2) % n]  # another piece
        assert other.source != c.source
        p = peaks[c.id]
        assert len(p) >= 5, f"{c.id}: almost no motion"
        own_prec.append(_near(p, onsets[c.id], lo, hi))
        other_prec.append(_near(p, onsets[other.id], lo, hi))
        inside = onsets[c.id][onsets[c.id] < DUR - 3 / FPS]
        own_rec.append(_near(inside, p, -hi, -lo))  # every onset is followed by a motion peak
        # Against what an onset detector hears in the rendered audio (±2 frames).
        own_audio.append(_near(p, audio_on[c.id], -2 / FPS, 2 / FPS))
        other_audio.append(_near(p, audio_on[other.id], -2 / FPS, 2 / FPS))
    own_prec, other_prec = np.mean(own_prec), np.mean(other_prec)
    assert own_prec >= 0.8, f"motion peaks near their own note onsets: {own_prec:.2f}"
    assert np.mean(own_rec) >= 0.9, f"note onsets followed by motion: {np.mean(own_rec):.2f}"
    assert own_prec - other_prec >= 0.35, f"own {own_prec:.2f} vs another clip's onsets {other_prec:.2f}"
    own_audio, other_audio = np.mean(own_audio), np.mean(other_audio)
    assert own_audio >= 0.6, f"motion peaks near librosa onsets of their audio: {own_audio:.2f}"
    assert own_audio - other_audio >= 0.2, f"own audio {own_audio:.2f} vs another clip's {other_audio:.2f}"


def test_look_follows_the_piece(toy):
    _, clips = toy
    walls = {}
    for c in clips:
        frame = decode_frames(c.video_path, duration=0.2)[0].astype(np.float64)
        walls[c.id] = frame[:, : frame.shape[1] // 10].reshape(-1, 3).mean(axis=0)  # left border: wall only
    by_id = {c.id: c for c in clips}
    assert len({c.genre for c in clips}) >= 3
    for a in clips:
        for b in clips:
            dist = np.linalg.norm(walls[a.id] - walls[b.id])
            if a.genre != b.genre:
                assert dist > 15, f"{a.genre} and {b.genre} walls look alike"
            elif a.source == b.source:
                assert dist < 3, f"{a.id} and {b.id}: one piece, two walls"
    # Mode → texture, shown by the caption too.
    for c in clips:
        mode = _events(by_id[c.id])["mode"]
        assert ("stripe" in c.caption) == (mode == "major")


def test_media_and_annotations(toy):
    out, clips = toy
    import soundfile as sf

    info = read_info(out)
    assert info["generator"] == "toy" and info["spec"] == {"test": 1} and "encoding" in info
    families = list(toy_music.FAMILIES)
    n_frames = int(DUR * FPS)
    for c in clips:
        assert c.start == 0.0 and c.duration == DUR and c.root == str(out)
        assert c.genre in families and 70 <= c.tempo <= 140
        a = sf.info(str(c.audio_path))
        assert (a.channels, a.samplerate, a.frames) == (1, SR, int(DUR * SR))
        y, _ = sf.read(str(c.audio_path), dtype="float32")
        assert y.dtype == np.float32 and 0.85 <= np.abs(y).max() <= 0.9 + 1e-6

        v = probe_video(c.video_path)
        assert v.has_audio and v.fps == FPS and (v.width, v.height) == (64, 64)
        assert abs(v.duration - DUR) < 0.05
        kf = keyframe_times(c.video_path)
        assert len(kf) == int(DUR) and np.allclose(np.diff(kf), 1.0, atol=0.05)

        assert c.caption and "stick figure" in c.caption
        low = c.caption.lower()
        assert not any(f in low for f in families + ["music", "bach", "chorale", "bpm"])

        with open(c.path("keypoints"), "rb") as fh:
            kp = pickle.load(fh)
        assert set(kp) >= {"keypoints2d", "det_scores", "timestamps"}
        assert kp["keypoints2d"].shape == (1, n_frames, 17, 3) and kp["keypoints2d"].dtype == np.float32
        assert kp["det_scores"].shape == (1, n_frames)
        ts = kp["timestamps"]
        assert ts.shape == (n_frames,) and np.issubdtype(ts.dtype, np.integer)
        assert ts[0] == 0 and np.all(np.diff(ts) == 1000 // FPS)
        xy = kp["keypoints2d"][0, :, :, :2]
        assert (xy >= 0).all() and (xy[..., 0] < 64).all() and (xy[..., 1] < 64).all()

        ev = _events(c)
        assert ev["instrument"] == c.genre and ev["tempo"] == c.tempo
        assert ev["onsets"] == sorted(ev["onsets"]) and all(0 <= t < DUR for t in ev["onsets"])
        assert len(ev["beats"]) >= DUR * 70 / 60 / 2 - 1  # beats may be half notes (3/2, 2/2)

    # The keypoints are where the figure is drawn: torso joints are not wall-coloured.
    c = clips[0]
    frames = decode_frames(c.video_path).astype(np.float64)
    with open(c.path("keypoints"), "rb") as fh:
        xy = pickle.load(fh)["keypoints2d"][0, :, :, :2]
    wall = np.median(frames[:, :, :6].reshape(-1, 3), axis=0)
    for j in (5, 6, 11, 12):  # shoulders and hips
        x, y = np.round(xy[:, j]).astype(int).T
        px = frames[np.arange(len(frames)), y, x]
        assert np.linalg.norm(px - wall, axis=1).mean() > 60


def test_splits_are_grouped_by_piece(toy):
    _, clips = toy
    train = {c.source for c in clips if c.split == "train"}
    test = {c.source for c in clips if c.split == "test"}
    assert train and test and not (train & test)
    assert len({c.id for c in clips}) == len(clips)


def test_demo_size_holds_out_32_clips_of_whole_pieces():
    """The README's main job scores 32 test clips (issue 16: every metric defined), 8 pieces × 4."""
    from bench.data.toy import SIZES
    from core.manifest import Clip
    from core.split import grouped_split

    n_src, per_src, _, _, test_fraction = SIZES["demo"]
    clips = [Clip(f"s{i}_{j}", "v.mp4", "a.wav", 0.0, 10.0, f"piece{i}") for i in range(n_src) for j in range(per_src)]
    test = [c for c in grouped_split(clips, test_fraction, 0) if c.split == "test"]
    assert len(test) == 32 and len({c.source for c in test}) == 8
    assert SIZES["science"][:2] == (20, 2)  # docs/science.md's numbers were measured on this one


def test_test_fraction_outside_0_1_is_refused(tmp_path):
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="test_fraction must lie between 0 and 1, got 1.0"):
        prepare_toy(PrepareParams(out_dir=tmp_path, sample_rate=16000, clip_duration=2.0, seed=0, spec={}),
                    ToyOptions(size="tiny", test_fraction=1.0))


def _digest(folder: Path) -> dict[str, bytes]:
    """Every file's bytes; for the WAVs the samples and format (libsndfile's float-WAV PEAK chunk
    carries the write time, so two identical renders a second apart differ in 4 header bytes)."""
    import soundfile as sf

    out = {MANIFEST_NAME: (folder / MANIFEST_NAME).read_bytes(), INFO_NAME: (folder / INFO_NAME).read_bytes()}
    for sub in ("audio", "events", "keypoints", "video"):
        for p in sorted((folder / sub).iterdir()):
            if sub == "audio":
                y, sr = sf.read(str(p), dtype="float32", always_2d=True)
                out[f"{sub}/{p.name}"] = repr((sr, y.shape, sf.info(str(p)).subtype)).encode() + y.tobytes()
            else:
                out[f"{sub}/{p.name}"] = p.read_bytes()
    return out


@pytest.mark.slow
def test_deterministic_and_independent_of_workers(tmp_path):
    kw = dict(size="tiny", n_sources=3, clips_per_source=1, width=32, height=32)
    prepare_toy(PrepareParams(tmp_path / "a", SR, 3.0, 7, {}), ToyOptions(**kw))
    prepare_toy(PrepareParams(tmp_path / "b", SR, 3.0, 7, {}), ToyOptions(workers=2, **kw))
    prepare_toy(PrepareParams(tmp_path / "c", SR, 3.0, 8, {}), ToyOptions(**kw))
    a, b, c = (_digest(tmp_path / x) for x in "abc")
    assert a.keys() == b.keys() and all(a[k] == b[k] for k in a), \
        [k for k in a if a[k] != b.get(k)]
    audio = lambda d: sorted(v for k, v in d.items() if k.startswith("audio/"))  # noqa: E731
    assert audio(a) != audio(c) and a[MANIFEST_NAME] != c[MANIFEST_NAME]


def test_missing_soundfont_names_the_fix(tmp_path):
    with pytest.raises(DatasetError, match="apt-get install"):
        toy_music.check_synth(tmp_path / "nope.sf2")
