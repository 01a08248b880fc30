"""`precomputed`: outputs produced elsewhere (another machine, a baseline run by hand, a paper's
released samples), imported as a system and held to the same protocol as any other.

The folder holds one audio file per clip, named like run outputs: `<clip_id>.wav` (or .flac,
.ogg, .mp3) for the first sample, `<clip_id>.s<k>.wav` for sample k ≥ 1, at any rate, channel
count and length. Each is normalised like a baseline's output (mono, the protocol rate, exactly
the clip's duration, trimmed keeping the beginning or zero-padded, recorded in
normalisation.jsonl). A file that names no clip of the dataset is an error when the system is
built (a typo in a name would otherwise silently drop a clip), unless `extra: ignore`; a missing
file or an unreadable/NaN one fails that clip only.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

from core.errors import ConfigError
from core.runfiles import output_name
from systems.base import GenerationRequest, GenerationResult, System, SystemContext
from systems.baselines.normalise import RawOutput, append_record, normalise

EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")


def _stem(path: Path) -> str:
    return path.name[: -len(path.suffix)]


class PrecomputedSystem(System):
    """Audio files produced elsewhere, one per clip id, validated and normalised like any output."""

    kind = "precomputed"

    def __init__(self, context: SystemContext, folder: str | None = None, extra: str = "error",
                 max_seconds: float | None = None, weights: str = "none"):
        super().__init__(context)
        problems = self.readiness({"folder": folder})
        if problems:
            raise ConfigError(problems[0])
        if extra not in ("error", "ignore"):
            raise ConfigError(f"system precomputed: extra must be 'error' or 'ignore', got {extra!r}")
        self.folder = Path(os.path.expanduser(str(folder)))
        self.max_seconds = max_seconds
        self.weights = str(weights)  # what produced the files: shown with every result
        self.files: dict[str, Path] = {}
        for p in sorted(self.folder.iterdir()):
            if p.is_file() and p.suffix.lower() in EXTENSIONS and not p.name.startswith("."):
                if _stem(p) in self.files:
                    raise ConfigError(f"{self.folder}: two files for {_stem(p)} ({self.files[_stem(p)].name}, {p.name})")
                self.files[_stem(p)] = p
        known = {c.id for c in context.dataset_clips}
        unknown = sorted(s for s in self.files if s.split(".s")[0] not in known)
        if unknown and extra == "error" and known:
            raise ConfigError(f"{self.folder}: {len(unknown)} file(s) name no clip of the dataset, e.g. "
                              f"{self.files[unknown[0]].name}; rename them to <clip_id>.wav, or set "
                              "system.precomputed.extra=ignore")

    @classmethod
    def readiness(cls, config: dict) -> list[str]:
        folder = config.get("folder")
        if folder is None or str(folder).strip() in ("", "None", "null"):
            return ["system.precomputed.folder is not set; point it at a folder of <clip_id>.wav files "
                    "(system.precomputed.folder=/path/to/outputs)"]
        if not Path(os.path.expanduser(str(folder))).is_dir():
            return [f"{folder}: folder of precomputed outputs not found (system.precomputed.folder)"]
        return []

    @property
    def sample_rate(self) -> int:
        return self.context.sample_rate

    def describe(self) -> dict:
        return {"weights": self.weights, "sample_rate": self.sample_rate, "kind": self.kind,
                "folder": str(self.folder), "files": len(self.files)}

    def generate(self, requests: Sequence[GenerationRequest]) -> Iterable[GenerationResult]:
        system_dir = self.context.work_dir.parent
        for req in requests:
            stem = output_name(req.clip.id, req.sample_index)[:-4]
            path = self.files.get(stem)
            try:
                if path is None:
                    raise FileNotFoundError(f"{self.folder / (stem + '.wav')}: no precomputed output for clip "
                                            f"{req.clip.id}" + (f" sample {req.sample_index}" if req.sample_index else ""))
                audio, record = normalise(RawOutput(path), req.clip, self.sample_rate, self.max_seconds)
            except Exception as exc:
                yield GenerationResult(req, error=exc)
                continue
            append_record(system_dir, {**record, "sample": req.sample_index})
            yield GenerationResult(req, audio)
