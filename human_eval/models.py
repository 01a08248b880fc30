"""The study database schema (SQLAlchemy ORM). Migrations in `human_eval/migrations/` create it;
`tests/human_eval/test_storage.py` checks that they and these models agree.

    studies      one per study: its run folder, systems, settings, server secret, admin token hash
    raters       one slot per invited rater: only the sha256 of the invitation token is kept
    items        what can be shown: a pairwise pair (clip, system A, system B) or a single clip;
                 attention checks are items too (`check` = identical | degraded)
    assignments  item × rater with its position in the rater's sequence and left/right order
    play_progress  how long each side of an assignment was really played (server's clock, one side at a time)
    play_events  the raw play events the page sent (audit trail)
    votes        one answer per (assignment, question); the unique key makes retries idempotent
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite gives back naive datetimes; everything stored here is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    pass


class Study(Base):
    __tablename__ = "studies"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_dir: Mapped[str] = mapped_column(Text)
    dataset: Mapped[str] = mapped_column(String(200))
    systems: Mapped[str] = mapped_column(Text)  # JSON list
    settings: Mapped[str] = mapped_column(Text)  # JSON: seed, play_fraction, per_rater, ...
    secret: Mapped[str] = mapped_column(String(100))  # server-side only: CSRF HMAC key
    admin_token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Rater(Base):
    __tablename__ = "raters"
    __table_args__ = (UniqueConstraint("study_id", "slot", name="uq_raters_study_slot"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    study_id: Mapped[str] = mapped_column(ForeignKey("studies.id"), index=True)
    slot: Mapped[int] = mapped_column(Integer)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    invited_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Item(Base):
    __tablename__ = "items"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    study_id: Mapped[str] = mapped_column(ForeignKey("studies.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # pairwise | single
    clip_id: Mapped[str] = mapped_column(String(300))
    caption: Mapped[str | None] = mapped_column(Text, nullable=True)
    system_a: Mapped[str] = mapped_column(String(100))
    system_b: Mapped[str | None] = mapped_column(String(100), nullable=True)
    check: Mapped[str | None] = mapped_column(String(16), nullable=True)  # identical | degraded
    expected: Mapped[str | None] = mapped_column(String(8), nullable=True)  # a | b | tie (overall)
    media_a: Mapped[str] = mapped_column(String(200))  # file name in the study's media folder
    media_b: Mapped[str | None] = mapped_column(String(200), nullable=True)
    duration: Mapped[float] = mapped_column(Float)


class Assignment(Base):
    __tablename__ = "assignments"
    __table_args__ = (UniqueConstraint("rater_id", "position", name="uq_assignments_rater_position"),
                      UniqueConstraint("rater_id", "item_id", name="uq_assignments_rater_item"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rater_id: Mapped[int] = mapped_column(ForeignKey("raters.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    position: Mapped[int] = mapped_column(Integer)
    a_on_left: Mapped[bool] = mapped_column(Boolean)
    shown_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class PlayProgress(Base):
    __tablename__ = "play_progress"
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), primary_key=True)
    side: Mapped[str] = mapped_column(String(8), primary_key=True)  # left | right
    first_play_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Seconds of this side credited by the server's clock: the sum of the intervals during which
    # it was the one side playing (a play of the other side ends its interval), at most the duration.
    played_s: Mapped[float] = mapped_column(Float, default=0.0)
    playing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class PlayEvent(Base):
    __tablename__ = "play_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    side: Mapped[str] = mapped_column(String(8))
    event: Mapped[str] = mapped_column(String(16))  # play | progress | ended | pause
    position: Mapped[float] = mapped_column(Float)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Vote(Base):
    __tablename__ = "votes"
    __table_args__ = (UniqueConstraint("assignment_id", "question", name="uq_votes_assignment_question"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    rater_id: Mapped[int] = mapped_column(ForeignKey("raters.id"), index=True)
    question: Mapped[str] = mapped_column(String(16))  # semantic | dynamic | overall | ovl | rel
    answer: Mapped[str] = mapped_column(String(8))  # left | tie | right, or "1".."10"
    submission_id: Mapped[str] = mapped_column(String(64))
    shown_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    answered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    time_spent_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
