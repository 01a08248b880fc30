"""Typed `run`, `dataset`, `paths`, `executor` and `evaluate` settings: read from a composed config or a
stored dict alike, and a value of the wrong type is refused naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.settings import (DatasetSettings, EvaluateSettings, ExecutorSettings, PathSettings, RunSettings,
                           metric_options)

STORED = {
    "run": {"name": "toy", "seed": 3, "split": "test", "samples_per_clip": 2, "limit": None, "device": "cpu"},
    "paths": {"data_root": "data", "runs_root": "/tmp/runs", "cache_dir": "/tmp/cache"},
    "dataset": {"name": "toy", "kind": "toy", "root": "data/toy_demo", "sample_rate": 32000, "clip_duration": 10,
                "seed": 0, "params": {"size": "demo"}},
    "executor": {"name": "ray", "address": None, "num_cpus": 2, "shard_size": "auto"},
    "evaluate": {"metrics": ["fd", "beat"], "n_resamples": 200, "allow_missing": True},
    "metric": {"beat": {"name": "beat", "beat_tracker": "librosa"}, "fd": {"weights": "random"}},
}


def test_settings_from_a_stored_dict():
    run = RunSettings.from_config(STORED)
    assert run == RunSettings("toy", 3, "test", 2, None, "cpu")
    assert run.protocol() == {"seed": 3, "split": "test", "samples_per_clip": 2}
    ds = DatasetSettings.from_config(STORED)
    assert ds.root == Path("data/toy_demo") and ds.clip_duration == 10.0 and isinstance(ds.clip_duration, float)
    assert ds.params == {"size": "demo"} and ds.sample_rate == 32000
    paths = PathSettings.from_config(STORED)
    assert paths.run_dir(run) == Path("/tmp/runs/toy") and paths.cache_dir == Path("/tmp/cache")


def test_settings_from_a_composed_config_match_its_values():
    from bench.config import compose

    cfg = compose("toy", (), ["run.seed=5", "run.limit=4", "dataset.params.size=tiny"], metrics=[])
    run, ds = RunSettings.from_config(cfg), DatasetSettings.from_config(cfg)
    assert (run.name, run.seed, run.limit, run.split, run.device) == ("toy", 5, 4, "test", "auto")
    assert ds.kind == "toy" and str(ds.root) == cfg.dataset.root and ds.params["size"] == "tiny"
    assert isinstance(ds.params, dict)


@pytest.mark.parametrize("section,key,value,words", [
    ("run", "seed", "zero", r"run\.seed must be an integer, got 'zero'"),
    ("run", "seed", True, r"run\.seed must be an integer"),
    ("run", "samples_per_clip", 0, r"run\.samples_per_clip must be an integer >= 1"),
    ("run", "split", "val", r"run\.split must be train, test or all"),
    ("run", "limit", 2.5, r"run\.limit must be null or an integer"),
    ("dataset", "sample_rate", "32k", r"dataset\.sample_rate must be a positive integer"),
    ("dataset", "clip_duration", -1, r"dataset\.clip_duration must be a positive number"),
    ("dataset", "params", [1], r"dataset\.params must be a mapping"),
    ("paths", "runs_root", None, r"paths\.runs_root must be a folder path"),
    ("executor", "name", 3, r"executor\.name must be an executor name"),
    ("evaluate", "metrics", "fd", r"evaluate\.metrics must be a list of metric names"),
    ("evaluate", "n_resamples", 0, r"evaluate\.n_resamples must be a whole number >= 1"),
    ("evaluate", "n_resamples", 10.5, r"evaluate\.n_resamples must be a whole number >= 1"),
    ("evaluate", "allow_missing", "yes", r"evaluate\.allow_missing must be true or false"),
])
def test_a_bad_value_is_refused_naming_its_key(section, key, value, words):
    cfg = {name: dict(body) for name, body in STORED.items()}
    cfg[section][key] = value
    cls = {"run": RunSettings, "dataset": DatasetSettings, "paths": PathSettings, "executor": ExecutorSettings,
           "evaluate": EvaluateSettings}[section]
    with pytest.raises(ConfigError, match=words + r".*override " + section + r"\." + key + "="):
        cls.from_config(cfg)


def test_a_missing_key_or_section_is_named():
    with pytest.raises(ConfigError, match=r"run\.seed is missing"):
        RunSettings.from_config({"run": {"name": "x", "split": "test", "samples_per_clip": 1}})
    with pytest.raises(ConfigError, match=r"no `dataset` section"):
        DatasetSettings.from_config({"run": STORED["run"]})


def test_a_numeric_run_name_names_its_folder():
    assert RunSettings.from_config({"run": {**STORED["run"], "name": 2024}}).name == "2024"


def test_executor_and_evaluate_settings_from_a_stored_dict():
    engine = ExecutorSettings.from_config(STORED)
    assert engine == ExecutorSettings("ray", {"address": None, "num_cpus": 2, "shard_size": "auto"})
    assert not engine.is_local and ExecutorSettings.from_section({"workers": 1}) == ExecutorSettings("local", {"workers": 1})
    assert EvaluateSettings.from_config(STORED) == EvaluateSettings(("fd", "beat"), 200, True)
    assert EvaluateSettings.from_config({"evaluate": {"n_resamples": 1e3}}).n_resamples == 1000  # 1e3 reads as a float
    assert metric_options(STORED) == {"beat": {"name": "beat", "beat_tracker": "librosa"}, "fd": {"weights": "random"}}
    with pytest.raises(ConfigError, match=r"metric\.fd must be a mapping"):
        metric_options({"metric": {"fd": 3}})


def test_executor_and_evaluate_settings_from_a_composed_config():
    from bench.config import compose

    cfg = compose("toy", (), ["executor=slurm", "executor.partition=gpu", "evaluate.n_resamples=50"], metrics=["beat"])
    engine, ev = ExecutorSettings.from_config(cfg), EvaluateSettings.from_config(cfg)
    assert engine.name == "slurm" and engine.options["partition"] == "gpu" and "name" not in engine.options
    assert isinstance(engine.options["sbatch_extra"], dict)  # plain containers, for the engine's keywords
    assert ev.n_resamples == 50 and ev.allow_missing is False and "beat" in ev.metrics
    assert list(metric_options(cfg)) == ["beat"]
