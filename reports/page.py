"""The building blocks of a report page: the `Page` every report fills, writing it (the Jinja
template, offline), figures, and the run facts every page shows. `reports.html` (runs) and
`reports.experiment_report` / `reports.science` (experiments) build pages from these."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from reports.figures import save
from reports.media import failure_messages
from core import __version__
from core.atomic import write_text_atomic

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


def render(build, folder: Path, report_dir: Path, **kwargs) -> Path:
    (report_dir / "figures").mkdir(parents=True, exist_ok=True)
    page = build(folder, report_dir, **kwargs)
    return write_page(page, report_dir)


def write_page(page: Page, report_dir: Path) -> Path:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True)
    text = env.get_template("index.html.j2").render(
        **page.__dict__, version=__version__,
        generated=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    return write_text_atomic(report_dir / "index.html", text)


def add_figure(page: Page, report_dir: Path, fig, name: str, caption: str) -> None:
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
    out = []
    for s, n in info.failures.items():
        msgs = failure_messages(info.dir / s)
        first = next(iter(msgs.values()), "")
        out.append({"name": f"{label}{s}", "count": n, "what": "failed output(s)",
                    "detail": f"{first[:200]} (see {info.dir / s / 'failures.jsonl'})"})
    return out


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
