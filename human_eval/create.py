"""Building a study over one run folder: which clips and systems, the balanced plan, the
"video with music" media (muxed with `reports.gallery.mux_clip`, cached in the study folder),
and the database rows.

    runs/<name>/human_eval/studies.sqlite           the default database (WAL)
    runs/<name>/human_eval/<study>/study.json       id, database, settings (how to find it again)
    runs/<name>/human_eval/<study>/media/<opaque>.mp4   what raters see (names hide the system)
    runs/<name>/human_eval/<study>/results.parquet  written by `bench human-eval results`
"""

from __future__ import annotations

import json
import os
import random
import secrets
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from human_eval.models import Study
from core.media import atomic_write_audio, load_audio
from core.atomic import write_text_atomic
from core.manifest import Clip
from core.errors import ConfigError
from human_eval.assign import build_plan
from human_eval.storage import DB_ENV, default_db_url, open_database, safe_url
from human_eval.study import Media, StudyError, create_study
from human_eval.tokens import media_name

STUDY_FILE = "study.json"
DEGRADE_SNR_DB = -6.0  # noise 6 dB louder than the music, then hard clipping: unmistakably worse
COPY_GAIN = 10 ** (-0.05 / 20)  # an identical check's second sample: −0.05 dB


def study_dir(run_dir: str | Path, study_id: str) -> Path:
    return Path(run_dir) / "human_eval" / study_id


def run_clips(run_dir: Path) -> tuple[dict, list[Clip]]:
    """The run's stored config and the clips it was generated for (split and limit applied)."""
    import yaml

    from core.runfiles import CONFIG_NAME, stored_run_clips

    path = run_dir / CONFIG_NAME
    if not path.exists():
        raise ConfigError(f"{run_dir}: not a run folder (no {CONFIG_NAME}); run `bench run` first")
    stored = yaml.safe_load(path.read_text())
    clips = stored_run_clips(stored)
    return stored, clips


def degrade(audio: np.ndarray, seed: int) -> np.ndarray:
    """White noise at DEGRADE_SNR_DB plus clipping at a tenth of the peak."""
    rng = np.random.default_rng(seed)
    rms = float(np.sqrt(np.mean(audio ** 2))) or 0.1
    noise = rng.standard_normal(audio.shape).astype(np.float32) * rms * 10 ** (-DEGRADE_SNR_DB / 20)
    mixed = audio + noise
    peak = float(np.abs(mixed).max()) or 1.0
    return (np.clip(mixed, -0.1 * peak, 0.1 * peak) / (0.1 * peak) * 0.5).astype(np.float32)


@dataclass
class Created:
    study_id: str
    admin_token: str
    db_url: str
    folder: Path
    raters: int
    items_per_rater: int


def _salt(folder: Path) -> str:
    """Per-study secret for media names, kept so that a re-run reuses the muxed files."""
    path = folder / "media" / ".salt"
    if not path.exists():
        write_text_atomic(path, secrets.token_hex(16))
    return path.read_text().strip()


def create(run_dir: str | Path, systems: list[str], clips: int | None = None, raters: int = 20,
           per_rater: int = 30, seed: int = 0, name: str | None = None, db_url: str | None = None,
           play_fraction: float = 1.0, single_share: float = 0.3, checks: int = 2,
           expires_days: float = 30.0) -> Created:
    from reports.gallery import mux_clip

    run_dir = Path(run_dir).resolve()
    stored, all_clips = run_clips(run_dir)
    missing = [s for s in systems if not (run_dir / s).is_dir()]
    if missing:
        have = sorted(p.name for p in run_dir.iterdir() if p.is_dir() and any(p.glob("*.wav")))
        raise ConfigError(f"{run_dir}: no outputs of system(s) {', '.join(missing)}; this run has: {', '.join(have) or '(none)'}")
    usable = [c for c in all_clips if all((run_dir / s / f"{c.id}.wav").exists() for s in systems)]
    if not usable:
        raise ConfigError(f"{run_dir}: no clip has a finished wav for every one of {', '.join(systems)}")
    if not 0 <= play_fraction <= 1:
        raise ConfigError(f"--play-fraction must be within [0, 1], got {play_fraction}")
    rng = random.Random(seed)
    chosen = rng.sample(usable, min(clips, len(usable))) if clips else usable
    chosen = sorted(chosen, key=lambda c: c.id)
    study_id = name or f"study-{seed}-{secrets.token_hex(3)}"
    if not study_id.replace("-", "").replace("_", "").isalnum() or len(study_id) > 64:
        raise ConfigError(f"study name {study_id!r}: use letters, digits, '-' and '_' (at most 64)")
    folder = study_dir(run_dir, study_id)
    url = db_url or default_db_url(run_dir)
    db = open_database(url)

    with db.read() as s:
        if s.get(Study, study_id) is not None:
            raise StudyError(f"study {study_id!r} already exists; pick another --name")
    plan = build_plan([c.id for c in chosen], systems, raters, per_rater, seed, single_share, checks)
    salt = _salt(folder)
    by_id = {c.id: c for c in chosen}
    needed = {(it.system_a, it.clip_id, "") for it in plan.items}
    variant_of = {"degraded": "degraded", "identical": "copy"}
    needed |= {(it.system_b, it.clip_id, variant_of.get(it.check or "", "")) for it in plan.items if it.system_b}
    media = {}
    for system, clip_id, variant in sorted(needed):
        clip = by_id[clip_id]
        out = folder / "media" / media_name(salt, system, clip_id, variant)
        if not out.exists():
            wav = run_dir / system / f"{clip_id}.wav"
            if variant == "degraded":
                noisy = folder / "degraded" / system / f"{clip_id}.wav"
                atomic_write_audio(noisy, degrade(load_audio(wav, 32000, 0.0, clip.duration), seed), 32000)
                wav = noisy
            elif variant == "copy":
                # an identical check's B: the same music 0.05 dB quieter (inaudible), so the two
                # files differ byte for byte and a script cannot spot the pair by hashing them
                copy = folder / "copies" / system / f"{clip_id}.wav"
                atomic_write_audio(copy, load_audio(wav, 32000, 0.0, clip.duration) * COPY_GAIN, 32000)
                wav = copy
            mux_clip(clip, wav, out)
        media[(system, clip_id, variant)] = Media(out.name, float(clip.duration))
    settings = dict(seed=seed, per_rater=per_rater, raters=raters, play_fraction=play_fraction,
                    single_share=single_share, checks=checks, clips=[c.id for c in chosen])
    admin = create_study(db, study_id, plan, str(run_dir), stored["dataset"]["name"], systems, settings, media,
                         {c.id: c.caption for c in chosen}, expires_days)
    explicit = db_url is not None or bool(os.environ.get(DB_ENV))
    # The database's password is never written down: with one, later commands need --db again.
    write_text_atomic(folder / STUDY_FILE, json.dumps(
        {"study": study_id, "db": safe_url(url) if explicit else "default", "systems": systems, **settings}, indent=2))
    db.dispose()
    return Created(study_id, admin, url, folder, raters, len(plan.raters[0]) if plan.raters else 0)


def _stored_url(study_id: str, url: str, run_dir: Path) -> str:
    if url == "default":
        return default_db_url(run_dir)
    if "***" in url:
        raise StudyError(f"study {study_id!r} lives in {url}; pass --db with the full URL (its password is not stored)")
    return url


def locate(study_id: str, run: str | None = None, db: str | None = None) -> tuple[str, Path | None]:
    """The database URL and run folder of a study, from --db, --run, or by finding its folder
    under the runs root (runs/*/human_eval/<study>/study.json)."""
    if db:
        return db, Path(run).resolve() if run else None
    if run:
        run_dir = Path(run).resolve()
        info = study_dir(run_dir, study_id) / STUDY_FILE
        url = json.loads(info.read_text())["db"] if info.exists() else "default"
        return _stored_url(study_id, url, run_dir), run_dir
    root = Path(os.environ.get("BENCH_RUNS_ROOT", "runs"))
    found = sorted(root.glob(f"*/human_eval/{study_id}/{STUDY_FILE}"))
    if not found:
        raise StudyError(f"no study {study_id!r} under {root}/*/human_eval/; pass --run runs/<name> or --db URL")
    if len(found) > 1:
        raise StudyError(f"study {study_id!r} exists in several runs ({', '.join(str(f.parents[2]) for f in found)}); pass --run")
    run_dir = found[0].parents[2].resolve()
    return _stored_url(study_id, json.loads(found[0].read_text())["db"], run_dir), run_dir
