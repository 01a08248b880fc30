"""`bench systems check <name> --deep` run for real: the stand-in repositories as the user's
checkout, this interpreter as the "built environment", real weight files written with torch.

Each step prints `ok` or `failed` with the fix; a broken checkout fails at the right step with
the right message; a good one ends with the clip step ok. This interpreter is newer than every
spec's Python, so the python step fails (with its fix) unless the spec is made to ask for it.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests.systems.baselines.conftest import system_overrides

BENCH = [sys.executable, "-m", "bench"]
STEP = re.compile(r"^  (ok|failed)\s+(.+?): (.*)$")


def deep(*args, env=None) -> tuple[int, dict[str, dict[str, tuple[str, str]]], str]:
    """Run `bench systems check ... --deep`; (exit status, {system: {step: (ok|failed, detail)}}, stdout)."""
    proc = subprocess.run([*BENCH, "systems", "check", *args, "--deep"], capture_output=True, text=True,
                          timeout=300, env=env)
    return proc.returncode, parse(proc.stdout), proc.stdout + proc.stderr


def parse(stdout: str) -> dict[str, dict[str, tuple[str, str]]]:
    out: dict[str, dict[str, tuple[str, str]]] = {}
    current = None
    for line in stdout.splitlines():
        if line.endswith(": deep check"):
            current = out.setdefault(line.split(":")[0], {})
        elif current is not None and (m := STEP.match(line)):
            current[m[2]] = last = [m[1], m[3]]
        elif current is not None and current:  # a multi-line detail (a clip's traceback)
            last[1] += "\n" + line
    return {name: {k: tuple(v) for k, v in s.items()} for name, s in out.items()}


def vidmuse_weights(folder, cfg_key="xp.cfg"):
    """The two files audiocraft's loaders read (`pkg['xp.cfg']`, `pkg['best_state']`)."""
    for name in ("state_dict.bin", "compression_state_dict.bin"):
        torch.save({cfg_key: {"sample_rate": 32000}, "best_state": {"w": torch.zeros(2)}}, folder / name)


def cmt_checkout(standin):
    from systems.baselines.cmt import CMTSystem

    repo = standin("cmt")
    torch.save({"state_dict": {"w": torch.zeros(2)}}, repo / "exp" / "loss_8_params.pt")
    (repo / ".commit").write_text(CMTSystem.commit + "\n")  # a source copy at the pinned commit
    return repo, [*system_overrides("cmt", repo), f"system.cmt.checkpoint={repo}/exp/loss_8_params.pt"]


@pytest.mark.slow
def test_good_checkouts_of_cmt_and_vidmuse_end_with_a_clip(standin):
    """Both baselines in one command: every step ok but python (this interpreter is too new for the
    specs, which the step says with the fix), and the clip step last, ok."""
    from systems.baselines.cmt import CMTSystem
    from systems.baselines.vidmuse import VidMuseSystem

    cmt, cmt_ov = cmt_checkout(standin)
    vm = standin("vidmuse")
    vidmuse_weights(vm / "model")
    # a real git checkout, its HEAD given as the pin (the adapter's commit option)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(vm)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "stand-in"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    assert head != VidMuseSystem.commit
    rc, steps, out = deep("cmt", "vidmuse", *cmt_ov, *system_overrides("vidmuse", vm),
                          f"system.vidmuse.model_path={vm}/model", f"++system.vidmuse.commit={head}")
    assert rc == 1, out  # the python step fails
    assert set(steps) == {"cmt", "vidmuse"}, out
    want = {"cmt": ["python", "repository", "imports", "weights loss_8_params.pt", "clip"],
            "vidmuse": ["python", "repository", "imports", "weights compression_state_dict.bin",
                        "weights state_dict.bin", "clip"]}
    for name, names in want.items():
        assert list(steps[name]) == names, out
        py = "%d.%d" % sys.version_info[:2]
        spec_py = {"cmt": "3.8", "vidmuse": "3.9"}[name]
        assert steps[name]["python"] == ("failed", f"{sys.executable} is Python {py}, but envs/{name}.txt is for "
                                                   f"Python {spec_py} (too new: the spec's pinned wheels do not exist "
                                                   f"for it); remove the environment and run `bench systems setup "
                                                   f"{name} system.{name}.base_python=/path/to/python{spec_py}`"), out
        assert all(steps[name][s][0] == "ok" for s in names[1:]), out
        assert steps[name]["clip"] == ("ok", "2.0 s of audio, normalised"), out
    assert steps["cmt"]["repository"][1] == f"{cmt} at {CMTSystem.commit[:12]}"
    assert steps["vidmuse"]["repository"][1] == f"{vm} at {head[:12]}"
    # the distribution imports of the stand-ins' closures (numpy; av, numpy, soundfile), not their `common`
    assert steps["cmt"]["imports"][1].startswith("1 imports ")
    assert steps["vidmuse"]["imports"][1].startswith("3 imports ")
    assert steps["vidmuse"]["weights state_dict.bin"][1] == f"{vm}/model/state_dict.bin loads (2 top-level keys)"


@pytest.mark.slow
def test_an_environment_of_the_specs_python_passes_every_step_and_exits_0(standin, monkeypatch, tmp_path, capsys):
    """In-process, with cmt's spec asking for this interpreter's Python: every step ok, exit status 0."""
    from bench.cli import main
    from systems.baselines import environments

    envs = tmp_path / "envs"
    envs.mkdir()
    py = "%d.%d" % sys.version_info[:2]
    spec = (environments.ENVS / "cmt.txt").read_text()
    (envs / "cmt.txt").write_text(re.sub(r"^# python: .*$", f"# python: {py}", spec, count=1, flags=re.M))
    monkeypatch.setattr(environments, "ENVS", envs)
    _, ov = cmt_checkout(standin)
    rc = main(["systems", "check", "cmt", *ov, "--deep"])
    out = capsys.readouterr().out
    steps = parse(out)["cmt"]
    assert rc == 0, out
    assert list(steps) == ["python", "repository", "imports", "weights loss_8_params.pt", "clip"], out
    assert all(ok == "ok" for ok, _ in steps.values()), out
    assert steps["python"][1] == f"{sys.executable} is the spec's Python"


@pytest.mark.slow
def test_a_broken_vidmuse_fails_at_each_broken_step_with_its_fix(standin):
    """Another commit, an import the environment lacks, a git-LFS pointer and a file with the
    wrong keys: each fails at its step, naming the file and the fix; the clip then fails too."""
    from systems.baselines.vidmuse import VidMuseSystem

    vm = standin("vidmuse")
    vidmuse_weights(vm / "model", cfg_key="cfg")  # not the keys audiocraft's loaders read
    (vm / "model" / "state_dict.bin").write_text(  # a clone without git-lfs
        "version https://git-lfs.github.com/spec/v1\noid sha256:" + "0" * 64 + "\nsize 5400000000\n")
    other = "0123456789abcdef0123456789abcdef01234567"
    (vm / ".commit").write_text(other + "\n")
    app = vm / "demos" / "VidMuse_app.py"  # the real one's audiocraft imports xformers (in the spec)
    app.write_text("import xformers  # noqa\n" + app.read_text())
    rc, steps, out = deep("vidmuse", *system_overrides("vidmuse", vm), f"system.vidmuse.model_path={vm}/model",
                          env={**os.environ, "COLUMNS": "80"})  # lines longer than 80 are not wrapped
    assert rc == 1, out
    s = steps["vidmuse"]
    assert list(s) == ["python", "repository", "imports", "weights state_dict.bin",
                       "weights compression_state_dict.bin", "clip"], out
    assert s["repository"] == ("failed", f"{vm} is at {other}, the adapter pins {VidMuseSystem.commit}; run "
                                         f"`git -C {vm} fetch && git -C {vm} checkout {VidMuseSystem.commit}`"), out
    ok, detail = s["imports"]
    assert ok == "failed" and detail.startswith(f"import xformers fails in {sys.executable}: ModuleNotFoundError: "
                                                "No module named 'xformers'"), out
    assert detail.endswith(f"fix envs/vidmuse.txt or run `{sys.executable} -m pip install <the distribution>`")
    assert "import av" not in detail and "common" not in detail  # only the one that fails
    assert s["weights state_dict.bin"] == ("failed", f"{vm}/model/state_dict.bin is a git-LFS pointer, not the file; "
                                                     "run `git lfs pull` where it was cloned, or get it from "
                                                     + VidMuseSystem.weight_files[0].source), out
    ok, detail = s["weights compression_state_dict.bin"]
    assert ok == "failed" and detail.startswith(f"{vm}/model/compression_state_dict.bin lacks the keys the repository "
                                                "reads ['xp.cfg']; it is not the file it expects: get it from "
                                                "huggingface.co/HKUSTAudio/VidMuse"), out
    ok, detail = s["clip"]  # the stand-in's own import fails as the real code would
    assert ok == "failed" and "ModuleNotFoundError: No module named 'xformers'" in detail, out
    logs = Path(re.search(r"the step logs are under (\S+)\)$", detail)[1])
    err = logs / "verify_clip__0000000.generate.try1.err"  # kept for the user to read
    assert "No module named 'xformers'" in err.read_text(), out
    shutil.rmtree(logs.parent.parent)


@pytest.mark.slow
def test_missing_truncated_and_absent_weights(standin, tmp_path, capsys):
    """A checkpoint not found stops the deep check at readiness with its source; in a VidMuse model
    folder, a missing state_dict.bin is named (a folder of weights is checked file by file, not only
    the files that happen to be there) and a truncated file does not load."""
    from bench.cli import main
    from systems.base import get_system_class
    from systems.baselines.deep_check import weight_checks

    cmt = standin("cmt")
    rc = main(["systems", "check", "cmt", *system_overrides("cmt", cmt), f"system.cmt.checkpoint={cmt}/exp/nope.pt",
               "--deep"])
    out = capsys.readouterr().out
    steps = parse(out)["cmt"]
    assert rc == 1 and list(steps) == ["ready"], out
    ok, detail = steps["ready"]
    assert ok == "failed" and f"weights: {cmt}/exp/nope.pt not found (system.cmt.checkpoint); get it from " \
                              "https://drive.google.com/" in detail, out

    vidmuse = get_system_class("vidmuse")
    model = tmp_path / "model"
    model.mkdir()
    vidmuse_weights(model)
    (model / "state_dict.bin").unlink()
    part = model / "compression_state_dict.bin"
    part.write_bytes(part.read_bytes()[:300])  # an interrupted download
    got = {step: (ok, detail) for step, ok, detail in weight_checks(vidmuse, {"model_path": str(model)},
                                                                    sys.executable)}
    source = vidmuse.weight_files[0].source
    assert list(got) == ["weights state_dict.bin", "weights compression_state_dict.bin"], got
    assert got["weights state_dict.bin"] == (False, f"{model}/state_dict.bin is missing (system.vidmuse.model_path is "
                                                    f"{model}); get it from {source}")
    ok, detail = got["weights compression_state_dict.bin"]
    assert not ok and detail.startswith(f"{part} does not load (") and detail.endswith(f"); get it again from {source}")
