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


def csrf_ok(secret: str, rater_id: int, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(csrf_token(secret, rater_id), presented)


def media_name(secret: str, system: str, clip_id: str, variant: str = "") -> str:
    """An opaque media file name: the page must not tell raters which system made a sample."""
    digest = hmac.new(secret.encode(), f"{system}/{clip_id}/{variant}".encode(), hashlib.sha256).hexdigest()
    return f"{digest[:20]}.mp4"
