"""CDCD (Zhu et al. 2023, "Discrete Contrastive Diffusion for Cross-Modal Music and Image Generation").

Contract read from L-YeZhu/CDCD at 667f9c0156e68d6e884a1ad5201ae1928098b02d:
`inference/inference_aist.py` (class `VQ_Diffusion(config, path)`; its `__main__` hard-codes
`./config/config.yaml` and `./checkpoint/last.pth`, which do not exist in the repository, and
the 2-second lists; `inference_music` calls `model.generate_content(..., filter_ratio=0.1,
content_ratio=0.5, sample_type="top0.86r")` with the **ground-truth music** in the batch, so
sampling starts from the reference's own tokens noised only part of the way; output
`./RESULT_aist/generated_sample_{i}.wav` from 0, 22.05 kHz, after `noisereduce`), `configs/aist.yaml`,
`data/aist_{audio,motion,video}_test_segment_s6.txt` and `data/test_genre_s6.npy` (36 six-second
segments, absolute paths of the authors' machine), `README.md` (checkpoint from Drive).

It runs only on its own segmentation: the `aist_cdcd` dataset (6 s clips named after the
segments). Per batch: `drivers/cdcd_generate.py` in the CDCD environment loads the model with
`configs/aist.yaml` and the checkpoint, reads each segment's files from `data_dir` (the
authors' preprocessed 6 s data) and calls `generate_content` exactly as `inference_music` does,
but with **`filter_ratio=0`**: generation starts from the fully masked state, so the ground
truth no longer leaks into the output (the paper's protocol; `filter_ratio` is an option only to
reproduce the authors' numbers, and `describe()` records it).
"""

from __future__ import annotations

import os
from pathlib import Path

from systems.baselines import segments
from systems.baselines.d2mgan import SegmentBaseline
from systems.baselines.contract import WorkPath
from systems.baselines.external import BaselineError, Weight
from systems.baselines.normalise import RawOutput


class CDCDSystem(SegmentBaseline):
    """CDCD: contrastive discrete diffusion over Jukebox codes from dance video and motion (audio, 22.05 kHz)."""

    repo_url = "https://github.com/L-YeZhu/CDCD"
    commit = "667f9c0156e68d6e884a1ad5201ae1928098b02d"
    python_version = "3.8"
    entry_point = "inference/inference_aist.py"
    seconds = 6
    list_dir = "data"
    list_names = {k: f"aist_{k}_test_segment_s6.txt" for k in segments.KINDS}
    genre_name = "test_genre_s6.npy"
    weight_files = (
        Weight("checkpoint", "the README's AIST++ checkpoint (Drive)"),
        Weight("data_dir", "the authors' preprocessed AIST++ 6 s segments (video_s6/, motion_s6/, audio_s6/)"),
        Weight("vqvae", "the repository's git-LFS file synthesis/modeling/models/vqvae.pt (`git lfs pull` in the "
                        "checkout; a clone without git-lfs leaves a 130-byte pointer file)"),
    )
    changes = ("filter_ratio=0: sampling starts from the full mask, not from the ground truth's tokens "
               "(its script uses 0.1)", "its hard-coded config/checkpoint paths replaced by configs/aist.yaml "
               "and the configured checkpoint", "seeded by the launcher, one seed per batch")

    weight_keys = {"checkpoint": ("model",)}  # inference_aist.get_model: ckpt["model"] (and "ema" when there)
    config_files = {"generate": ("configs/aist.yaml",)}  # build_model instantiates its `target:` classes
    work_paths = (
        WorkPath("synthesis/modeling/models/vqvae.pt", "prepared",
                 "configs/aist.yaml loads it relative to the working folder: linked to system.cdcd.vqvae"),
        WorkPath("data/aist_s6/*", "unused", "the config's dataloader section: the driver builds only the model"),
        WorkPath("..", "unused", "inference_aist.py appends it to sys.path; the driver sets its own path"),
    )

    def describe(self) -> dict:
        d = super().describe()
        ratio = float(self.options.get("filter_ratio", 0))
        d["filter_ratio"] = ratio
        if ratio > 0:
            d["warning"] = f"filter_ratio={ratio}: sampling starts from the ground truth's tokens (leaks the reference)"
        return d

    def run_batch(self, reqs, work, attempt):
        import json

        import numpy as np

        names, files, genres = self.batch_inputs(reqs)
        np.save(work / "genres.npy", genres)
        outs = [work / "result" / f"generated_sample_{i}.wav" for i in range(len(reqs))]
        items = [{"name": n, "music": str(files["audio"][i]), "motion": str(files["motion"][i]),
                  "video": str(files["video"][i]), "genre_row": i, "out": str(outs[i])} for i, n in enumerate(names)]
        (work / "segments.json").write_text(json.dumps(items, indent=1))
        # configs/aist.yaml loads './synthesis/modeling/models/vqvae.pt' relative to the working folder
        vq = work / "synthesis" / "modeling" / "models" / "vqvae.pt"
        vq.parent.mkdir(parents=True)
        os.symlink(Path(str(self.options["vqvae"])).absolute(), vq)
        tag = names[0] + (f"+{len(names) - 1}" if len(names) > 1 else "")
        self.step("generate", tag, attempt, work, seed=reqs[0].seed, segments=work / "segments.json",
                  genres=work / "genres.npy", step_env={"CUDA_VISIBLE_DEVICES": self.options.get("gpu", "0")})
        return {(r.clip.id, r.sample_index): RawOutput(o) if o.is_file() else BaselineError(
            f"CDCD wrote no {o.name} for segment {names[i]} (see {self.log_dir}/{tag}.generate.try{attempt}.err)")
            for i, (r, o) in enumerate(zip(reqs, outs))}
