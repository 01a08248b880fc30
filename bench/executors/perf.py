"""`bench perf executors`: the same generation job on each engine, and what scheduling a shard costs.

Times `bench generate --systems musicgen,dyvim --dataset toy` (tiny models, 16 test clips by default;
DyViM from a checkpoint made beforehand, untimed, by one training step on two training clips:
generation costs the same whatever the weights; every timed run with a cold feature cache of its
own) with the
`local` executor at 1 and 2 workers and with `ray` on a 2-CPU local instance (its start-up
included), each a real `bench` subprocess; then checks that the three runs' wavs are byte-identical.
All runs use one torch thread per task (OMP_NUM_THREADS=1, executor.threads_per_task=1) and
generation batches of one clip, so the outputs cannot depend on how clips were sharded. Then, in
this process, it runs no-op shards through local (2 workers), ray (2 CPUs) and slurm (submitit's
local cluster) and reports each engine's start-up and marginal cost per shard. Last line:
`speedup_local2=<x> speedup_ray2=<y> identical=<0|1>` (target ≥ 1.6 for both, identical=1).
"""

from __future__ import annotations

import argparse

from bench import api
from bench.config import to_dict
from bench.executors import make_executor
from bench.executors.base import Shard
from core.cache import Cache

SYSTEMS = "musicgen,dyvim"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--keep", default=None, help="folder to keep runs and caches in (default: a temp dir)")
    p.add_argument("--data-root", default=None, help="where the toy is (or gets) prepared (default: paths.data_root)")
    p.add_argument("--size", default="demo", help="toy size (dataset.params.size): tiny | demo (default) | large")
    p.add_argument("--test-fraction", type=float, default=0.4,
                   help="the toy's test share (default 0.4: 16 test clips at the demo size, so the per-clip work, "
                        "not the engines' start-up, is what is timed); the toy is built in its own folder")
    p.add_argument("--limit", type=int, default=None, help="only the first N test clips (run.limit)")
    p.add_argument("--shards", type=int, default=8, help="no-op shards per engine for the overhead figures")
    p.add_argument("--skip-slurm", action="store_true", help="leave submitit's local cluster out of the overhead figures")


def _noop(payload, progress=None):
    return payload


def run(args) -> int:
    import os
    import subprocess
    import sys
    import tempfile
    import time
    from pathlib import Path

    base = Path(args.keep or tempfile.mkdtemp(prefix="bench-perf-exec-")).resolve()
    base.mkdir(parents=True, exist_ok=True)
    data_root = args.data_root or os.environ.get("BENCH_DATA_ROOT", "data")
    env0 = {**os.environ, "BENCH_DATA_ROOT": str(Path(data_root).resolve()), "BENCH_RUNS_ROOT": str(base / "runs"),
            "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

    def bench(label: str, *argv: str, cache: str) -> float:
        env = {**env0, "BENCH_CACHE_DIR": str(base / cache)}
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "bench", *argv], env=env, capture_output=True, text=True)
        dt = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"perf executors: {label} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n"
                             f"{proc.stderr[-3000:]}")
        return dt

    print(f"perf executors: runs and caches under {base}; toy under {env0['BENCH_DATA_ROOT']}", flush=True)
    toy = [f"dataset.params.size={args.size}", f"dataset.params.test_fraction={args.test_fraction}",
           f"dataset.root={Path(env0['BENCH_DATA_ROOT']) / f'toy_{args.size}_perf{args.test_fraction:g}'}"]
    t = bench("toy", "data", "prepare", "toy", *toy, cache="cache-toy")
    t0 = time.perf_counter()
    ckpt = _checkpoint(base / "checkpoint", env0["BENCH_DATA_ROOT"], toy)
    print(f"toy prepared (or found) in {t:.1f} s; DyViM checkpoint in {time.perf_counter() - t0:.1f} s (untimed)",
          flush=True)
    common = ["--systems", SYSTEMS, "--dataset", "toy", f"system.dyvim.checkpoint={ckpt}", "system.dyvim.batch_size=1",
              "system.musicgen.batch_size=1", "executor.threads_per_task=1", *toy]
    if args.limit:
        common.append(f"run.limit={args.limit}")
    engines = {"local1": ["executor.workers=1"], "local2": ["executor.workers=2"],
               "ray2": ["executor=ray", "executor.num_cpus=2", "executor.object_store_mb=200"]}
    times = {}
    for label, over in engines.items():
        times[label] = bench(label, "generate", *common, "--name", label, *over, cache=f"cache-{label}")
        print(f"{label}_s={times[label]:.2f}", flush=True)

    files = {}
    for label in engines:
        run_dir = base / "runs" / label
        files[label] = {f"{s}/{p.name}": p.read_bytes() for s in SYSTEMS.split(",") for p in sorted((run_dir / s).glob("*.wav"))}
    n = len(files["local1"])
    identical = int(n > 0 and all(files[k] == files["local1"] for k in files))
    print(f"outputs={n} per run; identical across local1, local2, ray2: {bool(identical)}", flush=True)

    for label, (start, per) in _overheads(base / "overhead", args.shards, args.skip_slurm).items():
        print(f"overhead engine={label} startup_s={start:.2f} per_shard_s={per:.3f}", flush=True)
    print(f"speedup_local2={times['local1'] / times['local2']:.2f} speedup_ray2={times['local1'] / times['ray2']:.2f} "
          f"identical={identical}")
    return 0


def _checkpoint(out_dir, data_root: str, toy: list[str]):
    """A DyViM checkpoint of the default tiny config: one training step on two toy clips' features."""
    import os

    from systems.dyvim.model import DyViMConfig
    from systems.dyvim.system import MODEL_KEYS, build_model
    from systems.dyvim.train import TrainConfig, train_dyvim

    os.environ["BENCH_DATA_ROOT"] = data_root
    cfg = api.load_config("toy", ["dyvim"], toy, metrics=[])
    scfg = to_dict(cfg)["system"]["dyvim"]
    config = DyViMConfig(**{k: v for k, v in scfg.items() if k in MODEL_KEYS})
    model, ext = build_model(config, Cache(out_dir / "cache"), video_fps=float(scfg.get("video_fps", 25.0)))
    clips = [c for c in api.dataset_clips(cfg, auto_prepare=False) if c.split == "train"][:2]
    items = [ext.extract(c, with_codes=True) for c in clips]
    train_dyvim(model, items, [], TrainConfig(steps=1, batch_size=2, warmup_steps=1, eval_every=1,
                                              segment_seconds=1.0), out_dir, progress=False)
    return out_dir / "best.pt"


def _overheads(folder, k: int, skip_slurm: bool) -> dict[str, tuple[float, float]]:
    """engine → (start-up s, marginal s per extra no-op shard): runs of 1 and of 1 + k shards."""
    import time

    cfgs = {"local2": {"name": "local", "workers": 2},
            "ray2": {"name": "ray", "num_cpus": 2, "object_store_mb": 200},
            "slurm_submitit_local": {"name": "slurm", "cluster": "local", "poll_s": 0.05, "cpus_per_task": 1,
                                     "mem_gb": 1}}
    if skip_slurm:
        cfgs.pop("slurm_submitit_local")
    out = {}
    for label, cfg in cfgs.items():
        ex = make_executor(cfg)
        ex.poll_s = 0.01 if label != "slurm_submitit_local" else 0.05
        shards = lambda n, tag: [Shard(_noop, i, f"{label}-{tag}-{i}", "noop", 1, str(folder / label))  # noqa: E731
                                 for i in range(n)]
        with ex:
            t0 = time.perf_counter()
            if label == "ray2":  # the local instance's start-up, and its first worker process
                ex._ray()
                list(ex.run(shards(2, "warm"), None))
            t1 = time.perf_counter()
            list(ex.run(shards(1, "a"), None))
            t2 = time.perf_counter()
            list(ex.run(shards(1 + k, "b"), None))
            t3 = time.perf_counter()
        one, many = t2 - t1, t3 - t2
        # start-up: the engine's own start plus a 1-shard run (pool start, job submission, driver
        # round trip); per shard: what each of k more no-op shards adds to a run
        out[label] = ((t1 - t0) + one, max(0.0, (many - one) / k))
    return out
