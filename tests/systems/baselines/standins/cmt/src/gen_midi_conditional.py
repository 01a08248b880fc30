"""Stand-in for CMT's gen_midi_conditional.py: -f X.npz -c CKPT -n N -g GPU → X.npz_<i>.mid at tempo 120.

Like the real script (muspy.write_midi without tempos) the file is written at 120 bpm while the
music is planned on the video's beat grid: one note per beat of the metadata tempo, i.e. one
note every 0.5 s at 120 bpm. STANDIN_EMPTY_MIDI=<clip> writes a MIDI without notes.
"""
import argparse
import glob
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
import common  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("-c", "--ckpt", default="../exp/loss_8_params.pt")
p.add_argument("-f", "--files", required=True)
p.add_argument("-g", "--gpus")
p.add_argument("-n", "--num_songs", default=1)
a = p.parse_args()
if a.gpus is not None and not a.gpus.isnumeric():
    raise RuntimeError("Only 1 GPU is needed for inference")
if not os.path.isfile(a.ckpt):
    raise FileNotFoundError(a.ckpt)
files = glob.glob(a.files)
if not files:
    raise RuntimeError("no npz file in " + str(files))
for fn in files:
    for i in range(int(a.num_songs)):
        common.write_beats_midi(fn + "_%d.mid" % i, 8, 0.5, tempo_bpm=120,
                                n_notes=0 if common.matches("STANDIN_EMPTY_MIDI", fn) else None)
