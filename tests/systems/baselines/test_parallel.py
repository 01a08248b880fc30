import pytest
"""Parallel safety (issue 12 item 4): two clips of one baseline running at once on one machine, as
two real concurrent processes, do not collide on the CLIP download cache (~/.cache/clip, which
Video2Music's clip.load fills on first use), on ports, on working folders, or on a GPU."""

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from systems.baselines import external

HERE = Path(__file__).parent
STANDINS = HERE / "standins"
DRIVER = Path(external.__file__).with_name("drivers") / "video2music_generate.py"


def test_two_video2music_clips_download_clip_once_and_intact(standin, tmp_path):
    from core.media import write_video

    repo = standin("video2music")
    blob = np.random.default_rng(0).bytes(600 * 1024)  # ~75 chunks of 8 KiB at 10 ms: the two overlap
    sha = hashlib.sha256(blob).hexdigest()
    (tmp_path / "server" / sha).mkdir(parents=True)
    (tmp_path / "server" / sha / "ViT-L-14-336px.pt").write_bytes(blob)
    home = tmp_path / "home"  # one HOME for both: the cache they share
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(STANDINS / "clip"),
           "CLIP_STANDIN_URL": (tmp_path / "server" / sha / "ViT-L-14-336px.pt").as_uri()}
    procs = []
    for i in range(2):
        work = tmp_path / f"work{i}"
        (work / "saved_models").mkdir(parents=True)
        os.symlink(repo / "saved_models" / "AMT", work / "saved_models" / "AMT")
        os.symlink(repo / "dataset", work / "dataset")
        video = write_video(tmp_path / f"clip{i}.mp4", np.zeros((10, 32, 32, 3), np.uint8), 10)
        procs.append(subprocess.Popen([sys.executable, str(DRIVER), "--repo", str(repo), "--video", str(video),
                                       "--out", str(work / "out.mid"), "--device", "cpu"], cwd=work, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    cached = home / ".cache" / "clip" / "ViT-L-14-336px.pt"
    assert hashlib.sha256(cached.read_bytes()).hexdigest() == sha  # intact
    assert len((home / ".cache" / "clip" / "downloads.log").read_text().split()) == 1  # downloaded once
    assert all("SHA256 checksum does not match" not in o for o in outs), outs
    assert all((tmp_path / f"work{i}" / "out.mid").is_file() for i in range(2))


@pytest.mark.slow
def test_without_the_lock_two_downloads_at_once_do_collide(tmp_path):
    """The fault the lock prevents, shown with the same download code run bare in two processes."""
    blob = np.random.default_rng(1).bytes(600 * 1024)
    sha = hashlib.sha256(blob).hexdigest()
    (tmp_path / "server" / sha).mkdir(parents=True)
    (tmp_path / "server" / sha / "ViT-L-14-336px.pt").write_bytes(blob)
    env = {**os.environ, "HOME": str(tmp_path / "home"), "PYTHONPATH": str(STANDINS / "clip"),
           "CLIP_STANDIN_DELAY": "0.05",  # ~4 s of download: the second process starts well within it
           "CLIP_STANDIN_URL": (tmp_path / "server" / sha / "ViT-L-14-336px.pt").as_uri()}
    code = "import clip; clip.load('ViT-L/14@336px')"
    first = subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE, text=True)
    log = tmp_path / "home" / ".cache" / "clip" / "downloads.log"
    deadline = time.monotonic() + 60
    while not log.is_file() and time.monotonic() < deadline:  # the first has begun writing in place
        time.sleep(0.01)
    second = subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE, text=True)
    errs = [first.communicate(timeout=120)[1], second.communicate(timeout=120)[1]]
    # the second found a partial file: a wrong SHA-256, and it downloads again into the file being written
    assert len(log.read_text().split()) == 2 and any("SHA256 checksum does not match" in e for e in errs), errs


def test_two_batches_get_different_ports():
    ports = {external.free_port() for _ in range(20)}
    assert len(ports) > 1


def test_two_clips_get_different_working_folders(tmp_path):
    from systems.baselines import dry_run
    from systems.base import get_system_class

    cls = get_system_class("video2music")
    options, reqs = dry_run.inputs(cls, tmp_path / "repo", tmp_path / "in")
    system = dry_run.build(cls, options, tmp_path / "run", [r.clip for r in reqs])
    a, b = system.new_workdir("same_clip"), system.new_workdir("same_clip")
    assert a != b and a.is_dir() and b.is_dir()


LEASE = """
import sys, time
from systems.baselines.external import gpu_lease
with gpu_lease(sys.argv[1].split(","), poll=0.05) as gpu:
    t0 = time.time()
    time.sleep(float(sys.argv[2]))
    print(gpu, t0, time.time(), flush=True)
"""


def _leases(tmp_path, n: int, gpus: str, hold: float):
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONPATH": str(Path(external.__file__).parents[2])}
    procs = [subprocess.Popen([sys.executable, "-c", LEASE, gpus, str(hold)], env=env, stdout=subprocess.PIPE,
                              text=True) for _ in range(n)]
    out = [p.communicate(timeout=120)[0].split() for p in procs]
    assert [p.returncode for p in procs] == [0] * n
    return [(gpu, float(t0), float(t1)) for gpu, t0, t1 in out]


def test_two_processes_never_lease_the_same_gpu(tmp_path):
    got = _leases(tmp_path, 2, "0,1", 1.5)
    assert sorted(g for g, _, _ in got) == ["0", "1"]


@pytest.mark.slow
def test_a_third_process_waits_for_a_free_gpu(tmp_path):
    got = _leases(tmp_path, 3, "0,1", 1.5)
    by_gpu = {}
    for gpu, t0, t1 in got:
        by_gpu.setdefault(gpu, []).append((t0, t1))
    for spans in by_gpu.values():  # on one GPU, one holder at a time
        spans.sort()
        assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), by_gpu


def test_a_baseline_step_runs_on_its_leased_gpu(tmp_path, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from systems.base import get_system_class
    from systems.baselines import dry_run

    monkeypatch.setattr(external, "GPU_LOCKS", tmp_path / "locks")
    cls = get_system_class("video2music")
    options, reqs = dry_run.inputs(cls, tmp_path / "repo", tmp_path / "in")
    show = "import os, time; print(os.environ['CUDA_VISIBLE_DEVICES'], '{gpu}'); time.sleep(1.0)"
    system = dry_run.build(cls, {**options, "gpus": [2, 3], "commands": {"generate": [sys.executable, "-c", show]}},
                           tmp_path / "run", [r.clip for r in reqs])
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda i: system.step("generate", f"clip{i}", 1, tmp_path), range(2)))
    seen = sorted((system.log_dir / f"clip{i}.generate.try1.out").read_text().split()[0] for i in range(2))
    assert seen == ["2", "3"]  # each step on its own GPU; a command's {gpu} is the same index
    assert all(len(set((system.log_dir / f"clip{i}.generate.try1.out").read_text().split())) == 1 for i in range(2))


def test_gpus_option_is_checked():
    import pytest

    from core.errors import ConfigError

    assert external.parse_gpus(None) == [] and external.parse_gpus("0, 1") == ["0", "1"]
    with pytest.raises(ConfigError, match="distinct GPU indices"):
        external.parse_gpus("0,0")
