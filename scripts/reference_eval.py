"""Run the reference metrics, audioldm_eval 0.0.3's own code, on two folders of audio files.

Run with the side environment's Python (``bash scripts/reference_env.sh`` prints its path)::

    $REFENV/bin/python scripts/reference_eval.py --generated GEN --reference REF \\
        --ckpt-dir CKPT [--sample-rate 16000|32000] [--torch-home TH] [--metrics fd,kl,is,fad] \\
        [--save-features FILE.npz] [--device cpu] [--threads N]

Prints one JSON object on stdout (everything the reference prints goes to stderr)::

    {"fd": …, "kl_softmax": …, "kl_sigmoid": …, "is_mean": …, "is_std": …, "fad": …,
     "same_name": true, "n_generated": …, "n_reference": …, "sample_rate": …,
     "seconds": {"setup": …, "cnn14_reference": …, "cnn14_generated": …, "fd": …, "kl": …,
                 "is": …, "fad": …, "total": …}, "versions": {…}}

Values are the reference's own: ``frechet_distance``, ``kullback_leibler_divergence_softmax`` /
``_sigmoid``, ``inception_score_mean`` / ``_std`` and ``frechet_audio_distance``; a metric not
asked for is null, and a NaN (the reference's Inception Score below 10 clips) is written as null.
The FAD is -1 where the reference swallowed an exception (it prints it to stderr).

What runs, in the order of ``EvaluationHelper.calculate_metrics`` (eval.py lines 183–300):
``EvaluationHelper(sample_rate, device)`` builds Cnn14 (loads ``ckpt/…``) and the VGGish
``FrechetAudioDistance`` (``torch.hub.load``); ``get_filename_intersection_ratio`` decides
``same_name``; ``torch.manual_seed(0)``; two ``DataLoader(WaveDataset(dir, sr), batch_size=1,
num_workers=0)`` (the reference's own settings for these two); ``get_featuresdict`` on the
reference set, then on the generated set; ``calculate_kl(gen, ref, "logits", same_name)``;
``calculate_isc(gen, "logits", splits=10, samples_shuffle=True, rng_seed=2020)``;
``calculate_fid(gen, ref, "2048")``; ``frechet.score(generated_dir, reference_dir)`` (with
``store_embds=True`` when ``--save-features`` is given: the reference's own option, which saves
the VGGish frames to ``embds_*.npy`` in the CWD and changes nothing else).
``seconds`` times each of these steps, so a benchmark can time the reference's FD/KL/IS work
(``cnn14_*`` + ``fd``/``kl``/``is``) and its FAD work (``fad``: VGGish on both folders + FD)
apart from model loading (``setup``).

Not run: LSD, PSNR/SSIM and KID (``calculate_metrics`` computes them first/last; they are not
metrics of this benchmark). They are the only users of ``MelPairedDataset``, the loader that
starts 16 workers, so no worker count needs patching.

Shims — none of them touches a number:

1. ``torchaudio.load`` is replaced by a soundfile reader returning the same (channels × frames
   float32 tensor, sample rate) pair. Every PyPI torchaudio links CUDA libraries and a torch of
   its own; the side environment removes its native libraries so that ``import torchaudio`` and
   ``torchaudio.functional.resample`` (pure Python, which the reference does use) work beside
   the CPU torch, and torchaudio ≥ 2.9's ``load`` would need torchcodec + FFmpeg libraries
   anyway. Both give integer PCM divided by 2**(bits−1) as float32, so the samples are identical.
2. Working directory: Cnn14 reads ``ckpt/Cnn14_16k_mAP=0.438.pth`` / ``ckpt/Cnn14_mAP=0.431.pth``
   relative to the CWD. The script runs in a temporary folder whose ``ckpt/`` holds links to the
   files in ``--ckpt-dir``. The reference runs ``wget`` into ``ckpt/`` whenever the 32 kHz file
   is missing, even at 16 kHz where that file is never read; if ``--ckpt-dir`` lacks it at
   16 kHz, an empty placeholder of that name keeps the reference off the network.
3. ``TORCH_HOME`` is set to ``--torch-home`` (if given) before torch is imported, so
   ``torch.hub.load("harritaylor/torchvggish", "vggish")`` finds the hub code in
   ``$TORCH_HOME/hub/harritaylor_torchvggish_master/`` and the weights in
   ``$TORCH_HOME/hub/checkpoints/``. torch.hub first asks github.com for a ``main`` branch; offline
   that fails at once and it takes the cached ``master`` folder (online: ``main`` is a 404, so
   ``master`` again), which also counts as trusted. No hub download happens. (A PyPI
   ``torchvggish`` installed beside it would shadow the hub code, whose ``torchvggish/`` has no
   ``__init__.py``; the side environment has none.)
4. Without ``fad`` in ``--metrics``, ``EvaluationHelper`` gets a stand-in for
   ``FrechetAudioDistance`` (no VGGish, hence no hub code or weights needed); with only ``fad``,
   the script builds ``FrechetAudioDistance(use_pca=False, use_activation=False, verbose=True)``
   itself, with the arguments ``EvaluationHelper`` passes, and no Cnn14.
5. The reference's ``print`` output is redirected to stderr so stdout carries only the JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

CNN14_FILES = {16000: "Cnn14_16k_mAP=0.438.pth", 32000: "Cnn14_mAP=0.431.pth"}
ALL_METRICS = ("fd", "kl", "is", "fad")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--generated", required=True, type=Path, help="folder of generated audio files")
    p.add_argument("--reference", required=True, type=Path, help="folder of reference audio files")
    p.add_argument("--ckpt-dir", type=Path, help="folder with Cnn14_16k_mAP=0.438.pth (16 kHz) "
                   "and/or Cnn14_mAP=0.431.pth (32 kHz); needed for fd, kl, is")
    p.add_argument("--sample-rate", type=int, default=16000, choices=(16000, 32000))
    p.add_argument("--torch-home", type=Path, help="TORCH_HOME with hub/harritaylor_torchvggish_master/ "
                   "and hub/checkpoints/vggish*.pth; needed for fad")
    p.add_argument("--metrics", default="fd,kl,is,fad", help="comma-separated subset of fd,kl,is,fad")
    p.add_argument("--save-features", type=Path, help="also write the reference's features of both "
                   "sets to this .npz: Cnn14 '2048' and 'logits' with the file names (fd/kl/is), "
                   "VGGish frames as FrechetAudioDistance.score(store_embds=True) saves them (fad)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, help="torch.set_num_threads (default: torch's)")
    args = p.parse_args(argv)
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    unknown = sorted(set(metrics) - set(ALL_METRICS))
    if unknown or not metrics:
        p.error(f"--metrics: unknown {unknown}; choose from {','.join(ALL_METRICS)}")
    args.metrics = [m for m in ALL_METRICS if m in metrics]
    for d in (args.generated, args.reference):
        if not d.is_dir():
            p.error(f"not a folder: {d}")
    if set(args.metrics) & {"fd", "kl", "is"}:
        if args.ckpt_dir is None or not (args.ckpt_dir / CNN14_FILES[args.sample_rate]).is_file():
            p.error(f"--ckpt-dir must hold {CNN14_FILES[args.sample_rate]} for fd/kl/is at "
                    f"{args.sample_rate} Hz (got {args.ckpt_dir})")
    if "fad" in args.metrics and args.torch_home is not None:
        hub = args.torch_home / "hub"
        missing = [str(hub / x) for x in ("harritaylor_torchvggish_master/hubconf.py",
                                          "checkpoints/vggish-10086976.pth",
                                          "checkpoints/vggish_pca_params-970ea276.pth")
                   if not (hub / x).is_file()]
        if missing:
            p.error(f"--torch-home lacks {missing} (torchvggish code at commit f3f9096 and its weights)")
    return args


def install_soundfile_loader():
    """Shim 1: torchaudio.load → soundfile (same tensor layout, same int→float scaling)."""
    import soundfile
    import torch
    import torchaudio

    def load(path, *args, **kwargs):
        data, sr = soundfile.read(str(path), dtype="float32", always_2d=True)
        return torch.from_numpy(data.T.copy()), sr

    torchaudio.load = load


def make_workdir(ckpt_dir: Path | None, sample_rate: int) -> tempfile.TemporaryDirectory:
    """Shim 2: a CWD whose ckpt/ links to the Cnn14 files (plus the placeholder, see docstring)."""
    tmp = tempfile.TemporaryDirectory(prefix="reference_eval-")
    ckpt = Path(tmp.name) / "ckpt"
    ckpt.mkdir()
    if ckpt_dir is not None:
        for name in CNN14_FILES.values():
            src = ckpt_dir / name
            if src.is_file():
                (ckpt / name).symlink_to(src.resolve())
    placeholder = ckpt / CNN14_FILES[32000]
    if sample_rate == 16000 and not placeholder.exists():
        placeholder.touch()  # never read at 16 kHz; only stops the reference's wget
    return tmp


@contextlib.contextmanager
def without_vggish(eval_module):
    """Shim 4: EvaluationHelper without the VGGish model (FAD not asked for)."""
    import torch

    class NoFrechetAudioDistance:
        def __init__(self, *args, **kwargs):
            self.model = torch.nn.Identity()

    original = eval_module.FrechetAudioDistance
    eval_module.FrechetAudioDistance = NoFrechetAudioDistance
    try:
        yield
    finally:
        eval_module.FrechetAudioDistance = original


def _number(x):
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def main(argv=None) -> dict:
    args = parse_args(argv)
    t_start = time.perf_counter()
    generated, reference = str(args.generated.resolve()), str(args.reference.resolve())
    ckpt_dir = args.ckpt_dir.resolve() if args.ckpt_dir else None
    save_features = args.save_features.resolve() if args.save_features else None
    if args.torch_home is not None:
        os.environ["TORCH_HOME"] = str(args.torch_home.resolve())  # shim 3, before torch is imported
    need_cnn14 = bool(set(args.metrics) & {"fd", "kl", "is"})
    seconds: dict[str, float] = {}
    out: dict = {m: None for m in ("fd", "kl_softmax", "kl_sigmoid", "is_mean", "is_std", "fad")}

    with contextlib.redirect_stdout(sys.stderr):  # shim 5
        import numpy as np
        import torch
        from torch.utils.data import DataLoader

        if args.threads:
            torch.set_num_threads(args.threads)
        install_soundfile_loader()
        import audioldm_eval.eval as eval_module
        from audioldm_eval import EvaluationHelper, calculate_fid, calculate_isc, calculate_kl
        from audioldm_eval.datasets.load_mel import WaveDataset
        from audioldm_eval.metrics.fad import FrechetAudioDistance

        workdir = make_workdir(ckpt_dir, args.sample_rate)
        old_cwd = os.getcwd()
        os.chdir(workdir.name)
        try:
            device = torch.device(args.device)
            features: dict = {}
            t = time.perf_counter()
            if need_cnn14:
                ctx = contextlib.nullcontext() if "fad" in args.metrics else without_vggish(eval_module)
                with ctx:
                    helper = EvaluationHelper(args.sample_rate, device)
                frechet = helper.frechet
            else:
                # exactly as EvaluationHelper.__init__ builds it (eval.py lines 27–32)
                frechet = FrechetAudioDistance(use_pca=False, use_activation=False, verbose=True)
                frechet.model = frechet.model.to(device)
            seconds["setup"] = time.perf_counter() - t

            if need_cnn14:
                helper.file_init_check(generated)
                helper.file_init_check(reference)
                same_name = helper.get_filename_intersection_ratio(generated, reference)
                out["same_name"] = bool(same_name)
                torch.manual_seed(0)
                loaders = {name: DataLoader(WaveDataset(path, args.sample_rate), batch_size=1,
                                            sampler=None, num_workers=0)
                           for name, path in (("generated", generated), ("reference", reference))}
                out["n_generated"] = len(loaders["generated"].dataset)
                out["n_reference"] = len(loaders["reference"].dataset)
                t = time.perf_counter()
                feats_ref = helper.get_featuresdict(loaders["reference"])
                seconds["cnn14_reference"] = time.perf_counter() - t
                t = time.perf_counter()
                feats_gen = helper.get_featuresdict(loaders["generated"])
                seconds["cnn14_generated"] = time.perf_counter() - t

                if "kl" in args.metrics:
                    t = time.perf_counter()
                    kl, _, _ = calculate_kl(feats_gen, feats_ref, "logits", same_name)
                    seconds["kl"] = time.perf_counter() - t
                    out["kl_softmax"] = _number(kl["kullback_leibler_divergence_softmax"])
                    out["kl_sigmoid"] = _number(kl["kullback_leibler_divergence_sigmoid"])
                if "is" in args.metrics:
                    t = time.perf_counter()
                    isc = calculate_isc(feats_gen, feat_layer_name="logits", splits=10,
                                        samples_shuffle=True, rng_seed=2020)
                    seconds["is"] = time.perf_counter() - t
                    out["is_mean"] = _number(isc["inception_score_mean"])
                    out["is_std"] = _number(isc["inception_score_std"])
                if "fd" in args.metrics:
                    t = time.perf_counter()
                    fid = calculate_fid(feats_gen, feats_ref, feat_layer_name="2048")
                    seconds["fd"] = time.perf_counter() - t
                    out["fd"] = _number(fid["frechet_distance"])
                if save_features is not None:
                    features.update({f"{side}_{key}": feats[key].numpy()
                                     for side, feats in (("generated", feats_gen), ("reference", feats_ref))
                                     for key in ("2048", "logits")})
                    features["generated_files"] = np.array(list(feats_gen["file_path_"]))
                    features["reference_files"] = np.array(list(feats_ref["file_path_"]))

            if "fad" in args.metrics:
                t = time.perf_counter()
                # store_embds (the reference's own option) writes embds_*.npy into the temp CWD
                fad = frechet.score(generated, reference, store_embds=save_features is not None,
                                    limit_num=None)
                seconds["fad"] = time.perf_counter() - t
                out["fad"] = _number(fad["frechet_audio_distance"] if isinstance(fad, dict) else fad)
                if save_features is not None and isinstance(fad, dict):
                    features["fad_generated"] = np.load("embds_background.npy")
                    features["fad_reference"] = np.load("embds_eval.npy")
            if save_features is not None:
                np.savez(save_features, **features)
        finally:
            os.chdir(old_cwd)
            workdir.cleanup()

    from importlib.metadata import version

    import librosa
    import scipy

    seconds["total"] = time.perf_counter() - t_start
    out.update(sample_rate=args.sample_rate, metrics=args.metrics, seconds=seconds,
               versions={"audioldm_eval": version("audioldm_eval"), "torch": torch.__version__, "numpy": np.__version__,
                         "scipy": scipy.__version__, "librosa": librosa.__version__,
                         "torch_threads": torch.get_num_threads()})
    return out


if __name__ == "__main__":
    print(json.dumps(main()))
