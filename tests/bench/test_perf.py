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


def test_every_perf_area_is_listed_and_its_module_lives_beside_what_it_measures(capsys):
    """`bench perf --help` names every area; each area module (metrics.perf, systems.dyvim.perf, …)
    imports with the two functions the dispatcher calls, and no benchmark is left under bench/ for
    a package it measures."""
    import importlib

    import pytest

    from bench.cli import PERF_MODULES, build_parser

    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["perf", "--help"])
    out = capsys.readouterr().out
    for area in ("run", "metrics", *PERF_MODULES):
        assert area in out, area
    assert PERF_MODULES["dyvim"][1] == "systems.dyvim.perf"
    for area, (_help, module) in PERF_MODULES.items():
        mod = importlib.import_module(module)
        assert callable(mod.add_arguments) and callable(mod.run), area
    assert callable(importlib.import_module("metrics.perf").perf_metrics)
    assert not (ROOT / "bench" / "perf_metrics.py").exists() and not (ROOT / "bench" / "perf_dyvim.py").exists()
    args = parser.parse_args(["perf", "dyvim", "--train-seconds", "1"])
    assert args.perf_module == "systems.dyvim.perf" and args.train_seconds == 1.0
