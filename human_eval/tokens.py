"""Unguessable tokens and CSRF: only token hashes reach the database, so a leaked database
does not let anyone vote or read results."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_token() -> str:
    """192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def csrf_token(secret: str, rater_id: int) -> str:
    """A per-rater form token: an HMAC under the study's server-side secret."""
    return hmac.new(secret.encode(), f"csrf/{rater_id}".encode(), hashlib.sha256).hexdigest()


class MalformedToken(ValueError):
    """A presented token that is not an ASCII string (a number, a list, non-ASCII text)."""


def csrf_ok(secret: str, rater_id: int, presented) -> bool:
    """Whether `presented` is the rater's CSRF token; MalformedToken for a non-string or
    non-ASCII value (hmac.compare_digest raises TypeError on those, which must not be a 500)."""
    if presented is None or presented == "":
        return False
    if not isinstance(presented, str):
        raise MalformedToken(f"the CSRF token must be a string, not {type(presented).__name__}")
    if not presented.isascii():
        raise MalformedToken("the CSRF token must be ASCII text")
    return hmac.compare_digest(csrf_token(secret, rater_id), presented)


def showing_media_name(secret: str, assignment_id: int, side: str) -> str:
    """The opaque name of one side of one showing (assignment): fresh for every item a rater
    sees, so neither a repeated sample nor an attention check's identical pair shows in the
    page (both sides of an identical pair get different names)."""
    digest = hmac.new(secret.encode(), f"showing/{assignment_id}/{side}".encode(), hashlib.sha256).hexdigest()
    return f"{digest[:24]}.mp4"


def media_name(secret: str, system: str, clip_id: str, variant: str = "") -> str:
    """An opaque media file name: the page must not tell raters which system made a sample."""
    digest = hmac.new(secret.encode(), f"{system}/{clip_id}/{variant}".encode(), hashlib.sha256).hexdigest()
    return f"{digest[:20]}.mp4"
