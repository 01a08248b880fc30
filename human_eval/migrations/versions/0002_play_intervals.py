"""Play credit by the server's clock: the side currently playing and since when.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("play_progress") as batch:
        batch.add_column(sa.Column("playing_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("play_progress") as batch:
        batch.drop_column("playing_since")
