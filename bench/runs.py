"""Run folders (DESIGN.md §3) and resumable generation.

    runs/<name>/config.yaml          resolved config: dataset, run protocol, every system's config
    runs/<name>/env.json             versions, git commit, device, weights kind per system, sessions
    runs/<name>/<system>/<clip>.wav  generated audio (k >= 1: <clip>.s<k>.wav), written atomically
    runs/<name>/<system>/failures.jsonl

Re-running the same command resumes: a wav that exists under its final name was renamed into
place only after it was complete, and is checked (readable, right rate and length) before it
counts as finished. A run may gain systems later; a system, dataset or protocol whose config
differs from what the folder was made with is refused with RunConfigMismatch.
"""

from __future__ import annotations

import hashlib
import json
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np

from bench.data.prepare import dataset_spec
from core.atomic import make_dirs, remove_stale_temps, write_text_atomic
from core.manifest import Clip
from core.errors import ConfigError, RunConfigMismatch
from core.envinfo import session_record
from core.runfiles import CONFIG_NAME, append_jsonl, output_name, output_problem  # noqa: F401  (re-exported)
from core.settings import RunSettings
from systems.base import GenerationRequest

ENV_NAME = "env.json"
FAILURES_NAME = "failures.jsonl"
# Run settings that change what is generated (RunSettings.protocol); others (limit, executor, paths)
# may differ on resume.
PROTOCOL_KEYS = ("seed", "split", "samples_per_clip")


def request_seed(run_seed: int, system: str, clip_id: str, sample_index: int) -> int:
    """A stable 31-bit seed per (run seed, system, clip, sample): order- and sharding-independent."""
    digest = hashlib.sha256(f"{run_seed}/{system}/{clip_id}/{sample_index}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def is_finished(path: Path, sample_rate: int, n_samples: int) -> bool:
    """A finished output is a readable mono WAV at the right rate with exactly n_samples, all
    finite (a wav with NaN or inf samples is not done: the resume regenerates it)."""
    return output_problem(path, sample_rate, n_samples) is None


def identity(cfg: dict) -> dict:
    """The parts of a resolved config that decide the results: dataset spec and protocol."""
    return {
        "dataset": {"name": cfg["dataset"]["name"], **dataset_spec(cfg["dataset"])},
        "run": RunSettings.from_config(cfg).protocol(),
    }


@dataclass
class Run:
    dir: Path
    config: dict  # the resolved config as stored in config.yaml (all systems ever run here)
    sessions: list = field(default_factory=list)

    @classmethod
    def open(cls, runs_root: str | Path, cfg: dict, save: bool = True) -> "Run":
        """Create `runs_root/<run.name>` or reopen it, refusing a config that does not match.

        With `save=False` nothing is written yet (call `save_config` once the run can start), so a
        command refused later (a bad system option) leaves no config that would refuse its fix."""
        import yaml

        run_dir = Path(runs_root) / RunSettings.from_config(cfg).name
        path = run_dir / CONFIG_NAME
        merged = json.loads(json.dumps(cfg))
        if path.exists():
            stored = yaml.safe_load(path.read_text()) or {}
            _check_compatible(path, stored, cfg)
            merged["system"] = {**stored.get("system", {}), **cfg.get("system", {})}
        run = cls(run_dir, merged)
        if save:
            run.save_config()
        return run

    def save_config(self) -> None:
        import yaml

        make_dirs(self.dir)
        write_text_atomic(self.dir / CONFIG_NAME, yaml.safe_dump(self.config, sort_keys=False))

    def system_dir(self, system: str) -> Path:
        return self.dir / system

    def output_path(self, system: str, clip_id: str, sample_index: int) -> Path:
        return self.system_dir(system) / output_name(clip_id, sample_index)

    @property
    def settings(self) -> RunSettings:
        return RunSettings.from_config(self.config)

    def pending(self, system: str, clips: Sequence[Clip], sample_rate: int) -> list[GenerationRequest]:
        """Requests whose output is not finished yet; removes temp files a killed writer left."""
        run = self.settings
        out = self.system_dir(system)
        remove_stale_temps(out)
        todo = []
        for clip in clips:
            n = int(round(clip.duration * sample_rate))
            for k in range(run.samples_per_clip):
                if not is_finished(out / output_name(clip.id, k), sample_rate, n):
                    todo.append(GenerationRequest(clip, k, request_seed(run.seed, system, clip.id, k)))
        return todo

    def update_env(self, systems: dict[str, dict], device: str | None) -> None:
        """Record this session (versions, commit, argv) and each system's weights kind."""
        path = self.dir / ENV_NAME
        env = json.loads(path.read_text()) if path.exists() else {"created": _now(), "systems": {}, "sessions": []}
        env["systems"].update(systems)
        if device is not None:
            env["device"] = device
        env["sessions"].append(session_record())
        env.update({k: v for k, v in env["sessions"][-1].items() if k in ("python", "git_commit", "packages")})
        write_text_atomic(path, json.dumps(env, indent=2))


def _check_compatible(path: Path, stored: dict, cfg: dict) -> None:
    try:
        old, new = identity(stored), identity(cfg)
    except (KeyError, ConfigError) as exc:
        raise RunConfigMismatch(f"{path}: not a run config written by this harness ({exc})") from exc
    problems = [f"{section}: {old[section]} != {new[section]}" for section in old if old[section] != new[section]]
    for name, scfg in cfg.get("system", {}).items():
        before = stored.get("system", {}).get(name)
        if before is not None and before != scfg:
            problems.append(f"system.{name}: {before} != {scfg}")
    if problems:
        raise RunConfigMismatch(
            f"{path.parent} already holds results made with a different config:\n  "
            + "\n  ".join(problems)
            + "\nUse another run name (--name ...) or restore the original settings; finished files were not touched."
        )


def validate_output(audio, sample_rate: int, clip: Clip) -> np.ndarray:
    """The protocol check: mono float32, finite, exactly round(duration * sample_rate) samples."""
    a = np.asarray(audio)
    n = int(round(clip.duration * sample_rate))
    if a.ndim != 1:
        raise ValueError(f"protocol violation for {clip.id}: output has shape {a.shape}, mono (samples,) required")
    if a.shape[0] != n:
        raise ValueError(f"protocol violation for {clip.id}: {a.shape[0]} samples, {n} required "
                         f"({clip.duration} s at {sample_rate} Hz)")
    if a.dtype != np.float32:
        raise ValueError(f"protocol violation for {clip.id}: dtype {a.dtype}, float32 required")
    if not np.isfinite(a).all():
        raise ValueError(f"protocol violation for {clip.id}: output has NaN or Inf samples")
    return a


def failure_record(request: GenerationRequest, exc: BaseException) -> dict:
    return {
        "clip": request.clip.id,
        "sample": request.sample_index,
        "seed": request.seed,
        "error": f"{type(exc).__name__}: {exc}",
        "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        "time": _now(),
    }


def append_failure(system_dir: Path, record: dict) -> None:
    append_jsonl(system_dir / FAILURES_NAME, record)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
