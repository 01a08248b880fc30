import numpy as np
import pytest

from core.errors import MediaError
from core.media import decode_frames, keyframe_times, mux_audio, probe_video, write_video


@pytest.fixture(scope="module")
def counter_video(tmp_path_factory):
    """4 s at 25 fps; frame i has brightness 2*i so decoded frames reveal their index."""
    path = tmp_path_factory.mktemp("v") / "counter.mp4"
    frames = np.stack([np.full((32, 48, 3), 2 * i, np.uint8) for i in range(100)])
    write_video(path, frames, 25, gop=25, audio=np.zeros(4 * 16000, np.float32), sample_rate=16000, crf=0)
    return path


def test_probe(counter_video):
    info = probe_video(counter_video)
    assert (info.width, info.height, info.fps, info.frames, info.has_audio) == (48, 32, 25.0, 100, True)
    assert info.duration == pytest.approx(4.0, abs=0.05)


def test_keyframes_every_second(counter_video):
    assert keyframe_times(counter_video).tolist() == pytest.approx([0.0, 1.0, 2.0, 3.0])


def test_decode_at_rate_size_and_offset(counter_video):
    f = decode_frames(counter_video, fps=5, size=(16, 8), start=1.0, duration=2.0)
    assert f.shape == (10, 8, 16, 3) and f.dtype == np.uint8
    # samples at 1.0, 1.2, ... s are native frames 25, 30, ...: brightness 50, 60, ...
    assert np.abs(f[:, 4, 8, 0].astype(int) - np.arange(50, 150, 10)).max() <= 3


def test_decode_native(counter_video):
    assert decode_frames(counter_video).shape == (100, 32, 48, 3)


def test_video_shorter_than_the_clip(counter_video):
    with pytest.raises(MediaError, match="counter.mp4.*ends at"):
        decode_frames(counter_video, fps=25, start=3.0, duration=2.0)


def test_corrupt_and_truncated_videos(tmp_path, counter_video):
    (tmp_path / "junk.mp4").write_bytes(b"\x00" * 5000)
    with pytest.raises(MediaError, match="junk.mp4"):
        decode_frames(tmp_path / "junk.mp4")
    data = counter_video.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 3])
    with pytest.raises(MediaError, match="cut.mp4"):
        decode_frames(tmp_path / "cut.mp4", fps=25, start=0, duration=4.0)


def test_audio_only_file_has_no_video_stream(tmp_path):
    import soundfile as sf

    sf.write(tmp_path / "a.wav", np.zeros(800, np.float32), 8000)
    with pytest.raises(MediaError, match="a.wav"):
        probe_video(tmp_path / "a.wav")


def test_mux_keeps_video_and_adds_audio(tmp_path, counter_video):
    out = mux_audio(counter_video, np.zeros(4 * 32000, np.float32), 32000, tmp_path / "m.mp4")
    info = probe_video(out)
    assert info.has_audio and info.frames == 100


def test_video_stream_without_frames(tmp_path):
    import av

    path = tmp_path / "empty.mp4"
    with av.open(str(path), mode="w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 32, 32, "yuv420p"
    with pytest.raises(MediaError, match="empty.mp4"):
        decode_frames(path)


def test_decode_at_a_rate_without_duration_keeps_the_last_frame(counter_video):
    assert decode_frames(counter_video, fps=25).shape[0] == 100
    assert decode_frames(counter_video, fps=10).shape[0] == 40  # 0.0, 0.1, ..., 3.9 s


def _figure_frames(n=75, size=32, seed=0):
    """A flat wall with a figure that jumps between poses, as the toy draws (small frames)."""
    rng = np.random.default_rng(seed)
    frames = np.empty((n, size, size, 3), np.uint8)
    frames[:] = (40, 90, 160)
    pos = rng.integers(4, size - 12, size=(n // 5 + 1, 2))
    for t in range(n):
        y, x = pos[t // 5] + (t % 5 == 0)
        frames[t, y:y + 8, x:x + 4] = 250
        frames[t, y + 8:y + 12, x - 2:x + 6] = 250
    return frames


def test_same_frames_give_the_same_bytes_in_one_process(tmp_path):
    # 32x32 frames once came out of x264 with other bytes in 2-5 of 200 encodes inside one process
    # (its macroblock tree read memory it had not written); the heap churn between encodes is what
    # a long process does
    frames = _figure_frames()
    digests, junk = set(), []
    rng = np.random.default_rng(1)
    for i in range(300):
        junk.append(np.empty(int(rng.integers(1, 100_000)), np.uint8))
        if len(junk) > 50:
            junk.pop(int(rng.integers(len(junk))))
        path = write_video(tmp_path / "v.mp4", frames, 25, crf=12)
        digests.add(path.read_bytes())
    assert len(digests) == 1, f"{len(digests)} different files from the same frames"
