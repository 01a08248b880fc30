"""Implementations of the CLI verbs (imported only after argument parsing)."""

from __future__ import annotations

import argparse
import importlib

from rich.table import Table

from bench.data.stats import dataset_stats, validate_media
from bench.perf import perf_run
from bench.systems_cli import cmd_systems
from metrics.headline import headline, ordering_lines
from metrics.perf import perf_metrics
from bench import api
from bench.config import config_names, DatasetSettings, suite_overrides
from bench.console import console
from core.errors import ConfigError


def dispatch(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    verb = args.verb
    if verb in ("run", "generate", "train"):
        return cmd_run(args, stage=verb)
    if verb == "evaluate":
        return cmd_evaluate(args)
    if verb == "data":
        return cmd_data(args, parser)
    if verb == "systems":
        return cmd_systems(args, parser)
    if verb == "perf":
        if args.perf_area == "run":
            return perf_run(keep=args.keep)
        if args.perf_area == "metrics":
            return perf_metrics(clips=args.clips, torch_home=args.torch_home, keep=args.keep,
                                suite=args.suite, fadtk_files=args.fadtk_files)
        if getattr(args, "perf_module", None):
            return importlib.import_module(args.perf_module).run(args)
        parser.parse_args(["perf", "--help"])
    if getattr(args, "verb_module", None):
        return importlib.import_module(args.verb_module).run(args)
    raise ConfigError(f"unknown verb {verb}")


def cmd_run(args, stage: str) -> int:
    if stage == "generate":  # both positionals are nargs="*": key=value items are overrides, not videos
        args.overrides = [v for v in args.videos if "=" in v] + list(args.overrides)
        args.videos = [v for v in args.videos if "=" not in v]
        if args.videos:
            return cmd_generate_videos(args)
    if stage == "train" and args.system:
        args.systems = [args.system] + [s for s in (args.systems or []) if s != args.system]
    if not args.systems:
        raise ConfigError(f"bench {stage}: name the systems, e.g. --systems reference,shuffled")
    metrics = getattr(args, "metrics", None) if stage == "run" else []
    if stage == "train":
        overrides = list(args.overrides) + ([f"run.name={args.name}"] if getattr(args, "name", None) else [])
        return _train(api.load_config(args.dataset, args.systems, overrides, []))
    result = api.run(args.systems, args.dataset, args.overrides, name=args.name,
                     samples_per_clip=getattr(args, "samples_per_clip", None), metrics=metrics, report=stage == "run")
    _print_summary(result)
    if result.scoring_skipped:
        console.print(f"[yellow]scoring skipped: {result.failed} outputs failed. Re-run the same command to retry "
                      f"them, or score what exists: bench evaluate --run {result.run_dir} --allow-missing[/yellow]")
    elif result.evaluation is not None:
        print_evaluation(result.evaluation)

        for line in headline(result.evaluation):
            print(line)
    if stage == "generate" and args.mux:
        from reports.gallery import mux_run

        cfg = api.load_config(args.dataset, args.systems, list(args.overrides), [])
        n = mux_run(result.run_dir, api.dataset_clips(cfg), [s.system for s in result.systems])
        console.print(f"muxed {n} videos (<system>/<clip>.mp4)")
    console.print(f"results: [bold]{result.run_dir}[/bold]")
    if result.report is not None:  # the offline HTML report of what the run folder now holds (reports/)
        console.print(f"report: [bold]{result.report}[/bold]")
    return 3 if result.failed else 0


def cmd_generate_videos(args) -> int:
    if not args.system:
        raise ConfigError("bench generate VIDEO ...: name the system with --system, e.g. --system dyvim")
    outputs = api.generate_videos(args.videos, args.system, dataset=args.dataset, overrides=list(args.overrides),
                                  checkpoint=args.checkpoint, out_dir=args.out, caption=args.caption)
    for wav, mp4 in outputs:  # plain lines (rich would wrap long paths)
        print(f"music: {wav}\nvideo: {mp4}")
    return 0


def cmd_evaluate(args) -> int:
    if args.compare and len(args.compare) != 2:
        raise ConfigError(f"--compare takes two systems, e.g. --compare dyvim,shuffled; got {args.compare}")
    folders = args.generated is not None or args.reference is not None
    if folders:
        return cmd_evaluate_folders(args)
    if args.run is None:
        raise ConfigError("bench evaluate: give --run RUN_FOLDER, or --generated DIR --reference DIR")
    for flag, given in (("--unpaired", args.unpaired), ("--out", args.out), ("--weights", args.weights != "pretrained"),
                        ("--captions", args.captions)):
        if given:
            raise ConfigError(f"bench evaluate: {flag} goes with --generated/--reference, not --run")
    overrides = list(args.overrides)
    metrics = args.metrics
    if args.suite is not None:  # the suite's metric configs (bench.config.suite_overrides; weights follow the dataset)
        overrides.append(f"metric_suite={args.suite}")
    if args.sample_rate is not None:  # audioldm_eval's --sample-rate: Cnn14's front end of every Cnn14 metric,
        # or audioldm_eval main's evaluation rate (the rate its WaveDataset reads files at before MERT)
        keys = metrics or (suite_overrides(args.suite, None)[0] if args.suite else ("fd", "kl", "is"))
        from metrics.embedding_metrics import sample_rate_fields
        from metrics.presets import get_preset

        preset = get_preset(args.suite).metrics if args.suite else {}
        fields = sample_rate_fields({m: {"name": m, **preset.get(m, {})} for m in keys})
        overrides += [f"metric.{m}.{field}={args.sample_rate}" for m, field in fields.items()]
    evaluation = api.evaluate(args.run, metrics=metrics, compare=args.compare or (),
                              allow_missing=True if args.allow_missing else None, overrides=overrides)
    print_evaluation(evaluation)
    console.print(f"results: [bold]{evaluation.run_dir / 'metrics'}[/bold]")
    for line in headline(evaluation):
        print(line)
    return 0


def cmd_evaluate_folders(args) -> int:
    if args.generated is None or args.reference is None:
        raise ConfigError("bench evaluate: --generated and --reference go together (two folders of audio)")
    for flag, given in (("--run", args.run), ("--compare", args.compare), ("--allow-missing", args.allow_missing)):
        if given:
            raise ConfigError(f"bench evaluate --generated/--reference: {flag} applies to run folders only")
    evaluation = api.evaluate_folders(args.generated, args.reference, out=args.out, suite=args.suite,
                                      metrics=args.metrics, unpaired=args.unpaired, sample_rate=args.sample_rate,
                                      weights=args.weights, overrides=args.overrides, captions=args.captions)
    print_evaluation(evaluation)
    print(f"results: {evaluation.run_dir / 'metrics'}")
    print(f"report: {evaluation.run_dir / 'report' / 'index.html'}")
    return 0


def print_evaluation(evaluation) -> None:
    """What is real first: the controls' ordering on synchrony and relevance and the trackers' scores
    against ground truth (metrics.headline.ordering_lines), then the system × metric table (value
    [95% CI]) with the rows that need no weights or real weights above those computed with seeded
    random weights, which are labelled."""
    df = evaluation.table
    if not len(df):
        return
    lead = ordering_lines(df)
    if lead:
        console.print("[bold]what is real[/bold] (no weights, or real weights)")
        for line in lead:
            console.print(f"  {line}", soft_wrap=True)
    systems = list(dict.fromkeys(df["system"]))
    table = Table(title=f"metrics ({int(df['n_clips'].max())} clips, 95% bootstrap CIs)")
    table.add_column("metric")
    for s in systems:
        table.add_column(s, justify="right")
    # (random weights?, (metric, key), rows): a stable sort puts the real rows first, in their order
    groups = [(bool((g["weights"] == "random").any()), mk, g) for mk, g in df.groupby(["metric", "key"], sort=False)]
    groups.sort(key=lambda t: t[0])
    for i, (random, (metric, key), g) in enumerate(groups):
        if random and i and not groups[i - 1][0]:
            table.add_section()
        target = g["target"].iloc[0] if "target" in g.columns else None  # closer to it is better (BCS: 1)
        arrow = f"→{target:.3g}" if target is not None and target == target else "↑" if g["higher_is_better"].iloc[0] else "↓"
        label = f"{key} {arrow}" + (" [yellow](random weights)[/yellow]" if random else "")
        cells = []
        for s in systems:
            row = g[g["system"] == s]
            if not len(row) or row["value"].isna().all():
                cells.append("–")
                continue
            r = row.iloc[0]
            cells.append(f"{r['value']:.3g} [{r['ci_low']:.3g}, {r['ci_high']:.3g}]")
        table.add_row(label, *cells)
    console.print(table)
    if evaluation.random_weights:
        console.print("[yellow]RANDOM WEIGHTS: the rows below the line (marked random weights) used seeded random "
                      "embedders; their numbers are not comparable to published ones.[/yellow]")
    if evaluation.comparisons is not None:
        for r in evaluation.comparisons.itertuples():
            console.print(f"{r.key}: {r.a} − {r.b} = {r.difference:.4g} [{r.ci_low:.4g}, {r.ci_high:.4g}], "
                          f"p = {r.p_value:.3g} ({r.test})")
    for note in evaluation.notes:
        console.print(f"[dim]note: {note}[/dim]")


def _train(cfg) -> int:
    for name, trained in api.train(cfg).items():
        console.print(f"{name}: {'trained' if trained else 'needs no training'}")
    return 0


def _print_summary(result) -> None:
    table = Table(title=f"run {result.run_dir.name}: {result.clips} clips")
    for col in ("system", "weights", "outputs", "already done", "generated", "failed"):
        table.add_column(col, justify="left" if col in ("system", "weights") else "right")
    for s in result.systems:
        table.add_row(s.system, s.weights, str(s.requested), str(s.already_done), str(s.generated),
                      f"[red]{s.failed}[/red]" if s.failed else "0")
    console.print(table)
    for s in result.systems:  # one plain line per system for scripts and logs
        print(f"summary: system={s.system} weights={s.weights} outputs={s.requested} "
              f"already_done={s.already_done} generated={s.generated} failed={s.failed}")
    if any(s.weights == "random" for s in result.systems):
        console.print("[yellow]note: some systems ran with RANDOM weights; their outputs are not comparable to the paper[/yellow]")
    for s in result.systems:
        if s.failed:
            console.print(f"[red]{s.failed} failed[/red]: see {result.run_dir / s.system / 'failures.jsonl'}; "
                          "re-run the same command to retry them")


def _print_prepared(dcfg: DatasetSettings, clips) -> None:
    """What a prepare made and what it left out (every skip with its reason is in dataset.json)."""
    from collections import Counter

    from core.manifest import INFO_NAME, read_info

    info = read_info(dcfg.root)
    splits = Counter(c.split for c in clips)
    found, used = info.get("videos_found"), info.get("videos_used")
    origin = f" from {used} of {found} videos" if found is not None and used is not None else ""
    console.print(f"{dcfg.name}: {len(clips)} clips{origin} ({', '.join(f'{k} {v}' for k, v in sorted(splits.items()))}) "
                  f"in {dcfg.root}")
    skipped = info.get("skipped") or []
    if skipped:
        where = dcfg.root / INFO_NAME
        console.print(f"[yellow]{len(skipped)} file(s) skipped[/yellow] (all reasons in {where}):")
        for s in skipped[:5]:
            console.print(f"  {s['path']}: {s['reason']}", soft_wrap=True)
        if len(skipped) > 5:
            console.print(f"  ... and {len(skipped) - 5} more")
    if info.get("discarded_silent"):
        console.print(f"{info['discarded_silent']} clip(s) discarded as silent")


def cmd_data(args, parser) -> int:
    if args.data_verb is None:
        parser.parse_args(["data", "--help"])
    if args.data_verb == "list":
        from core.manifest import MANIFEST_NAME

        table = Table(title="datasets")
        for col in ("name", "kind", "prepared at"):
            table.add_column(col)
        for name in config_names("dataset"):
            dataset = DatasetSettings.from_config(api.load_config(name))
            prepared = (dataset.root / MANIFEST_NAME).exists()
            table.add_row(name, dataset.kind, str(dataset.root) if prepared else "[dim]not prepared[/dim]")
        console.print(table)
        return 0
    if args.data_verb == "prepare":
        clips = api.prepare(args.name, args.overrides, force=args.force)
        _print_prepared(DatasetSettings.from_config(api.load_config(args.name, (), args.overrides)), clips)
        return 0
    if args.data_verb == "show":
        cfg = api.load_config(args.name, (), args.overrides)
        clips = api.dataset_clips(cfg, auto_prepare=False)
        stats = dataset_stats(clips)
        console.print(f"[bold]{args.name}[/bold] at {DatasetSettings.from_config(cfg).root}")
        console.print(stats.round({"hours": 3}).to_string())
        if args.no_validate:
            return 0
        problems = validate_media(clips)
        if problems:
            for p in problems:
                console.print(f"[red]problem[/red] {p}", soft_wrap=True)
            return 1
        console.print(f"media: all {len(clips)} clips valid")
        return 0
    raise ConfigError(f"unknown data action {args.data_verb}")
