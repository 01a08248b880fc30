"""Shared fixtures: a miniature prepared dataset (sine music + tiny H.264 videos) that runs and
controls are tested on without building `toy`, and the test plugin systems on sys.path."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

PLUGINS = Path(__file__).parent / "plugins"


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    """Never touch the user's ~/.cache or ./data from tests; plugins importable."""
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("BENCH_RUNS_ROOT", str(tmp_path / "runs"))
    monkeypatch.syspath_prepend(str(PLUGINS))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(PLUGINS), os.environ.get("PYTHONPATH", "")]))


def make_mini_dataset(root: Path, n_sources: int = 5, clips_per_source: int = 2, duration: float = 2.0,
                      sample_rate: int = 32000, seed: int = 0, test_fraction: float = 0.3):
    """Write a prepared dataset whose dataset.json matches the `toy` config with these overrides."""
    from bench.config import compose
    from core.manifest import Clip, clip_id, write_manifest
    from bench.data.prepare import dataset_spec
    from core.split import grouped_split
    from core.media import atomic_write_audio, write_video

    overrides = [f"dataset.root={root}", f"dataset.clip_duration={duration}", "dataset.params.size=mini"]
    cfg = compose("toy", (), overrides)
    rng = np.random.default_rng(seed)
    clips = []
    for s in range(n_sources):
        for k in range(clips_per_source):
            start = k * duration
            cid = clip_id(f"src{s}", start)
            t = np.arange(int(duration * sample_rate)) / sample_rate
            audio = (0.2 * np.sin(2 * np.pi * (220 + 40 * s) * t) + 0.01 * rng.standard_normal(t.size)).astype(np.float32)
            atomic_write_audio(root / "audio" / f"{cid}.wav", audio, sample_rate)
            frames = np.full((int(duration * 10), 32, 32, 3), (40 * s) % 256, np.uint8)
            write_video(root / "video" / f"{cid}.mp4", frames, 10)
            clips.append(Clip(cid, f"video/{cid}.mp4", f"audio/{cid}.wav", 0.0, duration, f"src{s}"))
    clips = grouped_split(clips, test_fraction, seed)
    write_manifest(root, clips, {"spec": dataset_spec(cfg.dataset)})
    return overrides


@pytest.fixture
def mini_dataset(tmp_path):
    root = tmp_path / "mini"
    return root, make_mini_dataset(root)


# -- real faults: a small tmpfs that fills up, a read-only bind mount ----------------------------

def _mount(*args: str) -> None:
    import subprocess

    proc = subprocess.run(["mount", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        reason = f"cannot mount ({' '.join(args)}): {proc.stderr.strip() or proc.returncode}; needs root"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}. CI runs as root and must test these faults for real")
        pytest.skip(f"{reason}: the real full-disk / read-only faults were not checked")


def _umount(path: Path) -> None:
    import subprocess

    subprocess.run(["umount", "-l", str(path)], capture_output=True)


@pytest.fixture
def small_tmpfs(tmp_path):
    """`small_tmpfs(size)` mounts a tmpfs of `size` (e.g. '512k') and returns its folder; the
    disk really fills up (libsndfile, PyAV and pyarrow raise what they raise on a full device).
    `.resize(folder, size)` grows it (the user freeing space)."""
    mounted: list[Path] = []

    class Factory:
        def __call__(self, size: str) -> Path:
            folder = tmp_path / f"tmpfs{len(mounted)}"
            folder.mkdir()
            _mount("-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(folder))
            mounted.append(folder)
            return folder

        @staticmethod
        def resize(folder: Path, size: str) -> None:
            _mount("-o", f"remount,size={size}", str(folder))

    yield Factory()
    for folder in mounted:
        _umount(folder)


@pytest.fixture
def read_only_dir(tmp_path):
    """A folder that is a read-only bind mount (EROFS for every write, even as root)."""
    src, dst = tmp_path / "ro_src", tmp_path / "ro"
    src.mkdir()
    dst.mkdir()
    _mount("--bind", str(src), str(dst))
    try:
        _mount("-o", "remount,bind,ro", str(dst))
    except BaseException:
        _umount(dst)
        raise
    yield dst
    _umount(dst)


# -- in CI a skip is a failure ------------------------------------------------------------------
# A test skipped for a missing dependency (soundfont, Chromium, PostgreSQL, a package) would let
# CI pass without checking anything. With CI set, every skip fails, except those a test declares
# with @pytest.mark.skip_ok_in_ci("why this cannot run on CI's machine at all").

def pytest_configure(config):
    config.addinivalue_line("markers", "skip_ok_in_ci(reason): a skip that may stay a skip in CI (say why)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not os.environ.get("CI") or not report.skipped or hasattr(report, "wasxfail"):
        return
    if item.get_closest_marker("skip_ok_in_ci") is not None:
        return
    reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    report.outcome = "failed"
    report.longrepr = f"skipped in CI (CI=true): {reason}. Install what it needs in .ci/run / scripts/setup.sh."


# -- torch's global grad mode: a test (or the library code it calls) that leaves it disabled would
# make every later training test fail far from the cause; restore it and say which test did it.

@pytest.fixture(autouse=True)
def _restore_torch_grad_mode(request):
    """Every test starts with grad mode on; one that finds it off records who left it off."""
    import sys as _sys

    torch = _sys.modules.get("torch")
    if torch is not None and not torch.is_grad_enabled():
        torch.set_grad_enabled(True)
        with open(os.environ.get("BENCH_GRAD_LEAKS", os.devnull), "a") as fh:
            fh.write(f"grad mode was off before {request.node.nodeid}\n")
    yield
    torch = _sys.modules.get("torch")
    if torch is not None and not torch.is_grad_enabled():
        torch.set_grad_enabled(True)
        with open(os.environ.get("BENCH_GRAD_LEAKS", os.devnull), "a") as fh:
            fh.write(f"{request.node.nodeid} left grad mode off\n")
