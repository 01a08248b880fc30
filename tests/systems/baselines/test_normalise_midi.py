"""Symbolic baselines keep their MIDI beside the normalised wav (systems/baselines/normalise.py),
on the wav's timeline, and the symbolic metric reads it instead of transcribing the audio."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.manifest import Clip
from systems.baselines.normalise import RawOutput, append_record, midi_name, normalise, protocol_midi
from systems.render import SOUNDFONT
from tests.systems.baselines.conftest import failures, run, split_test_ids, system_overrides

needs_synth = pytest.mark.skipif(not SOUNDFONT.is_file(), reason="FluidR3_GM soundfont not installed")


def _midi(path, notes, tempo=120.0):
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    inst = pretty_midi.Instrument(program=0)
    inst.notes = [pretty_midi.Note(velocity=90, pitch=int(p), start=s, end=e) for s, e, p in notes]
    pm.instruments.append(inst)
    pm.write(str(path))
    return path


def _clip(duration=4.0):
    return Clip("c1", "video/c1.mp4", "audio/c1.wav", 0.0, duration, "s")


def _notes(pm):
    return sorted((round(n.start, 4), round(n.end, 4), n.pitch) for i in pm.instruments for n in i.notes)


def test_protocol_midi_applies_the_tempo_scale_and_the_offset_and_cuts_at_the_clip_end(tmp_path):
    path = _midi(tmp_path / "a.mid", [[k * 1.0, k * 1.0 + 0.5, 60 + k] for k in range(8)])
    # CMT: times × scale (120 bpm → the video's tempo); notes from 4 s on fall outside a 4-s clip
    pm = protocol_midi(RawOutput(path, "midi", tempo_scale=2.0), _clip())
    assert _notes(pm) == [(0.0, 1.0, 60), (2.0, 3.0, 61)]
    # Diff-BGM: a segment of a longer piece, from `offset` s on; a note crossing the end is cut there
    pm = protocol_midi(RawOutput(path, "midi", offset=2.0), _clip(3.25))
    assert _notes(pm) == [(0.0, 0.5, 62), (1.0, 1.5, 63), (2.0, 2.5, 64), (3.0, 3.25, 65)]
    # the bars move with the notes: 120 bpm 4/4 bars at 0, 2, 4 s → 0 (and 2) s after a 2-s offset
    assert pm.get_downbeats()[0] == pytest.approx(0.0)


@needs_synth
def test_a_midi_output_is_kept_beside_the_wav_and_the_record_names_it(tmp_path):
    path = _midi(tmp_path / "out.mid", [[k * 0.5, k * 0.5 + 0.4, 60 + k % 7] for k in range(20)])
    audio, record = normalise(RawOutput(path, "midi"), _clip(), 16000)
    assert audio.shape == (64000,)
    system_dir = tmp_path / "runs" / "t" / "cmt"
    append_record(system_dir, {**record, "sample": 0})
    append_record(system_dir, {**record, "sample": 1})
    assert midi_name("c1", 0) == "c1.mid" and midi_name("c1", 1) == "c1.s1.mid"
    rows = [json.loads(x) for x in (system_dir / "normalisation.jsonl").read_text().splitlines()]
    assert [r["midi_kept"] for r in rows] == ["c1.mid", "c1.s1.mid"]
    assert all("_midi" not in r for r in rows)  # the object itself never reaches the JSON
    import pretty_midi

    kept = pretty_midi.PrettyMIDI(str(system_dir / "c1.mid"))
    assert len(_notes(kept)) == 8 and max(n[1] for n in _notes(kept)) <= 4.0  # the 4-s clip's notes
    # an audio output keeps no MIDI
    _, rec = normalise(RawOutput(_wav(tmp_path / "x.wav")), _clip(), 16000)
    append_record(system_dir, {**rec, "clip": "c2", "sample": 0})
    assert not (system_dir / "c2.mid").exists()


def _wav(path):
    import soundfile as sf

    sf.write(path, 0.3 * np.sin(np.arange(64000) / 10.0).astype(np.float32), 16000)
    return path


@needs_synth
def test_video2music_run_keeps_its_midi_and_the_symbolic_metric_reads_it(mini_dataset, standin, monkeypatch):
    """The Video2Music stand-in writes 300 s of MIDI chords; the run keeps the clip's part as
    <clip>.mid and the symbolic metric takes its notes from there, never transcribing."""
    from metrics import symbolic, trackers

    root, ov = mini_dataset
    repo = standin("video2music")
    result, run_dir = run(["video2music"], [*ov, *system_overrides("video2music", repo),
                                            f"system.video2music.weights_dir={repo}/saved_models/AMT"])
    assert not failures(run_dir, "video2music")
    ids = split_test_ids(root)
    wav = run_dir / "video2music" / f"{ids[0]}.wav"
    assert wav.is_file() and wav.with_suffix(".mid").is_file()

    def no_transcription(*a, **k):
        raise AssertionError("transcribed although the MIDI was kept")

    monkeypatch.setattr(trackers, "transcribe", no_transcription)
    from core.manifest import read_manifest

    clip = next(c for c in read_manifest(root) if c.id == ids[0])
    ns = symbolic.SymbolicMetric(cache=False)._notes(wav, clip)
    assert ns.source == "midi" and ns.notes.shape[0] > 0
    assert ns.notes[:, 0].max() < clip.duration
