"""The `bench` command line: a thin layer over `bench.api`.

Only argparse is imported at start-up, so `bench --help` answers at once; each verb imports
what it needs. Trailing `key=value` arguments are Hydra overrides (e.g. system.dyvim.alpha=0.3).
"""

from __future__ import annotations

import argparse
import sys

from bench import __version__
from core.errors import BenchError

EPILOG = """examples:
  bench run --systems reference,shuffled --dataset toy
  bench run --systems dyvim,vidmuse --dataset aist system.dyvim.alpha=0.3
  bench data prepare aist dataset.params.source_dir=/data/aistpp
  bench data show toy
  bench systems list
"""

# Verb groups that live beside the package they drive. Each module imports only argparse at its
# top level (so `bench --help` stays instant) and defines `add_arguments(parser)` and `run(args) -> int`.
VERB_MODULES = {
    "report": ("render a run's or experiment's stored results as an offline HTML report", "reports.cli"),
    "experiment": ("the paper's tables and figures as named, resumable sweeps", "bench.experiment_cli"),
    "human-eval": ("pairwise rating form, invitations and vote aggregation", "human_eval.cli"),
    "status": ("clips done/failed/pending per system, jobs in flight, failed shards' errors", "bench.status"),
    "metrics": ("embedders, metrics and peer-tool presets (bench metrics list)", "metrics.cli"),
}
# `bench perf <area>` benchmarks that live beside their package (same two functions).
PERF_MODULES = {
    "dyvim": ("DyViM generation overhead vs. plain MusicGen, training step time per tuning mode", "systems.dyvim.perf"),
    "human-eval": ("simulated raters against the served app on SQLite and PostgreSQL", "human_eval.perf"),
    "data": ("the real-data path on a miniature official AIST++ folder: prepare then run, refusal, full disk, "
             "truncated video, bad wav", "bench.data.perf"),
    "executors": ("the same generation on local (1, 2 workers) and Ray (2 CPUs): speedups, identity, "
                  "per-shard overhead", "bench.executors.perf"),
}


def _load(module: str):
    import importlib

    return importlib.import_module(module)


def _add_module_verbs(sub, table: dict, key: str) -> None:
    for name, (what, module) in table.items():
        try:
            mod = _load(module)
        except ModuleNotFoundError as exc:  # a package not installed in this checkout: leave the verb out
            if exc.name != module:
                raise
            continue
        p = sub.add_parser(name, help=what, description=what)
        p.set_defaults(**{key: module})
        mod.add_arguments(p)


def _csv(text: str) -> list[str]:
    items = [x for x in text.split(",") if x]
    return [] if items == ["none"] else items


def _add_run_args(p: argparse.ArgumentParser, systems_required: bool = True) -> None:
    p.add_argument("--systems", required=systems_required, type=lambda s: [x for x in s.split(",") if x],
                   help="comma-separated system names (see `bench systems list`), e.g. reference,shuffled")
    p.add_argument("--dataset", default="toy", help="dataset name (see `bench data list`; default: toy)")
    p.add_argument("--name", default=None, help="run name: results go to runs/<name> (default: the dataset name)")
    p.add_argument("--samples-per-clip", type=int, default=None, metavar="N",
                   help="seeded samples per clip (k >= 1 written as <clip>.s<k>.wav)")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="Hydra overrides, e.g. system.dyvim.alpha=0.3")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench", description="DyViM Bench: generate, score and compare video-to-music systems.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="verb", metavar="<verb>")

    p = sub.add_parser("run", help="train what needs training, generate, (score, report); resumable",
                       description="Run systems on a dataset's split into runs/<name>/. Re-running the same "
                                   "command resumes: finished clips are kept and never regenerated.")
    _add_run_args(p)

    p.add_argument("--metrics", type=_csv, default=None,
                   help="metrics to score with after generation (default: evaluate.metrics in the config; 'none' skips)")

    p = sub.add_parser("evaluate", help="score every system of a run, or two folders of audio: FD/FAD/KL/IS, beat and "
                                        "video–music alignment",
                       description="Score a run's systems against the reference, paired by clip id, with bootstrap "
                                   "CIs; results go to runs/<name>/metrics/<metric>.parquet. Or score any two folders "
                                   "of audio: bench evaluate --generated DIR --reference DIR [--unpaired] [--suite "
                                   "NAME] (files paired by name stem; see `bench metrics list` for the suites).")
    p.add_argument("--run", default=None, help="the run folder, e.g. runs/toy")
    p.add_argument("--generated", default=None, metavar="DIR", help="a folder of generated audio (instead of --run)")
    p.add_argument("--reference", default=None, metavar="DIR", help="the folder of reference audio for --generated")
    p.add_argument("--unpaired", action="store_true",
                   help="--generated/--reference: the sets need not pair by name (set metrics FD/FAD/KID/IS only)")
    p.add_argument("--suite", default=None, metavar="NAME",
                   help="metric suite of one peer tool (metric_suite; default audioldm_eval-0.0.3), e.g. fadtk-encodec")
    p.add_argument("--sample-rate", type=int, default=None, choices=(16000, 32000),
                   help="Cnn14's front end for FD/KL/IS/KID, as audioldm_eval's (default 16000); with --suite "
                        "audioldm_eval-main: the rate its WaveDataset reads files at before MERT")
    p.add_argument("--captions", default=None, metavar="FILE",
                   help="--generated: each file's text prompt, a CSV (id,caption) or JSON {id: caption}, for the "
                        "CLAP score (clap_score; stable-audio-metrics and audiocraft suites)")
    p.add_argument("--weights", default="pretrained", choices=("pretrained", "random"),
                   help="--generated: the embedders' weights (random: seeded, offline tests only; not comparable)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="--generated: the results folder (default: <runs_root>/<generated>-vs-<reference>)")
    p.add_argument("--metrics", type=_csv, default=None, help="comma-separated (default: evaluate.metrics): fd,fad,kl,is,beat,align,sync,retrieval,symbolic")
    p.add_argument("--compare", type=_csv, default=None, metavar="A,B",
                   help="paired comparison of two systems on the same clips: difference, CI, p-value")
    p.add_argument("--allow-missing", action="store_true",
                   help="score only the clips every system has (and say so) instead of refusing")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. evaluate.n_resamples=200 metric.fd.checkpoint=/w/Cnn14.pth")

    p = sub.add_parser("generate", help="only the generation stage of `run`, or music for your own videos",
                       description="Generate every system's music for the dataset's split into runs/<name>/; or, "
                                   "given video files, score them with one system: `bench generate my_video.mp4 "
                                   "--system dyvim [--checkpoint best.pt]` writes <out>/<video>.<system>.wav and "
                                   ".mp4 (the video with the music muxed in).")
    p.add_argument("videos", nargs="*", metavar="VIDEO", help="your own video files (instead of a dataset's split)")
    p.add_argument("--system", default=None, help="the system for VIDEO files (e.g. dyvim)")
    p.add_argument("--checkpoint", default=None, help="trained checkpoint for VIDEO files (default: the run's own)")
    p.add_argument("--out", default="generated", help="output folder for VIDEO files (default: ./generated)")
    p.add_argument("--caption", default=None, help="caption of the VIDEO files (needed by semantics_encoder=t5)")
    _add_run_args(p, systems_required=False)
    p.add_argument("--mux", action="store_true", help="also write <system>/<clip>.mp4: the clip's video with the generated music")

    p = sub.add_parser("train", help="train a system (e.g. `bench train dyvim --dataset toy`)",
                       description="Train systems that need it on the dataset's train split, e.g. "
                                   "`bench train dyvim --dataset aist system.dyvim.tuning=lora`.")
    p.add_argument("system", nargs="?", default=None, help="the system to train (or use --systems)")
    p.add_argument("--gpus", type=int, default=None, metavar="N",
                   help="data-parallel training on N GPUs (DDP via accelerate; CPU processes where there is no CUDA); "
                        "sets system.<system>.train.gpus")
    _add_run_args(p, systems_required=False)

    data = sub.add_parser("data", help="prepare, list and inspect datasets").add_subparsers(dest="data_verb", metavar="<action>")
    p = data.add_parser("prepare", help="build a dataset's manifest from the official layout (or build `toy`)",
                        description="Prepare a dataset: cut 10 s clips, remove vocals, discard silent clips, split, write the manifest.")
    p.add_argument("name")
    p.add_argument("--force", action="store_true", help="rebuild even if an identical build exists")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. dataset.params.source_dir=/data/aistpp")
    data.add_parser("list", help="list known datasets and whether they are prepared")
    p = data.add_parser("show", help="statistics per split (the paper's Table 5) and media validation")
    p.add_argument("name")
    p.add_argument("--no-validate", action="store_true", help="skip opening every media file")
    p.add_argument("overrides", nargs="*", metavar="key=value")

    sysp = sub.add_parser("systems", help="list, check and set up systems").add_subparsers(dest="systems_verb", metavar="<action>")
    sysp.add_parser("list", help="registered systems (built-in, configs and entry points)")
    p = sysp.add_parser("check", help="say what each system still needs here (repository, environment, weights)")
    p.add_argument("names", nargs="*", help="systems to check (default: all); key=value items are Hydra overrides")
    p.add_argument("--deep", action="store_true", help="also import the code in the built environment, load every "
                   "weight file and generate one short clip (a baseline's one-minute check)")
    p = sysp.add_parser("verify", help="check every baseline adapter against its official repository (no network)")
    p.add_argument("names", nargs="*", help="baselines to verify (default: all seven)")
    p.add_argument("--source", default=None, help="folder with one official repository per baseline at its pinned "
                   "commit (default: $BENCH_BASELINES_SRC, else ../shared/baselines-src beside the checkout)")
    p.add_argument("--no-real-runs", action="store_true", help="skip the real runs (import closure and contract only)")
    p = sysp.add_parser("setup", help="clone a baseline at its pinned commit and build its own environment")
    p.add_argument("name")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="e.g. system.cmt.base_python=/usr/bin/python3.8")

    perf = sub.add_parser("perf", help="benchmarks that print measured ratios").add_subparsers(dest="perf_area", metavar="<area>")
    p = perf.add_parser("run", help="the main job twice (first run, then resume) on the demo toy; prints resume_ratio")
    p.add_argument("--keep", default=None, help="folder to keep the benchmark's data/runs in (default: a temp dir)")
    p = perf.add_parser("metrics", help="our FD/KL/IS(/FAD) vs audioldm_eval on the same files: cold and warm speedups")
    p.add_argument("--clips", type=int, default=64, help="clips per set (default 64)")
    p.add_argument("--torch-home", default=None, help="TORCH_HOME with torchvggish's hub code + weights (adds FAD)")
    p.add_argument("--suite", default="audioldm_eval-0.0.3", help="audioldm_eval-0.0.3 | fadtk-encodec | fadtk-encodec-48k | all")
    p.add_argument("--fadtk-files", type=int, default=None, help="fadtk suites: cap each set of fadtk's samples (default: all)")
    p.add_argument("--keep", default=None, help="folder to keep the files in (default: a temp dir)")

    _add_module_verbs(perf, PERF_MODULES, "perf_module")
    _add_module_verbs(sub, VERB_MODULES, "verb_module")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    # Overrides may sit between options (`--systems a x.y=1 --name n`): argparse leaves those over.
    args, extra = parser.parse_known_args(argv)
    if extra:
        if hasattr(args, "overrides") and all("=" in e and not e.startswith("-") for e in extra):
            args.overrides = list(args.overrides) + extra
        elif not hasattr(args, "args"):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.version:
        print(__version__)
        return 0
    if args.verb is None:
        parser.print_help()
        return 0
    if args.verb == "train" and args.gpus:
        names = [args.system] if args.system else list(args.systems or [])
        args.overrides = list(args.overrides) + [f"system.{n}.train.gpus={args.gpus}" for n in names]

    try:
        from bench import commands

        return commands.dispatch(args, parser)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a write outside `core.atomic` (a library's own file): still named
        import errno
        from pathlib import Path

        from core.atomic import classify_write_error

        # only errors no read can raise: a permission error on reading an input is not "cannot write here"
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
            raise
        where = Path(exc.filename).parent if getattr(exc, "filename", None) else Path.cwd()
        named = classify_write_error(exc, where)
        if named is None:
            raise
        print(f"error: {named}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: finished files are kept; re-run the same command to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
