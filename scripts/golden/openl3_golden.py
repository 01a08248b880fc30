"""Golden OpenL3 values made by the real code: stable-audio-metrics' ``extract_embeddings``
(src/openl3_fd.py at fd55536cc812c460ecc421220864993c7f168184) running marl/openl3 0.4.2
(``load_audio_embedding_model(input_repr="mel256", content_type="music", embedding_size=512)``,
kapre 0.3.7 front end) on TensorFlow 2.15, with a seeded random weight file in the official Keras
HDF5 layout written by ``metrics.embedders.openl3.save_random_weights`` (in the project venv).

Side environment (TensorFlow needs numpy < 2, so it cannot share the project venv):

    python3 -m venv /tmp/sideenv-openl3
    /tmp/sideenv-openl3/bin/pip install "tensorflow-cpu==2.15.1" "numpy<2" librosa soxr pyloudnorm \\
        resampy h5py soundfile scikit-image tqdm
    /tmp/sideenv-openl3/bin/pip install --no-deps kapre==0.3.7   # its metadata asks numpy>=2
    # openl3 0.4.2's source (its sdist's setup.py downloads the weights, out of reach here):
    #   git archive v0.4.2 openl3 of github.com/marl/openl3 → /tmp/sideenv-openl3/src/openl3
    # stable-audio-metrics' src/openl3_fd.py copied (not vendored) to /tmp/sideenv-openl3/sam/src/
    /tmp/sideenv-openl3/bin/python scripts/golden/openl3_golden.py --out tests/metrics/golden/openl3_golden.npz

What is substituted, and only that: openl3's model loader is given the random weight file
(``openl3.models.get_audio_embedding_model_path`` returns it: the package's own file is absent).
Each clip is embedded alone (``extract_embeddings`` on a one-file glob, batch_size 4) so its rows
can be told apart; the reference concatenates every file's rows.

Also recorded, from the model's own kapre layers (the ``melspectrogram`` sub-model, run layer by
layer): TensorFlow's Hann window (``tf.signal.hann_window(2048)``, what kapre's STFT multiplies by)
and the sha256 of the STFT magnitude's float32 bytes (kapre's ``Magnitude`` output) on the seeded
full-band windows and on the windows openl3 cuts from ``short_1s_16k`` (16 kHz upsampled to 48 kHz:
its bands above 8 kHz hold only the FFT's float32 rounding noise), so that a test can check our
STFT bit for bit.

``--time`` instead prints the seconds the reference takes for the given files (perf_line).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
OPENL3_SRC = Path(os.environ.get("OPENL3_SRC", "/tmp/sideenv-openl3/src"))
SAM_SRC = Path(os.environ.get("SAM_SRC", "/tmp/sideenv-openl3/sam"))
PROJECT_PYTHON = os.environ.get("PROJECT_PYTHON", str(REPO / ".venv/bin/python"))
SEED = 0
#: (channels, samplingrate) settings of stable-audio-metrics' openl3_fd checked
SETTINGS = [(1, 48000), (2, 48000), (2, 44100)]


def make_audio(folder: Path) -> dict[str, Path]:
    """The PaSST golden clips (scripts/golden/passt_golden.py) plus a 0.4 s clip (under one window)."""
    import soundfile as sf

    spec = importlib.util.spec_from_file_location("_passt_golden", Path(__file__).with_name("passt_golden.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    clips = mod.make_audio(folder)
    rng = np.random.RandomState(99)
    path = folder / "tiny_0.4s_22k_stereo.wav"
    sf.write(path, (0.2 * rng.standard_normal((8820, 2))).astype(np.float32), 22050, subtype="PCM_16")
    clips["tiny_0.4s_22k_stereo"] = path
    return clips


def window_check_input() -> np.ndarray:
    """Three seeded 1 s windows at 48 kHz: white noise, noise fading in, and noise + a tone."""
    rng = np.random.RandomState(7)
    x = 0.3 * rng.standard_normal((3, 48000))
    x[1] *= np.linspace(0, 1, 48000)
    x[2] += 0.5 * np.sin(2 * np.pi * 440 * np.arange(48000) / 48000)
    return x.astype(np.float32)


def magnitude_sha256(model, x: np.ndarray) -> str:
    """sha256 of kapre's STFT magnitude (float32, (n, 199, 1025) C order) for windows (n, 48000)."""
    import hashlib

    t = x[:, None, :]
    for layer in model.get_layer("melspectrogram").layers:
        t = layer(t)
        if layer.name == "magnitude":
            return hashlib.sha256(np.ascontiguousarray(np.asarray(t)[..., 0], np.float32).tobytes()).hexdigest()
    raise RuntimeError("kapre's melspectrogram has no 'magnitude' layer")


def openl3_input_windows(path: Path, sr_out: int = 48000) -> np.ndarray:
    """The (n, 48000) windows stable-audio-metrics' extract_embeddings (channels=1) hands the model."""
    import librosa
    import openl3.core
    import pyloudnorm as pyln
    import soxr

    audio, sr = librosa.load(path, sr=None, mono=False)
    audio = soxr.resample(pyln.normalize.peak(audio.T, -1.0), sr, sr_out)
    return openl3.core._preprocess_audio_batch(audio, sr_out, center=True, hop_size=0.5)[:, 0]


def write_weights(path: Path) -> Path:
    subprocess.run([PROJECT_PYTHON, "-c", "import sys; from metrics.embedders.openl3 import save_random_weights; "
                    f"save_random_weights(sys.argv[1], seed={SEED})", str(path)], cwd=REPO, check=True)
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(REPO / "tests/metrics/golden/openl3_golden.npz"))
    ap.add_argument("--time", action="store_true")
    ap.add_argument("--weights")
    ap.add_argument("files", nargs="*")
    args = ap.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    sys.path.insert(0, str(OPENL3_SRC))
    sys.path.insert(0, str(SAM_SRC))
    import openl3.models

    tmp = Path(tempfile.mkdtemp())
    weights = Path(args.weights) if args.weights else write_weights(tmp / "openl3_audio_mel256_music.h5")
    openl3.models.get_audio_embedding_model_path = lambda input_repr, content_type: str(weights)
    from src import openl3_fd  # stable-audio-metrics

    if args.time:
        t0 = time.perf_counter()
        for f in args.files:
            openl3_fd.extract_embeddings(f, 1, 48000, "music", 0.5, batch_size=4)
        print(time.perf_counter() - t0)
        return
    result = {}
    # the model alone (kapre front end + network) on seeded full-band windows: no resampling, no
    # band-limited spectrum (whose −80 dB floor is float32 FFT rounding in the reference itself)
    x = window_check_input()
    model = openl3.models.load_audio_embedding_model_from_path(str(weights), "mel256", 512)
    result["windows/out"] = model.predict(x[:, None, :], verbose=0).astype(np.float32)
    result["tf_hann_window"] = tf.signal.hann_window(2048, periodic=True).numpy()
    result["windows/magnitude_sha256"] = np.array(magnitude_sha256(model, x))
    clips = make_audio(tmp)
    result["short_1s_16k/ch1/48000/magnitude_sha256"] = np.array(
        magnitude_sha256(model, openl3_input_windows(clips["short_1s_16k"])))
    for channels, sr in SETTINGS:
        for name, path in clips.items():
            rows = np.stack(openl3_fd.extract_embeddings(str(path), channels, sr, "music", 0.5, batch_size=4))
            result[f"{name}/ch{channels}/{sr}"] = rows.astype(np.float32)
    import h5py

    with h5py.File(weights, "r") as f:  # the weights' digest: names and bytes, file-layout independent
        import hashlib

        h = hashlib.sha256()
        f.visititems(lambda n, o: (h.update(n.encode()), h.update(np.asarray(o).tobytes()))
                     if isinstance(o, h5py.Dataset) else None)
    result["weights_digest"] = np.array(h.hexdigest())
    np.savez_compressed(args.out, **result)
    print("wrote", args.out, {k: v.shape for k, v in result.items()})


if __name__ == "__main__":
    main()
