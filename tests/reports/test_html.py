"""The run report from stored results: banner, failed systems with their counts, blanks with
notes, tables, figures (PNG + SVG, Fig. 8 from a human-evaluation results.parquet), a gallery
whose media exist relative to the page, and nothing fetched from the network."""

import re
import shutil
from pathlib import Path

import pytest

from reports.errors import ReportError
from reports.html import write_report


@pytest.fixture(scope="module")
def report(scored_run):
    return write_report(scored_run, gallery_clips=3)


def media_sources(html: str) -> list[str]:
    return re.findall(r'<(?:video|audio)[^>]*\ssrc="([^"]+)"', html)


def test_report_sections(report):
    html = report.read_text()
    assert report == report.parent.parent / "report" / "index.html"
    assert 'id="random-weights-banner"' in html and "metric fd" in html  # random embedder weights
    failed = html[html.index('id="failed"'):html.index('id="summary"')]
    assert "flaky" in failed and "3 failed output(s)" in failed and "model exploded" in failed
    assert "flaky (3 failed)" in html  # the row is kept and labelled, not dropped
    assert "fad: no result for shuffled" in html and 'class="blank"' in html
    assert html.count('<table class="results sortable"') == 1


def test_report_files_are_written(report):
    d = report.parent
    for name in ("results.csv", "results.parquet", "metrics.tex", "metrics.csv", "figures/per_clip.png",
                 "figures/per_clip.svg"):
        assert (d / name).stat().st_size > 0, name
    assert list((d / "figures").glob("case_*.png"))  # a Fig. 6-style case study


def test_gallery_media_resolve_relative_to_the_page(report):
    html = report.read_text()
    srcs = media_sources(html)
    videos = re.findall(r'<video[^>]*\ssrc="([^"]+)"', html)
    assert len(videos) == 3 and len(srcs) >= 3 + 3 * 2
    for src in srcs:
        assert not src.startswith(("/", "http:", "https:", "file:")), src
        assert (report.parent / src).resolve().exists(), src
    assert "failed: RuntimeError: model exploded" in html  # flaky's failed clip shown in place


def test_nothing_points_to_the_network(report):
    html = report.read_text()
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<link" not in html and "@import" not in html


def test_figure8_from_human_eval_results(scored_run, tmp_path, human_eval_writer):
    run = tmp_path / "run"
    shutil.copytree(scored_run, run, ignore=shutil.ignore_patterns("report"))
    human_eval_writer(run)
    page = write_report(run, gallery_clips=0)
    html = page.read_text()
    assert "figures/figure8_votes.png" in html
    for ext in ("png", "svg"):
        assert (page.parent / "figures" / f"figure8_votes.{ext}").stat().st_size > 1000
    assert "OVL↑" in html  # ratings join the table


def test_missing_folder_and_older_layout(tmp_path, scored_run):
    with pytest.raises(ReportError, match="no such run"):
        write_report(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReportError, match="not a run folder"):
        write_report(tmp_path / "empty")


def test_bench_report_cli(scored_run, tmp_path, capsys):
    from bench.cli import main

    out = tmp_path / "elsewhere"
    assert main(["report", str(scored_run), "--out", str(out), "--gallery-clips", "1"]) == 0
    assert f"report: {out / 'index.html'}" in capsys.readouterr().out
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "error:" in capsys.readouterr().err


def test_unchanged_report_is_kept_and_a_changed_run_rerenders(scored_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(scored_run, run, ignore=shutil.ignore_patterns("report"))
    page = write_report(run, gallery_clips=1, force=False)
    before = page.stat().st_mtime_ns
    assert write_report(run, gallery_clips=1, force=False).stat().st_mtime_ns == before  # nothing new: kept
    import pandas as pd

    fd = pd.read_parquet(run / "metrics" / "fd.parquet")
    fd.loc[fd["system"] == "flaky", "value"] = 77.7
    fd.to_parquet(run / "metrics" / "fd.parquet", index=False)
    page = write_report(run, gallery_clips=1, force=False)
    assert page.stat().st_mtime_ns != before and "77.70" in page.read_text()
