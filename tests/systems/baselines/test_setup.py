"""`bench systems setup`: clone at the pinned commit (a local git repository stands in for
GitHub) and build the environment from a spec; the shipped specs' headers and source lines."""

import subprocess
import sys
from pathlib import Path

import pytest

from systems.baselines import environments


def git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def upstream(tmp_path):
    """A git repository with two commits; the first one holds the entry point."""
    repo = tmp_path / "upstream"
    (repo / "src").mkdir(parents=True)
    git("init", "-q", cwd=repo)
    git("config", "user.email", "t@example.com", cwd=repo)
    git("config", "user.name", "t", cwd=repo)
    (repo / "src" / "gen_midi_conditional.py").write_text("print('v1')\n")
    git("add", ".", cwd=repo)
    git("commit", "-q", "-m", "v1", cwd=repo)
    first = git("rev-parse", "HEAD", cwd=repo)
    (repo / "src" / "gen_midi_conditional.py").write_text("print('v2')\n")
    git("commit", "-q", "-am", "v2", cwd=repo)
    return repo, first


def test_setup_clones_the_pinned_commit_and_builds_the_environment(upstream, tmp_path):
    from systems.baselines.cmt import CMTSystem

    repo, first = upstream
    spec = tmp_path / "spec.txt"
    spec.write_text(f"# python: {sys.version_info.major}.{sys.version_info.minor}\n")
    config = {"repo_dir": str(tmp_path / "work" / "repo"), "env_dir": str(tmp_path / "work" / "env"),
              "repo_url": f"file://{repo}", "commit": first, "env_spec": str(spec), "base_python": sys.executable,
              "checkpoint": str(tmp_path / "ck.pt")}

    class Bare(CMTSystem):  # no post-install: the spec is empty here
        post_install = ()

    Bare.name = "cmt"
    log = []
    missing = environments.setup_system(Bare, config, log=log.append)
    clone = Path(config["repo_dir"])
    assert git("rev-parse", "HEAD", cwd=clone) == first
    assert (clone / "src" / "gen_midi_conditional.py").read_text() == "print('v1')\n"  # not the newer commit
    assert (Path(config["env_dir"]) / "bin" / "python").exists()
    assert missing == [m for m in missing if "ck.pt not found" in m] and len(missing) == 1  # only the weights
    # running it again checks instead of redoing; a checkout at another commit is refused
    environments.setup_system(Bare, config, log=log.append)
    assert any("already at" in line for line in log)
    git("checkout", "-q", "master" if "master" in git("branch", "-a", cwd=clone) else "main", cwd=clone)
    with pytest.raises(environments.SetupError, match="not the pinned"):
        environments.setup_system(Bare, config, log=log.append)


def test_a_commit_missing_upstream_and_a_missing_interpreter_are_named(upstream, tmp_path):
    repo, _ = upstream
    with pytest.raises(environments.SetupError, match="checking out the pinned commit"):
        environments.clone(f"file://{repo}", "0" * 40, tmp_path / "c", log=lambda s: None)
    with pytest.raises(environments.SetupError, match="no Python 2.6 interpreter found.*base_python"):
        environments.find_python("2.6", None)


@pytest.mark.parametrize("name", ["cmt", "video2music", "diffbgm", "m2ugen", "vidmuse", "d2mgan", "cdcd"])
def test_every_baseline_ships_a_spec_for_its_python(name):
    from systems.base import get_system_class

    cls = get_system_class(name)
    spec = environments.spec_path(name)
    header = environments.spec_header(spec)
    assert header["python"] == cls.python_version
    reqs = [ln for ln in spec.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert any(r.startswith("torch") for r in reqs)
    assert len(cls.commit) == 40 and cls.repo_url.startswith("https://github.com/")
    for src in environments.source_requirements(spec):
        assert src and not src.startswith("#")
