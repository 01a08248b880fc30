"""Offline HTML reports: `report/index.html` in a run or experiment folder.

Everything the page needs sits beside it or in the folder it reports on (figures in
`report/figures/`, muxed previews in `report/media/`, music referenced relatively), with inline
CSS/JS and no network access, so it opens from disk and the folder can be sent as a whole.
Reports render from stored results only (reports/results.py): they never rescore.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from reports.errors import ReportError

REPORT_DIR = "report"
TEMPLATES = Path(__file__).parent / "templates"
SHOWN_PACKAGES = ("torch", "torchvision", "transformers", "numpy", "pandas", "librosa", "av")


@dataclass
class Page:
    title: str
    source: Path
    summary: list[tuple[str, str]] = field(default_factory=list)
    config_text: str = ""
    tables: list[str] = field(default_factory=list)
    figures: list[dict] = field(default_factory=list)
    gallery: list = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    random_weights: list[str] = field(default_factory=list)
    downloads: list[tuple[str, str]] = field(default_factory=list)


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
        from reports.experiment_report import table_parts

        try:
            related = [p for p, _ in table_parts(folder) if p != folder]
        except Exception:  # an older experiment.yaml: experiment_page names the problem
            related = []
    stamp = inputs_fingerprint(folder, [paper, gallery_clips, case_studies, str(report_dir.resolve())], related)
    stamp_path = report_dir / STAMP_NAME
    if not force and (report_dir / "index.html").exists() and stamp_path.exists() and stamp_path.read_text() == stamp:
        return report_dir / "index.html"
    if (folder / EXPERIMENT_FILE).exists():
        from reports.experiment_report import experiment_page

        page = render(experiment_page, folder, report_dir, paper=paper, gallery_clips=gallery_clips)
    else:
        page = render(run_page, folder, report_dir, paper=paper, gallery_clips=gallery_clips,
                      case_studies=case_studies)
    from core.atomic import write_text_atomic

    write_text_atomic(stamp_path, stamp)
    return page


STAMP_NAME = ".inputs"
# What a report is rendered from; env.json is left out on purpose (every session appends to it).
INPUT_PATTERNS = ("config.yaml", "experiment.yaml", "state.json", "metrics/*", "*/failures.jsonl", "*/*.wav",
                  "*/train/summary.json", "*/train/log.csv", "human_eval/*/results.parquet", "attention/*.npz",
                  "*/attention/*.npz")


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


def render(build, folder: Path, report_dir: Path, **kwargs) -> Path:
    (report_dir / "figures").mkdir(parents=True, exist_ok=True)
    page = build(folder, report_dir, **kwargs)
    return write_page(page, report_dir)


def write_page(page: Page, report_dir: Path) -> Path:
    import jinja2

    from core import __version__
    from core.atomic import write_text_atomic

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True)
    text = env.get_template("index.html.j2").render(
        **page.__dict__, version=__version__,
        generated=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    return write_text_atomic(report_dir / "index.html", text)


def add_figure(page: Page, report_dir: Path, fig, name: str, caption: str) -> None:
    from reports.figures import save

    png, svg = save(fig, report_dir / "figures", name)
    page.figures.append({"png": f"figures/{png.name}", "svg": f"figures/{svg.name}", "caption": caption})


def summarise_run(info) -> list[tuple[str, str]]:
    """Key facts of a run for the summary list: dataset, protocol, systems, environment."""
    run, env = info.config["run"], info.env
    packages = env.get("packages") or {}
    return [
        ("dataset", f"{info.dataset} (split {run['split']}, {run.get('limit') or 'all'} clips, seed {run['seed']}, "
                    f"{run.get('samples_per_clip', 1)} sample(s) per clip)"),
        ("systems", ", ".join(f"{s} ({(env.get('systems') or {}).get(s, {}).get('weights', '?')} weights, "
                              f"{info.outputs.get(s, 0)} outputs)" for s in info.systems)),
        ("device", str(env.get("device", "?"))),
        ("git commit", str(env.get("git_commit") or "?")),
        ("python", str(env.get("python", "?"))),
        ("packages", ", ".join(f"{k} {packages[k]}" for k in SHOWN_PACKAGES if packages.get(k))),
        ("sessions", str(len(env.get("sessions") or []))),
    ]


def random_components(frame, infos: Sequence) -> list[str]:
    """Everything with random weights: systems (env.json) and metric embedders (result rows)."""
    out = []
    for info in infos:
        out += [c for c in info.random_weights if c not in out]
    if len(frame):
        out += [f"metric {k}" for k in dict.fromkeys(frame.loc[frame["weights"] == "random", "key"])]
    return out


def failed_entries(info, label: str = "") -> list[dict]:
    from reports.media import failure_messages

    out = []
    for s, n in info.failures.items():
        msgs = failure_messages(info.dir / s)
        first = next(iter(msgs.values()), "")
        out.append({"name": f"{label}{s}", "count": n, "what": "failed output(s)",
                    "detail": f"{first[:200]} (see {info.dir / s / 'failures.jsonl'})"})
    return out


def run_page(run_dir: Path, report_dir: Path, paper: bool = False, gallery_clips: int = 6,
             case_studies: int = 1) -> Page:
    import yaml

    from reports import figures, tables
    from reports.media import case_study, failure_messages, gallery, run_clips
    from reports.results import human_votes, run_results, write_results

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
        wavs = [(s, run_dir / s / f"{clip.id}.wav") for s in info.systems if (run_dir / s / f"{clip.id}.wav").exists()]
        wavs = [("original", clip.audio_path)] + [w for w in wavs if w[0] != "reference"]
        try:
            data = case_study(clip, wavs, info.config.get("paths", {}).get("cache_dir"))
        except Exception as exc:  # a case study is an illustration: never lose the report over it
            page.notes.append(f"case study of {clip.id} skipped: {exc}")
            continue
        add_figure(page, report_dir, figures.figure6_case(clip.id, data["times"], data["motion"], data["music"],
                                                          data["duration"]),
                   f"case_{clip.id}", f"Case study (Fig. 6 style): {clip.id} — video motion with onsets and beats")
    return page


def training_logs(system_dirs: dict[str, Path]) -> dict:
    """label → train/log.csv frame for every system folder that has one."""
    import pandas as pd

    out = {}
    for label, d in system_dirs.items():
        path = Path(d) / "train" / "log.csv"
        if path.exists():
            log = pd.read_csv(path)
            if {"step", "split", "loss"} <= set(log.columns):
                out[label] = log
    return out


def train_summary(system_dir: Path) -> dict:
    path = Path(system_dir) / "train" / "summary.json"
    return json.loads(path.read_text()) if path.exists() else {}
