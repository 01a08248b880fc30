"""Fig. 5's data: the trained FwDF dynamics self-attention of a run's DyViM, stored per clip.

For each of the run's first `clips` test clips, `frames` evenly spaced frames are taken from
the cached motion maps; for each, the attention each of the H'×W' positions *receives*,
averaged over the queries (rows of the head-averaged attention matrix), is stored in
`<run>/attention/<clip>.npz` (`frames`, `times`, `received` (F, P), `grid` (H', W')). The report
draws it and never recomputes it; a stored file is kept on re-runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

ATTENTION_DIR = "attention"


def received_attention(motion: np.ndarray, aggregator, frames: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """(frame indices (F,), received attention (F, P)) of motion maps (T_o, C, H', W') through
    a DynamicsAggregator (`forward(..., return_attention=True)` → (F, P, P), rows = queries)."""
    import torch

    t = motion.shape[0]
    idx = np.unique(np.linspace(0, t - 1, num=min(frames, t)).round().astype(int))
    with torch.no_grad():
        _, attn = aggregator(torch.as_tensor(np.asarray(motion[idx], dtype=np.float32)), return_attention=True)
    return idx, attn.float().mean(dim=-2).cpu().numpy()


def store_attention(run_dir: str | Path, systems: Sequence[str], frames: int = 10, clips: int = 2) -> list[Path]:
    """Write the attention maps of every FwDF DyViM system of a finished run (see module doc)."""
    import yaml

    from bench import api
    from bench.atomic import atomic_path
    from bench.generation import build_system
    from reports.media import run_clips
    from systems.dyvim.train import load_best

    run_dir = Path(run_dir)
    conf = yaml.safe_load((run_dir / "config.yaml").read_text())
    chosen, note = run_clips(conf)
    if note:
        return []
    written = []
    for name in systems:
        scfg = conf["system"].get(name, {})
        if scfg.get("name", name) != "dyvim" or scfg.get("dynamics_encoder", "fwdf") != "fwdf":
            continue
        out_dir = run_dir / name / ATTENTION_DIR if len(systems) > 1 else run_dir / ATTENTION_DIR
        todo = [c for c in chosen[:clips] if not (out_dir / f"{c.id}.npz").exists()]
        if not todo:
            continue
        all_clips = api.dataset_clips(_dataset_cfg(conf), auto_prepare=False)
        system = build_system(name, scfg, api.system_context(conf, all_clips, name))
        load_best(system.model, system.checkpoint or system.train_dir / "best.pt")  # the trained head
        system.model.eval()
        encoder = system.extractor.dynamics
        for clip in todo:
            feats = encoder.extract_clip(clip, system.extractor.cache)
            idx, received = received_attention(feats.values, encoder.aggregator, frames)
            path = out_dir / f"{clip.id}.npz"
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp:
                with open(tmp, "wb") as fh:
                    np.savez(fh, frames=idx, times=idx / float(feats.fps), received=received,
                             grid=np.asarray(feats.values.shape[-2:]))
            written.append(path)
    return written


def _dataset_cfg(conf: dict):
    from omegaconf import OmegaConf

    return OmegaConf.create({"dataset": conf["dataset"]})
