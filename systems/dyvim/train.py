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
checkpoint stays. The loop is plain PyTorch so `accelerate` can wrap model, optimizer and loader.
"""

from __future__ import annotations

import csv
import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from bench.atomic import write_text_atomic
from bench.errors import BenchError, ConfigError
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

    def __post_init__(self):
        if self.steps < 1 or self.batch_size < 1 or self.eval_every < 1:
            raise ConfigError(f"system.dyvim.train: steps, batch_size and eval_every must be >= 1 ({self})")
        if not self.lr > 0:
            raise ConfigError(f"system.dyvim.train.lr={self.lr} must be > 0")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ConfigError(f"system.dyvim.train.precision={self.precision!r}: auto, fp32 or bf16")


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
                config: TrainConfig, out_dir: Path, device: str = "cpu", progress: bool = True) -> TrainSummary:
    """Train `model` in place; resumable from `out_dir/last.pt`; returns the summary (also in summary.json)."""
    if not train_items:
        raise TrainingError("no training clips: the train split is empty")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: cosine_lr(s, config.warmup_steps, config.steps))
    gen = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)
    fingerprint = {"model": model.config.fingerprint(), "train": asdict(config),
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
        _truncate_log(out_dir / "log.csv", step)  # rows past the checkpoint are redone identically
    resumed_from = saved_step = step
    tokens_per_step = None
    seg = None if config.segment_seconds is None else max(1, int(round(config.segment_seconds * 50)))
    amp = device.startswith("cuda") and config.precision in ("auto", "bf16")
    writer = _tensorboard(out_dir)
    order: list[int] = []
    from tqdm.auto import tqdm

    bar = tqdm(total=config.steps, initial=step, desc="train dyvim", unit="step", disable=not progress or None)
    rate = 0.0
    while step < config.steps:
        if not order:
            order = torch.randperm(len(train_items), generator=gen).tolist()
        idx, order = order[:config.batch_size], order[config.batch_size:]
        chunk = [train_items[i] for i in idx]
        batch = _segment(collate(chunk, device), seg, gen)
        drop = None
        if model.config.cond_dropout > 0:
            drop = (torch.rand(len(chunk), generator=gen) < model.config.cond_dropout).to(device)
        t0 = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
            loss = batch_loss(model, batch, model.config, step, drop)
        loss_value = float(loss.detach())
        if not math.isfinite(loss_value):
            kept = f"{last} (step {saved_step})" if last.exists() else "nothing (no checkpoint yet)"
            raise TrainingError(f"loss is {loss_value} at step {step + 1} on clips {[c.clip_id for c in chunk]}; "
                                f"stopped. Last good checkpoint kept: {kept}. Lower system.dyvim.train.lr or check "
                                "those clips' features")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
        opt.step()
        sched.step()
        dt = time.perf_counter() - t0
        elapsed += dt
        step += 1
        tokens_per_step = batch["codes"].numel()
        rate = tokens_per_step / dt if dt > 0 else 0.0
        _log(out_dir, writer, step, "train", loss_value, sched.get_last_lr()[0], elapsed, rate)
        bar.update(1)
        bar.set_postfix(loss=f"{loss_value:.3f}")
        if step % config.eval_every == 0 or step == config.steps:
            if val_items:
                val = evaluate_nll(model, val_items, config.batch_size, device)
                _log(out_dir, writer, step, "val", val, sched.get_last_lr()[0], elapsed, rate)
            else:
                val = loss_value
            if val < best:
                best, best_step = val, step
                _save(out_dir / "best.pt", {"model": model.trainable_state(), "fingerprint": fingerprint,
                                            "step": step, "val_loss": val})
            _save(last, {"model": model.trainable_state(), "optimizer": opt.state_dict(),
                         "scheduler": sched.state_dict(), "rng": _rng_state(gen), "step": step, "best": best,
                         "best_step": best_step, "elapsed": elapsed, "fingerprint": fingerprint})
            saved_step = step
    bar.close()
    if writer is not None:
        writer.close()
    trainable, total = model.count_parameters()
    summary = TrainSummary(step, round(elapsed, 3), None if best == math.inf else best, best_step, model.config.tuning,
                           trainable, total, round(rate, 1), model.decoder.weights, resumed_from)
    write_text_atomic(out_dir / "summary.json", json.dumps(asdict(summary), indent=2))
    return summary


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
