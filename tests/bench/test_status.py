"""`bench status` on a run with done, failed and pending clips, a shard in flight and a lost one."""

from __future__ import annotations

import os
import subprocess
import sys

from bench import api
from bench.cli import main
from bench.executors.records import JobRecord, record_jobs, write_shard_state
from bench.status import status


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_status_counts_done_failed_pending_and_reads_jobs(mini_dataset, capsys):
    root, ov = mini_dataset
    res = api.run(["slow_sine", "flaky"], "toy", ov + ["executor.workers=1"], name="st", metrics=[])
    n = res.clips
    d = res.run_dir
    wavs = sorted((d / "slow_sine").glob("*.wav"))
    wavs[0].unlink()  # pending again
    wavs[1].unlink()
    # a shard still running (this process stands for its worker) and one whose worker died
    record_jobs(d, [JobRecord("local", "vm:1", "slow_sine-x-0000", "slow_sine", 1, [wavs[0].name]),
                    JobRecord("local", "vm:1", "slow_sine-x-0001", "slow_sine", 1, [wavs[1].name])])
    import socket

    write_shard_state(d, "slow_sine-x-0000", state="running", pid=os.getpid(), host=socket.gethostname(), progress=0)
    write_shard_state(d, "slow_sine-x-0001", state="running", pid=_dead_pid(), host=socket.gethostname(), progress=0)

    rows = {r.label: r for r in status(d)}
    assert (rows["slow_sine"].done, rows["slow_sine"].failed, rows["slow_sine"].pending) == (n - 2, 0, 2)
    assert (rows["flaky"].done, rows["flaky"].failed, rows["flaky"].pending) == (n - 3, 3, 0)
    assert "model exploded" in res.run_dir.joinpath("flaky", "failures.jsonl").read_text()
    assert "protocol violation" in rows["flaky"].last_clip_error
    flight = rows["slow_sine"].in_flight
    assert [(s.shard_id, s.state, s.job_id) for s in flight] == [("slow_sine-x-0000", "running", "vm:1")]
    lost = rows["slow_sine"].failed_shards
    assert [(s.shard_id, s.state, s.outputs_left) for s in lost] == [("slow_sine-x-0001", "lost", 1)]
    # the shards of the first run all finished: none in flight, none failed
    assert all(s.shard_id.startswith("slow_sine-x") for s in flight + lost)

    assert main(["status", "--run", str(d)]) == 0
    out = capsys.readouterr().out
    assert f"status: system=flaky done={n - 3} failed=3 pending=0 in_flight=0" in out
    assert f"status: system=slow_sine done={n - 2} failed=0 pending=2 in_flight=1" in out
    assert "job local:vm:1 shard=slow_sine-x-0000 state=running" in out
    assert "lost shard=slow_sine-x-0001" in out and "last clip error: " in out
