"""One registry for every kind of plug-in: systems, metrics, embedders, dataset preparers, experiments.

A registry maps a name to a lazily imported ``"module:attr"``, or to an object its `on_load` turns
into the plug-in (an experiment's YAML path). Its names come from, in order:

1. the built-in table of its kind (one table per kind, in the kind's base module),
2. names registered at run time (`register`; a name already taken is an error),
3. the installed packages' entry points (``[project.entry-points."dyvim_bench.<kind>s"]``),
4. for systems and metrics, a config YAML that names its class (``class: mypkg.mod:MyClass`` in
   ``bench/conf/<group>/<name>.yaml``).

"Known" means loadable: `names()` lists exactly what `load()` can import, and `load()` checks the
class against the kind's base class, so a typo or a broken plug-in fails with its name and the fix.
Nothing is imported to list names.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, Generic, Mapping, TypeVar

from core.errors import ConfigError, UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, builtins: Mapping[str, str], *, base: type | None = None,
                 entry_point_group: str | None = None, yaml_group: str | None = None,
                 on_load: Callable[[Any, str], Any] | None = None):
        self.kind = kind
        self.base = base
        self.entry_point_group = entry_point_group
        self.yaml_group = yaml_group
        self.on_load = on_load
        self._builtins = dict(builtins)
        self._registered: dict[str, Any] = {}  # name → object or "module:attr"
        self._loaded: dict[str, Any] = {}

    # --- declaring -------------------------------------------------------------------------------
    def register(self, name: str, target: Any = None):
        """Add `name` → `target` (an object or "module:attr"); with no target, a class decorator."""
        if target is None:
            return lambda obj: self.register(name, obj) or obj
        if name in self._builtins or name in self._registered:
            raise ConfigError(f"{self.kind} {name!r} is already registered "
                              f"({self._builtins.get(name) or self._registered[name]!r}); pick another name")
        self._registered[name] = target
        self._loaded.pop(name, None)
        return target

    def unregister(self, name: str) -> None:
        self._registered.pop(name, None)
        self._loaded.pop(name, None)

    # --- sources ---------------------------------------------------------------------------------
    def _entry_points(self) -> dict[str, Any]:
        if not self.entry_point_group:
            return {}
        from importlib.metadata import entry_points

        return {ep.name: ep for ep in entry_points(group=self.entry_point_group)}

    def _yaml_targets(self) -> dict[str, str]:
        if not self.yaml_group:
            return {}
        import yaml

        from core.options import CONF_DIR

        out = {}
        for path in sorted((CONF_DIR / self.yaml_group).glob("*.yaml")):
            try:
                target = (yaml.safe_load(path.read_text()) or {}).get("class")
            except Exception:
                continue
            if target:
                out[path.stem] = str(target)
        return out

    def builtin_names(self) -> list[str]:
        return sorted(self._builtins)

    def names(self) -> list[str]:
        return sorted(set(self._builtins) | set(self._registered) | set(self._entry_points())
                      | set(self._yaml_targets()))

    def __contains__(self, name: str) -> bool:
        return name in self.names()

    def target(self, name: str) -> str | None:
        """Where `name` comes from ("module:attr"), without importing it; None when unknown."""
        t = self._builtins.get(name) or self._registered.get(name)
        if t is not None:
            if isinstance(t, str):
                return t
            qualname = getattr(t, "__qualname__", None)  # a class or function; else e.g. an experiment's YAML path
            return f"{t.__module__}:{qualname}" if qualname else str(t)
        eps = self._entry_points()
        if name in eps:
            return eps[name].value
        return self._yaml_targets().get(name)

    # --- loading ---------------------------------------------------------------------------------
    def load(self, name: str) -> T:
        if name in self._loaded:
            return self._loaded[name]
        if name in self._builtins or name in self._registered:
            target = self._builtins.get(name, self._registered.get(name))
            clash = self._entry_points().get(name)
            if clash is not None:  # an installed plug-in must not be silently shadowed
                raise ConfigError(f"{self.kind} {name!r} is declared twice: {self.target(name)!r} and the entry point "
                                  f"{clash.value!r} ({self.entry_point_group}); rename the plug-in's entry point")
            obj = import_target(target, self.kind, name) if isinstance(target, str) else target
        else:
            eps = self._entry_points()
            if name in eps:
                try:
                    obj = eps[name].load()
                except Exception as exc:
                    raise ConfigError(f"{self.kind} {name!r}: its entry point {eps[name].value!r} "
                                      f"({self.entry_point_group}) does not load: {exc}") from exc
            else:
                yaml_targets = self._yaml_targets()
                if name not in yaml_targets:
                    raise UnknownNameError(self.kind, name, self.names())
                obj = import_target(yaml_targets[name], self.kind, name)
        if self.base is not None and not (isinstance(obj, type) and issubclass(obj, self.base)):
            raise ConfigError(f"{self.kind} {name!r}: {self.target(name)} is not a subclass of "
                              f"{self.base.__module__}.{self.base.__qualname__}")
        if self.on_load is not None:
            obj = self.on_load(obj, name)
        self._loaded[name] = obj
        return obj


def import_target(target: str, kind: str, name: str):
    """Import "package.module:attr" for `kind` `name`, with an error that says what to fix."""
    module, _, attr = target.partition(":")
    if not module or not attr:
        raise ConfigError(f"{kind} {name!r}: class {target!r} must read 'package.module:ClassName'")
    try:
        obj = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"{kind} {name!r}: cannot load {target!r} ({exc}); is its package on the "
                          "Python path / installed?") from exc
    return obj


def keep_name(cls, name: str):
    """`on_load` for class registries: a loaded class without a `name` takes its registry name."""
    cls.name = cls.name or name
    return cls


def named(name: str):
    """Class decorator setting `cls.name` (the registries find a class by its table entry, entry
    point or YAML, not by this decorator)."""

    def deco(cls):
        cls.name = name
        return cls

    return deco
