"""Experiment definitions: loading `bench/conf/experiment/<name>.yaml` and expanding its
variants into planned runs (one per dataset × distinct configuration).

YAML keys: `name`, `title`, `artefact` (table1..4 / figure3..5: what the report draws),
`paper_table` (key in reports/paper_numbers.yaml), `systems`, `optional_systems` (joined when
installed), `datasets`, `metrics`, `overrides` (every variant), and either `sweep`
(`{key: [values]}`, a Cartesian product) or `variants` (a list of `{name, label, overrides,
datasets?, default?, group?}`; `group` heads the variant's column group in the paper table);
`attention` (`{frames, clips}`) asks for Fig. 5's attention maps; `note` is shown in the report; `science` (artefact `science`:
the settings of `bench.experiments.science.ScienceConfig`) makes the experiment the science check,
which trains and scores DyViM itself instead of generating music.

Experiments are named on the one `core.registry.Registry` (`EXPERIMENTS`): the built-ins in
`BUILTIN_EXPERIMENTS` (name → its YAML), a plug-in through the ``dyvim_bench.experiments`` entry point
group or `EXPERIMENTS.register`, its target a YAML path, the experiment dict, or a function returning
that dict. "Known" means loadable: loading parses and validates the definition, so a broken one is a
named error (`bench experiment list` shows it with its error).
"""

from __future__ import annotations

import itertools
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from systems.base import get_system_class, known_systems
from bench.config import compose, CONF_DIR, config_names, to_dict
from core.errors import ConfigError, UnknownNameError
from core.registry import Registry

GROUP = "experiment"
ARTEFACTS = ("table1", "table2", "table3", "table4", "figure3", "figure4", "figure5", "science")
_SAFE = re.compile(r"[^A-Za-z0-9_.=-]+")


@dataclass(frozen=True)
class Variant:
    """One point of the sweep: its folder name, display label and config overrides."""

    name: str
    label: str
    overrides: tuple[str, ...] = ()
    datasets: tuple[str, ...] | None = None  # None: every dataset of the experiment
    default: bool = False  # the paper's choice (starred in its tables)
    group: str | None = None  # the paper table's column group (e.g. "Dynamic encoder")


@dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    artefact: str
    systems: tuple[str, ...]
    datasets: tuple[str, ...]
    metrics: tuple[str, ...]
    variants: tuple[Variant, ...]
    optional_systems: tuple[str, ...] = ()
    overrides: tuple[str, ...] = ()
    paper_table: str | None = None
    attention: dict | None = None
    source: str = ""
    sweep: dict | None = None  # the raw {key: [values]} when the variants come from a sweep
    science: dict | None = None  # the science check's settings (artefact `science`)
    note: str | None = None  # what the experiment controls for (and what not), shown in its report

    def variant(self, name: str) -> Variant:
        for v in self.variants:
            if v.name == name:
                return v
        raise ConfigError(f"experiment {self.name!r} has no variant {name!r}; "
                          f"variants: {', '.join(v.name for v in self.variants)}")

    def to_dict(self) -> dict:
        return {
            "name": self.name, "title": self.title, "artefact": self.artefact, "paper_table": self.paper_table,
            "systems": list(self.systems), "optional_systems": list(self.optional_systems),
            "datasets": list(self.datasets), "metrics": list(self.metrics), "overrides": list(self.overrides),
            "attention": self.attention, "science": self.science, "note": self.note,
            "variants": [{"name": v.name, "label": v.label, "overrides": list(v.overrides),
                          "datasets": None if v.datasets is None else list(v.datasets), "default": v.default,
                          "group": v.group}
                         for v in self.variants],
        }


@dataclass(frozen=True)
class PlannedRun:
    """A run folder of the experiment: `runs/<experiment>/<dataset>/<folder>`. Variants whose
    composed configs are identical (e.g. Table 2's D_extend* and S_cross*, both the full model)
    share one folder; `variants` lists every variant it stands for."""

    dataset: str
    folder: str
    variants: tuple[str, ...]
    systems: tuple[str, ...]
    overrides: tuple[str, ...] = field(default=())

    def run_name(self, experiment: str) -> str:
        return f"{experiment}/{self.dataset}/{self.folder}"


ENTRY_POINT_GROUP = "dyvim_bench.experiments"
EXPERIMENT_DIR = CONF_DIR / GROUP

#: Every built-in experiment, name → its definition (read when asked for). Plug-ins: an entry point
#: (group ENTRY_POINT_GROUP) or `EXPERIMENTS.register(name, target)`, the target a YAML path, the
#: experiment dict, or a function returning it.
BUILTIN_EXPERIMENTS: dict[str, Path] = {name: EXPERIMENT_DIR / f"{name}.yaml" for name in (
    "overall", "conditions", "strategies", "tuning", "alpha", "encoders", "attention", "schedules", "science")}


def as_experiment(target: Any, name: str) -> Experiment:
    """`on_load` of EXPERIMENTS: a registered target (YAML path, dict, function returning the dict,
    or an Experiment) as the validated Experiment `name`; its definition's `name`, when given, must agree."""
    source = str(target) if isinstance(target, (str, os.PathLike)) else EXPERIMENTS.target(name) or name
    if callable(target) and not isinstance(target, type):
        try:
            target = target()
        except Exception as exc:
            raise ConfigError(f"experiment {name!r}: {source} raised {type(exc).__name__}: {exc}") from exc
    if isinstance(target, Experiment):
        exp = target
    elif isinstance(target, (str, os.PathLike)):
        exp = _experiment_from_yaml(Path(target))
    elif isinstance(target, Mapping):
        exp = experiment_from_dict({"name": name, **dict(target)}, source)
    else:
        raise ConfigError(f"experiment {name!r}: {source} gives a {type(target).__name__}; an experiment target "
                          f"is a YAML path, the experiment dict, or a function returning it ({ENTRY_POINT_GROUP})")
    if exp.name != name:
        raise ConfigError(f"experiment {name!r}: its definition ({exp.source or source}) is named {exp.name!r}; "
                          f"make the two names agree")
    return exp


EXPERIMENTS: Registry[Experiment] = Registry("experiment", BUILTIN_EXPERIMENTS, entry_point_group=ENTRY_POINT_GROUP,
                                             on_load=as_experiment)


def experiment_names() -> list[str]:
    """Every registered experiment name (built-ins, registered, entry points); `loadable_experiments`
    says which of them load."""
    return EXPERIMENTS.names()


def loadable_experiments() -> tuple[dict[str, Experiment], dict[str, str]]:
    """(name → Experiment for every registered experiment that loads, name → error for the others)."""
    ok, broken = {}, {}
    for name in EXPERIMENTS.names():
        try:
            ok[name] = EXPERIMENTS.load(name)
        except Exception as exc:  # a broken plug-in must not hide the others
            broken[name] = f"{type(exc).__name__}: {exc}"
    return ok, broken


def load_experiment(name_or_path: str | Path) -> Experiment:
    """An experiment by registered name (e.g. `bench/conf/experiment/<name>.yaml`) or from a YAML file path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        return _experiment_from_yaml(path)
    name = str(name_or_path)
    if name not in EXPERIMENTS and (EXPERIMENT_DIR / f"{name}.yaml").exists():
        raise ConfigError(f"{EXPERIMENT_DIR / f'{name}.yaml'} is not a registered experiment: add {name!r} to "
                          f"BUILTIN_EXPERIMENTS (bench/experiments/spec.py), or give its path")
    return EXPERIMENTS.load(name)


def _experiment_from_yaml(path: Path) -> Experiment:
    import yaml

    if not path.exists():
        raise ConfigError(f"{path}: no such experiment file")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: an experiment is a mapping of keys (name, artefact, systems, ...), "
                          f"got a {type(raw).__name__}")
    return experiment_from_dict(raw, str(path))


def experiment_from_dict(raw: dict, source: str = "<dict>") -> Experiment:
    def need(key):
        if key not in raw:
            raise ConfigError(f"{source}: experiment lacks the key {key!r}")
        return raw[key]

    artefact = need("artefact")
    if artefact not in ARTEFACTS:
        raise ConfigError(f"{source}: artefact {artefact!r} is not one of {', '.join(ARTEFACTS)}")
    if ("sweep" in raw) == ("variants" in raw):
        raise ConfigError(f"{source}: give exactly one of `sweep` ({{key: [values]}}) or `variants` (a list)")
    variants = _sweep_variants(raw["sweep"], source) if "sweep" in raw else _explicit_variants(raw["variants"], source)
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise ConfigError(f"{source}: duplicate variant names {sorted({n for n in names if names.count(n) > 1})}")
    return Experiment(
        name=str(need("name")), title=str(raw.get("title", raw["name"])), artefact=artefact,
        systems=tuple(need("systems")), datasets=tuple(need("datasets")), metrics=tuple(need("metrics")),
        variants=tuple(variants), optional_systems=tuple(raw.get("optional_systems") or ()),
        overrides=tuple(_as_overrides(raw.get("overrides"), source)), paper_table=raw.get("paper_table"),
        attention=raw.get("attention"), source=source, sweep=raw.get("sweep"), science=raw.get("science"),
        note=None if raw.get("note") is None else str(raw["note"]),
    )


def _as_overrides(value, source: str) -> list[str]:
    """Overrides as `key=value` strings, from a list of strings or a {key: value} mapping."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [f"{k}={_literal(v)}" for k, v in value.items()]
    bad = [o for o in value if not isinstance(o, str) or "=" not in o]
    if bad:
        raise ConfigError(f"{source}: overrides must be key=value strings, got {bad}")
    return list(value)


def _literal(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return str(v).lower()
    return str(v)


def _sweep_variants(sweep: dict, source: str) -> list[Variant]:
    if not isinstance(sweep, dict) or not sweep:
        raise ConfigError(f"{source}: `sweep` must map config keys to lists of values")
    keys = list(sweep)
    for k in keys:
        if not isinstance(sweep[k], list) or not sweep[k]:
            raise ConfigError(f"{source}: sweep key {k!r} needs a non-empty list of values")
    out = []
    for combo in itertools.product(*(sweep[k] for k in keys)):
        parts = [f"{k.rsplit('.', 1)[-1]}={_literal(v)}" for k, v in zip(keys, combo)]
        out.append(Variant(name=_SAFE.sub("_", ",".join(parts)).replace("=", "_"), label=", ".join(parts),
                           overrides=tuple(f"{k}={_literal(v)}" for k, v in zip(keys, combo))))
    return out


def _explicit_variants(items: list, source: str) -> list[Variant]:
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{source}: `variants` must be a non-empty list of {{name, overrides}}")
    out = []
    for item in items:
        if not isinstance(item, dict) or "name" not in item:
            raise ConfigError(f"{source}: each variant needs a `name`, got {item!r}")
        name = str(item["name"])
        if _SAFE.search(name):
            raise ConfigError(f"{source}: variant name {name!r} must be a plain folder name (letters, digits, _ . = -)")
        ds = item.get("datasets")
        out.append(Variant(name=name, label=str(item.get("label", name)),
                           overrides=tuple(_as_overrides(item.get("overrides"), source)),
                           datasets=None if ds is None else tuple(ds), default=bool(item.get("default", False)),
                           group=None if item.get("group") is None else str(item["group"])))
    return out


def available_systems(exp: Experiment, overrides: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """(systems to run, optional systems left out: not installed here, or not ready — e.g. a
    baseline whose own environment or weights are absent, per its `readiness` check)."""
    systems, skipped = select_systems(exp, overrides)
    return systems, list(skipped)


def select_systems(exp: Experiment, overrides: Sequence[str] = ()) -> tuple[list[str], dict[str, str]]:
    """(systems to run: the required ones, then each ready optional one; optional systems left
    out → what they lack here)."""
    problems = optional_readiness(exp, overrides)
    return ([*exp.systems, *(s for s, p in problems.items() if not p)],
            {s: "; ".join(p) for s, p in problems.items() if p})


def optional_readiness(exp: Experiment, overrides: Sequence[str] = ()) -> dict[str, list[str]]:
    """For each optional system, in order, what it lacks here ([] = ready: it joins), from its
    class's `readiness` check under `overrides` (nothing is built or loaded). Raises for an
    unknown required system."""
    known = known_systems()
    for s in exp.systems:
        if s not in known:
            raise UnknownNameError("system", s, known)
    out: dict[str, list[str]] = {}
    for s in exp.optional_systems:
        if s not in known:
            out[s] = ["not installed (no such system is registered here)"]
            continue
        try:
            cls = get_system_class(s)
            config = to_dict(compose(None, [s], [o for o in overrides if o.startswith(f"system.{s}.")],
                                     metrics=[]))["system"][s]
            out[s] = list(getattr(cls, "readiness", lambda c: [])({k: v for k, v in config.items() if k != "name"}))
        except Exception as exc:  # its module/package is not installed here, or its config does not compose
            out[s] = [f"not installed ({type(exc).__name__}: {exc})"]
    return out


def plan(exp: Experiment, datasets: Sequence[str] | None = None, overrides: Sequence[str] = (),
         systems: Sequence[str] | None = None) -> list[PlannedRun]:
    """Every run folder of `exp` on `datasets` (default: the experiment's), one per distinct
    composed system config; `overrides` (e.g. a tiny model) apply to every variant."""
    datasets = list(datasets or exp.datasets)
    unknown = [d for d in datasets if d not in config_names("dataset")]
    if unknown:
        raise UnknownNameError("dataset", unknown[0], config_names("dataset"))
    systems = list(systems) if systems is not None else available_systems(exp)[0]
    planned: list[PlannedRun] = []
    for dataset in datasets:
        by_config: dict[str, int] = {}
        for v in exp.variants:
            if v.datasets is not None and dataset not in v.datasets:
                continue
            ov = [*exp.overrides, *v.overrides, *overrides]
            cfg = compose(dataset, systems, ov, metrics=[])
            key = json.dumps(to_dict(cfg)["system"], sort_keys=True, default=str)
            if key in by_config:  # same model as an earlier variant: share its run folder
                i = by_config[key]
                p = planned[i]
                planned[i] = PlannedRun(p.dataset, p.folder, (*p.variants, v.name), p.systems, p.overrides)
                continue
            by_config[key] = len(planned)
            planned.append(PlannedRun(dataset, v.name, (v.name,), tuple(systems), tuple(ov)))
    if not planned:
        raise ConfigError(f"experiment {exp.name!r}: no variant applies to datasets {datasets}")
    return planned


def reduce_sweep(exp: Experiment, key: str, values: Sequence[str]) -> Experiment:
    """The experiment with one sweep key's values replaced (`--sweep system.dyvim.alpha=0,0.5`)."""
    from dataclasses import replace

    if not exp.sweep or key not in exp.sweep:
        raise ConfigError(f"experiment {exp.name!r} does not sweep {key!r}"
                          + (f"; it sweeps {', '.join(exp.sweep)}" if exp.sweep else "; use --variants"))
    sweep = {**exp.sweep, key: [_parse_scalar(v) for v in values]}
    return replace(exp, sweep=sweep, variants=tuple(_sweep_variants(sweep, exp.source)))


def _parse_scalar(text: str):
    import yaml

    return yaml.safe_load(text)


def select_variants(exp: Experiment, names: Sequence[str]) -> Experiment:
    """The experiment reduced to the named variants (a quick, smaller sweep)."""
    from dataclasses import replace

    chosen = [exp.variant(n) for n in names]
    return replace(exp, variants=tuple(chosen))
