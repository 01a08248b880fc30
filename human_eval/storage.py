"""Database engines for studies: SQLite (WAL) by default, PostgreSQL (or any SQLAlchemy URL)
by `--db URL`, schema kept by alembic migrations from the first one on.

The default database of a run is `runs/<name>/human_eval/studies.sqlite`; the environment
variable BENCH_HUMAN_EVAL_DB overrides it for every run.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.errors import BenchError

MIGRATIONS = Path(__file__).parent / "migrations"
DB_ENV = "BENCH_HUMAN_EVAL_DB"
DEFAULT_DB_NAME = "studies.sqlite"


class StorageError(BenchError):
    """The study database cannot be opened or is not at the schema this code expects."""


def default_db_url(run_dir: str | Path) -> str:
    if os.environ.get(DB_ENV):
        return os.environ[DB_ENV]
    path = Path(run_dir).resolve() / "human_eval" / DEFAULT_DB_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    # WAL: readers never block the writer; NORMAL sync is durable across process crashes in WAL mode.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_autocommit_driver(dbapi_conn, _record) -> None:
    # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite would start transactions lazily).
    dbapi_conn.isolation_level = None


def _begin_immediate(conn) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """An engine, a session factory and the write discipline of its backend.

    SQLite allows one writer; a deferred transaction that reads and then writes can fail with
    SQLITE_BUSY (not retried by the busy handler) when another writer got in between. So write
    transactions on SQLite start with BEGIN IMMEDIATE (the write lock first, waited for by the
    busy handler across processes: several server workers may share one file), and within a
    process they also queue on a lock instead of spinning in the busy handler. PostgreSQL
    needs neither.
    """

    def __init__(self, url: str, pool_size: int = 20):
        self.url = url
        kwargs: dict = {"future": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
        try:
            self.engine: Engine = create_engine(url, **kwargs)
        except Exception as exc:  # bad URL, missing driver
            raise StorageError(f"cannot open database {safe_url(url)}: {exc}") from exc
        self.dialect = self.engine.dialect.name
        write_engine = self.engine
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
            write_engine = create_engine(url, **kwargs)
            event.listen(write_engine, "connect", _sqlite_pragmas)
            event.listen(write_engine, "connect", _sqlite_autocommit_driver)
            event.listen(write_engine, "begin", _begin_immediate)
        self._write_engine = write_engine
        self._factory = sessionmaker(self.engine, expire_on_commit=False)
        self._write_factory = sessionmaker(write_engine, expire_on_commit=False)
        self.cache: dict = {}  # per-process lookups that never go stale (see human_eval.study.authenticate)
        self._write_lock = threading.Lock() if self.dialect == "sqlite" else contextlib.nullcontext()

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        with self._factory() as session:
            yield session

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """One transaction, committed on success and rolled back on any error."""
        with self._write_lock, self._write_factory() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
        self._write_engine.dispose()


def safe_url(url: str) -> str:
    """The URL with its password hidden, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"


def _alembic_config():
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def migrate(db: Database) -> str:
    """Bring the schema to the newest revision (creating it on a new database); returns it."""
    from alembic import command
    from alembic.script import ScriptDirectory

    cfg = _alembic_config()
    with db._write_lock:
        try:
            with db.engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except Exception as exc:
            raise StorageError(f"cannot migrate database {safe_url(db.url)}: {exc}") from exc
    return ScriptDirectory.from_config(cfg).get_current_head()


def current_revision(db: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def open_database(url: str, create: bool = True) -> Database:
    """Open `url`, migrating it to the newest schema; `create=False` refuses a database
    without studies (a mistyped URL) instead of creating one."""
    db = Database(url)
    if not create:
        try:
            tables = set(inspect(db.engine).get_table_names())
        except Exception as exc:
            raise StorageError(f"cannot open database {safe_url(url)}: {exc}") from exc
        if "studies" not in tables:
            raise StorageError(f"{safe_url(url)} holds no studies; create one with `bench human-eval create`")
    migrate(db)
    return db
