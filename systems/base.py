"""The System interface (DESIGN.md §4) and the registry.

A system turns clips into waveforms. The harness (bench.runs) owns everything around it:
which clips are still to do, seeds, atomic writing, failure records, and the protocol check
that every output is mono float32 at `sample_rate` and exactly the clip's duration.

Systems are found by name through `SYSTEMS` (core.registry): the built-in table BUILTIN_SYSTEMS,
the `dyvim_bench.systems` entry-point group, or a `bench/conf/system/<name>.yaml` naming its
`class:`. Their constructor takes typed keyword arguments: the values of that Hydra config (minus
the `name` and `class` keys) plus a `SystemContext`.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Iterable, Iterator, Sequence

import numpy as np

from core.manifest import Clip
from core.registry import Registry, keep_name, named

ENTRY_POINT_GROUP = "dyvim_bench.systems"


@dataclass(frozen=True)
class SystemContext:
    """What every system may need to know about the run it serves."""

    dataset_clips: tuple[Clip, ...]  # every clip of the dataset (train and test)
    sample_rate: int  # the dataset's reference-audio rate, i.e. the protocol rate
    seed: int
    work_dir: Path  # scratch space of this system in this run
    cache_dir: Path
    device: str = "cpu"


@dataclass(frozen=True)
class GenerationRequest:
    clip: Clip
    sample_index: int  # 0 for the first sample; k >= 1 is written as <clip_id>.s<k>.wav
    seed: int


@dataclass
class GenerationResult:
    request: GenerationRequest
    audio: np.ndarray | None = None  # mono float32 at the system's sample_rate
    error: BaseException | None = None


class System(abc.ABC):
    """Base class for systems. Subclasses set `name`, `sample_rate` and implement `generate`."""

    name: ClassVar[str] = ""
    #: 'pretrained', 'random' or 'none' (systems without learned weights); shown wherever results are.
    weights: str = "none"
    #: how many requests `generate` receives at once
    batch_size: int = 1
    #: cap on parallel worker processes (e.g. 1 for a model that fills the GPU); None = no cap.
    #: Read through `parallel_cap()`: a system that `uses_accelerator` is capped only on one.
    max_workers: int | None = None
    #: whether the system runs models on `context.device` (then the run resolves 'auto')
    uses_accelerator: bool = False
    #: shown by `bench systems list`: 'in-process' | 'external' | 'control' | 'precomputed'
    kind: ClassVar[str] = "in-process"
    #: what the system itself produces: 'audio' or 'midi' (the harness renders MIDI to audio)
    output_type: ClassVar[str] = "audio"

    def __init__(self, context: SystemContext):
        self.context = context

    def parallel_cap(self) -> int | None:
        """How many of this system's shards may run at once on one machine (local engine): its
        `max_workers`, except that a model capped for its accelerator is not capped on the CPU
        (each worker then runs it with its own torch threads; `executor.workers` bounds the total)."""
        if self.uses_accelerator and str(self.context.device) == "cpu":
            return None
        return self.max_workers

    @property
    @abc.abstractmethod
    def sample_rate(self) -> int: ...

    def train(self, train_clips: Sequence[Clip]) -> None:
        """Train or fine-tune on the train split. Systems that need no training keep this no-op."""

    @property
    def needs_training(self) -> bool:
        return False

    @abc.abstractmethod
    def generate(self, requests: Sequence[GenerationRequest]) -> Iterable[GenerationResult]:
        """Yield one result per request, in any order; a failed clip yields a result with `error`."""

    @classmethod
    def readiness(cls, config: dict) -> list[str]:
        """What is missing on this machine to run with `config` (its Hydra options), each item
        saying how to get it; [] = ready. Checked without building the system (no weights loaded)."""
        return []

    def describe(self) -> dict:
        """Facts recorded in env.json (weights kind per component, checkpoint paths, ...)."""
        return {"weights": self.weights, "sample_rate": self.sample_rate}


#: Every built-in system, name → "module:Class", imported only when that system is asked for (listing
#: names stays instant). Plug-ins: an entry point (group ENTRY_POINT_GROUP) or a
#: `bench/conf/system/<name>.yaml` with `class: mypkg.mod:MySystem` (README: "Adding a system").
BUILTIN_SYSTEMS: dict[str, str] = {
    "reference": "systems.controls:ReferenceControl",
    "shuffled": "systems.controls:ShuffledControl",
    "dyvim": "systems.dyvim.system:DyViMSystem",
    "musicgen": "systems.musicgen.system:MusicGenSystem",
    "cmt": "systems.baselines.cmt:CMTSystem",
    "video2music": "systems.baselines.video2music:Video2MusicSystem",
    "diffbgm": "systems.baselines.diffbgm:DiffBGMSystem",
    "m2ugen": "systems.baselines.m2ugen:M2UGenSystem",
    "vidmuse": "systems.baselines.vidmuse:VidMuseSystem",
    "d2mgan": "systems.baselines.d2mgan:D2MGANSystem",
    "cdcd": "systems.baselines.cdcd:CDCDSystem",
    "precomputed": "systems.baselines.precomputed:PrecomputedSystem",
}


SYSTEMS: Registry[type[System]] = Registry("system", BUILTIN_SYSTEMS, base=System, entry_point_group=ENTRY_POINT_GROUP,
                                           yaml_group="system", on_load=keep_name)


#: class decorator naming a system class (`cls.name`); built-ins are declared in BUILTIN_SYSTEMS, a plug-in is
#: found through its entry point or its YAML's `class:` (README: "Adding a system")
register_system = named


def known_systems() -> list[str]:
    """Every system name that can be loaded: built-ins, entry points, and YAMLs naming a class."""
    return SYSTEMS.names()


def get_system_class(name: str) -> type[System]:
    return SYSTEMS.load(name)


def is_control(name: str) -> bool:
    """Whether system `name` is a control (its class's `kind`); False for a name that does not load."""
    try:
        return get_system_class(name).kind == "control"
    except Exception:
        return False


def iter_batches(items: Sequence, size: int) -> Iterator[Sequence]:
    for i in range(0, len(items), max(1, size)):
        yield items[i : i + size]
