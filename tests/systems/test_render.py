"""MIDI rendering with FluidSynth + FluidR3_GM: tempo-correct, CMT's tempo rescaling, not silent."""

import mido
import numpy as np
import pytest

from systems.render import SOUNDFONT

pytestmark = pytest.mark.skipif(not SOUNDFONT.is_file(), reason="FluidR3_GM soundfont not installed")


def onsets(audio, sr, frame=0.01):
    n = int(sr * frame)
    audio = np.concatenate([np.zeros(10 * n, audio.dtype), audio])  # silence first: a note at t = 0 is an onset
    env = np.sqrt(np.convolve(audio.astype(np.float64) ** 2, np.ones(n) / n, mode="same"))[::n]
    hits = [i for i in range(3, len(env)) if env[i] > 0.15 * env.max() and env[i] > 2.5 * env[i - 3]]
    out = []
    for i in hits:
        if not out or i - out[-1] > 10:
            out.append(i)
    return np.array(out) * frame - 10 * frame


def write_midi(path, bpm, beats, notes=True, program=0):
    """One short note per beat, timed in ticks: the file's tempo alone decides the seconds."""
    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm), time=0))
    track.append(mido.Message("program_change", program=program, time=0))
    for _ in range(beats if notes else 0):
        track.append(mido.Message("note_on", note=64, velocity=100, time=0))
        track.append(mido.Message("note_off", note=64, velocity=0, time=96))
        track.append(mido.Message("note_on", note=64, velocity=0, time=480 - 96))
    mid.save(str(path))
    return path


def test_onsets_fall_on_the_files_tempo(tmp_path):
    from systems.render import render_midi

    audio = render_midi(write_midi(tmp_path / "a.mid", 90, 4), 32000)
    assert audio.dtype == np.float32 and audio.ndim == 1
    got = onsets(audio, 32000)
    assert len(got) == 4 and np.allclose(got, np.arange(4) * 60 / 90, atol=0.02), got
    assert np.abs(audio).max() == pytest.approx(0.9, abs=1e-3)  # not silent, peak-normalised


def test_cmt_tempo_rescaling(tmp_path):
    from systems.baselines.cmt import tempo_scale
    from systems.render import render_midi

    meta = tmp_path / "metadata.json"
    meta.write_text('{"tempo": 80, "duration": 3}')
    scale = tempo_scale(meta)
    assert scale == pytest.approx(1.5)
    audio = render_midi(write_midi(tmp_path / "c.mid", 120, 4), 32000, tempo_scale=scale)  # CMT writes 120 bpm
    got = onsets(audio, 32000)
    assert np.allclose(got, np.arange(4) * 60 / 80, atol=0.02), got
    meta.write_text('{"duration": 3}')
    with pytest.raises(Exception, match="no usable 'tempo'"):
        tempo_scale(meta)


def test_a_midi_without_notes_is_an_error_and_rates_are_honoured(tmp_path):
    from core.errors import MediaError
    from systems.render import render_midi

    with pytest.raises(MediaError, match="has no notes"):
        render_midi(write_midi(tmp_path / "e.mid", 120, 4, notes=False), 32000)
    a = render_midi(write_midi(tmp_path / "r.mid", 120, 2), 16000)
    b = render_midi(write_midi(tmp_path / "s.mid", 120, 2), 32000)
    assert abs(a.size / 16000 - b.size / 32000) < 0.01
    with pytest.raises(MediaError, match="unreadable MIDI"):
        (tmp_path / "bad.mid").write_bytes(b"MThd nope")
        render_midi(tmp_path / "bad.mid", 32000)
