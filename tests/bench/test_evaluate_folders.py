"""`bench evaluate --generated DIR --reference DIR` (bench.api.evaluate_folders, bench.folders) on
real music: fadtk 1.1.0's test samples (MusicGen and Mubert outputs, Opus, 48 kHz; its PyPI wheel,
scripts/reference_fadtk.py), cut to 3 s so each test stays short.

Embedders run with seeded random weights (the pretrained files cannot be downloaded here); the
values are checked against an independent computation from the same embeddings, and parity of
the metrics themselves with fadtk/audioldm_eval is tested in tests/metrics/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.errors import ConfigError, WeightsNotFoundError
from metrics.errors import MetricFailed
from tests.metrics.conftest import load_script

ROOT = Path(__file__).resolve().parents[2]
SECONDS = 3.0


def _cut_samples(folder: Path, prefix: str, n: int, names: list[str]) -> Path:
    """The first `n` fadtk samples starting with `prefix`, first SECONDS s, as 16-bit WAVs `names`."""
    import soundfile as sf

    src = sorted(load_script("reference_fadtk").fadtk_samples().glob(f"{prefix}-*.opus"))[:n]
    assert len(src) == n
    folder.mkdir(parents=True, exist_ok=True)
    for path, name in zip(src, names):
        x, sr = sf.read(str(path), dtype="float32")
        sf.write(folder / f"{name}.wav", x[: int(SECONDS * sr)], sr, subtype="PCM_16")
    return folder


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("folders")
    names = [f"clip{i}" for i in range(4)]
    return {"gen": _cut_samples(root / "gen", "mg", 4, names), "ref": _cut_samples(root / "ref", "mubert", 4, names),
            "root": root}


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("BENCH_RUNS_ROOT", str(tmp_path / "runs"))
    return tmp_path / "cache"


def _leftovers(parent: Path) -> list[str]:
    return [p.name for p in parent.iterdir() if ".staging-" in p.name or ".previous-" in p.name]


@pytest.mark.slow  # ~35 s on the loaded 2-core machine (two evaluations and a report)
def test_paired_folders_give_run_rows_report_and_the_fad_of_the_embeddings(sets, cache, tmp_path):
    import pandas as pd

    from bench import api
    from metrics.embedders import make_embedder
    from metrics.frechet import frechet_distance_exact
    from metrics.small_sample import fadtk_stats, pooled_stats

    out = tmp_path / "scores"
    ev = api.evaluate_folders(sets["gen"], sets["ref"], out=out, suite="fadtk-encodec", weights="random",
                              n_resamples=50, overrides=["metric.fad_inf.min_n=50", "metric.fad_inf.steps=4"])
    assert {"fad", "fad_inf", "fad_inf_slope", "fad_inf_r2", "fad_clip"} <= set(ev.table["key"])
    assert sorted(p.name for p in out.iterdir()) == ["config.yaml", "folders.json", "metrics", "report"]
    assert (out / "report" / "index.html").is_file() and not _leftovers(tmp_path)
    rows = pd.read_parquet(out / "metrics" / "fad.parquet")
    cfg = json.loads(rows["config"].iloc[0])
    assert cfg["preset"] == "fadtk-encodec" and cfg["peer_tool"] == "fadtk 1.1.0" and cfg["embedder"] == "encodec_24k"
    assert rows["n_clips"].iloc[0] == 4 and rows["clip_seconds"].iloc[0] == pytest.approx(SECONDS)
    assert rows["suite"].iloc[0] == "fadtk-encodec"
    # the FAD is the Fréchet distance of the two folders' EnCodec frames, statistics merged as fadtk does
    # (stats: fadtk: per-file float16 means); pooled float64 statistics differ by ~1e-6 here
    emb = make_embedder("encodec_24k", weights="random", seed=0)
    g = [o["frames"] for o in emb.embed_files(sorted(sets["gen"].glob("*.wav")))]
    r = [o["frames"] for o in emb.embed_files(sorted(sets["ref"].glob("*.wav")))]
    expected = frechet_distance_exact(*fadtk_stats(r), *fadtk_stats(g))
    assert rows["value"].iloc[0] == pytest.approx(expected, rel=1e-9)
    assert rows["value"].iloc[0] != pytest.approx(frechet_distance_exact(*pooled_stats(r), *pooled_stats(g)), rel=1e-12)
    per_clip = pd.read_parquet(out / "metrics" / "fad_clip.parquet")
    assert sorted(per_clip["clip"].dropna()) == [f"clip{i}" for i in range(4)]

    # unpaired, reference set of another size: the same FAD definition, a two-sample bootstrap
    ref3 = tmp_path / "ref3"
    ref3.mkdir()
    for p in sorted(sets["ref"].glob("*.wav"))[:3]:
        (ref3 / f"other_{p.name}").symlink_to(p)
    ev2 = api.evaluate_folders(sets["gen"], ref3, out=tmp_path / "unpaired", suite="fadtk-encodec", weights="random",
                               unpaired=True, n_resamples=50,
                               overrides=["metric.fad_inf.min_n=50", "metric.fad_inf.steps=4"])
    table = ev2.table.set_index("key")
    row = table.loc["fad"]
    assert row["ci_method"].endswith("(two-sample)") and row["n_reference"] == 3
    assert row["value"] == pytest.approx(frechet_distance_exact(*fadtk_stats(r[:3]), *fadtk_stats(g)), rel=1e-9)
    assert row["ci_low"] <= row["value"] <= row["ci_high"]
    # per-song FAD: each generated clip against the 3-clip reference set (fadtk's score_individual)
    from metrics.small_sample import per_clip_fad

    clips = pd.read_parquet(tmp_path / "unpaired" / "metrics" / "fad_clip.parquet").dropna(subset=["clip"])
    expected_clip = per_clip_fad(g, fadtk_stats(r[:3]))
    assert list(clips["clip"]) == [f"clip{i}" for i in range(4)]
    assert np.allclose(clips["value"], expected_clip, rtol=1e-6)
    assert {"fad_inf", "fad_inf_slope", "fad_inf_r2"} <= set(table.index)


def _truncated_set(sets, tmp_path) -> Path:
    """clip0–2 as they are, clip3 as a FLAC whose header reads but whose samples stop (truncated)."""
    import soundfile as sf

    bad = tmp_path / "bad"
    bad.mkdir()
    for p in sorted(sets["gen"].glob("*.wav"))[:3]:
        (bad / p.name).symlink_to(p)
    x, sr = sf.read(str(sets["gen"] / "clip3.wav"), dtype="float32")
    sf.write(tmp_path / "whole.flac", x, sr)
    data = (tmp_path / "whole.flac").read_bytes()
    (bad / "clip3.flac").write_bytes(data[: len(data) // 3])
    return bad


def test_a_failed_command_leaves_no_folder(sets, cache, tmp_path):
    """A real failure half-way (decoding a truncated FLAC, after other files were embedded)."""
    from bench import api

    bad = _truncated_set(sets, tmp_path)
    out = tmp_path / "scores"
    with pytest.raises(MetricFailed, match="clip3.flac|lost sync|decod"):
        api.evaluate_folders(bad, sets["ref"], out=out, suite="fadtk-encodec", weights="random", n_resamples=20,
                             metrics=["fad"])
    assert not out.exists() and not _leftovers(tmp_path)


@pytest.mark.slow  # ~30 s on the loaded machine: a whole evaluation and its report first
def test_a_failed_command_keeps_a_finished_folder(sets, cache, tmp_path):
    from bench import api

    bad = _truncated_set(sets, tmp_path)
    out = tmp_path / "scores"
    # a finished evaluation in `out` survives a failed re-run untouched
    api.evaluate_folders(sets["gen"], sets["ref"], out=out, suite="fadtk-encodec", weights="random", n_resamples=20,
                         metrics=["fad"])
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(MetricFailed):
        api.evaluate_folders(bad, sets["ref"], out=out, suite="fadtk-encodec", weights="random", n_resamples=20,
                             metrics=["fad"])
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert not _leftovers(tmp_path)
    # a folder that is not a folder evaluation is never written into
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep")
    with pytest.raises(ConfigError, match="not written by"):
        api.evaluate_folders(sets["gen"], sets["ref"], out=other, suite="fadtk-encodec", weights="random")
    assert [p.name for p in other.iterdir()] == ["notes.txt"]


@pytest.mark.slow
def test_unmatched_names_are_listed_and_nothing_is_written(sets, cache, tmp_path):
    gen = tmp_path / "gen"
    gen.mkdir()
    for p in sorted(sets["gen"].glob("*.wav"))[:3]:
        (gen / p.name).symlink_to(p)
    (gen / "extra.wav").symlink_to(sets["gen"] / "clip3.wav")
    out = tmp_path / "scores"
    r = subprocess.run([sys.executable, "-m", "bench", "evaluate", "--generated", str(gen), "--reference",
                        str(sets["ref"]), "--weights", "random", "--suite", "fadtk-encodec", "--out", str(out)],
                       capture_output=True, text=True, timeout=120, cwd=ROOT, env={**os.environ, "COLUMNS": "200"})
    assert r.returncode == 2, r.stdout + r.stderr
    assert "['extra']" in r.stderr and "['clip3']" in r.stderr and "--unpaired" in r.stderr
    assert not out.exists() and not _leftovers(tmp_path)


def test_missing_weights_are_all_named_before_any_work(sets, cache, tmp_path):
    from bench import api

    out = tmp_path / "scores"
    with pytest.raises(WeightsNotFoundError) as exc:
        api.evaluate_folders(sets["gen"], sets["ref"], out=out)  # audioldm_eval-0.0.3, pretrained, empty cache
    for name in ("Cnn14_16k_mAP=0.438.pth", "vggish-10086976.pth"):
        assert name in str(exc.value)
    assert not out.exists() and not _leftovers(tmp_path) and not (cache / "embeddings").exists()


def test_sample_rate_and_unpaired_pick_the_configs():
    from metrics.embedding_metrics import embedder_of
    from bench.folders import folder_metric_configs

    suite, cfgs, _ = folder_metric_configs(sample_rate=32000)
    assert suite == "audioldm_eval-0.0.3"
    assert {k: embedder_of(c) for k, c in cfgs.items()} == {"fd": "cnn14_32k", "fad": "vggish", "kl": "cnn14_32k",
                                                             "is": "cnn14_32k"}
    _, cfgs, notes = folder_metric_configs(unpaired=True)
    assert "kl" not in cfgs and any("kl" in n and "paired" in n for n in notes)
    with pytest.raises(ConfigError, match="compare each generated clip"):
        folder_metric_configs(metrics=["kl"], unpaired=True)
    with pytest.raises(ConfigError, match="fixed rates"):
        folder_metric_configs(suite="fadtk-encodec", sample_rate=32000)
    _, cfgs, _ = folder_metric_configs(suite="audioldm_eval-main", sample_rate=32000)  # EvaluationHelper(32000)
    assert {k: c.get("reference_rate") for k, c in cfgs.items()} == {"fd": 32000, "fad": None, "kl": 32000,
                                                                     "is": 32000, "kid": 32000}
    with pytest.raises(ConfigError, match="16000 or 32000"):
        folder_metric_configs(sample_rate=44100)
    # the Hydra route (no suite): metric.fd.sample_rate=32000 is a valid override
    _, cfgs, _ = folder_metric_configs(metrics=["fd"], overrides=["metric.fd.sample_rate=32000"], weights="random")
    assert cfgs["fd"]["sample_rate"] == 32000 and cfgs["fd"]["weights"] == "random"


def test_run_evaluation_takes_suite_and_sample_rate_as_metric_configs(monkeypatch):
    """`bench evaluate --run R --suite S --sample-rate 32000`: `metric_suite=S` reaches
    bench.api.evaluate, and composing it gives the suite's metrics and settings (load_config);
    `metric_suite=S` is the same override for `bench run`."""
    from omegaconf import OmegaConf

    from bench import api, commands
    from bench.cli import build_parser

    seen = {}

    def fake_evaluate(run, metrics=None, compare=(), allow_missing=None, overrides=()):
        seen.update(metrics=metrics, overrides=list(overrides))
        raise SystemExit(0)

    monkeypatch.setattr(api, "evaluate", fake_evaluate)
    args = build_parser().parse_args(["evaluate", "--run", "runs/x", "--suite", "fadtk-encodec", "--metrics", "fad"])
    with pytest.raises(SystemExit):
        commands.cmd_evaluate(args)
    assert seen["metrics"] == ["fad"] and "metric_suite=fadtk-encodec" in seen["overrides"]
    cfg = api.load_config("toy", (), seen["overrides"], seen["metrics"])
    assert cfg.metric.fad.embedder == "encodec_24k" and cfg.metric.fad.preset == "fadtk-encodec"
    assert cfg.metric.fad.peer_tool == "fadtk 1.1.0"  # a value with a space survives Hydra
    args = build_parser().parse_args(["evaluate", "--run", "runs/x", "--suite", "stable-audio-metrics"])
    with pytest.raises(SystemExit):
        commands.cmd_evaluate(args)
    assert seen["metrics"] is None  # the suite decides
    cfg = api.load_config("toy", (), seen["overrides"], seen["metrics"])
    assert sorted(cfg.metric) == ["clap_score", "fad", "kl"]
    assert cfg.metric.clap_score.embedder == "clap_score_sam"
    kl = OmegaConf.to_container(cfg.metric.kl)
    assert kl["embedder"] == "passt" and kl["direction"] == "generated_to_reference" and kl["sample_rate"] is None
    from metrics.evaluate import build_metric

    assert build_metric("kl", kl, None, 0).describe()["peer_tool"].startswith("stable-audio-metrics")
    args = build_parser().parse_args(["evaluate", "--run", "runs/x", "--metrics", "fd,kl", "--sample-rate", "32000"])
    with pytest.raises(SystemExit):
        commands.cmd_evaluate(args)
    cfg = api.load_config("toy", (), seen["overrides"], seen["metrics"])
    assert cfg.metric.fd.sample_rate == 32000 and cfg.metric.kl.sample_rate == 32000
    # with audioldm_eval main's suite it is EvaluationHelper(32000): MERT's reference_rate, FAD untouched
    args = build_parser().parse_args(["evaluate", "--run", "runs/x", "--suite", "audioldm_eval-main",
                                      "--sample-rate", "32000"])
    with pytest.raises(SystemExit):
        commands.cmd_evaluate(args)
    cfg = api.load_config("toy", (), seen["overrides"], seen["metrics"])
    assert sorted(cfg.metric) == ["fad", "fd", "is", "kid", "kl"]
    assert {k: cfg.metric[k].get("reference_rate") for k in cfg.metric} == {
        "fd": 32000, "kl": 32000, "is": 32000, "kid": 32000, "fad": None}
    assert cfg.metric.fd.get("sample_rate") is None and cfg.metric.fad.preprocess == "audioldm_eval-main"
    with pytest.raises(ConfigError, match="--generated/--reference"):
        commands.cmd_evaluate(build_parser().parse_args(["evaluate", "--run", "runs/x", "--unpaired"]))
    # the override itself: a user's metric.<key>.* after it wins; a key outside the suite is named
    cfg = api.load_config("toy", (), ["metric_suite=audiocraft", "metric.kl.variants=[sigmoid]"], None)
    assert sorted(cfg.metric) == ["clap_score", "fad", "kl"] and list(cfg.metric.kl.variants) == ["sigmoid"]
    assert cfg.metric.fad.embedder == "vggish_audiocraft" and cfg.metric.fad.stats == "google"
    assert cfg.metric.kl.embedder == "passt_audiocraft" and cfg.metric.kl.preset == "audiocraft"
    with pytest.raises(ConfigError, match=r"metrics fd: not in suite 'audiocraft' \(fad, kl, clap_score\)"):
        api.load_config("toy", (), ["metric_suite=audiocraft"], ["fd"])


def test_a_killed_run_s_staging_folder_is_cleared_by_the_next(tmp_path):
    from bench.folders import staging_dir

    out = tmp_path / "scores"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".scores.staging-{int(dead.stdout)}"
    (stale / "metrics").mkdir(parents=True)
    mine = staging_dir(out)
    assert not stale.exists() and mine.name == f".scores.staging-{os.getpid()}"


@pytest.mark.slow  # builds Cnn14 (random weights)
def test_unpaired_kid_is_the_kid_of_the_two_sets_embeddings(sets, cache, tmp_path):
    from bench import api
    from metrics.embedders import make_embedder
    from metrics.small_sample import kid

    ref3 = tmp_path / "ref3"
    ref3.mkdir()
    for p in sorted(sets["ref"].glob("*.wav"))[:3]:
        (ref3 / f"r_{p.name}").symlink_to(p)
    ev = api.evaluate_folders(sets["gen"], ref3, out=tmp_path / "kid", metrics=["kid"], weights="random",
                              unpaired=True, n_resamples=50)
    emb = make_embedder("cnn14_16k", weights="random", seed=0)
    g = np.stack([o["embedding"] for o in emb.embed_files(sorted(sets["gen"].glob("*.wav")))])
    r = np.stack([o["embedding"] for o in emb.embed_files(sorted(ref3.glob("*.wav")))])
    row = ev.table.set_index("key").loc["kid"]
    assert row["value"] == pytest.approx(kid(g, r).mean, rel=1e-6, abs=1e-9)
    assert row["n_clips"] == 4 and row["n_reference"] == 3


def _captions_csv(path: Path, stems) -> Path:
    import csv

    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["ytid", "caption"])  # stable-audio-metrics' MusicCaps CSV columns
        for i, s in enumerate(stems):
            w.writerow([f"{s}.wav" if i == 0 else s, ["upbeat electronic dance music", "a calm piano melody",
                                                      "loud rock guitar and drums", "an epic orchestra"][i % 4]])
    return path


@pytest.mark.slow  # ~20 s: PaSST KL and both CLAP branches with random weights
def test_captions_give_the_clap_score_of_the_embeddings(sets, cache, tmp_path):
    import pandas as pd

    from bench import api
    from metrics.embedders.clap_score import ClapScoreEmbedder, clap_scores

    stems = [f"clip{i}" for i in range(4)]
    captions = _captions_csv(tmp_path / "captions.csv", stems)
    out = tmp_path / "scores"
    ev = api.evaluate_folders(sets["gen"], sets["ref"], out=out, suite="audiocraft", weights="random",
                              n_resamples=50, captions=captions)
    assert {"kl_softmax", "clap_score"} <= set(ev.table["key"])
    rows = pd.read_parquet(out / "metrics" / "clap_score.parquet")
    cfg = json.loads(rows["config"].iloc[0])
    assert cfg["preset"] == "audiocraft" and cfg["embedder"] == "clap_score_audiocraft"
    # the score is the mean cosine of each generated file's audio embedding and its caption's
    emb = ClapScoreEmbedder("audiocraft", weights="random", seed=0)
    audio = np.stack([o["embedding"] for o in emb.embed_files([sets["gen"] / f"{s}.wav" for s in stems])])
    text = emb.embed_texts(["upbeat electronic dance music", "a calm piano melody", "loud rock guitar and drums",
                            "an epic orchestra"])
    expected = clap_scores(audio, text)
    set_row = rows[rows["clip"].isna()].iloc[0]
    assert set_row["value"] == pytest.approx(expected.mean(), rel=1e-6)
    per_clip = rows.dropna(subset=["clip"]).set_index("clip")["value"]
    assert np.allclose(per_clip.loc[stems], expected, rtol=1e-6)
    stored = json.loads((out / "folders.json").read_text())["captions"]
    assert stored["by_stem"]["clip0"] == "upbeat electronic dance music"
    # other captions: the stored rows are not reused (the fingerprint covers the captions)
    swapped = _captions_csv(tmp_path / "swapped.csv", stems[::-1])
    api.evaluate_folders(sets["gen"], sets["ref"], out=out, suite="audiocraft", weights="random", n_resamples=50,
                         captions=swapped, metrics=["clap_score"])
    again = pd.read_parquet(out / "metrics" / "clap_score.parquet").dropna(subset=["clip"]).set_index("clip")["value"]
    assert not np.allclose(again.loc[stems], per_clip.loc[stems])


def test_captions_are_checked_before_any_work(sets, cache, tmp_path):
    from bench import api
    from bench.folders import folder_metric_configs, read_captions

    # a suite without captions: the CLAP score is left out, with a note; asked for by name: refused
    _, configs, notes = folder_metric_configs("stable-audio-metrics", weights="random")
    assert "clap_score" not in configs and any("clap_score left out: no --captions" in n for n in notes)
    with pytest.raises(ConfigError, match="give --captions FILE"):
        folder_metric_configs("stable-audio-metrics", metrics=["clap_score"], weights="random")
    # a generated file without a caption: named, nothing written
    out = tmp_path / "scores"
    part = _captions_csv(tmp_path / "part.csv", ["clip0", "clip1", "clip2"])
    with pytest.raises(ConfigError, match=r"1 generated file\(s\) have no caption: \['clip3'\]"):
        api.evaluate_folders(sets["gen"], sets["ref"], out=out, suite="audiocraft", weights="random", captions=part)
    assert not out.exists() and not _leftovers(tmp_path)
    # the formats: CSV (ids with or without the extension), JSON; bad files named with the problem
    assert read_captions(part) == {"clip0": "upbeat electronic dance music", "clip1": "a calm piano melody",
                                   "clip2": "loud rock guitar and drums"}
    (tmp_path / "c.json").write_text(json.dumps({"clip0": "x"}))
    assert read_captions(tmp_path / "c.json") == {"clip0": "x"}
    (tmp_path / "bad.csv").write_text("name,genre\nclip0,rock\n")
    with pytest.raises(ConfigError, match=r"bad.csv: a CSV needs a header with an id column.*\['name', 'genre'\]"):
        read_captions(tmp_path / "bad.csv")
    (tmp_path / "twice.csv").write_text("id,caption\nclip0,a\nclip0.wav,b\n")
    with pytest.raises(ConfigError, match="id 'clip0' is given twice"):
        read_captions(tmp_path / "twice.csv")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match="expected a JSON object"):
        read_captions(tmp_path / "list.json")
