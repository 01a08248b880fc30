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

from reports.media import run_clips
from core.atomic import atomic_path
from core.cache import Cache
from core.errors import ConfigError
from core.settings import PathSettings

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


def trained_fwdf(run_dir: Path, system: str, scfg: dict):
    """The run's FwDF encoder with its trained head (the `dynamics_head.*` tensors of the run's
    best.pt), built without the music decoder: only the dynamics path is needed here."""
    import torch

    from systems.dyvim.encoders import build_dynamics_encoder

    ckpt = Path(scfg.get("checkpoint") or run_dir / system / "train" / "best.pt")
    if not ckpt.is_file():
        raise ConfigError(f"{ckpt}: no trained DyViM checkpoint for the attention maps (train the run first)")
    paths = scfg.get("weights_paths") or {}
    encoder = build_dynamics_encoder("fwdf", size=scfg.get("size", "tiny"),
                                     weights=scfg.get("encoder_weights") or scfg.get("weights", "random"),
                                     flow_iters=scfg.get("flow_iters"), d_m=scfg.get("d_m"),
                                     fps=scfg.get("video_fps"), seed=int(scfg.get("seed", 0)),
                                     weights_path=paths.get("fwdf"))
    state = torch.load(ckpt, map_location="cpu", weights_only=False).get("model", {})
    head = {k[len("dynamics_head."):]: v for k, v in state.items() if k.startswith("dynamics_head.")}
    if not head:
        raise ConfigError(f"{ckpt}: holds no trained dynamics head (dynamics_head.*): was it trained without dynamics?")
    encoder.aggregator.load_state_dict(head)
    return encoder.eval()


def store_attention(run_dir: str | Path, systems: Sequence[str], frames: int = 10, clips: int = 2) -> list[Path]:
    """Write the attention maps of every FwDF DyViM system of a finished run (see module doc)."""
    import yaml

    run_dir = Path(run_dir)
    conf = yaml.safe_load((run_dir / "config.yaml").read_text())
    chosen, note = run_clips(conf)
    if note:
        return []
    written = []
    for name in systems:
        scfg = conf["system"].get(name, {})
        if scfg.get("name", name) != "dyvim" or scfg.get("dynamics_encoder", "fwdf") != "fwdf" \
                or scfg.get("conditions") == "no_dynamics":
            continue
        out_dir = run_dir / name / ATTENTION_DIR if len(systems) > 1 else run_dir / ATTENTION_DIR
        todo = [c for c in chosen[:clips] if not (out_dir / f"{c.id}.npz").exists()]
        if not todo:
            continue
        encoder = trained_fwdf(run_dir, name, scfg)
        cache = Cache(PathSettings.from_config(conf).cache_dir)  # the motion maps training cached
        for clip in todo:
            feats = encoder.extract_clip(clip, cache)
            idx, received = received_attention(feats.values, encoder.aggregator, frames)
            path = out_dir / f"{clip.id}.npz"
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp:
                with open(tmp, "wb") as fh:
                    np.savez(fh, frames=idx, times=idx / float(feats.fps), received=received,
                             grid=np.asarray(feats.values.shape[-2:]))
            written.append(path)
    return written
