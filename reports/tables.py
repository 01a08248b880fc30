"""Paper-style tables from the tidy results frame (reports/results.py): Table 1 (systems ×
dataset/metric) and the ablation layout of Tables 2–4 (datasets × variants), best **bold** and
second-best _underlined_ as in the paper, with CSV, LaTeX (booktabs) and HTML output.

Ranking: among our non-control rows, per column for Table 1 and per dataset row for the
ablations (the direction comes from each metric's `higher_is_better`). The controls
(`reference`, `shuffled`) and the paper's own numbers are shown but never ranked.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from core.atomic import write_text_atomic
from reports.results import control_systems

PAPER_FILE = Path(__file__).parent / "paper_numbers.yaml"
DATASET_NAMES = {"aist": "AIST++", "symmv": "SymMV", "bgm909": "BGM909", "toy": "toy"}
KEY_NAMES = {"fd": "FD", "fad": "FAD", "kl_softmax": "KL", "kl_sigmoid": "KL(sig)", "is": "IS", "ovl": "OVL",
             "rel": "REL", "ba_mean": "BeatAlign", "bcs": "BCS", "bhs": "BHS"}
TABLE1_KEYS = ("fd", "fad", "kl_softmax", "ovl", "rel")


KL_EPS = 1e-6  # audioldm_eval's epsilon inside the log of KL (metrics/kl.py)
KL_CLASSES = 527  # Cnn14's AudioSet classes: KL(p‖p) = −Σ_c p_c·log(1 + ε/p_c) ≈ −527·ε
ROUNDING_ABS = 1e-12  # |value| below this (and not 0) is floating-point noise around 0
NOISE_NOTES = {
    "rounding": "0.00* : stored as a tiny number (e.g. −3.5e-18) that is floating-point rounding around 0, shown as 0",
    "kl_eps": f"≈0 : KL of a set against itself is not exactly 0 here because audioldm_eval (whose numbers we "
              f"reproduce) adds ε = {KL_EPS:g} to the probabilities inside the log: KL(p‖p) = −Σ p·log(1 + ε/p) "
              f"≈ −{KL_CLASSES}·ε = {-KL_CLASSES * KL_EPS:.6f} over the {KL_CLASSES} AudioSet classes; read it as 0",
}
RANDOM_NOTE = "† random weights (the metric's embedder or the system): not comparable to published numbers"


@dataclass
class Cell:
    value: float = math.nan
    ci: tuple[float, float] | None = None
    mark: str = ""  # "best" | "second" | ""
    weights: str = ""  # the weights kind behind the value: "metric=<kind> system=<kind>", or "published"
    noise: str = ""  # "" | "rounding" | "kl_eps": the stored value is numerical noise around 0 (NOISE_NOTES)

    @property
    def empty(self) -> bool:
        return not math.isfinite(self.value)

    @property
    def random(self) -> bool:
        return "random" in self.weights



def arrow(direction) -> str:
    """A column's direction mark: ↑ higher is better, ↓ lower, →t closest to the target t (BCS: 1)."""
    if isinstance(direction, float) and not isinstance(direction, bool):
        return f"→{direction:g}"
    return "↑" if direction else "↓"

def weights_kind(metric_weights, system_weights) -> str:
    """`metric=<kind> system=<kind>` from a result row's `weights` and `system_weights`."""
    def kind(v) -> str:
        return "-" if v is None or (isinstance(v, float) and math.isnan(v)) or v == "" else str(v)

    return f"metric={kind(metric_weights)} system={kind(system_weights)}"


def noise_kind(key: str, value: float) -> str:
    """Why a value is numerical noise around 0 rather than a result, or ""."""
    if not math.isfinite(value) or value == 0:
        return ""
    if abs(value) < ROUNDING_ABS:
        return "rounding"
    if str(key).startswith("kl") and -1.2 * KL_CLASSES * KL_EPS <= value < 0:
        return "kl_eps"
    return ""


def cell_text(c: Cell) -> str:
    """A cell's printed number: noise around 0 as 0.00* (rounding) or ≈0 (KL's ε)."""
    if c.empty:
        return "–"
    if c.noise == "rounding":
        return "0.00*"
    if c.noise == "kl_eps":
        return "≈0"
    return _fmt(c.value)


@dataclass
class Table:
    """A laid-out table: row labels, two header levels (group, column) and cells."""

    name: str
    caption: str
    groups: list[tuple[str, int]]  # top header: (label, span)
    columns: list[str]  # second header, one per data column
    rows: list[tuple[str, str, list[Cell]]]  # (label, kind: ours|control|paper, cells)
    notes: list[str] = field(default_factory=list)
    row_header: str = ""

    def to_csv(self) -> str:
        import csv
        import io

        buf = io.StringIO()
        w = csv.writer(buf)
        heads = [g for g, span in self.groups for _ in range(span)]
        # the values as computed, then one column per value column with the weights kind behind
        # each value (metric embedder and system), so a pasted number never loses its caveat
        w.writerow([self.row_header, *heads, *heads])
        w.writerow(["", *self.columns, *[f"weights: {c}" for c in self.columns]])
        for label, _, cells in self.rows:
            w.writerow([label, *["" if c.empty else f"{c.value:.6g}" for c in cells],
                        *["" if c.empty else c.weights for c in cells]])
        return buf.getvalue()

    def to_latex(self) -> str:
        """A booktabs tabular; best \\textbf, second \\underline, blanks as --."""
        n = len(self.columns)
        lines = [f"% {self.caption}", "\\begin{tabular}{l" + "r" * n + "}", "\\toprule"]
        if any(g for g, _ in self.groups):
            lines.append(" & ".join([_tex(self.row_header)] + [f"\\multicolumn{{{span}}}{{c}}{{{_tex(g)}}}"
                                                               for g, span in self.groups]) + " \\\\")
            start = 2
            rules = []
            for g, span in self.groups:
                if g:  # a rule under every labelled group
                    rules.append(f"\\cmidrule(lr){{{start}-{start + span - 1}}}")
                start += span
            if rules:
                lines.append(" ".join(rules))
        lines.append(" & ".join([""] + [_tex(c) for c in self.columns]) + " \\\\")
        lines.append("\\midrule")
        for label, kind, cells in self.rows:
            texts = []
            for c in cells:
                t = "--" if c.empty else _tex(cell_text(c))
                t = f"\\textbf{{{t}}}" if c.mark == "best" else f"\\underline{{{t}}}" if c.mark == "second" else t
                texts.append(t + ("$^\\dagger$" if c.random else ""))
            name = _tex(label) if kind != "paper" else f"\\textit{{{_tex(label)}}}"
            lines.append(" & ".join([name, *texts]) + " \\\\")
        lines.append("\\bottomrule")
        for note in self.legend():  # under the rule, across the table: the marks' meaning
            lines.append(f"\\multicolumn{{{n + 1}}}{{l}}{{{_tex(note)}}} \\\\")
        lines.append("\\end{tabular}")
        return "\n".join(lines) + "\n"

    def legend(self) -> list[str]:
        """What the marks in this table's cells mean (random weights, numerical noise)."""
        cells = [c for _, _, row in self.rows for c in row if not c.empty]
        out = [RANDOM_NOTE] if any(c.random for c in cells) else []
        return out + [NOISE_NOTES[k] for k in NOISE_NOTES if any(c.noise == k for c in cells)]

    def to_html(self) -> str:
        """A sortable <table> (click a header): values in data-value, CIs in the cell title."""
        e = html.escape
        # the table scrolls inside its own box (first column sticky) instead of widening the page
        out = [f'<div class="table-scroll" id="scroll-{e(self.name)}">',
               f'<table class="results sortable" id="table-{e(self.name)}">', f"<caption>{e(self.caption)}</caption>",
               "<thead>"]
        if any(g for g, _ in self.groups):
            out.append("<tr><th></th>" + "".join(f'<th colspan="{span}" class="group">{e(g)}</th>'
                                                 for g, span in self.groups) + "</tr>")
        out.append(f'<tr><th class="sort">{e(self.row_header)}</th>'
                   + "".join(f'<th class="sort">{e(c)}</th>' for c in self.columns) + "</tr></thead><tbody>")
        for label, kind, cells in self.rows:
            tds = []
            for c in cells:
                if c.empty:
                    tds.append('<td class="blank" data-value="" title="no result (see notes)">–</td>')
                    continue
                text = e(cell_text(c))
                text = f"<b>{text}</b>" if c.mark == "best" else f"<u>{text}</u>" if c.mark == "second" else text
                has_ci = c.ci and all(map(math.isfinite, c.ci)) and not c.noise
                tip = [f"95% CI [{_fmt(c.ci[0])}, {_fmt(c.ci[1])}]"] if has_ci else []
                tip += [f"stored value {c.value!r}"] if c.noise else []
                tip += [f"weights: {c.weights}"] if c.weights else []
                title = f' title="{e("; ".join(tip))}"' if tip else ""
                ci = f'<span class="ci">[{_fmt(c.ci[0])}, {_fmt(c.ci[1])}]</span>' if has_ci else ""
                dagger = '<sup class="random" title="random weights">†</sup>' if c.random else ""
                classes = " ".join(x for x in (c.mark, "noise" if c.noise else "", "random" if c.random else "") if x)
                tds.append(f'<td class="{classes}" data-value="{c.value!r}"{title}>{text}{dagger}{ci}</td>')
            out.append(f'<tr class="{kind}"><th>{e(label)}</th>{"".join(tds)}</tr>')
        out.append("</tbody></table></div>")
        notes = self.legend() + list(self.notes)
        if notes:
            out.append('<ul class="notes">' + "".join(f"<li>{e(n)}</li>" for n in notes) + "</ul>")
        return "\n".join(out)

    def write(self, folder: str | Path) -> list[Path]:
        folder = Path(folder)
        return [write_text_atomic(folder / f"{self.name}.{ext}", text)
                for ext, text in (("csv", self.to_csv()), ("tex", self.to_latex()))]


def _fmt(v: float) -> str:
    if not math.isfinite(v):
        return "–"
    return f"{v:.2f}" if abs(v) >= 0.1 or v == 0 else f"{v:.3g}"


_TEX_ESCAPES = {"\\": "\\textbackslash{}", "&": "\\&", "%": "\\%", "$": "\\$", "#": "\\#", "_": "\\_",
                "{": "\\{", "}": "\\}", "~": "\\textasciitilde{}", "^": "\\^{}",
                "↓": "$\\downarrow$", "↑": "$\\uparrow$", "→": "$\\rightarrow$", "²": "$^2$", "α": "$\\alpha$", "–": "--",
                "—": "---", "·": "$\\cdot$", "×": "$\\times$", "≤": "$\\leq$", "≥": "$\\geq$",
                "≈": "$\\approx$", "†": "$^\\dagger$", "‖": "$\\|$", "ε": "$\\epsilon$", "−": "-", "Σ": "$\\Sigma$"}


def _tex(text: str) -> str:
    """Escape LaTeX specials in one pass (so inserted braces are never escaped again)."""
    return "".join(_TEX_ESCAPES.get(ch, ch) for ch in str(text))


def mark_best(cells: list[Cell], higher_is_better: bool | float) -> None:
    """Mark the best and second-best finite cells (ties share the mark); a float (not a bool) is a
    target: closest to it is best (BCS: 1)."""
    if isinstance(higher_is_better, float):
        target = higher_is_better
        values = sorted({c.value for c in cells if not c.empty}, key=lambda v: abs(v - target))
    else:
        values = sorted({c.value for c in cells if not c.empty}, reverse=higher_is_better)
    for c in cells:
        if not c.empty and values:
            c.mark = "best" if c.value == values[0] else "second" if len(values) > 1 and c.value == values[1] else ""


def load_paper() -> dict:
    import yaml

    return yaml.safe_load(PAPER_FILE.read_text())


def _directions(frame) -> dict[str, bool | float]:
    d: dict[str, bool | float] = {"ovl": True, "rel": True, "is": True}
    for key, g in frame.groupby("key"):
        target = g["target"].iloc[0] if "target" in g.columns else None
        d[key] = float(target) if target is not None and target == target else bool(g["higher_is_better"].iloc[0])
    return d


def _cell(frame, **where) -> Cell:
    sel = frame
    for k, v in where.items():
        sel = sel[sel[k] == v]
    sel = sel[sel["value"].notna()]
    if not len(sel):
        return Cell()
    r = sel.iloc[0]
    return Cell(float(r["value"]), (float(r["ci_low"]), float(r["ci_high"])),
                weights=weights_kind(r.get("weights"), r.get("system_weights")),
                noise=noise_kind(r.get("key", where.get("key", "")), float(r["value"])))


#: Fréchet/kernel keys whose value depends on the sample size, and the embedding dimension of
#: their default embedder (FD from fewer clips than dimensions is biased upwards)
SAMPLE_SIZE_KEYS = {"fd": 2048, "fad": 128, "fad_inf": 128, "fad_clip": 128, "kid": 2048}


def sample_size_notes(frame, keys) -> list[str]:
    """n (clips) and the clip duration behind every FD/FAD/KID column, and, where FD came from
    fewer clips than its embedding has dimensions, the pointer to FAD∞ / KID. The duration
    comes from the rows' `clip_seconds` (written by folder evaluations; omitted where absent)."""
    out, biased = [], False
    for k in keys:
        if k not in SAMPLE_SIZE_KEYS or k not in set(frame["key"]):
            continue
        rows = frame[(frame["key"] == k) & frame["value"].notna()]
        if not len(rows):
            continue
        ns = sorted({int(n) for n in rows["n_clips"].dropna()})
        n = f"n = {ns[0]}" if len(ns) == 1 else f"n = {ns[0]}–{ns[-1]}"
        secs = sorted({round(float(x), 2) for x in rows["clip_seconds"].dropna()}) if "clip_seconds" in rows else []
        dur = f", clips of {secs[0]:g} s" if len(secs) == 1 else f", clips of {secs[0]:g}–{secs[-1]:g} s" if secs else ""
        out.append(f"{KEY_NAMES.get(k, k)}: {n} clips{dur}")
        biased |= k == "fd" and ns[0] < SAMPLE_SIZE_KEYS["fd"]
    if biased:
        out.append("FD from fewer clips than the embedding's dimensions (2048 for Cnn14) is biased upwards and "
                   "grows as n shrinks: compare systems at equal n, or use FAD∞ (fad_inf) or KID (kid, unbiased)")
    return out


def provenance_notes(frame, keys) -> list[str]:
    """Per metric key, what produced it, from the rows' stored `config` (when the frame carries
    it): preset and peer tool with its version, embedder, and the weights file's sha256 (or
    random:<seed>)."""
    import json

    if "config" not in frame.columns:
        return []
    out = []
    for k in keys:
        rows = frame[(frame["key"] == k) & frame["config"].notna()]
        if not len(rows):
            continue
        try:
            cfg = json.loads(rows["config"].iloc[0])
        except (TypeError, ValueError):
            continue
        if not cfg.get("embedder"):
            continue
        sha = cfg.get("weights_sha256")
        weights = f"weights sha256 {sha[:16]}…" if sha else f"weights {cfg.get('weights', '?')}" + (
            f":{cfg['seed']}" if cfg.get("weights") == "random" and "seed" in cfg else "")
        suite = f"preset {cfg['preset']} (as {cfg.get('peer_tool') or '?'}), " if cfg.get("preset") else (
            f"as {cfg['peer']}, " if cfg.get("peer") else "")
        out.append(f"{KEY_NAMES.get(k, k)}: {suite}embedder {cfg['embedder']}, {weights}")
    return out


def table1(frame, keys=TABLE1_KEYS, paper: dict | None = None, failures: dict[str, int] | None = None,
           name: str = "table1", controls: Sequence[str] | None = None, left_out: Sequence[str] = ()) -> Table:
    """Systems (controls first) × (dataset, metric). `paper` (load_paper()) adds the paper's rows.
    Controls are shown but never ranked. When none of Table 1's metrics were computed (a run with
    cheaper metrics), the metrics that were head the columns instead, with a note; `left_out`
    (systems that did not run) is named in a note."""
    wanted = keys
    keys = [k for k in keys if k in set(frame["key"]) or (paper and k in paper["table1"]["columns"].values())]
    notes = []
    if not keys:
        keys = list(dict.fromkeys(frame["key"]))
        notes.append(f"none of Table 1's metrics ({', '.join(KEY_NAMES.get(k, k) for k in wanted)}) were computed; "
                     f"showing {', '.join(KEY_NAMES.get(k, k) for k in keys)}")
    if left_out:
        notes.append(f"not in this table (not ready here, see the report's notes): {', '.join(left_out)}")
    datasets = list(dict.fromkeys(frame["dataset"]))
    first = control_systems(frame["system"])
    systems = first + [s for s in dict.fromkeys(frame["system"]) if s not in first]
    controls = set(first if controls is None else controls)
    direction = _directions(frame)
    failures = failures or {}
    rows = []
    for s in systems:
        label = s + (f" ({failures[s]} failed)" if failures.get(s) else "")
        rows.append((label, "control" if s in controls else "ours",
                     [_cell(frame, system=s, dataset=d, key=k) for d in datasets for k in keys]))
    for j in range(len(datasets) * len(keys)):
        mark_best([r[2][j] for r in rows if r[1] == "ours"], direction.get(keys[j % len(keys)], False))
    if paper:
        p1 = paper["table1"]
        back = {v: k for k, v in p1["columns"].items()}
        for s, pname in paper["systems"].items():
            cells = [Cell(p1["values"].get(d, {}).get(s, {}).get(back.get(k, ""), math.nan), weights="published")
                     for d in datasets for k in keys]
            if any(not c.empty for c in cells):
                rows.append((f"{pname} (paper)", "paper", cells))
        notes.append(f"paper rows: {paper['source']['paper']} ({paper['source']['file']})")
    notes += sample_size_notes(frame, keys) + provenance_notes(frame, keys)
    groups = [(DATASET_NAMES.get(d, d), len(keys)) for d in datasets]
    columns = [KEY_NAMES.get(k, k) + arrow(direction.get(k, False)) for k in keys] * len(datasets)
    return Table(name, "Table 1: overall comparison (best bold, second underlined among our systems)",
                 groups, columns, rows, notes, row_header="system")


def ablation_table(frame, variants: list[dict], key: str = "fad", system: str = "dyvim", paper: dict | None = None,
                   paper_table: str | None = None, name: str = "ablation", caption: str = "") -> Table:
    """Datasets × variants of one system's `key` (Tables 2–4): `variants` are experiment.yaml
    entries ({name, label, default, group?}); the paper's choice is starred in its label.
    Best and second are marked per dataset row across every variant shown (the paper's model
    in a table twice, as Table 2's D_extend* and S_cross*, ties with itself: both marked)."""
    sel = frame[(frame["system"] == system) & (frame["key"] == key)]
    datasets = list(dict.fromkeys(frame["dataset"]))
    direction = _directions(frame).get(key, False)
    rows = []
    for d in datasets:
        cells = [_cell(sel, dataset=d, variant=v["name"]) for v in variants]
        mark_best(cells, direction)
        rows.append((DATASET_NAMES.get(d, d), "ours", cells))
    notes = []
    if paper and paper_table and paper_table in paper:
        pvals = paper[paper_table]["values"]
        for d in datasets:
            if d in pvals:
                rows.append((f"{DATASET_NAMES.get(d, d)} (paper)", "paper",
                             [Cell(pvals[d].get(v["name"], math.nan), weights="published") for v in variants]))
        notes.append(f"paper rows: {paper['source']['paper']} ({paper['source']['file']})")
    columns = [v["label"] for v in variants]
    label = KEY_NAMES.get(key, key) + arrow(direction)
    groups = variant_groups(variants)
    row_header = "dataset"
    if groups is None:  # no column groups: the metric heads the columns
        groups = [(label, len(columns))]
    else:  # the paper's column groups head them; the metric moves beside the row header
        row_header = f"dataset ({label})"
    return Table(name, caption or f"{label} per variant (best bold, second underlined per dataset)",
                 groups, columns, rows, notes, row_header=row_header)


def variant_groups(variants: list[dict]) -> list[tuple[str, int]] | None:
    """The top header of an ablation table from its variants' `group`s (consecutive variants of
    one group share a cell, e.g. Table 3's "Dynamic encoder" | "Semantic encoder"), or None
    when no variant has a group."""
    if not any(v.get("group") for v in variants):
        return None
    groups: list[tuple[str, int]] = []
    for v in variants:
        g = v.get("group") or ""
        if groups and groups[-1][0] == g:
            groups[-1] = (g, groups[-1][1] + 1)
        else:
            groups.append((g, 1))
    return groups


def variant_table(frame, variants: list[dict], name: str = "variants") -> Table:
    """Every metric key of every variant (rows: variant · system) per dataset: the overview
    beside an experiment's paper artefact. Controls are shown, not ranked."""
    f = frame.copy()
    many = f["system"].nunique() > 1
    order = {v["name"]: i for i, v in enumerate(variants)}
    f = f.assign(_o=f["variant"].map(order)).sort_values(["_o"], kind="stable")
    controls = f["system"].isin(control_systems(f["system"]))
    f["system"] = f["label"] + (" · " + f["system"] if many else "")
    t = table1(f.drop(columns="_o"), keys=list(dict.fromkeys(frame["key"])), name=name,
               controls=set(f.loc[controls, "system"]))
    t.caption = "All metrics per variant (best bold, second underlined among non-control rows)"
    t.row_header = "variant"
    return t


def run_table(frame, failures: dict[str, int] | None = None, name: str = "metrics", paper: dict | None = None) -> Table:
    """A single run's systems × every metric key (the plain `bench run` report); `paper` adds
    the paper's Table 1 rows where its dataset and metrics match."""
    keys = list(dict.fromkeys(frame["key"]))
    t = table1(frame, keys=keys, failures=failures, name=name, paper=paper)
    t.caption = "Metrics per system, 95% bootstrap CIs (best bold, second underlined; controls not ranked)"
    return t
