"""Media I/O: the one place that reads, converts and writes audio and video.

Audio: soundfile for files, soxr for the protocol's resampling. Video: PyAV for decoding,
keyframe listing, H.264 writing and muxing. Metric front ends that must match a reference
implementation bit for bit live in `metrics/`, not here.
"""

from core.media.audio import (
    atomic_write_audio,
    audio_info,
    fit_duration,
    load_audio,
    read_audio,
    resample,
    to_mono,
)
from core.media.video import (
    VideoInfo,
    decode_audio_track,
    decode_frames,
    decodable_until,
    keyframe_times,
    mux_audio,
    probe_video,
    reaches,
    write_video,
)

__all__ = [
    "VideoInfo",
    "decode_audio_track",
    "atomic_write_audio",
    "audio_info",
    "decode_frames",
    "decodable_until",
    "fit_duration",
    "keyframe_times",
    "load_audio",
    "mux_audio",
    "probe_video",
    "reaches",
    "read_audio",
    "resample",
    "to_mono",
    "write_video",
]
