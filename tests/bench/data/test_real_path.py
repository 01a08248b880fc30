"""The real-data path end to end, on miniature folders in each dataset's official layout with
real file types (AIST++: separate annotations / videos / music folders, 60 fps mp4, mp3 with ID3;
SymMV: the tab-separated CSV and a VP9/Opus webm; BGM909: Diff-BGM's split pickle):
prepare once, then run, evaluate, show and an experiment with no prepare setting repeated; a
prepare or run with other settings refused; a forced rebuild that fails keeps the old dataset;
real faults (a full tmpfs, a read-only bind mount, a truncated download) each a named error."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from bench.data import miniature as mini
from bench.data.perf import tree_digest

BENCH = [sys.executable, "-m", "bench"]
TINY = ["system.dyvim.video_fps=10", "system.dyvim.flow_iters=1", "system.dyvim.train.steps=2",
        "system.dyvim.train.eval_every=2", "system.dyvim.train.warmup_steps=1"]


def bench(*args, env, code=0):
    proc = subprocess.run([*BENCH, *args], capture_output=True, text=True, env={**os.environ, **env})
    if code is not None and proc.returncode != code:
        raise AssertionError(f"bench {' '.join(args)} exited {proc.returncode}, expected {code}:\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def aist_layout(tmp_path_factory):
    return mini.make_aist_official(tmp_path_factory.mktemp("aist_official"))


@pytest.fixture
def env(tmp_path):
    return {"BENCH_DATA_ROOT": str(tmp_path / "data"), "BENCH_RUNS_ROOT": str(tmp_path / "runs"),
            "BENCH_CACHE_DIR": str(tmp_path / "cache")}


@pytest.mark.slow
def test_aist_prepare_once_then_run_evaluate_show_experiment(aist_layout, env, tmp_path):
    out = bench("data", "prepare", "aist", *mini.aist_overrides(aist_layout), env=env)
    assert "aist: " in out.stdout and " clips from 6 of 6 videos" in out.stdout
    data = tmp_path / "data" / "aist"
    before = tree_digest(data)
    # the README's next commands, with no prepare setting repeated
    bench("run", "--systems", "reference,shuffled", "--dataset", "aist", "--metrics", "beat", env=env)
    bench("evaluate", "--run", str(tmp_path / "runs" / "aist"), "--metrics", "beat", env=env)
    show = bench("data", "show", "aist", env=env)
    assert "clips valid" in show.stdout
    # AIST++ has no captions: text-conditioned MusicGen needs a prompt, or runs unconditional
    bench("experiment", "run", "overall", "--dataset", "aist", "--metrics", "beat", *TINY,
          "system.musicgen.conditioning=unconditional", env=env)
    # other settings: refused, nothing touched, the fix named
    refused = bench("data", "prepare", "aist", *mini.aist_overrides(aist_layout), "dataset.params.limit=2",
                    env=env, code=2)
    assert "params.limit: prepared None, asked 2" in refused.stderr and "dataset.name=aist_small" in refused.stderr
    refused = bench("run", "--systems", "reference", "--dataset", "aist", "dataset.params.limit=2",
                    "--name", "t2", env=env, code=2)
    assert "prepared with other settings" in refused.stderr
    assert not (tmp_path / "runs" / "t2").exists()
    assert tree_digest(data) == before
    # a quick try under its own name: a separate copy
    bench("data", "prepare", "aist", *mini.aist_overrides(aist_layout), "dataset.params.limit=3",
          "dataset.name=aist_small", env=env)
    assert (tmp_path / "data" / "aist_small" / "manifest.parquet").exists() and tree_digest(data) == before
    # `--force` alone rebuilds with the recorded settings (no "no folder given")
    forced = bench("data", "prepare", "aist", "--force", env=env)
    assert " clips from 6 of 6 videos" in forced.stdout


def test_forced_rebuild_keeps_the_old_dataset_on_failure_and_reuses_items(aist_layout, env, monkeypatch):
    from bench import api
    from bench.data import videoaudio
    from core.errors import DatasetError

    for k, v in env.items():
        monkeypatch.setenv(k, v)
    ov = mini.aist_overrides(aist_layout)
    clips = api.prepare("aist", ov)
    root = Path(env["BENCH_DATA_ROOT"]) / "aist"
    manifest = (root / "manifest.parquet").read_bytes()
    with pytest.raises(DatasetError, match="grouped split needs clips from at least 2 sources"):
        api.prepare("aist", ov + ["dataset.params.limit=1"], force=True)
    assert (root / "manifest.parquet").read_bytes() == manifest  # the old one stands
    assert len(api.dataset_clips(api.load_config("aist"), auto_prepare=False)) == len(clips)
    calls = []
    real = videoaudio._cut_one
    monkeypatch.setattr(videoaudio, "_cut_one", lambda *a, **k: calls.append(a[0].name) or real(*a, **k))
    again = api.prepare("aist", ov + ["dataset.params.test_fraction=0.5"], force=True)
    assert calls == []  # every item's cut (and separated) audio reused from the old build
    assert sorted(c.id for c in again) == sorted(c.id for c in clips)
    assert not root.with_name("aist.rebuild").exists() and not root.with_name("aist.old").exists()
    assert api.load_config("aist").dataset.params.test_fraction == 0.5


@pytest.mark.slow
def test_a_truncated_video_is_caught_by_prepare_and_by_data_show(aist_layout, env, tmp_path):
    import shutil

    layout = {k: tmp_path / "src" / v.name for k, v in aist_layout.items()}
    for k, v in aist_layout.items():
        shutil.copytree(v, layout[k])
    bad = layout["videos"] / "gPO_sBM_c01_d10_mPO1_ch01.mp4"
    mini.truncate_video(bad, 0.45)  # the header still says 4.5 s
    out = bench("data", "prepare", "aist", *mini.aist_overrides(layout), env=env)
    assert "does not decode to" in out.stdout and str(bad) in out.stdout
    info = (tmp_path / "data" / "aist" / "dataset.json").read_text()
    assert "does not decode to" in info
    # a file truncated after the preparation: `data show` decodes, not only reads the header
    mini.truncate_video(layout["videos"] / "gLO_sBM_c01_d13_mLO2_ch01.mp4", 0.45)
    show = bench("data", "show", "aist", env=env, code=1)
    assert "gLO_sBM_c01_d13_mLO2_ch01.mp4" in show.stdout and "does not decode to" in show.stdout


@pytest.mark.slow
def test_full_disk_in_prepare_and_read_only_runs_folder_are_named(aist_layout, env, small_tmpfs, read_only_dir):
    disk = small_tmpfs("200k")
    full = bench("data", "prepare", "aist", *mini.aist_overrides(aist_layout),
                 env={**env, "BENCH_DATA_ROOT": str(disk)}, code=2)
    assert "no space left on the device" in full.stderr and str(disk) in full.stderr
    assert "Traceback" not in full.stderr
    assert not (disk / "aist" / "manifest.parquet").exists()
    bench("data", "prepare", "aist", *mini.aist_overrides(aist_layout), env=env)
    ro = bench("run", "--systems", "reference", "--dataset", "aist", "--metrics", "none",
               env={**env, "BENCH_RUNS_ROOT": str(read_only_dir)}, code=2)
    assert "cannot write here (Read-only file system)" in ro.stderr and "Traceback" not in ro.stderr


SYMMV_CSV = ("index\tyoutube_url\ttonality\tshazam_id\n"
             "00001\thttps://www.youtube.com/watch?v=AAAAAAAAAAA\tC major\t555683241\n"
             "00002\thttps://www.youtube.com/watch?v=BBBBBBBBBBB\tc minor\n"
             "00003\thttps://www.youtube.com/watch?v=CCCCCCCCCCC\td minor\t474750126\n"
             "00004\thttps://www.youtube.com/watch?v=DDDDDDDDDDD\tG major\t1\n")


@pytest.mark.slow
def test_symmv_with_webm_and_bgm909_prepare_then_run_and_show(env, tmp_path):
    src = tmp_path / "SymMV"
    src.mkdir()
    (src / "SymMV.csv").write_text(SYMMV_CSV)
    (src / "midi").mkdir()
    for i in range(1, 5):
        (src / "midi" / f"{i:05d}.mid").write_bytes(b"MThd")
    mini.write_webm(src / "videos" / "00001.webm", 4.5, mini.tone(4.5, 220, 48000, seed=1))
    for i in (2, 3, 4):
        mini.write_mp4(src / "videos" / f"{i:05d}.mp4", 4.5, fps=25, audio=mini.tone(4.5, 200 + 60 * i, 44100, seed=i),
                       sample_rate=44100)
    common = ["dataset.sample_rate=16000", "dataset.clip_duration=2.0", "dataset.params.test_fraction=0.5"]
    out = bench("data", "prepare", "symmv", f"dataset.params.source_dir={src}", "dataset.params.separator=none",
                *common, env=env)
    assert "from 4 of 4 videos" in out.stdout
    bench("run", "--systems", "reference,shuffled", "--dataset", "symmv", "--metrics", "beat", env=env)
    assert "clips valid" in bench("data", "show", "symmv", env=env).stdout

    bgm = tmp_path / "Diff-BGM"
    split = bgm / "data" / "train_split_pnt" / "pop909_new.pickle"
    split.parent.mkdir(parents=True)
    with open(split, "wb") as fh:
        pickle.dump([["001.npz", "002.npz"], ["003.npz", "004.npz"]], fh)
    for i in range(1, 5):
        mini.write_mp4(bgm / "videos" / f"{i:03d}.mp4", 4.5, fps=25, audio=mini.tone(4.5, 200 + 40 * i, 44100, seed=i),
                       sample_rate=44100)
    bench("data", "prepare", "bgm909", f"dataset.params.source_dir={bgm}", "dataset.params.separator=none",
          "dataset.params.split=official", *common[:2], env=env)  # Diff-BGM's own split: val = test
    bench("run", "--systems", "reference,shuffled", "--dataset", "bgm909", "--metrics", "beat", env=env)
    assert "clips valid" in bench("data", "show", "bgm909", env=env).stdout
