"""Balanced assignment of items to raters (pure: no database, no media).

Regular items are every clip × system pair (pairwise) and every clip × system (single, OVL/REL).
Each rater takes a window of consecutive items from one seeded permutation of them, cycled: so
no rater sees an item twice and every item is shown to raters a number of times that differs by
at most one across items. Left/right alternates over an item's showings (from a seeded start),
so each system appears on each side equally often. Attention checks (an identical pair; a pair
of a sample and a clearly degraded copy of it) are added per rater, and each rater's sequence is
shuffled (seeded); everything is recorded in the plan.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field

from core.errors import ConfigError

PAIRWISE_QUESTIONS = ("semantic", "dynamic", "overall")
RATING_QUESTIONS = ("ovl", "rel")
CHECK_KINDS = ("identical", "degraded")


@dataclass(frozen=True)
class PlannedItem:
    kind: str  # pairwise | single
    clip_id: str
    system_a: str
    system_b: str | None = None
    check: str | None = None  # identical | degraded
    expected: str | None = None  # the right 'overall' answer of a check, in A/B terms: a | b | tie


@dataclass
class Plan:
    items: list[PlannedItem]
    # per rater: (item index, a_on_left) in presentation order
    raters: list[list[tuple[int, bool]]] = field(default_factory=list)


def _window_assign(n_items: int, n_raters: int, k: int, rng: random.Random) -> list[list[int]]:
    if k == 0 or n_items == 0:
        return [[] for _ in range(n_raters)]
    if k > n_items:
        raise ConfigError(f"each rater would see {k} items but there are only {n_items} distinct ones; "
                          "lower --per-rater or add clips/systems")
    perm = list(range(n_items))
    rng.shuffle(perm)
    return [[perm[(r * k + j) % n_items] for j in range(k)] for r in range(n_raters)]


def build_plan(clips: list[str], systems: list[str], raters: int, per_rater: int, seed: int = 0,
               single_share: float = 0.3, checks: int = 2) -> Plan:
    """A balanced plan: `per_rater` regular items per rater (a `single_share` of them single
    items) plus `checks` attention checks (alternating identical / degraded)."""
    if len(systems) < 2 and single_share < 1:
        raise ConfigError(f"pairwise items need at least two systems, got {systems}")
    if len(set(systems)) != len(systems):
        raise ConfigError(f"systems listed twice: {systems}")
    if not clips:
        raise ConfigError("no clips to build the study from")
    if raters < 1 or per_rater < 1:
        raise ConfigError(f"--raters and --per-rater must be positive (got {raters}, {per_rater})")
    if not 0 <= single_share <= 1:
        raise ConfigError(f"single share must be within [0, 1], got {single_share}")
    rng = random.Random(seed)
    pairs = [PlannedItem("pairwise", c, a, b) for c in clips for a, b in itertools.combinations(systems, 2)]
    singles = [PlannedItem("single", c, s) for c in clips for s in systems]
    n_single = int(round(per_rater * single_share)) if singles else 0
    n_pair = per_rater - n_single
    items: list[PlannedItem] = pairs + singles
    pair_sets = _window_assign(len(pairs), raters, n_pair, rng)
    single_sets = _window_assign(len(singles), raters, n_single, rng)

    check_items: dict[PlannedItem, int] = {}
    shows = [0] * len(items)
    flip = [rng.random() < 0.5 for _ in items]
    plan = Plan(items)
    for r in range(raters):
        seq: list[tuple[int, bool]] = []
        for idx in pair_sets[r]:
            seq.append((idx, flip[idx] ^ (shows[idx] % 2 == 1)))
            shows[idx] += 1
        for idx in single_sets[r]:
            seq.append((len(pairs) + idx, True))
        for c in range(checks):
            kind = CHECK_KINDS[c % len(CHECK_KINDS)]
            clip, system = rng.choice(clips), rng.choice(systems)
            item = PlannedItem("pairwise", clip, system, system, check=kind,
                               expected="tie" if kind == "identical" else "a")  # A is the clean sample
            if item not in check_items:
                check_items[item] = len(items)
                items.append(item)
            if any(i == check_items[item] for i, _ in seq):
                continue  # the same check drawn twice for one rater: once is enough
            seq.append((check_items[item], rng.random() < 0.5))
        rng.shuffle(seq)
        plan.raters.append(seq)
    return plan
