"""Two folders in, numbers out: score any folder of generated audio against a folder of reference
audio (``bench evaluate --generated DIR --reference DIR``, ``bench.api.evaluate_folders``).

Pairing is by file name stem (``a.wav`` ↔ ``a.flac``); a paired run with stems on one side only
is an error listing them. ``unpaired`` scores the set metrics only (FD, FAD, KID, IS, FAD∞,
per-clip FAD against the reference set): the two sets may differ in size, and the bootstrap
resamples each set on its own (a two-sample bootstrap; paired runs resample clips jointly, as
``bench evaluate --run`` does).

The output folder looks like a run's: ``config.yaml`` (the suite, the folders), ``folders.json``
(every file scored, its duration), ``metrics/<metric>.parquet`` with the same tidy rows as
``metrics.evaluate`` (plus ``clip_seconds``, the clips' median duration) and ``metrics/notes.json``.
It is written into ``<out>.staging-<pid>`` beside ``out`` and renamed into place only when every
metric succeeded: a failed command leaves no folder behind and never touches a finished one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from bench.config import compose
from metrics.evaluate import _score_systems, Evaluation, clip_captions, fingerprint, summarise
from metrics.presets import check_preset_weights
from reports.html import write_report
from core import __version__
from core.cache import Cache, file_digest
from core.envinfo import package_versions
from core.options import accepted_kwargs
from core.settings import metric_options
from core.manifest import Clip
from core.errors import ConfigError, MediaError
from metrics.base import Score
from metrics.errors import MetricFailed, PairingError

#: what soundfile (libsndfile ≥ 1.1) decodes; the embedders read through it
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".opus", ".mp3", ".aiff", ".aif")
#: metrics defined on two sets without pairing (KL compares each clip with its own reference)
SET_METRICS = ("fd", "fad", "kid", "is", "fad_inf", "fad_clip")
MARKER = "folders.json"
SYSTEM = "generated"
EVAL_SAMPLE_RATES = (16000, 32000)


@dataclass
class FolderSet:
    """The audio files of one folder by stem, with their durations (seconds)."""

    folder: Path
    files: dict[str, Path]
    seconds: dict[str, float] = field(default_factory=dict)
    #: stem → caption (the text prompt; `--captions`), read by the CLAP score
    captions: dict[str, str] = field(default_factory=dict)

    def clips(self, stems: Sequence[str]) -> list[Clip]:
        return [Clip(s, "", str(self.files[s]), 0.0, self.seconds[s], s, "test", caption=self.captions.get(s))
                for s in stems]


#: column names `read_captions` takes for the id and the text (stable-audio-metrics' MusicCaps CSV: ytid, caption)
CAPTION_ID_COLUMNS = ("id", "ytid", "stem", "file", "filename", "name")
CAPTION_TEXT_COLUMNS = ("caption", "text", "prompt", "description")


def read_captions(path: str | os.PathLike) -> dict[str, str]:
    """Captions (text prompts) by file stem from a CSV with a header (an id column: one of
    CAPTION_ID_COLUMNS; a text column: one of CAPTION_TEXT_COLUMNS; ids may carry the file's
    extension) or a JSON object ``{id: text}``. A file without those columns, an empty caption or
    an id given twice is a ConfigError naming the file and the problem."""
    import csv

    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(f"--captions {path}: no such file")
    pairs: list[tuple[str, str]] = []
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(f"--captions {path}: not valid JSON ({exc})") from None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise ConfigError(f"--captions {path}: expected a JSON object {{\"<file stem>\": \"<caption>\", …}}")
        pairs = [(str(k), v) for k, v in data.items()]
    else:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            cols = {c.strip().lower(): c for c in (reader.fieldnames or [])}
            id_col = next((cols[c] for c in CAPTION_ID_COLUMNS if c in cols), None)
            text_col = next((cols[c] for c in CAPTION_TEXT_COLUMNS if c in cols), None)
            if id_col is None or text_col is None:
                raise ConfigError(f"--captions {path}: a CSV needs a header with an id column "
                                  f"({'/'.join(CAPTION_ID_COLUMNS)}) and a text column ({'/'.join(CAPTION_TEXT_COLUMNS)}); "
                                  f"it has {list(reader.fieldnames or [])}")
            pairs = [(row[id_col] or "", row[text_col] or "") for row in reader]
    out: dict[str, str] = {}
    for raw, text in pairs:
        stem = Path(raw.strip()).stem if Path(raw.strip()).suffix.lower() in AUDIO_SUFFIXES else raw.strip()
        if not stem or not text.strip():
            raise ConfigError(f"--captions {path}: an empty id or caption (id {raw!r})")
        if stem in out:
            raise ConfigError(f"--captions {path}: id {stem!r} is given twice")
        out[stem] = text
    if not out:
        raise ConfigError(f"--captions {path}: no captions")
    return out


def list_audio(folder: str | os.PathLike, what: str) -> FolderSet:
    """Every audio file of `folder` (not recursive) by name stem, each opened once (header only):
    an unreadable file is an error naming it, before any model is built."""
    import soundfile as sf

    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ConfigError(f"--{what} {folder}: no such folder")
    files: dict[str, Path] = {}
    clash = []
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES:
            if p.stem in files:
                clash.append(f"{files[p.stem].name} and {p.name}")
            files[p.stem] = p.resolve()
    if clash:
        raise ConfigError(f"--{what} {folder}: files are paired by name stem and these share one: {'; '.join(clash)}")
    if not files:
        raise ConfigError(f"--{what} {folder}: no audio files ({', '.join(AUDIO_SUFFIXES)})")
    out = FolderSet(folder.resolve(), files)
    for stem, p in files.items():
        try:
            info = sf.info(str(p))
        except Exception as exc:
            raise MediaError(p, f"unreadable audio ({exc})", "re-encode it as WAV or FLAC, or remove it") from None
        if info.frames <= 0 or info.samplerate <= 0:
            raise MediaError(p, "holds no samples", "remove it from the folder")
        out.seconds[stem] = info.frames / info.samplerate
    return out


def pair_stems(gen: FolderSet, ref: FolderSet) -> list[str]:
    """The stems both folders have; any stem on one side only is a PairingError listing them all."""
    only_gen, only_ref = sorted(set(gen.files) - set(ref.files)), sorted(set(ref.files) - set(gen.files))
    if only_gen or only_ref:
        lines = [f"{len(only_gen)} generated file(s) with no reference of the same name: {only_gen}" if only_gen else "",
                 f"{len(only_ref)} reference file(s) with no generated file of the same name: {only_ref}" if only_ref
                 else ""]
        raise PairingError(f"{gen.folder} and {ref.folder} do not pair by file name:\n  "
                           + "\n  ".join(x for x in lines if x)
                           + "\nRename them, or pass --unpaired to score the set metrics (FD, FAD, KID, IS) only.")
    return sorted(gen.files)


# --------------------------------------------------------------------------- metric configs
def folder_metric_configs(suite: str | None = None, metrics: Sequence[str] | None = None,
                          sample_rate: int | None = None, weights: str = "pretrained", unpaired: bool = False,
                          overrides: Sequence[str] = (), captions: bool = False
                          ) -> tuple[str | None, dict[str, dict], list[str]]:
    """(suite, metric key → config, notes). No suite and no metrics: the default preset
    (audioldm_eval-0.0.3). `metrics` alone: the Hydra configs of bench/conf/metric/. Overrides
    ``metric.<key>.<field>=value`` apply to either. Without `captions`, a metric that reads them
    (the CLAP score) is left out of a suite with a note, and refused when asked for by name."""
    import yaml

    from metrics.embedding_metrics import sample_rate_fields
    from metrics.presets import DEFAULT_PRESET, preset_metric_configs

    notes: list[str] = []
    metric_overrides = [o for o in overrides if o.startswith("metric.")]
    if suite is None and not metrics:
        suite = DEFAULT_PRESET
    if suite is not None:
        configs = preset_metric_configs(suite, weights=weights)
        if metrics:
            unknown = [m for m in metrics if m not in configs]
            if unknown:
                raise ConfigError(f"--metrics {','.join(unknown)}: not in suite {suite!r} (it has {', '.join(configs)})")
            configs = {k: v for k, v in configs.items() if k in metrics}
        for o in metric_overrides:
            key, _, value = o.partition("=")
            parts = key.split(".")
            if len(parts) != 3 or parts[1] not in configs:
                raise ConfigError(f"override {o!r}: expected metric.<key>.<field>=value with <key> one of "
                                  f"{', '.join(configs)} (suite {suite})")
            configs[parts[1]][parts[2]] = yaml.safe_load(value)
    else:
        configs = metric_options(compose(None, (), list(overrides), metrics=list(metrics)))
        for k, c in configs.items():  # the YAML's default follows the dataset; folders have none
            if not any(o.startswith(f"metric.{k}.weights=") for o in metric_overrides):
                c["weights"] = weights
    if sample_rate is not None:
        if int(sample_rate) not in EVAL_SAMPLE_RATES:
            raise ConfigError(f"--sample-rate must be 16000 or 32000 (audioldm_eval's two Cnn14 front ends), "
                              f"got {sample_rate}")
        fields = sample_rate_fields(configs)
        if not fields:
            raise ConfigError(f"--sample-rate picks Cnn14's front end (audioldm_eval) or audioldm_eval main's "
                              f"evaluation rate; {'suite ' + repr(suite) if suite else 'these metrics'} "
                              f"({', '.join(configs)}) run embedders with their own fixed rates")
        for k, field_name in fields.items():
            configs[k][field_name] = int(sample_rate)
    if not captions:
        from metrics.base import get_metric_class

        textual = [k for k, c in configs.items() if getattr(get_metric_class(c["name"]), "uses_captions", False)]
        if textual and metrics:
            raise ConfigError(f"--metrics {','.join(textual)} compares each file's caption (its text prompt) with "
                              "the audio: give --captions FILE (a CSV with id,caption columns, or a JSON {id: caption})")
        if textual:
            notes.append(f"{', '.join(textual)} left out: no --captions FILE (each generated file's text prompt)")
        configs = {k: c for k, c in configs.items() if k not in textual}
    if unpaired:
        paired_only = [k for k, c in configs.items() if c["name"] not in SET_METRICS]
        if paired_only and metrics:
            raise ConfigError(f"--unpaired: {', '.join(paired_only)} compare each generated clip with its own "
                              f"reference; unpaired runs score {', '.join(SET_METRICS)} only")
        if paired_only:
            notes.append(f"--unpaired: {', '.join(paired_only)} left out (paired metrics: each generated clip "
                         "against its own reference)")
        configs = {k: c for k, c in configs.items() if k not in paired_only}
        if not configs:
            raise ConfigError(f"--unpaired: suite {suite!r} has no set metric ({', '.join(SET_METRICS)})")
    return suite, configs, notes


# --------------------------------------------------------------------------- unpaired scores
def _two_sample_statistic(n_gen: int, n_ref: int, full: float, weighted, seed: int):
    """A set statistic for bootstrap_ci over the generated set's clip indices; each replicate also
    draws the reference set's clips on its own (seeded, the same draws on every call). Rows of
    another length (a jackknife) keep the whole reference set."""

    def statistic(idx):
        idx = np.asarray(idx)
        if idx.shape[0] == 1 and idx.shape[1] == n_gen and np.array_equal(idx[0], np.arange(n_gen)):
            return np.array([full])
        cg = np.stack([np.bincount(r, minlength=n_gen) for r in idx]).astype(np.float64)
        if idx.shape[1] == n_gen:
            ridx = np.random.default_rng([seed, 1]).integers(0, n_ref, size=(idx.shape[0], n_ref))
            cr = np.stack([np.bincount(r, minlength=n_ref) for r in ridx]).astype(np.float64)
        else:
            cr = np.ones((idx.shape[0], n_ref))
        return weighted(cg, cr)

    return statistic


def _stack(rows: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    x = np.concatenate([np.atleast_2d(r) for r in rows]).astype(np.float64)
    owner = np.repeat(np.arange(len(rows)), [len(np.atleast_2d(r)) for r in rows])
    return x, owner


def unpaired_scores(metric, gen: Mapping[str, Path], gen_clips: Sequence[Clip], ref: Mapping[str, Path],
                    ref_clips: Sequence[Clip]) -> dict[str, Score]:
    """The scores of one set metric (FD, FAD, KID, IS, FAD∞, per-clip FAD) between two sets of
    any sizes: the same values as the paired metric's (those never use the pairing), with a
    two-sample bootstrap statistic."""
    from metrics.embedding_metrics import fd_point
    from metrics.frechet import FrechetResampler
    from metrics.small_sample import KIDResampler, fad_inf, kid, per_clip_fad

    name = metric.name
    if name == "is":
        return metric.scores(list(gen_clips), gen, gen)  # the generated set alone
    g_out = metric._embed(gen, gen_clips)
    r_out = metric._embed(ref, ref_clips)
    g_rows, r_rows = metric._rows(g_out), metric._rows(r_out)
    ng, nr = len(g_rows), len(r_rows)
    if name == "fad_clip":
        return {"fad_clip": Score(per_clip=per_clip_fad(g_rows, metric._reference_stats(r_rows)))}
    a, owner_a = _stack(g_rows)
    b, owner_b = _stack(r_rows)
    if name in ("fd", "fad", "fad_inf"):
        resampler = FrechetResampler(a, b, groups=(owner_a, owner_b), n_groups=(ng, nr))
        if name == "fad_inf":
            fit = fad_inf(g_rows, metric._reference_stats(r_rows), steps=metric.steps, min_n=metric.min_n,
                          seed=metric.seed)

            def constant(value):
                return lambda idx: np.full(np.asarray(idx).shape[0], value)

            return {"fad_inf": Score(statistic=_two_sample_statistic(ng, nr, fit.score, resampler.weighted,
                                                                     metric.seed), min_clips=2),
                    "fad_inf_slope": Score(statistic=constant(fit.slope), min_clips=2),
                    "fad_inf_r2": Score(statistic=constant(fit.r2), min_clips=2, higher_is_better=True)}
        full = fd_point(g_rows, r_rows, a, b, metric.fd_method, metric.stats, resampler)
        return {name: Score(statistic=_two_sample_statistic(ng, nr, full, resampler.weighted, metric.seed),
                            min_clips=2, floor=0.0)}
    if name == "kid":  # in the embeddings' own dtype, as the paired KID (audioldm_eval runs float32)
        g = np.concatenate([np.atleast_2d(x) for x in g_rows])
        r = np.concatenate([np.atleast_2d(x) for x in r_rows])
        full = kid(g, r, metric.subsets, metric.subset_size, metric.degree, None, metric.coef0).mean
        resampler = KIDResampler(a, b, metric.degree, None, metric.coef0)
        return {"kid": Score(statistic=_two_sample_statistic(ng, nr, full, resampler.weighted, metric.seed),
                             min_clips=2)}
    raise ConfigError(f"metric {name!r} needs paired clips; unpaired runs score {', '.join(SET_METRICS)}")


# --------------------------------------------------------------------------- staging
def staging_dir(out: Path) -> Path:
    """This process's staging folder beside `out`; those of processes no longer alive (killed
    mid-run) are removed first."""
    for old in out.parent.glob(f".{out.name}.staging-*"):
        pid = old.name.rsplit("-", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    return out.parent / f".{out.name}.staging-{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def check_out(out: Path) -> None:
    """`out` must be absent or a folder a previous folder evaluation wrote (it is then replaced
    only once the new one is complete)."""
    if out.exists() and not (out / MARKER).is_file():
        if out.is_dir() and not any(out.iterdir()):
            return
        raise ConfigError(f"--out {out}: exists and was not written by `bench evaluate --generated`; "
                          "pick another folder (nothing in it was touched)")


def publish(staged: Path, out: Path, finish=None) -> None:
    """Move the finished staging folder to `out`, then run `finish(out)` (the report, which names
    the folder it renders). A previous evaluation there is set aside first and deleted only once
    `finish` succeeded; if anything fails the new folder is removed and the previous one put back."""
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.previous-{os.getpid()}"
        os.replace(out, old)
    try:
        os.replace(staged, out)
        if finish is not None:
            finish(out)
    except BaseException:
        if out.exists() and not staged.exists():
            shutil.rmtree(out, ignore_errors=True)
        if old is not None:
            os.replace(old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def set_fingerprint(config: Mapping, gen: Mapping[str, Path], ref: Mapping[str, Path], paired: bool,
                    n_resamples: int, seed: int) -> str:
    """What an unpaired row depends on: config, bootstrap settings, every file's bytes (both sets)."""
    h = hashlib.sha256(json.dumps({"metric": dict(config), "paired": paired, "n_resamples": n_resamples,
                                   "seed": seed, "bench": __version__}, sort_keys=True, default=str).encode())
    for side in (gen, ref):
        for stem in sorted(side):
            h.update(f"{stem}:{file_digest(side[stem])};".encode())
        h.update(b"|")
    return h.hexdigest()


# --------------------------------------------------------------------------- the command
def evaluate_folders(generated: str | os.PathLike, reference: str | os.PathLike, out: str | os.PathLike,
                     suite: str | None = None, metrics: Sequence[str] | None = None, unpaired: bool = False,
                     sample_rate: int | None = None, weights: str = "pretrained", overrides: Sequence[str] = (),
                     n_resamples: int = 1000, seed: int = 0, cache_dir: str | os.PathLike | None = None,
                     progress: bool = True, report: bool = True, captions: str | os.PathLike | None = None):
    """Score folder `generated` against folder `reference` into `out` (see the module
    docstring) → metrics.evaluate.Evaluation. Every input file is opened, the pairing checked and
    every missing weights file named before any model is built. `captions`: a file of each
    generated file's text prompt (`read_captions`), for the CLAP score."""
    import pandas as pd
    import yaml

    out = Path(out).expanduser().absolute()
    check_out(out)
    gen, ref = list_audio(generated, "generated"), list_audio(reference, "reference")
    if not unpaired:
        pair_stems(gen, ref)
    suite, configs, notes = folder_metric_configs(suite, metrics, sample_rate, weights, unpaired, overrides,
                                                  captions=captions is not None)
    if captions is not None:
        texts = read_captions(captions)
        lacking = sorted(set(gen.files) - set(texts))
        if lacking:
            raise ConfigError(f"--captions {captions}: {len(lacking)} generated file(s) have no caption: {lacking[:10]}")
        extra = sorted(set(texts) - set(gen.files))
        if extra:
            notes.append(f"--captions: {len(extra)} caption(s) name no generated file, e.g. {extra[:5]}")
        gen.captions = ref.captions = {s: texts[s] for s in gen.files}
    check_preset_weights(configs, cache_dir)
    cache = Cache(cache_dir) if cache_dir is not None else None
    seconds = [*gen.seconds.values(), *ref.seconds.values()]
    clip_seconds = float(np.median(seconds))
    if max(seconds) - min(seconds) > 0.05 * clip_seconds:
        notes.append(f"clip durations differ: {min(seconds):.2f}–{max(seconds):.2f} s (median {clip_seconds:.2f} s)")
    out.parent.mkdir(parents=True, exist_ok=True)
    staged = staging_dir(out)
    shutil.rmtree(staged, ignore_errors=True)  # this process's own leftover only (the name carries its pid)
    (staged / "metrics").mkdir(parents=True)
    try:
        set_rows, notes_by_metric = [], {}
        for key, cfg in configs.items():
            rows, metric_notes = _metric_rows(key, cfg, gen, ref, unpaired, out, n_resamples, seed, cache, progress)
            for r in rows:
                r.update(clip_seconds=clip_seconds, n_reference=len(ref.files), suite=suite)
            pd.DataFrame(rows).to_parquet(staged / "metrics" / f"{key}.parquet", index=False)
            set_rows += [r for r in rows if r["clip"] is None]
            notes_by_metric[key] = metric_notes
            notes += metric_notes
        clip_ids = sorted(gen.files)
        (staged / "metrics" / "notes.json").write_text(json.dumps(
            {"notes": notes, "by_metric": notes_by_metric, "clips": clip_ids}, indent=2))
        (staged / MARKER).write_text(json.dumps(
            {"generated": {"folder": str(gen.folder), "files": {s: [str(p), gen.seconds[s]] for s, p in gen.files.items()}},
             "reference": {"folder": str(ref.folder), "files": {s: [str(p), ref.seconds[s]] for s, p in ref.files.items()}},
             "paired": not unpaired, "suite": suite, "metrics": configs,
             "captions": {"file": str(Path(captions).expanduser().resolve()), "by_stem": gen.captions}
             if captions is not None else None}, indent=2, default=str))
        (staged / "config.yaml").write_text(yaml.safe_dump({
            "dataset": {"name": "folders", "kind": "folders", "root": str(ref.folder), "generated": str(gen.folder),
                        "reference": str(ref.folder)},
            "run": {"name": out.name, "split": "test", "seed": seed},
            "system": {SYSTEM: {"name": "folder", "path": str(gen.folder)}},
            "evaluate": {"suite": suite, "unpaired": unpaired, "sample_rate": sample_rate, "n_resamples": n_resamples,
                         "metrics": list(configs)}}, sort_keys=False))
        if report:
            from reports.html import REPORT_DIR

            if (out / MARKER).is_file() and (out / REPORT_DIR).is_dir():
                # kept as it is (not re-rendered) when every input it was rendered from is unchanged
                shutil.copytree(out / REPORT_DIR, staged / REPORT_DIR, symlinks=True)
        publish(staged, out, _render_report if report else None)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return Evaluation(out, pd.DataFrame(set_rows), None, notes)


def _render_report(folder: Path) -> None:
    write_report(folder, force=False)


def _metric_rows(key, cfg, gen: FolderSet, ref: FolderSet, unpaired, out: Path, n_resamples, seed, cache, progress):
    """One metric's tidy rows (set and per-clip) and notes; rows stored by an earlier evaluation
    into `out` with the same fingerprint are reused as they are."""
    import pandas as pd

    if unpaired:
        fp = set_fingerprint(cfg, gen.files, ref.files, False, n_resamples, seed)
    else:
        fp = fingerprint(cfg, gen.files, ref.files, n_resamples, seed,
                         clip_captions(cfg["name"], gen.clips(sorted(gen.files))))
    old_path = out / "metrics" / f"{key}.parquet"
    if old_path.is_file():
        old = pd.read_parquet(old_path)
        if "fingerprint" in old.columns and len(old) and (old["fingerprint"] == fp).all():
            old_notes = out / "metrics" / "notes.json"
            by_metric = json.loads(old_notes.read_text()).get("by_metric", {}) if old_notes.is_file() else {}
            return [{**r, "clip": r["clip"] if isinstance(r["clip"], str) else None}
                    for r in old.to_dict("records")], list(by_metric.get(key, []))
    if not unpaired:
        clips = ref.clips(sorted(gen.files))  # a clip's audio is its reference file
        rows, _, notes = _score_systems(cfg["name"], cfg, [SYSTEM], clips,
                                        {SYSTEM: gen.files}, ref.files, {SYSTEM: fp}, n_resamples, seed, cache,
                                        progress)
        return rows, notes
    return _unpaired_rows(key, cfg, gen, ref, fp, n_resamples, seed, cache)


def _unpaired_rows(key, cfg, gen: FolderSet, ref: FolderSet, fp, n_resamples, seed, cache):
    import warnings

    from metrics.base import get_metric_class

    cls = get_metric_class(cfg["name"])
    kwargs = {k: v for k, v in cfg.items() if k != "name"}
    accepted_kwargs(cls, kwargs, f"metric {key!r}")
    metric = cls(cache=cache, seed=seed, **kwargs)
    gen_stems, ref_stems = sorted(gen.files), sorted(ref.files)
    gen_clips = gen.clips(gen_stems)
    notes = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            scores = unpaired_scores(metric, gen.files, gen_clips, ref.files, ref.clips(ref_stems))
        except (KeyboardInterrupt, OSError):
            raise
        except Exception as exc:
            raise MetricFailed(f"metric {key!r} failed on {len(gen_stems)} generated and {len(ref_stems)} reference "
                               f"file(s): {type(exc).__name__}: {exc}") from exc
    notes += list(dict.fromkeys(f"{key}: {w.message}" for w in caught))
    config, versions = json.dumps(metric.describe(), default=str), json.dumps(package_versions())
    rows = []
    n = len(gen_stems)
    for k, score in scores.items():
        base = dict(metric=key, key=k, system=SYSTEM, higher_is_better=score.higher_is_better, target=score.target,
                    weights=metric.weights, config=config, versions=versions, n_resamples=n_resamples, fingerprint=fp)
        if n < score.min_clips:
            notes.append(f"{k}: not computed, it needs at least {score.min_clips} clips and the folder has {n}")
            rows.append({**base, "clip": None, "value": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                         "ci_method": None, "n_clips": n})
            continue
        ci, n_used = summarise(score, n, n_resamples, seed)
        rows.append({**base, "clip": None, "value": ci.estimate if ci else np.nan,
                     "ci_low": ci.ci_low if ci else np.nan, "ci_high": ci.ci_high if ci else np.nan,
                     "ci_method": (ci.method + " (two-sample)") if ci else None, "n_clips": n_used})
        if score.per_clip is not None:
            rows += [{**base, "clip": s, "value": float(v), "ci_low": np.nan, "ci_high": np.nan, "ci_method": None,
                      "n_clips": 1} for s, v in zip(gen_stems, score.per_clip)]
    return rows, notes


__all__ = ["AUDIO_SUFFIXES", "SET_METRICS", "FolderSet", "list_audio", "pair_stems", "folder_metric_configs",
           "unpaired_scores", "evaluate_folders", "staging_dir", "check_out", "publish", "set_fingerprint"]
