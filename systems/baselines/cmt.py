"""CMT (Di et al. 2021, "Video Background Music Generation with Controllable Music Transformer").

Contract read from wzk1015/video-bgm-generation at 78eb9a5895cb4c61d74ccb68a0da492f5e418976:
`README.md` ("Inference"), `src/video2npz/video2npz.sh`, `src/video2npz/optical_flow.py`,
`src/video2npz/video2metadata.py`, `src/video2npz/metadata2numpy_mix.py`,
`src/gen_midi_conditional.py`, `src/numpy2midi_mix.py`.

Per clip, in a fresh working directory (the three video2npz scripts write `flow/`,
`optical_flow/`, `image/` and `metadata.json` into their working directory):

1. the clip is cut from its video and scaled to 360p (the README's `ffmpeg -vf scale=-1:360`);
2. `optical_flow.py --video X.mp4` → `flow/X.npz`;
3. `video2metadata.py --video X.mp4` → `metadata.json` (visual beats, **tempo**);
4. `metadata2numpy_mix.py --video X.mp4 --metadata metadata.json --out_dir inference/` →
   `inference/X.npz` (what `video2npz.sh` does, with the output folder made explicit instead of
   `../../inference/`);
5. `gen_midi_conditional.py -f inference/X.npz -c loss_8_params.pt -n 1 -g <gpu>` →
   `inference/X.npz_0.mid` (5 tracks: drums, piano, guitar, bass, strings).

What the adapter changes: the MIDI is written at tempo 120 (muspy's default) while the music
was planned at the video's tempo, so it is rendered with every time × 120 / tempo (tempo from
`metadata.json`, as the README's "Convert midi into audio" step says), with FluidR3_GM at the
protocol rate instead of GarageBand/midi2audio. The script takes no seed: the launcher seeds
random/numpy/torch.
"""

from __future__ import annotations

import json
from pathlib import Path

from core.errors import MediaError
from systems.baselines.contract import WorkPath
from systems.baselines.external import BaselineError, ExternalSystem, Weight
from systems.baselines.normalise import RawOutput

WRITTEN_TEMPO = 120.0  # muspy.write_midi's tempo when the Music has none (numpy2midi_mix.py)


def tempo_scale(metadata_path: Path) -> float:
    """120 / the tempo CMT planned the music at (metadata.json's `tempo`)."""
    try:
        tempo = float(json.loads(Path(metadata_path).read_text())["tempo"])
    except FileNotFoundError:
        raise MediaError(metadata_path, "CMT's video2metadata.py wrote no metadata.json") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise MediaError(metadata_path, f"no usable 'tempo' in CMT's metadata ({exc})") from exc
    if not 10.0 <= tempo <= 400.0:
        raise MediaError(metadata_path, f"implausible tempo {tempo} bpm in CMT's metadata")
    return WRITTEN_TEMPO / tempo


class CMTSystem(ExternalSystem):
    """CMT: controllable music transformer on visual beats and motion (MIDI, 5 instruments)."""

    output_type = "midi"
    repo_url = "https://github.com/wzk1015/video-bgm-generation"
    commit = "78eb9a5895cb4c61d74ccb68a0da492f5e418976"
    python_version = "3.8"
    entry_point = "src/gen_midi_conditional.py"
    post_install = (("{python}", "-m", "pip", "install", "{repo}/src/video2npz/visbeat3"),)
    weight_files = (Weight("checkpoint", "https://drive.google.com/file/d/1KvIRRm0KqTlEFDjAgs4fMtLRQBq0rBWy "
                                         "(loss_8_params.pt; README 'Preparation'), put under <repo>/exp/"),)
    changes = ("MIDI rendered with all times x 120/tempo (metadata.json), FluidR3_GM at the protocol rate",
               "seeded by the launcher (the script has no seed)")
    STEPS = ("optical_flow", "metadata", "npz", "generate")
    repo_pythonpath = {"*": ("src/video2npz",)}
    # Every step runs in <work>/src/video2npz, the folder video2npz.sh runs in: optical_flow.py makes
    # '../../videos/' at import, which from there is the clip's own <work>/videos (from the clip
    # folder's root it would be a folder shared by every clip of the run, made by racing processes).
    CWD = "src/video2npz"
    step_cwd = dict.fromkeys(STEPS, CWD)
    work_paths = (
        WorkPath("../../videos", "made by the code", "optical_flow.py's makedirs at import: <work>/videos", CWD),
        WorkPath("flow", "made by the code", "optical_flow.py: flow/<stem>.npz", CWD),
        WorkPath("fig", "made by the code", "optical_flow.py's plots", CWD),
        WorkPath("optical_flow/flow.npz", "made by the code", "optical_flow.py; video2metadata.py reads it", CWD),
        WorkPath("image", "made by the code", "video2metadata.py's figures", CWD),
        WorkPath("metadata.json", "collected", "video2metadata.py writes it; the adapter reads its tempo", CWD),
        WorkPath(".", "made by the code", "visbeat3's Video.VIDEO_TEMP_DIR: its temporary files", CWD),
        WorkPath("VisBeatAssets", "made by the code", "visbeat3's assets folder", CWD),
        WorkPath("../dataset", "unused", "gen_midi_conditional.py appends it to sys.path; nothing is imported "
                                         "from it", CWD),
    )
    required_programs = ("ffmpeg", "ffprobe")  # scikit-video and moviepy call them

    def run_one(self, req, work, attempt):
        stem = req.clip.id.replace(".", "_")
        video = self.clip_video(req, height=int(self.options.get("height", 360)), name=stem)
        work = work / self.CWD
        (work / "inference").mkdir(parents=True)
        fields = dict(video=video, stem=video.stem, seed=req.seed)
        tag = Path(video.stem + ("" if req.sample_index == 0 else f".s{req.sample_index}"))
        for step in self.STEPS:
            self.step(step, str(tag), attempt, work, **fields)
        midi = work / "inference" / f"{video.stem}.npz_0.mid"
        if not midi.is_file():
            raise BaselineError(f"CMT exited 0 but wrote no {midi.name} (see {self.log_dir}/{tag}.generate.try{attempt}.out)")
        scale = tempo_scale(work / "metadata.json")
        return RawOutput(midi, "midi", tempo_scale=scale, changes=[f"times x {scale:.4f} (120 bpm -> video tempo)"])
