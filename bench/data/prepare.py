"""Dataset dispatch: Hydra `dataset/<name>.yaml` → preparer function → manifest on disk.

A dataset config has these keys (see bench/conf/dataset/*.yaml):
  name, kind (the preparer below), root (where the prepared dataset lives), sample_rate
  (the reference audio's rate), clip_duration (s), seed, and `params` — keyword arguments
  of the preparer (e.g. `source_dir` for the real datasets).

Every preparer has the signature
  prepare_x(out_dir: Path, *, sample_rate: int, clip_duration: float, seed: int, **params) -> list[Clip]
writes media under `out_dir` and the manifest with `bench.data.manifest.write_manifest`, and
returns the clips with their splits assigned.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from bench.data.manifest import MANIFEST_NAME, Clip, read_info, read_manifest
from bench.errors import DatasetError

PREPARERS = {
    "toy": "bench.data.toy:prepare_toy",
    "aist": "bench.data.aist:prepare_aist",
    "symmv": "bench.data.symmv:prepare_symmv",
    "bgm909": "bench.data.bgm909:prepare_bgm909",
    "aist_segments": "bench.data.aist_segments:prepare_aist_segments",  # aist_d2mgan, aist_cdcd
}

# Preparer arguments that change how fast, not what, is built.
NOT_CONTENT = {"workers"}

# Datasets the harness can build by itself; the others need the user's download.
SELF_BUILDING = {"toy"}


def _preparer(kind: str):
    if kind not in PREPARERS:
        raise DatasetError(f"unknown dataset kind {kind!r}; known kinds: {', '.join(sorted(PREPARERS))}")
    module, fn = PREPARERS[kind].split(":")
    return getattr(importlib.import_module(module), fn)


def dataset_spec(cfg: Any) -> dict:
    """The part of a dataset config that determines its content (recorded in dataset.json)."""
    from omegaconf import OmegaConf

    c = OmegaConf.to_container(cfg, resolve=True) if not isinstance(cfg, dict) else dict(cfg)
    spec = {k: c.get(k) for k in ("kind", "sample_rate", "clip_duration", "seed")}
    spec["params"] = {k: v for k, v in (c.get("params") or {}).items() if k not in NOT_CONTENT}
    return spec


def prepare_dataset(cfg: Any, force: bool = False) -> list[Clip]:
    """Build the dataset described by `cfg` unless an identical build is already on disk."""
    root = Path(cfg.root)
    spec = dataset_spec(cfg)
    if not force and (root / MANIFEST_NAME).exists() and read_info(root).get("spec") == spec:
        return read_manifest(root)
    from omegaconf import OmegaConf

    params = OmegaConf.to_container(cfg.params, resolve=True) if cfg.get("params") else {}
    clips = _preparer(cfg.kind)(root, sample_rate=int(cfg.sample_rate), clip_duration=float(cfg.clip_duration),
                                seed=int(cfg.seed), spec=spec, **params)
    return clips


def load_dataset(cfg: Any, auto_prepare: bool = True) -> list[Clip]:
    """Read a prepared dataset; self-building ones (toy) are built on first use (then cached)."""
    root = Path(cfg.root)
    spec = dataset_spec(cfg)
    manifest = root / MANIFEST_NAME
    if manifest.exists():
        stored = read_info(root).get("spec")
        if stored == spec:
            return read_manifest(root)
        if cfg.kind not in SELF_BUILDING:
            raise DatasetError(
                f"{root}: prepared with a different config ({_diff(stored, spec)}); "
                f"re-run `bench data prepare {cfg.name} --force` with the config you want"
            )
    if cfg.kind in SELF_BUILDING and auto_prepare:
        return prepare_dataset(cfg, force=True)
    raise DatasetError(
        f"dataset {cfg.name!r} is not prepared: {manifest} does not exist. Download it (see README, "
        f"'Real datasets') and run `bench data prepare {cfg.name} dataset.params.source_dir=/path/to/download`"
    )


def _diff(a: dict | None, b: dict) -> str:
    if not a:
        return "no recorded config"
    keys = sorted({*a, *b})
    return ", ".join(f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in keys if a.get(k) != b.get(k))
