"""The Python API the CLI wraps; notebooks call these directly.

    from bench import api
    result = api.run(systems=["reference", "shuffled"], dataset="toy", overrides=["run.limit=4"])
    print(result.run_dir)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from bench.config import compose, to_dict
from bench.data.prepare import load_dataset, prepare_dataset
from bench.executors import make_executor
from bench.executors.embeddings import make_prefetch
from bench.executors.features import precompute_training_features
from bench.generation import build_system, generation_shards, identity_config, run_jobs
from bench.runs import Run, validate_output
from reports.html import write_report
from systems.base import GenerationRequest, get_system_class, SystemContext
from core.cache import Cache
from core.envinfo import resolve_device
from core.errors import ConfigError, MediaError
from core.media import atomic_write_audio, mux_audio, probe_video
from core.manifest import Clip
from core.runfiles import select_clips  # noqa: F401  (re-exported: bench.api.select_clips)
from core.settings import (DatasetSettings, EvaluateSettings, ExecutorSettings, PathSettings, RunSettings,
                           metric_options)


@dataclass
class SystemSummary:
    system: str
    weights: str
    requested: int
    already_done: int
    generated: int = 0
    failed: int = 0
    trained: bool = False


@dataclass
class RunResult:
    run_dir: Path
    clips: int
    systems: list[SystemSummary] = field(default_factory=list)
    evaluation: object | None = None  # metrics.evaluate.Evaluation when metrics ran
    scoring_skipped: bool = False  # metrics were asked for but outputs failed (they would not pair)
    report: Path | None = None  # the HTML report, when asked for

    @property
    def failed(self) -> int:
        return sum(s.failed for s in self.systems)


def load_config(dataset: str | None = None, systems: Sequence[str] = (), overrides: Sequence[str] = (),
                metrics: Sequence[str] | None = None):
    """Compose the config; `metrics` None means the config's `evaluate.metrics`."""
    return compose(dataset, systems, overrides, metrics=metrics)


def dataset_clips(cfg, auto_prepare: bool = True) -> list[Clip]:
    return load_dataset(DatasetSettings.from_config(cfg), auto_prepare=auto_prepare)


def prepare(dataset: str, overrides: Sequence[str] = (), force: bool = False) -> list[Clip]:
    cfg = load_config(dataset, (), overrides)
    return prepare_dataset(DatasetSettings.from_config(cfg), force=force)


def run(
    systems: Sequence[str],
    dataset: str = "toy",
    overrides: Sequence[str] = (),
    name: str | None = None,
    samples_per_clip: int | None = None,
    metrics: Sequence[str] | None = None,
    console=None,
    report: bool = False,
) -> RunResult:
    """Train (where needed), generate every system on the dataset's split (resumable), then
    score every system of the run with `metrics` (None: the config's `evaluate.metrics`;
    [] skips scoring), and with `report` write the run's offline HTML report (kept when its
    inputs are unchanged). The one orchestration path: `bench run` and `bench generate` call it.
    """
    overrides = list(overrides)
    if name is not None:
        overrides.append(f"run.name={name}")
    if samples_per_clip is not None:
        overrides.append(f"run.samples_per_clip={samples_per_clip}")
    cfg = load_config(dataset, systems, overrides, metrics)
    result = generate(cfg, console=console)
    chosen = list(metric_options(cfg))
    if chosen and result.failed:  # failed clips would not pair: re-run, or evaluate(allow_missing=True)
        result.scoring_skipped = True
    elif chosen:
        result.evaluation = evaluate(result.run_dir, metrics=chosen, overrides=overrides)
    if report:
        result.report = write_report(result.run_dir, force=False)
    return result


def generate_videos(videos: Sequence[str], system: str, dataset: str = "toy", overrides: Sequence[str] = (),
                    checkpoint: str | None = None, out_dir: str | Path = "generated", caption: str | None = None,
                    seed: int | None = None) -> list[tuple[Path, Path]]:
    """Music for your own video files with one system → [(wav, muxed mp4)] in `out_dir`.

    The system is configured as in a run on `dataset` (its `runs/<name>/<system>/train/` checkpoint
    is used unless `checkpoint` is given); each whole video is one clip."""
    overrides = list(overrides) + ([f"system.{system}.checkpoint={checkpoint}"] if checkpoint else [])
    cfg = load_config(dataset, [system], overrides, metrics=[])
    run = RunSettings.from_config(cfg)
    sys_obj, ctx = build_one_system(to_dict(cfg), (), system)
    if sys_obj.needs_training:
        raise ConfigError(f"{system} has no trained checkpoint for run {run.name!r}: pass --checkpoint "
                          f"PATH, or train first (bench train {system} --dataset {dataset})")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    requests = []
    for v in videos:
        path = Path(v).expanduser().resolve()
        if not path.is_file():
            raise MediaError(path, "video file not found")
        info = probe_video(path)
        if not info.duration or info.duration <= 0:
            raise MediaError(path, "the video declares no duration")
        clip = Clip(path.stem, str(path), "", 0.0, float(info.duration), path.stem, "test", caption=caption)
        requests.append(GenerationRequest(clip, 0, run.seed if seed is None else seed))
    results = []
    for res in sys_obj.generate(requests):
        clip = res.request.clip
        if res.error is not None:
            raise res.error
        audio = validate_output(res.audio, sys_obj.sample_rate, clip)
        wav = atomic_write_audio(out / f"{clip.id}.{system}.wav", audio, sys_obj.sample_rate)
        mp4 = mux_audio(clip.video_path, audio, sys_obj.sample_rate, out / f"{clip.id}.{system}.mp4")
        results.append((wav, mp4))
    return results


def evaluate(run_dir: str | Path, metrics: Sequence[str] | None = None, compare: Sequence[str] = (),
             allow_missing: bool | None = None, overrides: Sequence[str] = ()):
    """Score every system of a run folder (see metrics.evaluate); writes runs/<name>/metrics/."""
    import yaml

    from bench.runs import CONFIG_NAME
    from metrics.evaluate import evaluate as evaluate_run, ordered_systems

    run_dir = Path(run_dir)
    if not (run_dir / CONFIG_NAME).exists():
        raise ConfigError(f"{run_dir}: not a run folder (no {CONFIG_NAME}); run `bench run` first")
    stored = yaml.safe_load((run_dir / CONFIG_NAME).read_text())
    run_keys = {"run.name", "run.samples_per_clip", "run.seed", "run.split", "run.limit"}
    run = RunSettings.from_config(stored)
    cfg = load_config(DatasetSettings.from_config(stored).name, (),
                      [o for o in overrides if o.split("=")[0] not in run_keys and not o.startswith(("system.", "dataset."))],
                      metrics)

    clips = select_clips(load_dataset(DatasetSettings.from_config(stored), auto_prepare=False), run.split, run.limit)
    systems = ordered_systems(list(stored.get("system", {})))
    settings = EvaluateSettings.from_config(cfg)
    cache, seed = Cache(PathSettings.from_config(cfg).cache_dir), run.seed
    # files not embedded yet go out as shards on the executor (`executor=`); scoring reads the cache
    with make_executor(ExecutorSettings.from_config(cfg)) as executor:
        return evaluate_run(run_dir, clips, systems, metric_options(cfg), compare=compare,
                            allow_missing=settings.allow_missing if allow_missing is None else allow_missing,
                            n_resamples=settings.n_resamples, seed=seed, cache=cache,
                            prefetch=make_prefetch(executor, run_dir, cache, seed, _embedding_bar))


def _embedding_bar(metric: str, total: int):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"{metric} embeddings", unit="file", disable=None)


def evaluate_folders(generated: str | Path, reference: str | Path, out: str | Path | None = None,
                     suite: str | None = None, metrics: Sequence[str] | None = None, unpaired: bool = False,
                     sample_rate: int | None = None, weights: str = "pretrained", overrides: Sequence[str] = (),
                     n_resamples: int | None = None, seed: int = 0, captions: str | Path | None = None):
    """Score any folder of generated audio against a folder of reference audio (paired by file
    name stem; `unpaired`: FD/FAD/KID/IS only) with a metric suite (metrics.presets; default
    audioldm_eval-0.0.3) → metrics.evaluate.Evaluation. `captions`: each generated file's text
    prompt (CSV id,caption or JSON), for the CLAP score. Writes a run-like folder `out` (default
    <runs_root>/<generated>-vs-<reference>) with the same tidy rows and report; a failed call
    leaves no folder behind (bench.folders)."""
    from bench.folders import evaluate_folders as score_folders

    cfg = compose(None, (), [o for o in overrides if not o.startswith("metric.")], metrics=[])
    paths = PathSettings.from_config(cfg)
    if out is None:
        out = paths.runs_root / f"{Path(generated).resolve().name}-vs-{Path(reference).resolve().name}"
    return score_folders(generated, reference, out, suite=suite, metrics=metrics, unpaired=unpaired,
                         sample_rate=sample_rate, weights=weights, overrides=overrides,
                         n_resamples=EvaluateSettings.from_config(cfg).n_resamples if n_resamples is None
                         else n_resamples, seed=seed, cache_dir=paths.cache_dir, captions=captions)


def system_context(conf: dict, clips: Sequence[Clip], system: str, device: str = "cpu"):
    """The SystemContext of one system in the run `conf` describes (a resolved config dict)."""
    run, paths = RunSettings.from_config(conf), PathSettings.from_config(conf)
    return SystemContext(
        dataset_clips=tuple(clips),
        sample_rate=DatasetSettings.from_config(conf).sample_rate,
        seed=run.seed,
        work_dir=paths.run_dir(run) / system / "_work",
        cache_dir=paths.cache_dir,
        device=device,
    )


def build_one_system(conf: dict, clips: Sequence[Clip], name: str):
    """(System, SystemContext) for system `name` of `conf`, built once; the device is resolved
    (importing torch) only when the system's class runs models on one."""
    scfg = conf["system"][name]
    accelerated = get_system_class(scfg.get("name", name)).uses_accelerator
    ctx = system_context(conf, clips, name, resolve_device(RunSettings.from_config(conf).device) if accelerated else "cpu")
    return build_system(name, scfg, ctx), ctx


def build_systems(conf: dict, clips: Sequence[Clip]) -> dict:
    """name → (System, SystemContext) for every system in `conf`."""
    return {name: build_one_system(conf, clips, name) for name in conf["system"]}


def train(cfg) -> dict[str, bool]:
    """Train every system of `cfg` that needs it on the train split; name → whether it trained.
    The training clips' features go through the configured executor first (`executor=`), as in
    `generate`; the training itself runs here (several GPUs: `--gpus N`, DDP through accelerate)."""
    conf = to_dict(cfg)
    clips = dataset_clips(cfg)
    run_dir = PathSettings.from_config(conf).run_dir(RunSettings.from_config(conf))
    done = {}
    with make_executor(ExecutorSettings.from_config(conf)) as executor:
        for name, (system, ctx) in build_systems(conf, clips).items():
            done[name] = system.needs_training
            if system.needs_training:
                train_system(executor, run_dir, name, system, conf["system"][name], ctx, clips)
    return done


def train_system(executor, run_dir: Path, name: str, system, config: dict, ctx, clips: Sequence[Clip]) -> None:
    """Train one system on the train split of `clips`: its training features fan out over
    `executor` (dynamics, semantics, codes: one job per clip shard) where the system can, then it trains."""
    from tqdm.auto import tqdm

    train_clips = [c for c in clips if c.split == "train"]
    with tqdm(total=len(train_clips), desc=f"{name} features ({executor.engine})", unit="clip",
              disable=None) as bar:
        precompute_training_features(executor, run_dir, name, system, config, ctx, train_clips, bar.update)
    system.train(train_clips)


def generate(cfg, console=None) -> RunResult:
    """Generation stage of `run` for an already composed config."""
    from tqdm.auto import tqdm

    conf = to_dict(cfg)
    run_settings = RunSettings.from_config(conf)
    clips = dataset_clips(cfg)
    selected = select_clips(clips, run_settings.split, run_settings.limit)
    if not selected:
        raise ConfigError(f"dataset {DatasetSettings.from_config(conf).name!r} has no clips in split "
                          f"{run_settings.split!r}")
    run = Run.open(PathSettings.from_config(conf).runs_root, identity_config(conf), save=False)  # gpus etc. may change on resume
    executor = make_executor(ExecutorSettings.from_config(conf))
    result = RunResult(run.dir, len(selected))

    systems = build_systems(conf, clips)
    run.save_config()  # only now: a command refused above leaves no config behind
    device = next((ctx.device for _, ctx in systems.values() if ctx.device != "cpu"), "cpu")
    run.update_env({n: s.describe() for n, (s, _) in systems.items()}, device)

    # Every system's shards go to the executor together, so systems run side by side where the
    # engine has room (training, where needed, happens here first).
    shards, summaries = [], {}
    for sys_name, (system, ctx) in systems.items():
        summary = summaries[sys_name] = SystemSummary(sys_name, system.weights,
                                                      len(selected) * run_settings.samples_per_clip, 0)
        if system.needs_training:
            train_system(executor, run.dir, sys_name, system, conf["system"][sys_name], ctx, clips)
            summary.trained = True
        todo = run.pending(sys_name, selected, system.sample_rate)
        summary.already_done = summary.requested - len(todo)
        shards += generation_shards(executor, run.dir, sys_name, system, conf["system"][sys_name], ctx, todo)
        result.systems.append(summary)
    with executor, tqdm(total=sum(s.size for s in shards), desc=f"generate ({executor.engine})",
                        unit="clip", disable=None if shards else True) as bar:
        for outcome in run_jobs(executor, shards, bar.update):
            summary = summaries[outcome.system]
            summary.generated += outcome.done
            summary.failed += outcome.failed
            summary.already_done += outcome.already_done
    return result
