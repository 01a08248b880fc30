"""Stand-in for CMT's video2metadata.py: reads flow/X.npz, writes metadata.json (with the tempo) in the CWD."""
import argparse
import json
import os

import numpy as np

p = argparse.ArgumentParser()
p.add_argument("--video", default="../../videos/final_640.mp4")
p.add_argument("--visualize", action="store_true", default=True)
p.add_argument("--resolution", type=int, default=1)
a = p.parse_args()
video = os.path.basename(a.video)
np.load("flow/" + video.replace(".mp4", ".npz"), allow_pickle=True)
tempo = float(os.environ.get("STANDIN_TEMPO", "90"))
with open("metadata.json", "w") as f:
    json.dump({"duration": 2.0, "tempo": tempo, "vbeats": [], "flow_magnitude_per_bar": [1.0]}, f)
