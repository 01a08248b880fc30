"""`bench experiment list|run|status`: the paper's tables and figures as named, resumable
sweeps (bench/experiments/). Imports only argparse at top level."""

from __future__ import annotations

import argparse

from bench.config import compose
from bench.experiments import load_experiment
from bench.experiments.runner import experiment_status, run_experiment
from bench.experiments.spec import loadable_experiments, reduce_sweep, select_variants
from reports.html import refresh_related_reports, write_report
from core.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="experiment_verb", metavar="<action>")
    sub.add_parser("list", help="the named experiments and the paper artefact each reproduces")
    p = sub.add_parser("run", help="run (or resume) every variant, then write the tables and the report",
                       description="Run an experiment: one resumable run folder per variant and dataset under "
                                   "runs/<experiment>/<dataset>/<variant>/, then tables/ and report/index.html.")
    p.add_argument("name", help="experiment name (see `bench experiment list`) or a path to an experiment YAML")
    p.add_argument("--dataset", default=None, help="comma-separated datasets (default: the experiment's), e.g. toy")
    p.add_argument("--variants", default=None, help="only these variants (comma-separated names)")
    p.add_argument("--sweep", action="append", default=[], metavar="KEY=V1,V2",
                   help="replace a swept key's values, e.g. --sweep system.dyvim.alpha=0.0,0.5")
    p.add_argument("--metrics", default=None, help="comma-separated metrics (default: the experiment's)")
    p.add_argument("--name", dest="folder_name", default=None,
                   help="experiment folder name under runs/ (default: the experiment's name)")
    p.add_argument("--paper", action="store_true", help="show the paper's numbers beside ours in the report")
    p.add_argument("--no-report", action="store_true", help="skip writing the report")
    p.add_argument("overrides", nargs="*", metavar="key=value",
                   help="Hydra overrides for every variant, e.g. system.dyvim.size=tiny dataset.params.size=tiny")
    p = sub.add_parser("status", help="where each variant of an experiment folder stands")
    p.add_argument("name", help="experiment name or folder (runs/<name>)")


def run(args: argparse.Namespace) -> int:
    verb = getattr(args, "experiment_verb", None)
    if verb == "list":
        return _list()
    if verb == "run":
        return _run(args)
    if verb == "status":
        return _status(args)
    print("usage: bench experiment {list,run,status} (see bench experiment --help)")
    return 2


def _csv(text):
    return [x for x in (text or "").split(",") if x]


def _runs_root():
    return compose(None, (), (), check_systems=False, metrics=[]).paths.runs_root


def _list() -> int:
    from rich.console import Console
    from rich.table import Table

    experiments, broken = loadable_experiments()
    table = Table(title="experiments")
    for col in ("name", "artefact", "variants", "datasets", "title"):
        table.add_column(col)
    for name, e in experiments.items():
        table.add_row(name, e.artefact, str(len(e.variants)), ",".join(e.datasets), e.title)
    for name, err in broken.items():  # a broken plug-in is shown with its error, never run
        table.add_row(name, "[red]unloadable[/red]", "", "", err)
    Console(highlight=False).print(table)
    return 0


def _run(args) -> int:
    exp = load_experiment(args.name)
    for item in args.sweep:
        key, sep, values = item.partition("=")
        if not sep or not values:
            raise ConfigError(f"--sweep takes KEY=V1,V2 (e.g. system.dyvim.alpha=0.0,0.5), got {item!r}")
        exp = reduce_sweep(exp, key, _csv(values))
    if args.variants:
        exp = select_variants(exp, _csv(args.variants))
    metrics = _csv(args.metrics) if args.metrics is not None else None
    runs_root = _runs_root()
    result = run_experiment(exp, runs_root, datasets=_csv(args.dataset) or None, overrides=list(args.overrides),
                            metrics=metrics, name=args.folder_name)
    for note in result.notes:
        print(f"note: {note}")
    if not args.no_report:
        print(f"report: {write_report(result.dir, paper=args.paper, force=False)}")

        for path in refresh_related_reports(result.dir, paper=args.paper):  # e.g. Table 2's other half
            print(f"report: {path} (shares its paper table)")
    print(f"experiment: {result.dir} ({len(result.runs)} runs, {len(result.failed)} failed, "
          f"{result.failed_outputs} failed outputs)")
    for name, err in result.failed.items():
        print(f"failed: {name}: {err.splitlines()[0]}")
    for line in result.final_lines:  # e.g. the science check's result line, last
        print(line)
    return 3 if result.failed or result.failed_outputs else 0


def _status(args) -> int:
    from pathlib import Path

    from rich.console import Console
    from rich.table import Table

    folder = Path(args.name) if Path(args.name).is_dir() else Path(_runs_root()) / args.name
    rows = experiment_status(folder)
    table = Table(title=f"experiment {folder}")
    for col in ("run", "variants", "state", "outputs"):
        table.add_column(col)
    for r in rows:
        table.add_row(f"{r.dataset}/{r.folder}", ",".join(r.variants), r.state + (f": {r.error}" if r.error else ""),
                      " ".join(f"{s}={n}" for s, n in r.outputs.items()))
    Console(highlight=False).print(table)
    for r in rows:  # plain lines for scripts
        print(f"status: run={r.run_name} state={r.state.replace(' ', '_')}")
    return 0
