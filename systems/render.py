"""MIDI → audio for the symbolic baselines (CMT, Video2Music, Diff-BGM), and the synthesizer the
toy dataset renders with: FluidSynth with the FluidR3_GM soundfont, as in the paper (DESIGN.md §4).

The harness renders every symbolic output itself, never with a baseline's own renderer (they
use other soundfonts, GarageBand or midi2audio at 44.1 kHz), so all symbolic systems sound
through the same instrument bank at the protocol rate.

Timing comes from the MIDI's own tempo map (pretty_midi), so a file written at 90 bpm sounds at
90 bpm. CMT writes every file at 120 bpm and keeps the real tempo in its metadata:
`tempo_scale = 120 / tempo` stretches all event times (notes, controls, bends) by that factor.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np

from core.errors import BenchError, MediaError

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
INSTALL_HINT = "apt-get install --no-install-recommends fluidsynth fluid-soundfont-gm"
PEAK = 0.9  # rendered audio is peak-normalised to this (as the toy dataset's reference audio)


class SynthesizerError(BenchError):
    """FluidSynth or the FluidR3_GM soundfont is missing or unusable."""


def check_synth(soundfont: str | Path = SOUNDFONT, error: type[BenchError] = SynthesizerError,
                purpose: str = "MIDI outputs are rendered with it") -> None:
    """Raise `error` (with the install command) if FluidSynth or the soundfont is missing."""
    if not Path(soundfont).is_file():
        raise error(f"{soundfont}: General MIDI soundfont not found; {purpose}. Install it: `{INSTALL_HINT}`")
    try:
        importlib.import_module("fluidsynth")  # pyfluidsynth: ctypes over libfluidsynth
    except (ImportError, OSError) as exc:
        raise error(f"FluidSynth library not usable ({exc}); {purpose}. Install it: `{INSTALL_HINT}` "
                    "(and `pip install pyfluidsynth`)") from exc


_FLOAT_SYNTH = None


def float_synth_class():
    """A pyfluidsynth Synth whose `get_samples` returns undithered interleaved float32 stereo.

    pyfluidsynth's own path writes dithered 16-bit samples whose dither table depends on the
    process's `rand()` state; the float path makes the bytes independent of the process.
    """
    global _FLOAT_SYNTH
    if _FLOAT_SYNTH is None:
        import ctypes

        import fluidsynth

        write_float = fluidsynth._fl.fluid_synth_write_float
        write_float.restype = ctypes.c_int
        write_float.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                                ctypes.c_void_p, ctypes.c_int, ctypes.c_int]

        class FloatSynth(fluidsynth.Synth):
            def get_samples(self, len=1024):  # noqa: A002  (pyfluidsynth's signature)
                buf = np.zeros(2 * int(len), dtype=np.float32)
                if len > 0:
                    ptr = buf.ctypes.data_as(ctypes.c_void_p)
                    if write_float(self.synth, int(len), ptr, 0, 2, ptr, 1, 2) != 0:
                        raise SynthesizerError("FluidSynth failed to render audio (fluid_synth_write_float)")
                return buf

        _FLOAT_SYNTH = FloatSynth
    return _FLOAT_SYNTH


def render_instrument(inst, sample_rate: int, soundfont: str | Path = SOUNDFONT) -> np.ndarray:
    """One pretty_midi Instrument through a fresh float synthesizer (no state from earlier renders)."""
    synth = float_synth_class()(samplerate=float(sample_rate), **{"synth.dynamic-sample-loading": 1})
    try:
        sfid = synth.sfload(str(soundfont))
        if sfid < 0:
            raise SynthesizerError(f"{soundfont}: FluidSynth cannot load this soundfont; reinstall it: `{INSTALL_HINT}`")
        return np.asarray(inst.fluidsynth(fs=sample_rate, synthesizer=synth, sfid=sfid), dtype=np.float64)
    finally:
        synth.delete()


def load_midi(path: str | Path, tempo_scale: float = 1.0):
    """Read a MIDI file (pretty_midi); `tempo_scale` > 1 slows it down (all times × scale)."""
    import pretty_midi

    path = Path(path)
    if not path.is_file():
        raise MediaError(path, "MIDI file not found")
    try:
        pm = pretty_midi.PrettyMIDI(str(path))
    except Exception as exc:
        raise MediaError(path, f"unreadable MIDI ({type(exc).__name__}: {exc})") from exc
    if not tempo_scale > 0 or not np.isfinite(tempo_scale):
        raise MediaError(path, f"tempo scale must be a positive number, got {tempo_scale}")
    if tempo_scale != 1.0 and note_count(pm):  # pretty_midi cannot stretch an empty file
        end = max(pm.get_end_time(), 1e-3)
        pm.adjust_times([0.0, end], [0.0, end * tempo_scale])
    return pm


def note_count(pm) -> int:
    return sum(len(i.notes) for i in pm.instruments)


def render_midi(path: str | Path, sample_rate: int, tempo_scale: float = 1.0,
                soundfont: str | Path = SOUNDFONT, max_seconds: float | None = None) -> np.ndarray:
    """Render a MIDI file to mono float32 at `sample_rate`, peak-normalised to PEAK.

    Every instrument (drums on bank 128, as General MIDI) is rendered and summed. The result
    starts at t = 0 of the MIDI (a leading rest stays a rest) and ends when the last note's
    release has sounded. `max_seconds` renders only the beginning (the harness keeps the
    beginning anyway; Video2Music writes 300 s for any clip). A MIDI without a single note is an
    error, never silence.
    """
    check_synth(soundfont)
    pm = load_midi(path, tempo_scale)
    if max_seconds is not None:
        for inst in pm.instruments:
            inst.notes = [n for n in inst.notes if n.start < max_seconds]
            for n in inst.notes:
                n.end = min(n.end, max_seconds + 0.5)
    if note_count(pm) == 0:
        raise MediaError(path, "the MIDI has no notes" + (f" before {max_seconds:g} s" if max_seconds else ""),
                         "the baseline produced an empty piece")
    waves = [render_instrument(inst, sample_rate, soundfont) for inst in pm.instruments if inst.notes]
    n = max(w.size for w in waves)
    mix = np.zeros(n, dtype=np.float64)
    for w in waves:
        mix[: w.size] += w
    peak = float(np.abs(mix).max())
    if not peak > 0:
        raise MediaError(path, "the MIDI rendered to digital silence", "check its note velocities and programs")
    return (mix * (PEAK / peak)).astype(np.float32)
