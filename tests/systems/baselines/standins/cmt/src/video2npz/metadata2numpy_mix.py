"""Stand-in for CMT's metadata2numpy_mix.py: --video --metadata --out_dir → <out_dir>/X.npz."""
import argparse
import json
import os

import numpy as np

p = argparse.ArgumentParser()
p.add_argument("--out_dir", default="../../inference/")
p.add_argument("--video", default="final_640.mp4")
p.add_argument("--metadata", default="metadata.json")
a = p.parse_args()
with open(a.metadata) as f:
    meta = json.load(f)
target = os.path.join(a.out_dir, os.path.basename(a.video).replace(".mp4", ".npz"))
np.savez(target, input=np.array([[meta["tempo"], 0, 0]]))
