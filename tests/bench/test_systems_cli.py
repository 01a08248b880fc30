"""`bench systems list|check|setup` in subprocesses."""

import subprocess
import sys

BENCH = [sys.executable, "-m", "bench"]


def bench(*args):
    return subprocess.run([*BENCH, *args], capture_output=True, text=True)


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


def test_check_says_what_is_missing_and_how_to_get_it(tmp_path):
    proc = bench("systems", "check", "vidmuse", "precomputed", f"system.vidmuse.repo_dir={tmp_path}/vm")
    out = " ".join(proc.stdout.split())
    assert proc.returncode == 1
    assert f"{tmp_path}/vm/infer.py not found" in out and "bench systems setup vidmuse" in out
    assert "env/bin/python not found" in out and "Python 3.9" in out
    assert "huggingface.co/HKUSTAudio/VidMuse" in out
    assert "system.precomputed.folder is not set" in out


def test_setup_of_an_in_process_system_has_nothing_to_do():
    proc = bench("systems", "setup", "reference")
    assert proc.returncode == 0 and "nothing to set up" in proc.stdout
