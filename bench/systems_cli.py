"""`bench systems list|check|setup`: what each system is, whether it is ready here, and its setup."""

from __future__ import annotations

from rich.table import Table

from bench import api
from bench.commands import console
from bench.errors import ConfigError


def cmd_systems(args, parser) -> int:
    from systems.base import get_system_class, known_systems

    if args.systems_verb is None:
        parser.parse_args(["systems", "--help"])
    if args.systems_verb == "list":
        table = Table(title="systems")
        table.add_column("name")
        table.add_column("class")
        table.add_column("about")
        for name in known_systems():
            try:
                cls = get_system_class(name)
                doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
                table.add_row(name, f"{cls.__module__}.{cls.__name__}", doc)
            except Exception as exc:  # a broken third-party entry point must not hide the others
                table.add_row(name, "[red]unloadable[/red]", str(exc))
        console.print(table)
        return 0
    if args.systems_verb == "check":
        names = args.names or known_systems()
        from bench.config import to_dict
        from bench.generation import build_system

        cfg = api.load_config(None, names, metrics=[])
        conf, clips = to_dict(cfg), api.dataset_clips(cfg)
        bad = 0
        for name in names:
            try:
                system = build_system(name, conf["system"][name], api.system_context(conf, clips, name))
                console.print(f"[green]ok[/green]   {name}: {system.describe()}")
            except Exception as exc:
                bad += 1
                console.print(f"[red]fail[/red] {name}: {exc}")
        return 1 if bad else 0
    if args.systems_verb == "setup":
        cls = get_system_class(args.name)
        setup = getattr(cls, "setup_environment", None)
        if setup is None:
            console.print(f"{args.name}: runs in this environment; nothing to set up")
            return 0
        setup()
        return 0
    raise ConfigError(f"unknown systems action {args.systems_verb}")
