"""Frames of a video for the Diff-BGM feature drivers (diffbgm_captions, diffbgm_clip2video,
diffbgm_scenes), which run in the baseline's environment: Python 3.8 syntax, PyAV or OpenCV.

PyAV is preferred: it scales with libswscale, as the ffmpeg command line that TransNetV2's
`predict_video` and CLIP2Video's `sample_frame.py` call does (bicubic); OpenCV (in Diff-BGM's
requirements) is the fallback, with area interpolation for the large down-scaling to 48x27.
"""


def frames(path, fps=None, size=None):
    """Yield RGB frames (H, W, 3 uint8) of `path`: one per 1/fps seconds of presentation time
    (every frame when fps is None), resized to size=(width, height) when given."""
    try:
        import av
    except ImportError:
        av = None
    if av is not None:
        for frame in _frames_av(av, path, fps, size):
            yield frame
        return
    import cv2

    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise SystemExit("cannot open video %s" % path)
    native = cap.get(cv2.CAP_PROP_FPS) or 25.0
    next_t, i = 0.0, 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        t = i / native
        i += 1
        if fps is not None:
            if t + 1e-6 < next_t:
                continue
            next_t += 1.0 / fps
        if size is not None:
            frame = cv2.resize(frame, tuple(size), interpolation=cv2.INTER_AREA)
        yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    cap.release()


def _frames_av(av, path, fps, size):
    next_t = 0.0
    with av.open(path) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            if fps is not None:
                t = float(frame.pts * stream.time_base) if frame.pts is not None else next_t
                if t + 1e-6 < next_t:
                    continue
                next_t += 1.0 / fps
            if size is not None:
                yield frame.to_ndarray(format="rgb24", width=size[0], height=size[1], interpolation="BICUBIC")
            else:
                yield frame.to_ndarray(format="rgb24")
