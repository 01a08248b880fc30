"""The tidy results frame a report renders: read from stored files only, never recomputed.

One row per (dataset, variant, system, metric key): `value`, `ci_low`, `ci_high`, `n_clips`,
`weights` (the metric embedder's: pretrained / random), `system_weights` (the system's, from
env.json), `higher_is_better`, plus `experiment`, `label` (the variant's
display name) and `run` (its folder). Sources: `metrics/<metric>.parquet` set rows
(metrics/evaluate.py) and human-evaluation ratings `human_eval/<study>/results.parquet`
(kind "rating": OVL/REL as mean×10 with CIs).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from systems.base import is_control
from core.atomic import atomic_path
from core.runfiles import read_experiment_file
from reports.errors import ReportError

RESULT_COLUMNS = ["experiment", "dataset", "variant", "label", "system", "metric", "key", "value", "ci_low",
                  "ci_high", "n_clips", "weights", "system_weights", "higher_is_better", "target", "run",
                  "config", "clip_seconds"]  # config: the metric's (preset, embedder, weights sha256)
# Columns every metrics parquet of this harness has; an older layout lacks some of them.
METRIC_COLUMNS = {"metric", "key", "system", "clip", "value", "ci_low", "ci_high", "n_clips", "higher_is_better",
                  "weights"}
HUMAN_COLUMNS = {"study", "kind", "question", "system", "value", "ci_low", "ci_high", "n"}


def control_systems(systems) -> list[str]:
    """The controls among `systems`, in the order given: decided by each system's class (`kind =
    "control"`), never by name, so a plug-in control is shown unranked like `reference` and `shuffled`."""
    return [s for s in dict.fromkeys(systems) if is_control(s)]


@dataclass
class RunInfo:
    """What a report shows about one run folder besides its scores."""

    dir: Path
    config: dict
    env: dict
    systems: list[str]
    failures: dict[str, int] = field(default_factory=dict)  # system → failed outputs recorded
    outputs: dict[str, int] = field(default_factory=dict)  # system → wavs present
    notes: list[str] = field(default_factory=list)
    per_clip: "object | None" = None  # per-clip metric rows (DataFrame) for distributions

    @property
    def dataset(self) -> str:
        return self.config["dataset"]["name"]

    @property
    def random_weights(self) -> list[str]:
        """Components that ran with random weights (systems in env.json, metric embedders)."""
        out = [f"system {s}" for s, d in (self.env.get("systems") or {}).items()
               if isinstance(d, dict) and d.get("weights") == "random"]
        return out


def read_run(run_dir: str | Path) -> RunInfo:
    """config.yaml, env.json, failures and output counts of a run folder, checked for layout."""
    import yaml

    run_dir = Path(run_dir)
    cfg_path = run_dir / "config.yaml"
    if not run_dir.is_dir():
        raise ReportError(f"{run_dir}: no such run folder")
    if not cfg_path.exists():
        raise ReportError(f"{run_dir}: not a run folder (no config.yaml); run `bench run` first")
    try:
        config = yaml.safe_load(cfg_path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ReportError(f"{cfg_path}: unreadable ({exc})") from exc
    missing = [k for k in ("dataset", "run", "system") if k not in config]
    missing += [f"run.{k}" for k in ("name", "split", "seed") if k not in config.get("run", {})]
    if missing:
        raise ReportError(f"{cfg_path}: written by an older version of the harness (lacks {', '.join(missing)}); "
                          "re-run the same `bench run` command with this version to rewrite the run folder")
    env_path = run_dir / "env.json"
    env = json.loads(env_path.read_text()) if env_path.exists() else {}
    systems = list(config.get("system") or {})
    info = RunInfo(run_dir, config, env, systems)
    for s in systems:
        info.outputs[s] = len([p for p in (run_dir / s).glob("*.wav")])
        fpath = run_dir / s / "failures.jsonl"
        if fpath.exists():
            clips = {json.loads(line).get("clip") for line in fpath.read_text().splitlines() if line.strip()}
            # a clip that failed once and was generated on a retry no longer counts as failed
            still = {c for c in clips if not (run_dir / s / f"{c}.wav").exists()}
            if still:
                info.failures[s] = len(still)
    notes_path = run_dir / "metrics" / "notes.json"
    if notes_path.exists():
        info.notes += json.loads(notes_path.read_text()).get("notes", [])
    return info


def run_results(run_dir: str | Path, experiment: str = "", variant: str = "", label: str = ""):
    """(tidy results frame, RunInfo) of one run folder; per-clip rows go to `info.per_clip`."""
    import pandas as pd

    info = read_run(run_dir)
    run_dir = info.dir
    frames, per_clip = [], []
    for path in sorted((run_dir / "metrics").glob("*.parquet")):
        if path.stem == "comparisons":
            continue
        df = pd.read_parquet(path)
        lacking = METRIC_COLUMNS - set(df.columns)
        if lacking:
            raise ReportError(f"{path}: written by an older version of the harness (lacks columns "
                              f"{sorted(lacking)}); re-score it with `bench evaluate --run {run_dir}`")
        per_clip.append(df[df["clip"].notna()])
        frames.append(df[df["clip"].isna()])
    frames += [_human_rows(p) for p in sorted(run_dir.glob("human_eval/*/results.parquet"))]
    base = dict(experiment=experiment, dataset=info.dataset, variant=variant or run_dir.name,
                label=label or variant or run_dir.name, run=str(run_dir))
    if frames:
        df = pd.concat([f for f in frames if len(f)] or [frames[0]], ignore_index=True)
        for k, v in base.items():
            df[k] = v
        kinds = {s: d.get("weights") for s, d in (info.env.get("systems") or {}).items() if isinstance(d, dict)}
        df["system_weights"] = df["system"].map(kinds)
        for col in ("target", "config", "clip_seconds"):  # older runs (and human rows) lack them
            if col not in df.columns:
                df[col] = float("nan")
        df = df[RESULT_COLUMNS]
    else:
        df = pd.DataFrame(columns=RESULT_COLUMNS)
    info.per_clip = pd.concat(per_clip, ignore_index=True) if per_clip else None
    info.notes += _missing_notes(df, info)
    return df, info


def _human_rows(path: Path):
    """OVL/REL ratings of a human-evaluation study as result rows (metric `human`)."""
    import pandas as pd

    df = pd.read_parquet(path)
    lacking = HUMAN_COLUMNS - set(df.columns)
    if lacking:
        raise ReportError(f"{path}: human-evaluation results lack columns {sorted(lacking)}; "
                          "re-aggregate the study with `bench human-eval`")
    r = df[df["kind"] == "rating"]
    return pd.DataFrame({"metric": "human", "key": r["question"].str.lower(), "system": r["system"],
                         "value": r["value"], "ci_low": r["ci_low"], "ci_high": r["ci_high"], "n_clips": r["n"],
                         "weights": "n/a", "higher_is_better": True})


def human_votes(run_dir: str | Path):
    """Pairwise vote rows of every study of a run (Fig. 8), or None when there are none."""
    import pandas as pd

    paths = sorted(Path(run_dir).glob("human_eval/*/results.parquet"))
    frames = [pd.read_parquet(p) for p in paths]
    frames = [f[f["kind"] == "pairwise"] for f in frames if "kind" in f.columns]
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else None


def _missing_notes(df, info: RunInfo) -> list[str]:
    """A note for every (metric key, system) the run has results for others but not for it."""
    notes = []
    if not len(df):
        return notes
    for key, g in df.groupby("key", sort=False):
        if g["metric"].iloc[0] == "human":
            continue
        have = set(g.loc[g["value"].notna(), "system"])
        lacking = [s for s in info.systems if s not in have]
        if have and lacking:
            why = "; its outputs failed" if any(s in info.failures for s in lacking) else ""
            notes.append(f"{key}: no result for {', '.join(lacking)} (left blank{why})")
    return notes


def experiment_results(exp_dir: str | Path):
    """(tidy frame over every run of an experiment folder, {run name: RunInfo}, experiment.yaml doc).

    A run folder shared by several variants contributes one copy of its rows per variant; a run
    that failed or has not started is skipped here and listed by the report from state.json."""
    import pandas as pd

    exp_dir = Path(exp_dir)
    try:
        doc = read_experiment_file(exp_dir)
    except Exception as exc:
        raise ReportError(str(exc)) from exc
    labels = {v["name"]: v["label"] for v in doc["experiment"]["variants"]}
    frames, infos = [], {}
    for r in doc["runs"]:
        run_dir = exp_dir / r["dataset"] / r["folder"]
        if not (run_dir / "config.yaml").exists():
            continue
        for v in r["variants"]:
            df, info = run_results(run_dir, experiment=exp_dir.name, variant=v, label=labels.get(v, v))
            frames.append(df)
        infos[f"{r['dataset']}/{r['folder']}"] = info
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=RESULT_COLUMNS)
    return frame, infos, doc


def write_results(frame, folder: str | Path) -> list[Path]:
    """results.parquet and results.csv (the tidy frame) in `folder`, atomically."""
    folder = Path(folder)
    out = []
    for name, write in (("results.parquet", lambda f, p: f.to_parquet(p, index=False)),
                        ("results.csv", lambda f, p: f.to_csv(p, index=False))):
        with atomic_path(folder / name) as tmp:
            write(frame, tmp)
        out.append(folder / name)
    return out
