"""Real runs of the baselines' own code, where it can run here (Python 3.11, current packages, CPU).

Diff-BGM runs: its repository (copied from the source folder into a temporary folder) generates a
song through the adapter's own working-folder preparation (`DiffBGMSystem.song_midi`), in this
interpreter (the harness environment plus Diff-BGM's extra packages: labml, muspy,
opencv-python-headless, einops), on CPU (`inference_sdf.py` picks `cuda` only when available), with
random weights built from the repository's own model classes (`diffbgm_random.py`); the MIDI it
writes is rendered and normalised by the harness (`ExternalSystem.generate`).

The other six cannot run their generation in this interpreter with current packages; each reason
below was read from the repository at the pinned commit (`bench systems verify` prints it): a real
run needs the baseline's own environment (`bench systems setup`) and its released weights, which
`bench systems check <name> --deep` exercises on a user's machine.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from systems.baselines import dry_run
from systems.baselines.diffbgm_random import song_files

# why the real code cannot generate a clip in the harness's Python 3.11 environment (file: reason)
NOT_HERE = {
    "cmt": "src/model.py builds its transformer with pytorch-fast-transformers' causal-linear attention, a C++/CUDA "
           "extension with no wheel (a source build against the environment's torch), and src/video2npz needs "
           "visbeat3's Python 3.8-era stack (librosa 0.6, numba 0.48); not pure-Python packages",
    "video2music": "video2music.py loads CLIP ViT-L/14@336px by name (clip.load checks the download's SHA-256, so no "
                   "random weights can stand in without network) and imports gradio 4.7/pytube at module level",
    "m2ugen": "M2UGen/inference.py moves the model to CUDA unconditionally (model.to('cuda'), line 94) and loads "
              "LLaMA-2 7B + MERT/ViT/ViViT/MusicGen (transformers 4.35 APIs)",
    "vidmuse": "its audiocraft/modules/transformer.py imports xformers at module level, decord 0.6.0 has no wheel for "
               "Python 3.11, and VidMuse.get_pretrained needs the released checkpoint's xp.cfg to build the model",
    "d2mgan": "generate_aist.py calls .cuda() on every model unconditionally and opens an NCCL process group "
              "(requires CUDA); torch 1.7.1's jukebox code",
    "cdcd": "inference/inference_aist.py moves the model to CUDA unconditionally (self.model.cuda()), and the "
            "Jukebox VQ-VAE it loads (synthesis/modeling/models/vqvae.pt) is a git-LFS file absent from the source",
}

# the packages Diff-BGM's import closure needs beyond the harness environment (import name: distribution)
DIFFBGM_EXTRA = {"labml": "labml==0.4.160", "muspy": "muspy", "cv2": "opencv-python-headless", "einops": "einops"}
BUILDER = Path(__file__).with_name("diffbgm_random.py")


def missing_packages(extra: dict) -> list[str]:
    return [dist for mod, dist in extra.items() if importlib.util.find_spec(mod) is None]


def real_run(cls, repo):
    """(result, skip reason): result is "ok: ..." or "failed: <the real error>"; None when not run."""
    if cls.name == "diffbgm":
        missing = missing_packages(DIFFBGM_EXTRA)
        if missing:
            return None, (f"Diff-BGM's code needs {', '.join(missing)} in this interpreter "
                          f"(pip install {' '.join(missing)})")
        try:
            return diffbgm_run(cls, Path(repo)), None
        except NeedsCuda as exc:  # the repository's own code stops here without a GPU: not a fault of ours
            return None, str(exc)
        except Exception as exc:  # the real error, recorded
            return f"failed: {type(exc).__name__}: {exc}", None
    return None, NOT_HERE.get(cls.name, "no real run defined")


class NeedsCuda(Exception):
    """The repository's code called CUDA unconditionally (file:line in the message) on a machine without it."""


CUDA_ERRORS = ("Found no NVIDIA driver", "Torch not compiled with CUDA enabled", "No CUDA GPUs are available")


def cuda_stop(log: Path, repo: Path) -> str | None:
    """'file:line (function): error' when the step's stderr log ends in a CUDA-only call of the repository."""
    import re

    text = log.read_text(errors="replace") if log.is_file() else ""
    error = next((line.strip() for line in reversed(text.splitlines()) if any(e in line for e in CUDA_ERRORS)), None)
    if error is None:
        return None
    frames = re.findall(r'File "([^"]+)", line (\d+), in (\S+)', text)
    inside = [(f, n, fn) for f, n, fn in frames if Path(f).resolve().is_relative_to(repo.resolve())]
    if not inside:
        return None
    f, n, fn = inside[-1]
    return f"{Path(f).resolve().relative_to(repo.resolve()).as_posix()}:{n} ({fn}): {error}"


def diffbgm_run(cls, repo: Path, tmp: Path | None = None, seconds: float = 4.0) -> str:
    """Generate one clip with Diff-BGM's own code and random weights; "ok: ..." or raise the error."""
    own = tmp is None
    tmp = Path(tempfile.mkdtemp(prefix="diffbgm-real.")) if own else Path(tmp)
    try:
        system, result = diffbgm_generate(cls, repo, tmp, seconds)
        if result.error is not None:
            import torch

            stop = None if torch.cuda.is_available() else cuda_stop(
                system.log_dir / "song001.generate.try1.err", tmp / "repo")
            out = system.log_dir / "song001.generate.try1.out"
            began = out.is_file() and "generating [" in out.read_text(errors="replace")  # Experiments.predict
            if stop:
                raise NeedsCuda(
                    "ran through the adapter's preparation (random weights from the repository's model classes, "
                    "song 001): inference_sdf.py " + ("loaded its params.json and chkpts/weights_best.pt and began "
                                                      "sampling, then " if began else "")
                    + f"stopped at {stop} -- an unconditional .cuda() in the repository (also diffbgm/"
                    "stable_diffusion/model/unet.py:192); a real run needs a CUDA GPU "
                    "(the repository is not patched)")
            raise result.error
        audio = result.audio
        return (f"ok: song 001 generated by inference_sdf.py (random weights, CPU), rendered and normalised: "
                f"{audio.shape[0] / 32000:g} s at 32000 Hz, peak {float(abs(audio).max()):.3f}")
    finally:
        if own:
            shutil.rmtree(tmp, ignore_errors=True)


def diffbgm_generate(cls, repo: Path, tmp: Path, seconds: float = 4.0):
    """(the adapter, the GenerationResult of one BGM909 clip (song 001) through it, with random weights)."""
    code = tmp / "repo"  # the repository's code, copied: the source folder stays read-only
    shutil.copytree(repo, code, ignore=shutil.ignore_patterns(".git", "*.ipynb"))
    options, reqs = dry_run.inputs(cls, code, tmp / "in", seconds)
    weights = Path(options["model_dir"])
    shutil.rmtree(weights)
    build = tmp / "build"  # the builder imports the repository's modules: dirs.py makes ./demo, ./result/symmv
    (build / "result").mkdir(parents=True)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(code / "diffbgm"), "PYTHONNOUSERSITE": "1", "HOME": str(tmp)}
    proc = subprocess.run([sys.executable, "-P", str(BUILDER), str(weights)], cwd=build, env=env,
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"building random weights with the repository's model classes failed:\n{proc.stderr[-2000:]}")

    features = Path(options["features_dir"])
    shutil.rmtree(features)
    song_files(reqs[0].clip.source, Path(options["pop909_dir"]), features)
    system = dry_run.build(cls, options, tmp / "run", [r.clip for r in reqs])
    system.retries = 0
    system.timeout = 900.0
    return system, next(iter(system.generate([replace(reqs[0])])))
