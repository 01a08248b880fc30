"""`bench perf human-eval`: simulated raters against the served app, on loopback only.

For each backend (SQLite; PostgreSQL given --postgres or BENCH_TEST_POSTGRES_URL) a synthetic
study is stored, the app is served by uvicorn in its own process on 127.0.0.1, and:
1. paced: R concurrent raters × V votes, each pausing U(pause-min, pause-max) s as a person
   would, then submitting (a share `repeat` of submissions sent twice, as double clicks; with
   --pages each vote is preceded by loading the item page); latency is measured on votes;
2. unpaced: an open-loop ladder of vote rates (votes/s, a few seconds each) on fresh raters, to
   find the highest rate whose p95 stays under 200 ms.
Before them, issue 17's probes (human_eval/probes.py, loadtest.hardening): 3 + 3 uploads of
200 MB under a forged token at once (declared length and chunked), every malformed input, and
a scripted rater that skips listening on a study that enforces play.
Then the database is counted: votes sent vs stored, duplicates, lost. Play enforcement is off in
these synthetic studies (play_fraction 0); everything else is the production path. Bounded: at
most R × V votes per phase and --max-s seconds in all.
Last two lines:
    forged_big_body_ms=… rss_growth_mb=… malformed_500s=… bot_votes_kept=…   (worst / total over backends)
    votes_sent=… votes_stored=… duplicates=… lost=… p95_ms=… max_rate=…
(totals over backends; p95_ms the worst paced p95, max_rate the lowest).
"""

from __future__ import annotations

import argparse

from human_eval.loadtest import main


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--raters", type=int, default=200, help="concurrent simulated raters (default 200)")
    parser.add_argument("--votes", type=int, default=30, help="votes per rater (default 30)")
    parser.add_argument("--pause-min", type=float, default=1.0, help="seconds between a rater's votes, from (default 1)")
    parser.add_argument("--pause-max", type=float, default=3.0, help="... to (default 3)")
    parser.add_argument("--repeat", type=float, default=0.05, help="share of submissions sent twice (default 0.05)")
    parser.add_argument("--rates", default="25,50,100,200,400", help="unpaced vote rates to try, votes/s")
    parser.add_argument("--step-s", type=float, default=4.0, help="seconds per unpaced rate (default 4)")
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated (default both)")
    parser.add_argument("--postgres", default=None, help="PostgreSQL URL (default: $BENCH_TEST_POSTGRES_URL)")
    parser.add_argument("--max-s", type=float, default=600.0, help="overall time bound (default 600)")
    parser.add_argument("--pages", action="store_true",
                        help="paced raters also load the item page before each vote (twice the requests)")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes (default 2: one per core here)")
    parser.add_argument("--seed", type=int, default=0)


def run(args: argparse.Namespace) -> int:
    return main(args)
