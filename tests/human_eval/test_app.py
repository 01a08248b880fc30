"""The web app over HTTP (Starlette's test client): server-side play enforcement, idempotent
votes, token, CSRF and admin checks, escaping, range requests and path traversal."""

import json
import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from human_eval.app import create_app
from human_eval.models import Assignment, Study, Vote
from human_eval.study import authenticate, invite, progress

from .conftest import make_study

EVIL = '<script>alert("x")</script>'


@pytest.fixture
def served(db_url, tmp_path):
    run = tmp_path / "run"
    db, admin = make_study(db_url, run, captions={"c0": EVIL, "c1": EVIL, "c2": EVIL, "c3": EVIL})
    links = invite(db, "st", 3)
    client = TestClient(create_app(db, run))
    yield client, db, admin, [tok for _, tok in links], run
    client.close()
    db.dispose()


def _current(db, token):
    study, rater = authenticate(db, "st", token)
    return study, rater, progress(db, rater, mark_shown=False)


def _answers(kind):
    return ({"semantic": "left", "dynamic": "right", "overall": "tie"} if kind == "pairwise"
            else {"ovl": "6", "rel": "9"})


def _csrf(client, token):
    page = client.get(f"/s/st/r/{token}/item").text
    return page.split('name="csrf" value="')[1].split('"')[0]


def _play_all(client, token, csrf, assignment, sides, duration=1.0):
    """Play each side in turn, as the page does (one video at a time), for 0.6 s of 1 s."""
    url = f"/s/st/r/{token}/play"
    h = {"X-CSRF-Token": csrf}
    for side in sides:
        assert client.post(url, json={"assignment": assignment, "side": side, "event": "play", "position": 0},
                           headers=h).status_code == 200
        time.sleep(0.6)
        r = client.post(url, json={"assignment": assignment, "side": side, "event": "ended", "position": duration},
                        headers=h)
        assert r.status_code == 200 and r.json()["played"] >= 0.6


def test_vote_needs_both_samples_played_as_measured_by_the_server(served):
    client, db, _, tokens, _ = served
    csrf = _csrf(client, tokens[0])
    _, _, prog = _current(db, tokens[0])
    a, kind = prog.current.id, prog.item.kind
    sides = ["left", "right"] if kind == "pairwise" else ["left"]
    body = {"assignment": a, "answers": _answers(kind), "submission": "s1"}
    h = {"X-CSRF-Token": csrf}
    r = client.post(f"/s/st/r/{tokens[0]}/vote", json=body, headers=h)
    assert r.status_code == 409 and "play" in r.json()["error"]
    # claiming 'ended' right after 'play' does not count: the server clamps to the wall clock
    for side in sides:
        client.post(f"/s/st/r/{tokens[0]}/play", json={"assignment": a, "side": side, "event": "play", "position": 0}, headers=h)
        got = client.post(f"/s/st/r/{tokens[0]}/play", json={"assignment": a, "side": side, "event": "ended",
                                                              "position": 1.0}, headers=h).json()
        assert got["played"] < 0.6
    if got["played"] < 0.475:  # the required 0.5 s less the end tolerance (a slow machine may take longer)
        assert client.post(f"/s/st/r/{tokens[0]}/vote", json=body, headers=h).status_code == 409
    _play_all(client, tokens[0], csrf, a, sides)
    r = client.post(f"/s/st/r/{tokens[0]}/vote", json=body, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "stored"
    # double click / retry: same answers stored once; other answers refused
    assert client.post(f"/s/st/r/{tokens[0]}/vote", json=body, headers=h).json()["status"] == "duplicate"
    other = dict(body, answers={k: ("right" if v != "right" else "left") if kind == "pairwise" else "1"
                                for k, v in body["answers"].items()})
    assert client.post(f"/s/st/r/{tokens[0]}/vote", json=other, headers=h).status_code == 409
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Vote)) == len(body["answers"])
    page = client.get(f"/s/st/r/{tokens[0]}/item").text
    assert "2 of" in page


def test_plain_form_post_works_and_reports_refusals(served):
    client, db, _, tokens, _ = served
    csrf = _csrf(client, tokens[1])
    _, _, prog = _current(db, tokens[1])
    form = {"csrf": csrf, "assignment": str(prog.current.id), "submission": "f1", **_answers(prog.item.kind)}
    r = client.post(f"/s/st/r/{tokens[1]}/vote", data=form, follow_redirects=False)
    assert r.status_code == 303 and "error=" in r.headers["location"]
    assert "first" in client.get(r.headers["location"]).text


def test_tokens_are_checked_on_every_request(served, db_url, tmp_path):
    client, db, _, tokens, run = served
    assert client.get("/s/st/r/forged-token-123").status_code == 403
    assert client.get(f"/s/st/r/{tokens[0]}/item").status_code == 200
    # a token of another study in the same database is refused for this one
    from human_eval.study import create_study
    from human_eval.assign import build_plan
    from human_eval.study import Media

    plan = build_plan(["k0", "k1"], ["x", "y"], 1, 2, checks=0)
    media = {(s, c, v): Media("m.mp4", 1.0) for s in "xy" for c in ("k0", "k1") for v in ("", "degraded")}
    create_study(db, "other", plan, str(run), "synthetic", ["x", "y"], {"play_fraction": 0}, media, {})
    other_token = invite(db, "other", 1)[0][1]
    assert client.get(f"/s/other/r/{other_token}").status_code == 200
    assert client.get(f"/s/st/r/{other_token}/item").status_code == 403
    # expired
    with db.write() as s:
        st = s.get(Study, "st")
        st.expires_at = st.created_at - timedelta(days=1)
    db.cache.clear()  # a served process re-reads a study row after STUDY_CACHE_S; the test does not wait
    r = client.get(f"/s/st/r/{tokens[0]}/item")
    assert r.status_code == 403 and "closed" in r.text


def test_raters_cannot_touch_each_others_items_and_csrf_is_required(served):
    client, db, _, tokens, _ = served
    _, _, mine = _current(db, tokens[0])
    csrf_other = _csrf(client, tokens[1])
    body = {"assignment": mine.current.id, "answers": _answers(mine.item.kind), "submission": "z"}
    r = client.post(f"/s/st/r/{tokens[1]}/vote", json=body, headers={"X-CSRF-Token": csrf_other})
    assert r.status_code == 404
    r = client.post(f"/s/st/r/{tokens[1]}/play", json={"assignment": mine.current.id, "side": "left", "event": "play",
                                                      "position": 0}, headers={"X-CSRF-Token": csrf_other})
    assert r.status_code == 404
    # rater 0 with rater 1's CSRF token, or none, or from another origin
    assert client.post(f"/s/st/r/{tokens[0]}/vote", json=body, headers={"X-CSRF-Token": csrf_other}).status_code == 403
    assert client.post(f"/s/st/r/{tokens[0]}/vote", json=body).status_code == 403
    csrf = _csrf(client, tokens[0])
    r = client.post(f"/s/st/r/{tokens[0]}/vote", json=body,
                    headers={"X-CSRF-Token": csrf, "Origin": "http://evil.example"})
    assert r.status_code == 403


def test_pages_escape_user_controlled_text(served, db_url, tmp_path):
    client, db, _, tokens, _ = served
    page = client.get(f"/s/st/r/{tokens[0]}/item")
    assert EVIL not in page.text and "&lt;script&gt;" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"


def test_media_range_requests_and_no_path_traversal(served):
    client, db, _, tokens, run = served
    page = client.get(f"/s/st/r/{tokens[0]}/item").text
    src = page.split('<video id="video-left" src="')[1].split('"')[0]
    full = client.get(src)
    assert full.status_code == 200 and full.headers["content-type"] == "video/mp4"
    part = client.get(src, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == full.content[100:200]
    (run / "secret.txt").write_text("do not serve")
    base = src.rsplit("/", 1)[0]
    for evil in ("../../../secret.txt", "..%2F..%2F..%2Fsecret.txt", "%2e%2e/%2e%2e/%2e%2e/secret.txt",
                 "/etc/passwd", "..%2F..%2F..%2Fconfig.yaml"):
        r = client.get(f"{base}/{evil}")
        assert r.status_code == 404 and "do not serve" not in r.text
    # the stored file names are never served (media go by per-showing names), nor another
    # rater's showing names, nor the rater's own items not yet shown
    with db.read() as s:
        from human_eval.models import Item

        files = {m for (a, b) in s.execute(select(Item.media_a, Item.media_b)) for m in (a, b) if m}
    for f in sorted(files)[:3]:
        assert client.get(f"{base}/{f}").status_code == 404
    other_src = client.get(f"/s/st/r/{tokens[1]}/item").text.split('<video id="video-left" src="')[1].split('"')[0]
    assert client.get(f"{base}/{other_src.rsplit('/', 1)[1]}").status_code == 404
    from human_eval.tokens import showing_media_name

    study, rater, prog = _current(db, tokens[0])
    with db.read() as s:
        later = s.scalars(select(Assignment.id).where(Assignment.rater_id == rater.id, Assignment.shown_at.is_(None))).all()
    if later:
        assert client.get(f"{base}/{showing_media_name(study.secret, later[0], 'left')}").status_code == 404


def test_results_need_the_admin_token(served):
    client, db, admin, tokens, _ = served
    assert client.get("/s/st/admin/votes.csv").status_code == 403
    assert client.get("/s/st/admin/votes.csv", headers={"Authorization": f"Bearer {tokens[0]}"}).status_code == 403
    r = client.get("/s/st/admin/votes.csv", headers={"Authorization": f"Bearer {admin}"})
    assert r.status_code == 200 and r.text.startswith("study,rater,item")
    r = client.get("/s/st/admin/results.json", headers={"Authorization": f"Bearer {admin}"})
    assert r.status_code == 200 and isinstance(r.json()["results"], list)
    assert {"raters", "excluded", "notes", "agreement", "rule"} <= set(r.json())
