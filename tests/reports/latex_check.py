"""Checks of an exported LaTeX table (reports.tables.Table.to_latex) shared by the report and
experiment tests: structure (one booktabs tabular whose every row fills the column spec,
\\cmidrule ranges inside it, balanced braces and math), only macros that base LaTeX + booktabs
define, ASCII outside comments, and — given the Table — that exactly the best cells are
\\textbf and the second-best \\underline. `compile_problems` runs pdflatex when it is installed.

Loaded by path (pytest runs with --import-mode=importlib): see `load()` in the test modules."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

# What Table.to_latex may emit: booktabs rules, \multicolumn, marks, and _tex's escapes.
ALLOWED_MACROS = {"begin", "end", "toprule", "midrule", "bottomrule", "cmidrule", "multicolumn", "textbf", "underline",
                  "textit", "textbackslash", "textasciitilde", "downarrow", "uparrow", "rightarrow", "alpha", "cdot", "times", "leq",
                  "geq", "dagger", "approx", "epsilon", "Sigma"}
ESCAPED = "&%$#_{}^"


def _body(tex: str) -> str:
    return "\n".join(line for line in tex.splitlines() if not line.lstrip().startswith("%"))


def _split_cells(line: str) -> list[str]:
    """Cells of a table row (`a & b \\\\`), `\\&` kept inside its cell."""
    line = line.rstrip()
    assert line.endswith("\\\\"), line
    return [c.strip() for c in re.split(r"(?<!\\)&", line[:-2])]


def _unbrace(text: str, macro: str) -> str | None:
    m = re.fullmatch(rf"\\{macro}\{{(.*)\}}", text)
    return m.group(1) if m else None


def structure_problems(tex: str, table=None) -> list[str]:
    """Everything wrong with `tex` (empty when it is a valid table); see the module doc."""
    problems = []
    body = _body(tex)
    if body.count("\\begin{tabular}") != 1 or body.count("\\end{tabular}") != 1:
        return [f"expected one tabular, got {body.count(chr(92) + 'begin{tabular}')}"]
    spec_m = re.search(r"\\begin\{tabular\}\{([lrc|]+)\}", body)
    if not spec_m:
        return ["tabular without a column spec of l/r/c"]
    n = len(spec_m.group(1).replace("|", ""))
    unescaped = re.sub(r"\\[\\&%$#_{}^]", "", body)
    depth = 0
    for ch in unescaped:
        depth += (ch == "{") - (ch == "}")
        if depth < 0:
            problems.append("a closing brace without its opening one")
            break
    if depth > 0:
        problems.append(f"{depth} unclosed brace(s)")
    if unescaped.count("$") % 2:
        problems.append("unbalanced $ (math mode left open)")
    for macro in set(re.findall(r"\\([A-Za-z]+)", unescaped)) - ALLOWED_MACROS:
        problems.append(f"macro \\{macro} is not defined by base LaTeX + booktabs")
    bad = sorted({ch for ch in body if ord(ch) > 127})
    if bad:
        problems.append(f"non-ASCII characters outside comments: {bad} (escape them)")
    for rule in ("\\toprule", "\\midrule", "\\bottomrule"):
        if body.count(rule) != 1:
            problems.append(f"{rule} appears {body.count(rule)} times")
    for a, b in re.findall(r"\\cmidrule(?:\([lr]+\))?\{(\d+)-(\d+)\}", body):
        if not 2 <= int(a) <= int(b) <= n:
            problems.append(f"\\cmidrule{{{a}-{b}}} outside the data columns 2-{n}")
    rows = [line for line in body.splitlines() if line.rstrip().endswith("\\\\")]
    legend = body.split("\\bottomrule", 1)[1] if "\\bottomrule" in body else ""
    legend_rows = [line for line in legend.splitlines() if line.rstrip().endswith("\\\\")]
    for line in rows:
        cells = _split_cells(line)
        width = sum(int(m.group(1)) if (m := re.match(r"\\multicolumn\{(\d+)\}", c)) else 1 for c in cells)
        if width != n:
            problems.append(f"row fills {width} of the spec's {n} columns: {line}")
    if table is not None:
        problems += _mark_problems(rows[:len(rows) - len(legend_rows)], table)
        if len(legend_rows) != len(table.legend()):
            problems.append(f"{len(legend_rows)} legend rows under the table for {len(table.legend())} kinds of mark")
    return problems


def _mark_problems(rows: list[str], table) -> list[str]:
    """The data rows (after the header rows) against table.rows: labels in order, values as
    printed, \\textbf exactly on best cells and \\underline exactly on second-best ones, a
    dagger exactly on values with random weights."""
    from reports.tables import _tex, cell_text

    problems = []
    data = rows[-len(table.rows):] if table.rows else []
    if len(rows) - len(data) != (2 if any(g for g, _ in table.groups) else 1):
        problems.append(f"{len(rows) - len(data)} header rows for {len(table.rows)} data rows")
    for line, (label, kind, cells) in zip(data, table.rows):
        texts = _split_cells(line)
        if len(texts) != 1 + len(cells):
            problems.append(f"{label}: {len(texts) - 1} cells for {len(cells)} values")
            continue
        for text, cell in zip(texts[1:], cells):
            dagger = text.endswith("$^\\dagger$")
            if dagger != cell.random:
                problems.append(f"{label}: cell {text!r} {'has' if dagger else 'lacks'} the random-weights dagger")
            text = text.removesuffix("$^\\dagger$")
            bold, under = _unbrace(text, "textbf"), _unbrace(text, "underline")
            inner = bold if bold is not None else under if under is not None else text
            want = "--" if cell.empty else _tex(cell_text(cell))
            if inner != want:
                problems.append(f"{label}: cell {text!r}, expected the value {want!r}")
            if (bold is not None) != (cell.mark == "best") or (under is not None) != (cell.mark == "second"):
                problems.append(f"{label}: cell {text!r} is marked wrongly (mark {cell.mark!r})")
    return problems


def compile_problems(tex: str, folder: Path) -> list[str] | None:
    """pdflatex's complaint about a document holding `tex` (empty: it compiled), or None when
    pdflatex is not installed."""
    exe = shutil.which("pdflatex")
    if exe is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "table.tex").write_text(tex)
    (folder / "doc.tex").write_text("\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n"
                                    "\\input{table.tex}\n\\end{document}\n")
    proc = subprocess.run([exe, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape", "doc.tex"],
                          cwd=folder, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        return [line for line in proc.stdout.splitlines() if line.startswith("!")] or [proc.stdout[-2000:]]
    return []
