"""`bench systems verify` against the official repositories (../shared/baselines-src at the pinned
commits): the import closure and the contract of every adapter, and that each check fails, naming
file and line, on the faults the issue found (a module-level import the spec lacks, a folder the
real code mkdirs into that the adapter does not make, a repository at another commit)."""

import os
import shutil
import sys
from pathlib import Path

import pytest

from systems.baselines import environments, verify
from systems.baselines.repo_packages import default_source

SOURCE = default_source()


@pytest.fixture(scope="module")
def source():
    if not SOURCE.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{SOURCE}: the official repositories are missing (CI has ../shared/baselines-src)")
        pytest.skip(f"{SOURCE} not here: set BENCH_BASELINES_SRC to the folder of the official repositories")
    return SOURCE


@pytest.mark.slow  # Diff-BGM's real run: ~1 min of its own code on CPU
def test_all_seven_adapters_match_their_official_repositories(source):
    import torch

    reports = verify.verify(source=source, log=lambda s: None)
    assert [r.name for r in reports] == ["cmt", "video2music", "diffbgm", "m2ugen", "vidmuse", "d2mgan", "cdcd"]
    gpu = torch.cuda.is_available()
    for r in reports:
        assert not r.unresolved and not r.mismatches, verify.format_report(r)
        assert r.files > 0
        if r.name == "diffbgm" and gpu:  # its code runs to the end where CUDA is
            assert r.real_run and r.real_run.startswith("ok:"), verify.format_report(r)
            continue
        # no real run here: each one says why, naming the repository's file
        assert r.real_run is None and r.real_run_skip and (".py" in r.real_run_skip), verify.format_report(r)
    diffbgm = next(r for r in reports if r.name == "diffbgm")
    if not gpu:  # Diff-BGM's code ran through the adapter up to its unconditional .cuda()
        assert "diffbgm/stable_diffusion/model/unet_attention.py:284" in diffbgm.real_run_skip
    assert verify.summary(reports) == ("baselines=7 unresolved_imports=0 contract_mismatches=0 "
                                       f"real_runs={int(gpu)} real_run_failures=0")
    vidmuse = next(r for r in reports if r.name == "vidmuse")
    assert vidmuse.files > 50  # its own audiocraft/ is followed through the launcher's --path


def test_a_module_level_import_the_spec_lacks_is_named_with_file_and_line(source, tmp_path, monkeypatch):
    spec = tmp_path / "video2music.txt"
    spec.write_text("".join(ln + "\n" for ln in environments.spec_path("video2music").read_text().splitlines()
                            if not ln.startswith(("gradio", "pytube"))))
    monkeypatch.setattr(environments, "spec_path", lambda name: spec)
    (r,) = verify.verify(["video2music"], source=source, real_runs=False, log=lambda s: None)
    assert any(u.startswith("video2music/video2music.py:1: import gradio") and "gradio" in u for u in r.unresolved)
    assert any(u.startswith("video2music/video2music.py:36: import pytube") for u in r.unresolved)


def test_a_path_the_real_code_uses_that_the_adapter_does_not_declare_is_a_mismatch(source, monkeypatch):
    from systems.baselines.diffbgm import DiffBGMSystem

    monkeypatch.setattr(DiffBGMSystem, "work_paths",
                        tuple(w for w in DiffBGMSystem.work_paths if w.path != "result/symmv"))
    (r,) = verify.verify(["diffbgm"], source=source, real_runs=False, log=lambda s: None)
    assert any(m.startswith("diffbgm/diffbgm/dirs.py:") and "'result/symmv'" in m for m in r.mismatches)


def test_an_os_mkdir_whose_parent_the_adapter_does_not_make_is_a_mismatch(source, monkeypatch):
    """Diff-BGM's dirs.py does os.mkdir('./result/symmv') at import: the adapter must make result/."""
    from systems.baselines.diffbgm import DiffBGMSystem

    real_mkdir = Path.mkdir

    def mkdir(self, *a, **kw):
        if self.name == "result" and "_work" in str(self):
            return None  # the adapter as it was: no result/ folder
        return real_mkdir(self, *a, **kw)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    (r,) = verify.verify(["diffbgm"], source=source, real_runs=False, log=lambda s: None)
    assert any("os.mkdir('result/symmv')" in m and "no result/" in m for m in r.mismatches), r.mismatches
    assert DiffBGMSystem.name == "diffbgm"


def test_a_flag_the_real_parser_does_not_define_is_a_mismatch(source, monkeypatch):
    from systems.baselines import contract

    real = verify.shipped_config

    def config(name):
        cfg = real(name)
        cfg["commands"]["generate"] = [*cfg["commands"]["generate"], "--no_such_flag", "1"]
        return cfg

    monkeypatch.setattr(verify, "shipped_config", config)
    (r,) = verify.verify(["vidmuse"], source=source, real_runs=False, log=lambda s: None)
    assert any("passes --no_such_flag" in m and "vidmuse/infer.py" in m for m in r.mismatches)
    assert contract.passed_flags(["--model=5b", "-f", "x", "-1"]) == ["--model", "-f"]


def test_a_repository_at_another_commit_or_missing_is_named(source, tmp_path):
    other = tmp_path / "src"
    shutil.copytree(source / "d2mgan", other / "d2mgan", symlinks=True)
    (other / "README.md").write_text("| folder | repository | commit |\n|---|---|---|\n"
                                     "| d2mgan | L-YeZhu/D2M-GAN | " + "a" * 40 + " |\n")
    (r,) = verify.verify(["d2mgan"], source=other, real_runs=False, log=lambda s: None)
    assert len(r.mismatches) == 1 and "a" * 40 in r.mismatches[0]
    assert "5dc5bbf3f83054107069f8625739c9d6b5c70705" in r.mismatches[0]
    (r,) = verify.verify(["cdcd"], source=other, real_runs=False, log=lambda s: None)
    assert "no repository at" in r.mismatches[0] and "--source" in r.mismatches[0]
    with pytest.raises(verify.SourceError, match="no baseline source folder"):
        verify.verify(["cdcd"], source=tmp_path / "nowhere")


def test_an_environment_python_newer_than_the_spec_is_named_with_the_fix():
    from systems.baselines.cmt import CMTSystem
    from systems.baselines.deep_check import python_problem

    msg = python_problem(CMTSystem, sys.executable)
    assert "is Python 3.11" in msg and "for Python 3.8" in msg and "too new" in msg
    assert "base_python=/path/to/python3.8" in msg


def test_a_weight_file_that_is_a_git_lfs_pointer_is_not_ready(tmp_path):
    from systems.baselines.cdcd import CDCDSystem

    pointer = tmp_path / "vqvae.pt"
    pointer.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:00\nsize 1\n")
    problems = CDCDSystem.readiness({"repo_dir": str(tmp_path), "python": sys.executable, "vqvae": str(pointer),
                                     "checkpoint": str(pointer), "data_dir": str(tmp_path)})
    assert any("git-LFS pointer" in p and "git lfs pull" in p for p in problems)


def test_the_launcher_waits_for_the_pool_instead_of_sleeping(tmp_path):
    """VidMuse's _do_predictions hands the merge to a process pool and sleeps 8 s; infer.py renames
    the merged file next. --wait-pool-from waits for the pool (here a 1 s task) instead."""
    import subprocess
    import time

    mod = tmp_path / "app.py"
    mod.write_text("import time\nfrom concurrent.futures import ProcessPoolExecutor\npool = ProcessPoolExecutor(2)\n"
                   "def merge(p):\n    time.sleep(1.0)\n    open(p, 'w').write('merged')\n"
                   "def predict(p):\n    pool.submit(merge, p)\n    time.sleep(8)\n")
    script = tmp_path / "infer.py"
    script.write_text("import os, sys\nfrom app import predict\npredict(sys.argv[1])\n"
                      "os.rename(sys.argv[1], sys.argv[1] + '.moved')\n")
    t0 = time.monotonic()
    out = tmp_path / "merged.mp4"
    subprocess.run([sys.executable, str(verify.LAUNCH), "--wait-pool-from", "app", "--", str(script), str(out)],
                   check=True, cwd=tmp_path)
    assert (tmp_path / "merged.mp4.moved").read_text() == "merged"
    assert time.monotonic() - t0 < 7  # waited for the 1 s merge, not 8 s


def test_a_free_port_is_given_to_each_batch():
    from systems.baselines.external import free_port

    ports = {free_port() for _ in range(5)}
    assert all(1024 < p < 65536 for p in ports) and len(ports) > 1
