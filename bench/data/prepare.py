"""Dataset dispatch: Hydra `dataset/<name>.yaml` → preparer function → manifest on disk.

A dataset config has these keys (see bench/conf/dataset/*.yaml; read as core.settings.DatasetSettings):
  name, kind (the preparer below), root (where the prepared dataset lives), sample_rate
  (the reference audio's rate), clip_duration (s), seed, and `params` — the preparer's own
  options (e.g. `source_dir` for the real datasets).

Every preparer has the signature (bench/data/params.py)
  prepare_x(params: PrepareParams, options: XOptions) -> list[Clip]
with XOptions a dataclass of its `params`; it writes media under `params.out_dir` and the
manifest with `core.manifest.write_manifest`, and returns the clips with their splits assigned.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.data import videoaudio
from bench.data.params import make_options, PrepareParams
from core.atomic import make_dirs
from core.manifest import MANIFEST_NAME, Clip, read_info, read_manifest
from core.errors import DatasetError
from core.registry import Registry
from core.settings import DatasetSettings

#: dataset kind → its preparer function (`prepare_<kind>(params, options) -> list[Clip]`); plug-ins: entry points
#: of group "dyvim_bench.datasets"
PREPARERS = Registry("dataset kind", {
    "toy": "bench.data.toy:prepare_toy",
    "aist": "bench.data.aist:prepare_aist",
    "symmv": "bench.data.symmv:prepare_symmv",
    "bgm909": "bench.data.bgm909:prepare_bgm909",
    "aist_segments": "bench.data.aist_segments:prepare_aist_segments",  # aist_d2mgan, aist_cdcd
}, entry_point_group="dyvim_bench.datasets")

# Preparer arguments that change how fast, not what, is built.
NOT_CONTENT = {"workers"}

# Datasets the harness can build by itself; the others need the user's download.
SELF_BUILDING = {"toy"}

# A forced rebuild is made in <root>.rebuild and swapped in when complete.
REBUILD_SUFFIX = ".rebuild"


def _preparer(kind: str):
    if kind not in PREPARERS.names():
        raise DatasetError(f"unknown dataset kind {kind!r}; known kinds: {', '.join(PREPARERS.names())}")
    return PREPARERS.load(kind)


def dataset_settings(dataset: Any) -> DatasetSettings:
    """`dataset` as DatasetSettings: given as such, or the `dataset` section (a node or a dict)."""
    return dataset if isinstance(dataset, DatasetSettings) else DatasetSettings.from_section(dataset)


def dataset_spec(dataset: Any) -> dict:
    """The part of a dataset config that determines its content (recorded in dataset.json)."""
    d = dataset_settings(dataset)
    return {"kind": d.kind, "sample_rate": d.sample_rate, "clip_duration": d.clip_duration, "seed": d.seed,
            "params": {k: v for k, v in d.params.items() if k not in NOT_CONTENT}}


def explicit_keys(overrides) -> set[str]:
    """Dataset keys a command line sets itself (`dataset.params.limit=2` -> 'params.limit')."""
    keys = set()
    for o in overrides or ():
        key = str(o).split("=", 1)[0].lstrip("+~")
        if key.startswith("dataset."):
            keys.add(key[len("dataset."):])
    return keys


def stored_spec(root: str | Path) -> dict | None:
    """The spec a prepared dataset at `root` was made with (None: not prepared there)."""
    root = Path(root)
    if not (root / MANIFEST_NAME).exists():
        return None
    return read_info(root).get("spec") or {}


def adopt_prepared(dcfg: Any, explicit: set[str]) -> None:
    """Take every content setting the command line did not set from the prepared dataset.

    A prepared dataset is an artefact with an identity: `dataset.json` records how it was made,
    and later commands (`run`, `evaluate`, `data show`, experiments, human evaluation) use it as
    prepared without repeating `source_dir` or any other prepare setting. Settings given
    explicitly stay as given, so a command that would change the dataset is refused by
    `load_dataset` / `prepare_dataset` with what differs."""
    from omegaconf import open_dict

    stored = stored_spec(dcfg.root)
    if not stored or stored.get("kind") != dcfg.get("kind"):
        return
    with open_dict(dcfg):
        for key in ("sample_rate", "clip_duration", "seed"):
            if key not in explicit and key in stored:
                dcfg[key] = stored[key]
        if "params" in explicit:
            return
        if dcfg.get("params") is None:
            dcfg.params = {}
        for k, v in (stored.get("params") or {}).items():
            if f"params.{k}" not in explicit:
                dcfg.params[k] = v


def _refusal(dataset: DatasetSettings, stored: dict, spec: dict, verb: str) -> DatasetError:
    diff = _diff(stored, spec)
    return DatasetError(
        f"{dataset.root}: this dataset was prepared with other settings than this command asks for ({diff}). "
        f"A prepared dataset is never rebuilt without being asked: drop those settings to use it as prepared; "
        f"prepare a separate copy under another name (dataset.name={dataset.name}_small, for a quick-try `limit`); "
        f"or rebuild it with `bench data prepare {dataset.name} --force` plus those settings (the old one is kept "
        f"until the new one is complete; runs made on the old one will no longer match it)."
        + (" Nothing was changed." if verb != "prepare" else "")
    )


def prepare_dataset(dataset: Any, force: bool = False) -> list[Clip]:
    """Build the dataset described by `dataset` (DatasetSettings or the `dataset` section) unless an
    identical build is already on disk.

    A dataset prepared with other settings is refused unless `force`; a forced rebuild is made
    beside the old one (`<root>.rebuild`) and swapped in only when complete, reusing the old
    build's per-video work (cut and separated audio) whose inputs did not change."""
    dataset = dataset_settings(dataset)
    spec = dataset_spec(dataset)
    stored = stored_spec(dataset.root)
    if stored is not None and not force:
        if stored == spec:
            return read_manifest(dataset.root)
        raise _refusal(dataset, stored, spec, "prepare")
    if stored is None:
        return _build(dataset, spec, dataset.root)
    return _rebuild(dataset, spec, dataset.root)


def _build(dataset: DatasetSettings, spec: dict, out_dir: Path) -> list[Clip]:
    preparer = _preparer(dataset.kind)
    options = make_options(preparer, dataset.kind, dataset.params)  # a wrong key is refused before any work
    make_dirs(out_dir)
    return preparer(PrepareParams.for_dataset(dataset, out_dir, spec), options)


def _rebuild(dataset: DatasetSettings, spec: dict, root: Path) -> list[Clip]:
    import shutil

    staging = root.with_name(root.name + REBUILD_SUFFIX)
    token = videoaudio.REUSE_FROM.set(root)
    try:
        _build(dataset, spec, staging)  # a failure leaves the old dataset untouched (and staging to resume)
    finally:
        videoaudio.REUSE_FROM.reset(token)
    old = root.with_name(root.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    root.rename(old)
    staging.rename(root)
    shutil.rmtree(old, ignore_errors=True)
    return read_manifest(root)


def load_dataset(dataset: Any, auto_prepare: bool = True) -> list[Clip]:
    """Read a prepared dataset (DatasetSettings or the `dataset` section); self-building ones (toy)
    are built on first use (then cached).

    A dataset on disk whose settings differ from `dataset` is refused, never rebuilt (see
    `adopt_prepared`: settings the command did not give are already the prepared ones)."""
    dataset = dataset_settings(dataset)
    spec = dataset_spec(dataset)
    stored = stored_spec(dataset.root)
    if stored is not None:
        if stored == spec:
            return read_manifest(dataset.root)
        raise _refusal(dataset, stored, spec, "load")
    if dataset.kind in SELF_BUILDING and auto_prepare:
        return prepare_dataset(dataset)
    raise DatasetError(
        f"dataset {dataset.name!r} is not prepared: {dataset.root / MANIFEST_NAME} does not exist. Download it (see "
        f"README, 'Real datasets') and run `bench data prepare {dataset.name} dataset.params.source_dir=/path/to/download`"
    )


def _diff(a: dict | None, b: dict) -> str:
    if not a:
        return "no recorded config"
    out = []
    for k in sorted({*a, *b}):
        if k == "params":
            pa, pb = a.get(k) or {}, b.get(k) or {}
            out += [f"params.{p}: prepared {pa.get(p)!r}, asked {pb.get(p)!r}" for p in sorted({*pa, *pb})
                    if pa.get(p) != pb.get(p)]
        elif a.get(k) != b.get(k):
            out.append(f"{k}: prepared {a.get(k)!r}, asked {b.get(k)!r}")
    return "; ".join(out)
