"""`bench perf data`: the real-data path, done for real on a miniature AIST++ folder in its
official layout (bench.data.miniature), through the `bench` CLI as a user runs it:

1. `bench data prepare aist <settings>`, then `bench run --systems reference,shuffled --dataset aist`
   with no setting repeated;
2. a second prepare with other settings (`limit=2`) is refused and leaves the dataset unchanged;
3. a prepare into a real full disk (a 200 KiB tmpfs; needs root to mount) stops with the named
   error and no traceback;
4. a truncated download (its header claims the whole length) is caught at prepare;
5. a wav with NaN samples in the run is refused by `bench evaluate`, naming it, and the same
   `bench run` regenerates it.

Last line: `prepare_then_run=ok rebuild_refused=ok full_disk=named truncated_video=caught bad_wav=caught`
(any other word says which step did not behave, and the lines above say why).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--keep", default=None, help="work in this folder and keep it (default: a temp folder, removed)")


def _bench(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench", *args], env=env, capture_output=True, text=True)


def tree_digest(folder: Path) -> str:
    """sha256 of every file's relative path and bytes below `folder`."""
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode() + p.read_bytes())
    return h.hexdigest()


def run(args) -> int:
    import numpy as np
    import soundfile as sf

    from bench.data import miniature as mini

    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-perf-data-"))
    base.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "BENCH_DATA_ROOT": str(base / "data"), "BENCH_RUNS_ROOT": str(base / "runs"),
           "BENCH_CACHE_DIR": str(base / "cache")}
    result: dict[str, str] = {}
    try:
        t0 = time.perf_counter()
        layout = mini.make_aist_official(base / "download")
        settings = mini.aist_overrides(layout)
        print(f"miniature AIST++ (official layout, mp3 + 60 fps mp4) built in {time.perf_counter() - t0:.1f} s")

        t0 = time.perf_counter()
        prep = _bench(["data", "prepare", "aist", *settings], env)
        ran = _bench(["run", "--systems", "reference,shuffled", "--dataset", "aist", "--metrics", "beat"], env) \
            if prep.returncode == 0 else prep
        result["prepare_then_run"] = "ok" if prep.returncode == 0 and ran.returncode == 0 else "failed"
        print(f"prepare then run (no setting repeated): exit {prep.returncode}, {ran.returncode} "
              f"in {time.perf_counter() - t0:.1f} s" + ("" if ran.returncode == 0 else f"\n{ran.stderr[-800:]}"))

        data = base / "data" / "aist"
        before = tree_digest(data) if data.exists() else ""
        again = _bench(["data", "prepare", "aist", *settings, "dataset.params.limit=2"], env)
        refused = again.returncode == 2 and "prepared with other settings" in again.stderr and tree_digest(data) == before
        result["rebuild_refused"] = "ok" if refused else "failed"
        print(f"prepare with limit=2: exit {again.returncode}; dataset unchanged: {tree_digest(data) == before}")

        disk = base / "tmpfs"
        disk.mkdir()
        mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(disk)], capture_output=True,
                               text=True)
        if mount.returncode != 0:
            result["full_disk"] = "not_checked"
            print(f"full disk: not checked, cannot mount a tmpfs here ({mount.stderr.strip()}; needs root)")
        else:
            try:
                full = _bench(["data", "prepare", "aist", *settings], {**env, "BENCH_DATA_ROOT": str(disk)})
                named = full.returncode == 2 and "no space left on the device" in full.stderr \
                    and "Traceback" not in full.stderr
                result["full_disk"] = "named" if named else "missed"
                print(f"prepare into a full 200 KiB tmpfs: exit {full.returncode}: {full.stderr.strip()[:300]}")
            finally:
                subprocess.run(["umount", "-l", str(disk)], capture_output=True)

        trunc = {k: base / "truncated" / v.name for k, v in layout.items()}
        for k, v in layout.items():
            shutil.copytree(v, trunc[k])
        bad_video = trunc["videos"] / "gPO_sBM_c01_d10_mPO1_ch01.mp4"
        mini.truncate_video(bad_video, 0.45)
        tp = _bench(["data", "prepare", "aist", *mini.aist_overrides(trunc), "dataset.name=aist_truncated"], env)
        caught = tp.returncode == 0 and "does not decode to" in tp.stdout and bad_video.name in tp.stdout
        result["truncated_video"] = "caught" if caught else "missed"
        print(f"truncated video (header 4.5 s, bytes cut to 45 %): exit {tp.returncode}, reported: {caught}")

        run_dir = base / "runs" / "aist"
        wavs = sorted((run_dir / "shuffled").glob("*.wav"))
        if wavs:
            x, sr = sf.read(wavs[0], dtype="float32")
            x[100] = np.nan
            sf.write(wavs[0], x, sr, subtype="FLOAT")
            ev = _bench(["evaluate", "--run", str(run_dir), "--metrics", "beat"], env)
            rerun = _bench(["run", "--systems", "reference,shuffled", "--dataset", "aist", "--metrics", "beat"], env)
            ok = ev.returncode == 2 and str(wavs[0]) in ev.stderr and rerun.returncode == 0 \
                and np.isfinite(sf.read(wavs[0], dtype="float32")[0]).all()
            result["bad_wav"] = "caught" if ok else "missed"
            print(f"wav with a NaN sample: evaluate exit {ev.returncode} (names it: {str(wavs[0]) in ev.stderr}); "
                  f"the same run regenerated it: {rerun.returncode == 0}")
        else:
            result["bad_wav"] = "not_checked"
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    keys = ("prepare_then_run", "rebuild_refused", "full_disk", "truncated_video", "bad_wav")
    print(" ".join(f"{k}={result.get(k, 'failed')}" for k in keys))
    want = {"prepare_then_run": "ok", "rebuild_refused": "ok", "full_disk": "named", "truncated_video": "caught",
            "bad_wav": "caught"}
    return 0 if all(result.get(k) == v for k, v in want.items()) else 1
