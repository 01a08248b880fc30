"""The external-program runner every baseline adapter shares (DESIGN.md §4).

The baselines pin old stacks (Python 3.7–3.9, torch 1.7–2.1), so each runs as a program in its
own environment, from a working copy of its official repository; the harness never imports or
vendors their code. An adapter (`systems/baselines/<name>.py`) says which steps to run and what
to read back; this module does the rest:

- **Commands** are templates from the system's Hydra config (`commands:`, one argument list per
  step), filled with `{python}` (the environment's interpreter), `{repo}` (the working copy),
  `{launch}` (`launch.py`: seeds, pinned environment variables), `{seed}`, `{work}` (the
  working directory) and the adapter's own fields (`{video}`, `{out}`, ...).
- **One fresh temporary working directory per clip** (or per batch) under the run's `_work/`:
  several baselines write into, or delete folders of, their working directory.
- **Seed** passed through (`--seed` to the launcher, or the script's own flag).
- **Per-clip timeout** (the whole process group is killed) and **retries**.
- **stdout/stderr** of every step go to `runs/<name>/<system>/logs/<clip>.<step>.try<k>.{out,err}`.
- **Failures** — a non-zero exit, a timeout, a missing or unusable output — become the clip's
  error (so `failures.jsonl` gets it with the log paths) while the other clips go on.
"""

from __future__ import annotations

import difflib
import inspect
import os
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Iterable, Sequence

from systems.baselines.media import cut_clip_video
from systems.render import check_synth, SynthesizerError
from core.errors import BenchError, ConfigError
from core.runfiles import output_name
from systems.base import GenerationRequest, GenerationResult, System, SystemContext
from systems.baselines.normalise import RawOutput, append_record, normalise

LAUNCH = Path(__file__).with_name("launch.py")
DRIVERS = Path(__file__).with_name("drivers")
ENVS = Path(__file__).with_name("envs")
STDERR_TAIL = 15  # lines of a failed step's stderr quoted in the failure record


class BaselineError(Exception):
    """A baseline's program failed for one clip (exit status, timeout, missing output)."""


class BaselineTimeout(BaselineError):
    """A step ran past the per-clip timeout and was killed."""


class NotReadyError(ConfigError):
    """The repository, environment or weights of a baseline are missing (never retried)."""


@dataclass(frozen=True)
class Weight:
    """A file or folder a baseline needs: the config option holding its path and where to get it."""

    option: str
    source: str


def _init_params(cls) -> set[str]:
    """Named parameters of every __init__ along the class's MRO (what it takes besides **options)."""
    names = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        names |= {p.name for p in inspect.signature(init).parameters.values()
                  if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)}
    return names - {"self", "context"}


def _shipped_keys(name: str) -> set[str]:
    """Top-level keys of the system's shipped config, bench/conf/system/<name>.yaml."""
    from omegaconf import OmegaConf

    from core.options import CONF_DIR

    path = CONF_DIR / "system" / f"{name}.yaml"
    return set(OmegaConf.load(path).keys()) if path.is_file() else set()


def _blank(value) -> bool:
    return value is None or str(value).strip() in ("", "None", "null", "???")


def free_port() -> int:
    """A TCP port free on the loopback now (for a baseline that opens a process-group rendezvous)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_gpus(value) -> list[str]:
    """`gpus` option → GPU indices: null → [] (the system's own `gpu`/`device` option, as shipped), "0,1" or
    [0, 1] → ["0", "1"]."""
    if _blank(value):
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    out = [str(i).strip() for i in items if str(i).strip()]
    if not all(i.isdigit() for i in out) or len(set(out)) != len(out):
        raise ConfigError(f"gpus must be distinct GPU indices such as [0, 1] or \"0,1\", got {value!r}")
    return out


GPU_LOCKS = Path(tempfile.gettempdir()) / f"bench-gpu-locks-{os.getuid()}"


@contextmanager
def gpu_lease(gpus: Sequence[str], poll: float = 0.5):
    """Hold one of `gpus` for this machine's baseline steps: an exclusive lock file per GPU index (one
    folder per user under the temp folder), tried in order, waiting while all are held. Two workers
    (threads or processes) never get the same GPU; a crashed holder's lock goes with its process."""
    import fcntl

    GPU_LOCKS.mkdir(parents=True, exist_ok=True)
    while True:
        for gpu in gpus:
            fh = open(GPU_LOCKS / f"gpu{gpu}.lock", "a")
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.close()
                continue
            try:
                yield gpu
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
                fh.close()
            return
        time.sleep(poll)


def lfs_pointer(path: Path) -> bool:
    """A git-LFS pointer file (a clone without git-lfs) instead of the real file."""
    try:
        with open(path, "rb") as fh:
            return fh.read(40).startswith(b"version https://git-lfs")
    except OSError:
        return False


def run_step(argv: Sequence[str], cwd: Path, env: dict, timeout: float, log_prefix: Path) -> float:
    """Run one command; return its wall time. Raise BaselineError/BaselineTimeout on failure."""
    log_prefix.parent.mkdir(parents=True, exist_ok=True)
    out, err = Path(f"{log_prefix}.out"), Path(f"{log_prefix}.err")
    t0 = time.monotonic()
    with open(out, "wb") as fo, open(err, "wb") as fe:
        fe.write(("$ " + " ".join(str(a) for a in argv) + f"\n# cwd: {cwd}\n").encode())
        fe.flush()
        try:
            proc = subprocess.Popen([str(a) for a in argv], cwd=str(cwd), env=env, stdout=fo, stderr=fe,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError as exc:
            raise BaselineError(f"cannot start {argv[0]} ({exc}); logs: {err}") from exc
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise BaselineTimeout(f"{log_prefix.name}: timed out after {timeout:g} s and was killed "
                                  f"(system.<name>.timeout); logs: {out}, {err}") from None
        except BaseException:
            _kill_group(proc)  # an interrupted run must not leave a GPU job behind
            raise
    seconds = time.monotonic() - t0
    if rc != 0:
        tail = err.read_text(errors="replace").splitlines()[-STDERR_TAIL:]
        raise BaselineError(f"{log_prefix.name}: exited with status {rc}; logs: {out}, {err}\n" + "\n".join(tail))
    return seconds


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


class ExternalSystem(System):
    """Base class of the baseline adapters: one external program per clip (or batch).

    Subclasses set the class facts (repository, pinned commit, environment spec, weights) and
    implement `run_one` (or `run_batch`), returning the `RawOutput` each request produced.
    """

    kind: ClassVar[str] = "external"
    repo_url: ClassVar[str] = ""
    commit: ClassVar[str] = ""  # pinned: the commit this adapter was written against
    python_version: ClassVar[str] = "3.8"
    entry_point: ClassVar[str] = ""  # a file that must exist in the working copy
    post_install: ClassVar[tuple[tuple[str, ...], ...]] = ()  # commands after the spec (`{python}`, `{repo}`)
    weight_files: ClassVar[tuple[Weight, ...]] = ()
    #: what the adapter changes about the baseline's behaviour or output (docs, env.json)
    changes: ClassVar[tuple[str, ...]] = ()
    max_output_seconds: ClassVar[float | None] = None  # None: normalise.default_max_seconds
    #: option keys the adapter reads that are neither constructor parameters nor in its shipped YAML
    extra_options: ClassVar[tuple[str, ...]] = ()
    #: step → repository folders put on PYTHONPATH for it ("*": every step), relative to the repo
    repo_pythonpath: ClassVar[dict[str, tuple[str, ...]]] = {}
    #: the real code's contract, checked by `bench systems verify` against the repository:
    #: relative paths its code uses in the working folder and what the adapter does about each,
    work_paths: ClassVar[tuple] = ()
    #: repository file → functions the run calls whose own imports and paths count,
    called_functions: ClassVar[dict[str, tuple[str, ...]]] = {}
    #: step → config files of the repository whose `target: module.Class` entries the run imports
    config_files: ClassVar[dict[str, tuple[str, ...]]] = {}
    #: step → working folder of the step inside the clip's working folder (default: its root)
    step_cwd: ClassVar[dict[str, str]] = {}
    #: weight file name (or option) → top-level keys the repository's loader reads (`check --deep`)
    weight_keys: ClassVar[dict[str, tuple[str, ...]]] = {}
    #: programs the baseline's code runs that must be on PATH
    required_programs: ClassVar[tuple[str, ...]] = ()
    #: steps that run another repository's code (not checked against this one), with why
    other_repo_steps: ClassVar[dict[str, str]] = {}
    weights = "pretrained"

    def __init__(self, context: SystemContext, repo_dir: str | None = None, env_dir: str | None = None,
                 python: str | None = None, commands: dict | None = None, timeout: float = 1800.0,
                 retries: int = 1, keep_workdirs: bool = False, env: dict | None = None,
                 batch_size: int = 1, repo_url: str | None = None, commit: str | None = None,
                 base_python: str | None = None, workers: int = 1, gpus=None, **options):
        super().__init__(context)
        self.repo_dir = Path(os.path.expanduser(str(repo_dir))) if not _blank(repo_dir) else None
        self.env_dir = Path(os.path.expanduser(str(env_dir))) if not _blank(env_dir) else None
        self.python = str(python) if not _blank(python) else (str(self.env_dir / "bin" / "python") if self.env_dir else None)
        self.commands = {k: [str(a) for a in v] for k, v in (commands or {}).items() if v}
        if timeout is None or float(timeout) <= 0:
            raise ConfigError(f"system {self.name}: timeout must be a positive number of seconds, got {timeout}")
        self.timeout, self.retries = float(timeout), int(retries)
        self.keep_workdirs = bool(keep_workdirs)
        self.extra_env = {str(k): str(v) for k, v in (env or {}).items()}
        self.batch_size = max(1, int(batch_size))
        # one baseline process at a time by default: each loads its model onto the one GPU
        self.max_workers = max(1, int(workers))
        self.gpus = parse_gpus(gpus)  # several: each step leases one no other step on this machine holds
        self.options = options
        self.system_dir = context.work_dir.parent
        self.log_dir = self.system_dir / "logs"
        unknown = type(self).unknown_options(options)
        if unknown:
            raise ConfigError("\n".join(unknown))
        problems = type(self).readiness({"repo_dir": repo_dir, "env_dir": env_dir, "python": python, **options})
        if problems:
            raise NotReadyError(f"system {self.name} is not ready:\n  - " + "\n  - ".join(problems))

    # -- facts -----------------------------------------------------------------------------

    @classmethod
    def pythonpath_for(cls, step: str) -> tuple[str, ...]:
        return tuple(cls.repo_pythonpath.get(step, cls.repo_pythonpath.get("*", ())))

    @property
    def sample_rate(self) -> int:
        return self.context.sample_rate

    @classmethod
    def known_options(cls) -> set[str]:
        """Every option key this system takes: constructor parameters, its shipped config's keys
        (bench/conf/system/<name>.yaml: the options its command templates and adapter read) and
        `extra_options`."""
        setup = {"env_spec"}  # read by `bench systems setup` (environments.setup_system)
        return (_init_params(cls) | _shipped_keys(cls.name) | set(cls.extra_options) | setup) - {"name"}

    @classmethod
    def unknown_options(cls, config: dict) -> list[str]:
        """One message per key of `config` the system does not know (a typo would be ignored)."""
        known = cls.known_options()
        out = []
        for key in sorted(k for k in config if k not in known and k != "name"):
            close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
            out.append(f"system {cls.name}: unknown option {key!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
                       + f"; known options: {', '.join(sorted(known))}")
        return out

    @classmethod
    def advisories(cls, config: dict) -> list[str]:
        """Notes for `bench systems check`: programs the real code runs that are not on PATH (a stand-in
        or a wrapper may not need them; `check --deep` runs a clip), optional parts."""
        return [f"program: {p} is not on PATH; the baseline's code runs it (apt-get install {p.replace('ffprobe', 'ffmpeg')})"
                for p in cls.required_programs if shutil.which(p) is None]

    @classmethod
    def extra_setup(cls, config: dict, log) -> None:
        """Steps of `bench systems setup` after the environment is built (default: none)."""

    @classmethod
    def readiness(cls, config: dict) -> list[str]:
        name = cls.name
        problems = cls.unknown_options(config)
        repo = config.get("repo_dir")
        if _blank(repo):
            problems.append(f"repo_dir is not set; run `bench systems setup {name}` or set system.{name}.repo_dir=/path")
        elif not (Path(os.path.expanduser(str(repo))) / cls.entry_point).is_file():
            problems.append(f"repository: {Path(str(repo)) / cls.entry_point} not found; run `bench systems setup {name}` "
                            f"(clones {cls.repo_url} at {cls.commit[:12]}) or set system.{name}.repo_dir=/path/to/checkout")
        python = config.get("python")
        if _blank(python):
            env = config.get("env_dir")
            python = None if _blank(env) else str(Path(os.path.expanduser(str(env))) / "bin" / "python")
        if python is None:
            problems.append(f"environment: neither env_dir nor python is set; run `bench systems setup {name}`")
        elif not (shutil.which(python) or (Path(python).is_file() and os.access(python, os.X_OK))):
            problems.append(f"environment: {python} not found; run `bench systems setup {name}` (builds it from "
                            f"systems/baselines/envs/{name}.txt with Python {cls.python_version}) or set "
                            f"system.{name}.python=/path/to/python")
        for w in cls.weight_files:
            value = config.get(w.option)
            if _blank(value):
                problems.append(f"weights: system.{name}.{w.option} is not set; get it from {w.source}")
            elif not Path(os.path.expanduser(str(value))).exists():
                problems.append(f"weights: {value} not found (system.{name}.{w.option}); get it from {w.source}")
            elif lfs_pointer(Path(os.path.expanduser(str(value)))):
                problems.append(f"weights: {value} is a git-LFS pointer, not the file (system.{name}.{w.option}); "
                                f"run `git lfs pull` in the repository, or get it from {w.source}")
        if cls.output_type == "midi":
            try:
                check_synth()
            except SynthesizerError as exc:
                problems.append(f"renderer: {exc}")
        return problems

    def repo_commit(self) -> str | None:
        """The working copy's checked-out commit (None when it is not a git checkout)."""
        try:
            out = subprocess.run(["git", "-C", str(self.repo_dir), "rev-parse", "HEAD"], capture_output=True,
                                 text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 and (self.repo_dir / ".git").exists() else None

    def describe(self) -> dict:
        return {"weights": self.weights, "sample_rate": self.sample_rate, "kind": self.kind,
                "output_type": self.output_type, "repo": str(self.repo_dir), "commit_pinned": self.commit,
                "commit_checked_out": self.repo_commit(),
                "python": self.python, "changes": list(self.changes),
                **{w.option: str(self.options.get(w.option)) for w in self.weight_files}}

    # -- running ---------------------------------------------------------------------------

    def command(self, step: str, **fields) -> list[str]:
        """The config's argument list for `step`, filled in."""
        if step not in self.commands:
            raise ConfigError(f"system {self.name}: no command for step {step!r} in its config "
                              f"(system.{self.name}.commands.{step}); steps given: {sorted(self.commands)}")
        values = {"python": self.python, "repo": str(self.repo_dir), "launch": str(LAUNCH), "drivers": str(DRIVERS),
                  **{k: str(v) for k, v in self.options.items()}, **{k: str(v) for k, v in fields.items()}}
        try:
            return [a.format(**values) for a in self.commands[step]]
        except KeyError as exc:
            raise ConfigError(f"system {self.name}: command {step!r} uses {{{exc.args[0]}}}, which is not known; "
                              f"known fields: {sorted(values)}") from None

    def step(self, step: str, tag: str, attempt: int, cwd: Path, step_env: dict | None = None, **fields) -> float:
        """Run the config's command for `step` in `cwd`, logging to logs/<tag>.<step>.try<attempt>.*"""
        env = {**os.environ, "PYTHONNOUSERSITE": "1"}
        env.pop("PYTHONPATH", None)  # the harness's path must not leak into the baseline's interpreter
        env.update({k: str(v) for k, v in (step_env or {}).items()})
        env.update(self.extra_env)  # the user's config has the last word
        paths = [str(self.repo_dir / p) for p in self.pythonpath_for(step)]
        if "pythonpath" in fields:
            paths.insert(0, str(fields.pop("pythonpath")))
        if paths:
            env["PYTHONPATH"] = os.pathsep.join(paths)
        if len(self.gpus) < 2:
            return run_step(self.command(step, work=cwd, **fields), cwd, env, self.timeout,
                            self.log_dir / f"{tag}.{step}.try{attempt}")
        with gpu_lease(self.gpus) as gpu:  # the step sees only its GPU: cuda:0 / `gpu` inside it is that one
            env["CUDA_VISIBLE_DEVICES"] = gpu
            return run_step(self.command(step, work=cwd, **{"gpu": gpu, **fields}), cwd, env, self.timeout,
                            self.log_dir / f"{tag}.{step}.try{attempt}")

    def new_workdir(self, tag: str) -> Path:
        self.context.work_dir.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=f"{tag}.", dir=self.context.work_dir))

    def clip_video(self, req: GenerationRequest, height: int | None = None, name: str | None = None) -> Path:
        """The clip's span of its video as an H.264 .mp4 (cached per clip), optionally scaled."""
        # One folder per size; the name has no dot (CMT splits file names at the first '.').
        folder = self.context.work_dir / "clips" / ("native" if height is None else f"{height}p")
        path = folder / f"{(name or req.clip.id).replace('.', '_').replace(' ', '_')}.mp4"
        if not path.exists():
            cut_clip_video(req.clip, path, height)
        return path

    def run_one(self, req: GenerationRequest, work: Path, attempt: int) -> RawOutput:
        raise TypeError(f"{type(self).__name__} must define run_one (one clip per call) or run_batch")

    def run_batch(self, reqs: Sequence[GenerationRequest], work: Path, attempt: int) -> dict:
        """(clip id, sample) → RawOutput or exception, for a batch run in one working directory."""
        req = reqs[0]
        return {(req.clip.id, req.sample_index): self.run_one(req, work, attempt)}

    def generate(self, requests: Sequence[GenerationRequest]) -> Iterable[GenerationResult]:
        pending = list(requests)
        for attempt in range(1, self.retries + 2):
            if not pending:
                break
            failed = []
            for batch in _chunks(pending, self.batch_size):
                tag = output_name(batch[0].clip.id, batch[0].sample_index)[:-4] + (f"+{len(batch) - 1}" if len(batch) > 1 else "")
                work = self.new_workdir(tag)
                try:
                    try:
                        outputs = self.run_batch(batch, work, attempt)
                    except (BaselineError, BenchError, OSError) as exc:
                        outputs = {(r.clip.id, r.sample_index): exc for r in batch}
                    for req in batch:
                        raw = outputs.get((req.clip.id, req.sample_index),
                                          BaselineError(f"the batch gave no output for {req.clip.id}"))
                        try:
                            if isinstance(raw, BaseException):
                                raise raw
                            audio, record = normalise(raw, req.clip, self.sample_rate, self.max_output_seconds)
                        except ConfigError as exc:  # not ready, wrong dataset for it: a retry cannot help
                            yield GenerationResult(req, error=exc)
                            continue
                        except Exception as exc:
                            if attempt <= self.retries:
                                failed.append(req)
                            else:
                                yield GenerationResult(req, error=exc)
                            continue
                        append_record(self.system_dir, {**record, "sample": req.sample_index, "attempt": attempt})
                        yield GenerationResult(req, audio)
                finally:
                    if not self.keep_workdirs:
                        shutil.rmtree(work, ignore_errors=True)
            pending = failed


def _chunks(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]
