"""`bench metrics list`: the embedders, metrics and compatibility presets, and what each needs.

Imports only argparse at module level (``bench --help`` stays instant).
"""

from __future__ import annotations

import argparse

from metrics.presets import official_file
from core.errors import ConfigError, UnknownNameError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="metrics_verb", metavar="<action>")
    p = sub.add_parser("list", help="embedders, metrics and presets (which peer tool each reproduces)")
    p.add_argument("--cache-dir", default=None, help="where pretrained weights are looked for (default: the cache)")
    p = sub.add_parser("show", help="one preset's metric configs")
    p.add_argument("preset")


def _weights_state(embedder: str, cache_dir) -> str:
    from pathlib import Path

    from metrics.embedders.weights import weights_dir

    try:
        name, _url, extra = official_file(embedder)
    except ConfigError:
        return "no official file declared (checkpoint=PATH or weights=random)"
    found = [p for p in [weights_dir(cache_dir) / name, *(Path(d) / name for d in extra)] if p.is_file()]
    return f"present ({found[0]})" if found else "absent (weights=random works offline)"


def run(args: argparse.Namespace) -> int:
    import json

    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    if args.metrics_verb == "show":
        from metrics.presets import PRESETS, preset_metric_configs, unavailable_reason

        if args.preset not in PRESETS:
            raise UnknownNameError("metric preset", args.preset, list(PRESETS))
        preset = PRESETS[args.preset]
        why = unavailable_reason(preset)
        console.print(f"{preset.name}: as {preset.peer} — {preset.description}", soft_wrap=True)
        if why:
            console.print(f"unavailable here: {why}", soft_wrap=True)
        console.print(json.dumps(preset.metrics if why else preset_metric_configs(preset.name), indent=2))
        console.print(f"parity: {preset.parity}")
        for key, how in preset.protocol.items():
            console.print(f"as {preset.peer} computes {key}: {how}", soft_wrap=True)
        for part, why in preset.omitted.items():
            console.print(f"not computed here: {part}: {why}", soft_wrap=True)
        return 0
    if args.metrics_verb != "list":
        console.print("usage: bench metrics list | bench metrics show PRESET")
        return 2
    from metrics.base import get_metric_class, known_metrics
    from metrics.embedders import BUILTIN_EMBEDDERS, EMBEDDERS
    from metrics.presets import PRESETS, unavailable_reason

    t = Table(title="embedders")
    for col in ("name", "dims", "rows", "as in", "official file", "weights here"):
        t.add_column(col)
    for name in [*BUILTIN_EMBEDDERS, *(n for n in EMBEDDERS.names() if n not in BUILTIN_EMBEDDERS)]:
        spec = EMBEDDERS.load(name)
        official = spec.official_weights[0] if spec.official_weights else "—"
        t.add_row(name, spec.dims, spec.rows, spec.peer, official, _weights_state(name, args.cache_dir))
    console.print(t)
    t = Table(title="metrics (bench evaluate --metrics …; configs in bench/conf/metric/)")
    t.add_column("name")
    t.add_column("what")
    for name in known_metrics():
        doc = (get_metric_class(name).__doc__ or "").strip().split("\n")[0]
        t.add_row(name, doc)
    console.print(t)
    t = Table(title="presets (metrics.presets: the metrics, embedders and rates of one peer tool)")
    t.add_column("preset", no_wrap=True)
    for col in ("as in", "metrics", "status"):
        t.add_column(col)
    reasons, omitted = [], []
    for p in PRESETS.values():
        metrics = ", ".join(f"{k}[{c.get('embedder') or c.get('sample_rate', '')}]".replace("[]", "")
                            for k, c in p.metrics.items()) or "—"
        why = unavailable_reason(p)
        if why:
            reasons.append(f"  {p.name}: unavailable: {why}")
        omitted += [f"  {p.name}: {part}: {text}" for part, text in p.omitted.items()]
        t.add_row(p.name, p.peer, metrics, "not available (below)" if why else "available")
    console.print(t)
    if reasons:
        console.print("not available here:\n" + "\n".join(reasons), soft_wrap=True)
    if omitted:
        console.print("parts of a peer tool's protocol not computed here:\n" + "\n".join(omitted), soft_wrap=True)
    return 0
