"""An adapter's own preparation of a working folder, run without the baseline's program.

`bench systems verify` builds the adapter against the official repository with placeholder
weight files and one tiny clip (a 2 s 32×32 video; a listed segment of the repository's own lists
for D2M-GAN and CDCD; a POP909 id for Diff-BGM), lets `run_one`/`run_batch` prepare the clip's
working folder exactly as in a run, and stops it when it starts the baseline's first step: the
folder's tree at that moment is what the real code will find. `inputs` also serves the real runs
(`real_runs.py`), which let the step run.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from systems.base import GenerationRequest, SystemContext
from core.manifest import Clip
from core.media import atomic_write_audio, write_video
from systems.baselines import external, segments


class _Stop(Exception):
    """Raised instead of starting the baseline's program."""


def tiny_video(path: Path, seconds: float = 2.0, fps: int = 10, size: int = 32) -> Path:
    t = np.arange(int(seconds * fps))
    frames = np.zeros((len(t), size, size, 3), np.uint8)
    frames[...] = (t[:, None, None, None] * 25 % 255).astype(np.uint8)
    return write_video(path, frames, fps)


def inputs(cls, repo: Path, tmp: Path, seconds: float = 2.0) -> tuple[dict, list]:
    """(options for the adapter, [GenerationRequest]) with placeholder weights and one clip."""
    tmp.mkdir(parents=True, exist_ok=True)
    video = tiny_video(tmp / "video.mp4", seconds)
    audio = atomic_write_audio(tmp / "ref.wav", np.zeros(int(32000 * seconds), np.float32), 32000)
    options: dict = {"repo_dir": str(repo), "python": sys.executable}
    for w in cls.weight_files:  # a placeholder of each weight file or folder
        p = tmp / "weights" / w.option
        p.mkdir(parents=True, exist_ok=True)
        options[w.option] = str(p)
    clip_id, source = "verify_clip__0000000", "001"
    if cls.name in ("d2mgan", "cdcd"):
        lists = repo / cls.list_dir
        name = segments.read_list(lists / cls.list_names["video"])[0]
        data = tmp / "segments"
        for kind, path in segments.segment_paths(data, cls.seconds, cls.list_split, name).items():
            path.parent.mkdir(parents=True, exist_ok=True)
            if kind == "audio":
                atomic_write_audio(path, np.zeros(int(22050 * cls.seconds), np.float32), 22050)
            else:
                np.save(path, np.zeros((cls.seconds, 8), np.float32))
        options["data_dir"] = str(data)
        clip_id = f"{name}__0000000"
    if cls.name == "cdcd":
        (tmp / "weights" / "checkpoint").rmdir()
        (tmp / "weights" / "checkpoint.pth").write_bytes(b"")
        options["checkpoint"] = str(tmp / "weights" / "checkpoint.pth")
        (tmp / "weights" / "vqvae").rmdir()
        (tmp / "weights" / "vqvae.pt").write_bytes(b"")
        options["vqvae"] = str(tmp / "weights" / "vqvae.pt")
    if cls.name == "diffbgm":
        pop = Path(options["pop909_dir"])
        np.savez(pop / f"{source}.npz", notes=np.zeros(3))
        feats = tmp / "features"
        for rel in ("new_raw_video_feats/{s}.pth", "caption_feats/{s}.npy", "detection/{s}_scenes.txt"):
            f = feats / rel.format(s=source)
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(b"")
        options["features_dir"] = str(feats)
    if cls.name == "m2ugen":
        (tmp / "weights" / "checkpoint").rmdir()
        (tmp / "weights" / "checkpoint.pth").write_bytes(b"")
        options["checkpoint"] = str(tmp / "weights" / "checkpoint.pth")
    clip = Clip(id=clip_id, video=str(video), audio=str(audio), start=0.0, duration=seconds, source=source,
                split="test")
    return options, [GenerationRequest(clip, 0, 1234)]


def build(cls, options: dict, work_dir: Path, clips: list):
    """The adapter, constructed with `options` (readiness of the renderer and programs not required)."""
    context = SystemContext(dataset_clips=tuple(clips), sample_rate=32000, seed=0, work_dir=work_dir / "_work",
                            cache_dir=work_dir / "cache")
    config = {k: v for k, v in shipped_options(cls.name).items() if k not in ("name",)}
    for k, v in list(config.items()):
        if isinstance(v, str) and "${.repo_dir}" in v:
            config[k] = v.replace("${.repo_dir}", str(options["repo_dir"]))
        elif isinstance(v, str) and "${" in v:
            del config[k]
    config.update(options)
    with _relaxed(cls):
        return cls(context, **config)


def shipped_options(name: str) -> dict:
    from omegaconf import OmegaConf

    from core.options import CONF_DIR

    cfg = OmegaConf.load(CONF_DIR / "system" / f"{name}.yaml")
    raw = OmegaConf.to_container(cfg, resolve=False)
    return raw


@contextmanager
def _relaxed(cls):
    """Construct without the readiness checks: weights, renderer and programs concern running the
    baseline, not preparing its working folder (placeholders stand in for the weights)."""
    had = "readiness" in cls.__dict__
    saved = cls.__dict__.get("readiness")
    cls.readiness = classmethod(lambda c, config: [])
    try:
        yield
    finally:
        if had:
            cls.readiness = saved
        else:
            del cls.readiness


def _absent_in_links(work: Path) -> set[str]:
    """Paths under a linked repository folder that the source copy lists in `.absent-files` (large
    files such as weights kept out of the copy): the link would hold them in a full checkout."""
    out = set()
    for link in work.rglob("*"):
        if not link.is_symlink():
            continue
        target = link.resolve()
        for parent in [target, *target.parents]:
            listing = parent / ".absent-files"
            if listing.is_file():
                for line in listing.read_text().splitlines():
                    rel = line.split()[0] if line.split() else ""
                    full = parent / rel
                    if rel and full.is_relative_to(target):
                        out.add((link.relative_to(work) / full.relative_to(target)).as_posix())
                break
    return out


def prepared_tree(cls, repo: Path, tmp: Path) -> set[str]:
    """Paths (relative, '/'-separated) in the working folder when the adapter starts its first step."""
    options, reqs = inputs(cls, repo, tmp / "in")
    system = build(cls, options, tmp / "run", [r.clip for r in reqs])
    seen: set[str] = set()
    real = external.run_step

    def snapshot(argv, cwd, env, timeout, log_prefix):
        root = Path(system.context.work_dir)
        work = next(p for p in Path(cwd).parents if p.parent == root) if Path(cwd).parent != root else Path(cwd)
        for dirpath, dirnames, filenames in os.walk(work, followlinks=True):
            depth = len(Path(dirpath).relative_to(work).parts)
            if depth >= 4:
                dirnames[:] = []
            for n in dirnames + filenames:
                seen.add((Path(dirpath) / n).relative_to(work).as_posix())
            for n in filenames:  # a file the repository's copy lacks (.absent-files) still counts as linked
                pass
        seen.update(_absent_in_links(work))
        raise _Stop()

    external.run_step = snapshot
    try:
        if getattr(type(system), "run_batch") is not external.ExternalSystem.run_batch:
            system.run_batch(reqs, system.new_workdir("verify"), 1)
        else:
            system.run_one(reqs[0], system.new_workdir("verify"), 1)
    except _Stop:
        pass
    finally:
        external.run_step = real
    return seen
