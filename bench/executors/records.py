"""What an executor leaves in the run folder, so `bench status` never relies on a live driver.

    runs/<name>/_jobs/jobs.jsonl            one line per submitted shard: engine, job id, shard id,
                                            system, the outputs it was to write, time, driver host/pid
    runs/<name>/_jobs/shards/<shard>.json   the shard's own state, written by the worker as it goes
                                            (running: host, pid, clips done/failed so far) and by the
                                            driver at the end (done | failed | lost | cancelled, error)
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core.runfiles import append_jsonl
from core.atomic import write_text_atomic

JOBS_DIR = "_jobs"
JOBS_FILE = "jobs.jsonl"
SHARDS_DIR = "shards"
TERMINAL = ("done", "failed", "lost", "cancelled")


def jobs_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / JOBS_DIR


def shard_state_path(run_dir: str | Path, shard_id: str) -> Path:
    return jobs_dir(run_dir) / SHARDS_DIR / f"{shard_id}.json"


def now() -> float:
    return round(time.time(), 3)


@dataclass
class JobRecord:
    engine: str  # local | slurm | ray
    job_id: str  # the engine's id: Slurm job id (array: <id>_<k>), Ray task id, local "<host>:<pid>"
    shard_id: str
    group: str  # the system (or experiment variant) the shard belongs to
    size: int
    outputs: list[str] = field(default_factory=list)  # file names the shard writes under <run>/<group>/
    submitted: float = field(default_factory=now)
    host: str = field(default_factory=socket.gethostname)
    driver_pid: int = field(default_factory=os.getpid)
    extra: dict = field(default_factory=dict)  # engine specifics: Slurm cluster + log folder, Ray address


def record_jobs(run_dir: str | Path, records: list[JobRecord]) -> None:
    for rec in records:
        append_jsonl(jobs_dir(run_dir) / JOBS_FILE, asdict(rec))


def read_jobs(run_dir: str | Path) -> list[JobRecord]:
    path = jobs_dir(run_dir) / JOBS_FILE
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        if line.strip():
            out.append(JobRecord(**json.loads(line)))
    return out


def write_shard_state(run_dir: str | Path, shard_id: str, **state) -> None:
    path = shard_state_path(run_dir, shard_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    old = read_shard_state(run_dir, shard_id)
    write_text_atomic(path, json.dumps({**old, **state, "updated": now()}))


def read_shard_state(run_dir: str | Path, shard_id: str) -> dict:
    path = shard_state_path(run_dir, shard_id)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def worker_identity() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid()}
