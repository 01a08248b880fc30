"""`bench perf human-eval` at a tiny size: every vote stored once, issue 17's probes (forged big
body answered fast without memory growth, no 500 on malformed input, no bot vote kept), and the
last two lines as promised."""

import os
import re
import subprocess
import sys

import pytest

LAST = re.compile(r"^votes_sent=(\d+) votes_stored=(\d+) duplicates=(\d+) lost=(\d+) p95_ms=([\d.]+) max_rate=([\d.]+)$")


@pytest.mark.slow
def test_perf_human_eval_tiny():
    backends = "sqlite,postgresql" if os.environ.get("BENCH_TEST_POSTGRES_URL") else "sqlite"
    proc = subprocess.run([sys.executable, "-m", "bench", "perf", "human-eval", "--raters", "4", "--votes", "5",
                           "--pause-min", "0.05", "--pause-max", "0.15", "--repeat", "0.5", "--rates", "10,20",
                           "--step-s", "0.5", "--backends", backends, "--max-s", "120"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    *_, probes, last = proc.stdout.strip().splitlines()
    p = re.match(r"^forged_big_body_ms=([\d.]+) rss_growth_mb=(-?[\d.]+) malformed_500s=(\d+) bot_votes_kept=(\d+)$", probes)
    assert p, probes
    # the bar is < 100 ms (met by the full run); reading the 200 MB body instead took 3.4 s and
    # +480 MB, so 500 ms keeps the test meaningful on a loaded 2-core CI machine
    assert float(p.group(1)) < 500 and float(p.group(2)) < 20 and p.group(3) == "0" and p.group(4) == "0", probes
    m = LAST.match(last)
    assert m, last
    sent, stored, dups, lost = map(int, m.groups()[:4])
    n_backends = len(backends.split(","))
    assert sent == stored >= n_backends * 4 * 5 and dups == 0 and lost == 0
    assert float(m.group(6)) >= 10
    for b in backends.split(","):
        assert f"backend={b} " in proc.stdout
