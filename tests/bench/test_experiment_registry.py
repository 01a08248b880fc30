"""Experiments on the one registry (bench.experiments.spec.EXPERIMENTS): the built-in table names
every YAML in bench/conf/experiment/; an experiment added by `register` or by a
`dyvim_bench.experiments` entry point (a YAML path, a dict, a function returning one) is listed by
`bench experiment list` and loads; a broken one is listed with its error and refused by name;
a taken name is refused."""

from __future__ import annotations

import argparse
import sys

import pytest
import yaml

from bench import experiment_cli
from bench.experiments.spec import (BUILTIN_EXPERIMENTS, EXPERIMENT_DIR, EXPERIMENTS, load_experiment,
                                    loadable_experiments)
from core.errors import ConfigError

MINE = {"name": "mine", "title": "a plug-in experiment", "artefact": "table2", "systems": ["reference"],
        "datasets": ["toy"], "metrics": ["beat"], "sweep": {"system.shuffled.pool": ["test", "all"]}}


@pytest.fixture
def fresh_registry(monkeypatch):
    """EXPERIMENTS without anything registered or loaded by other tests (restored afterwards)."""
    monkeypatch.setattr(EXPERIMENTS, "_registered", {})
    monkeypatch.setattr(EXPERIMENTS, "_loaded", {})
    return EXPERIMENTS


def _install_plugin(tmp_path, monkeypatch, entry_points: dict[str, str], module: str) -> None:
    """A package `fake_exp_plugin` with `dyvim_bench.experiments` entry points, importable the way an
    installed distribution is (a dist-info folder on sys.path)."""
    (tmp_path / "fake_exp_plugin.py").write_text(module)
    info = tmp_path / "fake_exp_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-exp-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[dyvim_bench.experiments]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items()))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "fake_exp_plugin", raising=False)  # each test's own module


def _list(capsys) -> str:
    assert experiment_cli.run(argparse.Namespace(experiment_verb="list")) == 0
    return capsys.readouterr().out


def test_the_builtin_table_declares_every_experiment_yaml():
    assert set(BUILTIN_EXPERIMENTS) == {p.stem for p in EXPERIMENT_DIR.glob("*.yaml")}
    for name in BUILTIN_EXPERIMENTS:
        assert load_experiment(name).name == name


def test_an_undeclared_yaml_in_the_experiment_folder_is_named(tmp_path, monkeypatch, fresh_registry):
    monkeypatch.setattr("bench.experiments.spec.EXPERIMENT_DIR", tmp_path)
    (tmp_path / "stray.yaml").write_text(yaml.safe_dump({**MINE, "name": "stray"}))
    with pytest.raises(ConfigError, match="stray.yaml is not a registered experiment.*BUILTIN_EXPERIMENTS"):
        load_experiment("stray")
    assert load_experiment(tmp_path / "stray.yaml").name == "stray"  # by path it runs


def test_a_registered_experiment_is_listed_and_loads(capsys, fresh_registry):
    EXPERIMENTS.register("mine", lambda: dict(MINE))
    assert "mine" in _list(capsys)
    exp = load_experiment("mine")
    assert exp.title == "a plug-in experiment" and [v.name for v in exp.variants] == ["pool_test", "pool_all"]
    EXPERIMENTS.register("nameless", {k: v for k, v in MINE.items() if k != "name"})
    assert load_experiment("nameless").name == "nameless"  # a definition without a name takes the registry's


def test_a_taken_name_is_refused(fresh_registry):
    with pytest.raises(ConfigError, match="experiment 'alpha' is already registered"):
        EXPERIMENTS.register("alpha", dict(MINE, name="alpha"))
    EXPERIMENTS.register("other", dict(MINE))  # its definition says "mine"
    with pytest.raises(ConfigError, match="experiment 'other'.*is named 'mine'"):
        load_experiment("other")


def test_entry_point_experiments_list_and_load_and_broken_ones_are_named(tmp_path, monkeypatch, capsys,
                                                                         fresh_registry):
    (tmp_path / "by_path.yaml").write_text(yaml.safe_dump({**MINE, "name": "by_path"}))
    module = (f"from pathlib import Path\nMINE = {MINE!r}\n"
              "def by_function():\n    return dict(MINE, name='by_function')\n"
              "BY_PATH = Path(__file__).parent / 'by_path.yaml'\n"
              "BROKEN = dict(MINE, name='broken', artefact='table9')\n"
              "NOT_AN_EXPERIMENT = 42\n")
    _install_plugin(tmp_path, monkeypatch, {"by_function": "fake_exp_plugin:by_function",
                                            "by_path": "fake_exp_plugin:BY_PATH", "broken": "fake_exp_plugin:BROKEN",
                                            "odd": "fake_exp_plugin:NOT_AN_EXPERIMENT",
                                            "missing": "fake_exp_plugin:NO_SUCH_ATTR"}, module)
    ok, broken = loadable_experiments()
    assert {"by_function", "by_path"} <= set(ok) and set(BUILTIN_EXPERIMENTS) <= set(ok)
    assert set(broken) == {"broken", "odd", "missing"}
    assert "artefact 'table9'" in broken["broken"] and "YAML path" in broken["odd"]
    assert "fake_exp_plugin:NO_SUCH_ATTR" in broken["missing"]
    assert ok["by_path"].source == str(tmp_path / "by_path.yaml")
    out = _list(capsys)
    assert "by_function" in out and "by_path" in out and "broken" in out and "unloadable" in out
    with pytest.raises(ConfigError, match="artefact 'table9'"):
        load_experiment("broken")


def test_an_entry_point_cannot_shadow_a_builtin(tmp_path, monkeypatch, fresh_registry):
    _install_plugin(tmp_path, monkeypatch, {"alpha": "fake_exp_plugin:ALPHA"}, "ALPHA = {}\n")
    with pytest.raises(ConfigError, match="experiment 'alpha' is declared twice.*fake_exp_plugin:ALPHA"):
        load_experiment("alpha")
