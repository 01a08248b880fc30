"""Alembic environment: run by `human_eval.storage.migrate` with the connection it passes in
`config.attributes["connection"]` (no alembic.ini, no URL in a file)."""

from alembic import context

from human_eval.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes["connection"]
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite")  # SQLite cannot ALTER most things
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
