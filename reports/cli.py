"""`bench report FOLDER`: render a run's or an experiment's stored results as an offline HTML
report (FOLDER/report/index.html). Imports only argparse at top level."""

from __future__ import annotations

import argparse

from reports.html import write_report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Render runs/<name> (a run) or runs/<experiment> (an experiment) into "
                          "<folder>/report/index.html: tables (CSV/LaTeX too), figures (PNG/SVG), a gallery "
                          "of every clip's video and music. Works opened from disk, offline; never rescores.")
    parser.add_argument("folder", help="a run folder (runs/toy) or an experiment folder (runs/alpha)")
    parser.add_argument("--out", default=None, help="write the report here instead of <folder>/report")
    parser.add_argument("--paper", action="store_true", help="show the paper's Tables 1-4 numbers beside ours")
    parser.add_argument("--gallery-clips", type=int, default=6, metavar="N", help="clips in the gallery (default 6)")


def run(args: argparse.Namespace) -> int:
    path = write_report(args.folder, out=args.out, paper=args.paper, gallery_clips=args.gallery_clips)
    print(f"report: {path}")
    return 0
