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
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOLDEN_FAD = Path(__file__).parent / "golden" / "fad_golden.json"
CNN14_SEED = 11
CNN14_FILES = {16000: "Cnn14_16k_mAP=0.438.pth", 32000: "Cnn14_mAP=0.431.pth"}


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
def write_cnn14_checkpoint(path: Path, sample_rate: int, seed: int = CNN14_SEED) -> Path:
    """``{"model": state_dict}``, the layout of the official PANNs files, with the package's
    informative seeded random weights (metrics.embedders.cnn14.informative_random_state)."""
    from metrics.embedders.cnn14 import save_random_weights

    path.parent.mkdir(parents=True, exist_ok=True)
    return save_random_weights(path, sample_rate, seed)


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(autouse=True)
def _no_weight_downloads(monkeypatch):
    """A test that asks for absent pretrained weights must get the not-found error, never a
    320 MB download (tests/metrics/test_weights.py unsets this to test the download itself)."""
    monkeypatch.setenv("BENCH_OFFLINE", "1")


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
