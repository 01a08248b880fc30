"""Offline HTML reports: `report/index.html` in a run or experiment folder.

Everything the page needs sits beside it or in the folder it reports on (figures in
`report/figures/`, muxed previews in `report/media/`, music referenced relatively), with inline
CSS/JS and no network access, so it opens from disk and the folder can be sent as a whole.
Reports render from stored results only (reports/results.py): they never rescore.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from reports import figures, tables
from reports.experiment_report import experiment_page, table_parts
from reports.media import case_study, failure_messages, gallery, run_clips
from reports.results import human_votes, run_results, write_results
from core.atomic import write_text_atomic
from reports.errors import ReportError
from reports.page import (TEMPLATES, Page, add_figure, failed_entries, random_components, render, summarise_run,
                          training_logs)

REPORT_DIR = "report"
def write_report(folder: str | Path, out: str | Path | None = None, paper: bool = False, gallery_clips: int = 6,
                 case_studies: int = 1, force: bool = True) -> Path:
    """Render the report of a run folder or an experiment folder (it has experiment.yaml).

    `force=False` keeps an existing report whose inputs (results, outputs, configs, the report
    code itself and these options) are unchanged: a resumed `bench run` that did nothing new
    stays as fast as before."""
    from core.runfiles import EXPERIMENT_FILE

    folder = Path(folder)
    if not folder.is_dir():
        raise ReportError(f"{folder}: no such run or experiment folder")
    report_dir = Path(out) if out else folder / REPORT_DIR
    related = []
    if (folder / EXPERIMENT_FILE).exists():  # experiments sharing its paper table (Table 2's two halves)

        try:
            related = [p for p, _ in table_parts(folder) if p != folder]
        except Exception:  # an older experiment.yaml: experiment_page names the problem
            related = []
    stamp = inputs_fingerprint(folder, [paper, gallery_clips, case_studies, str(report_dir.resolve())], related)
    stamp_path = report_dir / STAMP_NAME
    if not force and (report_dir / "index.html").exists() and stamp_path.exists() and stamp_path.read_text() == stamp:
        return report_dir / "index.html"
    if (folder / EXPERIMENT_FILE).exists():
        page = render(experiment_page, folder, report_dir, paper=paper, gallery_clips=gallery_clips)
    else:
        page = render(run_page, folder, report_dir, paper=paper, gallery_clips=gallery_clips,
                      case_studies=case_studies)

    write_text_atomic(stamp_path, stamp)
    return page


STAMP_NAME = ".inputs"
# What a report is rendered from; env.json is left out on purpose (every session appends to it).
INPUT_PATTERNS = ("config.yaml", "experiment.yaml", "state.json", "metrics/*", "case_studies/*.json",
                  "*/failures.jsonl", "*/*.wav", "*/train/summary.json", "*/train/log.csv",
                  "human_eval/*/results.parquet", "attention/*.npz", "*/attention/*.npz")


def inputs_fingerprint(folder: Path, options: list, related: Sequence[Path] = ()) -> str:
    """sha256 over the report's input files (those of `folder` and of the `related` experiment
    folders it also draws on), the report code and `options`."""
    import hashlib

    h = hashlib.sha256(json.dumps(options, default=str).encode())
    for top in [folder, *related]:
        roots = [top] + sorted(p.parent for p in top.glob("*/*/config.yaml"))  # an experiment's runs
        for root in roots:
            for pattern in INPUT_PATTERNS:
                for p in sorted(root.glob(pattern)):
                    st = p.stat()
                    name = str(p.relative_to(top.parent))
                    if p.suffix in (".wav", ".npz"):  # media: never rewritten in place, so size + mtime suffice
                        h.update(f"{name}:{st.st_size}:{st.st_mtime_ns};".encode())
                    else:  # results are rewritten with the same content on every resume: hash the bytes
                        h.update(f"{name}:".encode() + hashlib.sha256(p.read_bytes()).digest())
    for p in sorted([*Path(__file__).parent.glob("*.py"), *TEMPLATES.glob("*")]):
        h.update(p.read_bytes())
    return h.hexdigest()


def run_page(run_dir: Path, report_dir: Path, paper: bool = False, gallery_clips: int = 6,
             case_studies: int = 1) -> Page:
    import yaml

    frame, info = run_results(run_dir)
    page = Page(f"Run {info.config['run']['name']}", run_dir, summarise_run(info),
                yaml.safe_dump(info.config, sort_keys=False, allow_unicode=True))
    page.random_weights = random_components(frame, [info])
    page.failed = failed_entries(info)
    page.notes += info.notes
    write_results(frame, report_dir)
    page.downloads += [("results.csv", "results.csv"), ("results.parquet", "results.parquet")]
    if len(frame):
        t = tables.run_table(frame, failures=info.failures, paper=tables.load_paper() if paper else None)
        t.write(report_dir)
        page.tables.append(t.to_html())
        page.downloads += [("metrics.tex", "metrics.tex"), ("metrics.csv", "metrics.csv")]
    else:
        page.notes.append("no metric results in this run yet: score it with `bench evaluate --run "
                          f"{run_dir}`")
    if info.per_clip is not None and len(info.per_clip):
        add_figure(page, report_dir, figures.per_clip_distributions(info.per_clip), "per_clip",
                   "Per-clip metric distributions")
    logs = training_logs({s: run_dir / s for s in info.systems})
    if logs:
        add_figure(page, report_dir, figures.training_curves(logs), "training", "Training curves")
    votes = human_votes(run_dir)
    if votes is not None:
        add_figure(page, report_dir, figures.figure8_votes(votes), "figure8_votes", "Fig. 8: human votes")
    clips, note = run_clips(info.config)
    if note:
        page.notes.append(note)
    fails = {s: failure_messages(run_dir / s) for s in info.systems}
    items, notes = gallery(clips, [(s, run_dir / s) for s in info.systems], report_dir, gallery_clips, fails)
    for it in items:
        it.title = it.clip.id
    page.gallery, page.notes = items, page.notes + notes
    for clip in clips[:case_studies]:
        try:  # stored by `bench evaluate`; a case study is an illustration: never lose the report over it
            data = case_study(run_dir, clip.id)
        except Exception as exc:
            page.notes.append(f"case study of {clip.id} skipped: {exc}")
            continue
        add_figure(page, report_dir, figures.figure6_case(clip.id, data["times"], data["motion"], data["music"],
                                                          data["duration"]),
                   f"case_{clip.id}", f"Case study (Fig. 6 style): {clip.id} — video motion with onsets and beats")
    return page


def refresh_related_reports(exp_dir: Path, paper: bool = False) -> list[Path]:
    """Re-render (when their inputs changed) the existing reports of the other experiments that
    share `exp_dir`'s paper table — after `strategies` runs, `conditions`' merged Table 2."""
    return [write_report(other, paper=paper, force=False) for other, _ in table_parts(Path(exp_dir))
            if other != Path(exp_dir) and (other / REPORT_DIR / "index.html").exists()]
