"""Storage on SQLite (WAL) and PostgreSQL: migrations create exactly the models' schema, and the
same vote submitted concurrently (double click, retry) is stored once."""

import threading

import pytest
from sqlalchemy import func, select, text

from human_eval.models import Base, Vote
from human_eval.storage import StorageError, current_revision, migrate, open_database
from human_eval.study import authenticate, invite, progress, submit_vote

from .conftest import make_study


def test_migrations_create_the_models_schema(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    db = open_database(db_url)
    assert current_revision(db) == "0002"
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    assert migrate(db) == "0002"  # idempotent on an up-to-date database
    db.dispose()


def test_sqlite_uses_wal(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'w.sqlite'}")
    with db.engine.connect() as c:
        assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_opening_a_database_without_studies_is_refused(tmp_path):
    with pytest.raises(StorageError, match="holds no studies"):
        open_database(f"sqlite:///{tmp_path / 'empty.sqlite'}", create=False)
    with pytest.raises(StorageError, match="cannot open database"):
        open_database("nosuchdialect://x/y")


def test_concurrent_identical_votes_are_stored_once(db_url, tmp_path):
    db, _ = make_study(db_url, tmp_path / "run", play_fraction=0.0, raters=2)
    (slot, token), *_ = invite(db, "st", 2)
    study, rater = authenticate(db, "st", token)
    current = progress(db, rater)
    answers = ({"semantic": "left", "dynamic": "tie", "overall": "right"} if current.item.kind == "pairwise"
               else {"ovl": "7", "rel": "3"})
    results, barrier = [], threading.Barrier(8)

    def submit():
        barrier.wait()
        results.append(submit_vote(db, study, rater, current.current.id, answers, "same-submission"))

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["duplicate"] * 7 + ["stored"]
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Vote)) == len(answers)
        stored = {v.question: v.answer for v in s.scalars(select(Vote))}
        vote = s.scalars(select(Vote)).first()
    assert stored == answers
    assert vote.rater_id == rater.id and vote.time_spent_ms is not None and vote.shown_at is not None
    assert progress(db, rater).done == 1
    db.dispose()


def test_concurrent_first_play_events_make_one_progress_row(db_url, tmp_path):
    from human_eval.models import PlayEvent, PlayProgress
    from human_eval.study import record_play

    db, _ = make_study(db_url, tmp_path / "run", raters=1)
    token = invite(db, "st", 1)[0][1]
    _, rater = authenticate(db, "st", token)
    current = progress(db, rater)
    barrier, errors = threading.Barrier(6), []

    def play():
        barrier.wait()
        try:
            record_play(db, rater, current.current.id, "left", "play", 0.0)
        except Exception as exc:  # a unique-key collision would land here
            errors.append(exc)

    threads = [threading.Thread(target=play) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(PlayProgress)) == 1
        assert s.scalar(select(func.count()).select_from(PlayEvent)) == 6
    db.dispose()
