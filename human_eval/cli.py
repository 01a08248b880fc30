"""`bench human-eval create|invite|serve|results|export` (only argparse at import time)."""

from __future__ import annotations

import argparse

from human_eval import commands
from core.errors import ConfigError


def _where(p: argparse.ArgumentParser, run_required: bool = False) -> None:
    p.add_argument("--run", required=run_required, help="the run folder, e.g. runs/toy (default database: "
                   "runs/<name>/human_eval/studies.sqlite)")
    p.add_argument("--db", default=None, help="SQLAlchemy URL instead of the run's SQLite file, e.g. "
                   "postgresql+psycopg://user:pw@host/db (or set BENCH_HUMAN_EVAL_DB)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="he_verb", metavar="<action>")
    p = sub.add_parser("create", help="build a study over a run: balanced assignment, attention checks, media")
    _where(p, run_required=True)
    p.add_argument("--systems", required=True, type=lambda s: [x for x in s.split(",") if x],
                   help="systems of the run to compare, e.g. dyvim,vidmuse")
    p.add_argument("--clips", type=int, default=None, help="number of clips (seeded choice; default: all)")
    p.add_argument("--raters", type=int, default=20, help="rater slots (default 20)")
    p.add_argument("--per-rater", type=int, default=30, help="regular items per rater (default 30)")
    p.add_argument("--single-share", type=float, default=0.3, help="share of single (OVL/REL) items (default 0.3)")
    p.add_argument("--checks", type=int, default=2, help="attention checks per rater (default 2)")
    p.add_argument("--play-fraction", type=float, default=1.0,
                   help="share of each sample a rater must play before voting, enforced by the server (default 1)")
    p.add_argument("--expires-days", type=float, default=30.0, help="invitations stop working after this (default 30)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--name", default=None, help="study id (default: generated)")

    p = sub.add_parser("invite", help="one unguessable link per rater (and optionally a new admin token)")
    p.add_argument("--study", required=True)
    _where(p)
    p.add_argument("--count", type=int, default=None, help="links to issue (default: every uninvited slot)")
    p.add_argument("--base-url", default="http://127.0.0.1:8000", help="where the app is served")
    p.add_argument("--csv", default=None, help="also write slot,link rows to this CSV file")
    p.add_argument("--admin", action="store_true", help="issue a new admin token (the old one stops working)")

    p = sub.add_parser("serve", help="serve the rating form (FastAPI + uvicorn)")
    _where(p, run_required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, help="server processes (SQLite and PostgreSQL both allow several)")

    for name, what in (("results", "aggregate votes: win shares (Wilson), Bradley-Terry, OVL/REL, rater quality"),
                       ("export", "raw votes as CSV")):
        p = sub.add_parser(name, help=what)
        p.add_argument("--study", required=True)
        _where(p)
        p.add_argument("--out", default=None, help="output file (default: in the study folder)")
        if name == "results":
            p.add_argument("--max-check-failures", type=int, default=0,
                           help="exclude raters failing more attention checks than this (-1: never)")
            p.add_argument("--straightline-share", type=float, default=0.9,
                           help="exclude raters giving one pairwise answer this often (0: off)")
            p.add_argument("--min-median-s", type=float, default=3.0,
                           help="exclude raters whose median time per item is below this (0: off)")
            p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for Bradley-Terry CIs")
            p.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    verb = getattr(args, "he_verb", None)
    if verb is None:
        raise ConfigError("bench human-eval needs an action: create, invite, serve, results or export (see --help)")
    return getattr(commands, f"cmd_{verb}")(args)
