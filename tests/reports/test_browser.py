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
