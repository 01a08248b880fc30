"""Random-weight inputs for a real run of Diff-BGM's own code (`real_runs.py`).

Run as a script in the Diff-BGM interpreter with `PYTHONPATH=<repo>/diffbgm` (the adapter's path):
`python -P diffbgm_random.py MODEL_DIR` builds the repository's own model classes exactly as
`inference_sdf.py` does (`UNetModel`, `LatentDiffusion`, `diffbgm_SDF`) from the `params.json`
written here, with their random initialisation, and saves `chkpts/weights_best.pt` as
`diffbgm_SDF.load_trained` reads it (`torch.load(...)["model"]`, a state dict).

`params.json` is `params/params_sdf_chd8bar.py` (the parameter file whose `cond_type` lists
Diff-BGM's `visual, caption, v_c, c_v`) with `cond_type: v_c` (the sampler's `paint` indexes
`cond[0]`/`cond[1]`: a pair, visual then caption) and, to keep a CPU run short, `n_steps` and
`channels` made small (`SMALL`): both are read from `params.json` by `inference_sdf.py`, so the
code path is the authors'; only the sizes differ.

`song_files` writes one POP909 song in the format `data/dataset.py DataSampleNpz` reads (`notes`,
`start_table`, `db_pos`, `db_pos_filter`, `chord` per its docstring) and its BGM909 features
(CLIP2Video `(frames, 512)` tensor, BERT caption `(captions, 768)` array, TransNetV2 shot list).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

SMALL = {"n_steps": 8, "channels": 32}  # the authors' values: 1000 steps, 64 channels


def params() -> dict:
    from params.params_sdf_chd8bar import params as p  # the repository's own parameter file

    return {**dict(p), "cond_type": "v_c", "cond_mode": "cond", **SMALL}


def build_weights(model_dir: Path) -> None:
    import torch

    from models.model_sdf import diffbgm_SDF
    from stable_diffusion.latent_diffusion import LatentDiffusion
    from stable_diffusion.model.unet import UNetModel

    torch.manual_seed(0)
    p = params()
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "params.json").write_text(json.dumps(p, indent=1))
    unet = UNetModel(in_channels=p["in_channels"], out_channels=p["out_channels"], channels=p["channels"],
                     attention_levels=p["attention_levels"], n_res_blocks=p["n_res_blocks"],
                     channel_multipliers=p["channel_multipliers"], n_heads=p["n_heads"], tf_layers=p["tf_layers"],
                     d_cond=p["d_cond"])
    ldm = LatentDiffusion(linear_start=p["linear_start"], linear_end=p["linear_end"], n_steps=p["n_steps"],
                          latent_scaling_factor=p["latent_scaling_factor"], autoencoder=None, unet_model=unet)
    model = diffbgm_SDF(ldm, p["cond_type"], p["cond_mode"])
    (model_dir / "chkpts").mkdir(exist_ok=True)
    torch.save({"model": model.state_dict()}, model_dir / "chkpts" / "weights_best.pt")


def song_files(song: str, pop909_dir: Path, features_dir: Path, bars: int = 16, seed: int = 0) -> None:
    """A `bars`-bar 4/4 song (4 bins a beat) with random notes on its three tracks, and its features."""
    import numpy as np
    import torch

    rng = np.random.default_rng(seed)
    beats, n_bin = bars * 4, 4
    bins = beats * n_bin
    notes, tables = [], []
    for track in range(3):  # melody, bridge, piano
        onsets = np.sort(rng.choice(np.arange(0, bins, 2), size=bins // 8, replace=False))
        pitch = rng.integers(60 if track == 0 else 40, 84 if track == 0 else 72, size=len(onsets))
        dur = rng.integers(2, 8, size=len(onsets))
        nmat = np.stack([onsets, pitch, dur, np.full(len(onsets), 80), np.zeros(len(onsets), int)], 1)
        notes.append(nmat.astype(np.int64))
        tables.append(np.searchsorted(onsets, np.arange(bins + 1)).astype(np.int64))  # bin -> first note row
    db_pos = np.arange(0, bins, 4 * n_bin)  # a downbeat every bar
    chord = np.zeros((beats, 14), np.int32)
    chord[:, 0] = 0
    chord[:, [1, 5, 8]] = 1  # C major chroma
    chord[:, 13] = 0
    pop909_dir.mkdir(parents=True, exist_ok=True)
    obj = np.empty(3, dtype=object)
    obj[:] = notes
    np.savez(pop909_dir / f"{song}.npz", notes=obj, start_table=np.stack(tables), db_pos=db_pos,
             db_pos_filter=np.ones(len(db_pos), bool), chord=chord)
    for rel in ("new_raw_video_feats", "caption_feats", "detection"):
        (features_dir / rel).mkdir(parents=True, exist_ok=True)
    torch.save(torch.from_numpy(rng.standard_normal((20, 512)).astype(np.float32)),
               features_dir / "new_raw_video_feats" / f"{song}.pth")
    np.save(features_dir / "caption_feats" / f"{song}.npy", rng.standard_normal((4, 768)).astype(np.float32))
    (features_dir / "detection" / f"{song}_scenes.txt").write_text("0 9\n10 19\n")


if __name__ == "__main__":
    build_weights(Path(sys.argv[1]))
