"""The science check's results vocabulary (folder and file names, conditions and their labels, the
reader of results.json) and its report page (artefact `science`): drawn from `<dataset>/science/results.json`
only (nothing is recomputed): the table of held-out NLL per condition with its gain over the full
model, the floors and the codes' onset probe, and the peri-onset gain figure."""

from __future__ import annotations

import html
import json
from pathlib import Path

from reports.figures import _plt
from reports.page import add_figure, Page

SCIENCE_DIR = "science"
RESULTS_FILE = "results.json"
PER_CLIP_FILE = "per_clip.csv"
DYNAMICS_CONTROLS = ("dyn_time_shuffled", "dyn_other_clip", "dyn_time_mean")
SEMANTICS_CONTROLS = ("sem_other_clip", "sem_mean")
CONTROLS = DYNAMICS_CONTROLS + SEMANTICS_CONTROLS
LABELS = {"full": "full (own dynamics + semantics)", "dyn_time_shuffled": "dynamics shuffled in time",
          "dyn_other_clip": "another clip's dynamics", "dyn_time_mean": "dynamics averaged over time",
          "sem_other_clip": "another clip's keyframes (CLIP)", "sem_mean": "mean CLIP state (dataset)"}
PERI = 12  # frames either side of an onset in the peri-onset gain curve


def read_results(out_dir: Path) -> dict | None:
    path = Path(out_dir) / RESULTS_FILE
    return json.loads(path.read_text()) if path.exists() else None


def science_table(dataset: str, res: dict) -> str:
    rows = []
    for cond in ("full", *CONTROLS):
        n = res["nll"][cond]
        g = res["gains"].get(cond)
        gain = "—" if g is None else f"{g['mean']:+.4f} [{g['lo']:+.4f}, {g['hi']:+.4f}]"
        ratio = "—" if g is None else f"{g['ratio']:.2f} [{g['ratio_lo']:.2f}, {g['ratio_hi']:.2f}]"
        seeds = " / ".join(f"{x:.4f}" for x in n["per_seed"])
        rows.append(f"<tr><td>{html.escape(LABELS[cond])}</td><td>{n['mean']:.4f} [{n['lo']:.4f}, {n['hi']:.4f}]"
                    f"</td><td>{seeds}</td><td>{gain}</td><td>{ratio}</td></tr>")
    f, p = res["floors"], res["probe"]
    caption = (f"{html.escape(dataset)}: held-out token NLL (nats per code; 95 % bootstrap CI over "
               f"{res['n_test']} held-out clips, seeds averaged per clip; {res['n_train']} training clips). "
               f"Gain = NLL(control) − NLL(full), same trained parameters; onset ratio = gain within "
               f"±{res['config']['onset_window']} frames of a note onset / gain over all positions (> 1: "
               f"the gain is concentrated at onsets). Floors: uniform "
               f"{f['uniform']:.3f}, code frequency (fitted on train) {f['code_frequency']:.3f}. Codes' onset "
               f"probe: AUC {p['auc']:.3f}; codebook change rate at onsets "
               f"{', '.join(f'{x:.2f}' for x in p['change_near'])} vs elsewhere "
               f"{', '.join(f'{x:.2f}' for x in p['change_elsewhere'])}.")
    return ("<table class='results'><caption>" + caption + "</caption><thead><tr><th>condition</th>"
            "<th>NLL [95% CI]</th><th>per seed</th><th>gain over full [95% CI]</th><th>onset ratio [95% CI]</th>"
            "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


GENERATION_LABELS = {"full": "DyViM, the clip's own dynamics", "dyn_time_shuffled": "DyViM, dynamics shuffled in time",
                     "no_dynamics": "no dynamics path (semantics only, same training)",
                     "reference": "reference music (ceiling)"}


def generation_table(dataset: str, gen: dict) -> str:
    """The generation half: code-change F against the video's moves and the decoded audio's synchrony."""
    rows = []
    for cond, vals in gen["conditions"].items():
        cells = "".join(f"<td>{vals[m]['mean']:.3f} [{vals[m]['lo']:.3f}, {vals[m]['hi']:.3f}]</td>"
                        for m in ("change_f", "sync_strength"))
        rows.append(f"<tr><td>{html.escape(GENERATION_LABELS.get(cond, cond))}</td>{cells}</tr>")
    for control, g in gen["gains"].items():
        cells = "".join(f"<td>{g[m]['mean']:+.3f} [{g[m]['lo']:+.3f}, {g[m]['hi']:+.3f}]</td>"
                        for m in ("change_f", "sync_strength"))
        rows.append(f"<tr><td>full − {html.escape(GENERATION_LABELS.get(control, control))}</td>{cells}</tr>")
    caption = (f"{html.escape(dataset)}: generated music ({gen['seconds']:.0f} s per held-out clip, seeds averaged "
               "per clip, 95 % bootstrap CI over clips). change F: the generated codes' changes against the video's "
               "moves (±1 music frame); sync strength: model-free synchrony of the decoded audio with the video's "
               "motion (metrics/sync.py). Random weights: the decoded audio is the offline codec's.")
    return ("<table class='results'><caption>" + caption + "</caption><thead><tr><th>music</th><th>change F</th>"
            "<th>sync strength</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def peri_onset_figure(results: dict[str, dict]):
    """Gain of the clip's own dynamics over each dynamics control against the offset from a note onset."""
    plt, _ = _plt()
    fig, axes = plt.subplots(1, len(results), figsize=(6 * len(results), 3.6), squeeze=False)
    for ax, (dataset, res) in zip(axes[0], results.items()):
        offsets = list(range(-PERI, PERI + 1))
        for cond in DYNAMICS_CONTROLS:  # the semantic controls' larger, flat offsets would hide these
            curve = res["peri_onset"][cond]
            ax.plot(offsets, curve, marker="o" if cond == "dyn_time_shuffled" else None, ms=3, label=LABELS[cond])
        ax.axvline(0, color="grey", lw=0.8)
        ax.axhline(0, color="grey", lw=0.8)
        ax.set_xlabel("music frames from a note onset (20 ms)")
        ax.set_ylabel("NLL(control) − NLL(full), nats/code")
        ax.set_title(dataset)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def science_page(exp_dir: Path, report_dir: Path, doc: dict):
    import yaml

    exp = doc["experiment"]
    page = Page(exp.get("title") or exp["name"], exp_dir,
                config_text=yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    page.summary = [("experiment", exp["name"]), ("artefact", "science"),
                    ("datasets", ", ".join(doc.get("datasets", []))),
                    ("extra overrides", " ".join(doc.get("overrides") or []) or "none")]
    page.random_weights = ["dyvim (tiny, random decoder, SpectralCodec, random RAFT and CLIP)"]
    results = {}
    for dataset in doc.get("datasets", []):
        res = read_results(exp_dir / dataset / SCIENCE_DIR)
        if res is None:
            page.notes.append(f"{dataset}: no science results yet ({exp_dir / dataset / SCIENCE_DIR})")
            continue
        results[dataset] = res
        page.tables.append(science_table(dataset, res))
        if res.get("generation"):
            page.tables.append(generation_table(dataset, res["generation"]))
        g = res["gains"]["dyn_time_shuffled"]
        page.notes.append(f"{dataset}: gain_vs_timeshuffle={g['mean']:.4f} [{g['lo']:.4f}, {g['hi']:.4f}] "
                          f"onset_gain_ratio={g['ratio']:.2f} [{g['ratio_lo']:.2f}, {g['ratio_hi']:.2f}]")
        page.downloads.append((f"{dataset}/per_clip.csv", str(Path("..") / dataset / SCIENCE_DIR / "per_clip.csv")))
    page.notes.append("What `conditions` (Table 2) controls for: no_dynamics removes the dynamics path and its "
                      "parameters, so full − no_dynamics mixes information with capacity; the controls here keep "
                      "every trained parameter and destroy only timing (time-shuffled), clip identity (another "
                      "clip's) or all change (time mean).")
    if results:
        add_figure(page, report_dir, peri_onset_figure(results), "science_peri_onset",
                   "Gain of the clip's own dynamics over each control, by offset from a note onset")
    return page
