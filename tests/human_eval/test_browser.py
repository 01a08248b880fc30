"""A real browser: Debian's headless Chromium driven by Playwright. A rater opens an invitation,
plays both samples, answers with the mouse and the keyboard, reloads mid-study and continues
where they left off; every vote is in the database exactly once; no request fails (favicon
included); the finished rater's instructions offer no "Continue"; at 390 px the question boxes
hold their labels and nothing runs off the screen. Screenshots go to
$BENCH_TEST_ARTIFACTS/human_eval/ (default: the test's tmp folder)."""

import os
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from .conftest import Served

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-gpu", "--mute-audio"]


def _chromium():
    if not (shutil.which("chromium") or os.path.exists(CHROMIUM)):
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing under CI (scripts/test_deps.sh installs it)")
        pytest.skip("Debian's Chromium is not installed")
    return CHROMIUM


def _play(page, side):
    page.click(f"#play-{side}")
    page.wait_for_function(f"() => document.getElementById('video-{side}').ended", timeout=20000)
    page.wait_for_function(f"() => document.getElementById('status-{side}').textContent === 'played'", timeout=10000)


@pytest.mark.slow
def test_rater_session_in_chromium(mini_run, tmp_path):
    from playwright.sync_api import sync_playwright

    from human_eval.app import create_app
    from human_eval.create import create
    from human_eval.models import Assignment, Rater, Vote
    from human_eval.storage import open_database
    from human_eval.study import invite

    exe = _chromium()
    shots = Path(os.environ.get("BENCH_TEST_ARTIFACTS", tmp_path)) / "human_eval"
    shots.mkdir(parents=True, exist_ok=True)
    made = create(mini_run, ["reference", "shuffled"], clips=3, raters=2, per_rater=3, seed=5, name="browser",
                  play_fraction=1.0, checks=1)
    db = open_database(made.db_url)
    token = invite(db, "browser", 1)[0][1]
    with Served(create_app(db, mini_run)) as srv, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=ARGS)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        failed = []
        page.on("response", lambda r: failed.append((r.status, r.url)) if r.status >= 400 else None)
        page.goto(f"{srv.url}/s/browser/r/{token}")
        page.goto(f"{srv.url}/favicon.ico")
        page.goto(f"{srv.url}/s/browser/r/{token}")
        assert "semantic alignment" in page.content().lower()
        page.screenshot(path=str(shots / "instructions.png"), full_page=True)
        page.click("#start")
        total = made.items_per_rater
        for n in range(1, total + 1):
            page.wait_for_selector("#progress")
            assert page.inner_text("#progress") == f"{n} of {total}"
            pairwise = page.get_attribute("#vote-form", "data-kind") == "pairwise"
            assert page.is_disabled("#submit")
            _play(page, "left")
            if pairwise:
                assert page.is_disabled("#submit")  # one sample is not enough
                _play(page, "right")
            assert page.is_enabled("#submit")
            if n == 1:
                page.screenshot(path=str(shots / "item.png"), full_page=True)
            if n == 2:
                # reload mid-item: the server remembers what was played, nothing is stored twice
                page.reload()
                assert page.inner_text("#progress") == f"2 of {total}"
                page.wait_for_function("() => !document.getElementById('submit').disabled", timeout=10000)
            if pairwise and n % 2:
                for q, key in (("semantic", "a"), ("dynamic", "s"), ("overall", "d")):
                    page.keyboard.press(key)
                    assert page.is_checked(f"input[name={q}][value={ {'a': 'left', 's': 'tie', 'd': 'right'}[key] }]")
                page.keyboard.press("Enter")
            elif pairwise:
                for q in ("semantic", "dynamic", "overall"):
                    page.check(f"input[name={q}][value=tie]")
                page.dblclick("#submit")  # a double click stores the vote once
            else:
                page.keyboard.press("7")
                page.keyboard.press("0")
                assert page.is_checked("input[name=rel][value='10']")
                page.click("#submit")
            if n < total:
                page.wait_for_function(f"() => document.getElementById('progress') && "
                                       f"document.getElementById('progress').textContent === '{n + 1} of {total}'",
                                       timeout=15000)
        page.wait_for_selector("#thanks", timeout=15000)
        page.screenshot(path=str(shots / "thanks.png"), full_page=True)
        assert not failed, failed
        # finished: the instructions say so and offer no way back in
        page.goto(f"{srv.url}/s/browser/r/{token}")
        assert page.locator("#start").count() == 0 and page.is_visible("#finished")
        assert page.inner_text("#done-count") == f"{total} of {total} done"
        # a phone-sized viewport: a fresh rater's item pages (one column), every label inside its
        # question's box and below the question text, nothing wider than the screen
        phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
        other = invite(db, "browser", 1)[0][1]
        phone.goto(f"{srv.url}/s/browser/r/{other}")
        phone.screenshot(path=str(shots / "phone.png"), full_page=True)
        kinds = set()
        for n in range(total):
            phone.goto(f"{srv.url}/s/browser/r/{other}/item")
            kind = phone.get_attribute("#vote-form", "data-kind")
            if kind not in kinds:
                phone.screenshot(path=str(shots / f"phone_{kind}.png"), full_page=True)
                kinds.add(kind)
            bad = phone.evaluate("""() => {
                const out = [];
                if (document.documentElement.scrollWidth > window.innerWidth + 1) out.push('page wider than screen');
                document.querySelectorAll('fieldset.question').forEach(f => {
                  const box = f.getBoundingClientRect(), legend = f.querySelector('legend').getBoundingClientRect();
                  f.querySelectorAll('label').forEach(l => {
                    const r = l.getBoundingClientRect();
                    if (r.left < box.left || r.right > box.right + 0.5 || r.bottom > box.bottom) out.push('label outside box');
                    if (r.top < legend.bottom - 0.5) out.push('label over the question text');
                  });
                });
                return out; }""")
            assert not bad, (kind, bad)
            if kinds == {"pairwise", "single"}:
                break
            # move on without listening: this rater's study does not enforce play
            with db.write() as s:
                from human_eval.models import Study

                s.get(Study, "browser").settings = '{"play_fraction": 0.0}'
            db.cache.clear()
            answers = ({q: "tie" for q in ("semantic", "dynamic", "overall")} if kind == "pairwise"
                       else {"ovl": "5", "rel": "5"})
            for q, v in answers.items():
                phone.check(f"input[name={q}][value='{v}']")
            phone.evaluate("() => { document.getElementById('submit').disabled = false; }")
            phone.click("#submit")
            phone.wait_for_timeout(300)
        assert kinds == {"pairwise", "single"}
        browser.close()
    with db.read() as s:
        rater = s.scalar(select(Rater).where(Rater.token_hash.is_not(None)))
        n_assign = s.scalar(select(func.count()).select_from(Assignment).where(Assignment.rater_id == rater.id))
        votes = s.execute(select(Vote.assignment_id, Vote.question, func.count()).where(Vote.rater_id == rater.id)
                          .group_by(Vote.assignment_id, Vote.question)).all()
        assert rater.finished_at is not None
    assert len({a for a, _, _ in votes}) == n_assign == total
    assert all(c == 1 for _, _, c in votes)
    assert (shots / "item.png").stat().st_size > 1000
    # an identical check's two files hold the same music in different bytes
    import hashlib

    from human_eval.models import Item

    with db.read() as s:
        pairs = s.execute(select(Item.media_a, Item.media_b).where(Item.check == "identical")).all()
    media = made.folder / "media"
    for a, b in pairs:
        assert a != b and hashlib.sha256((media / a).read_bytes()).digest() != hashlib.sha256((media / b).read_bytes()).digest()
    db.dispose()
