"""DyViM training: exact resume, logs and checkpoints, NaN stop, checkpoints of another config."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from core.errors import ConfigError
from systems.dyvim.features import ClipFeatures
from systems.dyvim.model import DyViMConfig
from systems.dyvim.system import build_model
from systems.dyvim.train import TrainConfig, TrainingError, load_best, train_dyvim

CFG = dict(size="tiny", dynamics_encoder="pose", semantics_encoder="t5", tuning="lora")


def items(n=4, seed=0, t=50):
    rng = np.random.default_rng(seed)
    return [ClipFeatures(f"c{i}", rng.integers(0, 2048, (4, t)).astype(np.int16),
                         rng.standard_normal((t // 2, 51)).astype(np.float32),
                         rng.standard_normal((50, 32)).astype(np.float32), np.ones(50, bool), t) for i in range(n)]


def model(**over):
    return build_model(DyViMConfig(**{**CFG, **over}), None)[0]


def train(tmp_path, name, steps, **over):
    cfg = TrainConfig(**{"steps": steps, "batch_size": 2, "lr": 1e-3, "warmup_steps": 2, "eval_every": 2,
                         "segment_seconds": 0.5, **over})
    m = model()
    summary = train_dyvim(m, items(), items(2, seed=1), cfg, tmp_path / name, progress=False)
    return m, summary


def rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_resume_is_exact(tmp_path, monkeypatch):
    """Training killed after the step-4 checkpoint and resumed ends bit-identical to an uninterrupted run."""
    import systems.dyvim.train as train_mod

    cfg = TrainConfig(steps=6, batch_size=2, lr=1e-3, warmup_steps=2, eval_every=2, segment_seconds=0.5)
    straight = model()
    train_dyvim(straight, items(), items(2, seed=1), cfg, tmp_path / "straight", progress=False)

    original, calls = train_mod.batch_loss, {"n": 0}

    def dies_at_step_5(*args, weighted=True, **kwargs):
        if weighted:
            calls["n"] += 1
            if calls["n"] == 5:
                raise KeyboardInterrupt
        return original(*args, weighted=weighted, **kwargs)

    monkeypatch.setattr(train_mod, "batch_loss", dies_at_step_5)
    with pytest.raises(KeyboardInterrupt):
        train_dyvim(model(), items(), items(2, seed=1), cfg, tmp_path / "resumed", progress=False)
    monkeypatch.setattr(train_mod, "batch_loss", original)
    resumed = model()  # a new process: fresh model, state from last.pt
    summary = train_dyvim(resumed, items(), items(2, seed=1), cfg, tmp_path / "resumed", progress=False)
    assert summary.resumed_from == 4 and summary.steps == 6
    a, b = straight.trainable_state(), resumed.trainable_state()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    drop = lambda rs: [(r["step"], r["split"], r["loss"]) for r in rs]  # noqa: E731
    assert drop(rows(tmp_path / "straight" / "log.csv")) == drop(rows(tmp_path / "resumed" / "log.csv"))


def test_logs_summary_and_best_checkpoint(tmp_path):
    m, s = train(tmp_path, "run", 4)
    out = tmp_path / "run"
    log = rows(out / "log.csv")
    assert [r["split"] for r in log].count("val") == 2 and {"step", "loss", "lr", "elapsed_s", "tokens_per_s"} <= set(log[0])
    assert (out / "best.pt").exists() and (out / "summary.json").exists() and any((out / "tb").iterdir())
    assert s.tuning == "lora" and 0 < s.trainable_params < s.total_params and s.train_time_s > 0
    fresh = model()
    load_best(fresh, out / "best.pt")


def test_nan_loss_stops_naming_step_and_clips_and_keeps_checkpoint(tmp_path):
    bad = items()
    for it in bad:
        it.dynamics[:] = np.nan
    m = model()
    cfg = TrainConfig(steps=4, batch_size=2, lr=1e-3, warmup_steps=1, eval_every=1)
    with pytest.raises(TrainingError, match=r"step 1 on clips \['c"):
        train_dyvim(m, bad, [], cfg, tmp_path / "nan", progress=False)
    assert not (tmp_path / "nan" / "last.pt").exists()


def test_checkpoint_of_another_config_is_a_clear_error(tmp_path):
    _, _ = train(tmp_path, "run", 2)
    other = model(tuning="full")
    with pytest.raises(ConfigError, match="another config"):
        load_best(other, tmp_path / "run" / "best.pt")
    with pytest.raises(ConfigError, match="not found"):
        load_best(other, tmp_path / "missing.pt")


def _curve(path, split="train"):
    return np.array([float(r["loss"]) for r in rows(path) if r["split"] == split])


def _close_weights(a, b, atol=1e-5):
    sa, sb = a.trainable_state(), b.trainable_state()
    return sa.keys() == sb.keys() and all(torch.allclose(sa[k], sb[k], atol=atol) for k in sa)


@pytest.mark.slow  # ~25 s on two shared cores (two trainings)
def test_gradient_accumulation_keeps_the_global_batch_loss(tmp_path):
    """Batch 4 as 2 micro-batches of 2: the same loss curve and weights as one batch of 4."""
    base = dict(steps=4, batch_size=4, lr=1e-3, warmup_steps=2, eval_every=2, segment_seconds=0.5)
    whole, accum = model(), model()
    train_dyvim(whole, items(8), items(2, seed=1), TrainConfig(**base), tmp_path / "whole", progress=False)
    train_dyvim(accum, items(8), items(2, seed=1), TrainConfig(**base, grad_accum_steps=2), tmp_path / "accum",
                progress=False)
    a, b = _curve(tmp_path / "whole" / "log.csv"), _curve(tmp_path / "accum" / "log.csv")
    assert len(a) == 4 and np.allclose(a, b, rtol=1e-5, atol=1e-6)
    assert np.allclose(_curve(tmp_path / "whole" / "log.csv", "val"), _curve(tmp_path / "accum" / "log.csv", "val"),
                       rtol=1e-5)
    assert _close_weights(whole, accum)
    with pytest.raises(ConfigError, match="multiple of gpus"):
        TrainConfig(**{**base, "batch_size": 3}, grad_accum_steps=2)


@pytest.mark.slow
def test_two_gloo_processes_match_one_and_resume_in_one(tmp_path):
    """DDP (accelerate, 2 CPU processes over gloo) for 2 steps, resumed by 1 process to step 4:
    the global-batch loss curve and the weights match a single-process run of the same config."""
    import functools

    from systems.dyvim.system import training_model
    from systems.dyvim.train import train_distributed

    base = dict(steps=4, batch_size=4, lr=1e-3, warmup_steps=2, eval_every=2, segment_seconds=0.5)
    single = model()
    train_dyvim(single, items(8), items(2, seed=1), TrainConfig(**base), tmp_path / "single", progress=False)

    factory = functools.partial(training_model, DyViMConfig(**CFG), 25.0, None, None)
    out = tmp_path / "ddp"
    assert train_distributed(factory, items(8), items(2, seed=1), TrainConfig(**base, gpus=2), out,
                             progress=False, until_step=2) is None
    assert torch.load(out / "last.pt", weights_only=False)["step"] == 2 and not (out / "summary.json").exists()
    resumed = model()
    summary = train_dyvim(resumed, items(8), items(2, seed=1), TrainConfig(**base), out, progress=False)
    assert (summary.resumed_from, summary.steps) == (2, 4)
    a, b = _curve(tmp_path / "single" / "log.csv"), _curve(out / "log.csv")
    assert len(a) == len(b) == 4 and np.allclose(a, b, rtol=1e-4, atol=1e-5)
    assert np.allclose(_curve(tmp_path / "single" / "log.csv", "val"), _curve(out / "log.csv", "val"), rtol=1e-4)
    assert _close_weights(single, resumed, atol=1e-4)
