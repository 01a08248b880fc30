"""`bench systems list|check|setup` in subprocesses."""

import subprocess
import sys

import pytest

BENCH = [sys.executable, "-m", "bench"]


def bench(*args):
    return subprocess.run([*BENCH, *args], capture_output=True, text=True)


@pytest.mark.slow
def test_list_shows_every_system_with_kind_output_and_readiness():
    proc = bench("systems", "list")
    assert proc.returncode == 0, proc.stderr
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:5]]
            for line in proc.stdout.splitlines() if line.startswith("│") and line.split("│")[1].strip()}
    for name in ("cmt", "video2music", "diffbgm"):
        assert rows[name][:2] == ["external", "MIDI → audio"], rows[name]
    for name in ("m2ugen", "vidmuse", "d2mgan", "cdcd"):
        assert rows[name][:2] == ["external", "audio"]
        assert rows[name][2].startswith("no")  # nothing is set up on a test machine
    assert rows["reference"] == ["control", "audio", "yes"] and rows["shuffled"][0] == "control"
    assert rows["precomputed"][0] == "precomputed"


@pytest.mark.slow
def test_check_says_what_is_missing_and_how_to_get_it(tmp_path):
    proc = bench("systems", "check", "vidmuse", "precomputed", f"system.vidmuse.repo_dir={tmp_path}/vm")
    out = " ".join(proc.stdout.split())
    assert proc.returncode == 1
    assert f"{tmp_path}/vm/infer.py not found" in out and "bench systems setup vidmuse" in out
    assert "env/bin/python not found" in out and "Python 3.9" in out
    assert "huggingface.co/HKUSTAudio/VidMuse" in out
    assert "system.precomputed.folder is not set" in out


@pytest.mark.slow
def test_setup_of_an_in_process_system_has_nothing_to_do():
    proc = bench("systems", "setup", "reference")
    assert proc.returncode == 0 and "nothing to set up" in proc.stdout


@pytest.mark.slow
def test_bench_run_with_a_baseline_records_failures_and_exits_3(mini_dataset, tmp_path):
    """The whole CLI path with the VidMuse stand-in: one clip crashes, the run finishes, exit 3."""
    import json
    import os
    import shutil
    from pathlib import Path

    from core.manifest import read_manifest

    root, ov = mini_dataset
    standins = Path(__file__).parents[1] / "systems" / "baselines" / "standins"
    shutil.copy(standins / "common.py", tmp_path / "common.py")
    repo = shutil.copytree(standins / "vidmuse", tmp_path / "vidmuse")
    victim = sorted(c.id for c in read_manifest(root) if c.split == "test")[0]
    env = {**os.environ, "STANDIN_CRASH": victim}
    proc = subprocess.run([*BENCH, "run", "--systems", "vidmuse", "--dataset", "toy", *ov, "--metrics", "none",
                           f"system.vidmuse.repo_dir={repo}", f"system.vidmuse.python={sys.executable}",
                           f"system.vidmuse.model_path={repo}/model", "system.vidmuse.retries=0"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 3, proc.stderr
    run_dir = Path(os.environ["BENCH_RUNS_ROOT"]) / "toy"
    fails = [json.loads(x) for x in (run_dir / "vidmuse" / "failures.jsonl").read_text().splitlines()]
    assert [f["clip"] for f in fails] == [victim] and "simulated crash" in fails[0]["error"]
    envinfo = json.loads((run_dir / "env.json").read_text())["systems"]["vidmuse"]
    assert envinfo["kind"] == "external" and envinfo["commit_pinned"].startswith("1e9296e")
    assert any("sleep" in c for c in envinfo["changes"])
