"""Raw votes as one tidy table (`bench human-eval export` writes it as CSV; aggregation reads it).

One row per (rater, item, question): who (rater slot, never the token), what was shown (clip,
systems A/B, which one was on the left, the item's position in the rater's sequence, attention
check and its expected answer), the answer both as pressed (left/tie/right, 1–10) and in system
terms (`winner`: the preferred system or "tie"), and when (shown, answered, time spent).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import select

from human_eval.models import Assignment, Item, Rater, Vote
from human_eval.storage import Database

COLUMNS = ["study", "rater", "item", "kind", "clip_id", "check", "expected", "system_a", "system_b", "a_on_left",
           "left_system", "right_system", "position", "question", "answer", "winner", "shown_at", "answered_at",
           "time_spent_ms", "submission_id"]


TIMESTAMPS = ("shown_at", "answered_at", "submission_id")


def votes_frame(db: Database, study_id: str, timestamps: bool = True) -> pd.DataFrame:
    """The study's votes; `timestamps=False` leaves shown_at, answered_at and submission_id
    empty (aggregation does not read them, and parsing 20,000 datetimes is most of the cost)."""
    from sqlalchemy import null

    stamps = (Vote.shown_at, Vote.answered_at, Vote.submission_id) if timestamps else (null(), null(), null())
    with db.read() as s:
        rows = s.connection().execute(  # Core rows: the ORM's per-row processing is most of the time
            select(Rater.slot, Item.id, Item.kind, Item.clip_id, Item.check, Item.expected, Item.system_a, Item.system_b,
                   Assignment.a_on_left, Assignment.position, Vote.question, Vote.answer, stamps[0],
                   stamps[1], Vote.time_spent_ms, stamps[2])
            .join(Assignment, Vote.assignment_id == Assignment.id)
            .join(Item, Assignment.item_id == Item.id)
            .join(Rater, Vote.rater_id == Rater.id)
            .where(Rater.study_id == study_id)
            .order_by(Rater.slot, Assignment.position, Vote.question)).all()
    names = ["rater", "item", "kind", "clip_id", "check", "expected", "system_a", "system_b", "a_on_left", "position",
             "question", "answer", "shown_at", "answered_at", "time_spent_ms", "submission_id"]
    df = pd.DataFrame(dict(zip(names, zip(*rows))) if rows else {n: [] for n in names}, columns=names)
    if not len(df):
        return pd.DataFrame(columns=COLUMNS)
    df["study"] = study_id
    df["a_on_left"] = df["a_on_left"].astype(bool)
    pairwise = (df["kind"] == "pairwise").to_numpy()
    a_left = df["a_on_left"].to_numpy()
    sa, sb = df["system_a"].to_numpy(object), df["system_b"].to_numpy(object)
    left, right = np.where(a_left, sa, sb), np.where(a_left, sb, sa)
    answer = df["answer"].to_numpy(object)
    winner = np.where(answer == "left", left, np.where(answer == "right", right, "tie"))
    df["winner"] = np.where(pairwise, winner, None)
    df["left_system"] = np.where(pairwise, left, sa)
    df["right_system"] = np.where(pairwise, right, None)
    return df[COLUMNS]
