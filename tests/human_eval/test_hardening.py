"""Issue 17: hostile input on 127.0.0.1. A large body under a forged token is refused before it
is read (time and server memory measured on a real uvicorn process); every malformed input is a
4xx with a message (a case each, plus a bounded fuzz); play credit is the server's clock on the
item on screen, one side at a time; a scripted rater is refused or excluded; attention checks
look like any other item to the browser; every vote has a time spent."""

import json
import random
import time

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from human_eval.app import MAX_BODY_BYTES, create_app
from human_eval.models import Assignment, Item, Vote
from human_eval.probes import forged_big_body, malformed_cases, scripted_bot
from human_eval.study import authenticate, invite, progress

from .conftest import make_study


@pytest.fixture
def app(db_url, tmp_path):
    run = tmp_path / "run"
    db, admin = make_study(db_url, run, raters=3, per_rater=4, play_fraction=0.5, duration=1.0, checks=2)
    tokens = [tok for _, tok in invite(db, "st", 3)]
    client = TestClient(create_app(db, run))
    yield client, db, admin, tokens, run
    client.close()
    db.dispose()


def _page(client, token):
    return client.get(f"/s/st/r/{token}/item").text


def _csrf(page):
    return page.split('name="csrf" value="')[1].split('"')[0]


def _current(db, token):
    study, rater = authenticate(db, "st", token)
    return study, rater, progress(db, rater, mark_shown=False)


def _answers(kind):
    return ({"semantic": "left", "dynamic": "right", "overall": "tie"} if kind == "pairwise" else {"ovl": "6", "rel": "9"})


def _sides(kind):
    return ("left", "right") if kind == "pairwise" else ("left",)


def _message(r) -> str:
    try:
        return r.json().get("error", "")
    except ValueError:
        return r.text


def test_every_malformed_input_is_a_4xx_with_a_message(app):
    client, db, _, tokens, _ = app
    page = _page(client, tokens[0])
    csrf = _csrf(page)
    _, _, prog = _current(db, tokens[0])
    media = page.split('<video id="video-left" src="')[1].split('"')[0].rsplit("/", 1)[1]
    base = f"/s/st/r/{tokens[0]}"
    cases = malformed_cases(base, csrf, prog.current.id, media)
    assert len(cases) >= 35
    for name, method, url, kwargs in cases:
        kwargs = {k: v for k, v in kwargs.items() if k != "raw"}
        r = client.request(method, url, **kwargs)
        assert r.status_code in (400, 403, 404, 409, 413, 422), (name, r.status_code, r.text[:200])
        if method != "HEAD":
            assert _message(r), name
    # the named cases of the issue, exactly
    by_name = {name: client.request(m, u, **{x: y for x, y in k.items() if x != "raw"}) for name, m, u, k in cases}
    assert by_name["vote csrf number"].status_code == 400 and "string" in _message(by_name["vote csrf number"])
    assert by_name["vote non-ASCII csrf header"].status_code == 400
    assert by_name["vote assignment 2^63"].status_code == 422 and "whole number" in _message(by_name["vote assignment 2^63"])
    assert by_name["play assignment Infinity"].status_code == 400
    assert by_name["media NUL"].status_code == 404
    assert by_name["vote non-ASCII form csrf"].status_code == 400


def test_head_on_media_and_favicon(app):
    client, _, _, tokens, _ = app
    src = _page(client, tokens[0]).split('<video id="video-left" src="')[1].split('"')[0]
    head, get = client.head(src), client.get(src)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == get.headers["content-length"] == str(len(get.content))
    assert client.get("/favicon.ico").status_code == 200


def test_fuzz_vote_and_play_never_500(app):
    """300 seeded random bodies over /vote and /play: never a 5xx, always a message."""
    client, db, _, tokens, _ = app
    page = _page(client, tokens[1])
    csrf = _csrf(page)
    _, _, prog = _current(db, tokens[1])
    rng = random.Random(17)
    atoms = [None, True, False, 0, -1, 1, prog.current.id, 2 ** 31, 2 ** 63, 10 ** 30, 1.5, 1e308, -0.0, "", "left",
             "right", "tie", "play", "ended", "5", "é", "\x00", "a" * 300, [], [1], {}, {"a": 1}]
    keys = ["assignment", "side", "event", "position", "answers", "csrf", "submission", "semantic", "ovl", "x"]

    def value(depth=0):
        roll = rng.random()
        if depth < 2 and roll < 0.15:
            return {rng.choice(keys + ["dynamic", "overall", "rel"]): value(depth + 1) for _ in range(rng.randint(0, 4))}
        if depth < 2 and roll < 0.2:
            return [value(depth + 1) for _ in range(rng.randint(0, 3))]
        return rng.choice(atoms)

    seen = set()
    for i in range(300):
        route = rng.choice(["vote", "play"])
        body = {k: value() for k in rng.sample(keys, rng.randint(0, len(keys)))}
        if rng.random() < 0.1:
            raw = json.dumps(body).encode()
            pos = rng.randrange(len(raw) + 1)
            content = raw[:pos] + bytes([rng.randrange(256)]) + raw[pos:]  # a corrupted byte
        else:
            content = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if rng.random() < 0.7:
            headers["X-CSRF-Token"] = csrf
        r = client.post(f"/s/st/r/{tokens[1]}/{route}", content=content, headers=headers)
        seen.add(r.status_code)
        assert r.status_code < 500, (route, content[:300], r.text[:300])
        if r.status_code >= 400:
            assert _message(r), (route, content[:200])
    assert {400, 422} <= seen


def test_body_limit_applies_before_the_body_is_read(app):
    client, _, _, tokens, _ = app
    big = b'{"x": "' + b"a" * (MAX_BODY_BYTES + 10) + b'"}'
    r = client.post(f"/s/st/r/{tokens[0]}/vote", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "too large" in r.json()["error"]
    # a form body too (the form parser is never reached)
    r = client.post(f"/s/st/r/{tokens[0]}/vote", data={"csrf": "x" * (MAX_BODY_BYTES + 10)})
    assert r.status_code == 413
    # a forged token with a small body: 403, whatever the body
    r = client.post("/s/st/r/forged/vote", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 403


@pytest.mark.slow
def test_forged_token_with_a_200_mb_body_costs_no_time_or_memory(tmp_path):
    """A real uvicorn process: 3 uploads of 200 MB with a declared length and 3 chunked, all
    under a forged token, at once. Answered in < 100 ms on a quiet machine (asserted < 500 ms:
    reading the body instead took 3.4 s); the server's RSS grows < 20 MB (it grew 480 MB)."""
    import os
    import signal

    from human_eval.loadtest import _free_port, _serve

    url = f"sqlite:///{tmp_path / 's.sqlite'}"
    db, _ = make_study(url, tmp_path / "run")
    db.dispose()
    port = _free_port()
    server = _serve(url, port, workers=1)
    try:
        httpx.get(f"http://127.0.0.1:{port}/s/st/r/warm", timeout=5)  # import everything once
        out = forged_big_body(port, server.pid, "st", size_mb=200, parallel=3)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)
    print(out)
    assert set(out["statuses"]) <= {403, 413} and out["statuses"], out
    assert out["ms"] < 500, out
    assert out["rss_growth_mb"] < 20, out


def test_play_credit_is_the_servers_clock_on_the_item_on_screen(app):
    client, db, _, tokens, _ = app
    token = tokens[2]
    csrf = _csrf(_page(client, token))
    study, rater, prog = _current(db, token)
    h = {"X-CSRF-Token": csrf}
    url = f"/s/st/r/{token}/play"
    with db.read() as s:
        later = s.scalars(select(Assignment.id).where(Assignment.rater_id == rater.id)
                          .order_by(Assignment.position)).all()[1]
    # a later item (not on screen) earns nothing
    r = client.post(url, json={"assignment": later, "side": "left", "event": "play", "position": 0}, headers=h)
    assert r.status_code == 409 and "on screen" in r.json()["error"]
    a, kind = prog.current.id, prog.item.kind
    if kind != "pairwise":  # make the current item a pairwise one for the both-sides check
        pytest.skip("first item of this seeded plan is single")  # pragma: no cover (the seed makes it pairwise)
    # both sides "playing" at once: the later play ends the earlier one's interval
    t0 = time.perf_counter()
    for side in ("left", "right"):
        client.post(url, json={"assignment": a, "side": side, "event": "play", "position": 0}, headers=h)
    gap = time.perf_counter() - t0
    time.sleep(0.6)
    got = {side: client.post(url, json={"assignment": a, "side": side, "event": "ended", "position": 1.0},
                             headers=h).json()["played"] for side in ("left", "right")}
    assert got["left"] <= gap and 0.55 <= got["right"] <= 1.0  # left: only the time between the two plays
    body = {"assignment": a, "answers": _answers(kind), "submission": "s"}
    r = client.post(f"/s/st/r/{token}/vote", json=body, headers=h)
    assert r.status_code == 409 and r.json()["error"].startswith("play A first")
    # the page's claims of position do not matter; the time between play and ended does
    t0 = time.perf_counter()
    client.post(url, json={"assignment": a, "side": "left", "event": "play", "position": 0}, headers=h)
    assert client.post(url, json={"assignment": a, "side": "left", "event": "ended", "position": 1.0},
                       headers=h).json()["played"] <= got["left"] + time.perf_counter() - t0
    client.post(url, json={"assignment": a, "side": "left", "event": "play", "position": 0}, headers=h)
    time.sleep(0.5)
    client.post(url, json={"assignment": a, "side": "left", "event": "progress", "position": 0.5}, headers=h)
    assert client.post(url, json={"assignment": a, "side": "left", "event": "pause", "position": 0.5},
                       headers=h).json()["played"] >= 0.5
    assert client.post(f"/s/st/r/{token}/vote", json=body, headers=h).status_code == 200
    # the answered item no longer earns credit
    r = client.post(url, json={"assignment": a, "side": "left", "event": "play", "position": 0}, headers=h)
    assert r.status_code == 409


def test_single_item_error_names_the_video_not_sample_a(app):
    client, db, _, tokens, _ = app
    for token in tokens:
        csrf = _csrf(_page(client, token))
        _, rater, _ = _current(db, token)
        with db.read() as s:
            singles = s.execute(select(Assignment.id).join(Item, Assignment.item_id == Item.id)
                                .where(Assignment.rater_id == rater.id, Item.kind == "single")
                                .order_by(Assignment.position)).scalars().all()
        if singles:
            break
    # single items are later in the sequence: reach one by voting with play enforcement off
    from human_eval.models import Study

    with db.write() as s:
        s.get(Study, "st").settings = json.dumps({"play_fraction": 0.0})
    db.cache.clear()
    h = {"X-CSRF-Token": csrf}
    while True:
        _, _, prog = _current(db, token)
        if prog.item.kind == "single":
            break
        client.get(f"/s/st/r/{token}/item")
        client.post(f"/s/st/r/{token}/vote", json={"assignment": prog.current.id, "answers": _answers("pairwise"),
                                                  "submission": str(prog.current.id)}, headers=h)
    with db.write() as s:
        s.get(Study, "st").settings = json.dumps({"play_fraction": 0.5})
    db.cache.clear()
    client.get(f"/s/st/r/{token}/item")
    r = client.post(f"/s/st/r/{token}/vote", json={"assignment": prog.current.id, "answers": _answers("single")},
                    headers=h)
    assert r.status_code == 409 and r.json()["error"].startswith("play the video first") and " A" not in r.json()["error"]


def test_scripted_bot_that_skips_listening_is_refused(app):
    client, db, _, tokens, _ = app
    token = tokens[0]
    page = _page(client, token)
    _, rater, _ = _current(db, token)
    with db.read() as s:
        seq = s.execute(select(Assignment.id, Item.kind).join(Item, Assignment.item_id == Item.id)
                        .where(Assignment.rater_id == rater.id).order_by(Assignment.position)).all()
    got = scripted_bot(client, f"/s/st/r/{token}", _csrf(page), [(a, k) for a, k in seq], wait_s=0.7)
    assert got.votes_sent == len(seq) and got.votes_accepted == 0
    with db.read() as s:
        assert s.scalars(select(Vote.id).where(Vote.rater_id == rater.id)).all() == []


def test_a_bot_on_a_study_without_play_rule_is_excluded_as_too_fast(db_url, tmp_path):
    """With play enforcement off, a script voting without loading pages is stored, every vote
    with its time (0 s for a page never loaded), and the "too fast" rule excludes it."""
    from human_eval.aggregate import results_payload

    db, _ = make_study(db_url, tmp_path / "run", raters=2, per_rater=4, play_fraction=0.0, checks=0)
    tokens = [t for _, t in invite(db, "st", 2)]
    client = TestClient(create_app(db, tmp_path / "run"))
    csrf = _csrf(_page(client, tokens[0]))
    _, rater, _ = _current(db, tokens[0])
    with db.read() as s:
        seq = s.execute(select(Assignment.id, Item.kind).join(Item, Assignment.item_id == Item.id)
                        .where(Assignment.rater_id == rater.id).order_by(Assignment.position.desc())).all()
    for a, kind in seq:  # out of order, pages never loaded
        r = client.post(f"/s/st/r/{tokens[0]}/vote", json={"assignment": a, "answers": _answers(kind)},
                        headers={"X-CSRF-Token": csrf})
        assert r.status_code == 200
    with db.read() as s:
        spent = s.scalars(select(Vote.time_spent_ms).where(Vote.rater_id == rater.id)).all()
    assert spent and all(t is not None and t < 1000 for t in spent)
    payload = results_payload(db, "st")
    assert [e["rater"] for e in payload["excluded"]] == [0] and "too fast" in payload["excluded"][0]["reasons"]
    assert any("too fast" in n for n in payload["notes"])
    client.close()
    db.dispose()


def test_attention_checks_look_like_any_item_to_the_browser(app):
    """Fresh opaque media names per showing: an identical pair's two sides differ, and a sample
    shown twice to a rater never repeats a name; the check's page has the regular item's shape."""
    import re

    client, db, _, tokens, _ = app
    pages = {}
    from human_eval.models import Study

    with db.write() as s:
        s.get(Study, "st").settings = json.dumps({"play_fraction": 0.0})
    db.cache.clear()
    names = []
    for token in tokens:
        csrf = _csrf(_page(client, token))
        while True:
            _, _, prog = _current(db, token)
            if prog.current is None:
                break
            html = _page(client, token)
            srcs = re.findall(r'<video id="video-\w+" src="([^"]+)"', html)
            names += [s.rsplit("/", 1)[1] for s in srcs]
            pages[(prog.item.check, prog.item.kind)] = html
            if prog.item.check == "identical":
                assert len(set(srcs)) == 2  # the same sample, two names
            client.post(f"/s/st/r/{token}/vote", json={"assignment": prog.current.id,
                                                       "answers": _answers(prog.item.kind)},
                        headers={"X-CSRF-Token": csrf})
    assert len(names) == len(set(names))  # every showing and side its own name
    assert ("identical", "pairwise") in pages and (None, "pairwise") in pages

    def shape(html):  # the page with its per-item values (names, ids, tokens, captions, clip) blanked
        html = re.sub(r'(src|value|data-assignment|data-played)="[^"]*"', r'\1=""', html)
        html = re.sub(r"<(p|span) ([^>]*)>[^<]*<", r"<\1 \2><", html)
        html = re.sub(r'(<span id="clip-id">)[^<]*', r"\1", html)
        return re.sub(r"<title>[^<]*</title>", "", html)

    assert shape(pages[("identical", "pairwise")]) == shape(pages[(None, "pairwise")])
    assert shape(pages[("degraded", "pairwise")]) == shape(pages[(None, "pairwise")])


def test_every_vote_records_time_spent(app):
    client, db, _, tokens, _ = app
    from human_eval.models import Study

    with db.write() as s:
        s.get(Study, "st").settings = json.dumps({"play_fraction": 0.0})
    db.cache.clear()
    token = tokens[1]
    csrf = _csrf(_page(client, token))
    _, rater, prog = _current(db, token)
    time.sleep(0.3)
    client.post(f"/s/st/r/{token}/vote", json={"assignment": prog.current.id, "answers": _answers(prog.item.kind)},
                headers={"X-CSRF-Token": csrf})
    with db.read() as s:
        spent = s.scalars(select(Vote.time_spent_ms).where(Vote.rater_id == rater.id)).all()
    assert spent and all(t >= 300 for t in spent)


@pytest.mark.slow
def test_admin_results_json_is_fast_and_complete_for_200_raters(tmp_path):
    """200 raters × 30 items (17,400 votes): the admin JSON in < 1 s of CPU (wall time printed;
    a shared test machine inflates it), with the rater table, exclusions and notes."""
    from sqlalchemy import insert

    from human_eval.aggregate import results_payload
    from human_eval.assign import build_plan
    from human_eval.models import utcnow
    from human_eval.storage import open_database
    from human_eval.study import Media, create_study

    db = open_database(f"sqlite:///{tmp_path / 'big.sqlite'}")
    systems, clips = ["a", "b", "c"], [f"c{i}" for i in range(40)]
    plan = build_plan(clips, systems, 200, 30, seed=0, checks=2)
    media = {(s, c, v): Media(f"{s}{c}{v}.mp4", 10.0) for s in systems for c in clips for v in ("", "degraded")}
    admin = create_study(db, "big", plan, str(tmp_path), "x", systems, {"play_fraction": 1.0}, media, {})
    rng = random.Random(0)
    with db.read() as s:
        rows = s.execute(select(Assignment.id, Assignment.rater_id, Item.kind, Item.check, Assignment.a_on_left)
                         .join(Item, Assignment.item_id == Item.id)).all()
    now, votes = utcnow(), []
    right_check = {"identical": lambda left: "tie", "degraded": lambda left: "left" if left else "right"}
    for a, r, kind, check, a_on_left in rows:
        for q in (("semantic", "dynamic", "overall") if kind == "pairwise" else ("ovl", "rel")):
            answer = (rng.choice(["left", "right"]) if check is None else right_check[check](a_on_left)) \
                if kind == "pairwise" else str(rng.randint(1, 10))
            votes.append(dict(assignment_id=a, rater_id=r, question=q, answer=answer, submission_id="x", shown_at=now,
                              answered_at=now, time_spent_ms=1000 if r % 50 == 0 else rng.randint(4000, 40000)))
    with db.write() as s:
        s.execute(insert(Vote), votes)
    results_payload(db, "big")  # imports and caches warm
    cpu, wall = [], []
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.thread_time()
        payload = results_payload(db, "big")
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - t0)
    print(f"results.json for 200 raters: cpu {min(cpu):.3f} s, wall {min(wall):.3f} s")
    assert min(cpu) < 1.0
    assert len(payload["raters"]) == 200
    excluded = {e["rater"] for e in payload["excluded"]}
    fast = {49, 99, 149, 199}  # slots of rater ids 50, 100, 150, 200: 1 s per item
    assert fast <= excluded
    assert all("too fast" in e["reasons"] for e in payload["excluded"] if e["rater"] in fast)
    assert len(payload["notes"]) == len(excluded)
    assert {"semantic", "ovl"} <= set(payload["agreement"]) and payload["rule"]["min_median_s"] == 3.0
    kinds = {r["kind"] for r in payload["results"]}
    assert kinds == {"pairwise", "rating", "bradley_terry"}
    for r in payload["results"]:
        if r["kind"] == "rating":
            assert 10 <= r["ci_low"] <= r["value"] <= r["ci_high"] <= 100
    client = TestClient(create_app(db))
    t0 = time.perf_counter()
    r = client.get("/s/big/admin/results.json", headers={"Authorization": f"Bearer {admin}"})
    print(f"GET results.json: {time.perf_counter() - t0:.3f} s")
    assert r.status_code == 200 and r.json()["excluded"] == payload["excluded"]
    client.close()
    db.dispose()
