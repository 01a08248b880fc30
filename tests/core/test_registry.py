"""The one registry class (core.registry): lazy built-ins, run-time registration (duplicates
refused), config YAMLs naming a class, the base-class check; and every name the system and metric
registries list actually loads ("known" means "loadable")."""

from __future__ import annotations

import sys

import pytest

from core.errors import ConfigError, UnknownNameError
from core.registry import Registry


class Base:
    name = ""


class Good(Base):
    pass


class NotABase:
    pass


def test_builtins_load_lazily_and_get_their_name(tmp_path, monkeypatch):
    (tmp_path / "plug_mod.py").write_text("from tests_core_registry_base import Base\nclass P(Base):\n    pass\n")
    base_mod = type(sys)("tests_core_registry_base")
    base_mod.Base = Base
    monkeypatch.setitem(sys.modules, "tests_core_registry_base", base_mod)
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = Registry("widget", {"p": "plug_mod:P"}, base=Base, on_load=lambda c, n: setattr(c, "name", n) or c)
    assert reg.names() == ["p"] and "plug_mod" not in sys.modules  # listing imports nothing
    cls = reg.load("p")
    assert cls.__name__ == "P" and cls.name == "p" and reg.target("p") == "plug_mod:P"


def test_register_refuses_a_taken_name_and_checks_the_base_class():
    reg = Registry("widget", {"a": "core.registry:Registry"}, base=Base)
    reg.register("good")(Good)
    assert reg.load("good") is Good
    with pytest.raises(ConfigError, match="already registered"):
        reg.register("good", Good)
    with pytest.raises(ConfigError, match="already registered"):
        reg.register("a", Good)
    reg.register("bad", NotABase)
    with pytest.raises(ConfigError, match="not a subclass"):
        reg.load("bad")
    with pytest.raises(ConfigError, match="not a subclass"):
        reg.load("a")  # Registry is no Base
    with pytest.raises(UnknownNameError, match="known widgets: a, bad, good"):
        reg.load("nope")


def test_an_entry_point_named_like_a_builtin_is_refused(tmp_path, monkeypatch):
    """A plug-in is never silently shadowed: the same name from the table and an entry point is an error."""
    info = tmp_path / "widget_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: widget-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[tests_core.widgets]\na = widget_plugin:A\nb = widget_plugin:B\n")
    (tmp_path / "widget_plugin.py").write_text("A = 1\nB = 2\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    reg = Registry("widget", {"a": "core.registry:Registry"}, entry_point_group="tests_core.widgets")
    assert reg.names() == ["a", "b"] and reg.load("b") == 2
    with pytest.raises(ConfigError, match="widget 'a' is declared twice: 'core.registry:Registry' and the entry point "
                                          "'widget_plugin:A'"):
        reg.load("a")


def test_a_broken_target_names_itself():
    reg = Registry("widget", {"x": "no_such_module_xyz:Thing", "y": "nocolon"})
    with pytest.raises(ConfigError, match="no_such_module_xyz:Thing"):
        reg.load("x")
    with pytest.raises(ConfigError, match="package.module:ClassName"):
        reg.load("y")


def test_a_metric_yaml_naming_its_class_is_a_metric(tmp_path, monkeypatch):
    """README "Adding a system or a metric": a `bench/conf/metric/<name>.yaml` with `class:`."""
    from metrics.base import METRICS

    conf = tmp_path / "conf"
    (conf / "metric").mkdir(parents=True)
    (conf / "metric" / "loud.yaml").write_text("name: loud\nclass: loud_metric:Loud\n")
    (tmp_path / "loud_metric.py").write_text(
        "from metrics.base import Metric\nclass Loud(Metric):\n    def scores(self, clips, generated, reference):\n"
        "        return {}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr("core.options.CONF_DIR", conf)  # the registry reads it at call time
    monkeypatch.setattr(METRICS, "_loaded", {})
    assert "loud" in METRICS.names()
    assert METRICS.load("loud").name == "loud"


def test_every_listed_system_and_metric_loads():
    from metrics.base import Metric, known_metrics, get_metric_class
    from systems.base import System, get_system_class, known_systems

    for name in known_systems():
        cls = get_system_class(name)
        assert issubclass(cls, System) and cls.name == name, name
    for name in known_metrics():
        cls = get_metric_class(name)
        assert issubclass(cls, Metric) and cls.name == name, name
    assert get_system_class("reference").kind == "control" and get_system_class("shuffled").kind == "control"
