"""A real browser opens the report from disk: headless Debian Chromium driven by Playwright,
background networking off. The tables are there, an <audio> and a <video> load and play, no
request leaves the machine (only file:// is fetched), and a screenshot is kept."""

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-gpu", "--autoplay-policy=no-user-gesture-required"]


def _need_browser():
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reason = "playwright is not installed"
    else:
        reason = None if Path(CHROMIUM).exists() or shutil.which("chromium") else f"{CHROMIUM} is absent"
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set: the browser test must run)")
        pytest.skip(reason)


@pytest.mark.slow
def test_report_opens_offline_and_plays(scored_run, tmp_path):
    _need_browser()
    from playwright.sync_api import sync_playwright

    from reports.html import write_report

    page_path = write_report(scored_run, gallery_clips=2)
    requests = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium") or CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})

            def route(r):  # record every request; anything that is not a local file is refused
                requests.append(r.request.url)
                if r.request.url.startswith("file://"):
                    r.continue_()
                else:
                    r.abort()

            page.route("**/*", route)
            page.goto(page_path.as_uri())
            assert page.title().startswith("Run demo")
            table = page.locator("table.results").first
            assert table.locator("tbody tr").count() == 3
            assert "flaky (3 failed)" in table.inner_text()
            assert page.locator("td.best b").count() >= 1
            # clicking a header sorts by it: FD ascending, then descending (flaky's 30.1 first)
            fd = table.locator("thead tr:last-child th.sort", has_text="FD↓")
            fd.click()
            assert table.locator("tbody tr th").first.inner_text() == "reference"
            fd.click()
            assert table.locator("tbody tr th").first.inner_text() == "flaky (3 failed)"
            for selector in ("video", "audio"):
                el = page.locator(selector).first
                el.evaluate("e => { e.muted = true; return e.play(); }")
                page.wait_for_function(f"() => document.querySelector('{selector}').currentTime > 0.2", timeout=15000)
                assert el.evaluate("e => e.error === null && e.readyState >= 2")
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    print(f"screenshot: {shot}")
    assert shot.stat().st_size > 10_000
    assert requests and all(u.startswith("file://") for u in requests), [u for u in requests if not u.startswith("file://")]
    assert any(u.endswith(".mp4") for u in requests) and any(u.endswith(".wav") for u in requests)


@pytest.mark.slow
def test_wide_tables_fit_the_page_at_1280_and_390_px(scored_run, tmp_path, metric_writer):
    """A run with 16 metric columns: the page never gets wider than the window (1280 px laptop,
    390 px phone); the table scrolls inside its own box and its first column stays in view when
    scrolled. Screenshots: $BENCH_TEST_ARTIFACTS/reports/ (default: the test's tmp folder)."""
    _need_browser()
    from playwright.sync_api import sync_playwright

    from reports.html import write_report

    metric_rows, write_metric = metric_writer
    run = tmp_path / "wide"
    shutil.copytree(scored_run, run, ignore=shutil.ignore_patterns("report"))
    systems = ("reference", "shuffled", "flaky")
    rows = []
    for i in range(13):
        rows += metric_rows("wide", f"metric_{i:02d}", {s: 10.0 + i + j for j, s in enumerate(systems)}, False,
                            "pretrained")
    write_metric(run, "wide", rows)
    write_metric(run, "kl", metric_rows("kl", "kl_softmax", {"reference": -0.000511, "shuffled": 1.9, "flaky": 2.4},
                                        False, "pretrained"))
    page_path = write_report(run, gallery_clips=0, case_studies=0)
    shots = Path(os.environ.get("BENCH_TEST_ARTIFACTS", tmp_path)) / "reports"
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium") or CHROMIUM, args=ARGS)
        try:
            for width, height in ((1280, 900), (390, 844)):
                page = browser.new_page(viewport={"width": width, "height": height}, is_mobile=width < 500)
                page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file://") else r.abort())
                page.goto(page_path.as_uri())
                box = page.locator(".table-scroll").first
                got = page.evaluate("""() => {
                    const box = document.querySelector('.table-scroll');
                    return {page: document.documentElement.scrollWidth, window: window.innerWidth,
                            inner: box.scrollWidth, shown: box.clientWidth,
                            boxRight: box.getBoundingClientRect().right}; }""")
                assert got["page"] <= got["window"], (width, got)  # nothing runs off the page
                assert got["boxRight"] <= got["window"] + 0.5, (width, got)
                assert got["inner"] > got["shown"], (width, got)  # 16 columns: the table scrolls inside its box
                box.scroll_into_view_if_needed()
                page.screenshot(path=str(shots / f"table_{width}.png"))
                box.evaluate("b => { b.scrollLeft = b.scrollWidth; }")
                first = page.evaluate("""() => {
                    const box = document.querySelector('.table-scroll').getBoundingClientRect();
                    const th = document.querySelector('.table-scroll tbody th').getBoundingClientRect();
                    return {box: box.left, th: th.left, thRight: th.right}; }""")
                assert abs(first["th"] - first["box"]) <= 2, (width, first)  # the label column stuck in place
                page.screenshot(path=str(shots / f"table_{width}_scrolled.png"))
                if width == 390:
                    page.screenshot(path=str(shots / "report_390_full.png"), full_page=True)
                text = box.inner_text()
                assert "reference" in text and "flaky (3 failed)" in text
                assert "≈0" in page.locator("#table-metrics").inner_text()
                assert "audioldm_eval" in page.content() and "-0.000511" not in page.locator("#table-metrics").inner_text()
                page.close()
        finally:
            browser.close()
    for name in ("table_1280.png", "table_390.png", "table_1280_scrolled.png", "table_390_scrolled.png"):
        assert (shots / name).stat().st_size > 5_000
