"""Video2Music (Kang et al. 2024, "Video2Music: Suitable music generation from videos using an
Affective Multimodal Transformer model").

Contract read from AMAAI-Lab/Video2Music at 0ba435602c42308da3da1de1b74c8ea599fa5472:
`README.md` ("Quickstart Guide": `Video2music().generate(video, primer, key)`), `video2music.py`
(`Video2music.__init__` loads `saved_models/AMT/best_loss_weights.pickle` and
`best_rmse_weights.pickle` relative to the working directory; `generate` deletes `./feature`
and `./output`, extracts frames at 1 fps with an unquoted `ffmpeg -i {video}`, runs CLIP
ViT-L/14@336px, scenedetect and motion features, reads `dataset/vevo_meta/*.json`, and writes
`./output/output.mid` — 300 one-second chords at tempo 120 whatever the video's length —
then renders it with its own soundfont and muxes an mp4), `requirements.txt`.
`generate.py` only works on the authors' own dataset, so the adapter drives the API through
`drivers/video2music_generate.py`.

Per clip: a fresh working directory with `saved_models`, `dataset` and `soundfonts` linked to the
working copy; the clip's video (no spaces in its path); the driver → `output.mid`.

What the adapter changes: the MIDI is rendered by the harness (FluidR3_GM, protocol rate) and
only its first clip-duration seconds are kept (the 300 chords run past any clip); a failure of
Video2Music's own renderer after the MIDI exists is ignored. Seeded by the launcher.
"""

from __future__ import annotations

import os
from pathlib import Path

from systems.baselines.contract import WorkPath
from systems.baselines.external import BaselineError, ExternalSystem, Weight
from systems.baselines.normalise import RawOutput

LINKED = ("dataset", "soundfonts")


class Video2MusicSystem(ExternalSystem):
    """Video2Music: affective multimodal transformer → chord MIDI (CLIP, emotion, scene, motion)."""

    output_type = "midi"
    repo_url = "https://github.com/AMAAI-Lab/Video2Music"
    commit = "0ba435602c42308da3da1de1b74c8ea599fa5472"
    python_version = "3.8"
    entry_point = "video2music.py"
    weight_files = (Weight("weights_dir", "https://drive.google.com/file/d/1qpcBXF04pgdy9hqRexr0mTx7L9_CAFpt "
                                          "(AMT.zip: best_loss_weights.pickle, best_rmse_weights.pickle) "
                                          "extracted to <repo>/saved_models/AMT/; CLIP ViT-L/14@336px is "
                                          "fetched into ~/.cache/clip on first use"),)
    changes = ("MIDI rendered by the harness with FluidR3_GM; the first clip-duration seconds of its "
               "300 s chord sequence are kept",
               "its own midi2audio/moviepy rendering is not used (a failure there is ignored)",
               "seeded by the launcher")
    max_output_seconds = None
    called_functions = {"video2music.py": ("*",)}  # the driver calls Video2music.__init__ and .generate
    work_paths = tuple(WorkPath(f"dataset/vevo_meta/{f}.json", "prepared", "dataset/ linked to the repository's")
                       for f in ("chord", "chord_inv", "chord_root", "chord_attr")) + (
        WorkPath("feature", "made by the code", "generate() deletes and remakes it on every call"),
        WorkPath("output", "collected", "generate() deletes and remakes it; the driver copies output/output.mid"),
    )

    def run_one(self, req, work, attempt):
        video = self.clip_video(req, name=req.clip.id)
        # generate() reads these relative to its working directory; the weights may live elsewhere
        (work / "saved_models").mkdir()
        os.symlink(Path(str(self.options["weights_dir"])).absolute(), work / "saved_models" / "AMT")
        for name in LINKED:
            target = self.repo_dir / name
            if target.exists():
                os.symlink(target, work / name)
        out = work / "generated.mid"
        tag = video.stem + ("" if req.sample_index == 0 else f".s{req.sample_index}")
        self.step("generate", tag, attempt, work, video=video, out=out, seed=req.seed)
        if not out.is_file():
            raise BaselineError(f"Video2Music exited 0 but wrote no MIDI (see {self.log_dir}/{tag}.generate.try{attempt}.err)")
        return RawOutput(out, "midi")
