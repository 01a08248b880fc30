"""The System interface (DESIGN.md §4) and the registry.

A system turns clips into waveforms. The harness (bench.runs) owns everything around it:
which clips are still to do, seeds, atomic writing, failure records, and the protocol check
that every output is mono float32 at `sample_rate` and exactly the clip's duration.

Systems register by name with `@register_system("name")` (built-ins) or through the
`dyvim_bench.systems` entry-point group (third-party packages). Their constructor takes typed
keyword arguments: the values of the Hydra config `bench/conf/system/<name>.yaml` (minus the
`name` key) plus a `SystemContext`.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ClassVar, Iterable, Iterator, Sequence

import numpy as np

from core.manifest import Clip
from core.errors import ConfigError, UnknownNameError

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


_BUILTIN: dict[str, Callable[[], type[System]]] = {}

# Built-in systems whose modules are heavy (torch, transformers) or many: name → "module:Class",
# imported only when that system is asked for, so listing names stays instant.
LAZY_BUILTIN: dict[str, str] = {
    "dyvim": "systems.dyvim.system:DyViMSystem",
    "musicgen": "systems.musicgen:MusicGenSystem",
    "cmt": "systems.baselines.cmt:CMTSystem",
    "video2music": "systems.baselines.video2music:Video2MusicSystem",
    "diffbgm": "systems.baselines.diffbgm:DiffBGMSystem",
    "m2ugen": "systems.baselines.m2ugen:M2UGenSystem",
    "vidmuse": "systems.baselines.vidmuse:VidMuseSystem",
    "d2mgan": "systems.baselines.d2mgan:D2MGANSystem",
    "cdcd": "systems.baselines.cdcd:CDCDSystem",
    "precomputed": "systems.baselines.precomputed:PrecomputedSystem",
}


def register_system(name: str):
    """Class decorator for built-in systems."""

    def deco(cls: type[System]) -> type[System]:
        cls.name = name
        _BUILTIN[name] = lambda: cls
        return cls

    return deco


def _builtin_modules() -> None:
    # Importing these modules runs their @register_system decorators.
    import systems.controls  # noqa: F401


def _load_lazy(name: str) -> type[System]:
    import importlib

    module, _, attr = LAZY_BUILTIN[name].partition(":")
    cls = getattr(importlib.import_module(module), attr)
    cls.name = name
    return cls


def _entry_points() -> dict[str, object]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _yaml_classes() -> dict[str, str]:
    """System YAMLs that name their class (`class: mypkg.mysys:MySystem`): name -> "module:Class"."""
    import yaml

    from core.options import CONF_DIR

    out = {}
    for path in sorted((CONF_DIR / "system").glob("*.yaml")):
        try:
            target = (yaml.safe_load(path.read_text()) or {}).get("class")
        except Exception:
            continue
        if target:
            out[path.stem] = str(target)
    return out


def load_class(target: str, name: str) -> type[System]:
    """Import "module:Class" for system `name`; it must subclass System."""
    import importlib

    module, _, attr = target.partition(":")
    if not module or not attr:
        raise ConfigError(f"system {name!r}: class {target!r} must read 'package.module:ClassName'")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"system {name!r}: cannot load its class {target!r} ({exc}); is its package on the "
                          "Python path / installed?") from exc
    if not (isinstance(cls, type) and issubclass(cls, System)):
        raise ConfigError(f"system {name!r}: {target} is not a subclass of systems.base.System")
    cls.name = cls.name or name
    return cls


def known_systems() -> list[str]:
    """Every system name that can be loaded: built-ins, entry points, and YAMLs naming a class or a
    registered name (a YAML alone, with nothing to load, is not a system)."""
    _builtin_modules()
    return sorted(set(_BUILTIN) | set(LAZY_BUILTIN) | set(_entry_points()) | set(_yaml_classes()))


def get_system_class(name: str) -> type[System]:
    _builtin_modules()
    if name in _BUILTIN:
        return _BUILTIN[name]()
    if name in LAZY_BUILTIN:
        return _load_lazy(name)
    eps = _entry_points()
    if name in eps:
        cls = eps[name].load()
        cls.name = cls.name or name
        return cls
    yaml_classes = _yaml_classes()
    if name in yaml_classes:
        return load_class(yaml_classes[name], name)
    raise UnknownNameError("system", name, known_systems())


def iter_batches(items: Sequence, size: int) -> Iterator[Sequence]:
    for i in range(0, len(items), max(1, size)):
        yield items[i : i + size]
