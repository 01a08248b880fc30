"""Hydra configuration, composed through the compose API (no Hydra app, no output dirs)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from bench.data.prepare import adopt_prepared, explicit_keys
from metrics.base import known_metrics
from systems.base import get_system_class, known_systems
from core.errors import ConfigError, UnknownNameError
from core.options import CONF_DIR  # noqa: F401  (re-exported)
from core.settings import DatasetSettings, EvaluateSettings, PathSettings, RunSettings  # noqa: F401  (re-exported: typed sections)


def config_names(group: str) -> list[str]:
    """Names of the YAML options of a config group (`dataset`, `system`, ...)."""
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def compose(
    dataset: str | None = None,
    systems: Sequence[str] = (),
    overrides: Sequence[str] = (),
    check_systems: bool = True,
    metrics: Sequence[str] | None = None,
):
    """Compose the root config with a dataset, systems under `system.<name>`, metrics under
    `metric.<name>` (None: the config's `evaluate.metrics`), and overrides."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    if dataset is not None and dataset not in config_names("dataset"):
        raise UnknownNameError("dataset", dataset, config_names("dataset"))
    ov = [f"dataset={dataset}"] if dataset else []
    yaml_systems = set(config_names("system"))
    if check_systems:
        known = known_systems()
        for name in systems:
            if name not in known:
                raise UnknownNameError("system", name, known)
    for name in systems:
        # Systems with a YAML get it under system.<name>; entry-point-only systems start empty.
        ov.append(f"+system@system.{name}={name}" if name in yaml_systems else f"+system.{name}={_signature_defaults(name)}")
    suite = _suite_of(overrides)
    if suite:  # a peer tool's preset: its metric keys and settings (the user's overrides, after them, win)
        metrics, suite_ov = suite_overrides(suite, metrics)
        ov.extend(suite_ov)
    ov.extend(overrides)
    ov += [_metric_override(m) for m in metrics or ()]
    try:
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
            if metrics is None:  # the default list lives in the config itself
                keep = [o for o in ov if o.startswith(("dataset=", "evaluate.", "+evaluate."))]
                base = hydra_compose("config", overrides=keep)
                metrics = list(EvaluateSettings.from_config(base).metrics)
                ov += [_metric_override(m) for m in metrics]
            cfg = hydra_compose("config", overrides=ov)
        OmegaConf.resolve(cfg)
    except (HydraException, OmegaConfBaseException) as exc:
        raise ConfigError(f"bad configuration or override: {exc}{_quoting_hint(exc, ov)}") from exc
    if cfg.run.name is None:
        cfg.run.name = cfg.dataset.name

    adopt_prepared(cfg.dataset, explicit_keys(overrides))
    return cfg


def _quoting_hint(exc: Exception, overrides: Sequence[str]) -> str:
    """Hydra's override grammar takes plain ASCII words: a value with a space, a non-ASCII letter
    or a special character must be quoted inside the override."""
    text = str(exc)
    if not any(s in text for s in ("token recognition error", "mismatched input", "extraneous input",
                                   "no viable alternative", "LexerNoViableAlt")):
        return ""
    odd = [o for o in overrides if "=" in o and not o.split("=", 1)[1].isascii()
           or "=" in o and any(ch in o.split("=", 1)[1] for ch in " ()[]{},:'\"\\")]
    example = odd[0] if odd else "dataset.params.source_dir=/data/my folder"
    key, _, value = example.partition("=")
    return (f"\nHint: quote a value with spaces, non-ASCII letters or special characters inside the override, "
            f"e.g. '{key}=\"{value}\"' (single quotes for the shell, double quotes for Hydra)")


def _suite_of(overrides: Sequence[str]) -> str | None:
    """The value of a ``metric_suite=<name>`` override (the last one), or None."""
    found = None
    for o in overrides:
        key, _, value = o.partition("=")
        if key.lstrip("+") == "metric_suite":
            found = value.strip().strip("'\"") or None
    return None if found in (None, "null", "None") else found


def suite_overrides(suite: str, metrics: Sequence[str] | None = None) -> tuple[list[str], list[str]]:
    """(metric keys, Hydra overrides) of preset `suite` (metrics.presets): each key's settings as
    ``++metric.<key>.<field>`` on its YAML, weights left to follow the dataset; `metrics`, when
    given, must be a subset of the preset's keys."""
    import json

    from metrics.presets import preset_metric_configs

    configs = preset_metric_configs(suite)
    if metrics:
        unknown = [m for m in metrics if m not in configs]
        if unknown:
            raise ConfigError(f"metrics {','.join(unknown)}: not in suite {suite!r} ({', '.join(configs)})")
    keys = [m for m in configs if not metrics or m in metrics]
    # a suite that does not set Cnn14's evaluation rate runs another embedder: the YAML's rate would refuse it
    ov = [f"++metric.{m}.sample_rate=null" for m in keys if "sample_rate" not in configs[m]]
    ov += [f"++metric.{m}.{k}={json.dumps(v)}" for m in keys for k, v in configs[m].items()
           if k not in ("name", "weights") and v is not None]  # JSON: quoted strings, lists
    return keys, ov


def _metric_override(name: str) -> str:
    if name in config_names("metric"):
        return f"+metric@metric.{name}={name}"

    if name not in known_metrics():
        raise UnknownNameError("metric", name, known_metrics())
    return f"+metric.{name}={{name:{name}}}"


def _signature_defaults(name: str) -> str:
    """A Hydra dict literal of a YAML-less (entry-point) system's constructor defaults, so its
    options can be overridden like any other (`system.<name>.<option>=...`) and are recorded."""
    import inspect

    items = [f"name:{name}"]
    for pname, p in inspect.signature(get_system_class(name).__init__).parameters.items():
        if pname in ("self", "context") or p.default is inspect.Parameter.empty:
            continue
        v = p.default
        literal = "null" if v is None else str(v).lower() if isinstance(v, bool) else repr(v) if isinstance(v, str) else str(v)
        if isinstance(v, (int, float, str, bool)) or v is None:
            items.append(f"{pname}:{literal}")
    return "{" + ",".join(items) + "}"


def to_yaml(cfg) -> str:
    from omegaconf import OmegaConf

    return OmegaConf.to_yaml(cfg, resolve=True)


def to_dict(cfg) -> dict:
    from omegaconf import OmegaConf

    return OmegaConf.to_container(cfg, resolve=True)
