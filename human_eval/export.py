"""Raw votes as one tidy table (`bench human-eval export` writes it as CSV; aggregation reads it).

One row per (rater, item, question): who (rater slot, never the token), what was shown (clip,
systems A/B, which one was on the left, the item's position in the rater's sequence, attention
check and its expected answer), the answer both as pressed (left/tie/right, 1–10) and in system
terms (`winner`: the preferred system or "tie"), and when (shown, answered, time spent).
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select

from human_eval.models import Assignment, Item, Rater, Vote
from human_eval.storage import Database

COLUMNS = ["study", "rater", "item", "kind", "clip_id", "check", "expected", "system_a", "system_b", "a_on_left",
           "left_system", "right_system", "position", "question", "answer", "winner", "shown_at", "answered_at",
           "time_spent_ms", "submission_id"]


def votes_frame(db: Database, study_id: str) -> pd.DataFrame:
    with db.read() as s:
        rows = s.execute(
            select(Rater.slot, Item.id, Item.kind, Item.clip_id, Item.check, Item.expected, Item.system_a, Item.system_b,
                   Assignment.a_on_left, Assignment.position, Vote.question, Vote.answer, Vote.shown_at,
                   Vote.answered_at, Vote.time_spent_ms, Vote.submission_id)
            .join(Assignment, Vote.assignment_id == Assignment.id)
            .join(Item, Assignment.item_id == Item.id)
            .join(Rater, Vote.rater_id == Rater.id)
            .where(Rater.study_id == study_id)
            .order_by(Rater.slot, Assignment.position, Vote.question)).all()
    out = []
    for (slot, item_id, kind, clip, check, expected, sa, sb, a_left, pos, q, ans, shown, answered, spent, sub) in rows:
        left, right = (sa, sb) if a_left else (sb, sa)
        winner = None
        if kind == "pairwise":
            winner = {"left": left, "right": right, "tie": "tie"}[ans]
        out.append(dict(study=study_id, rater=slot, item=item_id, kind=kind, clip_id=clip, check=check,
                        expected=expected, system_a=sa, system_b=sb, a_on_left=bool(a_left),
                        left_system=left if kind == "pairwise" else sa, right_system=right if kind == "pairwise" else None,
                        position=pos, question=q, answer=ans, winner=winner, shown_at=shown, answered_at=answered,
                        time_spent_ms=spent, submission_id=sub))
    return pd.DataFrame(out, columns=COLUMNS)
