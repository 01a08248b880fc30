"""Stand-in for Diff-BGM's diffbgm/inference_sdf.py.

Loops over split[1] of data/train_split_pnt/pop909_new.pickle (indices 0–49 but 29) with a bare
`except: continue`; each song needs data/POP909_4_bin_pnt_8bar/<id>.npz and its three BGM909
features relative to the CWD (read as its dataset.py does: torch.load of a (frames x 512)
tensor, np.load of a 2-D array, the shot file's lines counted), and is written to exp/visual+caption_mask2/<id>.mid (a folder the
script does not create). The piece: 60 s of notes, one every 0.25 s, its pitch rising by one
semitone per second (so a segment's position in the song is audible).
"""
import os
import pickle
import sys
from argparse import ArgumentParser

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
import common  # noqa: E402

parser = ArgumentParser()
parser.add_argument("--model_dir")
parser.add_argument("--uncond_scale", default=1.0)
parser.add_argument("--seed")
args = parser.parse_args()
with open(os.path.join(args.model_dir, "params.json")) as f:
    f.read()
split = pickle.load(open(os.path.join("data/train_split_pnt", "pop909_new.pickle"), "rb"))
for ind in range(50):
    if ind == 29:
        continue
    try:
        song_fn = split[1][ind]
        song = song_fn[: song_fn.find(".")]
        np.load(os.path.join("data/POP909_4_bin_pnt_8bar", song_fn))
        import torch

        # as diffbgm/data/dataset.py: a (frames x 512) tensor, an (n x d) array, one scene a line
        visual = torch.load("./data/bgm909/new_raw_video_feats/%s.pth" % song, map_location="cpu")
        assert visual.ndim == 2 and visual.shape[1] == 512, visual.shape
        visual[[0] * 4, :]
        assert np.load("./data/bgm909/caption_feats/%s.npy" % song).ndim == 2
        with open("./data/bgm909/detection/%s_scenes.txt" % song) as f:
            assert sum(1 for _ in f) >= 1
        common.misbehave("song" + song)
        import pretty_midi

        pm = pretty_midi.PrettyMIDI(initial_tempo=120)
        inst = pretty_midi.Instrument(program=0)
        for k in range(240):
            t = k * 0.25
            inst.notes.append(pretty_midi.Note(velocity=90, pitch=48 + int(t), start=t, end=t + 0.2))
        pm.instruments.append(inst)
        path = "exp/visual+caption_mask2/%s.mid" % song
        if not os.path.isdir(os.path.dirname(path)):
            raise FileNotFoundError(path)
        pm.write(path)
    except:  # noqa: E722  (the real script's bare except)
        continue
