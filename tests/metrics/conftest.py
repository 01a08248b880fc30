"""Fixtures for the parity tests against audioldm_eval (test_parity.py): seeded clips, seeded
random weight files in the official formats, and the reference's side environment.

Everything is recreated from seeds with NumPy's legacy RandomState stream (bit-stable across
NumPy versions), so the same files come out under any torch; nothing binary is committed.
The clip and VGGish generators live in scripts/make_fad_golden.py, which made the committed
golden FAD from exactly these files.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
GOLDEN_FAD = Path(__file__).parent / "golden" / "fad_golden.json"
CNN14_SEED = 11
CNN14_FILES = {16000: "Cnn14_16k_mAP=0.438.pth", 32000: "Cnn14_mAP=0.431.pth"}
# Cnn14 front ends as audioldm_eval's EvaluationHelper configures them (eval.py lines 33–56)
CNN14_FRONT_END = {16000: dict(window_size=512, hop_size=160, mel_bins=64, fmin=50, fmax=8000),
                   32000: dict(window_size=1024, hop_size=320, mel_bins=64, fmin=50, fmax=14000)}
CNN14_BLOCKS = [(1, 64), (64, 128), (128, 256), (256, 512), (512, 1024), (1024, 2048)]


def load_script(name: str):
    """Import scripts/<name>.py as a module (scripts/ is not a package)."""
    path = ROOT / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_bench_scripts_{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


fad_golden_script = load_script("make_fad_golden")


# --------------------------------------------------------------------------- Cnn14 weights
def cnn14_front_end(sample_rate: int) -> "OrderedDict[str, np.ndarray]":
    """The non-trained tensors of an official PANNs Cnn14 file: torchlibrosa 0.1.0's STFT kernels
    (hann-windowed DFT, computed as its ``DFTBase.dft_matrix``) and the librosa mel filterbank.
    They are the real values, not random, so any front-end implementation sees the same model."""
    import librosa
    import scipy.signal

    fe = CNN14_FRONT_END[sample_rate]
    n_fft = fe["window_size"]
    window = scipy.signal.get_window("hann", n_fft, fftbins=True)  # librosa.filters.get_window
    x, y = np.meshgrid(np.arange(n_fft), np.arange(n_fft))
    dft = np.power(np.exp(-2 * np.pi * 1j / n_fft), x * y)
    bins = n_fft // 2 + 1
    mel = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=fe["mel_bins"], fmin=fe["fmin"], fmax=fe["fmax"])
    return OrderedDict([
        ("spectrogram_extractor.stft.conv_real.weight",
         np.real(dft[:, :bins] * window[:, None]).T[:, None, :].astype(np.float32)),
        ("spectrogram_extractor.stft.conv_imag.weight",
         np.imag(dft[:, :bins] * window[:, None]).T[:, None, :].astype(np.float32)),
        ("logmel_extractor.melW", mel.T.astype(np.float32)),
    ])


def cnn14_state(sample_rate: int, seed: int = CNN14_SEED) -> "OrderedDict[str, np.ndarray]":
    """A seeded random Cnn14 (audioldm_eval / PANNs layout) state dict as NumPy arrays.

    He-uniform conv/linear weights; batch-norm scales near 1 and running statistics chosen so
    each layer's input is roughly standardised (bn0 sees log-mel dB values around −20 ± 20).
    The trained tensors depend only on the seed, so the 16 and 32 kHz files share them.
    """
    rng = np.random.RandomState(seed)

    def uniform(shape, lo, hi):
        return (lo + (hi - lo) * rng.random_sample(shape)).astype(np.float32)

    def bn(prefix, n, mean=(-0.05, 0.05), var=(0.5, 1.5)):
        return [(f"{prefix}.weight", uniform(n, 0.8, 1.2)), (f"{prefix}.bias", uniform(n, -0.1, 0.1)),
                (f"{prefix}.running_mean", uniform(n, *mean)), (f"{prefix}.running_var", uniform(n, *var)),
                (f"{prefix}.num_batches_tracked", np.array(0, dtype=np.int64))]

    he = fad_golden_script.he_uniform
    state = OrderedDict(cnn14_front_end(sample_rate))
    state.update(bn("bn0", 64, mean=(-30.0, -10.0), var=(200.0, 600.0)))
    for i, (c_in, c_out) in enumerate(CNN14_BLOCKS, start=1):
        p = f"conv_block{i}"
        state[f"{p}.conv1.weight"] = he(rng, (c_out, c_in, 3, 3), c_in * 9)
        state[f"{p}.conv2.weight"] = he(rng, (c_out, c_out, 3, 3), c_out * 9)
        state.update(bn(f"{p}.bn1", c_out))
        state.update(bn(f"{p}.bn2", c_out))
    state["fc1.weight"] = he(rng, (2048, 2048), 2048)
    state["fc1.bias"] = uniform(2048, -0.05, 0.05)
    state["fc_audioset.weight"] = he(rng, (527, 2048), 2048)
    state["fc_audioset.bias"] = uniform(527, -0.5, 0.5)
    return state


def write_cnn14_checkpoint(path: Path, sample_rate: int, seed: int = CNN14_SEED) -> Path:
    """``{"model": state_dict}`` (float32 tensors), the layout of the official PANNs files."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    state = cnn14_state(sample_rate, seed)
    torch.save({"model": OrderedDict((k, torch.from_numpy(v)) for k, v in state.items())}, path)
    return path


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def fad_golden() -> dict:
    return json.loads(GOLDEN_FAD.read_text())


@pytest.fixture(scope="session")
def parity_clips(tmp_path_factory, fad_golden) -> dict:
    """The golden recipe's clips: generated/ and reference/ with the same 20 file names, 10 s at
    32 kHz, 16-bit PCM (sha256 of the samples included)."""
    recipe = {k: fad_golden["clips"][k] for k in fad_golden_script.CLIPS}
    return fad_golden_script.write_clip_sets(tmp_path_factory.mktemp("parity_clips"), recipe)


@pytest.fixture(scope="session")
def cnn14_checkpoints(tmp_path_factory):
    """A ckpt folder with both official Cnn14 file names (seeded random weights, ~320 MB each,
    deleted after the session: pytest keeps its last temp folders)."""
    ckpt = tmp_path_factory.mktemp("ckpt")
    for sr, name in CNN14_FILES.items():
        write_cnn14_checkpoint(ckpt / name, sr)
    yield ckpt
    shutil.rmtree(ckpt, ignore_errors=True)


@pytest.fixture(scope="session")
def vggish_checkpoints(tmp_path_factory, fad_golden):
    """The golden's seeded VGGish files (vggish-10086976.pth ~290 MB, vggish_pca_params-970ea276.pth),
    deleted after the session."""
    folder = tmp_path_factory.mktemp("vggish")
    yield fad_golden_script.write_vggish_weights(folder, fad_golden["vggish_weights"]["seed"])
    shutil.rmtree(folder, ignore_errors=True)


def _pypi_reachable() -> bool:
    """Can pip fetch audioldm_eval (which is on PyPI only)? False = no network here."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir",
                            "--retries", "0", "--timeout", "20", "-d", tmp, "audioldm_eval==0.0.3"],
                           capture_output=True, text=True)
    return r.returncode == 0


@pytest.fixture(scope="session")
def reference_python() -> str:
    """The side environment's python (scripts/reference_env.sh: built once, then cached).

    Skipped only when the build fails *and* PyPI is unreachable; any other failure fails."""
    r = subprocess.run(["bash", str(ROOT / "scripts" / "reference_env.sh")], capture_output=True, text=True,
                       timeout=3600)
    if r.returncode != 0:
        if not _pypi_reachable():
            pytest.skip("the audioldm_eval side environment cannot be built: PyPI is unreachable (no network)")
        pytest.fail(f"scripts/reference_env.sh failed (PyPI is reachable):\n{r.stderr[-4000:]}")
    return str(Path(r.stdout.strip().splitlines()[-1]) / "bin" / "python")
