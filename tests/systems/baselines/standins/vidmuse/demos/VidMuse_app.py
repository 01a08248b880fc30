"""Stand-in for VidMuse's demos/VidMuse_app.py: load_model and _do_predictions' contract.

The duration is the video's, floored to whole seconds; the audio is written to a
NamedTemporaryFile in the system temp folder (32 kHz stereo, a 330 Hz tone), a merged video
path under ./demo_result/ that a background process pool writes (as the real module's
`pool.submit(merge_audio_video, ...)`, here a merge that takes 1.5 s), and then it sleeps 8 s:
infer.py renames the merged video first, so without a wait for the pool it dies with
FileNotFoundError. STANDIN_NAN=<clip> writes NaN samples, STANDIN_LONG=<clip> three minutes of audio.
"""
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from tempfile import NamedTemporaryFile

import audiocraft

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
import common  # noqa: E402

MODEL = None
pool = ProcessPoolExecutor(4)
pool.__enter__()


def merge_audio_video(video_path, audio_path, output_path):
    time.sleep(1.5)  # ffmpeg muxing the audio into the video
    with open(output_path, "wb") as fh:
        fh.write(b"merged")


def load_model(version="facebook/musicgen-melody"):
    global MODEL
    if not getattr(audiocraft, "VIDMUSE_MODIFIED", False):
        raise ImportError("the installed audiocraft shadows VidMuse's modified one")
    for f in ("state_dict.bin", "compression_state_dict.bin"):
        if not os.path.isfile(os.path.join(version, f)):
            raise FileNotFoundError(os.path.join(version, f))
    MODEL = version


def _do_predictions(video, duration, progress=False, gradio_progress=None, **gen_kwargs):
    import av
    import numpy as np
    import soundfile as sf

    video_path = video[0]
    name = os.path.basename(video_path)
    common.misbehave(name)
    with av.open(video_path) as c:
        duration = int(float(c.duration) / 1e6)
    if common.matches("STANDIN_LONG", name):
        duration = 180
    audio = common.tone(max(duration, 1), 32000, 330.0, channels=2)
    if common.matches("STANDIN_NAN", name):
        audio[:] = np.nan
    with NamedTemporaryFile("wb", suffix=".wav", delete=False) as file:
        sf.write(file.name, audio, 32000, format="WAV", subtype="FLOAT")
    os.makedirs("demo_result", exist_ok=True)
    merged = "./demo_result/merged_video_%s.mp4" % os.path.basename(file.name)[:-4]
    pending = [pool.submit(merge_audio_video, video_path, file.name, merged)]
    time.sleep(8)
    return [merged], [file.name]
