"""The report of an experiment folder: its paper artefact (table or figure) across variants,
the results frame in `tables/`, failed variants, and a gallery of every variant's music."""

from __future__ import annotations

import json
from pathlib import Path

from reports import figures, tables
from reports.media import failure_messages, gallery, relative, run_clips
from reports.science import science_page
from core.runfiles import read_experiment_file
from reports.errors import ReportError
from reports.results import control_systems, experiment_results, human_votes, write_results
from reports.page import Page, add_figure, failed_entries, random_components, summarise_run, train_summary, training_logs

ABLATION_TABLES = {"table2", "table3", "table4"}


def experiment_page(exp_dir: Path, report_dir: Path, paper: bool = False, gallery_clips: int = 6) -> Page:
    import yaml

    try:
        doc = read_experiment_file(exp_dir)
    except Exception as exc:  # an older experiment.yaml: name the problem as a report error
        raise ReportError(str(exc)) from exc
    if doc["experiment"].get("artefact") == "science":  # trains and scores, no music

        return science_page(exp_dir, report_dir, doc)
    frame, infos, doc = experiment_results(exp_dir)
    exp = doc["experiment"]
    page = Page(exp.get("title") or exp["name"], exp_dir, config_text=yaml.safe_dump(doc, sort_keys=False,
                                                                                       allow_unicode=True))
    page.summary = [("experiment", exp["name"]), ("artefact", exp["artefact"]),
                    ("datasets", ", ".join(doc.get("datasets", []))),
                    ("variants", ", ".join(v["label"] for v in exp["variants"])),
                    ("runs", f"{len(infos)} of {len(doc['runs'])} started"),
                    ("extra overrides", " ".join(doc.get("overrides") or []) or "none")]
    if exp.get("note"):  # what the experiment controls for (its YAML's `note`)
        page.notes.append(exp["note"])
    skipped = skipped_systems(doc)
    if skipped and not any(skipped.values()):  # written before the reasons were recorded
        page.notes.append(f"not installed here, left out: {', '.join(skipped)}")
    elif skipped:
        page.notes += [f"{s} left out (not ready here): {why or 'no reason recorded'}" for s, why in skipped.items()]
    if infos:
        first = next(iter(infos.values()))
        page.summary += [kv for kv in summarise_run(first) if kv[0] in ("device", "git commit", "python", "packages")]
    page.random_weights = random_components(frame, list(infos.values()))
    state_path = exp_dir / "state.json"
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    for name, st in state.items():
        if st.get("status") == "failed":
            page.failed.append({"name": name, "count": 1, "what": "variant run failed", "detail": st.get("error", "")})
    for key, info in infos.items():
        page.failed += failed_entries(info, label=f"{key}: ")
        page.notes += [f"{key}: {n}" for n in info.notes]
    tables_dir = exp_dir / "tables"
    write_results(frame, tables_dir)
    page.downloads += [(p, f"{_rel(tables_dir, report_dir)}/{p}") for p in ("results.csv", "results.parquet")]
    paper_numbers = tables.load_paper() if paper else None
    variants = [v for v in exp["variants"] if any(v["name"] in r["variants"] for r in doc["runs"])]
    failures = {s: n for info in infos.values() for s, n in info.failures.items()}
    built = []
    if len(frame):
        if exp["artefact"] == "table1":
            built.append(tables.table1(frame, paper=paper_numbers, failures=failures, left_out=list(skipped)))
        key = _main_key(frame, exp)
        if exp["artefact"] != "table1":
            t_frame, t_variants, caption = frame, variants, exp.get("title", exp["name"])
            parts = table_parts(exp_dir, doc)
            if len(parts) > 1:  # e.g. Table 2: conditions + strategies, one table as in the paper
                t_frame, t_variants, merge_notes = merged_table_input(parts)
                caption = tables.load_paper().get(exp["paper_table"], {}).get("caption") \
                    or " + ".join(d["experiment"].get("title", d["experiment"]["name"]) for _, d in parts)
                page.notes += merge_notes
            elif exp.get("paper_table") == "table2":
                page.notes.append("Table 2 shows this half only: run the other half (`bench experiment run "
                                  f"{'strategies' if exp['name'] == 'conditions' else 'conditions'}`, same "
                                  "datasets and overrides) and re-render to see one table as in the paper")
            present = list(dict.fromkeys(t_frame["system"]))
            controls = set(control_systems(present))
            systems = [s for s in present if s not in controls] or present  # controls alone: a sweep of them
            for s in systems:
                built.append(tables.ablation_table(
                    t_frame, t_variants, key=key, system=s, paper=paper_numbers if s == "dyvim" else None,
                    paper_table=exp.get("paper_table"), name=exp["artefact"] if s == systems[0] else f"{exp['artefact']}_{s}",
                    caption=f"{caption} — {s} (best bold, second underlined per dataset)"))
        built.append(tables.variant_table(frame, variants))
    for t in built:
        t.write(tables_dir)
        page.tables.append(t.to_html())
        page.downloads += [(f"{t.name}.tex", f"{_rel(tables_dir, report_dir)}/{t.name}.tex")]
    _figures(page, frame, exp, doc, exp_dir, report_dir, figures)
    per_clip = experiment_per_clip(doc, infos)
    if per_clip is not None:
        hue = "dataset" if per_clip["dataset"].nunique() > 1 else None
        add_figure(page, report_dir, figures.per_clip_distributions(per_clip, x="variant", hue=hue), "per_clip",
                   "Per-clip metric distributions across variants" + (" (colour: dataset)" if hue else ""))
    _gallery(page, doc, exp_dir, report_dir, gallery_clips)
    return page


def skipped_systems(doc: dict) -> dict[str, str]:
    """Optional systems the experiment left out → why (blank when the folder predates reasons)."""
    reasons = doc.get("skipped_reasons") or {}
    return {s: str(reasons.get(s) or "") for s in doc.get("skipped_systems") or []}


# Experiments that fill one paper table together, in the paper's column order (Table 2:
# visual conditions on the left, condition strategies on the right).
PART_ORDER = {"conditions": 0, "strategies": 1}


def table_parts(exp_dir: Path, doc: dict | None = None) -> list[tuple[Path, dict]]:
    """(folder, experiment.yaml doc) of every experiment that fills the same paper table as
    `exp_dir` (same `paper_table`, e.g. `conditions` and `strategies` for Table 2), from the
    folders beside it under the runs root: one folder per experiment name (`exp_dir` itself,
    else the folder named after the experiment, else the most recently written), in
    PART_ORDER. Just `exp_dir` when it has no paper table or nothing else shares it."""
    from core.runfiles import EXPERIMENT_FILE, read_experiment_file

    exp_dir = Path(exp_dir)
    doc = doc or read_experiment_file(exp_dir)
    table = doc["experiment"].get("paper_table")
    if not table:
        return [(exp_dir, doc)]
    by_name: dict[str, tuple[Path, dict]] = {doc["experiment"]["name"]: (exp_dir, doc)}
    for path in sorted(exp_dir.parent.glob(f"*/{EXPERIMENT_FILE}"), key=lambda p: p.stat().st_mtime):
        folder = path.parent
        if folder == exp_dir:
            continue
        try:
            other = read_experiment_file(folder)
        except Exception:  # an older or broken folder: not part of this table
            continue
        name = other["experiment"]["name"]
        if other["experiment"].get("paper_table") != table or name == doc["experiment"]["name"]:
            continue
        if name in by_name and by_name[name][0].name == name:
            continue  # the folder named after the experiment wins over a renamed copy
        by_name[name] = (folder, other)
    return sorted(by_name.values(), key=lambda fd: (PART_ORDER.get(fd[1]["experiment"]["name"], len(PART_ORDER)),
                                                    fd[1]["experiment"]["name"]))


def merged_table_input(parts: list[tuple[Path, dict]]):
    """(results frame, variants, notes) of several experiments filling one paper table: the
    variants in part order (their `group`s head the columns; a part without groups is headed by
    its experiment's name). The paper's model (the `default` variants) is shown once, in the last
    part that has results for it — Table 2's D_extend* and S_cross*, as in the paper — and a
    variant name two parts share is prefixed with its experiment's name."""
    import pandas as pd

    loaded = []
    for folder, doc in parts:
        frame, _, _ = experiment_results(folder)
        exp = doc["experiment"]
        variants = [{**v, "group": v.get("group") or exp.get("title") or exp["name"]} for v in exp["variants"]
                    if any(v["name"] in r["variants"] for r in doc["runs"])]
        loaded.append((exp["name"], frame, variants))
    has = [{v["name"] for v in vs if v.get("default") and v["name"] in set(f["variant"])} for _, f, vs in loaded]
    seen: set[str] = set()
    frames, variants, notes = [], [], []
    for i, (name, frame, vs) in enumerate(loaded):
        later = [(loaded[j][0], v["label"]) for j in range(i + 1, len(loaded)) for v in loaded[j][2]
                 if v["name"] in has[j]]
        shown = [v for v in vs if not (v.get("default") and later)]
        dropped = [v["label"] for v in vs if v not in shown]
        if dropped:
            notes.append(f"{name}: {', '.join(dropped)} is the paper's model, as are "
                         f"{', '.join(f'{lab} ({e})' for e, lab in later)}: shown there once")
        rename = {v["name"]: f"{name}:{v['name']}" for v in shown if v["name"] in seen}
        seen |= {v["name"] for v in shown}
        variants += [{**v, "name": rename.get(v["name"], v["name"])} for v in shown]
        frames.append(frame[frame["variant"].isin([v["name"] for v in shown])]
                      .assign(variant=lambda f: f["variant"].replace(rename)))
    frames = [f for f in frames if len(f)]
    frame = pd.concat(frames, ignore_index=True) if frames else loaded[0][1].iloc[0:0]
    return frame, variants, notes


def _rel(path: Path, start: Path) -> str:
    return relative(path, start)


def _main_key(frame, exp) -> str:
    """The metric the artefact is drawn on: FAD (Tables 2–4, Figs 3–4), else the first one."""
    keys = list(dict.fromkeys(frame["key"]))
    return "fad" if "fad" in keys else keys[0]


def _figures(page: Page, frame, exp: dict, doc: dict, exp_dir: Path, report_dir: Path, figures) -> None:
    art = exp["artefact"]
    key = _main_key(frame, exp) if len(frame) else "fad"
    runs = doc["runs"]
    if art == "figure3":
        times = {}
        for r in runs:
            for s in r["systems"]:
                t = train_summary(exp_dir / r["dataset"] / r["folder"] / s).get("train_time_s")
                if t is not None:
                    times.update({(r["dataset"], v): float(t) for v in r["variants"]})
        if not times:
            page.notes.append("no train/summary.json found: the training-time line is empty")
        add_figure(page, report_dir, figures.figure3_tuning(frame, exp["variants"], times, key), "figure3_tuning",
                   "Fig. 3: score per tuning strategy (bars) and training time (line)")
    if art == "figure4":
        alphas = {}
        for v in exp["variants"]:
            for o in v["overrides"]:
                k, _, val = o.partition("=")
                if k.endswith(".alpha"):
                    alphas[v["name"]] = float(val)
        add_figure(page, report_dir, figures.figure4_alpha(frame, alphas, key), "figure4_alpha",
                   "Fig. 4: score against α with 95% bootstrap CI")
    if art == "figure5":
        panels = _attention_panels(runs, exp_dir)
        if panels:
            add_figure(page, report_dir, figures.figure5_attention(panels), "figure5_attention",
                       "Fig. 5: dynamics self-attention each position receives (10 frames)")
        else:
            page.notes.append("no stored attention maps (<run>/attention/*.npz) yet")

    votes = [v.assign(study=f"{r['dataset']}/{r['folder']}: " + v["study"].astype(str)) for r in runs
             if (v := human_votes(exp_dir / r["dataset"] / r["folder"])) is not None]
    if votes:
        import pandas as pd

        add_figure(page, report_dir, figures.figure8_votes(pd.concat(votes, ignore_index=True)), "figure8_votes",
                   "Fig. 8: human votes")
    logs = {}
    for r in runs:
        for s in r["systems"]:
            found = training_logs({f"{r['dataset']}/{r['folder']}": exp_dir / r["dataset"] / r["folder"] / s})
            logs.update(found)
    if logs:
        add_figure(page, report_dir, figures.training_curves(logs), "training", "Training curves per variant")


def experiment_per_clip(doc: dict, infos: dict):
    """Every run's stored per-clip metric rows with `variant` (the labels of the variants the
    run folder stands for, plus the system when a run has several) and `dataset` (display
    name), in the experiment's run order; None when no run has per-clip rows."""
    import pandas as pd

    from reports.tables import DATASET_NAMES

    labels = {v["name"]: v["label"] for v in doc["experiment"]["variants"]}
    frames = []
    for r in doc["runs"]:
        info = infos.get(f"{r['dataset']}/{r['folder']}")
        if info is None or info.per_clip is None or not len(info.per_clip):
            continue
        label = " = ".join(labels.get(v, v) for v in r["variants"])
        pc = info.per_clip
        many = pc["system"].nunique() > 1
        frames.append(pc.assign(variant=(label + " · " + pc["system"]) if many else label,
                                dataset=DATASET_NAMES.get(r["dataset"], r["dataset"])))
    return pd.concat(frames, ignore_index=True) if frames else None


def _attention_panels(runs: list[dict], exp_dir: Path) -> list:
    import numpy as np

    from reports.tables import DATASET_NAMES

    panels = []
    for r in runs:
        for path in sorted((exp_dir / r["dataset"] / r["folder"] / "attention").glob("*.npz"))[:1]:
            with np.load(path) as z:
                panels.append((f"{DATASET_NAMES.get(r['dataset'], r['dataset'])} — {r['folder']}: {path.stem}",
                               z["frames"], z["received"]))
    return panels


def _gallery(page: Page, doc: dict, exp_dir: Path, report_dir: Path, limit: int) -> None:
    """Per dataset, the clips of its first run with every variant's music side by side."""
    import yaml

    by_dataset: dict[str, list[dict]] = {}
    for r in doc["runs"]:
        if (exp_dir / r["dataset"] / r["folder"] / "config.yaml").exists():
            by_dataset.setdefault(r["dataset"], []).append(r)
    for dataset, runs in by_dataset.items():
        config = yaml.safe_load((exp_dir / dataset / runs[0]["folder"] / "config.yaml").read_text())
        clips, note = run_clips(config)
        if note:
            page.notes.append(f"{dataset}: {note}")
            continue
        sources, fails = [], {}
        for r in runs:
            for s in r["systems"]:
                label = r["folder"] if len(r["systems"]) == 1 else f"{r['folder']}/{s}"
                sources.append((label, exp_dir / dataset / r["folder"] / s))
                fails[label] = failure_messages(exp_dir / dataset / r["folder"] / s)
        items, notes = gallery(clips, sources, report_dir, limit, fails)
        for it in items:
            it.title = f"{dataset}: {it.clip.id}"
        page.gallery += items
        page.notes += notes
