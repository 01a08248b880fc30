"""`bench perf run`: the main job twice on the demo-size toy (first run, then the identical
command, which must only resume), plus the toy's build time and `bench --help` latency.

Every number comes from real subprocesses of the `bench` CLI in a fresh temp folder, so it is
what a user sees. `first_s` is the first run from a clean state, which builds the demo toy as a
new user's first run does; a run with the toy already built is printed beside it. Last line: `clips=… first_s=… resume_s=… resume_ratio=…` (target ≤ 0.05).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The README's main job (`make demo`): every in-process system that exists, plus the controls.
MAIN_JOB_SYSTEMS = ("reference", "shuffled", "musicgen", "dyvim")


def _timed(args: list[str], env: dict) -> tuple[float, str]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "bench", *args], env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"perf: `bench {' '.join(args)}` failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return dt, proc.stdout


def perf_run(keep: str | None = None) -> int:
    base = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="bench-perf-"))
    base.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "BENCH_DATA_ROOT": str(base / "data"), "BENCH_RUNS_ROOT": str(base / "runs"),
           "BENCH_CACHE_DIR": str(base / "cache")}

    helps = [_timed(["--help"], env)[0] for _ in range(5)]
    print(f"help_latency_s={statistics.median(helps):.3f} (median of 5)")

    job = ["run", "--systems", ",".join(MAIN_JOB_SYSTEMS), "--dataset", "toy"]
    # A new user's first run: nothing built yet, so it includes building the demo toy.
    first_s, out = _timed(job, env)
    resume_s, out2 = _timed(job, env)
    if _generated(out2):
        raise SystemExit(f"perf: the identical re-run regenerated files:\n{out2}")
    toy_s, _ = _timed(["data", "prepare", "toy", "--force"], env)
    cached_s, _ = _timed([*job, "--name", "toy-cached"], env)
    clips = _outputs(out)
    print(f"main job: bench {' '.join(job)}  (data, runs and cache under {base})")
    print(f"toy_build_s={toy_s:.1f} (demo size, from scratch)")
    print(f"first run with the toy already built: {cached_s:.2f} s (resume ratio against it {resume_s / cached_s:.3f})")
    print(f"clips={clips} first_s={first_s:.2f} resume_s={resume_s:.2f} resume_ratio={resume_s / first_s:.3f}")
    return 0


def _outputs(stdout: str) -> int:
    return sum(int(tok.split("=")[1]) for line in stdout.splitlines() if line.startswith("summary:")
               for tok in line.split() if tok.startswith("outputs="))


def _generated(stdout: str) -> int:
    return sum(int(tok.split("=")[1]) for line in stdout.splitlines() if line.startswith("summary:")
               for tok in line.split() if tok.startswith("generated="))
