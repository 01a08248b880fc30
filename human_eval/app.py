"""The rating web app (FastAPI, server-rendered jinja2 pages, a little plain JavaScript).

    GET  /s/<study>/r/<token>              instructions (the paper's questions), start/continue
    GET  /s/<study>/r/<token>/item         the current item ("7 of 30") or the thank-you page
    POST /s/<study>/r/<token>/play         play events of sample A/B (JSON, CSRF header)
    POST /s/<study>/r/<token>/vote         one item's answers (form or JSON, CSRF token)
    GET  /s/<study>/r/<token>/media/<name> a sample's video with music (GET/HEAD, HTTP ranges); <name>
                                           is fresh per showing (assignment, side), shown items only
    GET  /s/<study>/admin/results.json     aggregated results with the rater table, exclusions, notes
                                           and agreement (Authorization: Bearer <admin token>)
    GET  /s/<study>/admin/votes.csv        raw votes            (same)

The rater token is checked on every request (human_eval.study.authenticate) before any body
is read, and no body may exceed MAX_BODY_BYTES (413); malformed input is a 400/404/422 with a
message, never a 500. Play credit is the server's clock (human_eval.study.record_play). Pages
carry `Referrer-Policy: no-referrer` so the token in the URL never leaks to other sites, and a
strict Content-Security-Policy (no inline script) backs jinja2's autoescaping.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from human_eval.models import Assignment, Item
from human_eval import study as ops
from human_eval.assign import PAIRWISE_QUESTIONS, RATING_QUESTIONS
from human_eval.create import study_dir
from human_eval.storage import Database, open_database
from human_eval.tokens import MalformedToken, csrf_ok, csrf_token, showing_media_name

HERE = Path(__file__).parent
QUESTION_TEXT = {
    "semantic": "Semantic alignment: which music better matches the video's content, style and mood?",
    "dynamic": "Dynamic alignment: which music better follows the video's motion and rhythm?",
    "overall": "Overall: which video with music do you prefer?",
    "ovl": "OVL: how good is the music itself (overall quality)?",
    "rel": "REL: how well does the music fit the video?",
}
MAX_BODY_BYTES = 64 * 1024  # a vote is ~300 bytes; no route takes more than this
MAX_ID = 2 ** 31 - 1  # ids are 32-bit integers on both backends
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

    @app.exception_handler(BodyTooLarge)
    async def too_large(request: Request, exc: BodyTooLarge):
        return JSONResponse({"error": str(exc)}, status_code=413, headers={"Connection": "close"})

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
        media = {side: showing_media_name(study.secret, a.id, side) for side in ops.sides(item)}
        if error is not None:
            error = error[:300]
        questions = [(q, QUESTION_TEXT[q]) for q in ops.questions(item)]
        return page("pairwise.html" if item.kind == "pairwise" else "single.html", base=base, item=item,
                    assignment=a, progress=prog, number=prog.done + 1, media=media, questions=questions,
                    csrf=csrf_token(study.secret, rater.id), submission=uuid.uuid4().hex,
                    required=round(ops.required_play_s(study, item), 3), played=prog.played, error=error)

    @app.post("/s/{study_id}/r/{token}/play")
    async def play(study_id: str, token: str, request: Request):
        study, rater = rater_of(study_id, token)  # the token before the body (cached: no query, no thread hop)
        _check_csrf(study, rater, request.headers.get("x-csrf-token"))
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise ops.Refused(400, "send a JSON object {assignment, side, event, position}")
        assignment = _assignment_id(body.get("assignment"))
        side, event = body.get("side"), body.get("event")
        if not isinstance(side, str) or not isinstance(event, str):
            raise ops.Refused(422, "side and event must be strings (side: left | right; event: play | progress | "
                                   "pause | ended)")
        position = _position(body.get("position", 0))
        played = await _offload(ops.record_play, db, rater, assignment, side[:16], event[:16], position)
        return {"played": played}

    @app.post("/s/{study_id}/r/{token}/vote")
    async def vote(study_id: str, token: str, request: Request):
        is_json = request.headers.get("content-type", "").startswith("application/json")
        study, rater = rater_of(study_id, token)  # the token before the body (cached: no query, no thread hop)
        if is_json:
            data = await _json_body(request)
        else:
            try:
                data = dict(await request.form())
            except Exception:  # a malformed multipart or urlencoded body
                raise ops.Refused(400, "the form body could not be parsed") from None
        if not isinstance(data, dict):
            raise ops.Refused(400, "send a JSON object {assignment, answers, csrf, submission}")
        _check_csrf(study, rater, request.headers.get("x-csrf-token") or data.get("csrf"))  # never redirected
        try:
            assignment = _assignment_id(data.get("assignment"))
            answers = data.get("answers") if is_json else {q: data[q] for q in (*PAIRWISE_QUESTIONS, *RATING_QUESTIONS)
                                                          if q in data}
            if not isinstance(answers, dict) or not all(isinstance(v, (str, int)) and not isinstance(v, bool)
                                                        for v in answers.values()):
                raise ops.Refused(422, "answers must be an object of question: answer (text or a whole number)")
            answers = {str(k)[:32]: str(v)[:16] for k, v in answers.items()}
            submission = data.get("submission") or uuid.uuid4().hex
            if not isinstance(submission, str):
                raise ops.Refused(422, "submission must be a string (the page's submission id)")
            status = await _offload(ops.submit_vote, db, study, rater, assignment, answers, submission[:64])
        except ops.Refused as exc:
            if is_json or exc.status not in (400, 409, 422):
                raise
            from urllib.parse import quote

            return RedirectResponse(f"{base_url(study_id, token)}/item?error={quote(exc.message)}", status_code=303)
        if is_json or _wants_json(request):  # a ready response skips FastAPI's serialisation
            return JSONResponse({"status": status, "next": f"{base_url(study_id, token)}/item"})
        return RedirectResponse(f"{base_url(study_id, token)}/item", status_code=303)

    @app.api_route("/s/{study_id}/r/{token}/media/{name:path}", methods=["GET", "HEAD"])
    def media(study_id: str, token: str, name: str):
        study, rater = rater_of(study_id, token)
        # Names are per showing (assignment, side) and only for items the rater was shown: the
        # name is looked up, never joined to a path, so ../, %00 and the like are just unknown names.
        file = _showing_media(db, study.secret, rater.id).get(name)
        if file is None:
            raise ops.Refused(404, "no such media")
        folder = (study_dir(study.run_dir, study.id) / "media").resolve()
        path = (folder / file).resolve()
        if not path.is_relative_to(folder) or not path.is_relative_to(Path(study.run_dir).resolve()):
            raise ops.Refused(404, "no such media")
        if not path.is_file():
            raise ops.Refused(404, "media file missing on the server; ask the study's organiser")
        return FileResponse(path, media_type="video/mp4", headers={"Cache-Control": "private, max-age=3600"})

    @app.get("/favicon.ico")
    def favicon():
        return FileResponse(HERE / "static" / "favicon.svg", media_type="image/svg+xml",
                            headers={"Cache-Control": "public, max-age=86400"})

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
        from human_eval.aggregate import results_payload

        admin(study_id, request)
        return JSONResponse(results_payload(db, study_id))

    return app


class BodyTooLarge(Exception):
    """A body without Content-Length (chunked) ran past MAX_BODY_BYTES while being read."""


TOO_LARGE = f"request body too large: at most {MAX_BODY_BYTES} bytes"


class SecurityHeaders:
    """Pure ASGI middleware (cheaper per request than Starlette's BaseHTTPMiddleware): refuses
    cross-site POSTs by their Origin header and bodies over MAX_BODY_BYTES by their
    Content-Length (413) before any handler runs or any body byte is read (a chunked body is
    cut off at the limit as it is read: BodyTooLarge), and adds SECURITY_HEADERS to every
    response. Handlers check the rater token before they read a body, so a forged token with
    a large body costs neither memory nor time."""

    def __init__(self, app):
        self.app = app
        self.extra = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None and (not length.strip().isdigit() or int(length) > MAX_BODY_BYTES):
            status = 413 if length.strip().isdigit() else 400
            message = TOO_LARGE if status == 413 else "Content-Length is not a number"
            return await JSONResponse({"error": message}, status_code=status,
                                      headers={"Connection": "close"})(scope, receive, send)
        if scope["method"] == "POST":
            origin = headers.get(b"origin", b"").decode("latin-1")
            if origin and origin != "null" and origin.split("://", 1)[-1] != headers.get(b"host", b"").decode("latin-1"):
                return await PlainTextResponse("cross-site request refused", status_code=403)(scope, receive, send)
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > MAX_BODY_BYTES:
                    raise BodyTooLarge(TOO_LARGE)
            return message

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                message = {**message, "headers": [*message.get("headers", []), *(h for h in self.extra if h[0] not in have)]}
            await send(message)

        await self.app(scope, limited_receive, send_with_headers)


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "") or \
        request.headers.get("content-type", "").startswith("application/json")


SERVE_DB_ENV = "BENCH_HUMAN_EVAL_SERVE_DB"
SERVE_RUN_ENV = "BENCH_HUMAN_EVAL_SERVE_RUN"


def app_from_env() -> FastAPI:
    """The app for `uvicorn --factory` (several worker processes): database URL and run folder
    come from BENCH_HUMAN_EVAL_SERVE_DB and BENCH_HUMAN_EVAL_SERVE_RUN."""
    import os

    return create_app(open_database(os.environ[SERVE_DB_ENV]), os.environ.get(SERVE_RUN_ENV) or None)


def _showing_media(db: Database, secret: str, rater_id: int) -> dict[str, str]:
    """Per-showing media name -> file in the study's media folder, for the items the rater was
    shown (an item's media cannot be fetched before its page was loaded)."""
    from sqlalchemy import select

    with db.read() as s:
        rows = s.execute(select(Assignment.id, Assignment.a_on_left, Item.media_a, Item.media_b)
                         .join(Item, Assignment.item_id == Item.id)
                         .where(Assignment.rater_id == rater_id, Assignment.shown_at.is_not(None))).all()
    out = {}
    for aid, a_on_left, media_a, media_b in rows:
        if media_b is None:
            out[showing_media_name(secret, aid, "left")] = media_a
        else:
            left, right = (media_a, media_b) if a_on_left else (media_b, media_a)
            out[showing_media_name(secret, aid, "left")] = left
            out[showing_media_name(secret, aid, "right")] = right
    return out


def _check_csrf(study, rater, presented) -> None:
    try:
        ok = csrf_ok(study.secret, rater.id, presented)
    except MalformedToken as exc:
        raise ops.Refused(400, str(exc)) from None
    if not ok:
        raise ops.Refused(403, "missing or wrong CSRF token")


def _no_constants(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


async def _json_body(request: Request):
    """The request's JSON (the body-size limit already applies); 400 with the reason otherwise.
    Infinity and NaN, which Python's json accepts, are refused too."""
    raw = await request.body()
    try:
        return json.loads(raw, parse_constant=_no_constants)
    except RecursionError:
        raise ops.Refused(400, "the JSON body is nested too deeply") from None
    except ValueError as exc:
        raise ops.Refused(400, f"the request body is not valid JSON ({str(exc)[:80]})") from None


def _assignment_id(value) -> int:
    """An item id: a whole number (JSON) or a string of digits (form), 1 .. 2³¹−1."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 10:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise ops.Refused(422, "assignment must be the item's id, a whole number from 1 to 2147483647")
    return value


def _position(value) -> float:
    """A playback position in seconds (kept for the audit trail; credit is the server's clock)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ops.Refused(422, "position must be a number of seconds")
    try:
        value = float(value)
    except OverflowError:
        raise ops.Refused(422, "position out of range") from None
    if not 0 <= value < 1e6:
        raise ops.Refused(422, "position out of range (0 to 1e6 seconds)")
    return value
