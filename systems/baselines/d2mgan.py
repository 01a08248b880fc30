"""D2M-GAN (Zhu et al. 2022, "Quantized GAN for Complex Music Generation from Dance Videos").

Contract read from L-YeZhu/D2M-GAN at 5dc5bbf3f83054107069f8625739c9d6b5c70705: `README.md`
("Testing": `python generate_aist.py --model=5b --load_path=./logs_aist_high
--result_path=./audio_result_aist --model_level=high`; checkpoints `mencoder.pt` + `netG.pt`
from Drive; the preprocessed 2-second AIST++ segments), `generate_aist.py` (reads
`./dataset/aist_{audio,video,motion}_test_segment.txt`, `./dataset/test_genre.npy` and
`./models/vqvae_{high,low}.pt` relative to the working directory; writes
`<result_path>/generated_{i}.wav` for the i-th listed segment, from 1, at 22.05 kHz, 44032
samples at the high level — plus `original_{i}.wav` and `vqvae_{i}.wav`; sets
`os.environ["CUDA_VISIBLE_DEVICES"] = "1"` before anything else), `d2m/dataset.py`,
`dataset/aist_*_test_segment.txt` (86 segments).

It runs only on its own segmentation: the `aist_d2mgan` dataset (2 s clips named after the
segments). Per batch of clips: a fresh working directory with `dataset/` lists holding just
those segments (paths into `data_dir`, the authors' preprocessed data), their genre rows, and
`models/` linked to the working copy; one `generate_aist.py` run.

What the adapter changes: `CUDA_VISIBLE_DEVICES` stays what the harness sets (`gpu` option;
the launcher pins it); seeded by the launcher (one seed per batch); 44032 samples are padded to
2 s (recorded). Only `generated_{i}.wav` is read — `original_{i}.wav` is the ground truth.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from systems.baselines import segments
from systems.baselines.contract import WorkPath
from systems.baselines.external import BaselineError, ExternalSystem, Weight, free_port, lfs_pointer
from systems.baselines.normalise import RawOutput


class SegmentBaseline(ExternalSystem):
    """Shared by D2M-GAN and CDCD: batches of segments listed in the authors' list format."""

    seconds: int = 2
    list_split = "test"
    list_dir = "dataset"  # the folder of the official lists in the repository
    list_names = {k: f"aist_{k}_test_segment.txt" for k in segments.KINDS}
    genre_name = "test_genre.npy"

    def batch_inputs(self, reqs) -> tuple[list[str], dict[str, list[Path]], np.ndarray]:
        names = [segments.segment_name(r.clip) for r in reqs]
        data_dir = Path(str(self.options["data_dir"]))
        files = {k: [] for k in segments.KINDS}
        for n in names:
            for k, p in segments.segment_files(data_dir, self.seconds, self.list_split, n).items():
                files[k].append(p.absolute())
        lists = self.repo_dir / self.list_dir
        order = segments.read_list(lists / self.list_names["video"])
        return names, files, segments.genre_rows(lists / self.genre_name, order, names)


class D2MGANSystem(SegmentBaseline):
    """D2M-GAN: VQ-GAN over Jukebox codes from dance motion and I3D video features (audio, 22.05 kHz)."""

    repo_url = "https://github.com/L-YeZhu/D2M-GAN"
    commit = "5dc5bbf3f83054107069f8625739c9d6b5c70705"
    python_version = "3.8"
    entry_point = "generate_aist.py"
    weight_files = (
        Weight("load_path", "the README's 'motion encoder' and 'music VQ generator' Drive links "
                            "(mencoder.pt, netG.pt) in one folder"),
        Weight("data_dir", "the README's preprocessed AIST++ 2 s segments (video_s2/, motion_s2/, audio_s2/)"),
    )
    repo_pythonpath = {"*": ("",)}
    changes = ("CUDA_VISIBLE_DEVICES pinned to the harness's value (the script hard-codes '1')",
               "MASTER_PORT: a free port per batch, pinned (setup_dist_from_mpi hard-codes 29500)",
               "seeded by the launcher, one seed per batch", "outputs padded to 2 s (44032 samples)")

    called_functions = {"jukebox/utils/dist_utils.py": ("setup_dist_from_mpi", "_setup_dist_from_mpi")}
    work_paths = tuple(WorkPath(f"dataset/{f}", "prepared", "the batch's segments only") for f in (
        "aist_audio_test_segment.txt", "aist_video_test_segment.txt", "aist_motion_test_segment.txt",
        "test_genre.npy")) + (
        WorkPath("models/vqvae_high.pt", "prepared", "models/ linked to the repository's (git LFS files)"),
        WorkPath("models/vqvae_low.pt", "prepared", "models/ linked to the repository's (git LFS files)"),
    )

    VQVAE = ("models/vqvae_high.pt", "models/vqvae_low.pt")  # git-LFS files of the repository

    @classmethod
    def readiness(cls, config: dict) -> list[str]:
        problems = super().readiness(config)
        repo = config.get("repo_dir")
        if repo and (Path(os.path.expanduser(str(repo))) / cls.entry_point).is_file():
            level = str(config.get("model_level", "high"))
            f = Path(os.path.expanduser(str(repo))) / f"models/vqvae_{level}.pt"
            if not f.is_file():
                problems.append(f"weights: {f} not found (generate_aist.py loads ./models/vqvae_{level}.pt); it is a "
                                f"git-LFS file of {cls.repo_url}: run `git lfs pull` in the repository")
            elif lfs_pointer(f):
                problems.append(f"weights: {f} is a git-LFS pointer, not the model; run `git lfs pull` in the repository")
        return problems

    def run_batch(self, reqs, work, attempt):
        names, files, genres = self.batch_inputs(reqs)
        (work / "dataset").mkdir()
        for k in segments.KINDS:
            (work / "dataset" / self.list_names[k]).write_text("".join(f"{p}\n" for p in files[k]))
        np.save(work / "dataset" / self.genre_name, genres)
        os.symlink(self.repo_dir / "models", work / "models")
        result = work / "result"
        tag = names[0] + (f"+{len(names) - 1}" if len(names) > 1 else "")
        # setup_dist_from_mpi opens its rendezvous on MASTER_PORT=29500 whatever runs beside it: each
        # batch gets a free port instead (the launcher keeps it when the script sets 29500)
        self.step("generate", tag, attempt, work, seed=reqs[0].seed, result=result,
                  step_env={"CUDA_VISIBLE_DEVICES": self.options.get("gpu", "0"), "MASTER_PORT": free_port()})
        out = {}
        for i, req in enumerate(reqs, start=1):
            wav = result / f"generated_{i}.wav"
            out[(req.clip.id, req.sample_index)] = RawOutput(wav) if wav.is_file() else BaselineError(
                f"D2M-GAN wrote no generated_{i}.wav for segment {names[i - 1]} (see {self.log_dir}/{tag}.generate.try{attempt}.out)")
        return out
