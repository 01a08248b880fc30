"""Typed views of the config sections the orchestration reads: `run` (which run folder, clips,
samples, seed and device), `dataset` (which prepared dataset, at what rate and clip length),
`paths` (where datasets, runs and the cache live), `executor` (which engine runs the shards) and
`evaluate` (default metrics, bootstrap resamples, missing clips). The `metric` section stays a
mapping of name → options (`metric_options`): each metric's options are its class's keywords.

Built once from the composed Hydra config, its resolved dict, or a run folder's `config.yaml`
(`RunSettings.from_config(cfg)`), so code reads `run.seed` instead of `conf["run"]["seed"]`, and
a value of the wrong type is refused where the config is read, naming the key to fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from core.errors import ConfigError

SPLITS = ("train", "test", "all")
_REQUIRED = object()


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _section(cfg: Any, name: str) -> Mapping:
    """`cfg[name]` as a mapping (an OmegaConf node or a dict), or a ConfigError naming it."""
    try:
        section = cfg[name]
    except (KeyError, TypeError, AttributeError):
        section = None
    if not isinstance(section, Mapping):
        raise ConfigError(f"the config has no `{name}` section (got {type(section).__name__}); "
                          f"compose it with bench.config.compose, or give a run folder's config.yaml")
    return section


def _value(section: Mapping, where: str, key: str, expected: str, ok: Callable[[Any], bool],
           default: Any = _REQUIRED) -> Any:
    if key not in section:
        if default is _REQUIRED:
            raise ConfigError(f"{where}.{key} is missing; set it in bench/conf or with the override {where}.{key}=...")
        return default
    value = section[key]
    if not ok(value):
        raise ConfigError(f"{where}.{key} must be {expected}, got {value!r} ({type(value).__name__}); "
                          f"fix it in bench/conf or with the override {where}.{key}=...")
    return value


def _plain(node: Any) -> dict:
    """An OmegaConf node (or a mapping) as a plain dict."""
    if node is None:
        return {}
    if isinstance(node, dict):
        return dict(node)
    from omegaconf import OmegaConf

    return OmegaConf.to_container(node, resolve=True)


@dataclass(frozen=True)
class RunSettings:
    """The `run` section (bench/conf/config.yaml): the run folder `<runs_root>/<name>`, the clips
    (`split`, the first `limit`), `samples_per_clip` outputs per clip, the run `seed`, the `device`."""

    name: str
    seed: int = 0
    split: str = "test"
    samples_per_clip: int = 1
    limit: int | None = None  # 0 or None: the whole split
    device: str = "auto"

    @classmethod
    def from_config(cls, cfg: Any) -> "RunSettings":
        """From a composed config, its resolved dict or a stored config.yaml (a ConfigError names the bad key)."""
        s = _section(cfg, "run")
        # a name Hydra read as a number (run.name=2024) names the folder 2024
        name = _value(s, "run", "name", "a run name", lambda v: isinstance(v, str) and v != "" or _is_int(v))
        split = _value(s, "run", "split", "train, test or all", lambda v: v in SPLITS)
        return cls(
            name=str(name),
            seed=_value(s, "run", "seed", "an integer", _is_int),
            split=split,
            samples_per_clip=_value(s, "run", "samples_per_clip", "an integer >= 1", lambda v: _is_int(v) and v >= 1),
            limit=_value(s, "run", "limit", "null or an integer >= 0", lambda v: v is None or _is_int(v) and v >= 0, None),
            device=_value(s, "run", "device", "auto, cpu or cuda[:i]", lambda v: isinstance(v, str), "auto"),
        )

    def protocol(self) -> dict:
        """The settings that change what is generated (a run folder refuses others on resume);
        limit, device and the name may differ."""
        return {"seed": self.seed, "split": self.split, "samples_per_clip": self.samples_per_clip}


@dataclass(frozen=True)
class PathSettings:
    """The `paths` section: prepared datasets under `data_root`, run folders under `runs_root`,
    the content-addressed cache (features, embeddings) in `cache_dir`."""

    data_root: Path
    runs_root: Path
    cache_dir: Path

    @classmethod
    def from_config(cls, cfg: Any) -> "PathSettings":
        s = _section(cfg, "paths")
        is_path = lambda v: isinstance(v, str) and v != ""  # noqa: E731
        return cls(*(Path(_value(s, "paths", key, "a folder path", is_path))
                     for key in ("data_root", "runs_root", "cache_dir")))

    def run_dir(self, run: RunSettings) -> Path:
        """The run folder `<runs_root>/<run.name>`."""
        return self.runs_root / run.name


@dataclass(frozen=True)
class DatasetSettings:
    """The `dataset` section (bench/conf/dataset/<name>.yaml): the prepared dataset at `root`, its
    preparer `kind`, reference audio `sample_rate`, `clip_duration` (s), split `seed` and the
    preparer's own `params`."""

    name: str
    kind: str
    root: Path
    sample_rate: int
    clip_duration: float
    seed: int = 0
    params: dict = field(default_factory=dict)

    @classmethod
    def from_config(cls, cfg: Any) -> "DatasetSettings":
        """From a composed config, its resolved dict or a stored config.yaml."""
        return cls.from_section(_section(cfg, "dataset"))

    @classmethod
    def from_section(cls, s: Mapping) -> "DatasetSettings":
        """From the `dataset` section itself (a ConfigError names the bad key)."""
        is_name = lambda v: isinstance(v, str) and v != ""  # noqa: E731
        params = _value(s, "dataset", "params", "a mapping of the preparer's options",
                        lambda v: v is None or isinstance(v, Mapping), None)
        return cls(
            name=_value(s, "dataset", "name", "a dataset name", is_name),
            kind=_value(s, "dataset", "kind", "a dataset kind (toy, aist, symmv, bgm909, ...)", is_name),
            root=Path(_value(s, "dataset", "root", "a folder path", is_name)),
            sample_rate=_value(s, "dataset", "sample_rate", "a positive integer (Hz)", lambda v: _is_int(v) and v > 0),
            clip_duration=float(_value(s, "dataset", "clip_duration", "a positive number of seconds",
                                       lambda v: _is_number(v) and v > 0)),
            seed=_value(s, "dataset", "seed", "an integer", _is_int, 0),
            params=_plain(params),
        )


@dataclass(frozen=True)
class ExecutorSettings:
    """The `executor` section (bench/conf/executor/<name>.yaml): the engine `name` (local, slurm, ray)
    and its `options`, the engine class's own keywords (workers, partition, address, ...), which
    bench.executors.make_executor checks against the class, naming the keys it takes."""

    name: str = "local"
    options: dict = field(default_factory=dict)

    @classmethod
    def from_config(cls, cfg: Any) -> "ExecutorSettings":
        """From a composed config, its resolved dict or a stored config.yaml."""
        return cls.from_section(_section(cfg, "executor"))

    @classmethod
    def from_section(cls, s: Mapping) -> "ExecutorSettings":
        """From the `executor` section itself; no `name` means the local engine."""
        name = _value(s, "executor", "name", "an executor name (local, slurm, ray)",
                      lambda v: isinstance(v, str) and v != "", "local")
        return cls(name=name, options={k: v for k, v in _plain(s).items() if k != "name"})

    @property
    def is_local(self) -> bool:
        """Whether the shards run on this machine's process pool (not as cluster jobs)."""
        return self.name == "local"


@dataclass(frozen=True)
class EvaluateSettings:
    """The `evaluate` section: the `metrics` `bench run` and `bench evaluate` compute by default,
    `n_resamples` bootstrap resamples (of clips) behind every CI, and `allow_missing` (score only
    the clips every system has, and say so)."""

    metrics: tuple[str, ...] = ()
    n_resamples: int = 1000
    allow_missing: bool = False

    @classmethod
    def from_config(cls, cfg: Any) -> "EvaluateSettings":
        """From a composed config, its resolved dict or a stored config.yaml (a ConfigError names the bad key)."""
        s = _section(cfg, "evaluate")
        metrics = _value(s, "evaluate", "metrics", "a list of metric names",
                         lambda v: isinstance(v, Sequence) and not isinstance(v, str)
                         and all(isinstance(m, str) and m != "" for m in v), ())
        # a whole number written as a float (1e3) counts, as int() read it before
        n_resamples = _value(s, "evaluate", "n_resamples", "a whole number >= 1",
                             lambda v: _is_number(v) and v == int(v) and v >= 1, 1000)
        return cls(metrics=tuple(metrics), n_resamples=int(n_resamples),
                   allow_missing=_value(s, "evaluate", "allow_missing", "true or false",
                                        lambda v: isinstance(v, bool), False))


def metric_options(cfg: Any) -> dict[str, dict]:
    """The `metric` section: metric name → its options (the metric class's keywords, e.g. `weights`,
    `embedder`), in the order chosen; a metric whose entry is not a mapping is named."""
    s = _section(cfg, "metric")
    out = {}
    for name, options in _plain(s).items():
        if options is not None and not isinstance(options, Mapping):
            raise ConfigError(f"metric.{name} must be a mapping of the metric's options, got {options!r}; "
                              f"fix bench/conf/metric/{name}.yaml or the override metric.{name}.<option>=...")
        out[name] = dict(options or {})
    return out
