"""Stand-in for CMT's src/video2npz/optical_flow.py: --video X.mp4 → flow/X.npz (in the CWD)."""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
import common  # noqa: E402
import numpy as np  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--method", default="farneback")
p.add_argument("--video", default="../../videos/final_640.mp4")
a = p.parse_args()
common.misbehave(os.path.basename(a.video))
for d in ("videos", "flow", "image", "optical_flow"):
    os.makedirs(d, exist_ok=True)
import av  # noqa: E402

with av.open(a.video) as c:
    h = c.streams.video[0].codec_context.height
if h != 360:
    raise SystemExit("stand-in: CMT expects a 360p video, got %dp" % h)
np.savez(os.path.join("flow", os.path.basename(a.video).split(".")[0] + ".npz"), flow=np.ones(10))
