"""Experiment reports from hand-made experiment folders (copies of a stored run per variant):
Fig. 3 with training times from train/summary.json, Fig. 5 from stored attention maps,
Table 1 with failed systems labelled, failed variants listed, and status read from files."""

import json
import shutil

import numpy as np
import pytest

from bench.experiments import load_experiment
from bench.experiments.runner import experiment_status, write_experiment_file
from bench.experiments.spec import PlannedRun
from reports.errors import ReportError
from reports.html import refresh_related_reports
from reports.html import write_report


def make_experiment(tmp_path, scored_run, name, folders, systems=("reference", "shuffled", "flaky")):
    exp = load_experiment(name)
    exp_dir = tmp_path / "runs" / name
    runs = [PlannedRun("toy", f, (f,), tuple(systems)) for f in folders]
    write_experiment_file(exp_dir, exp, ["toy"], ["dataset.params.size=mini"], runs, ["vidmuse"])
    for f in folders:
        shutil.copytree(scored_run, exp_dir / "toy" / f, ignore=shutil.ignore_patterns("report"))
    return exp_dir


def test_figure3_uses_training_times(tmp_path, scored_run):
    exp_dir = make_experiment(tmp_path, scored_run, "tuning", ["full", "lora", "frozen"], systems=("flaky",))
    for f, t in (("full", 600), ("lora", 300)):
        d = exp_dir / "toy" / f / "flaky" / "train"
        d.mkdir(parents=True)
        (d / "summary.json").write_text(json.dumps({"train_time_s": t, "steps": 10}))
        (d / "log.csv").write_text("step,split,loss,lr,elapsed_s,tokens_per_s\n1,train,3.0,0.1,1,1\n2,val,2.5,0.1,2,1\n")
    page = write_report(exp_dir, gallery_clips=4)
    html = page.read_text()
    assert "figures/figure3_tuning.png" in html and "figures/training.png" in html
    assert "not installed here, left out: vidmuse" in html
    assert (exp_dir / "tables" / "figure3.tex").exists() and (exp_dir / "tables" / "results.csv").exists()
    assert "Fine-tune*" in html  # variant labels head the table's columns
    assert page.parent == exp_dir / "report"
    media = [s for s in html.split('src="')[1:] if s.startswith("../toy/")]
    assert media  # the gallery's music lives in the variants' run folders, referenced relatively


def test_figure5_from_stored_attention(tmp_path, scored_run):
    exp_dir = make_experiment(tmp_path, scored_run, "attention", ["fwdf"], systems=("flaky",))
    received = np.full((10, 16), 1 / 16)
    (exp_dir / "toy" / "fwdf" / "attention").mkdir()
    np.savez(exp_dir / "toy" / "fwdf" / "attention" / "clip.npz", frames=np.arange(10), received=received,
             grid=np.array([4, 4]), times=np.arange(10) / 25)
    html = write_report(exp_dir, gallery_clips=0).read_text()
    assert "figures/figure5_attention.png" in html


def test_table1_with_failures_and_a_failed_variant(tmp_path, scored_run, human_eval_writer):
    exp_dir = make_experiment(tmp_path, scored_run, "overall", ["all"])
    human_eval_writer(exp_dir / "toy" / "all")
    (exp_dir / "state.json").write_text(json.dumps({"overall/toy/all": {"status": "done"},
                                                    "overall/symmv/all": {"status": "failed",
                                                                          "error": "dataset 'symmv' is not prepared"}}))
    html = write_report(exp_dir, paper=True, gallery_clips=0).read_text()
    assert "Table 1: overall comparison" in html and "flaky (3 failed)" in html
    assert "overall/symmv/all" in html and "not prepared" in html
    assert (exp_dir / "tables" / "table1.tex").exists()
    assert "figures/figure8_votes.png" in html and "OVL↑" in html
    (status,) = experiment_status(exp_dir)
    assert status.state == "generated" and status.outputs["flaky"] == 1  # kl (one of its metrics) was never scored


def test_older_experiment_folder_is_refused(tmp_path):
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "experiment.yaml").write_text("sweep: {a: [1]}\n")
    with pytest.raises(ReportError, match="older version.*re-run `bench experiment run`"):
        write_report(tmp_path / "old")


def _set_fad(run_dir, value):
    """Rewrite the copied run's flaky FAD set row (the hand-made score of this variant)."""
    import pandas as pd

    path = run_dir / "metrics" / "fad.parquet"
    df = pd.read_parquet(path)
    df.loc[df["clip"].isna() & (df["system"] == "flaky"), "value"] = value
    df.to_parquet(path, index=False)


def make_half(tmp_path, scored_run, name, folders: dict[str, tuple[str, ...]], fads: dict[str, float]):
    exp = load_experiment(name)
    exp_dir = tmp_path / "runs" / name
    runs = [PlannedRun("toy", f, variants, ("flaky",)) for f, variants in folders.items()]
    write_experiment_file(exp_dir, exp, ["toy"], ["dataset.params.size=mini"], runs, [])
    for f in folders:
        shutil.copytree(scored_run, exp_dir / "toy" / f, ignore=shutil.ignore_patterns("report"))
        _set_fad(exp_dir / "toy" / f, fads[f])
    return exp_dir


def _table_html(html: str, name: str) -> str:
    start = html.index(f'id="table-{name}"')
    return html[start:html.index("</table>", start)]


@pytest.mark.slow
def test_table2_halves_render_as_one_table(tmp_path, scored_run):
    """`conditions` and `strategies` run separately; each one's report shows Table 2 as one
    table like the paper's once both have run (conditions' full* = the strategies' D_extend* =
    S_cross*, shown there once), and only its own half, with a note, before that."""
    cond = make_half(tmp_path, scored_run, "conditions",
                     {"no_dynamics": ("no_dynamics",), "no_semantics": ("no_semantics",), "full": ("full",)},
                     {"no_dynamics": 4.63, "no_semantics": 4.59, "full": 4.11})
    html = write_report(cond, gallery_clips=0, force=False).read_text()
    assert (cond / "tables" / "table2.csv").read_text().splitlines()[1] == \
        ",w/o-D,w/o-S,full*,weights: w/o-D,weights: w/o-S,weights: full*"
    assert "Table 2 shows this half only" in html and "bench experiment run strategies" in html

    strat = make_half(tmp_path, scored_run, "strategies",
                      {"d_cross": ("d_cross",), "d_extend": ("d_extend", "s_cross"), "s_prepend": ("s_prepend",)},
                      {"d_cross": 4.41, "d_extend": 4.11, "s_prepend": 4.45})
    write_report(strat, gallery_clips=0, force=False)
    stamp = (cond / "report" / ".inputs").read_text()
    write_report(cond, gallery_clips=0, force=False)  # not kept: the other half is one of its inputs
    assert (cond / "report" / ".inputs").read_text() != stamp
    # what `bench experiment run strategies` does after its own report
    assert refresh_related_reports(strat) == [cond / "report" / "index.html"]
    for exp_dir in (cond, strat):
        html = (exp_dir / "report" / "index.html").read_text()
        lines = (exp_dir / "tables" / "table2.csv").read_text().splitlines()
        groups = "Visual conditions,Visual conditions," + ",".join(["Condition strategies"] * 4)
        assert lines[0] == f"dataset (FAD↓),{groups},{groups}"
        cols = ["w/o-D", "w/o-S", "D_cross", "D_extend*", "S_prepend", "S_cross*"]
        assert lines[1] == "," + ",".join(cols) + "," + ",".join(f"weights: {c}" for c in cols)
        values, kinds = lines[2].split(",")[1:7], lines[2].split(",")[7:]
        assert lines[2].startswith("toy,") and values == ["4.63", "4.59", "4.41", "4.11", "4.45", "4.11"]
        assert len(kinds) == 6 and all(k.startswith("metric=") for k in kinds)
        table = _table_html(html, "table2")
        assert "Table 2: visual conditions and condition strategies" in table
        assert table.count("<b>4.11</b>") == 2 and table.count("<u>4.41</u>") == 1 and "<b>" + "4.63" not in table
        assert "full* is the paper&#39;s model, as are D_extend* (strategies), S_cross* (strategies)" in html
        assert "this half only" not in html
        tex = (exp_dir / "tables" / "table2.tex").read_text()
        assert "\\multicolumn{2}{c}{Visual conditions} & \\multicolumn{4}{c}{Condition strategies}" in tex


def test_experiment_report_draws_per_clip_distributions_across_variants(tmp_path, scored_run):
    from reports.experiment_report import experiment_per_clip
    from reports.results import experiment_results

    strat = make_half(tmp_path, scored_run, "strategies",
                      {"d_cross": ("d_cross",), "d_extend": ("d_extend", "s_cross")}, {"d_cross": 4.4, "d_extend": 4.1})
    html = write_report(strat, gallery_clips=0).read_text()
    assert "figures/per_clip.png" in html and "Per-clip metric distributions across variants" in html
    assert (strat / "report" / "figures" / "per_clip.svg").exists()
    _, infos, doc = experiment_results(strat)
    pc = experiment_per_clip(doc, infos)
    # the run folder shared by D_extend* and S_cross* is one box; each run's clips are all there
    assert list(dict.fromkeys(pc["variant"])) == ["D_cross · reference", "D_cross · shuffled",
                                                  "D_extend* = S_cross* · reference", "D_extend* = S_cross* · shuffled"]
    n = len(infos["toy/d_cross"].per_clip)
    assert n > 0 and len(pc) == 2 * n and set(pc["dataset"]) == {"toy"}
