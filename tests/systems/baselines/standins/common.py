"""Shared by the stand-ins: misbehave on chosen clips, and write simple music."""

import os
import sys
import time

import numpy as np


def matches(var, name):
    value = os.environ.get(var, "")
    return bool(value) and any(v and v in name for v in value.split(","))


def misbehave(name):
    """Crash or hang when the environment asks for it for this clip/segment name."""
    if matches("STANDIN_CRASH", name):
        raise RuntimeError("stand-in: simulated crash on " + name)
    if matches("STANDIN_HANG", name):
        time.sleep(600)


def tone(seconds, rate, freq=440.0, channels=1):
    t = np.arange(int(round(seconds * rate))) / rate
    x = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return x if channels == 1 else np.stack([x] * channels, axis=1)


def write_beats_midi(path, beats, seconds_per_beat, tempo_bpm=120, pitch=60, program=0, n_notes=None):
    """A MIDI written at `tempo_bpm` with one short note on each of `beats` beats."""
    import pretty_midi

    pm = pretty_midi.PrettyMIDI(initial_tempo=tempo_bpm)
    inst = pretty_midi.Instrument(program=program)
    for b in range(beats if n_notes is None else n_notes):
        s = b * seconds_per_beat
        inst.notes.append(pretty_midi.Note(velocity=100, pitch=pitch, start=s, end=s + 0.15))
    pm.instruments.append(inst)
    pm.write(str(path))


def add_common_path():
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
