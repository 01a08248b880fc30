"""Embedders on the one `core.registry.Registry`: one table of built-ins, nothing imported to list
them, "known" = loadable, duplicate names refused, a plug-in's class usable by name."""

from __future__ import annotations

import subprocess
import sys

import pytest

from core.errors import ConfigError, UnknownNameError
from metrics import embedders
from metrics.embedders import BUILTIN_EMBEDDERS, EMBEDDERS, EmbedderSpec, make_embedder
from metrics.presets import official_file


def test_listing_embedders_imports_no_embedder_module():
    code = ("import sys; from metrics.embedders import EMBEDDERS; names = EMBEDDERS.names(); "
            "print(len(names), 'torch' in sys.modules, 'metrics.embedders.catalog' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(len(BUILTIN_EMBEDDERS)), "False", "False"]


def test_every_builtin_is_loadable_and_describes_itself():
    for name in BUILTIN_EMBEDDERS:
        spec = EMBEDDERS.load(name)
        assert isinstance(spec, EmbedderSpec) and callable(spec.build)
        assert "?" not in (spec.dims, spec.rows, spec.peer), name
        file, url, folders = official_file(name)
        assert file and url and isinstance(folders, list), name


def test_a_builtin_name_cannot_be_taken_again():
    with pytest.raises(ConfigError, match="already registered"):
        EMBEDDERS.register("vggish", "mypkg.emb:MyEmbedder")


class ToyEmbedder:
    def __init__(self, scale: float = 1.0, **_):
        self.scale = scale


def test_a_registered_class_is_built_by_name_and_declares_no_weights():
    EMBEDDERS.register("toy_embedder", ToyEmbedder)
    try:
        assert "toy_embedder" in EMBEDDERS.names()
        assert make_embedder("toy_embedder", scale=2.0).scale == 2.0
        with pytest.raises(ConfigError, match="declares no official weights file"):
            official_file("toy_embedder")
        with pytest.raises(ConfigError, match="already registered"):
            EMBEDDERS.register("toy_embedder", ToyEmbedder)
    finally:
        EMBEDDERS.unregister("toy_embedder")
    assert "toy_embedder" not in EMBEDDERS.names()


def test_unknown_names_and_non_embedders_are_refused_by_name():
    with pytest.raises(UnknownNameError, match="known embedders: .*cnn14_16k"):
        make_embedder("clap")
    EMBEDDERS.register("not_an_embedder", 42)
    try:
        with pytest.raises(ConfigError, match="not_an_embedder.*neither an EmbedderSpec"):
            EMBEDDERS.load("not_an_embedder")
    finally:
        EMBEDDERS.unregister("not_an_embedder")


def test_embedder_classes_stay_importable_from_the_package():
    assert embedders.Cnn14Embedder.__name__ == "Cnn14Embedder"
    with pytest.raises(AttributeError):
        embedders.NoSuchEmbedder  # noqa: B018
