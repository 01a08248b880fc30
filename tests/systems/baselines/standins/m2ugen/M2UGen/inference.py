"""Stand-in for M²UGen's M2UGen/inference.py: same arguments; writes temp/<random>.wav (CWD).

The answer's audio is a 440 Hz tone lasting the video's rounded length at MusicGen's 32 kHz.
STANDIN_M2UGEN_HEADER=16000 writes those 32 kHz samples with a 16 kHz header (the repository's
evaluation-script bug); STANDIN_NO_AUDIO=<clip> answers without [AUD] tokens (no file).
"""
import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
import common  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--model", default="./ckpts/checkpoint.pth")
p.add_argument("--llama_type", default="7B")
p.add_argument("--llama_dir", default="/path/to/llama")
p.add_argument("--mert_path", default="m-a-p/MERT-v1-330M")
p.add_argument("--vit_path", default="m-a-p/MERT-v1-330M")
p.add_argument("--vivit_path", default="m-a-p/MERT-v1-330M")
p.add_argument("--knn_dir", default="./ckpts")
p.add_argument("--music_decoder", default="musicgen")
p.add_argument("--music_decoder_path", default="facebook/musicgen-medium")
p.add_argument("--prompt", default="Generate a music")
p.add_argument("--audio_file", default=None)
p.add_argument("--image_file", default=None)
p.add_argument("--video_file", default=None)
a = p.parse_args()
if "MERT" in a.vit_path or "MERT" in a.vivit_path:
    raise SystemExit("stand-in: ViT/ViViT paths point at MERT (the script's wrong defaults)")
for f in (a.model, a.llama_dir):
    if not os.path.exists(f):
        raise FileNotFoundError(f)
name = os.path.basename(a.video_file)
common.misbehave(name)
import av  # noqa: E402
import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

with av.open(a.video_file) as c:
    seconds = int(round(float(c.duration) / 1e6))
start = np.random.randint(0, 1000)  # the real script's random frame window: seeded by the launcher
print("Video Length: %d (frame window from %d)" % (seconds, start))
if common.matches("STANDIN_NO_AUDIO", name):
    print("A. I can describe this video, but here is no music.")
    raise SystemExit(0)
os.makedirs("temp", exist_ok=True)
out = os.path.join("temp", next(tempfile._get_candidate_names()) + ".wav")
sf.write(out, common.tone(seconds, 32000, 440.0), int(os.environ.get("STANDIN_M2UGEN_HEADER", "32000")))
print("Generated Audio: " + out)
