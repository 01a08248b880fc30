"""Paper-table layouts on a small hand-made results frame: best bold and second underlined in
the right cells (per column for Table 1, per dataset row for the ablations, direction from the
metric), controls and paper rows never ranked, blanks for missing results, valid LaTeX."""

import math
import re

import pandas as pd
import pytest

from reports.results import RESULT_COLUMNS
from reports.tables import ablation_table, load_paper, table1, variant_table


def frame(rows):
    out = []
    for r in rows:
        d = dict(experiment="e", dataset="aist", variant="all", label="all", system="dyvim", metric=r.get("key"),
                 key="fad", value=math.nan, ci_low=math.nan, ci_high=math.nan, n_clips=10, weights="random",
                 higher_is_better=False, run="runs/x")
        d.update(r)
        if not math.isnan(d["value"]):
            d["ci_low"], d["ci_high"] = d["value"] - 0.1, d["value"] + 0.1
        out.append(d)
    return pd.DataFrame(out, columns=RESULT_COLUMNS)


@pytest.fixture
def overall():
    rows = []
    fad = {"reference": 0.0, "shuffled": 1.0, "vidmuse": 6.0, "dyvim": 4.1, "cmt": 15.6}
    ovl = {"reference": 90.0, "shuffled": 40.0, "vidmuse": 58.0, "dyvim": 74.0, "cmt": 62.0}
    for s in fad:
        rows.append(dict(system=s, key="fad", value=fad[s]))
        rows.append(dict(system=s, key="ovl", metric="human", value=ovl[s], higher_is_better=True))
    rows.append(dict(system="dyvim", key="fad", dataset="symmv", value=3.2))
    rows.append(dict(system="vidmuse", key="fad", dataset="symmv", value=4.8))
    return frame(rows)


def cells_by_row(t):
    return {label: cells for label, _, cells in t.rows}


def test_table1_marks_best_and_second_per_column_ignoring_controls(overall):
    t = table1(overall, keys=("fad", "ovl"))
    assert [g for g, _ in t.groups] == ["AIST++", "SymMV"]
    assert t.columns == ["FAD↓", "OVL↑", "FAD↓", "OVL↑"]
    rows = cells_by_row(t)
    assert list(rows)[:2] == ["reference", "shuffled"]  # controls first
    # FAD (lower better): dyvim best, vidmuse second; the reference's 0.0 is not ranked
    assert rows["dyvim"][0].mark == "best" and rows["vidmuse"][0].mark == "second"
    assert rows["cmt"][0].mark == "" and rows["reference"][0].mark == ""
    # OVL (higher better): dyvim best, cmt second although the reference is higher
    assert rows["dyvim"][1].mark == "best" and rows["cmt"][1].mark == "second" and rows["reference"][1].mark == ""
    # cmt has no SymMV result: a blank, not a zero, and not ranked
    assert rows["cmt"][2].empty and rows["cmt"][2].mark == ""
    html = t.to_html()
    assert re.search(r'class="best"[^>]*><b>4\.10</b>', html) and re.search(r'class="second"[^>]*><u>6\.00</u>', html)
    assert 'class="blank"' in html


def test_table1_with_the_papers_rows(overall):
    t = table1(overall, keys=("fad",), paper=load_paper())
    rows = cells_by_row(t)
    assert rows["DyViM (ours) (paper)"][0].value == pytest.approx(4.11)  # AIST++ FAD
    assert rows["VidMuse (paper)"][1].value == pytest.approx(4.78)  # SymMV FAD
    assert all(c.mark == "" for label, kind, cells in t.rows if kind == "paper" for c in cells)
    assert any("Liu" in n for n in t.notes)


def check_latex(tex: str, n_columns: int) -> None:
    """Structural validity: one tabular, balanced braces, every row has the spec's cell count."""
    body = "\n".join(line for line in tex.splitlines() if not line.startswith("%"))
    assert body.count("\\begin{tabular}") == 1 and body.count("\\end{tabular}") == 1
    spec = re.search(r"\\begin\{tabular\}\{([lrc]+)\}", body).group(1)
    assert len(spec) == n_columns + 1
    depth = 0
    for ch in re.sub(r"\\[{}&%_$#]", "", body):
        depth += ch == "{"
        depth -= ch == "}"
        assert depth >= 0
    assert depth == 0
    rows = [line for line in body.splitlines() if line.endswith("\\\\")]
    for line in rows:
        cells = re.sub(r"\\&", "", line).split("&")
        spans = sum(int(m) for m in re.findall(r"\\multicolumn\{(\d+)\}", line))
        assert len(cells) - len(re.findall(r"\\multicolumn", line)) + spans == len(spec), line
    for rule in ("\\toprule", "\\midrule", "\\bottomrule"):
        assert body.count(rule) == 1


def test_latex_is_structurally_valid_and_marks_cells(overall):
    t = table1(overall, keys=("fad", "ovl"), paper=load_paper())
    tex = t.to_latex()
    check_latex(tex, len(t.columns))
    dy = next(line for line in tex.splitlines() if line.startswith("dyvim"))
    assert dy.split("&")[1].strip() == "\\textbf{4.10}"
    vm = next(line for line in tex.splitlines() if line.startswith("vidmuse"))
    assert vm.split("&")[1].strip() == "\\underline{6.00}"
    assert "\\textit{M$^2$UGen (paper)}" in tex and "²" not in tex


def test_latex_escapes_specials():
    f = frame([dict(system="my_sys&co", key="fad", value=1.0), dict(system="b", key="fad", value=2.0)])
    tex = table1(f, keys=("fad",)).to_latex()
    assert "my\\_sys\\&co" in tex
    check_latex(tex, 1)


@pytest.fixture
def ablation():
    variants = [{"name": "constant", "label": "a_constant"}, {"name": "step", "label": "a_step"},
                {"name": "cosine", "label": "a_cosine*", "default": True}]
    vals = {"aist": {"constant": 4.9, "step": 4.2, "cosine": 4.1}, "symmv": {"constant": 3.3, "step": 3.4}}
    rows = [dict(dataset=d, variant=v, label=v, key="fad", value=x) for d, vs in vals.items() for v, x in vs.items()]
    return frame(rows), variants


def test_ablation_marks_per_dataset_row(ablation):
    f, variants = ablation
    t = ablation_table(f, variants, key="fad", paper=load_paper(), paper_table="table4", name="table4")
    rows = cells_by_row(t)
    assert t.columns == ["a_constant", "a_step", "a_cosine*"]
    assert [c.mark for c in rows["AIST++"]] == ["", "second", "best"]
    assert [c.mark for c in rows["SymMV"]] == ["best", "second", ""] and rows["SymMV"][2].empty
    assert [c.value for c in rows["AIST++ (paper)"]] == [4.87, 4.18, 4.11]
    check_latex(t.to_latex(), 3)
    assert t.to_csv().splitlines()[0].startswith("dataset,FAD↓")


def test_variant_overview_does_not_rank_controls():
    rows = [dict(system="reference", variant="a", label="A", key="ba_mean", value=0.9, higher_is_better=True),
            dict(system="dyvim", variant="a", label="A", key="ba_mean", value=0.5, higher_is_better=True),
            dict(system="dyvim", variant="b", label="B", key="ba_mean", value=0.4, higher_is_better=True)]
    t = variant_table(frame(rows), [{"name": "a", "label": "A"}, {"name": "b", "label": "B"}])
    rows = {label: (kind, cells) for label, kind, cells in t.rows}
    assert rows["A · reference"][0] == "control" and rows["A · reference"][1][0].mark == ""
    assert rows["A · dyvim"][1][0].mark == "best" and rows["B · dyvim"][1][0].mark == "second"


def test_written_files(tmp_path, overall):
    paths = table1(overall, keys=("fad",)).write(tmp_path)
    assert sorted(p.name for p in paths) == ["table1.csv", "table1.tex"]
    assert "dyvim" in (tmp_path / "table1.csv").read_text()
