"""`bench run` + `bench evaluate` end to end on a tiny toy: parquet results with CIs, pairing,
cache reuse, comparisons, and the control property the alignment metrics must have."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

BENCH = [sys.executable, "-m", "bench"]
TOY = ["--dataset", "toy", "dataset.params.size=tiny", "dataset.params.test_fraction=0.3"]


def bench(*args, env, check=True):
    proc = subprocess.run([*BENCH, *args], capture_output=True, text=True, env={**os.environ, **env})
    if check and proc.returncode != 0:
        raise AssertionError(f"bench {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("e2e")
    env = {"BENCH_DATA_ROOT": str(base / "data"), "BENCH_RUNS_ROOT": str(base / "runs"),
           "BENCH_CACHE_DIR": str(base / "cache")}
    out = bench("run", "--systems", "reference,shuffled", *TOY, "--metrics", "beat,align", env=env)
    return base / "runs" / "toy", out.stdout, env


@pytest.mark.slow
def test_results_are_tidy_parquet_with_cis(toy_run):
    run_dir, stdout, env = toy_run
    assert "ba_mean" in stdout and "results:" in stdout
    df = pd.read_parquet(run_dir / "metrics" / "align.parquet")
    sets = df[df["clip"].isna()]
    assert set(sets["system"]) == {"reference", "shuffled"}
    assert (sets["ci_low"] <= sets["value"]).all() and (sets["value"] <= sets["ci_high"]).all()
    per_clip = df[df["clip"].notna() & (df["key"] == "ba_mean")]
    assert len(per_clip) == 2 * int(sets["n_clips"].max())
    assert {"config", "versions", "weights", "n_resamples"} <= set(df.columns)


@pytest.mark.slow
def test_shuffled_scores_worse_than_reference_on_video_music_alignment(toy_run):
    run_dir, _, env = toy_run
    df = pd.read_parquet(run_dir / "metrics" / "align.parquet")
    v = df[df["clip"].isna()].set_index(["key", "system"])["value"]
    assert v["ba_mean", "reference"] > v["ba_mean", "shuffled"]
    beats = pd.read_parquet(run_dir / "metrics" / "beat.parquet")
    b = beats[beats["clip"].isna()].set_index(["key", "system"])["value"]
    assert b["bhs_tol", "reference"] == pytest.approx(1.0) and b["bhs_tol", "shuffled"] < 0.9


@pytest.mark.slow
def test_re_evaluation_hits_the_cache_and_compares(toy_run):
    run_dir, _, env = toy_run
    cache = Path(env["BENCH_CACHE_DIR"])
    before = sorted(p for p in cache.rglob("*.npz"))
    out = bench("evaluate", "--run", str(run_dir), "--metrics", "beat,align", "--compare", "reference,shuffled",
                "evaluate.n_resamples=200", env=env)
    assert sorted(p for p in cache.rglob("*.npz")) == before  # nothing new was computed
    comp = pd.read_parquet(run_dir / "metrics" / "comparisons.parquet")
    row = comp[comp["key"] == "bhs_tol"].iloc[0]
    assert row["difference"] > 0 and 0 < row["p_value"] <= 1 and "reference − shuffled" in out.stdout


@pytest.mark.slow
def test_pairing_is_by_clip_id_and_missing_clips_are_named(toy_run):
    run_dir, _, env = toy_run
    victim = sorted((run_dir / "shuffled").glob("*.wav"))[0]
    data = victim.read_bytes()
    victim.unlink()
    try:
        proc = bench("evaluate", "--run", str(run_dir), "--metrics", "beat", env=env, check=False)
        assert proc.returncode == 2 and victim.stem in proc.stderr and "--allow-missing" in proc.stderr
        out = bench("evaluate", "--run", str(run_dir), "--metrics", "beat", "--allow-missing", env=env).stdout
        assert "evaluated on the" in out
    finally:
        victim.write_bytes(data)


@pytest.mark.slow
def test_unchanged_systems_are_not_rescored_and_changed_ones_are(toy_run):
    run_dir, _, env = toy_run
    bench("evaluate", "--run", str(run_dir), "--metrics", "beat", env=env)  # other tests changed settings
    before = pd.read_parquet(run_dir / "metrics" / "beat.parquet")
    bench("evaluate", "--run", str(run_dir), "--metrics", "beat", env=env)
    same = pd.read_parquet(run_dir / "metrics" / "beat.parquet")
    assert same["fingerprint"].tolist() == before["fingerprint"].tolist()
    pd.testing.assert_frame_equal(same.drop(columns=["versions"]), before.drop(columns=["versions"]))
    # change one system's file: only its rows get a new fingerprint
    victim = sorted((run_dir / "shuffled").glob("*.wav"))[0]
    data = victim.read_bytes()
    ref = sorted((run_dir / "reference").glob("*.wav"))[1].read_bytes()
    victim.write_bytes(ref)
    try:
        bench("evaluate", "--run", str(run_dir), "--metrics", "beat", env=env)
        after = pd.read_parquet(run_dir / "metrics" / "beat.parquet")
        fp = lambda df, s: set(df.loc[df["system"] == s, "fingerprint"])
        assert fp(after, "reference") == fp(before, "reference")
        assert fp(after, "shuffled") != fp(before, "shuffled")
    finally:
        victim.write_bytes(data)


@pytest.mark.slow
def test_clap_score_of_a_run_reads_the_manifest_captions(toy_run):
    import json

    from core.manifest import read_manifest
    from metrics.embedders.clap_score import ClapScoreEmbedder, clap_scores

    run_dir, _, env = toy_run
    out = bench("evaluate", "--run", str(run_dir), "--suite", "audiocraft", "--metrics", "clap_score",
                "evaluate.n_resamples=50", env=env)
    assert "clap_score" in out.stdout
    df = pd.read_parquet(run_dir / "metrics" / "clap_score.parquet")
    assert set(df["system"]) == {"reference", "shuffled"}
    assert json.loads(df["config"].iloc[0])["preset"] == "audiocraft"
    # the reference system's per-clip scores: its audio against the toy's captions (a viewer's scene description)
    ref = df[(df["system"] == "reference") & df["clip"].notna()].set_index("clip")["value"]
    (folder,) = [p.parent for p in Path(env["BENCH_DATA_ROOT"]).glob("*/manifest*") if "toy" in p.parent.name]
    clips = {c.id: c for c in read_manifest(folder)}
    emb = ClapScoreEmbedder("audiocraft", weights="random", seed=0)
    ids = list(ref.index)
    assert all(clips[i].caption for i in ids)
    audio = np.stack([o["embedding"] for o in emb.embed_files([clips[i].audio_path for i in ids])])
    expected = clap_scores(audio, emb.embed_texts([clips[i].caption for i in ids]))
    assert np.allclose(ref.loc[ids].to_numpy(), expected, rtol=1e-6)
