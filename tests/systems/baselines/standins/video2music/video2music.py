"""Stand-in for Video2Music's video2music.py: the `Video2music` class and its `generate` contract.

`__init__` loads saved_models/AMT/*.pickle relative to the CWD; `generate(video, primer, key)`
deletes ./feature and ./output, refuses paths with spaces (the real one runs ffmpeg unquoted),
reads dataset/vevo_meta/chord.json, writes ./output/output.mid — 300 one-second chords at
tempo 120, whatever the video — and then renders with soundfonts/default_sound_font.sf2, which
fails here (no soundfont): the harness must ignore that.
"""
import json
import os
import shutil
import sys
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import common  # noqa: E402


class Video2music:
    def __init__(self, name="amaai-lab/video2music", device="cuda:0", cache_dir=None, local_files_only=False):
        for f in ("saved_models/AMT/best_loss_weights.pickle", "saved_models/AMT/best_rmse_weights.pickle"):
            if not os.path.isfile(f):
                raise FileNotFoundError(f)
        self.SF2_FILE = "soundfonts/default_sound_font.sf2"

    def generate(self, video, primer, key):
        import pretty_midi

        for d in ("feature", "output"):
            if Path(d).exists():
                shutil.rmtree(d)
            Path(d).mkdir(parents=True)
        if " " in str(video):
            raise RuntimeError("ffmpeg: No such file or directory: %s" % str(video).split(" ")[0])
        common.misbehave(os.path.basename(str(video)))
        json.load(open("dataset/vevo_meta/chord.json"))
        pm = pretty_midi.PrettyMIDI(initial_tempo=120)
        inst = pretty_midi.Instrument(program=0)
        root = 48 if "minor" in key else 60
        for i in range(300):  # MIDIUtil: duration 2 beats at 120 bpm = 1 s per chord
            for p in (root, root + 4, root + 7):
                inst.notes.append(pretty_midi.Note(velocity=80, pitch=p, start=float(i), end=i + 0.9))
        pm.instruments.append(inst)
        pm.write("output/output.mid")
        if not os.path.isfile(self.SF2_FILE):
            raise FileNotFoundError("fluidsynth: cannot load soundfont " + self.SF2_FILE)
        return Path("output/output.mp4")
