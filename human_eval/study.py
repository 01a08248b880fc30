"""Study operations on the database: create a study from a plan, invite raters, and the
rater-side steps the web app drives (authenticate, next item, play events, votes).

Everything a rater may do is checked here, not only in the page: the token (hash) must belong
to the study in the URL and the study must be open; an assignment must be the rater's own; a
vote is accepted only after both samples were played far enough, as measured by the server's
own clock between play events, one side at a time, on the item on screen (record_play).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update

from human_eval.dialect import insert_ignore
from core.errors import BenchError
from human_eval.assign import PAIRWISE_QUESTIONS, RATING_QUESTIONS, Plan
from human_eval.models import (Assignment, Item, PlayEvent, PlayProgress, Rater, Study, Vote, as_utc, utcnow)
from human_eval.storage import Database, safe_url
from human_eval.tokens import new_token, token_hash

END_TOLERANCE_S = 0.3  # `ended` may fire a frame or two before the reported duration
PAIR_ANSWERS = ("left", "tie", "right")
RATING_ANSWERS = tuple(str(i) for i in range(1, 11))


class StudyError(BenchError):
    """A study id, rater slot or setting is wrong (CLI-facing)."""


class Refused(Exception):
    """A rater request the server refuses; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class Media:
    name: str  # file name in the study's media folder
    duration: float


def create_study(db: Database, study_id: str, plan: Plan, run_dir: str, dataset: str, systems: list[str],
                 settings: dict, media: dict[tuple, Media], captions: dict[str, str | None],
                 expires_days: float = 30.0) -> str:
    """Store the study, its items and every rater slot's assignments; returns the admin token.

    `media` maps (system, clip_id, variant) — variant "", "degraded" or "copy" (an identical
    check's second sample: the same music, other bytes; optional) — to the file shown.
    """
    admin = new_token()
    now = utcnow()
    with db.write() as s:
        if s.get(Study, study_id) is not None:
            raise StudyError(f"study {study_id!r} already exists in {safe_url(db.url)}; pick another --name")
        s.add(Study(id=study_id, run_dir=str(run_dir), dataset=dataset, systems=json.dumps(systems),
                    settings=json.dumps(settings), secret=secrets.token_hex(32), admin_token_hash=token_hash(admin),
                    created_at=now, expires_at=now + timedelta(days=expires_days)))
        s.flush()  # no ORM relationships: the study row must exist before its items reference it
        rows = []
        for it in plan.items:
            a = media[(it.system_a, it.clip_id, "")]
            b = None
            if it.kind == "pairwise":
                variant = {"degraded": "degraded", "identical": "copy"}.get(it.check or "", "")
                # an identical pair's B is a byte-different copy of A when one was made
                b = media.get((it.system_b, it.clip_id, variant)) or media[(it.system_b, it.clip_id, "")]
            rows.append(Item(study_id=study_id, kind=it.kind, clip_id=it.clip_id, caption=captions.get(it.clip_id),
                             system_a=it.system_a, system_b=it.system_b, check=it.check, expected=it.expected,
                             media_a=a.name, media_b=b.name if b else None, duration=a.duration))
        s.add_all(rows)
        s.flush()
        for slot, seq in enumerate(plan.raters):
            rater = Rater(study_id=study_id, slot=slot)
            s.add(rater)
            s.flush()
            s.add_all([Assignment(rater_id=rater.id, item_id=rows[idx].id, position=pos, a_on_left=left)
                       for pos, (idx, left) in enumerate(seq)])
    db.cache.pop(("study", study_id), None)  # an earlier miss in this process must not hide it
    return admin


def get_study(db: Database, study_id: str) -> Study:
    with db.read() as s:
        study = s.get(Study, study_id)
    if study is None:
        with db.read() as s:
            known = s.scalars(select(Study.id)).all()
        raise StudyError(f"no study {study_id!r} in the database; known: {', '.join(known) or '(none)'}")
    return study


def invite(db: Database, study_id: str, count: int) -> list[tuple[int, str]]:
    """Issue tokens for the next `count` uninvited rater slots: [(slot, token)]."""
    get_study(db, study_id)
    out = []
    with db.write() as s:
        free = s.scalars(select(Rater).where(Rater.study_id == study_id, Rater.token_hash.is_(None))
                         .order_by(Rater.slot).limit(count)).all()
        if len(free) < count:
            total = s.scalar(select(func.count()).select_from(Rater).where(Rater.study_id == study_id))
            raise StudyError(f"study {study_id!r} has {len(free)} uninvited rater slots of {total}; asked for {count} "
                             "(create a study with more --raters)")
        for rater in free:
            token = new_token()
            rater.token_hash, rater.invited_at = token_hash(token), utcnow()
            out.append((rater.slot, token))
    db.cache.pop(("tokens", study_id), None)  # this process sees the new tokens at once
    return out


def new_admin_token(db: Database, study_id: str) -> str:
    """Replace the study's admin token (the old one stops working)."""
    token = new_token()
    with db.write() as s:
        study = s.get(Study, study_id)
        if study is None:
            raise StudyError(f"no study {study_id!r}")
        study.admin_token_hash = token_hash(token)
    return token


def check_admin(db: Database, study_id: str, token: str | None) -> Study:
    import hmac

    with db.read() as s:
        study = s.get(Study, study_id)
    if study is None or not token or not hmac.compare_digest(study.admin_token_hash, token_hash(token)):
        raise Refused(403, "results need this study's admin token")
    return study


STUDY_CACHE_S = 5.0  # how long a served process trusts its copy of a study row (expiry, settings)


def _cached_study(db: Database, study_id: str) -> Study | None:
    """The study row, cached per process for STUDY_CACHE_S; an unknown id is cached too (as
    None), so requests for made-up studies do not reach the database each time."""
    import time

    hit = db.cache.get(("study", study_id))
    if hit is not None and time.monotonic() - hit[1] < STUDY_CACHE_S:
        return hit[0]
    with db.read() as s:
        study = s.get(Study, study_id)
    db.cache[("study", study_id)] = (study, time.monotonic())
    return study


TOKEN_REFRESH_S = 2.0  # an unknown token re-reads the study's token hashes at most this often


def _study_tokens(db: Database, study_id: str, refresh: bool) -> tuple[dict, float]:
    """{token hash: rater} of a study's invited raters, cached per process (a token's rater
    never changes); re-read when `refresh` and the copy is older than TOKEN_REFRESH_S."""
    import time

    hit = db.cache.get(("tokens", study_id))
    if hit is not None and not (refresh and time.monotonic() - hit[1] >= TOKEN_REFRESH_S):
        return hit
    with db.read() as s:
        raters = s.scalars(select(Rater).where(Rater.study_id == study_id, Rater.token_hash.is_not(None))).all()
    hit = ({r.token_hash: r for r in raters}, time.monotonic())
    db.cache[("tokens", study_id)] = hit
    return hit


def authenticate(db: Database, study_id: str, token: str) -> tuple[Study, Rater]:
    """The study and rater of an invitation; refuses forged, other-study and expired tokens.

    The study's token hashes are cached per process: a known token costs no query, and an
    unknown one (forged, or invited since the copy was read) re-reads them at most every
    TOKEN_REFRESH_S, so a flood of forged tokens never reaches the database more often than that.
    """
    digest = token_hash(token)
    study = _cached_study(db, study_id)
    rater = None
    if study is not None:
        tokens, _ = _study_tokens(db, study.id, refresh=False)
        rater = tokens.get(digest)
        if rater is None:
            tokens, _ = _study_tokens(db, study.id, refresh=True)
            rater = tokens.get(digest)
    if rater is None or study is None or rater.study_id != study.id:
        raise Refused(403, "this invitation link is not valid for this study")
    if as_utc(study.expires_at) < utcnow():
        raise Refused(403, f"this study closed on {as_utc(study.expires_at):%Y-%m-%d}")
    return study, rater


@dataclass
class Progress:
    done: int
    total: int
    current: Assignment | None
    item: Item | None
    played: dict  # side -> seconds played (server-measured)


def progress(db: Database, rater: Rater, mark_shown: bool = True) -> Progress:
    """Where the rater stands: the first assignment (by position) without votes is current."""
    voted = select(Vote.id).where(Vote.assignment_id == Assignment.id).exists()
    with db.read() as s:  # plain (id, voted) rows: loading every ORM object would dominate the request
        rows = s.execute(select(Assignment.id, voted).where(Assignment.rater_id == rater.id)
                         .order_by(Assignment.position)).all()
    total, done = len(rows), sum(1 for _, v in rows if v)
    current_id = next((a for a, v in rows if not v), None)
    if current_id is None:
        return Progress(done, total, None, None, {})
    if mark_shown:
        with db.read() as s:
            shown = s.scalar(select(Assignment.shown_at).where(Assignment.id == current_id))
        if shown is None:
            now = utcnow()
            with db.write() as s:
                s.execute(update(Assignment).where(Assignment.id == current_id, Assignment.shown_at.is_(None))
                          .values(shown_at=now))
                s.execute(update(Rater).where(Rater.id == rater.id, Rater.started_at.is_(None)).values(started_at=now))
    with db.read() as s:
        current, item = s.execute(select(Assignment, Item).join(Item, Assignment.item_id == Item.id)
                                  .where(Assignment.id == current_id)).one()
        played = {side: sec for side, sec in s.execute(select(PlayProgress.side, PlayProgress.played_s)
                                                        .where(PlayProgress.assignment_id == current_id))}
    return Progress(done, total, current, item, played)


def _own_assignment(s, rater: Rater, assignment_id: int):
    """(assignment, item) facts of one of the rater's own assignments, as one plain row with
    id, shown_at, kind, duration (no ORM objects: this is on every vote's path)."""
    row = s.connection().execute(select(Assignment.id, Assignment.shown_at, Item.kind, Item.duration)
                    .join(Item, Assignment.item_id == Item.id)
                    .where(Assignment.id == assignment_id, Assignment.rater_id == rater.id)).first()
    if row is None:
        raise Refused(404, "no such item in your study")
    return row, row


def sides(item: Item) -> tuple[str, ...]:
    return ("left", "right") if item.kind == "pairwise" else ("left",)


def current_assignment(s, rater: Rater) -> int | None:
    """The id of the rater's item on screen: the first (by position) without votes."""
    unvoted = ~select(Vote.id).where(Vote.assignment_id == Assignment.id).exists()
    return s.connection().execute(select(Assignment.id).where(Assignment.rater_id == rater.id, unvoted)
                                  .order_by(Assignment.position).limit(1)).scalar()


def _credit(prog: PlayProgress, now, duration: float) -> None:
    """Close `prog`'s open play interval at `now` (the server's clock), crediting at most the duration."""
    since = as_utc(prog.playing_since)
    if since is not None:
        prog.played_s = min(duration, (prog.played_s or 0.0) + max(0.0, (now - since).total_seconds()))
        prog.playing_since = None


def record_play(db: Database, rater: Rater, assignment_id: int, side: str, event: str, position: float) -> float:
    """Store a play event; returns the seconds of that side the server now counts as played.

    Credit is the server's clock, not the page's word: a side earns the wall time between its
    `play` (or first `progress`) and its `pause`/`ended`, one side at a time (a play of the other
    side ends the interval, as the page pauses the other video), at most the clip's duration,
    and only on the item on screen (shown, not yet answered). A script that reports all items
    or both sides at once therefore earns no more than a listener would in the same time.
    """
    if event not in ("play", "progress", "pause", "ended"):
        raise Refused(400, f"unknown play event {event!r}; one of play, progress, pause, ended")
    now = utcnow()
    with db.write() as s:
        a, item = _own_assignment(s, rater, assignment_id)
        if side not in sides(item):
            raise Refused(400, f"this item has no {side!r} sample; sides: {', '.join(sides(item))}")
        if current_assignment(s, rater) != a.id:
            raise Refused(409, "this item is not the one on screen (it was answered, or comes later)")
        if a.shown_at is None:
            raise Refused(409, "load the item's page before playing it")
        s.add(PlayEvent(assignment_id=a.id, side=side, event=event, position=position, received_at=now))

        # Insert-or-ignore: two first events racing on PostgreSQL must not collide.
        insert_ignore(s, PlayProgress, [dict(assignment_id=a.id, side=side, first_play_at=now, played_s=0.0)],
                      ["assignment_id", "side"])
        progs = {p.side: p for p in s.scalars(select(PlayProgress).where(PlayProgress.assignment_id == a.id)
                                              .with_for_update())}
        prog = progs[side]
        if event in ("play", "progress"):
            for other, p in progs.items():
                if other != side:
                    _credit(p, now, item.duration)
            _credit(prog, now, item.duration)
            prog.playing_since = now
        else:
            _credit(prog, now, item.duration)
        return prog.played_s


def required_play_s(study: Study, item: Item) -> float:
    fraction = float(json.loads(study.settings).get("play_fraction", 1.0))
    need = fraction * item.duration
    return need - min(END_TOLERANCE_S, 0.05 * need)


def questions(item: Item) -> tuple[str, ...]:
    return PAIRWISE_QUESTIONS if item.kind == "pairwise" else RATING_QUESTIONS


def submit_vote(db: Database, study: Study, rater: Rater, assignment_id: int, answers: dict[str, str],
                submission_id: str) -> str:
    """Store one item's answers; 'stored', or 'duplicate' for a repeat of the same answers.

    Idempotent: the unique (assignment, question) key keeps a retried or double-clicked
    submission once; different answers to an answered item are refused (409).
    """
    now = utcnow()
    with db.write() as s:
        a, item = _own_assignment(s, rater, assignment_id)
        wanted = questions(item)
        allowed = PAIR_ANSWERS if item.kind == "pairwise" else RATING_ANSWERS
        if set(answers) != set(wanted):
            raise Refused(400, f"answer all of {', '.join(wanted)} (got {', '.join(sorted(answers)) or 'none'})")
        bad = {q: v for q, v in answers.items() if v not in allowed}
        if bad:
            raise Refused(400, f"invalid answers {bad}; allowed: {', '.join(allowed)}")
        need = required_play_s(study, item)
        if need > 0:
            played = dict(s.execute(select(PlayProgress.side, PlayProgress.played_s)
                                    .where(PlayProgress.assignment_id == a.id)).all())
            short = [side for side in sides(item) if played.get(side, 0.0) < need]
            if short and not _answered(s, a.id):
                if item.kind == "pairwise":
                    names = {"left": "A", "right": "B"}
                    raise Refused(409, "play " + " and ".join(names[x] for x in short)
                                  + f" first (at least {need:.1f} s of each)")
                raise Refused(409, f"play the video first (at least {need:.1f} s)")
        # Every vote has a time spent: an item answered without its page ever being loaded
        # (a script) counts as answered in 0 s, which the "too fast" rule then sees.
        shown = as_utc(a.shown_at) or now
        spent = max(0, int((now - shown).total_seconds() * 1000))
        rows = [dict(assignment_id=a.id, rater_id=rater.id, question=q, answer=answers[q], submission_id=submission_id[:64],
                     shown_at=shown, answered_at=now, time_spent_ms=spent) for q in wanted]
        # Insert first (the common case), then look at what was there: the unique key decides.
        inserted = insert_ignore(s, Vote, rows, ["assignment_id", "question"])
        if inserted < len(rows):
            existing = _answered(s, a.id)
            if inserted or existing != answers:
                raise Refused(409, "this item was already answered; answers cannot be changed")
            return "duplicate"
        unvoted = ~select(Vote.id).where(Vote.assignment_id == Assignment.id).exists()
        remaining = s.connection().execute(select(Assignment.id).where(Assignment.rater_id == rater.id, unvoted)
                                           .limit(1)).scalar()
        if remaining is None:
            s.execute(update(Rater).where(Rater.id == rater.id, Rater.finished_at.is_(None)).values(finished_at=now))
    return "stored"


def _answered(s, assignment_id: int) -> dict:
    return dict(s.connection().execute(select(Vote.question, Vote.answer).where(Vote.assignment_id == assignment_id)).all())
