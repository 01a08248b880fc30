"""The load benchmark behind `bench perf human-eval` (see human_eval/perf.py for what it does)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from human_eval.assign import build_plan
from human_eval.probes import forged_big_body, run_malformed, scripted_bot
from human_eval.tokens import csrf_token
from core.errors import ConfigError

P95_TARGET_MS = 200.0  # the paced p95 the Bar asks for (bench perf human-eval)
RETRIES = 5


@dataclass
class Target:
    """A synthetic study in a database: per rater its token and (assignment id, kind) sequence."""

    study: str
    raters: list[tuple[str, str, list[tuple[int, str]]]]  # token, csrf, assignments


@dataclass
class PhaseStats:
    latencies_ms: list = field(default_factory=list)
    sent: set = field(default_factory=set)  # assignment ids submitted
    errors: int = 0
    retries: int = 0

    def p95(self) -> float:
        return float(np.percentile(self.latencies_ms, 95)) if self.latencies_ms else float("nan")


def make_target(db, n_raters: int, n_votes: int, seed: int) -> Target:
    from human_eval.models import Assignment, Item, Rater, Study
    from human_eval.study import Media, create_study, invite

    systems = ["system_a", "system_b", "system_c"]
    clips = [f"clip{i:03d}" for i in range(max(12, n_votes))]
    plan = build_plan(clips, systems, n_raters, n_votes, seed=seed, single_share=0.3, checks=0)
    media = {(s, c, v): Media(f"{s}-{c}-{v}.mp4", 10.0) for s in systems for c in clips for v in ("", "degraded")}
    study_id = f"perf-{uuid.uuid4().hex[:8]}"
    create_study(db, study_id, plan, tempfile.gettempdir(), "synthetic", systems, {"play_fraction": 0.0}, media, {})
    tokens = dict(invite(db, study_id, n_raters))
    from sqlalchemy import select

    with db.read() as s:
        secret = s.get(Study, study_id).secret
        raters = []
        for r in s.scalars(select(Rater).where(Rater.study_id == study_id).order_by(Rater.slot)):
            seq = s.execute(select(Assignment.id, Item.kind).join(Item, Assignment.item_id == Item.id)
                            .where(Assignment.rater_id == r.id).order_by(Assignment.position)).all()
            raters.append((tokens[r.slot], csrf_token(secret, r.id), [(a, k) for a, k in seq]))
    return Target(study_id, raters)


def _answers(kind: str, rng: random.Random) -> dict:
    if kind == "pairwise":
        return {q: rng.choice(["left", "tie", "right"]) for q in ("semantic", "dynamic", "overall")}
    return {q: str(rng.randint(1, 10)) for q in ("ovl", "rel")}


async def _vote(client, url, study, token, csrf, assignment, kind, rng, stats, repeat: float, page: bool):
    base = f"{url}/s/{study}/r/{token}"
    if page:
        try:
            await client.get(f"{base}/item")
        except Exception:
            stats.errors += 1
    body = {"assignment": assignment, "answers": _answers(kind, rng), "submission": uuid.uuid4().hex}
    headers = {"X-CSRF-Token": csrf, "Accept": "application/json"}
    stats.sent.add(assignment)
    for attempt in range(2 if rng.random() < repeat else 1):
        t0 = time.perf_counter()
        ok = False
        for retry in range(RETRIES):  # as the page does: a dropped connection is retried, same body
            try:
                r = await client.post(f"{base}/vote", json=body, headers=headers)
                ok = r.status_code == 200
                break
            except Exception:
                stats.retries += 1
                await asyncio.sleep(0.2 * (retry + 1))
        stats.latencies_ms.append((time.perf_counter() - t0) * 1000)
        stats.errors += not ok


async def paced(url, target: Target, pause: tuple[float, float], repeat: float, deadline: float, seed: int,
                pages: bool = False) -> PhaseStats:
    import httpx

    stats = PhaseStats()
    limits = httpx.Limits(max_connections=len(target.raters) + 10, max_keepalive_connections=len(target.raters) + 10)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        async def rater(i, token, csrf, seq):
            rng = random.Random(seed * 100003 + i)
            await asyncio.sleep(rng.uniform(0, pause[1]))  # people do not all arrive in the same millisecond
            for a, kind in seq:
                if time.monotonic() > deadline:
                    return
                await asyncio.sleep(rng.uniform(*pause))
                await _vote(client, url, target.study, token, csrf, a, kind, rng, stats, repeat, page=pages)
        await asyncio.gather(*(rater(i, *r) for i, r in enumerate(target.raters)))
    return stats


async def unpaced(url, target: Target, rates: list[float], step_s: float, deadline: float, seed: int):
    """Open loop: votes launched at a fixed rate regardless of answers; per-rate p95."""
    import httpx

    queue = [(tok, csrf, a, k) for tok, csrf, seq in target.raters for a, k in seq]
    random.Random(seed).shuffle(queue)
    results, stats_all = [], PhaseStats()
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=500), timeout=30) as client:
        for rate in rates:
            n = int(rate * step_s)
            if n > len(queue) or time.monotonic() + step_s > deadline:
                break
            batch, queue = queue[:n], queue[n:]
            stats, rng, tasks = PhaseStats(), random.Random(seed + int(rate)), []
            start = time.perf_counter()
            for j, (tok, csrf, a, k) in enumerate(batch):
                delay = start + j / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(_vote(client, url, target.study, tok, csrf, a, k, rng, stats, 0.0, False)))
            await asyncio.gather(*tasks)
            stats_all.sent |= stats.sent
            stats_all.errors += stats.errors
            stats_all.retries += stats.retries
            results.append((rate, stats.p95(), stats.errors))
            print(f"  unpaced rate={rate:g}/s p95_ms={stats.p95():.1f} errors={stats.errors}", flush=True)
            if stats.p95() >= P95_TARGET_MS or stats.errors:
                break
    ok = [r for r, p95, err in results if p95 < P95_TARGET_MS and not err]
    return (max(ok) if ok else 0.0), stats_all


def hardening(db, url: str, port: int, pid: int, seed: int) -> dict:
    """Issue 17's probes against the served app (human_eval/probes.py): a forged token with
    3 + 3 uploads of 200 MB at once (slowest answer, server RSS growth), every malformed input
    (count of 5xx), and a scripted rater that skips listening on a study that enforces play
    (its votes stored and not excluded by the results)."""
    import re

    import httpx

    from human_eval.aggregate import results_payload
    from human_eval.models import Assignment, Item, Rater
    from human_eval.study import Media, authenticate, create_study, invite
    from sqlalchemy import func, select

    from human_eval.models import Vote

    study = f"probe-{uuid.uuid4().hex[:8]}"
    clips = [f"clip{i:03d}" for i in range(6)]
    plan = build_plan(clips, ["system_a", "system_b"], 2, 6, seed=seed, checks=2)
    media = {(s, c, v): Media(f"{s}-{c}-{v}.mp4", 10.0) for s in ("system_a", "system_b") for c in clips
             for v in ("", "degraded")}
    create_study(db, study, plan, tempfile.gettempdir(), "synthetic", ["system_a", "system_b"], {"play_fraction": 1.0},
                 media, {})
    tokens = [t for _, t in invite(db, study, 2)]
    with httpx.Client(base_url=url, timeout=30) as client:  # every worker warm (imports, study row cached)
        for _ in range(20):
            client.get(f"/s/{study}/r/{tokens[0]}")
    big = forged_big_body(port, pid, study, size_mb=200, parallel=3)
    with httpx.Client(base_url=url, timeout=30) as client:
        bot_base, probe_base = f"/s/{study}/r/{tokens[0]}", f"/s/{study}/r/{tokens[1]}"
        csrfs = [re.search(r'name="csrf" value="([^"]+)"', client.get(f"/s/{study}/r/{t}/item").text).group(1)
                 for t in tokens]
        _, bot = authenticate(db, study, tokens[0])
        with db.read() as s:
            seq = s.execute(select(Assignment.id, Item.kind).join(Item, Assignment.item_id == Item.id)
                            .where(Assignment.rater_id == bot.id).order_by(Assignment.position)).all()
        scripted_bot(client, bot_base, csrfs[0], [(a, k) for a, k in seq], wait_s=1.0)
        page = client.get(f"{probe_base}/item").text
        media_name = re.search(r'<video id="video-left" src="[^"]*/([^"/]+)"', page).group(1)
        _, prober = authenticate(db, study, tokens[1])
        with db.read() as s:
            current = s.scalar(select(Assignment.id).where(Assignment.rater_id == prober.id)
                               .order_by(Assignment.position).limit(1))
        statuses = run_malformed(client, probe_base, csrfs[1], current, media_name, port=port)
    with db.read() as s:
        stored = s.scalar(select(func.count()).select_from(Vote).where(Vote.rater_id == bot.id))
    excluded = {e["rater"] for e in results_payload(db, study)["excluded"]}
    with db.read() as s:
        bot_slot = s.scalar(select(Rater.slot).where(Rater.id == bot.id))
    return dict(forged_big_body_ms=round(big["ms"], 1), rss_growth_mb=round(big["rss_growth_mb"], 1),
                malformed_500s=sum(1 for st in statuses.values() if st >= 500 or st == 0),
                bot_votes_kept=0 if bot_slot in excluded else int(stored))


def count_stored(db, study: str) -> tuple[set, int]:
    """Assignment ids with votes, and vote rows beyond one per (assignment, question)."""
    from sqlalchemy import func, select

    from human_eval.models import Rater, Vote

    with db.read() as s:
        q = select(Vote.assignment_id, Vote.question, func.count()).join(Rater, Vote.rater_id == Rater.id) \
            .where(Rater.study_id == study).group_by(Vote.assignment_id, Vote.question)
        rows = s.execute(q).all()
    return {a for a, _, _ in rows}, sum(n - 1 for _, _, n in rows)


def _serve(url: str, port: int, workers: int = 1) -> subprocess.Popen:
    from human_eval.app import SERVE_DB_ENV

    code = ("import sys, uvicorn; uvicorn.run('human_eval.app:app_from_env', factory=True, host='127.0.0.1',"
            " port=int(sys.argv[1]), workers=int(sys.argv[2]), log_level='error', access_log=False,"
            " timeout_keep_alive=60)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(port), str(workers)], stdout=subprocess.DEVNULL,
                            env={**os.environ, SERVE_DB_ENV: url}, start_new_session=True)
    import httpx

    for _ in range(200):
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return proc
        except Exception:
            if proc.poll() is not None:
                raise ConfigError(f"the app did not start for {url}")
            time.sleep(0.1)
    proc.kill()
    raise ConfigError("the app did not answer on the loopback within 20 s")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _postgres_db(url: str):
    """A fresh database on the server when the role may create one, else `url` itself."""
    import sqlalchemy as sa

    name = f"bench_perf_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except Exception:
        return url, None
    return sa.engine.make_url(url).set(database=name).render_as_string(hide_password=False), (admin, name)


def _drop(created) -> None:
    import sqlalchemy as sa

    if created:
        admin, name = created
        with admin.connect() as c:
            c.execute(sa.text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def bench_backend(name: str, url: str, args, deadline: float) -> dict:
    from human_eval.storage import open_database

    db = open_database(url)
    port = _free_port()
    paced_target = make_target(db, args.raters, args.votes, args.seed)
    ladder_target = make_target(db, args.raters, args.votes, args.seed + 1)
    server = _serve(url, port, args.workers)
    try:
        probes = hardening(db, f"http://127.0.0.1:{port}", port, server.pid, args.seed)
        t0 = time.monotonic()
        stats = asyncio.run(paced(f"http://127.0.0.1:{port}", paced_target, (args.pause_min, args.pause_max),
                                  args.repeat, deadline, args.seed, args.pages))
        paced_s = time.monotonic() - t0
        rates = [float(x) for x in args.rates.split(",") if x]
        max_rate, ladder = asyncio.run(unpaced(f"http://127.0.0.1:{port}", ladder_target, rates, args.step_s,
                                               deadline, args.seed))
    finally:
        import signal

        os.killpg(server.pid, signal.SIGTERM)  # the uvicorn supervisor and its workers
        server.wait(20)
    stored, dups = count_stored(db, paced_target.study)
    stored_l, dups_l = count_stored(db, ladder_target.study)
    db.dispose()
    sent = len(stats.sent) + len(ladder.sent)
    out = dict(backend=name, votes_sent=sent, votes_stored=len(stored & stats.sent) + len(stored_l & ladder.sent),
               duplicates=dups + dups_l, lost=len(stats.sent - stored) + len(ladder.sent - stored_l),
               errors=stats.errors + ladder.errors, retries=stats.retries + ladder.retries, paced_s=round(paced_s, 1), p95_ms=round(stats.p95(), 1),
               p50_ms=round(float(np.percentile(stats.latencies_ms, 50)), 1) if stats.latencies_ms else None,
               max_rate=max_rate, **probes)
    print(" ".join(f"{k}={v}" for k, v in out.items()), flush=True)
    return out


def main(args) -> int:
    backends = [b for b in args.backends.split(",") if b]
    unknown = set(backends) - {"sqlite", "postgresql"}
    if unknown:
        raise ConfigError(f"--backends: unknown {', '.join(sorted(unknown))}; use sqlite and/or postgresql")
    if not 0 < args.pause_min <= args.pause_max:
        raise ConfigError("--pause-min must be positive and at most --pause-max")
    deadline = time.monotonic() + args.max_s
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-perf-he-") as tmp:
        for backend in backends:
            if backend == "sqlite":
                results.append(bench_backend("sqlite", f"sqlite:///{Path(tmp) / 'perf.sqlite'}", args, deadline))
                continue
            pg = args.postgres or os.environ.get("BENCH_TEST_POSTGRES_URL")
            if not pg:
                print("postgresql: skipped (no --postgres URL and no BENCH_TEST_POSTGRES_URL)", flush=True)
                continue
            url, created = _postgres_db(pg)
            try:
                results.append(bench_backend("postgresql", url, args, deadline))
            finally:
                _drop(created)
    if not results:
        raise ConfigError("no backend was benchmarked")
    total = {k: sum(r[k] for r in results) for k in ("votes_sent", "votes_stored", "duplicates", "lost")}
    print(json.dumps({"results": results}), flush=True)
    print(f"forged_big_body_ms={max(r['forged_big_body_ms'] for r in results):.1f} "
          f"rss_growth_mb={max(r['rss_growth_mb'] for r in results):.1f} "
          f"malformed_500s={sum(r['malformed_500s'] for r in results)} "
          f"bot_votes_kept={sum(r['bot_votes_kept'] for r in results)}", flush=True)
    print(f"votes_sent={total['votes_sent']} votes_stored={total['votes_stored']} duplicates={total['duplicates']} "
          f"lost={total['lost']} p95_ms={max(r['p95_ms'] for r in results):.1f} "
          f"max_rate={min(r['max_rate'] for r in results):g}")
    return 0
