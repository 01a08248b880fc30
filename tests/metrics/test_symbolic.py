"""Symbolic metrics (metrics/symbolic.py): MusDr's PCHE and GPS on constructed note sets, MIDI
reading, a MIDI with no notes, and the metric on a MIDI kept beside a system's wav."""

from __future__ import annotations

import math

import numpy as np
import pytest

from metrics import symbolic as sy


def _notes(rows):
    return np.array(rows, np.float64).reshape(-1, 3)


def test_pitch_class_entropy():
    assert sy.pitch_class_entropy(np.arange(60, 72)) == pytest.approx(math.log2(12))
    assert sy.pitch_class_entropy([60, 72, 48]) == 0.0  # one pitch class, three octaves
    assert sy.pitch_class_entropy([60, 62]) == pytest.approx(1.0)


def test_pche_windows():
    # four 2-s bars; bar k holds pitch classes {0..k} (k + 1 distinct, one note each)
    rows = [[2 * k + 0.1 * j, 2 * k + 0.1 * j + 0.05, 60 + j] for k in range(4) for j in range(k + 1)]
    ns = sy.NoteSet(_notes(rows), np.array([0.0, 2.0, 4.0, 6.0]), 8.0, "test")
    assert sy.pche(ns, 1) == pytest.approx(np.mean([math.log2(k + 1) for k in range(4)]))
    counts = np.array([4, 3, 2, 1], float)  # over all four bars: pc 0 four times, pc 3 once
    p = counts / counts.sum()
    assert sy.pche(ns, 4) == pytest.approx(float(-(p * np.log2(p)).sum()))
    assert sy.pche(ns, 8) == sy.pche(ns, 4)  # a window longer than the piece falls back to the piece


def test_gps_identical_and_opposite_bars():
    bars = np.array([0.0, 2.0, 4.0])
    same = [[b + q * 0.5, b + q * 0.5 + 0.1, 60] for b in bars for q in range(4)]
    assert sy.gps(sy.NoteSet(_notes(same), bars, 6.0, "t")) == 1.0
    # bar 0: onsets on the 4 quarter positions; bar 1: 4 other positions (offbeats)
    a = [[q * 0.5, q * 0.5 + 0.1, 60] for q in range(4)] + [[2.25 + q * 0.5, 2.3 + q * 0.5, 60] for q in range(4)]
    g = sy.gps(sy.NoteSet(_notes(a), bars[:2], 4.0, "t"))
    assert g == pytest.approx(1 - 8 / 64)
    vec = sy.grooving_vectors(sy.NoteSet(_notes(a), bars[:2], 4.0, "t"))
    assert vec.shape == (2, 64) and vec[0, [0, 16, 32, 48]].all() and vec[1, [8, 24, 40, 56]].all()


def _write_midi(path, notes, tempo=120.0):
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    inst = pretty_midi.Instrument(program=0)
    for s, e, p in notes:
        inst.notes.append(pretty_midi.Note(velocity=80, pitch=int(p), start=s, end=e))
    pm.instruments.append(inst)
    pm.write(str(path))
    return path


def test_midi_notes_and_downbeats(tmp_path):
    notes = [[0.5 * k, 0.5 * k + 0.4, 60 + k % 5] for k in range(16)]
    ns = sy.notes_from_midi(_write_midi(tmp_path / "a.mid", notes), duration=8.0)
    assert ns.notes.shape == (16, 3) and ns.source == "midi"
    np.testing.assert_allclose(ns.bars, [0.0, 2.0, 4.0, 6.0])  # 4/4 at 120 bpm
    stats = sy.symbolic_stats(ns)
    assert stats["note_density"] == pytest.approx(2.0)
    assert stats["gps"] == pytest.approx(1.0)  # every bar: onsets on the four beats


def test_midi_with_no_notes_has_defined_values(tmp_path):
    ns = sy.notes_from_midi(_write_midi(tmp_path / "empty.mid", []), duration=10.0)
    stats = sy.symbolic_stats(ns)
    assert stats["note_density"] == 0.0
    assert math.isnan(stats["pche"]) and math.isnan(stats["gps"])  # undefined: left out of set values, noted


def test_symbolic_metric_uses_a_kept_midi(tmp_path):
    """A system's <clip>.mid beside its wav is read instead of transcribing the audio."""
    from core.manifest import Clip
    from core.media import atomic_write_audio, write_video

    frames = np.full((50, 32, 32, 3), 60, np.uint8)
    frames[::10, 8:24, 8:24] = 220
    write_video(tmp_path / "video" / "c.mp4", frames, 25)
    clip = Clip("c", "video/c.mp4", "audio/c.wav", 0.0, 2.0, "s", root=str(tmp_path))
    gen_wav = atomic_write_audio(tmp_path / "sys" / "c.wav", np.zeros(44100, np.float32), 22050)
    _write_midi(gen_wav.with_suffix(".mid"), [[0.5 * k, 0.5 * k + 0.4, 60 + k] for k in range(4)])
    ref_wav = atomic_write_audio(tmp_path / "ref" / "c.wav", np.zeros(44100, np.float32), 22050)
    _write_midi(ref_wav.with_suffix(".mid"), [[0.25 * k, 0.25 * k + 0.2, 60] for k in range(8)])
    m = sy.SymbolicMetric(cache=False)
    out = m.scores([clip], {"c": gen_wav}, {"c": ref_wav})
    assert out["note_density"].per_clip[0] == pytest.approx(2.0)
    assert out["note_density"].target == pytest.approx(4.0)  # the reference's value
    assert out["note_density_diff"].per_clip[0] == pytest.approx(2.0)
    assert out["pche"].per_clip[0] == pytest.approx(2.0)  # four pitch classes once each
    assert "notes_f_truth" not in out  # no events/ folder: no ground truth
    assert math.isnan(out["si"].per_clip[0]) and out["si"].target is None  # silent wavs: no SI (left out, noted)


# ----------------------------------------------------------------------------- SI (MusDr)

GOLDEN_SI = __import__("pathlib").Path(__file__).parent / "golden" / "si_musdr.npz"


@pytest.fixture(scope="module")
def si_golden(tmp_path_factory):
    """MusDr's own SSM, fitness scape plot and SI on 12 s of a rendered Bach chorale
    (scripts/golden/si_musdr.py), and the wav it read."""
    import soundfile as sf

    g = dict(np.load(GOLDEN_SI))
    wav = tmp_path_factory.mktemp("si") / "piece.wav"
    sf.write(wav, g["pcm"], int(g["rate"]), subtype="PCM_16")
    return g, wav


def test_si_matches_musdr_step_by_step(si_golden):
    import librosa

    g, wav = si_golden
    y, sr = librosa.load(str(wav), sr=sy.SI_AUDIO_RATE)  # MusDr's load
    chroma = sy.si_chroma(y, sr)
    np.testing.assert_allclose(chroma, g["chroma"], rtol=1e-6, atol=1e-7)
    ssm = sy.si_ssm(chroma)
    np.testing.assert_allclose(ssm, g["ssm"], rtol=1e-6, atol=1e-7)
    plot = sy.fitness_scape_plot(ssm)
    np.testing.assert_allclose(plot, g["fitness"], rtol=1e-5, atol=1e-7)  # float noise of the SSM
    for lo, hi in g["scales"]:
        assert sy.structure_indicator_from_plot(plot, lo, hi) == pytest.approx(float(g[f"si_{lo}_{hi}"]), abs=1e-7)
    # end to end from the file, as the metric calls it
    assert sy.wav_structure_indicator(wav, cache=False) == pytest.approx(float(g["si_3_8"]), abs=1e-7)


def test_si_is_higher_for_a_repeated_phrase_than_for_noise():
    """Property: a phrase played twice has a repeated segment; white noise has none."""
    sr = sy.SI_AUDIO_RATE
    t = np.arange(int(0.5 * sr)) / sr
    phrase = np.concatenate([np.sin(2 * np.pi * f * t) * np.hanning(t.size) for f in (262, 330, 392, 494, 440, 349, 294, 523)])
    repeated = np.concatenate([phrase, phrase, phrase])  # 12 s: a 4-s phrase three times
    noise = np.random.default_rng(0).standard_normal(repeated.size).astype(np.float32)
    assert sy.structure_indicator(repeated, sr) > sy.structure_indicator(noise, sr) + 0.1  # 0.19 vs 0.04


def test_si_of_silence_is_a_named_error_and_nan_in_the_metric_row(tmp_path):
    import soundfile as sf

    with pytest.raises(sy.SilentMusicError, match="silence"):
        sy.structure_indicator(np.zeros(22050 * 4, np.float32), 22050, what="x.wav")
    sf.write(tmp_path / "s.wav", np.zeros(16000, np.float32), 16000)
    assert math.isnan(sy.wav_structure_indicator(tmp_path / "s.wav", cache=False))


def test_si_of_a_clip_shorter_than_the_scale_is_zero():
    """A 2-s clip has no segment of 3 s or more: MusDr's SI(3, 8) is 0 there, not an error."""
    sr = sy.SI_AUDIO_RATE
    y = np.sin(2 * np.pi * 440 * np.arange(2 * sr) / sr).astype(np.float32)
    assert sy.structure_indicator(y, sr) == 0.0
