"""VidMuse (Tian et al. 2025, "VidMuse: A Simple Video-to-Music Generation Framework with
Long-Short-Term Modeling").

Contract read from ZeyueT/VidMuse at 1e9296e78a85c4a3f291be37a2d6de42c1d26222: `infer.py`
(`--model_path --video_dir --output_dir --topk --topp --temperature --cfg_coef`; every `*.mp4`
of the folder; skips an output that exists; moves the result from the system temp folder with
`Path.rename`, which fails across file systems; writes `<stem>_output.wav` and `_output.mp4`),
`demos/VidMuse_app.py` (`_do_predictions`: duration = `int(video duration)`, 32 kHz,
`audio_write(strategy="loudness")`, `./demo_result/` in the working directory, `time.sleep(8)`
per video), `README.md` (Python 3.9, weights `state_dict.bin` + `compression_state_dict.bin`
from huggingface.co/HKUSTAudio/VidMuse in `./model`), `requirements.txt`. The repository ships a
modified `audiocraft/` that must shadow any installed audiocraft: the launcher puts the
repository first on `sys.path`.

Per clip: a fresh working directory holding `videos/<clip>.mp4` and `out/`; `TMPDIR` set to it
(so the rename stays on one file system); `infer.py` → `out/<clip>_output.wav`.

What the adapter changes: the 8-second sleep waits for the background ffmpeg merge instead
(`--wait-pool-from demos.VidMuse_app`: `infer.py` renames the merged video before the wav, so
skipping the sleep made every clip fail; a fixed sleep can be too short);
seeded by the launcher; a clip whose duration is not a whole number of seconds is generated for
the floored duration and zero-padded (recorded in normalisation.jsonl).
"""

from __future__ import annotations

import os

from systems.baselines.contract import WorkPath
from systems.baselines.external import BaselineError, ExternalSystem, Weight
from systems.baselines.normalise import RawOutput


class VidMuseSystem(ExternalSystem):
    """VidMuse: long-short-term visual conditioning of a MusicGen-style LM (audio, 32 kHz)."""

    repo_url = "https://github.com/ZeyueT/VidMuse"
    commit = "1e9296e78a85c4a3f291be37a2d6de42c1d26222"
    python_version = "3.9"
    entry_point = "infer.py"
    weight_files = (Weight("model_path", "huggingface.co/HKUSTAudio/VidMuse (state_dict.bin and "
                                         "compression_state_dict.bin in one folder; CLIP "
                                         "openai/clip-vit-base-patch32 comes from the Hugging Face cache)"),)
    changes = ("its 8 s sleep per video waits for its background ffmpeg merge instead", "seeded by the launcher",
               "TMPDIR is the clip's working directory (its rename from /tmp fails across file systems)")

    # audiocraft/models/loaders.py reads pkg['xp.cfg'] and pkg['best_state'] of both files
    weight_keys = {"state_dict.bin": ("xp.cfg", "best_state"), "compression_state_dict.bin": ("xp.cfg", "best_state")}
    called_functions = {"demos/VidMuse_app.py": ("*",)}  # infer.py calls load_model and _do_predictions
    work_paths = (
        WorkPath("demo_result/merged_video_*.mp4", "made by the code",
                 "merge_audio_video writes it in a background process; infer.py renames it to the output folder"),
        WorkPath("*.mp4", "replaced", "infer.py globs *.mp4 inside --video_dir: <work>/videos, the clip's video alone"),
        WorkPath("model", "unused", "the web demo's default model folder; infer.py loads --model_path"),
    )
    required_programs = ("ffmpeg",)  # merge_audio_video runs it; moviepy reads the duration with it

    def run_one(self, req, work, attempt):
        video = self.clip_video(req, name=req.clip.id)
        (work / "videos").mkdir()
        (work / "out").mkdir()
        os.symlink(video, work / "videos" / video.name)
        tag = video.stem + ("" if req.sample_index == 0 else f".s{req.sample_index}")
        self.step("generate", tag, attempt, work, step_env={"TMPDIR": work}, seed=req.seed,
                  video_dir=work / "videos", out_dir=work / "out")
        out = work / "out" / f"{video.stem}_output.wav"
        if not out.is_file():
            raise BaselineError(f"VidMuse exited 0 but wrote no {out.name} "
                                f"(see {self.log_dir}/{tag}.generate.try{attempt}.err)")
        return RawOutput(out)
