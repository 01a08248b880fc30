"""Turning what a baseline wrote into a protocol output (DESIGN.md §4).

Whatever a baseline returns — a WAV at 22.05/32/44.1 kHz, stereo, longer or shorter than the
clip, or a MIDI file — becomes mono float32 at the system's rate, exactly the clip's duration:
a longer output is trimmed keeping its beginning (as the paper did for Diff-BGM), a shorter one
is zero-padded at the end. Every change is recorded, one JSON line per output, in
`runs/<name>/<system>/normalisation.jsonl`, so a table can say how much was padded.

Outputs that cannot be trusted are errors, never silently repaired: no file, NaN/Inf samples,
digital silence, a MIDI without notes, or audio far longer than asked for (a baseline that
wrote 3 minutes for a 10-second clip ignored the clip, and its beginning is not an answer).

Symbolic baselines (CMT, Video2Music, Diff-BGM) write MIDI natively. Their MIDI is kept beside the
normalised wav as `<clip>.mid` (`<clip>.s<k>.mid` for sample k), on the wav's own timeline: times ×
tempo_scale, the offset skipped, notes starting within the clip's duration kept (ends cut there).
The symbolic metrics (metrics.symbolic) then read those notes instead of transcribing the audio.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from systems.render import load_midi, render_midi
from core.atomic import atomic_path
from core.media import fit_duration, read_audio, resample, to_mono
from core.runfiles import append_jsonl, output_name
from core.manifest import Clip
from core.errors import MediaError

RECORD_NAME = "normalisation.jsonl"


@dataclass
class RawOutput:
    """A file a baseline wrote for one clip, and how to read it."""

    path: Path
    kind: str = "audio"  # 'audio' | 'midi'
    tempo_scale: float = 1.0  # MIDI: multiply all times (CMT: 120 / tempo)
    offset: float = 0.0  # seconds of the output to skip (a segment of a longer piece)
    true_rate: int | None = None  # the real rate when the file's header is known to be wrong
    changes: list[str] = field(default_factory=list)  # what the adapter changed, recorded


def default_max_seconds(duration: float) -> float:
    """Longest plausible output for a clip: generators round up to whole seconds, chunks, ..."""
    return 2.0 * duration + 2.0


def normalise(raw: RawOutput, clip: Clip, sample_rate: int, max_seconds: float | None = None) -> tuple[np.ndarray, dict]:
    """(audio, record): `raw` as the protocol output for `clip`, and what was done to it."""
    path = Path(raw.path)
    if not path.is_file():
        raise MediaError(path, "the baseline exited without writing its output file")
    limit = default_max_seconds(clip.duration) if max_seconds is None else max_seconds
    record: dict = {"clip": clip.id, "file": path.name, "kind": raw.kind, "changes": list(raw.changes)}
    if raw.kind == "midi":
        record["midi_seconds"] = round(float(load_midi(path, raw.tempo_scale).get_end_time()), 3)
        if raw.tempo_scale != 1.0:
            record["tempo_scale"] = raw.tempo_scale
        audio = render_midi(path, sample_rate, raw.tempo_scale, max_seconds=raw.offset + clip.duration)
        record.update(source_rate=sample_rate, source_channels=1)
        source_seconds = audio.shape[0] / sample_rate
        record[KEPT_MIDI] = protocol_midi(raw, clip)
    else:
        if path.stat().st_size == 0:
            raise MediaError(path, "the baseline wrote an empty file")
        data, sr = read_audio(path)  # MediaError for unreadable files and NaN/Inf samples
        if data.shape[0] == 0:
            raise MediaError(path, "the baseline wrote audio with no samples")
        rate = int(raw.true_rate or sr)
        if rate != sr:
            record["changes"].append(f"header says {sr} Hz; read as {rate} Hz")
        source_seconds = data.shape[0] / rate
        if source_seconds - raw.offset > limit:
            raise MediaError(path, f"{source_seconds:.1f} s of audio for a {clip.duration:g} s clip (limit "
                             f"{limit:g} s): the baseline ignored the clip's duration; not trimmed silently")
        record.update(source_rate=rate, source_channels=int(data.shape[1]))
        audio = resample(to_mono(data), rate, sample_rate)
    record["source_seconds"] = round(source_seconds, 4)
    first = int(round(raw.offset * sample_rate))
    if raw.offset:
        record["offset_seconds"] = raw.offset
    audio = audio[first:]
    n = int(round(clip.duration * sample_rate))
    record["trimmed_seconds"] = round(max(0, audio.shape[0] - n) / sample_rate, 4)
    record["padded_seconds"] = round(max(0, n - audio.shape[0]) / sample_rate, 4)
    audio = fit_duration(audio, sample_rate, clip.duration).astype(np.float32, copy=False)
    if not np.isfinite(audio).all():
        raise MediaError(path, "the output has NaN or Inf samples")
    if not np.abs(audio).max() > 0:
        raise MediaError(path, "the output is digital silence over the clip", "see the baseline's logs")
    return audio, record


def protocol_midi(raw: RawOutput, clip: Clip):
    """The baseline's MIDI on the protocol output's timeline (a pretty_midi.PrettyMIDI): times ×
    `raw.tempo_scale`, then [offset, offset + duration] mapped onto [0, duration] by pretty_midi's
    adjust_times (notes, tempo map, time signatures and controllers move together, so the bars
    stay on the notes; what lies outside is dropped; a note crossing the clip's end is cut there)."""
    pm = load_midi(raw.path, raw.tempo_scale)
    end = raw.offset + clip.duration
    for inst in pm.instruments:  # adjust_times drops a note that crosses the end: cut it there first
        for n in inst.notes:
            if n.start < end < n.end:
                n.end = end
    pm.adjust_times([raw.offset, end], [0.0, clip.duration])
    return pm


KEPT_MIDI = "_midi"  # record key carrying the protocol MIDI from normalise() to append_record()


def midi_name(clip_id: str, sample_index: int) -> str:
    """`<clip>.mid` beside `<clip>.wav` (`<clip>.s<k>.mid` beside `<clip>.s<k>.wav`)."""
    return output_name(clip_id, sample_index)[: -len(".wav")] + ".mid"


def append_record(system_dir: Path, record: dict) -> None:
    """Append `record` to the system's normalisation.jsonl; a MIDI output's protocol MIDI
    (see protocol_midi) is written beside the wav first, and the record names it."""
    record = dict(record)
    pm = record.pop(KEPT_MIDI, None)
    if pm is not None:
        name = midi_name(record["clip"], int(record.get("sample", 0)))
        with atomic_path(Path(system_dir) / name) as tmp:
            pm.write(str(tmp))
        record["midi_kept"] = name
    append_jsonl(system_dir / RECORD_NAME, record)
