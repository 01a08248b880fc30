"""The bottom layer: what every other package builds on, importing nothing of the project.

    core.errors     the project's exception types (one per kind of failure a user can fix)
    core.atomic     atomic writes, free-space checks, disk-full / read-only classification
    core.cache      the content-addressed feature / embedding cache
    core.media      audio and video I/O (decode checks, writing, muxing)
    core.manifest   the Clip type and the dataset manifest (dataset.json)
    core.envinfo    environment facts (device, package versions) stamped on every result

Layers, bottom to top: core → systems → metrics → reports → human_eval → bench; checked by
`python -m bench.devtools.layers` and tests/bench/devtools/test_layers.py.
"""

__version__ = "0.1.0"  # the package version (pyproject.toml), stamped on every result
