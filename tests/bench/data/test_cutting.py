"""Window cutting and silence detection at the edges."""

from __future__ import annotations

import numpy as np
import pytest

from bench.data.cutting import cut, frame_levels, is_silent, longest_silence, rms_db, window_starts

SR = 1000


def test_windows_default_hop_whole_windows_only():
    assert window_starts(25.0, 30.0, 10.0) == [0.0, 10.0]
    assert window_starts(30.0, 30.0, 10.0) == [0.0, 10.0, 20.0]  # the last window ends exactly at the end
    assert window_starts(29.998, 40.0, 10.0) == [0.0, 10.0]  # 2 ms short of the third window
    assert window_starts(29.9995, 40.0, 10.0) == [0.0, 10.0, 20.0]  # within the tolerance


def test_windows_inside_both_media():
    assert window_starts(40.0, 21.0, 10.0) == [0.0, 10.0]  # the audio is shorter
    assert window_starts(21.0, 40.0, 10.0) == [0.0, 10.0]  # the video is shorter


def test_windows_too_short_or_empty():
    assert window_starts(9.5, 30.0, 10.0) == []
    assert window_starts(30.0, 0.0, 10.0) == []
    assert window_starts(float("nan"), 30.0, 10.0) == []
    assert window_starts(10.0, 10.0, 10.0) == [0.0]


def test_windows_hop():
    assert window_starts(14.0, 14.0, 10.0, hop=2.0) == [0.0, 2.0, 4.0]
    assert window_starts(12.0, 12.0, 10.0, hop=0.3) == [0.0, 0.3, 0.6, 0.9, 1.2, 1.5, 1.8]
    assert window_starts(30.0, 30.0, 10.0, hop=15.0) == [0.0, 15.0]  # gaps between windows
    with pytest.raises(ValueError):
        window_starts(30.0, 30.0, 10.0, hop=0.0)
    with pytest.raises(ValueError):
        window_starts(30.0, 30.0, 0.0)


def tone(seconds: float, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(round(seconds * SR))) / SR
    return (amp * np.sin(2 * np.pi * 50 * t)).astype(np.float32)


def with_silence(total: float, start: float, length: float) -> np.ndarray:
    x = tone(total)
    x[int(round(start * SR)):int(round((start + length) * SR))] = 0.0
    return x


def test_longest_silence_measures_runs():
    assert longest_silence(tone(5.0), SR) == 0.0
    assert longest_silence(np.zeros(3 * SR, np.float32), SR) == pytest.approx(3.0)
    assert longest_silence(with_silence(5.0, 1.0, 2.0), SR, frame=0.05) == pytest.approx(2.0)
    assert longest_silence(np.zeros(0, np.float32), SR) == 0.0


def test_silence_exactly_max_is_discarded_and_one_frame_less_is_kept():
    frame = 0.05
    assert is_silent(with_silence(10.0, 3.0, 2.0), SR, max_silence=2.0, frame=frame)
    assert not is_silent(with_silence(10.0, 3.0, 2.0 - frame), SR, max_silence=2.0, frame=frame)


def test_silence_at_the_clip_edges_counts():
    assert is_silent(with_silence(10.0, 0.0, 2.0), SR, max_silence=2.0)  # at the start
    assert is_silent(with_silence(10.0, 8.0, 2.0), SR, max_silence=2.0)  # at the end
    # a trailing partial frame is a frame of its own: 40 whole frames + 0.02 s of silence
    x = tone(10.02)
    x[-int(2.02 * SR):] = 0.0
    assert longest_silence(x, SR, frame=0.05) == pytest.approx(2.02)
    assert is_silent(x, SR, max_silence=2.01, frame=0.05)
    # runs are measured in whole frames: silence that starts inside a frame loses that frame
    y = tone(10.0)
    y[-2020:] = 0.0
    assert longest_silence(y, SR, frame=0.05) == pytest.approx(2.0)


def test_two_short_silences_are_not_one_long():
    x = tone(10.0)
    x[1000:2500] = 0.0  # 1.5 s
    x[3000:4500] = 0.0  # 1.5 s, after 0.5 s of music
    assert longest_silence(x, SR) == pytest.approx(1.5)
    assert not is_silent(x, SR, max_silence=2.0)


def test_threshold_is_relative_to_full_scale():
    quiet = tone(5.0, amp=10 ** (-55 / 20) * np.sqrt(2))  # RMS -55 dBFS
    loud = tone(5.0, amp=10 ** (-45 / 20) * np.sqrt(2))  # RMS -45 dBFS
    assert is_silent(quiet, SR, max_silence=2.0, silence_db=-50.0)
    assert not is_silent(loud, SR, max_silence=2.0, silence_db=-50.0)
    assert not is_silent(quiet, SR, max_silence=2.0, silence_db=-60.0)
    assert rms_db(quiet) == pytest.approx(-55.0, abs=0.1)
    assert rms_db(np.zeros(10)) == float("-inf")


def test_disabled_and_multichannel():
    silent = np.zeros(5 * SR, np.float32)
    assert not is_silent(silent, SR, max_silence=None)
    assert not is_silent(silent, SR, max_silence=0)
    stereo = np.stack([with_silence(5.0, 0.0, 3.0), np.zeros(5 * SR, np.float32)], axis=1)
    assert is_silent(stereo, SR, max_silence=2.0)
    db, lengths = frame_levels(stereo, SR, 0.05)
    assert lengths.sum() == 5 * SR and db.shape == (100,)


def test_cut_is_exact_and_never_removes_silence():
    x = with_silence(6.0, 2.0, 1.0)
    seg = cut(x, SR, 1.5, 2.0)
    assert seg.shape == (2000,)
    assert np.array_equal(seg, x[1500:3500])  # the silence is still there, in place
    assert cut(x[:5999], SR, 4.0, 2.0).shape == (2000,)  # 1 sample short: padded
    with pytest.raises(ValueError):
        cut(x, SR, 5.0, 2.0)
