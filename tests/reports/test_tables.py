"""Paper-table layouts on a small hand-made results frame: best bold and second underlined in
the right cells (per column for Table 1, per dataset row for the ablations, direction from the
metric), controls and paper rows never ranked, blanks for missing results; Table 2 as one table
with the paper's column groups; every table kind's LaTeX checked (tests/reports/latex_check.py)
and compiled where pdflatex is installed."""

import math
import re
import shutil

import pandas as pd
import pytest

from reports.results import RESULT_COLUMNS
from reports.tables import ablation_table, load_paper, run_table, table1, variant_table


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
    assert re.search(r'class="best[^"]*"[^>]*><b>4\.10</b>', html) and re.search(r'class="second[^"]*"[^>]*><u>6\.00</u>', html)
    assert 'class="blank"' in html


def test_table1_with_the_papers_rows(overall):
    t = table1(overall, keys=("fad",), paper=load_paper())
    rows = cells_by_row(t)
    assert rows["DyViM (ours) (paper)"][0].value == pytest.approx(4.11)  # AIST++ FAD
    assert rows["VidMuse (paper)"][1].value == pytest.approx(4.78)  # SymMV FAD
    assert all(c.mark == "" for label, kind, cells in t.rows if kind == "paper" for c in cells)
    assert any("Liu" in n for n in t.notes)


def _load_latex_check():
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("_reports_latex_check", Path(__file__).parent / "latex_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


latex_check = _load_latex_check()


def check_latex(tex: str, n_columns: int, table=None) -> None:
    """Structurally valid (tests/reports/latex_check.py) with `n_columns` data columns; given
    the Table, bold exactly on its best cells and underline exactly on its second-best."""
    assert latex_check.structure_problems(tex, table) == []
    spec = re.search(r"\\begin\{tabular\}\{([lrc]+)\}", tex).group(1)
    assert len(spec) == n_columns + 1


def test_latex_is_structurally_valid_and_marks_cells(overall):
    t = table1(overall, keys=("fad", "ovl"), paper=load_paper())
    tex = t.to_latex()
    check_latex(tex, len(t.columns), t)
    dy = next(line for line in tex.splitlines() if line.startswith("dyvim"))
    assert dy.split("&")[1].strip() == "\\textbf{4.10}$^\\dagger$"  # random-weight embedder: marked
    vm = next(line for line in tex.splitlines() if line.startswith("vidmuse"))
    assert vm.split("&")[1].strip() == "\\underline{6.00}$^\\dagger$"
    assert "\\multicolumn{5}{l}{$^\\dagger$ random weights" in tex
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
    check_latex(t.to_latex(), 3, t)
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


TABLE2_VARIANTS = [
    {"name": "no_dynamics", "label": "w/o-D", "group": "Visual conditions"},
    {"name": "no_semantics", "label": "w/o-S", "group": "Visual conditions"},
    {"name": "d_cross", "label": "D_cross", "group": "Condition strategies"},
    {"name": "d_extend", "label": "D_extend*", "group": "Condition strategies", "default": True},
    {"name": "s_prepend", "label": "S_prepend", "group": "Condition strategies"},
    {"name": "s_cross", "label": "S_cross*", "group": "Condition strategies", "default": True},
]


@pytest.fixture
def table2_frame():
    """The paper's Table 2 layout with our numbers: D_extend* and S_cross* are one run (equal)."""
    vals = {"aist": [4.63, 4.59, 4.41, 4.11, 4.45, 4.11], "symmv": [4.02, 3.67, 3.57, 3.24, 4.16, 3.24],
            "bgm909": [4.39, 4.29, 4.26, 3.40, 4.49, 3.40]}
    rows = [dict(dataset=d, variant=v["name"], label=v["label"], key="fad", value=x,
                 experiment="conditions" if v["group"] == "Visual conditions" else "strategies")
            for d, xs in vals.items() for v, x in zip(TABLE2_VARIANTS, xs)]
    rows.append(dict(dataset="bgm909", variant="no_semantics", key="fad", value=math.nan))  # a blank cell
    f = frame(rows)
    return f[~((f["dataset"] == "bgm909") & (f["variant"] == "no_semantics") & f["value"].notna())]


def test_table2_is_one_table_with_the_papers_column_groups(table2_frame):
    """Table 2 as in the paper: datasets as rows, "Visual conditions" (w/o-D, w/o-S) beside
    "Condition strategies" (D_cross, D_extend*, S_prepend, S_cross*); best bold and second
    underlined per dataset across all six columns, the paper's model (twice) tied with itself."""
    t = ablation_table(table2_frame, TABLE2_VARIANTS, key="fad", paper=load_paper(), paper_table="table2",
                       name="table2")
    assert t.groups == [("Visual conditions", 2), ("Condition strategies", 4)]
    assert t.columns == ["w/o-D", "w/o-S", "D_cross", "D_extend*", "S_prepend", "S_cross*"]
    assert t.row_header == "dataset (FAD↓)"
    rows = cells_by_row(t)
    assert [c.mark for c in rows["AIST++"]] == ["", "", "second", "best", "", "best"]
    assert [c.mark for c in rows["SymMV"]] == ["", "", "second", "best", "", "best"]
    assert [c.mark for c in rows["BGM909"]] == ["", "", "second", "best", "", "best"]
    assert rows["BGM909"][1].empty  # no result: blank, never ranked
    assert [c.value for c in rows["SymMV (paper)"]] == [4.02, 3.67, 3.57, 3.24, 4.16, 3.24]
    tex = t.to_latex()
    check_latex(tex, 6, t)
    assert "\\multicolumn{2}{c}{Visual conditions} & \\multicolumn{4}{c}{Condition strategies}" in tex
    assert "\\cmidrule(lr){2-3} \\cmidrule(lr){4-7}" in tex
    aist = next(line for line in tex.splitlines() if line.startswith("AIST++ &"))
    assert [c.strip() for c in aist.rstrip("\\ ").split("&")][1:] == [
        "4.63$^\\dagger$", "4.59$^\\dagger$", "\\underline{4.41}$^\\dagger$", "\\textbf{4.11}$^\\dagger$",
        "4.45$^\\dagger$", "\\textbf{4.11}$^\\dagger$"]
    html = t.to_html()
    assert '<th colspan="2" class="group">Visual conditions</th><th colspan="4" class="group">Condition strategies' in html
    head = t.to_csv().splitlines()
    groups = "Visual conditions,Visual conditions," + ",".join(["Condition strategies"] * 4)
    assert head[0] == f"dataset (FAD↓),{groups},{groups}"
    cols = ["w/o-D", "w/o-S", "D_cross", "D_extend*", "S_prepend", "S_cross*"]
    assert head[1] == "," + ",".join(cols) + "," + ",".join(f"weights: {c}" for c in cols)


@pytest.fixture
def every_table(overall, ablation, table2_frame):
    """Table 1, the ablations (with and without column groups), the variant overview (labels
    with LaTeX specials and Unicode) and a run's table."""
    f, variants = ablation
    ov = frame([dict(system="reference", variant="a", label="α=0 · x_1", key="ba_mean", value=0.9,
                     higher_is_better=True),
                dict(system="dyvim", variant="a", label="α=0 · x_1", key="ba_mean", value=0.5, higher_is_better=True),
                dict(system="dyvim", variant="b", label="B&C 50%", key="ba_mean", value=0.4, higher_is_better=True)])
    return [table1(overall, keys=("fad", "ovl"), paper=load_paper()),
            ablation_table(f, variants, key="fad", name="table4"),
            ablation_table(table2_frame, TABLE2_VARIANTS, key="fad", paper=load_paper(), paper_table="table2",
                           name="table2"),
            variant_table(ov, [{"name": "a", "label": "α=0 · x_1"}, {"name": "b", "label": "B&C 50%"}]),
            run_table(overall, failures={"cmt": 2})]


def test_every_table_kind_exports_valid_latex(every_table):
    """Each row fills the column spec, only base LaTeX + booktabs macros, ASCII, and bold /
    underline exactly on the best / second-best cells."""
    for t in every_table:
        tex = t.to_latex()
        assert latex_check.structure_problems(tex, t) == [], t.name
        assert any(c.mark == "best" for _, _, cells in t.rows for c in cells) and "\\textbf{" in tex


def test_exported_latex_compiles(tmp_path, every_table):
    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex is not installed here (the structure is checked by the test above)")
    for t in every_table:
        assert latex_check.compile_problems(t.to_latex(), tmp_path / t.name) == [], t.name


def test_latex_check_catches_broken_tables(overall):
    """The checker itself: a dropped cell, a wrong mark, an undefined macro, raw Unicode."""
    t = table1(overall, keys=("fad",))
    tex = t.to_latex()
    assert latex_check.structure_problems(tex, t) == []
    dy = next(line for line in tex.splitlines() if line.startswith("dyvim"))
    assert latex_check.structure_problems(tex.replace(dy, "dyvim \\\\"), t)  # too few cells
    assert latex_check.structure_problems(tex.replace("\\textbf{4.10}", "4.10"), t)  # best not bold
    assert latex_check.structure_problems(tex.replace("\\textbf{4.10}$^\\dagger$", "\\textbf{4.10}"), t)  # dagger lost
    assert latex_check.structure_problems(tex.replace("\\textbf{4.10}", "\\bfseries 4.10"), t)  # no such macro here
    assert latex_check.structure_problems(tex.replace("FAD", "FAD↓↓"))  # raw Unicode


def test_every_exported_value_carries_its_weights_kind():
    """CSV: a weights column per value column; LaTeX and HTML: a dagger on random-weight values
    and the legend; the paper's rows are `published`."""
    import csv
    import io

    f = frame([dict(system="reference", key="fad", value=0.0, weights="pretrained", system_weights="none"),
               dict(system="dyvim", key="fad", value=4.1, weights="pretrained", system_weights="random"),
               dict(system="vidmuse", key="fad", value=6.0, weights="pretrained", system_weights="pretrained"),
               dict(system="dyvim", key="ovl", metric="human", value=70.0, weights="n/a", system_weights="random",
                    higher_is_better=True)])
    t = table1(f, keys=("fad", "ovl"), paper=load_paper())
    rows = list(csv.reader(io.StringIO(t.to_csv())))
    assert rows[1] == ["", "FAD↓", "OVL↑", "weights: FAD↓", "weights: OVL↑"]
    by_label = {r[0]: r for r in rows[2:]}
    assert by_label["dyvim"] == ["dyvim", "4.1", "70", "metric=pretrained system=random", "metric=n/a system=random"]
    assert by_label["vidmuse"][3] == "metric=pretrained system=pretrained" and by_label["vidmuse"][4] == ""
    assert any(r[0].endswith("(paper)") and "published" in r[3:] for r in rows[2:])
    tex = t.to_latex()
    check_latex(tex, 2, t)
    dy = next(line for line in tex.splitlines() if line.startswith("dyvim"))
    vm = next(line for line in tex.splitlines() if line.startswith("vidmuse"))
    assert dy.count("$^\\dagger$") == 2 and "dagger" not in vm
    html = t.to_html()
    assert html.count('<sup class="random"') == 2 and "† random weights" in html


def test_numerical_noise_around_zero_is_shown_as_such():
    """FAD −3.47e-18 prints as 0.00*, KL −0.000511 of the reference against itself as ≈0, each
    with the reason (audioldm_eval's ε inside the log); real values are untouched."""
    from reports.tables import cell_text, noise_kind

    assert noise_kind("fad", -3.47e-18) == "rounding" and noise_kind("kl_softmax", -0.000511) == "kl_eps"
    assert noise_kind("kl_softmax", -0.01) == "" and noise_kind("fad", 1e-3) == "" and noise_kind("fad", 0.0) == ""
    f = frame([dict(system="reference", key="fad", value=-3.47e-18), dict(system="dyvim", key="fad", value=4.1),
               dict(system="reference", key="kl_softmax", value=-0.000511, higher_is_better=False),
               dict(system="dyvim", key="kl_softmax", value=0.9, higher_is_better=False)])
    t = table1(f, keys=("fad", "kl_softmax"))
    ref = cells_by_row(t)["reference"]
    assert [cell_text(c) for c in ref] == ["0.00*", "≈0"]
    html = t.to_html()
    assert "-0.000511" not in html.split("</table>")[0].replace('data-value="-0.000511"', "").replace(
        "stored value -0.000511", "")
    assert "ε = 1e-06" in html and "−527·ε" in html and "floating-point rounding" in html
    tex = t.to_latex()
    check_latex(tex, 2, t)
    assert "$\\approx$0" in tex and "0.00*" in tex and "e-18" not in tex.split("\\bottomrule")[0]


def test_fd_and_fad_columns_state_n_duration_and_the_small_sample_bias():
    import pandas as pd

    from reports.tables import table1

    frame = pd.DataFrame([dict(dataset="folders", system="generated", key=k, value=v, ci_low=v, ci_high=v, n_clips=n,
                               higher_is_better=False, weights="pretrained", system_weights=None, target=float("nan"),
                               clip_seconds=10.0) for k, v, n in (("fd", 30.0, 23), ("fad", 2.0, 23), ("kid", 0.1, 23))])
    notes = table1(frame, keys=["fd", "fad", "kid"]).notes
    assert "FD: n = 23 clips, clips of 10 s" in notes and "FAD: n = 23 clips, clips of 10 s" in notes
    assert any("biased" in n and "fad_inf" in n and "kid" in n for n in notes)
    frame["n_clips"] = 3000
    assert not any("biased" in n for n in table1(frame.drop(columns="clip_seconds"), keys=["fd"]).notes)


def test_tables_name_preset_peer_embedder_and_weights_digest_when_rows_carry_their_config():
    import json

    import pandas as pd

    from reports.tables import table1

    cfg = {"embedder": "encodec_24k", "weights": "pretrained", "weights_sha256": "d7cc33bc" + "0" * 56,
           "preset": "fadtk-encodec", "peer_tool": "fadtk 1.1.0"}
    frame = pd.DataFrame([dict(dataset="folders", system="generated", key="fad", value=1.0, ci_low=1.0, ci_high=1.0,
                               n_clips=23, higher_is_better=False, weights="pretrained", system_weights=None,
                               target=float("nan"), config=json.dumps(cfg))])
    notes = table1(frame, keys=["fad"]).notes
    assert "FAD: preset fadtk-encodec (as fadtk 1.1.0), embedder encodec_24k, weights sha256 d7cc33bc00000000…" in notes
    assert not any("preset" in n for n in table1(frame.drop(columns="config"), keys=["fad"]).notes)
