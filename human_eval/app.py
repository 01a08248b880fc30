"""The rating web app (FastAPI, server-rendered jinja2 pages, a little plain JavaScript).

    GET  /s/<study>/r/<token>              instructions (the paper's questions), start/continue
    GET  /s/<study>/r/<token>/item         the current item ("7 of 30") or the thank-you page
    POST /s/<study>/r/<token>/play         play events of sample A/B (JSON, CSRF header)
    POST /s/<study>/r/<token>/vote         one item's answers (form or JSON, CSRF token)
    GET  /s/<study>/r/<token>/media/<name> a sample's video with music, HTTP range requests
    GET  /s/<study>/admin/results.json     aggregated results   (Authorization: Bearer <admin token>)
    GET  /s/<study>/admin/votes.csv        raw votes            (same)

The rater token is checked on every request (human_eval.study.authenticate); pages carry
`Referrer-Policy: no-referrer` so the token in the URL never leaks to other sites, and a strict
Content-Security-Policy (no inline script) backs jinja2's autoescaping.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from human_eval import study as ops
from human_eval.assign import PAIRWISE_QUESTIONS, RATING_QUESTIONS
from human_eval.create import study_dir
from human_eval.storage import Database
from human_eval.tokens import csrf_ok, csrf_token

HERE = Path(__file__).parent
QUESTION_TEXT = {
    "semantic": "Semantic alignment: which music better matches the video's content, style and mood?",
    "dynamic": "Dynamic alignment: which music better follows the video's motion and rhythm?",
    "overall": "Overall: which video with music do you prefer?",
    "ovl": "OVL: how good is the music itself (overall quality)?",
    "rel": "REL: how well does the music fit the video?",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; media-src 'self'; "
                               "img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
                               "base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


def create_app(db: Database, run_dir: str | Path | None = None) -> FastAPI:
    """The app over `db`; with `run_dir`, only that run's studies are served."""
    app = FastAPI(title="DyViM Bench human evaluation", docs_url=None, redoc_url=None, openapi_url=None)
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    only_run = Path(run_dir).resolve() if run_dir is not None else None
    # SQLite calls are sub-millisecond and local: run them on the event loop, where a thread pool
    # would only add GIL and lock contention (a wait for another worker's write lock then holds
    # the loop for that long). PostgreSQL calls wait on the network: thread pool.
    inline = db.dialect == "sqlite"

    async def _offload(fn, *args):
        if inline:
            return fn(*args)
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(fn, *args)

    def page(name: str, status: int = 200, **ctx) -> HTMLResponse:
        return HTMLResponse(env.get_template(name).render(**ctx), status_code=status,
                            headers={"Cache-Control": "no-store"})

    app.add_middleware(SecurityHeaders)

    @app.exception_handler(ops.Refused)
    async def refused(request: Request, exc: ops.Refused):
        if _wants_json(request):
            return JSONResponse({"error": exc.message}, status_code=exc.status)
        return page("error.html", status=exc.status, message=exc.message)

    def rater_of(study_id: str, token: str):
        study, rater = ops.authenticate(db, study_id, token)
        if only_run is not None and Path(study.run_dir).resolve() != only_run:
            raise ops.Refused(403, "this invitation link is not valid for this study")
        return study, rater

    def base_url(study_id: str, token: str) -> str:
        return f"/s/{study_id}/r/{token}"

    @app.get("/", response_class=HTMLResponse)
    def index():
        return page("error.html", status=200, message="Open the invitation link you were sent.")

    @app.get("/s/{study_id}/r/{token}", response_class=HTMLResponse)
    def instructions(study_id: str, token: str):
        study, rater = rater_of(study_id, token)
        prog = ops.progress(db, rater, mark_shown=False)
        return page("instructions.html", base=base_url(study_id, token), progress=prog,
                    pair_questions=[QUESTION_TEXT[q] for q in PAIRWISE_QUESTIONS],
                    rating_questions=[QUESTION_TEXT[q] for q in RATING_QUESTIONS],
                    play_fraction=json.loads(study.settings).get("play_fraction", 1.0))

    @app.get("/s/{study_id}/r/{token}/item", response_class=HTMLResponse)
    def item_page(study_id: str, token: str, error: str | None = None):
        study, rater = rater_of(study_id, token)
        prog = ops.progress(db, rater)
        base = base_url(study_id, token)
        if prog.current is None:
            return page("thanks.html", progress=prog)
        item, a = prog.item, prog.current
        if item.kind == "pairwise":
            left, right = (item.media_a, item.media_b) if a.a_on_left else (item.media_b, item.media_a)
            media = {"left": left, "right": right}
        else:
            media = {"left": item.media_a}
        questions = [(q, QUESTION_TEXT[q]) for q in ops.questions(item)]
        return page("pairwise.html" if item.kind == "pairwise" else "single.html", base=base, item=item,
                    assignment=a, progress=prog, number=prog.done + 1, media=media, questions=questions,
                    csrf=csrf_token(study.secret, rater.id), submission=uuid.uuid4().hex,
                    required=round(ops.required_play_s(study, item), 3), played=prog.played, error=error)

    @app.post("/s/{study_id}/r/{token}/play")
    async def play(study_id: str, token: str, request: Request):
        study, rater = await _offload(rater_of, study_id, token)
        if not csrf_ok(study.secret, rater.id, request.headers.get("x-csrf-token")):
            raise ops.Refused(403, "missing or wrong CSRF token")
        try:
            body = await request.json()
            assignment, side, event = int(body["assignment"]), str(body["side"]), str(body["event"])
            position = body.get("position", 0)
        except (ValueError, KeyError, TypeError):
            raise ops.Refused(400, "send JSON {assignment, side, event, position}") from None
        played = await _offload(ops.record_play, db, rater, assignment, side, event, position)
        return {"played": played}

    @app.post("/s/{study_id}/r/{token}/vote")
    async def vote(study_id: str, token: str, request: Request):
        is_json = request.headers.get("content-type", "").startswith("application/json")
        try:
            data = await request.json() if is_json else dict(await request.form())
        except ValueError:
            raise ops.Refused(400, "the request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise ops.Refused(400, "send a JSON object")
        csrf = request.headers.get("x-csrf-token") or data.get("csrf")
        try:
            status = await _offload(_vote, study_id, token, csrf, data, is_json)
        except ops.Refused as exc:
            if is_json or exc.status not in (400, 409):
                raise
            from urllib.parse import quote

            return RedirectResponse(f"{base_url(study_id, token)}/item?error={quote(exc.message)}", status_code=303)
        if is_json or _wants_json(request):  # a ready response skips FastAPI's serialisation
            return JSONResponse({"status": status, "next": f"{base_url(study_id, token)}/item"})
        return RedirectResponse(f"{base_url(study_id, token)}/item", status_code=303)

    def _vote(study_id: str, token: str, csrf: str | None, data: dict, is_json: bool) -> str:
        """Authenticate, check and store in one trip to the thread pool."""
        study, rater = rater_of(study_id, token)
        if not csrf_ok(study.secret, rater.id, csrf):
            raise ops.Refused(403, "missing or wrong CSRF token")
        try:
            assignment = int(data.get("assignment", ""))
        except (TypeError, ValueError):
            raise ops.Refused(400, "which item? (assignment missing)") from None
        answers = data.get("answers") if is_json else {q: data[q] for q in (*PAIRWISE_QUESTIONS, *RATING_QUESTIONS)
                                                      if q in data}
        if not isinstance(answers, dict):
            raise ops.Refused(400, "answers must be an object of question: answer")
        answers = {str(k): str(v) for k, v in answers.items()}
        submission = str(data.get("submission") or uuid.uuid4().hex)
        return ops.submit_vote(db, study, rater, assignment, answers, submission)

    @app.get("/s/{study_id}/r/{token}/media/{name:path}")
    def media(study_id: str, token: str, name: str):
        study, rater = rater_of(study_id, token)
        allowed = _rater_media(db, rater.id)
        folder = (study_dir(study.run_dir, study.id) / "media").resolve()
        path = (folder / name).resolve()
        run_root = Path(study.run_dir).resolve()
        # Only files of the rater's own items, and never outside the run folder (../, symlinks).
        if name not in allowed or not path.is_relative_to(folder) or not path.is_relative_to(run_root):
            raise ops.Refused(404, "no such media")
        if not path.is_file():
            raise ops.Refused(404, "media file missing on the server; ask the study's organiser")
        return FileResponse(path, media_type="video/mp4", headers={"Cache-Control": "private, max-age=3600"})

    def admin(study_id: str, request: Request):
        auth = request.headers.get("authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else None
        return ops.check_admin(db, study_id, token)

    @app.get("/s/{study_id}/admin/votes.csv")
    def votes_csv(study_id: str, request: Request):
        from human_eval.export import votes_frame

        admin(study_id, request)
        return Response(votes_frame(db, study_id).to_csv(index=False), media_type="text/csv")

    @app.get("/s/{study_id}/admin/results.json")
    def results_json(study_id: str, request: Request):
        from human_eval.aggregate import ExclusionRule, aggregate
        from human_eval.export import votes_frame

        admin(study_id, request)
        res = aggregate(votes_frame(db, study_id), study_id, ExclusionRule())
        return JSONResponse(json.loads(res.table.to_json(orient="records")))

    return app


class SecurityHeaders:
    """Pure ASGI middleware (cheaper per request than Starlette's BaseHTTPMiddleware): refuses
    cross-site POSTs by their Origin header before any handler runs (CSRF tokens are checked
    after), and adds SECURITY_HEADERS to every response."""

    def __init__(self, app):
        self.app = app
        self.extra = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if scope["method"] == "POST":
            headers = dict(scope["headers"])
            origin = headers.get(b"origin", b"").decode("latin-1")
            if origin and origin != "null" and origin.split("://", 1)[-1] != headers.get(b"host", b"").decode("latin-1"):
                return await PlainTextResponse("cross-site request refused", status_code=403)(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                message = {**message, "headers": [*message.get("headers", []), *(h for h in self.extra if h[0] not in have)]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "") or \
        request.headers.get("content-type", "").startswith("application/json")


SERVE_DB_ENV = "BENCH_HUMAN_EVAL_SERVE_DB"
SERVE_RUN_ENV = "BENCH_HUMAN_EVAL_SERVE_RUN"


def app_from_env() -> FastAPI:
    """The app for `uvicorn --factory` (several worker processes): database URL and run folder
    come from BENCH_HUMAN_EVAL_SERVE_DB and BENCH_HUMAN_EVAL_SERVE_RUN."""
    import os

    from human_eval.storage import open_database

    return create_app(open_database(os.environ[SERVE_DB_ENV]), os.environ.get(SERVE_RUN_ENV) or None)


def _rater_media(db: Database, rater_id: int) -> set[str]:
    from sqlalchemy import select

    from human_eval.models import Assignment, Item

    with db.read() as s:
        rows = s.execute(select(Item.media_a, Item.media_b).join(Assignment, Assignment.item_id == Item.id)
                         .where(Assignment.rater_id == rater_id)).all()
    return {m for row in rows for m in row if m}
