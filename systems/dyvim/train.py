"""Annealing tuning of DyViM (paper §4.3, Eq. 5; §5.1 training setup).

AdamW (β1 0.9, β2 0.95), batch 8, 100 warm-up steps then cosine decay; the loss is Eq. 5 with the
annealing weights a_τ of `schedule` (`schedules.weighted_token_loss`; a_τ weights music frame τ and
is shared by its K codes, which the delay pattern predicts at K different positions: the logits are
reverted to time-aligned order before weighting). Encoder features and EnCodec codes are computed
once into the cache (`features.py`); a validation split is carved from the training clips, grouped by
source. Logged per step to `log.csv` (step, split, loss, lr, elapsed_s, tokens_per_s) and TensorBoard
(`tb/`); `best.pt` keeps the lowest validation loss, `last.pt` everything needed to resume exactly
(trainable weights, optimizer, scheduler, RNG states, step). Mixed precision (bf16 autocast) on
CUDA. A NaN/Inf loss stops training naming the step and the batch's clips; the last good
checkpoint stays.

Global batch `batch_size` = processes × grad_accum_steps × micro-batch. `grad_accum_steps` > 1 sums
the gradients of several micro-batches before each optimizer step (same global-batch loss, less
memory: musicgen-small at batch 8 × 10 s needs more than 18.5 GB without it). `gpus` > 1 trains
data-parallel (DDP through `accelerate`): `train_distributed` starts one process per GPU (on a
machine without CUDA, CPU processes over gloo), every process draws the same global batch from
the same seeded generator and takes its slice, gradients are averaged, rank 0 logs and saves.
Neither key is part of the checkpoint's fingerprint: a run from N processes resumes on 1 and back.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import random
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from core.atomic import write_text_atomic
from core.errors import BenchError, ConfigError
from systems.dyvim.features import ClipFeatures, collate
from systems.dyvim.model import DyViMModel, cosine_lr, token_nll
from systems.dyvim.schedules import annealing_weights, weighted_token_loss

LOG_COLUMNS = ["step", "split", "loss", "lr", "elapsed_s", "tokens_per_s"]


class TrainingError(BenchError):
    """Training stopped (NaN loss, unusable data); the message says where and what is kept."""


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 2000
    batch_size: int = 8
    lr: float = 1e-4
    warmup_steps: int = 100
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = 1.0
    val_fraction: float = 0.1
    eval_every: int = 100
    segment_seconds: float | None = None  # train on random windows of this length (None: whole clips)
    precision: str = "auto"  # auto (bf16 on CUDA, fp32 on CPU) | fp32 | bf16
    seed: int = 0
    grad_accum_steps: int = 1  # micro-batches per optimizer step (per process)
    gpus: int = 1  # data-parallel processes (DDP via accelerate); CPU processes over gloo without CUDA

    def __post_init__(self):
        if self.steps < 1 or self.batch_size < 1 or self.eval_every < 1:
            raise ConfigError(f"system.dyvim.train: steps, batch_size and eval_every must be >= 1 ({self})")
        if not self.lr > 0:
            raise ConfigError(f"system.dyvim.train.lr={self.lr} must be > 0")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ConfigError(f"system.dyvim.train.precision={self.precision!r}: auto, fp32 or bf16")
        if self.grad_accum_steps < 1 or self.gpus < 1:
            raise ConfigError(f"system.dyvim.train: grad_accum_steps and gpus must be >= 1 ({self})")
        if self.batch_size % (self.gpus * self.grad_accum_steps):
            raise ConfigError(f"system.dyvim.train.batch_size={self.batch_size} must be a multiple of gpus × "
                              f"grad_accum_steps = {self.gpus} × {self.grad_accum_steps}")

    def fingerprint(self) -> dict:
        """What a checkpoint must match to resume: how the work is split (processes, accumulation)
        does not change the global batch, so it is left out."""
        return {k: v for k, v in asdict(self).items() if k not in ("grad_accum_steps", "gpus")}


@dataclass
class TrainSummary:
    steps: int
    train_time_s: float
    best_val_loss: float | None
    best_step: int | None
    tuning: str
    trainable_params: int
    total_params: int
    tokens_per_s: float
    weights: str
    resumed_from: int = 0


def _rng_state(gen: torch.Generator) -> dict:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate(),
            "data": gen.get_state(), "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}


def _set_rng_state(state: dict, gen: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    gen.set_state(state["data"])
    if state.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _segment(batch: dict, n_tokens: int | None, gen: torch.Generator) -> dict:
    """A random window of `n_tokens` music frames (the same window for every clip of the batch)."""
    t = batch["codes"].shape[-1]
    if n_tokens is None or n_tokens >= t:
        return {**batch, "offset": 0, "n_steps": t}
    start = int(torch.randint(0, t - n_tokens + 1, (1,), generator=gen))
    return {**batch, "codes": batch["codes"][..., start:start + n_tokens], "offset": start, "n_steps": t}


def batch_loss(model: DyViMModel, batch: dict, config, step: int, drop: torch.Tensor | None = None,
               weighted: bool = True) -> torch.Tensor:
    """Eq. 5 on one batch (weighted by a_τ), or the plain token NLL (`weighted=False`)."""
    codes = batch["codes"]
    window = (batch.get("offset", 0), codes.shape[-1])
    cond = model.condition(batch.get("dynamics"), batch.get("semantics"), batch.get("semantics_mask"),
                           batch.get("n_steps", codes.shape[-1]), drop, window)
    if not weighted:
        return token_nll(model, codes, cond)
    logits = model(codes, cond)
    a = annealing_weights(config.schedule, codes.shape[-1], config.a_max, config.epsilon, seed=step)
    return weighted_token_loss(logits, codes, a.to(logits.device))


class _Objective(torch.nn.Module):
    """Eq. 5 as a module's forward, so DDP sees every trainable parameter used in one forward."""

    def __init__(self, model: DyViMModel):
        super().__init__()
        self.model = model

    def forward(self, batch: dict, step: int, drop: torch.Tensor | None = None) -> torch.Tensor:
        return batch_loss(self.model, batch, self.model.config, step, drop)


def _take(batch: dict, sl: slice) -> dict:
    """Samples `sl` of a collated batch (tensors along dim 0, clip ids); window keys unchanged."""
    n = len(batch["clip_ids"])
    return {k: (v[sl] if (torch.is_tensor(v) and v.ndim and v.shape[0] == n) or k == "clip_ids" else v)
            for k, v in batch.items()}


@torch.no_grad()
def evaluate_nll(model: DyViMModel, items: list[ClipFeatures], batch_size: int, device) -> float:
    """Mean unweighted token NLL (nats per code) over `items` — the held-out measure."""
    was = model.training
    model.eval()
    losses, counts = [], []
    for i in range(0, len(items), batch_size):
        chunk = items[i:i + batch_size]
        batch = collate(chunk, device)
        losses.append(float(batch_loss(model, batch, model.config, 0, weighted=False)) * len(chunk))
        counts.append(len(chunk))
    model.train(was)
    return sum(losses) / max(1, sum(counts))


def train_dyvim(model: DyViMModel, train_items: list[ClipFeatures], val_items: list[ClipFeatures],
                config: TrainConfig, out_dir: Path, device: str = "cpu", progress: bool = True,
                accelerator=None, until_step: int | None = None) -> TrainSummary:
    """Train `model` in place; resumable from `out_dir/last.pt`; returns the summary (also in summary.json).

    `accelerator` (an accelerate.Accelerator of `config.gpus` processes) makes this one rank of a
    data-parallel run; `until_step` stops this session after that step (last.pt saved), e.g. to
    fit a job's time limit; the next call resumes."""
    if not train_items:
        raise TrainingError("no training clips: the train split is empty")
    world = accelerator.num_processes if accelerator is not None else 1
    rank = accelerator.process_index if accelerator is not None else 0
    main = rank == 0
    if config.batch_size % (world * config.grad_accum_steps):
        raise ConfigError(f"system.dyvim.train.batch_size={config.batch_size} must be a multiple of processes × "
                          f"grad_accum_steps = {world} × {config.grad_accum_steps}")
    per_process = config.batch_size // world
    micro = per_process // config.grad_accum_steps
    if accelerator is not None:
        device = str(accelerator.device)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: cosine_lr(s, config.warmup_steps, config.steps))
    gen = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    fingerprint = {"model": model.config.fingerprint(), "train": config.fingerprint(),
                   "alpha": model.config.alpha, "schedule": model.config.schedule}
    step, best, best_step, elapsed = 0, math.inf, None, 0.0
    last = out_dir / "last.pt"
    if last.exists():
        state = torch.load(last, map_location="cpu", weights_only=False)
        if state["fingerprint"] != fingerprint:
            raise ConfigError(f"{last} was written by another DyViM/training config; move {out_dir} away or "
                              "use the config it was trained with")
        model.load_trainable_state(state["model"], str(last))
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        _set_rng_state(state["rng"], gen)
        step, best, best_step, elapsed = state["step"], state["best"], state["best_step"], state["elapsed"]
        if main:
            _truncate_log(out_dir / "log.csv", step)  # rows past the checkpoint are redone identically
    objective = accelerator.prepare_model(_Objective(model)) if accelerator is not None else None
    resumed_from = saved_step = step
    stop = min(config.steps, until_step) if until_step is not None else config.steps
    tokens_per_step = None
    seg = None if config.segment_seconds is None else max(1, int(round(config.segment_seconds * 50)))
    amp = device.startswith("cuda") and config.precision in ("auto", "bf16")
    writer = _tensorboard(out_dir) if main else None
    order: list[int] = []
    from tqdm.auto import tqdm

    bar = tqdm(total=config.steps, initial=step, desc="train dyvim", unit="step",
               disable=not (progress and main) or None)
    rate = 0.0

    def save_last() -> None:
        _save(last, {"model": model.trainable_state(), "optimizer": opt.state_dict(),
                     "scheduler": sched.state_dict(), "rng": _rng_state(gen), "step": step, "best": best,
                     "best_step": best_step, "elapsed": elapsed, "fingerprint": fingerprint})

    while step < stop:
        if not order:
            order = torch.randperm(len(train_items), generator=gen).tolist()
        idx, order = order[:config.batch_size], order[config.batch_size:]
        chunk = [train_items[i] for i in idx]
        batch = _segment(collate(chunk, device), seg, gen)
        drop = None
        if model.config.cond_dropout > 0:
            drop = (torch.rand(len(chunk), generator=gen) < model.config.cond_dropout).to(device)
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss_sum = 0.0
        # this process's slice of the global batch (the last batch of an epoch may be short)
        mine = range(rank * len(chunk) // world, (rank + 1) * len(chunk) // world)
        n_micro = min(config.grad_accum_steps, max(1, len(mine)))
        for m in range(n_micro):
            sl = slice(mine.start + m * len(mine) // n_micro, mine.start + (m + 1) * len(mine) // n_micro)
            part = batch if world == 1 and n_micro == 1 else _take(batch, sl)
            part_drop = drop if drop is None or part is batch else drop[sl]
            weight = (sl.stop - sl.start) / len(mine) if n_micro > 1 else 1.0
            sync = (contextlib.nullcontext() if objective is None or m == n_micro - 1
                    else accelerator.no_sync(objective))
            with sync, torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
                loss = (batch_loss(model, part, model.config, step, part_drop) if objective is None
                        else objective(part, step, part_drop))
                if weight != 1.0:
                    loss = loss * weight
                loss.backward()
            loss_sum += float(loss.detach())
        loss_value = loss_sum
        if accelerator is not None:  # the global batch's loss: mean over processes' equal slices
            loss_value = float(accelerator.reduce(torch.tensor([loss_sum], device=device), "mean")[0])
        if not math.isfinite(loss_value):
            kept = f"{last} (step {saved_step})" if last.exists() else "nothing (no checkpoint yet)"
            raise TrainingError(f"loss is {loss_value} at step {step + 1} on clips {[c.clip_id for c in chunk]}; "
                                f"stopped. Last good checkpoint kept: {kept}. Lower system.dyvim.train.lr or check "
                                "those clips' features")
        torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
        opt.step()
        sched.step()
        dt = time.perf_counter() - t0
        elapsed += dt
        step += 1
        tokens_per_step = batch["codes"].numel()
        rate = tokens_per_step / dt if dt > 0 else 0.0
        if main:
            _log(out_dir, writer, step, "train", loss_value, sched.get_last_lr()[0], elapsed, rate)
        bar.update(1)
        bar.set_postfix(loss=f"{loss_value:.3f}")
        if step % config.eval_every == 0 or step == config.steps:
            if main:
                if val_items:
                    val = evaluate_nll(model, val_items, config.batch_size, device)
                    _log(out_dir, writer, step, "val", val, sched.get_last_lr()[0], elapsed, rate)
                else:
                    val = loss_value
                if val < best:
                    best, best_step = val, step
                    _save(out_dir / "best.pt", {"model": model.trainable_state(), "fingerprint": fingerprint,
                                                "step": step, "val_loss": val})
                save_last()
            saved_step = step
    if main and step != saved_step:  # stopped by until_step between checkpoints
        save_last()
    bar.close()
    if writer is not None:
        writer.close()
    if accelerator is not None:
        accelerator.wait_for_everyone()
    trainable, total = model.count_parameters()
    summary = TrainSummary(step, round(elapsed, 3), None if best == math.inf else best, best_step, model.config.tuning,
                           trainable, total, round(rate, 1), model.decoder.weights, resumed_from)
    if main and step >= config.steps:
        write_text_atomic(out_dir / "summary.json", json.dumps(asdict(summary), indent=2))
    return summary


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, factory, train_items, val_items, config: TrainConfig,
                out_dir: str, progress: bool, until_step: int | None) -> None:
    """One rank (started by train_distributed): the env torch.distributed expects, then an Accelerator."""
    cuda = torch.cuda.is_available()
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": str(world),
                       "RANK": str(rank), "LOCAL_RANK": str(rank)})
    if not cuda:
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
        torch.set_num_threads(1)
    from accelerate import Accelerator
    from accelerate.utils import DistributedDataParallelKwargs

    accelerator = Accelerator(cpu=not cuda, kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)])
    try:
        model = factory()
        train_dyvim(model, train_items, val_items, config, Path(out_dir), str(accelerator.device), progress,
                    accelerator=accelerator, until_step=until_step)
    finally:
        accelerator.end_training()


def train_distributed(factory, train_items: list[ClipFeatures], val_items: list[ClipFeatures], config: TrainConfig,
                      out_dir: Path, progress: bool = True, until_step: int | None = None) -> TrainSummary | None:
    """`config.gpus` data-parallel processes (spawned; `factory()` builds the model in each); the
    checkpoints land in `out_dir` as from one process. Returns the summary once training is complete."""
    n = config.gpus
    if torch.cuda.is_available() and torch.cuda.device_count() < n:
        raise ConfigError(f"system.dyvim.train.gpus={n} but this machine has {torch.cuda.device_count()} GPU(s)")
    import torch.multiprocessing as mp

    mp.start_processes(_ddp_worker, args=(n, _free_port(), factory, train_items, val_items, config, str(out_dir),
                                          progress, until_step), nprocs=n, start_method="spawn")
    path = Path(out_dir) / "summary.json"
    if until_step is not None and until_step < config.steps or not path.exists():
        return None
    return TrainSummary(**json.loads(path.read_text()))


def load_best(model: DyViMModel, path: Path) -> dict:
    """Load a `best.pt`/`last.pt` into `model`; a checkpoint of another config is a clear error."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"DyViM checkpoint {path} not found (train first: bench train dyvim --dataset <name>)")
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state.get("fingerprint", {}).get("model") != model.config.fingerprint():
        theirs = state.get("fingerprint", {}).get("model", {})
        diff = {k: (theirs.get(k), v) for k, v in model.config.fingerprint().items() if theirs.get(k) != v}
        raise ConfigError(f"DyViM checkpoint {path} was trained with another config: (checkpoint, now) = {diff}")
    model.load_trainable_state(state["model"], str(path))
    return state


def _save(path: Path, obj: dict) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)


def _tensorboard(out_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # TensorBoard is optional at run time; log.csv always has the curves
        return None
    return SummaryWriter(str(out_dir / "tb"))


def _truncate_log(path: Path, step: int) -> None:
    if not path.exists():
        return
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    keep = [rows[0]] + [r for r in rows[1:] if int(r[0]) <= step]
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(keep)


def _log(out_dir: Path, writer, step: int, split: str, loss: float, lr: float, elapsed: float, rate: float) -> None:
    path = out_dir / "log.csv"
    new = not path.exists()
    with path.open("a", newline="") as f:
        w = csv.writer(f)
        if new:
            w.writerow(LOG_COLUMNS)
        w.writerow([step, split, f"{loss:.6f}", f"{lr:.3e}", f"{elapsed:.3f}", f"{rate:.1f}"])
    if writer is not None:
        writer.add_scalar(f"loss/{split}", loss, step)
        if split == "train":
            writer.add_scalar("lr", lr, step)
            writer.add_scalar("tokens_per_s", rate, step)
