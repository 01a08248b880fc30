"""Video I/O with PyAV: probing, frame decoding at a requested rate and size, keyframe
(I-frame) listing from packet flags without decoding, H.264 writing and muxing audio in."""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from core.atomic import atomic_path
from core.errors import MediaError


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    duration: float
    fps: float
    width: int
    height: int
    frames: int
    has_audio: bool


def _open(path: str | os.PathLike):
    import av

    path = Path(path)
    if not path.exists():
        raise MediaError(path, "video file not found")
    try:
        container = av.open(str(path))
    except Exception as exc:  # av.error.InvalidDataError and friends
        raise MediaError(path, f"cannot open video ({exc})", "the file is corrupt or not a video") from exc
    if not container.streams.video:
        container.close()
        raise MediaError(path, "no video stream in the file")
    return container


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Container-level facts; the duration comes from the stream (or container) header."""
    with _open(path) as c:
        vs = c.streams.video[0]
        fps = float(vs.average_rate or vs.guessed_rate or 0)
        if vs.duration is not None and vs.time_base is not None:
            duration = float(vs.duration * vs.time_base)
        elif c.duration is not None:
            duration = c.duration / 1_000_000
        else:
            duration = 0.0
        frames = vs.frames or int(round(duration * fps))
        return VideoInfo(Path(path), duration, fps, vs.codec_context.width, vs.codec_context.height,
                         frames, bool(c.streams.audio))


def decode_frames(
    path: str | os.PathLike,
    fps: float | None = None,
    size: tuple[int, int] | None = None,
    start: float = 0.0,
    duration: float | None = None,
) -> np.ndarray:
    """Decode RGB frames as uint8 (T, H, W, 3).

    fps: sample at this rate (each sample takes the latest frame shown at that instant);
    None keeps the native frames. size: (width, height) to rescale to. A video that ends
    before `start + duration` is an error naming the file.
    """
    end = None if duration is None else start + duration
    times, frames = [], []
    with _open(path) as c:
        vs = c.streams.video[0]
        vs.thread_type = "AUTO"
        try:
            for frame in c.decode(vs):
                t = float(frame.pts * vs.time_base) if frame.pts is not None else len(times) / float(vs.average_rate)
                if end is not None and t >= end:
                    break
                if fps is None and t < start - 1e-6:
                    continue
                # threads=1: the same pixels every run (PyAV's default, threaded swscale, is not reproducible)
                img = frame.reformat(width=size[0] if size else None, height=size[1] if size else None,
                                     format="rgb24", threads=1)
                times.append(t)
                frames.append(img.to_ndarray())
        except Exception as exc:
            raise MediaError(path, f"video decoding failed after {len(frames)} frames ({exc})",
                             "the file is truncated or corrupt; re-download it") from exc
    if not frames:
        raise MediaError(path, "the video has no decodable frames" + (f" after {start:.2f} s" if start else ""))
    last_t = times[-1]
    if fps is None:
        if end is not None and last_t + 1.5 * _frame_interval(times) < end:
            raise MediaError(path, f"video ends at {last_t:.2f} s, {end:.2f} s needed")
        return np.stack(frames)
    # without a duration: every sample instant up to and including the last frame's time
    n = int(round(duration * fps)) if duration is not None else int(np.floor((last_t - start) * fps + 1e-6)) + 1
    targets = start + np.arange(n) / fps
    if end is not None and targets.size and targets[-1] > last_t + 1.5 / fps:
        raise MediaError(path, f"video ends at {last_t:.2f} s, {end:.2f} s needed")
    idx = np.searchsorted(np.asarray(times), targets + 1e-6, side="right") - 1
    if (idx < 0).any():
        raise MediaError(path, f"no frame at or before {start:.2f} s")
    return np.stack([frames[i] for i in idx])


def decodable_until(path: str | os.PathLike, end: float, span: float = 1.0) -> float:
    """Seek to `end - span` and decode towards `end`; the time of the last frame decoded there
    (-1 when none). A header can claim more than the file holds (a truncated download with its
    index at the front): this is the cheap check that the picture really reaches `end`."""
    last = -1.0
    with _open(path) as c:
        vs = c.streams.video[0]
        fps = float(vs.average_rate or vs.guessed_rate or 25)
        try:
            if end - span > 0:
                c.seek(int((end - span) / vs.time_base), stream=vs, backward=True, any_frame=False)
            for frame in c.decode(vs):
                if frame.pts is None:
                    continue
                t = float(frame.pts * vs.time_base)
                last = max(last, t)
                if t >= end - 1.5 / fps:
                    break
        except Exception:  # a decoding error past the truncation point: what was decoded stands
            pass
    return last


def reaches(path: str | os.PathLike, end: float, fps: float | None = None) -> tuple[bool, float]:
    """(whether the video decodes up to `end` within 1.5 frames, the last frame time reached)."""
    last = decodable_until(path, end)
    # the window's last frame starts one frame before `end`; half a frame more is timing slack
    return last >= end - 1.5 / (fps or 25.0) - 1e-6, last


def not_reached(end: float, last: float, header: float) -> str:
    """The problem text for a video that `reaches` found short of `end`."""
    got = f"its last frame there is at {last:.2f} s" if last >= 0 else f"no frame decodes in [{max(end - 1, 0):.2f}, {end:.2f}) s"
    return f"the video does not decode to {end:.2f} s ({got}) although its header says {header:.2f} s"


def _frame_interval(times: list[float]) -> float:
    return float(np.median(np.diff(times))) if len(times) > 1 else 1.0


def keyframe_times(path: str | os.PathLike) -> np.ndarray:
    """Presentation times (s) of the key (I-)frames, read from packet flags without decoding."""
    with _open(path) as c:
        vs = c.streams.video[0]
        out = [float(p.pts * vs.time_base) for p in c.demux(vs) if p.is_keyframe and p.pts is not None]
    return np.sort(np.asarray(out, dtype=np.float64))


def write_video(
    path: str | os.PathLike,
    frames: np.ndarray,
    fps: int,
    gop: int | None = None,
    audio: np.ndarray | None = None,
    sample_rate: int | None = None,
    crf: int = 23,
    faststart: bool = False,
) -> Path:
    """Encode uint8 (T, H, W, 3) frames as H.264 (yuv420p), optionally with AAC audio.

    gop: keyframe interval in frames (default one per second). faststart: the index (moov) at the
    front, as web downloads have it. Written atomically.
    """
    import av

    frames = np.asarray(frames, dtype=np.uint8)
    t, h, w, _ = frames.shape
    if h % 2 or w % 2:
        raise ValueError(f"H.264 yuv420p needs even frame sizes, got {w}x{h}")
    path = Path(path)
    with atomic_path(path) as tmp:
        with av.open(str(tmp), mode="w", format="mp4", options={"movflags": "faststart"} if faststart else {}) as c:
            vs = c.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
            vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
            g = gop or int(round(fps))
            # threads=1: x264 output then depends only on the frames (frame threads made the toy videos vary run to run)
            # mbtree=0: with x264's macroblock tree, 32x32 frames gave other bytes in 2-5 of 200
            # encodes of the same frames in one process (it reads memory it has not written; what
            # a long process left there shows through); 0 of 400 without it. This was the toy
            # build's "one GOP of other pixels inside a long test process".
            vs.options = {"crf": str(crf), "g": str(g), "keyint_min": str(g), "sc_threshold": "0", "bf": "0",
                          "threads": "1", "x264-params": "mbtree=0"}
            # and the codec context itself: no frame or slice threads whatever PyAV's default
            vs.codec_context.thread_count = 1
            vs.codec_context.thread_type = "NONE"
            a_stream = None
            if audio is not None:
                a_stream = c.add_stream("aac", rate=sample_rate)
                a_stream.layout = "mono"
            for img in frames:
                # RGB -> YUV here, single-threaded: PyAV's implicit conversion (threaded swscale since
                # PyAV 17, threads=0 = auto) varied run to run, and x264 then encoded different frames
                yuv = av.VideoFrame.from_ndarray(img, format="rgb24").reformat(format="yuv420p", threads=1)
                for pkt in vs.encode(yuv):
                    c.mux(pkt)
            for pkt in vs.encode():
                c.mux(pkt)
            if a_stream is not None:
                _encode_audio(c, a_stream, audio, sample_rate)
    return path


def _encode_audio(container, stream, audio: np.ndarray, sample_rate: int) -> None:
    import av

    mono = np.asarray(audio, dtype=np.float32).reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(mono, format="flt", layout="mono")
    frame.sample_rate = sample_rate
    frame.pts = 0
    for pkt in stream.encode(frame):
        container.mux(pkt)
    for pkt in stream.encode():
        container.mux(pkt)


def mux_audio(video_path: str | os.PathLike, audio: np.ndarray, sample_rate: int, out_path: str | os.PathLike) -> Path:
    """Copy the video stream of `video_path` (no re-encode) and add `audio` as AAC."""
    import av

    out_path = Path(out_path)
    with _open(video_path) as src, atomic_path(out_path) as tmp:
        with av.open(str(tmp), mode="w", format="mp4") as dst:
            ivs = src.streams.video[0]
            ovs = dst.add_stream_from_template(ivs)
            a_stream = dst.add_stream("aac", rate=sample_rate)
            a_stream.layout = "mono"
            for pkt in src.demux(ivs):
                if pkt.dts is None:
                    continue
                pkt.stream = ovs
                dst.mux(pkt)
            _encode_audio(dst, a_stream, audio, sample_rate)
    return out_path


def decode_audio_track(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Decode a video's first audio track as float32 (samples, channels) and its rate.

    Samples are placed relative to the video stream's start, so t=0 of the result is the
    first frame's time (an audio track that starts later is zero-padded at the front, one
    that starts earlier is trimmed).
    """
    import av

    path = Path(path)
    if not path.exists():
        raise MediaError(path, "video file not found")
    try:
        container = av.open(str(path))
    except Exception as exc:
        raise MediaError(path, f"cannot open video ({exc})", "the file is corrupt or not a video") from exc
    with container:
        if not container.streams.audio:
            raise MediaError(path, "the video has no audio track; its music is the reference, so it is needed",
                             "download the video with its audio")
        stream = container.streams.audio[0]
        sr = int(stream.codec_context.sample_rate or stream.rate or 0)
        if sr <= 0:
            raise MediaError(path, "the audio track has no sample rate")
        v0 = 0.0
        if container.streams.video:
            vs = container.streams.video[0]
            if vs.start_time is not None and vs.time_base is not None:
                v0 = float(vs.start_time * vs.time_base)
        resampler = av.AudioResampler(format="fltp")  # planar float; layout and rate kept
        chunks: list[np.ndarray] = []
        first_time = None
        try:
            for frame in container.decode(stream):
                if first_time is None and frame.time is not None:
                    first_time = float(frame.time)
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray())
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray())
        except Exception as exc:
            raise MediaError(path, f"audio decoding failed after {sum(c.shape[1] for c in chunks)} samples ({exc})",
                             "the file is truncated or corrupt; re-download it") from exc
    if not chunks:
        raise MediaError(path, "the audio track has no decodable samples")
    audio = np.concatenate(chunks, axis=1).T.astype(np.float32, copy=False)
    offset = int(round(((first_time or 0.0) - v0) * sr))
    if offset > 0:
        audio = np.concatenate([np.zeros((offset, audio.shape[1]), np.float32), audio])
    elif offset < 0:
        audio = audio[-offset:]
    if not np.isfinite(audio).all():
        raise MediaError(path, "the audio track decodes to NaN or Inf samples")
    return audio, sr
