"""The config folder, and checking a config section against the class it configures."""

from __future__ import annotations

import inspect
from pathlib import Path

from core.errors import ConfigError

#: the Hydra config tree (bench/conf/: dataset/, system/, metric/, executor/, experiment/ ...)
CONF_DIR = Path(__file__).resolve().parents[1] / "bench" / "conf"


def accepted_kwargs(cls, config: dict, what: str) -> None:
    """Refuse config keys the class's constructor does not take, listing the ones it does."""
    params = inspect.signature(cls.__init__).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    unknown = [k for k in config if k not in params and not takes_any]
    if unknown:
        options = [p for p in params if p not in ("self", "context", "cache", "seed")]
        raise ConfigError(f"{what} ({cls.__name__}) has no option(s) {unknown}; options: {options}")
