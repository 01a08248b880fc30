import re
from pathlib import Path

from bench.perf import MAIN_JOB_SYSTEMS, _generated, _outputs

ROOT = Path(__file__).resolve().parents[2]


def test_makefile_demo_runs_the_main_job_the_benchmark_times():
    make = (ROOT / "Makefile").read_text()
    assert re.search(r"^SYSTEMS \?= (.+)$", make, re.M).group(1) == ",".join(MAIN_JOB_SYSTEMS)
    assert "--dataset toy" in make


def test_summary_parsing():
    out = "x\nsummary: system=a weights=none outputs=4 already_done=0 generated=4 failed=0\n" \
          "summary: system=b weights=none outputs=4 already_done=4 generated=0 failed=0\n"
    assert _outputs(out) == 8 and _generated(out) == 4
