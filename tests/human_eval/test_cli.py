"""End to end: `bench human-eval create / invite / results / export` in subprocesses over a
small generated run, with votes cast through the app in between."""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

BENCH = [sys.executable, "-m", "bench"]


def bench(*args, check=True):
    proc = subprocess.run([*BENCH, *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"bench {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.mark.slow
def test_help_and_missing_action():
    assert bench("human-eval", "--help").stdout.startswith("usage: bench human-eval")
    proc = bench("human-eval", check=False)
    assert proc.returncode == 2 and "needs an action" in proc.stderr


@pytest.mark.slow
def test_create_invite_vote_results_export(mini_run, tmp_path):
    from fastapi.testclient import TestClient

    from core.media import probe_video
    from human_eval.app import create_app
    from human_eval.models import Assignment, Item
    from human_eval.storage import open_database

    run = Path(mini_run)
    proc = bench("human-eval", "create", "--run", str(run), "--systems", "reference,shuffled", "--raters", "3",
                 "--per-rater", "5", "--name", "e2e", "--play-fraction", "0", "--seed", "2")
    admin = re.search(r"admin token \(shown once.*\): (\S+)", proc.stdout).group(1)
    folder = run / "human_eval" / "e2e"
    media = sorted((folder / "media").glob("*.mp4"))
    assert media and all("reference" not in m.name and "shuffled" not in m.name for m in media)
    info = probe_video(media[0])
    assert info.has_audio and info.duration == pytest.approx(2.0, abs=0.15)
    again = bench("human-eval", "create", "--run", str(run), "--systems", "reference,shuffled", "--name", "e2e",
                  check=False)
    assert again.returncode == 2 and "already exists" in again.stderr
    bad = bench("human-eval", "create", "--run", str(run), "--systems", "reference,dyvim", check=False)
    assert bad.returncode == 2 and "dyvim" in bad.stderr and "reference" in bad.stderr

    out = bench("human-eval", "invite", "--study", "e2e", "--count", "3", "--csv", str(tmp_path / "links.csv"),
                "--base-url", "http://rate.example").stdout.split()
    links = [x for x in out if x.startswith("http://rate.example/s/e2e/r/")]
    assert len(links) == 3 and len({l.rsplit("/", 1)[1] for l in links}) == 3
    assert len(list(csv.reader(open(tmp_path / "links.csv")))) == 4
    assert "uninvited" in bench("human-eval", "invite", "--study", "e2e", "--count", "1", check=False).stderr

    # the real server: `bench human-eval serve` with two worker processes answers an invitation
    from .conftest import free_port

    port = free_port()
    server = subprocess.Popen([*BENCH, "human-eval", "serve", "--run", str(run), "--port", str(port), "--workers", "2"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        import httpx

        link = links[0].replace("http://rate.example", f"http://127.0.0.1:{port}")
        for _ in range(150):
            try:
                r = httpx.get(link, timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read().decode()
                time.sleep(0.2)
        assert r.status_code == 200 and "listening study" in r.text
        assert httpx.get(link[:-4] + "XXXX", timeout=2).status_code == 403
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)

    db = open_database(f"sqlite:///{folder.parent / 'studies.sqlite'}")
    client = TestClient(create_app(db, run))
    for i, link in enumerate(links):
        base = link.replace("http://rate.example", "")
        while True:
            page = client.get(f"{base}/item").text
            if "Thank you" in page:
                break
            csrf = page.split('name="csrf" value="')[1].split('"')[0]
            a = int(page.split('name="assignment" value="')[1].split('"')[0])
            if 'data-kind="pairwise"' in page:
                with db.read() as s:  # the test peeks at what the rater cannot know: is it a check?
                    asg = s.get(Assignment, a)
                    item = s.get(Item, asg.item_id)
                right = {"identical": "tie", "degraded": "left" if asg.a_on_left else "right"}.get(item.check, "left")
                # raters 0 and 1 answer checks right; rater 2 always says "cannot tell" (fails the degraded one)
                ans = {q: "tie" if i == 2 else right for q in ("semantic", "dynamic", "overall")}
            else:
                ans = {"ovl": str(4 + i), "rel": "7"}
            r = client.post(f"{base}/vote", json={"assignment": a, "answers": ans}, headers={"X-CSRF-Token": csrf})
            assert r.status_code == 200, r.text
    client.close()
    db.dispose()

    proc = bench("human-eval", "results", "--study", "e2e", "--min-median-s", "0", "--straightline-share", "0",
                 "--n-boot", "50")
    assert "excluded rater 2" in proc.stdout
    table = pd.read_parquet(folder / "results.parquet")
    assert list(table.columns[:12]) == ["study", "kind", "question", "system", "opponent", "wins", "ties", "losses",
                                        "n", "value", "ci_low", "ci_high"]
    pw = table[table.kind == "pairwise"]
    assert set(pw.question) == {"semantic", "dynamic", "overall"} and set(pw.system) == {"reference", "shuffled"}
    assert (pw.wins + pw.ties + pw.losses == pw.n).all() and (pw.ties == 0).all()  # rater 2's ties are excluded
    assert set(table[table.kind == "rating"].question) == {"ovl", "rel"}
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["excluded"] == [2] and summary["exclusion_rule"]["max_check_failures"] == 0

    bench("human-eval", "export", "--study", "e2e", "--run", str(run))
    votes = pd.read_csv(folder / "votes.csv")
    assert len(votes) == votes.groupby(["item", "rater", "question"]).ngroups  # each vote once
    assert {"rater", "question", "answer", "left_system", "position", "answered_at", "time_spent_ms"} <= set(votes.columns)
    assert "token" not in " ".join(votes.columns)


@pytest.mark.slow
def test_a_study_in_postgresql_keeps_no_password_on_disk(mini_run, fresh_postgres):
    from human_eval.create import STUDY_FILE, create, locate
    from human_eval.study import StudyError

    made = create(mini_run, ["reference", "shuffled"], clips=2, raters=2, per_rater=2, name="pg", db_url=fresh_postgres,
                  checks=0)
    info = (made.folder / STUDY_FILE).read_text()
    assert "***" in info and ":bench@" not in info
    with pytest.raises(StudyError, match="pass --db"):
        locate("pg")
    assert locate("pg", db=fresh_postgres)[0] == fresh_postgres
    proc = bench("human-eval", "invite", "--study", "pg", "--db", fresh_postgres, "--count", "2")
    assert proc.stdout.count("/s/pg/r/") == 2
