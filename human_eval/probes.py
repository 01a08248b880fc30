"""Hostile probes of a served study app, on the loopback only, bounded in count and time: the
checks behind `bench perf human-eval`'s hardening line and tests/human_eval/test_hardening.py.

- forged_big_body: POSTs a large body (declared, and chunked without a length) under a forged
  token; how long until the server answers and how much its memory grew;
- malformed_cases: every malformed input the probe of issue 17 found answered with a 500;
- ScriptedBot: a rater that skips listening (play events for every item, then votes at once).
"""

from __future__ import annotations

import os
import select
import socket
import time
import uuid
from dataclasses import dataclass

LOOPBACK = "127.0.0.1"


def rss_mb(pid: int) -> float:
    """Resident memory (MB) of a process and all its descendants (uvicorn's workers)."""
    total, todo, seen = 0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            with open(f"/proc/{p}/status") as f:
                total += next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total / 1024


def _upload(port: int, path: str, size: int, chunked: bool, timeout: float = 10.0) -> tuple[float, int]:
    """Send a POST with a `size`-byte JSON-ish body as fast as the server takes it, until it
    answers; (milliseconds from the request head to the answer's status line, status)."""
    head = (f"POST {path} HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\nContent-Type: application/json\r\n"
            + ("Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {size}\r\n") + "\r\n").encode()
    block = b"[" + b"1," * (512 * 1024) + b"1]"
    chunk = (f"{len(block):x}\r\n".encode() + block + b"\r\n") if chunked else block
    sock = socket.create_connection((LOOPBACK, port), timeout=timeout)
    try:
        sock.setblocking(False)
        t0 = time.perf_counter()
        _send_all(sock, head, t0 + timeout)
        sent, pending, answer = 0, b"", b""
        while time.perf_counter() - t0 < timeout:
            if not pending and sent < size:
                pending, sent = chunk, sent + len(block)
            readable, writable, _ = select.select([sock], [sock] if pending else [], [], 0.05)
            if readable:
                try:
                    data = sock.recv(65536)
                except (ConnectionResetError, BlockingIOError):
                    data = b""
                answer += data
                if b"\r\n" in answer or not data:
                    break
            if writable and pending:
                try:
                    n = sock.send(pending)
                    pending = pending[n:]
                except (BlockingIOError, InterruptedError):
                    pass
                except (BrokenPipeError, ConnectionResetError):
                    pending, sent = b"", size  # the server closed its side: read what it answered
        ms = (time.perf_counter() - t0) * 1000
    finally:
        sock.close()
    line = answer.split(b"\r\n", 1)[0].split()
    return ms, int(line[1]) if len(line) > 1 and line[1].isdigit() else 0


def _send_all(sock, data: bytes, deadline: float) -> None:
    while data and time.perf_counter() < deadline:
        select.select([], [sock], [], 0.05)
        try:
            data = data[sock.send(data):]
        except BlockingIOError:
            pass


def forged_big_body(port: int, pid: int, study: str, size_mb: int = 200, parallel: int = 3) -> dict:
    """`parallel` uploads of `size_mb` MB under a forged token (declared length), then as many
    chunked ones (no length: the token check must come before the body); the slowest answer
    (ms), the server's RSS growth (MB, its process group) and the statuses seen."""
    import concurrent.futures

    path = f"/s/{study}/r/forged-{uuid.uuid4().hex}/vote"
    for chunked in (False, True):  # one small warm-up of each path (first connections, imports)
        _upload(port, path, 1024 * 1024, chunked)
    before = rss_mb(pid)
    peak = before
    jobs = [(size_mb * 1024 * 1024, chunked) for chunked in (False, True) for _ in range(parallel)]
    with concurrent.futures.ThreadPoolExecutor(len(jobs)) as pool:
        futures = [pool.submit(_upload, port, path, size, chunked) for size, chunked in jobs]
        while not all(f.done() for f in futures):
            peak = max(peak, rss_mb(pid))
            time.sleep(0.02)
        results = [f.result() for f in futures]
    after = rss_mb(pid)
    return {"ms": max(ms for ms, _ in results), "statuses": sorted({st for _, st in results}),
            "rss_growth_mb": max(peak, after) - before}


def malformed_cases(base: str, csrf: str, assignment: int, media: str) -> list[tuple[str, str, str, dict]]:
    """(name, method, url, httpx request kwargs) of every malformed input of issue 17 point 4."""
    json_h = {"X-CSRF-Token": csrf, "Accept": "application/json", "Content-Type": "application/json"}
    play = {"side": "left", "event": "play", "position": 0}
    vote = {"answers": {"ovl": "5", "rel": "5"}, "submission": "malformed"}
    cases = [
        ("vote csrf number", "POST", f"{base}/vote", dict(content=b'{"csrf": 123, "assignment": %d}' % assignment,
                                                          headers={"Content-Type": "application/json"})),
        ("vote csrf list", "POST", f"{base}/vote", dict(content=b'{"csrf": ["a"], "assignment": %d}' % assignment,
                                                        headers={"Content-Type": "application/json"})),
        ("vote non-ASCII csrf header", "POST", f"{base}/vote",
         dict(json={"assignment": assignment, **vote}, headers={"X-CSRF-Token": "é".encode("latin-1") * 8})),
        ("vote non-ASCII form csrf", "POST", f"{base}/vote",
         dict(data={"csrf": "jeton-é", "assignment": str(assignment), "ovl": "5", "rel": "5"})),
        ("play non-ASCII csrf header", "POST", f"{base}/play",
         dict(json={"assignment": assignment, **play}, headers={"X-CSRF-Token": "é".encode("latin-1") * 8})),
        ("media NUL", "GET", f"{base}/media/x%00.mp4", {}),
        ("media NUL traversal", "GET", f"{base}/media/..%2F..%00%2Fstudy.json", {}),
    ]
    for label, raw in (("1e308", b"1e308"), ("2^63", b"9223372036854775808"), ("Infinity", b"Infinity"),
                       ("-Infinity", b"-Infinity"), ("NaN", b"NaN"), ("float", b"3.5"), ("true", b"true"),
                       ("negative", b"-1"), ("zero", b"0"), ("string", b'"12abc"'), ("null", b"null")):
        cases.append((f"vote assignment {label}", "POST", f"{base}/vote", dict(
            content=b'{"assignment": %s, "answers": {"ovl": "5", "rel": "5"}, "submission": "m"}' % raw, headers=json_h)))
        cases.append((f"play assignment {label}", "POST", f"{base}/play", dict(
            content=b'{"assignment": %s, "side": "left", "event": "play", "position": 0}' % raw, headers=json_h)))
    cases += [
        ("play position 1e400", "POST", f"{base}/play", dict(
            content=b'{"assignment": %d, "side": "left", "event": "play", "position": 1%s}' % (assignment, b"0" * 400),
            headers=json_h)),
        ("play position Infinity", "POST", f"{base}/play", dict(
            content=b'{"assignment": %d, "side": "left", "event": "play", "position": Infinity}' % assignment,
            headers=json_h)),
        ("play side number", "POST", f"{base}/play", dict(json={"assignment": assignment, "side": 1, "event": "play"},
                                                         headers=json_h)),
        ("play body list", "POST", f"{base}/play", dict(content=b"[1, 2]", headers=json_h)),
        ("play deep nesting", "POST", f"{base}/play", dict(content=b"[" * 20000 + b"]" * 20000, headers=json_h)),
        ("vote body not JSON", "POST", f"{base}/vote", dict(content=b"{nope", headers=json_h)),
        ("vote body not UTF-8", "POST", f"{base}/vote", dict(content=b'{"a": "\xff\xfe"}', headers=json_h)),
        ("vote answers list", "POST", f"{base}/vote", dict(json={"assignment": assignment, "answers": ["left"]},
                                                          headers=json_h)),
        ("vote answers nested", "POST", f"{base}/vote", dict(json={"assignment": assignment, "answers": {"ovl": {"x": 1}}},
                                                            headers=json_h)),
        ("vote submission number", "POST", f"{base}/vote", dict(
            json={"assignment": assignment, "answers": {"ovl": "5", "rel": "5"}, "submission": 5}, headers=json_h)),
        ("vote bad Content-Length", "POST", f"{base}/vote", dict(content=b"{}", headers={**json_h, "Content-Length": "x"},
                                                                raw=True)),
        ("media HEAD unknown", "HEAD", f"{base}/media/{'0' * 24}.mp4", {}),
    ]
    if media:
        cases.append(("media unknown name", "GET", f"{base}/media/{media[:-5]}x.mp4", {}))
    return cases


def run_malformed(client, base: str, csrf: str, assignment: int, media: str = "", port: int | None = None
                  ) -> dict[str, int]:
    """name -> status of every malformed case (a transport error counts as 0). Cases marked
    `raw` (headers an HTTP client will not send as given) go over a plain socket to `port`."""
    out = {}
    for name, method, url, kwargs in malformed_cases(base, csrf, assignment, media):
        kwargs = dict(kwargs)
        raw = kwargs.pop("raw", False)
        try:
            if raw and port is not None:
                out[name] = _raw_status(port, method, url, kwargs["headers"], kwargs.get("content", b""))
            else:
                out[name] = client.request(method, url, **kwargs).status_code
        except Exception:
            out[name] = 0
    return out


def _raw_status(port: int, method: str, path: str, headers: dict, body: bytes) -> int:
    head = f"{method} {path} HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\nConnection: close\r\n" + \
        "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    with socket.create_connection((LOOPBACK, port), timeout=10) as sock:
        sock.sendall(head.encode("latin-1") + body)
        answer = sock.recv(4096)
    line = answer.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) > 1 and line[1].isdigit() else 0


@dataclass
class BotResult:
    votes_sent: int = 0
    votes_accepted: int = 0


def scripted_bot(client, base: str, csrf: str, assignments: list[tuple[int, str]], wait_s: float = 0.5) -> BotResult:
    """The rater script of issue 17: loads the current page, sends `play` then `ended` for both
    sides of every item at once, waits `wait_s` once, then votes every item as fast as it can."""
    out = BotResult()
    h = {"X-CSRF-Token": csrf, "Accept": "application/json"}
    client.get(f"{base}/item")
    for a, kind in assignments:
        for side in (("left", "right") if kind == "pairwise" else ("left",)):
            client.post(f"{base}/play", json={"assignment": a, "side": side, "event": "play", "position": 0}, headers=h)
    time.sleep(wait_s)
    for a, kind in assignments:
        for side in (("left", "right") if kind == "pairwise" else ("left",)):
            client.post(f"{base}/play", json={"assignment": a, "side": side, "event": "ended", "position": 1e3},
                        headers=h)
    for a, kind in assignments:
        answers = ({"semantic": "tie", "dynamic": "tie", "overall": "tie"} if kind == "pairwise"
                   else {"ovl": "5", "rel": "5"})
        r = client.post(f"{base}/vote", json={"assignment": a, "answers": answers, "submission": uuid.uuid4().hex},
                        headers=h)
        out.votes_sent += 1
        out.votes_accepted += r.status_code == 200
        client.get(f"{base}/item")  # as if it moved on: the next item is shown
    return out
