"""Experiments: every named experiment loads and plans, sweeps expand and reduce, identical
configs share one run folder, bad definitions are named; end to end, a sweep over the controls
runs as resumable run folders with tables and a report, a reduced `alpha` sweep runs DyViM
on the tiny toy through the CLI, and reduced `tuning`, `schedules`, `conditions` + `strategies`
and `encoders`, plus `overall` (Table 1: controls, DyViM, MusicGen, baselines left out with why)
and `attention` (Fig. 5's stored maps), run in process on a miniature real toy and draw their
artefacts."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from core.errors import ConfigError, UnknownNameError
from bench.experiments import experiment_names, load_experiment, plan
from bench.experiments.spec import experiment_from_dict, reduce_sweep, select_variants

PAPER_EXPERIMENTS = {"overall", "conditions", "strategies", "tuning", "alpha", "encoders", "attention", "schedules"}
BENCH = [sys.executable, "-m", "bench"]


def test_every_paper_experiment_is_defined():
    assert PAPER_EXPERIMENTS <= set(experiment_names())
    arts = {n: load_experiment(n).artefact for n in PAPER_EXPERIMENTS}
    assert arts["overall"] == "table1" and arts["alpha"] == "figure4" and arts["attention"] == "figure5"
    alpha = load_experiment("alpha")
    assert [v.overrides[0] for v in alpha.variants][::5] == ["system.dyvim.alpha=0.0", "system.dyvim.alpha=0.5",
                                                             "system.dyvim.alpha=1.0"]
    assert len(alpha.variants) == 11


def test_swept_keys_are_dyvim_config_keys():
    """Every system.dyvim.* key an experiment sets exists in bench/conf/system/dyvim.yaml."""
    conf = Path(__file__).resolve().parents[2] / "bench" / "conf" / "system" / "dyvim.yaml"
    keys = set(yaml.safe_load(conf.read_text()))
    for name in PAPER_EXPERIMENTS:
        exp = load_experiment(name)
        for v in exp.variants:
            for o in v.overrides:
                key = o.split("=")[0]
                assert key.startswith("system.dyvim.") and key.split(".")[2] in keys, (name, o)


@pytest.mark.slow
def test_all_variants_plan_on_toy_and_identical_models_share_a_folder():
    assert "dyvim" in __import__("systems.base", fromlist=["known_systems"]).known_systems()
    runs = plan(load_experiment("strategies"), ["toy"], systems=["dyvim"])
    folders = {r.folder: r.variants for r in runs}
    assert folders["d_extend"] == ("d_extend", "s_cross")  # D_extend* and S_cross* are one model
    assert set(folders) == {"d_cross", "d_extend", "s_prepend"}
    for name in PAPER_EXPERIMENTS - {"overall"}:  # every experiment composes on toy (the toy has every input)
        assert plan(load_experiment(name), ["toy"], systems=["dyvim"])
    enc = plan(load_experiment("encoders"), ["toy", "symmv"], systems=["dyvim"])
    assert {(r.dataset, r.folder) for r in enc if r.folder == "de_pose"} == {("toy", "de_pose")}  # dance only
    assert all(r.run_name("encoders").startswith(f"encoders/{r.dataset}/") for r in enc)


def test_reduced_sweeps_and_selection():
    exp = reduce_sweep(load_experiment("alpha"), "system.dyvim.alpha", ["0.0", "0.5"])
    assert [v.name for v in exp.variants] == ["alpha_0.0", "alpha_0.5"]
    with pytest.raises(ConfigError, match="does not sweep 'system.dyvim.tuning'.*system.dyvim.alpha"):
        reduce_sweep(exp, "system.dyvim.tuning", ["full"])
    assert [v.name for v in select_variants(load_experiment("tuning"), ["lora"]).variants] == ["lora"]
    with pytest.raises(ConfigError, match="no variant 'nope'.*full, lora, frozen"):
        select_variants(load_experiment("tuning"), ["nope"])


@pytest.mark.parametrize("raw, message", [
    ({"name": "x", "artefact": "table9", "systems": [], "datasets": [], "metrics": [], "sweep": {"a": [1]}},
     "artefact 'table9'"),
    ({"name": "x", "artefact": "table2", "systems": [], "datasets": [], "metrics": []}, "exactly one of `sweep`"),
    ({"name": "x", "artefact": "table2", "systems": [], "datasets": [], "metrics": [],
      "variants": [{"name": "a/b"}]}, "plain folder name"),
    ({"name": "x", "artefact": "table2", "datasets": [], "metrics": [], "sweep": {"a": [1]}}, "lacks the key 'systems'"),
    ({"name": "x", "artefact": "table2", "systems": [], "datasets": [], "metrics": [], "sweep": {"a": []}},
     "non-empty list"),
])
def test_bad_definitions_are_named(raw, message):
    with pytest.raises(ConfigError, match=message):
        experiment_from_dict(raw, "bad.yaml")


def test_optional_systems_join_only_when_ready():
    from bench.experiments.spec import available_systems

    exp = experiment_from_dict({"name": "x", "artefact": "table1", "systems": ["reference"], "datasets": ["toy"],
                                "metrics": [], "optional_systems": ["slow_sine", "no_such_system"],
                                "variants": [{"name": "all"}]})
    systems, left_out = available_systems(exp)
    assert systems == ["reference", "slow_sine"] and left_out == ["no_such_system"]
    with pytest.raises(UnknownNameError, match="unknown system 'nope'"):
        available_systems(experiment_from_dict({**exp.to_dict(), "systems": ["nope"], "optional_systems": []}))


def test_unknown_experiment_lists_the_known_ones():
    with pytest.raises(UnknownNameError, match="unknown experiment 'nope'.*alpha"):
        load_experiment("nope")


CONTROLS_SWEEP = {"name": "ctl", "title": "controls sweep", "artefact": "table2", "systems": ["reference", "shuffled"],
                  "datasets": ["toy"], "metrics": ["beat"], "sweep": {"system.shuffled.pool": ["test", "all"]}}


def bench(*args, env, check=True):
    proc = subprocess.run([*BENCH, *args], capture_output=True, text=True, env={**os.environ, **env}, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"bench {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.mark.slow
def test_controls_sweep_end_to_end_resumes_and_reports(tmp_path, mini_dataset):
    root, overrides = mini_dataset
    env = {"BENCH_RUNS_ROOT": str(tmp_path / "runs"), "BENCH_CACHE_DIR": str(tmp_path / "cache")}
    spec = tmp_path / "ctl.yaml"
    spec.write_text(yaml.safe_dump(CONTROLS_SWEEP))
    args = ["experiment", "run", str(spec), *overrides, "evaluate.n_resamples=50", "executor.workers=1"]
    out = bench(*args, env=env).stdout
    exp_dir = tmp_path / "runs" / "ctl"
    assert f"report: {exp_dir / 'report' / 'index.html'}" in out and "2 runs, 0 failed" in out
    for variant in ("pool_test", "pool_all"):
        run = exp_dir / "toy" / variant
        assert yaml.safe_load((run / "config.yaml").read_text())["system"]["shuffled"]["pool"] == variant[5:]
        assert (run / "metrics" / "beat.parquet").exists()
    results = pd.read_parquet(exp_dir / "tables" / "results.parquet")
    assert set(results["variant"]) == {"pool_test", "pool_all"} and set(results["system"]) == {"reference", "shuffled"}
    assert (exp_dir / "tables" / "table2.tex").read_text().count("\\begin{tabular}") == 1
    doc = yaml.safe_load((exp_dir / "experiment.yaml").read_text())
    assert [r["folder"] for r in doc["runs"]] == ["pool_test", "pool_all"]
    html = (exp_dir / "report" / "index.html").read_text()
    assert "pool=test" in html and "<audio" in html and "<video" in html

    wavs = {p: p.stat().st_mtime_ns for p in exp_dir.rglob("*.wav")}
    again = bench(*args, env=env).stdout  # resumes: nothing regenerated
    assert {p: p.stat().st_mtime_ns for p in exp_dir.rglob("*.wav")} == wavs
    assert "already_done=" in again or "2 runs, 0 failed" in again

    status = bench("experiment", "status", str(exp_dir), env=env).stdout
    assert "status: run=ctl/toy/pool_test state=evaluated" in status
    assert "status: run=ctl/toy/pool_all state=evaluated" in status


@pytest.mark.slow
def test_a_failing_variant_is_recorded_and_the_others_run(tmp_path, mini_dataset):
    root, overrides = mini_dataset
    env = {"BENCH_RUNS_ROOT": str(tmp_path / "runs"), "BENCH_CACHE_DIR": str(tmp_path / "cache")}
    spec = tmp_path / "half.yaml"
    spec.write_text(yaml.safe_dump({**CONTROLS_SWEEP, "name": "half", "metrics": [],
                                    "sweep": {"system.shuffled.pool": ["test", "nowhere"]}}))
    proc = bench("experiment", "run", str(spec), *overrides, "executor.workers=1", env=env, check=False)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    state = json.loads((tmp_path / "runs" / "half" / "state.json").read_text())
    assert state["half/toy/pool_test"]["status"] == "done"
    assert state["half/toy/pool_nowhere"]["status"] == "failed" and "nowhere" in state["half/toy/pool_nowhere"]["error"]
    html = (tmp_path / "runs" / "half" / "report" / "index.html").read_text()
    assert "half/toy/pool_nowhere" in html and "variant run failed" in html


def _root_conftest():
    import importlib.util

    spec = importlib.util.spec_from_file_location("_bench_tests_root_conftest", Path(__file__).parents[1] / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_reduced_alpha_sweep_runs_dyvim_end_to_end(tmp_path):
    """Fig. 4's experiment with α ∈ {0, 0.5}: the tiny random DyViM trains a few steps per variant
    on 1-second miniature clips (10 fps), generates, is scored, and the report draws Fig. 4; the
    trained FwDF head's attention is then stored for Fig. 5."""
    from systems.base import known_systems

    assert "dyvim" in known_systems()  # a registry regression fails here, it is not skipped
    overrides = _root_conftest().make_mini_dataset(tmp_path / "mini", n_sources=4, clips_per_source=2, duration=1.0)
    env = {"BENCH_RUNS_ROOT": str(tmp_path / "runs"), "BENCH_CACHE_DIR": str(tmp_path / "cache")}
    out = bench("experiment", "run", "alpha", "--dataset", "toy", "--sweep", "system.dyvim.alpha=0.0,0.5",
                "--metrics", "beat", *overrides, "system.dyvim.video_fps=10", "system.dyvim.flow_iters=1",
                "system.dyvim.train.steps=2", "system.dyvim.train.eval_every=2", "system.dyvim.train.warmup_steps=1",
                "evaluate.n_resamples=50", "executor.workers=1", env=env).stdout
    exp_dir = tmp_path / "runs" / "alpha"
    assert "2 runs, 0 failed, 0 failed outputs" in out
    for v, a in (("alpha_0.0", 0.0), ("alpha_0.5", 0.5)):
        run = exp_dir / "toy" / v
        assert yaml.safe_load((run / "config.yaml").read_text())["system"]["dyvim"]["alpha"] == a
        summary = json.loads((run / "dyvim" / "train" / "summary.json").read_text())
        assert summary["steps"] == 2 and len(list((run / "dyvim").glob("*.wav"))) >= 1
    results = pd.read_parquet(exp_dir / "tables" / "results.parquet")
    assert set(results["variant"]) == {"alpha_0.0", "alpha_0.5"} and set(results["system"]) == {"dyvim"}
    html = (exp_dir / "report" / "index.html").read_text()
    assert "figures/figure4_alpha.png" in html and "random-weights-banner" in html and "figures/training.png" in html

    from bench.experiments.attention import store_attention

    run = exp_dir / "toy" / "alpha_0.5"
    (path,) = store_attention(run, ["dyvim"], frames=10, clips=1)
    with np.load(path) as z:
        f, p = z["received"].shape
        assert f == len(z["frames"]) == 10 and p == int(np.prod(z["grid"]))
        assert np.allclose(z["received"].sum(axis=1), 1.0, atol=1e-4)  # each query's weights sum to 1
    assert store_attention(run, ["dyvim"], frames=10, clips=1) == []  # kept on a re-run


# --- the other DyViM experiments, end to end on a miniature real `toy` ----------------------------
# 4 pieces × 2 one-second clips at 32×32 and 10 fps (the toy's keypoints and captions included, so
# the pose and T5 encoders run), the tiny random DyViM trained 2 steps per variant, scored with the
# beat metric (no embedder), in this process (imports, the numba JIT and the feature cache are
# shared by the module's experiments), each reduced to the variants that make its artefact.
MINI_TOY = ["dataset.clip_duration=1.0", "dataset.params.size=tiny", "dataset.params.n_sources=4",
            "dataset.params.clips_per_source=2", "dataset.params.width=32", "dataset.params.height=32",
            "dataset.params.fps=10", "dataset.params.workers=1", "dataset.params.test_fraction=0.3"]
TINY_DYVIM = ["system.dyvim.video_fps=10", "system.dyvim.flow_iters=1", "system.dyvim.train.steps=2",
              "system.dyvim.train.eval_every=2", "system.dyvim.train.warmup_steps=1", "evaluate.n_resamples=50",
              "executor.workers=1"]


def _load_latex_check():
    import importlib.util

    spec = importlib.util.spec_from_file_location("_reports_latex_check",
                                                  Path(__file__).parents[1] / "reports" / "latex_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def mini_toy(tmp_path_factory):
    """(overrides, feature cache) of a miniature `toy` built once for the module."""
    from bench.config import compose
    from bench.data.prepare import prepare_dataset
    from systems.base import known_systems

    assert "dyvim" in known_systems()  # a registry regression fails here, it is not skipped
    root = tmp_path_factory.mktemp("mini_toy")
    overrides = [f"dataset.root={root / 'toy'}", *MINI_TOY]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BENCH_CACHE_DIR", str(root / "cache"))
        clips = prepare_dataset(compose("toy", (), overrides).dataset)
    assert all(c.caption and c.keypoints for c in clips) and {c.split for c in clips} == {"train", "test"}
    return [*overrides, *TINY_DYVIM], root / "cache"


def run_reduced(name: str, variants: list[str], mini_toy, monkeypatch):
    """Run experiment `name` reduced to `variants` on the miniature toy, then its report."""
    from bench.experiments.runner import run_experiment
    from reports.html import write_report

    overrides, cache = mini_toy
    monkeypatch.setenv("BENCH_CACHE_DIR", str(cache))  # one feature cache for every experiment
    exp = select_variants(load_experiment(name), variants)
    result = run_experiment(exp, os.environ["BENCH_RUNS_ROOT"], datasets=["toy"], overrides=overrides,
                            metrics=["beat"], log=lambda _: None)
    assert not result.failed and result.failed_outputs == 0, result.failed
    assert [r.folder for r in result.runs] == variants
    html = write_report(result.dir, gallery_clips=2).read_text()
    for tex in (result.dir / "tables").glob("*.tex"):  # every exported table is valid LaTeX
        assert _load_latex_check().structure_problems(tex.read_text()) == [], tex
    assert "figures/per_clip.png" in html and "random-weights-banner" in html
    return result.dir, html


def _run_config(exp_dir: Path, variant: str) -> dict:
    return yaml.safe_load((exp_dir / "toy" / variant / "config.yaml").read_text())["system"]["dyvim"]


def _paper_row(exp_dir: Path, table: str) -> tuple[list[str], list[str], list[float]]:
    """(column groups, columns, values of the toy row) of an exported paper table."""
    import csv

    groups, columns, toy = list(csv.reader((exp_dir / "tables" / f"{table}.csv").read_text().splitlines()))[:3]
    assert toy[0] == "toy"
    # each value column is followed by its `weights: <column>` column (the weights kind of the value)
    keep = [i for i in range(1, len(columns)) if not columns[i].startswith("weights")]
    assert len(keep) < len(columns) - 1, "the exported table carries no weights kind"
    return [groups[i] for i in keep], [columns[i] for i in keep], [float(toy[i]) for i in keep]


@pytest.mark.slow
def test_reduced_tuning_runs_dyvim_end_to_end(tmp_path, mini_toy, monkeypatch):
    """Fig. 3 with full and frozen tuning: bars from the scores, the training-time line from each
    variant's train/summary.json (frozen trains fewer parameters than full)."""
    exp_dir, html = run_reduced("tuning", ["full", "frozen"], mini_toy, monkeypatch)
    summaries = {}
    for v in ("full", "frozen"):
        assert _run_config(exp_dir, v)["tuning"] == v
        summaries[v] = json.loads((exp_dir / "toy" / v / "dyvim" / "train" / "summary.json").read_text())
        assert summaries[v]["steps"] == 2 and summaries[v]["train_time_s"] > 0 and summaries[v]["tuning"] == v
    assert summaries["frozen"]["trainable_params"] < summaries["full"]["trainable_params"]
    assert summaries["full"]["trainable_params"] == summaries["full"]["total_params"]
    assert "figures/figure3_tuning.png" in html and "training-time line is empty" not in html
    assert (exp_dir / "report" / "figures" / "figure3_tuning.svg").exists()
    _, columns, values = _paper_row(exp_dir, "figure3")
    assert columns == ["Full", "Frozen"] and all(np.isfinite(values))


@pytest.mark.slow
def test_reduced_schedules_run_dyvim_end_to_end(tmp_path, mini_toy, monkeypatch):
    """Table 4 with a non-annealing (constant) and an annealing (step) schedule: the weighted
    token loss differs from the first step, and the table has the paper's column groups."""
    exp_dir, html = run_reduced("schedules", ["constant", "step"], mini_toy, monkeypatch)
    first = {}
    for v in ("constant", "step"):
        assert _run_config(exp_dir, v)["schedule"] == v
        log = pd.read_csv(exp_dir / "toy" / v / "dyvim" / "train" / "log.csv")
        first[v] = float(log.loc[(log["split"] == "train") & (log["step"] == 1), "loss"].iloc[0])
    assert first["constant"] != pytest.approx(first["step"], rel=1e-3)  # same init and batch, other weights
    groups, columns, values = _paper_row(exp_dir, "table4")
    assert groups == ["w/o-annealing", "w/-annealing"] and columns == ["a_constant", "a_step"]
    assert all(np.isfinite(values)) and 'id="table-table4"' in html


@pytest.mark.slow
def test_reduced_conditions_and_strategies_run_dyvim_and_make_one_table2(tmp_path, mini_toy, monkeypatch):
    """Table 2's halves run as separate experiments (w/o-D, w/o-S; D_cross, S_prepend): each
    variant's model sees what it should, and both reports show the one merged Table 2."""
    cond_dir, html = run_reduced("conditions", ["no_dynamics", "no_semantics"], mini_toy, monkeypatch)
    assert "Table 2 shows this half only" in html
    encoders = {v: json.loads((cond_dir / "toy" / v / "env.json").read_text())["systems"]["dyvim"]["encoders"]
                for v in ("no_dynamics", "no_semantics")}
    assert encoders["no_dynamics"]["dynamics"] is None and encoders["no_dynamics"]["semantics"] == "random"
    assert encoders["no_semantics"]["semantics"] is None and encoders["no_semantics"]["dynamics"] == "random"

    strat_dir, html = run_reduced("strategies", ["d_cross", "s_prepend"], mini_toy, monkeypatch)
    assert _run_config(strat_dir, "d_cross")["dynamics_strategy"] == "cross"
    assert _run_config(strat_dir, "s_prepend")["semantics_strategy"] == "prepend"
    from reports.html import write_report

    for exp_dir in (cond_dir, strat_dir):
        html = write_report(exp_dir, gallery_clips=2, force=False).read_text()
        groups, columns, values = _paper_row(exp_dir, "table2")
        assert groups == ["Visual conditions"] * 2 + ["Condition strategies"] * 2
        assert columns == ["w/o-D", "w/o-S", "D_cross", "S_prepend"] and all(np.isfinite(values))
        assert "this half only" not in html and "Table 2: visual conditions and condition strategies" in html


@pytest.mark.slow
def test_reduced_encoders_run_dyvim_end_to_end(tmp_path, mini_toy, monkeypatch):
    """Table 3's alternative encoders on the toy: OpenPose-style keypoints, I3D and T5 over the
    captions each extract (and cache) their own features, and each gets its column."""
    exp_dir, html = run_reduced("encoders", ["de_pose", "de_i3d", "se_t5"], mini_toy, monkeypatch)
    assert _run_config(exp_dir, "de_pose")["dynamics_encoder"] == "pose"
    assert _run_config(exp_dir, "de_i3d")["dynamics_encoder"] == "i3d"
    assert _run_config(exp_dir, "se_t5")["semantics_encoder"] == "t5"
    cache = mini_toy[1]
    for kind in ("dyvim.pose", "dyvim.i3d", "dyvim.t5"):
        assert any((cache / kind).rglob("*")), kind
    groups, columns, values = _paper_row(exp_dir, "table3")
    assert groups == ["Dynamic encoder", "Dynamic encoder", "Semantic encoder"]
    assert columns == ["DE_OpenPose", "DE_I3D", "SE_T5"] and all(np.isfinite(values))
    assert 'id="table-table3"' in html


@pytest.mark.slow
def test_overall_runs_every_ready_system_and_makes_table1(tmp_path, mini_toy, monkeypatch):
    """Table 1 on the toy: the controls and DyViM always, MusicGen when it joins (tiny random,
    in process), the external baselines left out with the reason they are not ready (no
    checkout or environment here) — listed on the page, never dropped silently."""
    from bench.experiments.runner import run_experiment
    from bench.experiments.spec import available_systems
    from reports.html import write_report

    overrides, cache = mini_toy
    overrides = [*overrides, "system.shuffled.pool=all"]  # the miniature toy's test split is one piece
    monkeypatch.setenv("BENCH_CACHE_DIR", str(cache))
    exp = load_experiment("overall")
    systems, left_out = available_systems(exp, overrides)
    assert systems[:3] == ["reference", "shuffled", "dyvim"] and set(systems) | set(left_out) >= set(exp.optional_systems)
    result = run_experiment(exp, os.environ["BENCH_RUNS_ROOT"], datasets=["toy"], overrides=overrides,
                            metrics=["beat"], log=lambda _: None)
    assert not result.failed and result.failed_outputs == 0, result.failed
    assert [(r.dataset, r.folder, list(r.systems)) for r in result.runs] == [("toy", "all", systems)]
    html = write_report(result.dir, gallery_clips=2).read_text()
    import csv

    groups, columns, *rows = list(csv.reader((result.dir / "tables" / "table1.csv").read_text().splitlines()))
    assert [r[0] for r in rows] == systems  # controls first, then every system that ran, each once
    values = [i for i in range(1, len(columns)) if not columns[i].startswith("weights")]  # each has a weights column
    assert {"toy"} <= set(groups[1:]) and {"BCS→1", "BHS↑"} <= {columns[i] for i in values}  # the beat metrics stand in
    assert all(r[i] != "" and np.isfinite(float(r[i])) for r in rows for i in values)
    from html import escape

    assert escape("none of Table 1's metrics (FD, FAD, KL, OVL, REL) were computed") in html
    table = html[html.index('id="table-table1"'):]
    table = table[:table.index("</table>")]
    trs = table.split("<tr")[3:]  # after the group and column header rows
    assert [t.split("<th>")[1].split("</th>")[0] for t in trs] == systems
    for t, s in zip(trs, systems):
        control = s in ("reference", "shuffled")
        assert t.startswith(' class="control"') == control
        if control:  # shown, never ranked
            assert 'class="best' not in t and 'class="second' not in t, t
    ours = [t for t, s in zip(trs, systems) if s not in ("reference", "shuffled")]
    n_values = len(values)  # every value column has a best among ours (the cell's first class)
    assert sum(t.count('class="best') for t in ours) >= n_values
    assert "random-weights-banner" in html and "figures/per_clip.png" in html
    reasons = yaml.safe_load((result.dir / "experiment.yaml").read_text())["skipped_reasons"]
    assert list(reasons) == left_out and all(reasons.values())
    for s in left_out:  # each baseline that did not join is named, with why, on the page
        assert f"{s} left out (not ready here): " in html
    if left_out:
        assert escape("not in this table (not ready here, see the report's notes): " + ", ".join(left_out)) in html
    assert "musicgen" not in left_out or "musicgen" not in systems


@pytest.mark.slow
def test_attention_stores_the_trained_fwdf_attention_and_draws_figure5(tmp_path, mini_toy, monkeypatch):
    """Fig. 5 on the toy: after the FwDF variant trains, its dynamics self-attention is stored
    per test clip (10 evenly spaced frames; each row, the attention every position receives
    averaged over queries, sums to 1), from the trained head, and the report draws it."""
    exp_dir, html = run_reduced("attention", ["fwdf"], mini_toy, monkeypatch)
    run = exp_dir / "toy" / "fwdf"
    assert _run_config(exp_dir, "fwdf")["dynamics_encoder"] == "fwdf"
    test_clips = sorted(p.stem for p in (run / "dyvim").glob("*.wav"))
    stored = sorted((run / "attention").glob("*.npz"))
    assert [p.stem for p in stored] == test_clips[:2] and stored  # `attention: {clips: 2}`, the run's test clips
    for path in stored:
        with np.load(path) as z:
            f, p = z["received"].shape
            assert f == len(z["frames"]) == len(z["times"]) == 10 and p == int(np.prod(z["grid"]))
            assert list(z["frames"]) == sorted(set(z["frames"])) and z["frames"][0] == 0
            assert np.allclose(z["received"].sum(axis=1), 1.0, atol=1e-4) and (z["received"] >= 0).all()
            assert not np.allclose(z["received"], 1.0 / p)  # trained attention, not uniform
    assert "figures/figure5_attention.png" in html and "no stored attention maps" not in html
    assert (exp_dir / "report" / "figures" / "figure5_attention.svg").exists()
    from core.cache import Cache
    from bench.experiments.attention import received_attention, store_attention, trained_fwdf
    from reports.media import run_clips
    from systems.dyvim.encoders import build_dynamics_encoder

    conf = yaml.safe_load((run / "config.yaml").read_text())
    scfg, clip = conf["system"]["dyvim"], run_clips(conf)[0][0]
    feats = trained_fwdf(run, "dyvim", scfg).extract_clip(clip, Cache(conf["paths"]["cache_dir"]))
    untrained = build_dynamics_encoder("fwdf", size="tiny", weights="random", flow_iters=scfg["flow_iters"],
                                       d_m=scfg["d_m"], fps=scfg["video_fps"], seed=int(scfg["seed"])).eval()
    with np.load(run / "attention" / f"{clip.id}.npz") as z:  # the trained head's, not the initial one's
        assert np.allclose(received_attention(feats.values, trained_fwdf(run, "dyvim", scfg).aggregator)[1],
                           z["received"], atol=1e-6)
        assert not np.allclose(received_attention(feats.values, untrained.aggregator)[1], z["received"], atol=1e-6)
    mtimes = [p.stat().st_mtime_ns for p in stored]

    assert store_attention(run, ["dyvim"], frames=10, clips=2) == []  # kept on a re-run
    assert [p.stat().st_mtime_ns for p in stored] == mtimes
