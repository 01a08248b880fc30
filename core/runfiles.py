"""What a run folder and an experiment folder hold, by name, and their shared readers and writers
(used by the systems that write outputs, the metrics that read them, the reports and the CLI).

    runs/<name>/config.yaml                   the run's resolved config (CONFIG_NAME)
    runs/<name>/<system>/<clip>[.s<k>].wav    one output per clip and sample (output_name)
    runs/<experiment>/experiment.yaml         an experiment's sweep as run (EXPERIMENT_FILE)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from core.settings import DatasetSettings, RunSettings
from core.atomic import make_dirs
from core.errors import ConfigError
from core.manifest import Clip, read_manifest

CONFIG_NAME = "config.yaml"
EXPERIMENT_FILE = "experiment.yaml"


def output_name(clip_id: str, sample_index: int) -> str:
    return f"{clip_id}.wav" if sample_index == 0 else f"{clip_id}.s{sample_index}.wav"


def output_problem(path: Path, sample_rate: int, n_samples: int) -> str | None:
    """Why the wav at `path` breaks the protocol (None when it is a valid output)."""
    import soundfile as sf

    if not path.exists():
        return "missing"
    try:
        info = sf.info(str(path))
    except Exception as exc:
        return f"unreadable ({exc})"
    if info.samplerate != sample_rate:
        return f"sample rate {info.samplerate} Hz, the system's is {sample_rate} Hz"
    if info.channels != 1:
        return f"{info.channels} channels, outputs are mono"
    if info.frames != n_samples:
        return f"{info.frames} samples ({info.frames / sample_rate:.3f} s), the clip needs {n_samples} ({n_samples / sample_rate:.3f} s)"
    try:
        data, _ = sf.read(str(path), dtype="float32", always_2d=False)
    except Exception as exc:
        return f"unreadable samples ({exc})"
    bad = int((~np.isfinite(data)).sum())
    if bad:
        return f"{bad} samples are NaN or infinite"
    return None


def append_jsonl(path: Path, record: dict) -> None:
    """Append one JSON line under a file lock (parallel workers write the same file)."""
    from filelock import FileLock

    make_dirs(path.parent)
    with FileLock(str(path) + ".lock"):
        with open(path, "a") as fh:
            fh.write(json.dumps(record) + "\n")


def select_clips(clips: list[Clip], split: str, limit: int | None) -> list[Clip]:
    """The clips a run generates for: its split (train | test | all), sorted by id, the first `limit`."""
    if split not in ("train", "test", "all"):
        raise ConfigError(f"run.split must be train, test or all, got {split!r}")
    chosen = [c for c in clips if split == "all" or c.split == split]
    chosen.sort(key=lambda c: c.id)
    return chosen[:limit] if limit else chosen


def read_experiment_file(folder: str | Path) -> dict:
    import yaml

    path = Path(folder) / EXPERIMENT_FILE
    if not path.exists():
        raise ConfigError(f"{folder}: not an experiment folder (no {EXPERIMENT_FILE}); "
                          "run `bench experiment run <name>` first")
    doc = yaml.safe_load(path.read_text()) or {}
    if not {"experiment", "runs"} <= set(doc):
        raise ConfigError(f"{path}: written by an older version (no `experiment`/`runs` sections); "
                          "re-run `bench experiment run` to rewrite it (finished runs are kept)")
    return doc


def stored_run_clips(stored: dict) -> list[Clip]:
    """The clips a run generated for, from its stored config (`config.yaml`): the prepared
    dataset's manifest at the recorded root, with the run's split and limit (a DatasetError when
    the dataset is not on this machine)."""
    run = RunSettings.from_config(stored)
    return select_clips(read_manifest(DatasetSettings.from_config(stored).root), run.split, run.limit)
