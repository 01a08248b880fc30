"""Golden values for audiocraft's FAD made by the real code: audiocraft 1.3.0's own
``FrechetAudioDistanceMetric`` (``update`` writing the wav files through ffmpeg, then ``compute``
launching Google's ``frechet_audio_distance.create_embeddings_main`` and ``compute_fad`` on
TensorFlow 2.15 in a second environment, as audiocraft does through ``TF_PYTHON_EXE``), on a
seeded random VGGish written as a V1 TensorFlow checkpoint in the official ``vggish_model.ckpt``
format. Random weights: the numbers say nothing about audio quality.

Two environments:

    # torch side: the project's packages + audiocraft 1.3.0's three files + what they import
    python3.11 -m venv /tmp/sideenv-acfad
    echo /work/main/.venv/lib/python3.11/site-packages > /tmp/sideenv-acfad/lib/python3.11/site-packages/dyvim.pth
    /tmp/sideenv-acfad/bin/pip install --no-deps torchaudio==2.11.0 torchmetrics lightning-utilities imageio-ffmpeg
    /tmp/sideenv-acfad/bin/pip install flashy
    pip download --no-deps audiocraft==1.3.0 && tar xzf audiocraft-1.3.0.tar.gz   # → AUDIOCRAFT_SRC
    # TensorFlow side: Google's code laid out as audiocraft's FrechetAudioDistanceMetric docstring says
    # (google-research/frechet_audio_distance + tensorflow/models research/audioset/vggish under
    # tensorflow_models/audioset, with audiocraft's four documented edits) → GFAD_SRC
    python3.11 -m venv /tmp/sideenv-tf
    /tmp/sideenv-tf/bin/pip install tensorflow-cpu==2.15.1 tf_slim apache-beam==2.53.0 scipy
    TF_PYTHON_EXE=/tmp/sideenv-tf/bin/python /tmp/sideenv-acfad/bin/python scripts/golden/audiocraft_fad_golden.py

What is substituted, and only that: audiocraft's package ``__init__`` files (they import the whole
library) by empty packages; ``audiocraft.environment`` by a stub whose ``resolve_reference_path``
returns the path given. ffmpeg (which ``audio_write`` pipes to) is imageio-ffmpeg's static build.

Writes tests/metrics/golden/audiocraft_fad_golden.npz: per clip the sha256 and length of the int16
samples audiocraft wrote (``<set>/<clip>/pcm_sha256``, ``pcm_len``) and the embeddings Google's ``AudioSetModel`` gives for that file
(``<set>/<clip>/embeddings``); each set's statistics as compute_fad reads them (``<set>/mu``,
``<set>/sigma``); ``fad`` (compute_fad's full-precision value) and ``fad_printed`` (what
audiocraft's ``compute()`` returns: the ``FAD: %f`` line parsed); and checks of the project's
loading of that TensorFlow file: its NumPy checkpoint reader against TensorFlow's own reader
(``reader_max_abs_diff``), the TF → torch mapping against the seeded weights
(``tf_state_max_abs_diff``) and ``AudiocraftVGGishEmbedder(checkpoint=the .ckpt)``'s embeddings
against Google's (``ckpt_embeddings_max_rel_diff``); ``perf_s_per_10s``: the peer's seconds per
10-s file on one thread (Google's embedding steps with the model built; audiocraft's whole metric on
one pair, TensorFlow's and Beam's start-up included).

``--perf FILES…`` instead times the peer (update + compute) on the given files used as both sets.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
AUDIOCRAFT_SRC = Path(os.environ.get("AUDIOCRAFT_SRC", "/tmp/afad/audiocraft-1.3.0"))
GFAD_SRC = Path(os.environ.get("GFAD_SRC", "/tmp/gfad/google-research"))
TF_SIDE = Path(__file__).with_name("audiocraft_fad_tf_side.py")
SEED = 0  # VGGish weights: metrics.embedders.vggish.informative_random_state(RandomState(SEED))

#: clip name → (sample rate, seconds, channels); each clip has a generated and a reference version of the
#: same shape (audiocraft's update pairs them). 0.6 s gives no window (a file under 1 s adds no rows),
#: 1.0 s exactly one; the rest cover resampling from 24/32/44.1/48 kHz, stereo and partial last windows.
CLIPS = {"a_10s_32k": (32000, 10.0, 1), "b_10s_44k_stereo": (44100, 10.0, 2), "c_20s_16k": (16000, 20.0, 1),
         "d_20s_48k": (48000, 20.0, 1), "e_10s_24k": (24000, 10.0, 1), "f_4p3s_22k": (22050, 4.3, 1),
         "g_1s_16k": (16000, 1.0, 1), "h_0p6s_16k": (16000, 0.6, 1), "i_2p7s_48k_stereo": (48000, 2.7, 2)}


def make_audio(folder: Path) -> dict[str, dict[str, Path]]:
    """Seeded music-like clips written as 16-bit WAV: {"generated"|"reference": {clip: path}}.
    A few partials with a tremolo and noise bursts; the two sets draw their pitches from
    different ranges, so their FAD is far from 0."""
    import soundfile as sf

    out: dict[str, dict[str, Path]] = {"generated": {}, "reference": {}}
    for s, (kind, lo, hi) in enumerate((("generated", 150.0, 600.0), ("reference", 300.0, 1200.0))):
        rng = np.random.RandomState(4321 + s)
        (folder / kind).mkdir(parents=True, exist_ok=True)
        for name, (sr, dur, ch) in CLIPS.items():
            n = int(round(sr * dur))
            t = np.arange(n) / sr
            x = np.zeros(n)
            for _ in range(4):
                f0 = rng.uniform(lo, hi)
                x += rng.uniform(0.05, 0.2) * np.sin(2 * np.pi * f0 * t) * (1 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.5, 4) * t))
            bursts = (rng.uniform(size=int(dur * 8) + 1) > 0.6).repeat(sr // 8 + 1)[:n]
            x += 0.1 * bursts * rng.standard_normal(n)
            if ch == 2:
                x = np.stack([x, 0.7 * x + 0.05 * rng.standard_normal(n)], axis=1)
            path = folder / kind / f"{name}.wav"
            sf.write(path, np.clip(x, -1, 1).astype(np.float32), sr, subtype="PCM_16")
            out[kind][name] = path
    return out


def audiocraft_fad_class():
    """audiocraft 1.3.0's FrechetAudioDistanceMetric, its three source files loaded under their own
    module names (see the module docstring for the stubs; flashy is the real package)."""
    for name in ("audiocraft", "audiocraft.data", "audiocraft.metrics"):
        pkg = types.ModuleType(name)
        pkg.__path__ = [str(AUDIOCRAFT_SRC / name.replace(".", "/"))]
        sys.modules[name] = pkg
    env = types.ModuleType("audiocraft.environment")
    env.AudioCraftEnvironment = type("AudioCraftEnvironment", (), {"resolve_reference_path": staticmethod(Path)})
    sys.modules["audiocraft.environment"] = env
    for name in ("audiocraft.data.audio_utils", "audiocraft.data.audio", "audiocraft.metrics.fad"):
        spec = importlib.util.spec_from_file_location(name, AUDIOCRAFT_SRC / (name.replace(".", "/") + ".py"))
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules["audiocraft.metrics.fad"].FrechetAudioDistanceMetric


def ffmpeg_on_path(tmp: Path) -> None:
    """audio_write runs `ffmpeg`: imageio-ffmpeg's static binary, linked as tmp/bin/ffmpeg."""
    import imageio_ffmpeg

    (tmp / "bin").mkdir(exist_ok=True)
    link = tmp / "bin" / "ffmpeg"
    if not link.exists():
        link.symlink_to(imageio_ffmpeg.get_ffmpeg_exe())
    os.environ["PATH"] = f"{tmp / 'bin'}{os.pathsep}{os.environ['PATH']}"


def tf_side(*args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(GFAD_SRC), "TF_CPP_MIN_LOG_LEVEL": "2"}
    subprocess.run([os.environ.get("TF_PYTHON_EXE", "python"), str(TF_SIDE), *args], check=True, env=env)


def run_metric(cls, ckpt: Path, pairs: list[tuple[str, Path, Path]], log_folder: Path) -> float:
    """audiocraft's metric on (stem, generated file, reference file) pairs: update() once per pair
    with the file's float32 samples as audiocraft's audio reader gives them, then compute()."""
    import soundfile as sf
    import torch

    log_folder.mkdir(parents=True, exist_ok=True)
    metric = cls(bin=str(GFAD_SRC), model_path=str(ckpt), format="wav", log_folder=str(log_folder))
    for stem, gen, ref in pairs:
        g, sr = sf.read(str(gen), dtype="float32", always_2d=True)
        r, sr_r = sf.read(str(ref), dtype="float32", always_2d=True)
        assert sr == sr_r and g.shape == r.shape, stem
        preds = torch.from_numpy(g.T.copy())[None]
        targets = torch.from_numpy(r.T.copy())[None]
        metric.update(preds, targets, torch.tensor([g.shape[0]]), torch.tensor([sr]), stems=[stem])
    return float(metric.compute())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(REPO / "tests/metrics/golden/audiocraft_fad_golden.npz"))
    ap.add_argument("--perf", nargs="*", help="time the peer on these files (used as both sets)")
    ap.add_argument("--ckpt", help="an existing vggish_model.ckpt (default: the seeded random one, written here)")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))
    import soundfile as sf

    tmp = Path(tempfile.mkdtemp(prefix="acfad-"))
    ffmpeg_on_path(tmp)
    cls = audiocraft_fad_class()
    if args.ckpt:
        ckpt = Path(args.ckpt)
    else:
        from metrics.embedders.vggish import informative_random_state

        state = informative_random_state(np.random.RandomState(SEED))
        np.savez(tmp / "weights.npz", **state)
        ckpt = tmp / "vggish_model.ckpt"
        tf_side("write-ckpt", str(tmp / "weights.npz"), str(ckpt))

    if args.perf is not None:
        pairs = [(f"f{i}", Path(f), Path(f)) for i, f in enumerate(args.perf)]
        t0 = time.perf_counter()
        run_metric(cls, ckpt, pairs, tmp / "perf")
        print(time.perf_counter() - t0)
        shutil.rmtree(tmp, ignore_errors=True)
        return

    clips = make_audio(tmp / "audio")
    pairs = [(name, clips["generated"][name], clips["reference"][name]) for name in CLIPS]
    result: dict[str, np.ndarray] = {}
    result["fad_printed"] = np.array(run_metric(cls, ckpt, pairs, tmp / "run"))
    fad_dir = tmp / "run" / "fad"
    # each written file's int16 samples and Google's embeddings of it
    written = {"generated": fad_dir / "tests", "reference": fad_dir / "background"}
    wavs = [str(written[kind] / f"{name}.wav") for kind in written for name in CLIPS]
    tf_side("embed", str(ckpt), str(tmp / "emb.npz"), *wavs)
    emb = np.load(tmp / "emb.npz")
    for kind, folder in written.items():
        for name in CLIPS:
            pcm, sr = sf.read(str(folder / f"{name}.wav"), dtype="int16")
            assert sr == 16000
            result[f"{kind}/{name}/pcm_sha256"] = np.array(hashlib.sha256(pcm.astype("<i2").tobytes()).hexdigest())
            result[f"{kind}/{name}/pcm_len"] = np.array(pcm.shape[0])
            result[f"{kind}/{name}/embeddings"] = emb[str(folder / f"{name}.wav")]
    # the stats files audiocraft's compute() made, read by fad_utils; compute_fad's order: (bg, test)
    tf_side("stats", str(tmp / "stats.npz"), str(fad_dir / "stats_background"), str(fad_dir / "stats_tests"))
    st = np.load(tmp / "stats.npz")
    result["reference/mu"], result["reference/sigma"] = st["mu0"], st["sigma0"]
    result["generated/mu"], result["generated/sigma"] = st["mu1"], st["sigma1"]
    result["fad"] = st["fad"]
    # the project's NumPy reader on the full checkpoint against TensorFlow's own reader
    from metrics.embedders.tf_checkpoint import read_checkpoint

    tf_side("dump-ckpt", str(ckpt), str(tmp / "ckpt.npz"))
    theirs = np.load(tmp / "ckpt.npz")
    ours = read_checkpoint(ckpt)
    assert sorted(ours) == sorted(k.replace("__", "/") for k in theirs.files)
    result["reader_max_abs_diff"] = np.array(max(float(np.max(np.abs(ours[k.replace("__", "/")] - theirs[k])))
                                                 for k in theirs.files))
    # the project's VGGish loaded from that TensorFlow file (TF → torch layout), end to end on the clips
    if not args.ckpt:
        import warnings

        from metrics.embedders.vggish import AudiocraftVGGishEmbedder, state_from_tf_checkpoint

        mapped = state_from_tf_checkpoint(ckpt)
        result["tf_state_max_abs_diff"] = np.array(max(float(np.max(np.abs(mapped[k].numpy() - state[k])))
                                                       for k in state))
        embedder = AudiocraftVGGishEmbedder(weights="pretrained", checkpoint=str(ckpt))
        worst = 0.0
        for kind in clips:
            for name, path in clips[kind].items():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # the 0.6 s clip: no rows, as there
                    rows = embedder.embed_file(path)["frames"]
                theirs = result[f"{kind}/{name}/embeddings"]
                assert rows.shape == theirs.shape, (kind, name, rows.shape, theirs.shape)
                if rows.size:
                    worst = max(worst, float(np.max(np.abs(rows - theirs)) / np.max(np.abs(theirs))))
        result["ckpt_embeddings_max_rel_diff"] = np.array(worst)
    # the peer's seconds per 10-s file on one thread: Google's embedding steps on the three 10-s files audiocraft
    # wrote (model built first), and audiocraft's whole metric on one pair (TensorFlow's and Beam's start-up in it)
    os.environ.update(TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1", OMP_NUM_THREADS="1")
    ten = [str(written["generated"] / f"{n}.wav") for n in ("a_10s_32k", "b_10s_44k_stereo", "e_10s_24k")]
    env = {**os.environ, "PYTHONPATH": str(GFAD_SRC), "TF_CPP_MIN_LOG_LEVEL": "2"}
    out = subprocess.run([os.environ.get("TF_PYTHON_EXE", "python"), str(TF_SIDE), "time-embed", str(ckpt), *ten],
                         check=True, env=env, capture_output=True, text=True).stdout
    t0 = time.perf_counter()
    try:
        run_metric(cls, ckpt, [("a", clips["generated"]["a_10s_32k"], clips["reference"]["a_10s_32k"])], tmp / "perf")
    except RuntimeError:  # compute_fad fails on one pair's 19 rows in 128 dims; the embedding work is done
        pass
    result["perf_s_per_10s"] = np.array([float(out.split()[-1]), (time.perf_counter() - t0) / 2])
    np.savez_compressed(args.out, **result)
    print("wrote", args.out, f"fad={float(result['fad']):.9g} printed={float(result['fad_printed'])} "
          f"reader_max_abs_diff={float(result['reader_max_abs_diff'])} "
          f"tf_state_max_abs_diff={float(result.get('tf_state_max_abs_diff', np.nan))} "
          f"ckpt_embeddings_max_rel_diff={float(result.get('ckpt_embeddings_max_rel_diff', np.nan)):.3g}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
