"""Backend-specific SQL kept in one place: INSERT … ON CONFLICT DO NOTHING (SQLite, PostgreSQL)."""

from __future__ import annotations


def insert_ignore(session, model, rows: list[dict], conflict_columns: list[str]) -> int:
    """Insert rows, skipping any that collide on `conflict_columns`; returns how many went in.

    Under concurrency (a double click, two first play events) the unique key, not an earlier
    read, decides which row is stored; the others are skipped instead of failing.
    """
    name = session.get_bind().dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        from human_eval.storage import StorageError

        raise StorageError(f"database backend {name!r} is not supported for studies: use SQLite or PostgreSQL")
    # One cached statement per row (a multi-row VALUES is compiled anew each time), and RETURNING
    # rather than rowcount, which psycopg reports as -1 for some insert forms.
    key = getattr(model, conflict_columns[0])
    stmt = insert(model).on_conflict_do_nothing(index_elements=conflict_columns).returning(key)
    # Core execution on the session's connection: the ORM bulk-insert path costs more than the SQL.
    conn = session.connection()
    return sum(conn.execute(stmt, row).first() is not None for row in rows)
