"""The first schema: studies, raters, items, assignments, play progress and events, votes.

Revision ID: 0001
Revises:
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "studies",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("run_dir", sa.Text(), nullable=False),
        sa.Column("dataset", sa.String(200), nullable=False),
        sa.Column("systems", sa.Text(), nullable=False),
        sa.Column("settings", sa.Text(), nullable=False),
        sa.Column("secret", sa.String(100), nullable=False),
        sa.Column("admin_token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
    )
    op.create_table(
        "raters",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("study_id", sa.String(64), sa.ForeignKey("studies.id"), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=True, unique=True),
        sa.Column("invited_at", TS, nullable=True),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.UniqueConstraint("study_id", "slot", name="uq_raters_study_slot"),
    )
    op.create_index("ix_raters_study_id", "raters", ["study_id"])
    op.create_table(
        "items",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("study_id", sa.String(64), sa.ForeignKey("studies.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("clip_id", sa.String(300), nullable=False),
        sa.Column("caption", sa.Text(), nullable=True),
        sa.Column("system_a", sa.String(100), nullable=False),
        sa.Column("system_b", sa.String(100), nullable=True),
        sa.Column("check", sa.String(16), nullable=True),
        sa.Column("expected", sa.String(8), nullable=True),
        sa.Column("media_a", sa.String(200), nullable=False),
        sa.Column("media_b", sa.String(200), nullable=True),
        sa.Column("duration", sa.Float(), nullable=False),
    )
    op.create_index("ix_items_study_id", "items", ["study_id"])
    op.create_table(
        "assignments",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("rater_id", sa.Integer(), sa.ForeignKey("raters.id"), nullable=False),
        sa.Column("item_id", sa.Integer(), sa.ForeignKey("items.id"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("a_on_left", sa.Boolean(), nullable=False),
        sa.Column("shown_at", TS, nullable=True),
        sa.UniqueConstraint("rater_id", "position", name="uq_assignments_rater_position"),
        sa.UniqueConstraint("rater_id", "item_id", name="uq_assignments_rater_item"),
    )
    op.create_index("ix_assignments_rater_id", "assignments", ["rater_id"])
    op.create_table(
        "play_progress",
        sa.Column("assignment_id", sa.Integer(), sa.ForeignKey("assignments.id"), primary_key=True),
        sa.Column("side", sa.String(8), primary_key=True),
        sa.Column("first_play_at", TS, nullable=False),
        sa.Column("played_s", sa.Float(), nullable=False),
    )
    op.create_table(
        "play_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("assignment_id", sa.Integer(), sa.ForeignKey("assignments.id"), nullable=False),
        sa.Column("side", sa.String(8), nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("position", sa.Float(), nullable=False),
        sa.Column("received_at", TS, nullable=False),
    )
    op.create_index("ix_play_events_assignment_id", "play_events", ["assignment_id"])
    op.create_table(
        "votes",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("assignment_id", sa.Integer(), sa.ForeignKey("assignments.id"), nullable=False),
        sa.Column("rater_id", sa.Integer(), sa.ForeignKey("raters.id"), nullable=False),
        sa.Column("question", sa.String(16), nullable=False),
        sa.Column("answer", sa.String(8), nullable=False),
        sa.Column("submission_id", sa.String(64), nullable=False),
        sa.Column("shown_at", TS, nullable=True),
        sa.Column("answered_at", TS, nullable=False),
        sa.Column("time_spent_ms", sa.Integer(), nullable=True),
        sa.UniqueConstraint("assignment_id", "question", name="uq_votes_assignment_question"),
    )
    op.create_index("ix_votes_assignment_id", "votes", ["assignment_id"])
    op.create_index("ix_votes_rater_id", "votes", ["rater_id"])


def downgrade() -> None:
    for table in ("votes", "play_events", "play_progress", "assignments", "items", "raters", "studies"):
        op.drop_table(table)
