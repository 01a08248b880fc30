"""Implementations of `bench human-eval` actions (imported after argument parsing)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from core.atomic import atomic_path, write_text_atomic
from core.errors import ConfigError


def cmd_create(args) -> int:
    from human_eval.create import create

    made = create(args.run, args.systems, clips=args.clips, raters=args.raters, per_rater=args.per_rater,
                  seed=args.seed, name=args.name, db_url=args.db, play_fraction=args.play_fraction,
                  single_share=args.single_share, checks=args.checks, expires_days=args.expires_days)
    print(f"study: {made.study_id}  ({made.raters} rater slots × {made.items_per_rater} items, attention checks included)")
    print(f"folder: {made.folder}")
    print(f"admin token (shown once; needed for results over the web): {made.admin_token}")
    print(f"next: bench human-eval invite --study {made.study_id} --run {args.run} --count {made.raters}")
    return 0


def _open(args):
    from human_eval.create import locate
    from human_eval.storage import open_database

    url, run_dir = locate(args.study, getattr(args, "run", None), getattr(args, "db", None))
    return open_database(url, create=False), run_dir


def cmd_invite(args) -> int:
    from sqlalchemy import func, select

    from human_eval.models import Rater
    from human_eval.study import invite, new_admin_token

    db, _ = _open(args)
    count = args.count
    if count is None:
        with db.read() as s:
            count = s.scalar(select(func.count()).select_from(Rater).where(
                Rater.study_id == args.study, Rater.token_hash.is_(None)))
    if count < 0:
        raise ConfigError(f"--count must be positive, got {count}")
    links = [(slot, f"{args.base_url.rstrip('/')}/s/{args.study}/r/{token}") for slot, token in invite(db, args.study, count)]
    for _, link in links:
        print(link)
    if args.csv:
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["slot", "link"])
        w.writerows(links)
        write_text_atomic(args.csv, buf.getvalue())
    if args.admin:
        print(f"admin token: {new_admin_token(db, args.study)}")
    return 0


def cmd_serve(args) -> int:
    import uvicorn

    from human_eval.app import create_app
    from human_eval.storage import default_db_url, open_database

    run_dir = Path(args.run)
    if not run_dir.is_dir():
        raise ConfigError(f"{run_dir}: no such run folder")
    url = args.db or default_db_url(run_dir)
    db = open_database(url)  # migrates before any worker starts
    print(f"serving studies of {run_dir} on http://{args.host}:{args.port}/  (links: bench human-eval invite)")
    if args.workers > 1:
        import os

        from human_eval.app import SERVE_DB_ENV, SERVE_RUN_ENV

        db.dispose()
        os.environ[SERVE_DB_ENV], os.environ[SERVE_RUN_ENV] = url, str(run_dir.resolve())
        uvicorn.run("human_eval.app:app_from_env", factory=True, workers=args.workers, host=args.host,
                    port=args.port, log_level="warning")
    else:
        uvicorn.run(create_app(db, run_dir), host=args.host, port=args.port, log_level="warning")
    return 0


def write_results(run_dir: Path, study_id: str, result, votes) -> Path:
    """results.parquet (the report's contract), raters.csv and summary.json in the study folder."""
    from human_eval.create import study_dir

    folder = study_dir(run_dir, study_id)
    with atomic_path(folder / "results.parquet") as tmp:
        result.table.to_parquet(tmp, index=False)
    write_text_atomic(folder / "raters.csv", result.raters.to_csv(index=False))
    summary = {"study": study_id, "votes": int(len(votes)), "raters_with_votes": int(votes["rater"].nunique()),
               "excluded": result.raters.loc[result.raters["excluded"], "rater"].tolist(),
               "exclusion_rule": result.rule, "notes": result.notes, "agreement": result.agreement}
    write_text_atomic(folder / "summary.json", json.dumps(summary, indent=2, default=str))
    return folder / "results.parquet"


def cmd_results(args) -> int:
    from human_eval.aggregate import ExclusionRule, aggregate
    from human_eval.export import votes_frame
    from human_eval.study import get_study

    db, run_dir = _open(args)
    study = get_study(db, args.study)
    run_dir = run_dir or Path(study.run_dir)
    votes = votes_frame(db, args.study)
    if votes.empty:
        raise ConfigError(f"study {args.study!r} has no votes yet")
    rule = ExclusionRule(max_check_failures=None if args.max_check_failures < 0 else args.max_check_failures,
                         straightline_share=args.straightline_share or None, min_median_s=args.min_median_s or None)
    result = aggregate(votes, args.study, rule, systems=json.loads(study.systems), n_boot=args.n_boot, seed=args.seed)
    path = write_results(run_dir, args.study, result, votes)
    if args.out:
        with atomic_path(args.out) as tmp:
            result.table.to_parquet(tmp, index=False)
    _print(result)
    print(f"results: {Path(args.out) if args.out else path}")
    return 0


def _print(result) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    t = Table(title="human evaluation")
    for col in ("kind", "question", "system", "opponent", "W/T/L", "value", "95% CI"):
        t.add_column(col)
    for r in result.table.itertuples():
        wtl = f"{r.wins:g}/{r.ties:g}/{r.losses:g}" if r.kind == "pairwise" else f"n={r.n:g}"
        t.add_row(r.kind, r.question, r.system, r.opponent if isinstance(r.opponent, str) else "", wtl, f"{r.value:.3f}", f"[{r.ci_low:.3f}, {r.ci_high:.3f}]")
    console.print(t)
    kept = int((~result.raters["excluded"]).sum())
    console.print(f"raters: {kept} kept, {int(result.raters['excluded'].sum())} excluded")
    for note in result.notes:
        console.print(f"  {note}")
    agree = ", ".join(f"{q} {v['krippendorff_alpha']}" for q, v in result.agreement.items() if v["krippendorff_alpha"] is not None)
    console.print(f"agreement (Krippendorff's alpha): {agree or 'not enough items rated twice'}")


def cmd_export(args) -> int:
    from human_eval.create import study_dir
    from human_eval.export import votes_frame
    from human_eval.study import get_study

    db, run_dir = _open(args)
    study = get_study(db, args.study)
    out = Path(args.out) if args.out else study_dir(run_dir or Path(study.run_dir), args.study) / "votes.csv"
    votes = votes_frame(db, args.study)
    write_text_atomic(out, votes.to_csv(index=False))
    print(f"{len(votes)} votes → {out}")
    return 0
