"""The tidy results frame read from a run folder: failed systems counted, a missing metric
left blank with a note, human ratings joined, and older layouts refused with a clear message."""

import pandas as pd
import pytest
import yaml

from reports.errors import ReportError
from reports.results import RESULT_COLUMNS, run_results


def test_results_frame_is_tidy_and_counts_failures(scored_run):
    frame, info = run_results(scored_run)
    assert list(frame.columns) == RESULT_COLUMNS
    assert set(frame["key"]) == {"fd", "fad", "ba_mean"}
    assert set(frame.loc[frame["system"] == "reference", "system_weights"]) == {"none"}  # from env.json
    assert info.failures == {"flaky": 3}  # 3 of the 4 test clips fail in the test system
    assert info.outputs["reference"] == 4 and info.outputs["flaky"] == 1
    assert any("fad: no result for shuffled" in n for n in info.notes)
    assert any("is: not computed" in n for n in info.notes)
    assert len(info.per_clip) == 8  # per-clip rows kept apart for the distributions figure


def test_human_ratings_join_as_ovl_rel(scored_run, tmp_path, human_eval_writer):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(scored_run, run)
    human_eval_writer(run)
    frame, _ = run_results(run)
    ovl = frame[(frame["key"] == "ovl")].set_index("system")["value"]
    assert ovl["reference"] == 70.0 and ovl["shuffled"] == 61.0
    assert (frame.loc[frame["metric"] == "human", "higher_is_better"]).all()


def test_older_run_folder_is_refused_with_what_to_do(scored_run, tmp_path):
    import shutil

    run = tmp_path / "old"
    shutil.copytree(scored_run, run)
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    del cfg["run"]["split"]
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    with pytest.raises(ReportError, match=r"older version.*run\.split.*re-run"):
        run_results(run)


def test_older_metrics_layout_is_refused_naming_the_file(scored_run, tmp_path):
    import shutil

    run = tmp_path / "old_metrics"
    shutil.copytree(scored_run, run)
    df = pd.read_parquet(run / "metrics" / "fd.parquet").drop(columns=["weights", "higher_is_better"])
    df.to_parquet(run / "metrics" / "fd.parquet", index=False)
    with pytest.raises(ReportError, match=r"fd\.parquet.*older version.*higher_is_better.*bench evaluate"):
        run_results(run)


def test_not_a_run_folder(tmp_path):
    with pytest.raises(ReportError, match="not a run folder"):
        run_results(tmp_path)
