"""`bench status --run runs/<name>` (or an experiment folder): where a run stands, read from the
run folder and the engine, never from a driver's memory.

Per system (per variant and system for an experiment): clips done / failed / pending; the jobs
still in flight with their engine ids; the last error of each failed or lost shard whose clips are
not all done yet, and the last per-clip error. Done = the output exists under its final name
(outputs are renamed into place only when complete); failed = a clip of failures.jsonl whose
output is still missing; pending = the rest.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from bench.data.prepare import load_dataset
from bench.executors.slurm import job_states
from core.errors import ConfigError
from core.runfiles import select_clips
from core.settings import DatasetSettings, RunSettings

# `bench --help` imports this module to list the verb: only the standard library at the top
CONFIG_NAME = "config.yaml"  # bench.runs.CONFIG_NAME


@dataclass
class ShardStatus:
    shard_id: str
    engine: str
    job_id: str
    state: str  # running | queued | done | failed | lost | cancelled
    outputs_left: int
    error: str | None = None


@dataclass
class SystemStatus:
    label: str  # system, or <dataset>/<variant folder>:<system> in an experiment
    done: int
    failed: int
    pending: int
    in_flight: list[ShardStatus] = field(default_factory=list)
    failed_shards: list[ShardStatus] = field(default_factory=list)
    last_clip_error: str | None = None


def _alive(pid: int | None, host: str | None) -> bool | None:
    """Whether a process of this host is alive; None when it ran elsewhere."""
    if not pid or host != socket.gethostname():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def engine_states(records: list) -> dict[str, str]:
    """job id → the engine's word on it, for the records whose engine can still be asked."""
    out: dict[str, str] = {}
    slurm = [r for r in records if r.engine == "slurm"]
    ray = [r for r in records if r.engine == "ray"]
    if slurm:
        out.update(job_states(slurm))
    if ray:
        try:
            from bench.executors.ray_cluster import task_states

            out.update(task_states(ray))
        except ImportError:
            pass
    return out


def _shard_state(run_dir: Path, rec, engine: dict[str, str]) -> str:
    from bench.executors.records import TERMINAL, read_shard_state

    state = read_shard_state(run_dir, rec.shard_id)
    word = state.get("state")
    if word in TERMINAL:
        return word
    said = engine.get(rec.job_id, "")
    if said.startswith(("COMPLETED", "FINISHED")) or said in ("FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL",
                                                               "OUT_OF_MEMORY", "PREEMPTED"):
        return "lost"  # the engine is done with it, but the shard never said it finished
    if said in ("PENDING", "PENDING_NODE_ASSIGNMENT", "PENDING_ARGS_AVAIL", "SUBMITTED_TO_WORKER"):
        return "queued"
    if word == "running":
        alive = _alive(state.get("pid"), state.get("host"))
        return "lost" if alive is False else "running"
    # not started yet: queued while its driver (local) or engine still has it
    if rec.engine == "local":
        return "queued" if _alive(rec.driver_pid, rec.host) is not False else "lost"
    return "queued" if said or rec.engine != "ray" or _alive(rec.driver_pid, rec.host) is not False else "lost"


def _last_errors(path: Path, missing: set[tuple[str, int]]) -> tuple[set[tuple[str, int]], str | None]:
    failed, last = set(), None
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            key = (rec.get("clip"), int(rec.get("sample", 0)))
            if key in missing:
                failed.add(key)
                last = f"{rec.get('clip')}: {rec.get('error')}"
    return failed, last


def run_status(run_dir: str | Path, label_prefix: str = "") -> list[SystemStatus]:
    import yaml

    from bench.executors.records import TERMINAL, read_jobs, read_shard_state
    from bench.runs import FAILURES_NAME, output_name

    run_dir = Path(run_dir)
    if not (run_dir / CONFIG_NAME).exists():
        raise ConfigError(f"{run_dir}: not a run folder (no {CONFIG_NAME}) nor an experiment folder; "
                          "give the folder `bench run` or `bench experiment run` wrote")
    stored = yaml.safe_load((run_dir / CONFIG_NAME).read_text())
    run = RunSettings.from_config(stored)
    clips = select_clips(load_dataset(DatasetSettings.from_config(stored), auto_prepare=False), run.split, run.limit)
    k = run.samples_per_clip
    records = read_jobs(run_dir)
    engine = engine_states([r for r in records if read_shard_state(run_dir, r.shard_id).get("state") not in TERMINAL])
    out = []
    for system in stored.get("system", {}):
        sdir = run_dir / system
        existing = {p.name for p in sdir.glob("*.wav")} if sdir.exists() else set()
        wanted = {(c.id, s): output_name(c.id, s) for c in clips for s in range(k)}
        missing = {key for key, name in wanted.items() if name not in existing}
        failed, last = _last_errors(sdir / FAILURES_NAME, missing)
        st = SystemStatus(label_prefix + system, len(wanted) - len(missing), len(failed),
                          len(missing) - len(failed), last_clip_error=last)
        for rec in records:
            if rec.group != system:
                continue
            left = sum(1 for name in rec.outputs if name not in existing)
            state = _shard_state(run_dir, rec, engine)
            shard = ShardStatus(rec.shard_id, rec.engine, rec.job_id, state, left,
                                read_shard_state(run_dir, rec.shard_id).get("error"))
            if state in ("running", "queued"):
                st.in_flight.append(shard)
            elif state in ("failed", "lost", "cancelled") and left:
                st.failed_shards.append(shard)
        out.append(st)
    return out


def status(folder: str | Path) -> list[SystemStatus]:
    """A run folder's systems, or every planned run of an experiment folder."""
    folder = Path(folder)
    if (folder / "experiment.yaml").exists():
        import yaml

        doc = yaml.safe_load((folder / "experiment.yaml").read_text()) or {}
        out = []
        for r in doc.get("runs", []):
            run_dir = folder / r["dataset"] / r["folder"]
            prefix = f"{r['dataset']}/{r['folder']}:"
            if (run_dir / CONFIG_NAME).exists():
                out += run_status(run_dir, prefix)
            else:
                out += [SystemStatus(prefix + s, 0, 0, -1) for s in r.get("systems", [])]  # not started
        _variant_jobs(folder, out)
        return out
    return run_status(folder)


def _variant_jobs(folder: Path, rows: list[SystemStatus]) -> None:
    """Experiments on an engine: each variant is a job recorded in the experiment folder; its
    state goes on the variant's first row."""
    from bench.executors.records import TERMINAL, read_jobs, read_shard_state

    records = read_jobs(folder)
    engine = engine_states([r for r in records if read_shard_state(folder, r.shard_id).get("state") not in TERMINAL])
    for rec in records:
        mine = [r for r in rows if r.label.startswith(rec.group + ":")]
        if not mine:
            continue
        state = _shard_state(folder, rec, engine)
        unfinished = any(r.pending != 0 or r.failed for r in mine)
        shard = ShardStatus(rec.shard_id, rec.engine, rec.job_id, state, int(unfinished),
                            read_shard_state(folder, rec.shard_id).get("error"))
        if state in ("running", "queued"):
            mine[0].in_flight.append(shard)
        elif state in ("failed", "lost", "cancelled") and unfinished:
            mine[0].failed_shards.append(shard)


# --- the `bench status` verb (bench/cli.py VERB_MODULES) ---------------------------------------
def add_arguments(parser) -> None:
    parser.add_argument("--run", required=True, help="a run folder (runs/<name>) or an experiment folder")


def run(args) -> int:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    rows = status(args.run)
    table = Table(title=f"status of {args.run}")
    for col in ("system", "done", "failed", "pending", "jobs in flight"):
        table.add_column(col, justify="left" if col in ("system", "jobs in flight") else "right")
    for r in rows:
        flight = ", ".join(f"{s.engine}:{s.job_id} ({s.state})" for s in r.in_flight[:4])
        if len(r.in_flight) > 4:
            flight += f" … {len(r.in_flight)} in all"
        pending = "not started" if r.pending < 0 else str(r.pending)
        table.add_row(r.label, str(r.done), f"[red]{r.failed}[/red]" if r.failed else "0", pending, flight or "–")
    console.print(table)
    for r in rows:  # plain lines for scripts
        print(f"status: system={r.label} done={r.done} failed={r.failed} pending={max(r.pending, 0)} "
              f"in_flight={len(r.in_flight)}")
        for s in r.in_flight:
            print(f"  job {s.engine}:{s.job_id} shard={s.shard_id} state={s.state} outputs_left={s.outputs_left}")
        for s in r.failed_shards:
            print(f"  {s.state} shard={s.shard_id} job={s.engine}:{s.job_id} outputs_left={s.outputs_left}: "
                  f"{s.error or 'no error recorded'}")
        if r.last_clip_error:
            print(f"  last clip error: {r.last_clip_error}")
    return 0
