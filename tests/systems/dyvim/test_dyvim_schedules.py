import math

import pytest
import torch
from torch.nn import functional as F

from core.errors import ConfigError
from systems.dyvim.conditioning import apply_delay_pattern, revert_delay_pattern
from systems.dyvim.schedules import SCHEDULES, annealing_weights, delayed_weights, weighted_token_loss

Q, A, E = 10, 2.0, 0.1  # |Q|, a_max, ε


def _at(w, tau):  # a_τ with 1-based τ
    return w[tau - 1].item()


def test_constant_is_one_everywhere():
    w = annealing_weights("constant", Q, A, E)
    assert w.shape == (Q,) and (w == 1).all()


def test_cosine_first_middle_last():
    w = annealing_weights("cosine", Q, A, E)
    assert _at(w, 1) == pytest.approx(A * (1 + math.cos(math.pi / Q)) / 2 + E)
    assert _at(w, Q // 2) == pytest.approx(A / 2 + E)
    assert _at(w, Q) == pytest.approx(E)  # §6.3.5's form decays to ε (§4.3's misprint would not)
    assert (w[1:] <= w[:-1]).all()


def test_step_first_middle_last():
    w = annealing_weights("step", Q, A, E)
    assert _at(w, 1) == pytest.approx(A + E)
    assert _at(w, Q // 2 - 1) == pytest.approx(A + E)  # τ = 4 < |Q|/2
    assert _at(w, Q // 2) == pytest.approx(E)  # τ = 5 is not < 5
    assert _at(w, Q) == pytest.approx(E)


def test_linear_first_middle_last():
    w = annealing_weights("linear", Q, A, E)
    assert _at(w, 1) == pytest.approx((Q - 1) * A / Q + E)
    assert _at(w, Q // 2) == pytest.approx(A / 2 + E)
    assert _at(w, Q) == pytest.approx(E)


def test_random_is_seeded_and_within_bounds():
    w = annealing_weights("random", 500, A, E, seed=3)
    assert ((w >= E) & (w <= A)).all()
    assert torch.equal(w, annealing_weights("random", 500, A, E, seed=3))
    assert not torch.equal(w, annealing_weights("random", 500, A, E, seed=4))
    assert _at(w, 1) != _at(w, 250) != _at(w, 500)


def test_bad_schedule_arguments():
    with pytest.raises(ConfigError, match="schedule"):
        annealing_weights("exponential", Q)
    with pytest.raises(ConfigError, match="a_max"):
        annealing_weights("cosine", Q, a_max=0.0)
    with pytest.raises(ConfigError, match="epsilon"):
        annealing_weights("cosine", Q, a_max=1.0, epsilon=-0.1)
    assert set(SCHEDULES) == {"constant", "random", "step", "linear", "cosine"}


def test_constant_weights_give_the_usual_mean_cross_entropy():
    torch.manual_seed(0)
    logits, targets = torch.randn(2, 4, 6, 11), torch.randint(0, 11, (2, 4, 6))
    loss = weighted_token_loss(logits, targets, torch.ones(6))
    assert loss.item() == pytest.approx(F.cross_entropy(logits.reshape(-1, 11), targets.reshape(-1)).item(), rel=1e-5)


def test_weights_scale_each_frame_and_padding_is_ignored():
    torch.manual_seed(0)
    logits, targets = torch.randn(1, 4, 6, 11), torch.randint(0, 11, (1, 4, 6))
    ce = F.cross_entropy(logits.reshape(-1, 11), targets.reshape(-1), reduction="none").view(1, 4, 6)
    w = annealing_weights("linear", 6, 1.0, 0.1)
    assert weighted_token_loss(logits, targets, w).item() == pytest.approx((ce * w).mean().item(), rel=1e-5)
    pad = torch.zeros(1, 6, dtype=torch.bool)
    pad[0, 4:] = True
    garbage = targets.clone()
    garbage[..., 4:] = 10_000  # out-of-vocabulary ids under the padding must not matter
    got = weighted_token_loss(logits, garbage, w, pad)
    assert got.item() == pytest.approx((ce[..., :4] * w[:4]).mean().item(), rel=1e-5)


def test_frame_weight_is_shared_by_the_k_codes_across_the_delay_pattern():
    """The time-aligned loss equals a loss computed in the delayed layout with W[k, i] = a_{i−k}."""
    torch.manual_seed(1)
    t, k, v = 7, 4, 13
    codes = torch.randint(0, v, (1, k, t))
    delayed_logits = torch.randn(1, k, t + k - 1, v)  # position i, codebook k predicts frame i − k
    a = annealing_weights("cosine", t, 1.0, 0.1)
    time_aligned = weighted_token_loss(revert_delay_pattern(delayed_logits, t), codes, a)

    delayed_codes = apply_delay_pattern(codes, pad_id=-100)[0]
    w = delayed_weights(a, k)
    ce = F.cross_entropy(delayed_logits[0].reshape(-1, v), delayed_codes.reshape(-1), ignore_index=-100,
                         reduction="none").view(k, -1)
    manual = (ce * w).sum() / (k * t)
    assert time_aligned.item() == pytest.approx(manual.item(), rel=1e-5)
    for kk in range(k):  # codebook k of frame τ sits at position τ−1+k and carries a_τ
        assert torch.equal(w[kk, kk:kk + t], a)
        assert (w[kk, :kk] == 0).all() and (w[kk, kk + t:] == 0).all()
