"""Real-weight trackers from PyPI wheels (metrics/trackers.py): madmom's RNN + DBN beats and
basic-pitch's ONNX notes, checked against known truth (click tracks, a rendered melody, and the
toy dataset's events/<id>.json), and their conventions on silence and empty input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.media import atomic_write_audio
from metrics import trackers

SR = 22050


def _clicks(times, duration, sr=SR):
    y = np.zeros(int(duration * sr), np.float32)
    m = int(0.02 * sr)
    blip = (0.8 * np.sin(2 * np.pi * 1000 * np.arange(m) / sr) * np.hanning(m)).astype(np.float32)
    for t in times:
        i = int(round(t * sr))
        seg = y[i:i + m]
        seg += blip[:seg.size]
    return y


@pytest.mark.slow  # madmom's 8-network ensemble + the downbeat model: ~10 s on 2 cores
def test_madmom_tracks_a_click_track(tmp_path):
    beats = np.arange(0.5, 8.0, 0.5)  # 120 bpm
    wav = atomic_write_audio(tmp_path / "c.wav", _clicks(beats, 8.0), SR)
    est, _ = trackers.madmom_beats(wav, cache=False)
    assert trackers.beat_f_measure(beats, est) >= 0.9
    assert trackers.beat_times(wav, "madmom", cache=False) == pytest.approx(est)


def test_silence_has_no_beats_and_no_notes(tmp_path):
    wav = atomic_write_audio(tmp_path / "s.wav", np.zeros(2 * SR, np.float32), SR)  # also shorter than a window
    b, db = trackers.madmom_beats(wav, cache=False)
    assert b.size == 0 and db.size == 0
    assert trackers.transcribe(wav, cache=False).shape == (0, 4)


def test_f_measure_conventions():
    assert math.isnan(trackers.beat_f_measure([], []))
    assert trackers.beat_f_measure([1.0, 2.0], []) == 0.0
    assert trackers.beat_f_measure([1.0, 2.0], [1.05, 2.2]) == pytest.approx(0.5)  # one hit of two each
    ref = np.array([[0.0, 0.5, 60], [0.5, 1.0, 64]])
    assert trackers.note_f_measure(ref, ref) == (1.0, 1.0, 1.0)
    assert trackers.note_f_measure(ref, np.array([[0.0, 0.5, 61], [0.52, 1.0, 64]]))[2] == pytest.approx(0.5)
    assert all(math.isnan(v) for v in trackers.note_f_measure(np.zeros((0, 3)), np.zeros((0, 3))))
    assert trackers.note_f_measure(ref, np.zeros((0, 3))) == (0.0, 0.0, 0.0)


def test_unknown_tracker_is_a_config_error():
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="beat_tracker"):
        trackers.check_beat_tracker("beat-this")


@pytest.fixture(scope="module")
def melody(tmp_path_factory):
    """A one-voice piano melody rendered with FluidSynth, and its notes."""
    import pretty_midi

    from bench.data import toy_music

    if not toy_music.SOUNDFONT.is_file():
        pytest.fail(f"FluidR3_GM soundfont missing ({toy_music.SOUNDFONT}): run `make setup`")
    from systems.render import render_midi

    root = tmp_path_factory.mktemp("melody")
    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=0)
    pitches = [60, 62, 64, 65, 67, 69, 71, 72, 67, 64, 60, 55]
    notes = []
    for k, p in enumerate(pitches):
        s = 0.25 + 0.5 * k
        inst.notes.append(pretty_midi.Note(velocity=90, pitch=p, start=s, end=s + 0.4))
        notes.append([s, s + 0.4, p])
    pm.instruments.append(inst)
    pm.write(str(root / "m.mid"))
    audio = render_midi(root / "m.mid", 22050)
    return atomic_write_audio(root / "m.wav", audio, 22050), np.array(notes)


def test_basic_pitch_transcribes_a_rendered_melody(melody):
    wav, truth = melody
    est = trackers.transcribe(wav, cache=False)
    p, r, f = trackers.note_f_measure(truth, est)
    assert f >= 0.8, (p, r, f, est[:, :3])
    assert est.shape[1] == 4 and np.all(np.diff(est[:, 0]) >= 0)


# ----------------------------------------------------------------------------- the toy's truth


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    from bench.data import toy_music
    from bench.data.params import PrepareParams
    from bench.data.toy import ToyOptions, prepare_toy

    if not toy_music.SOUNDFONT.is_file():
        pytest.fail(f"FluidR3_GM soundfont missing ({toy_music.SOUNDFONT}): run `make setup`")
    return prepare_toy(PrepareParams(tmp_path_factory.mktemp("toy"), 32000, 10.0, 0, {}),
                       ToyOptions(size="tiny", n_sources=2, clips_per_source=1))


@pytest.mark.slow
def test_trackers_against_the_toy_ground_truth(toy, tmp_path):
    """madmom finds the true beats of the toy's rendered music; basic-pitch's notes match a
    clip's own true notes better than another clip's."""
    a, b = toy[0], toy[1]
    ev_a, ev_b = trackers.clip_events(a), trackers.clip_events(b)
    assert ev_a is not None and ev_a.beats.size > 5 and ev_a.notes.shape[1] == 3
    f = [trackers.beat_f_measure(ev.beats, trackers.madmom_beats(c.audio_path)[0]) for c, ev in ((a, ev_a), (b, ev_b))]
    print(f"\nmadmom beat F on toy tiny: {f}")
    assert np.mean(f) >= 0.8
    notes_a = trackers.transcribe(a.audio_path)
    own, other = trackers.note_f_measure(ev_a.notes, notes_a)[2], trackers.note_f_measure(ev_b.notes, notes_a)[2]
    print(f"basic-pitch note F on toy tiny: own {own:.3f}, another clip's truth {other:.3f}")
    assert own > 0.1 and own > other + 0.05


@pytest.mark.slow  # madmom on 6 files in 2 spawned workers and again serially: ~25 s on 2 cores
def test_madmom_prefill_fills_the_cache_with_the_serial_values(tmp_path):
    from core.cache import Cache

    n = trackers.PREFILL_MIN_FILES
    wavs = [atomic_write_audio(tmp_path / f"c{i}.wav", _clicks(np.arange(0.3 + 0.05 * i, 4.0, 0.5), 4.0), SR)
            for i in range(n)]
    cache = Cache(tmp_path / "cache")
    assert trackers.madmom_prefill(wavs[:n - 1], cache, workers=2) == 0  # too few to be worth the workers
    assert trackers.madmom_prefill(wavs + wavs[:1], cache, workers=2) == n  # duplicates computed once
    assert trackers.madmom_prefill(wavs, cache, workers=2) == 0  # all cached now
    for w in wavs:
        cached, serial = trackers.madmom_beats(w, cache=cache), trackers.madmom_beats(w, cache=False)
        np.testing.assert_array_equal(cached[0], serial[0])
        np.testing.assert_array_equal(cached[1], serial[1])
    assert cache.misses == 0  # the reads above all hit what the workers wrote
    assert trackers.madmom_prefill(wavs, False) == 0  # no cache: nothing to fill
