"""Fixtures for the human-evaluation tests: a small generated run, databases on both backends
(SQLite always; PostgreSQL when BENCH_TEST_POSTGRES_URL is set, required under CI) and the app
served by uvicorn on a free loopback port in a background thread."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid

import pytest

PG_ENV = "BENCH_TEST_POSTGRES_URL"


def _pg_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if not url and os.environ.get("CI"):
        pytest.fail(f"{PG_ENV} is not set under CI: source scripts/ci_postgres.sh first")
    return url


@pytest.fixture
def fresh_postgres():
    """A new, empty PostgreSQL database (dropped afterwards); skips without a server."""
    import sqlalchemy as sa

    url = _pg_url()
    if not url:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (scripts/ci_postgres.sh)")
    name = f"bench_he_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield sa.engine.make_url(url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as c:
        c.execute(sa.text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'studies.sqlite'}"
    return request.getfixturevalue("fresh_postgres")


@pytest.fixture
def mini_run(mini_dataset):
    """runs/mini with `reference` and `shuffled` for every clip of the mini dataset (2 s clips)."""
    from bench import api

    _, overrides = mini_dataset
    cfg = api.load_config("toy", ["reference", "shuffled"],
                          [*overrides, "run.name=mini", "run.split=all", "executor.workers=1"], [])
    return api.generate(cfg).run_dir


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """uvicorn serving an ASGI app in a daemon thread; `url` is its loopback address."""

    def __init__(self, app):
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started:
            if time.time() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)


def make_study(db_url: str, run_dir, raters: int = 3, per_rater: int = 4, play_fraction: float = 0.5,
               duration: float = 1.0, study_id: str = "st", captions=None, clips=None, checks: int = 1):
    """A study stored straight from a plan (no run needed); media files are small dummy bytes."""
    from human_eval.assign import build_plan
    from human_eval.create import study_dir
    from human_eval.storage import open_database
    from human_eval.study import Media, create_study

    clips = clips or [f"c{i}" for i in range(4)]
    systems = ["x", "y"]
    plan = build_plan(clips, systems, raters, per_rater, seed=1, single_share=0.25, checks=checks)
    media_dir = study_dir(run_dir, study_id) / "media"
    media_dir.mkdir(parents=True, exist_ok=True)
    media = {}
    for s in systems:
        for c in clips:
            for v in ("", "degraded"):
                name = f"{abs(hash((s, c, v))):x}.mp4"
                (media_dir / name).write_bytes(bytes(range(256)) * 40)
                media[(s, c, v)] = Media(name, duration)
    db = open_database(db_url)
    admin = create_study(db, study_id, plan, str(run_dir), "synthetic", systems, {"play_fraction": play_fraction},
                         media, captions or {})
    return db, admin
