"""`bench run` ends by writing the run's report and printing its path."""

import os
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_bench_run_writes_the_report(mini_dataset, tmp_path):
    _, overrides = mini_dataset
    env = {**os.environ, "BENCH_RUNS_ROOT": str(tmp_path / "runs"), "BENCH_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-m", "bench", "run", "--systems", "reference,shuffled", "--dataset", "toy",
                           *overrides, "--metrics", "none", "executor.workers=1"],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    page = tmp_path / "runs" / "toy" / "report" / "index.html"
    assert f"report: {page}" in proc.stdout.replace("\n", "")
    html = page.read_text()
    assert "no metric results in this run yet" in html and html.count("<video") >= 1
