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
