"""`bench systems list|check|setup`: what each system is, whether it is ready here, and its setup.

- `list`: every system (built-in, configs, entry points) with its kind (in-process / external /
  control / precomputed), its output type (audio, or MIDI that the harness renders) and whether
  it is ready on this machine (repository, environment, weights; checked without loading them).
- `check [names]`: for each system, exactly what is missing and how to get it (an unknown
  option key is one of those), and notes on optional parts it lacks (Diff-BGM's feature
  extractors); with a prepared dataset the ready ones are also built (constructor checks).
- `check --deep`: for a ready baseline, the one-minute check before a long run
  (`systems/baselines/deep_check.py`): the environment's Python against the spec, the import
  closure imported inside the built environment, every weight file loaded, one short clip.
- `setup <name>`: clone a baseline's repository at its pinned commit and build its environment.
- `verify [names] [--source DIR]`: every baseline adapter against its official repository
  (`systems/baselines/verify.py`; no network, CPU).
"""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from bench.config import config_names, DatasetSettings, to_dict
from bench.generation import build_system
from systems.base import get_system_class, known_systems
from systems.baselines.deep_check import deep_check
from systems.baselines.environments import setup_system
from systems.baselines.verify import SourceError, summary, verify
from bench import api
from bench.console import console
from core.errors import BenchError, ConfigError


def _configs(names: list[str], overrides=()) -> dict:
    """Each system's composed config (Hydra: its YAML + overrides), keyed by name."""
    cfg = api.load_config(None, names, list(overrides), metrics=[])
    return to_dict(cfg)["system"], cfg


def _status(cls, config: dict) -> list[str]:
    try:
        return cls.readiness({k: v for k, v in config.items() if k != "name"})
    except Exception as exc:  # a broken readiness check must not hide the other systems
        return [f"readiness check failed: {type(exc).__name__}: {exc}"]


def _notes(cls, config: dict) -> list[str]:
    """Optional parts a system lacks (e.g. Diff-BGM's feature extractors): printed, not counted."""
    advise = getattr(cls, "advisories", None)
    try:
        return advise({k: v for k, v in config.items() if k != "name"}) if advise else []
    except Exception as exc:
        return [f"advisory check failed: {type(exc).__name__}: {exc}"]


def _loadable(names: list[str]) -> tuple[list[str], dict[str, str]]:
    """Names whose class imports, and name → error for the others (e.g. a module not there yet)."""
    ok, broken = [], {}
    for name in names:
        try:
            get_system_class(name)
            ok.append(name)
        except Exception as exc:
            broken[name] = f"{type(exc).__name__}: {exc}"
    return ok, broken


def cmd_list() -> int:
    names, broken = _loadable([n for n in known_systems() if n not in config_names("system")])
    names = sorted(set(names) | set(config_names("system")))
    configs, _ = _configs(names)
    table = Table(title="systems")
    for col in ("name", "kind", "output", "ready here", "about"):
        table.add_column(col)
    for name in names:
        try:
            cls = get_system_class(configs.get(name, {}).get("name", name))
        except Exception as exc:  # a broken third-party entry point must not hide the others
            table.add_row(name, "[red]unloadable[/red]", "", "", str(exc))
            continue
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        problems = _status(cls, configs.get(name, {}))
        ready = "[green]yes[/green]" if not problems else f"[yellow]no[/yellow] ({len(problems)} missing)"
        output = "MIDI → audio" if cls.output_type == "midi" else cls.output_type
        table.add_row(name, cls.kind, output, ready, doc)
    for name, err in sorted(broken.items()):
        table.add_row(name, "[red]unloadable[/red]", "", "", err)
    console.print(table)
    console.print("`bench systems check <name>` says what is missing and how to get it.")
    return 0


def cmd_verify(names: list[str], source: str | None, real_runs: bool) -> int:
    try:
        reports = verify(names or None, source, real_runs=real_runs, log=lambda s: console.print(s, markup=False,
                                                                                              highlight=False, soft_wrap=True))
    except SourceError as exc:
        console.print(f"[red]{exc}[/red]")
        return 2
    line = summary(reports)
    console.print(line, markup=False, highlight=False, soft_wrap=True)
    bad = any(r.unresolved or r.mismatches or (r.real_run and not r.real_run.startswith("ok")) for r in reports)
    return 1 if bad else 0


def cmd_check_deep(names: list[str], configs: dict) -> int:
    bad = 0
    for name in names:
        cls = get_system_class(configs[name].get("name", name))
        if cls.kind != "external":
            continue
        console.print(f"{name}: deep check")
        try:
            steps = deep_check(cls, {k: v for k, v in configs[name].items() if k != "name"})
        except Exception as exc:  # one baseline's broken check must not hide the others
            steps = [("deep check", False, f"{type(exc).__name__}: {exc}")]
        for step, ok, detail in steps:
            bad += not ok
            mark = "[green]ok[/green]    " if ok else "[red]failed[/red]"
            # one line per step, never wrapped: the fix is a command to copy
            console.print(f"  {mark} {step}: {escape(detail)}", highlight=False, soft_wrap=True)
    return 1 if bad else 0


def cmd_check(names: list[str], overrides, deep: bool = False) -> int:
    names = names or known_systems()
    configs, cfg = _configs(names, overrides)
    try:
        clips = api.dataset_clips(cfg, auto_prepare=False)
    except BenchError:
        clips = None  # no prepared dataset: readiness only
    conf = to_dict(cfg)
    bad = 0
    for name in names:
        try:
            cls = get_system_class(configs[name].get("name", name))
        except Exception as exc:  # e.g. a module that is not in this checkout yet
            bad += 1
            console.print(f"[red]unloadable[/red] {name}: {type(exc).__name__}: {exc}")
            continue
        problems = _status(cls, configs[name])
        notes = _notes(cls, configs[name])
        if problems:
            bad += 1
            console.print(f"[red]not ready[/red] {name} ({cls.kind}):")
            for p in problems:
                console.print(f"    - {p}")
            for n in notes:
                console.print(f"    note: {n}")
            continue
        for n in notes:
            console.print(f"[yellow]note[/yellow]    {name}: {n}")
        if clips is None:
            console.print(f"[green]ready[/green]   {name} ({cls.kind}; not built: dataset "
                          f"{DatasetSettings.from_config(conf).name!r} is not prepared)")
            continue
        try:
            system = build_system(name, configs[name], api.system_context(conf, clips, name))
            console.print(f"[green]ok[/green]      {name} ({cls.kind}): {system.describe()}")
        except Exception as exc:
            bad += 1
            console.print(f"[red]fail[/red]    {name}: {exc}")
    if deep:
        bad += cmd_check_deep([n for n in names if n in configs], configs)
    return 1 if bad else 0


def cmd_setup(name: str, overrides) -> int:
    configs, _ = _configs([name], overrides)
    cls = get_system_class(configs[name].get("name", name))
    if cls.kind != "external":
        console.print(f"{name}: runs in this environment ({cls.kind}); nothing to set up")
        return 0

    missing = setup_system(cls, {k: v for k, v in configs[name].items() if k != "name"}, log=console.print)
    if missing:
        console.print(f"[yellow]{name}: repository and environment are in place; still missing:[/yellow]")
        for p in missing:
            console.print(f"    - {p}")
        return 1
    console.print(f"[green]{name} is ready[/green]")
    return 0


def cmd_systems(args, parser) -> int:
    if args.systems_verb is None:
        parser.parse_args(["systems", "--help"])
    overrides = getattr(args, "overrides", None) or []
    if args.systems_verb == "list":
        return cmd_list()
    if args.systems_verb == "check":  # `names` also collects key=value overrides (one nargs="*")
        names = [n for n in args.names if "=" not in n]
        return cmd_check(names, [n for n in args.names if "=" in n] + list(overrides), getattr(args, "deep", False))
    if args.systems_verb == "verify":
        return cmd_verify(args.names, args.source, not args.no_real_runs)
    if args.systems_verb == "setup":
        return cmd_setup(args.name, overrides)
    raise ConfigError(f"unknown systems action {args.systems_verb}")
