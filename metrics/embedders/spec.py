"""What a registered embedder is: an `EmbedderSpec` (how to build it, what it computes, its official
weights file). Light on purpose: `metrics.embedders` imports it without importing torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from core.errors import ConfigError


def no_extra_folders() -> list[Path]:
    return []


@dataclass(frozen=True)
class EmbedderSpec:
    """One named embedder: ``build(**options)`` returns it; the rest describes it.

    `official_weights` is (file name under ``<cache_dir>/weights/``, where to get it), None when the
    embedder declares none (a plug-in: it needs ``checkpoint=`` or ``weights=random``);
    `weights_folders` lists further folders searched for that file (VGGish: torch.hub's)."""

    build: Callable[..., Any]
    dims: str = "?"
    rows: str = "?"
    peer: str = "?"
    official_weights: tuple[str, str] | None = None
    weights_folders: Callable[[], list[Path]] = field(default=no_extra_folders)


def as_spec(obj: Any, name: str) -> EmbedderSpec:
    """The registry's `on_load`: a built-in's spec as is; a plug-in's class or factory (entry point
    or `register`) becomes a spec that builds it and declares nothing else."""
    if isinstance(obj, EmbedderSpec):
        return obj
    if callable(obj):
        return EmbedderSpec(build=obj)
    raise ConfigError(f"embedder {name!r}: {obj!r} is neither an EmbedderSpec nor a class or function "
                      "building an embedder (metrics.embedders.spec.EmbedderSpec)")
