import math

import numpy as np
import pytest
import torch

from core.errors import ConfigError
from systems.dyvim.conditioning import (
    DynamicsProjector,
    SemanticsProjector,
    apply_delay_pattern,
    delay_aligned_dynamics,
    dynamics_time_steps,
    interpolate_dynamics,
    revert_delay_pattern,
    token_extension,
    token_index_map,
)

PAD = 2048


# --- frame-level alignment -------------------------------------------------------------------

def test_index_map_token_rate_above_video_rate_rounds_half_up_and_clamps():
    # 25 fps video, 50 Hz tokens: j·0.5 = 0, .5, 1, 1.5, 2, 2.5 → 0, 1, 1, 2, 2, 3 → clamp to frame 2
    assert token_index_map(3, 25, 6, 50).tolist() == [0, 1, 1, 2, 2, 2]


def test_index_map_every_token_gets_a_frame_at_30_fps():
    idx = token_index_map(300, 30, 500, 50)  # 10 s at 30 fps, 10 s of tokens
    assert idx[:6].tolist() == [0, 1, 1, 2, 2, 3]  # 0, .6, 1.2, 1.8, 2.4, 3.0
    assert idx[-1] == 299  # 499·0.6 = 299.4
    assert len(idx) == 500 and (np.diff(idx) >= 0).all()


def test_index_map_video_rate_above_token_rate():
    # 60 fps (AIST++) to 50 Hz: j·1.2 = 0, 1.2, 2.4, 3.6, 4.8, 6.0
    assert token_index_map(600, 60, 6, 50).tolist() == [0, 1, 2, 4, 5, 6]


def test_index_map_clamps_to_the_last_frame_when_video_is_short():
    idx = token_index_map(10, 25, 25, 50)  # 0.4 s of frames, 0.5 s of tokens
    assert idx.max() == 9 and idx[-6:].tolist() == [9] * 6
    assert token_index_map(1, 25, 4, 50).tolist() == [0, 0, 0, 0]  # a one-frame video


def test_interpolate_dynamics_picks_the_mapped_frames():
    z = torch.arange(3, dtype=torch.float32)[:, None].repeat(1, 4)  # frame t holds t
    out = interpolate_dynamics(z, 25, 6, 50)
    assert out.shape == (6, 4)
    assert out[:, 0].tolist() == [0, 1, 1, 2, 2, 2]
    batched = interpolate_dynamics(z.expand(2, 3, 4), 25, 6, 50)
    assert batched.shape == (2, 6, 4)


# --- projectors ------------------------------------------------------------------------------

def test_projector_shapes_and_semantic_mask():
    assert DynamicsProjector(16, 24)(torch.randn(2, 7, 16)).shape == (2, 7, 24)
    same = SemanticsProjector(n_h=5, d_s=8, n_d=5, d=12)
    mask = torch.tensor([[True, True, True, False, False]])
    x, m = same(torch.randn(1, 5, 8), mask)
    assert x.shape == (1, 5, 12) and m.tolist() == mask.tolist()
    mixed = SemanticsProjector(n_h=5, d_s=8, n_d=3, d=12)
    x, m = mixed(torch.randn(2, 5, 8))
    assert x.shape == (2, 3, 12) and m.all()
    with pytest.raises(ValueError):
        same(torch.randn(1, 4, 8))


def test_semantics_projector_ignores_padded_rows_when_mixing_tokens():
    proj = SemanticsProjector(n_h=4, d_s=6, n_d=2, d=8)
    mask = torch.tensor([[True, True, False, False]])
    z = torch.randn(1, 4, 6)
    z2 = z.clone()
    z2[0, 2:] = 100.0  # garbage in the padded rows
    assert torch.allclose(proj(z, mask)[0], proj(z2, mask)[0])


# --- token extension (Eq. 3) -----------------------------------------------------------------

def test_token_extension_alpha_zero_is_the_plain_sum_exactly():
    summed, dyn = torch.randn(2, 9, 16), torch.randn(2, 9, 16)
    out = token_extension(summed, dyn, 0.0)
    assert torch.equal(out, summed)


def test_token_extension_alpha_one_is_dynamics_only_and_mixing_in_between():
    summed, dyn = torch.randn(2, 9, 16), torch.randn(2, 9, 16)
    assert torch.equal(token_extension(summed, dyn, 1.0), dyn)
    codes = torch.randn(2, 9, 4, 16)  # K = 4 code embeddings z_{i,k}
    out = token_extension(codes.sum(2), dyn, 0.3)
    expected = 0.3 * dyn + sum((1 - 0.3) * codes[:, :, k] for k in range(4))
    assert out.shape == (2, 9, 16)
    assert torch.allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize("alpha", [-0.1, 1.5, math.nan, "x"])
def test_token_extension_rejects_alpha_outside_unit_interval(alpha):
    with pytest.raises(ConfigError, match="alpha"):
        token_extension(torch.zeros(1, 2, 3), torch.zeros(1, 2, 3), alpha)


def test_token_extension_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="delay_aligned_dynamics"):
        token_extension(torch.zeros(1, 7, 3), torch.zeros(1, 5, 3), 0.2)


# --- delay pattern ---------------------------------------------------------------------------

def _time_codes(t: int, k: int) -> torch.Tensor:
    """codes whose value is the time step (so a layout shows which frame each slot belongs to)."""
    return torch.arange(t).repeat(k, 1)[None]  # (1, K, T)


def test_delay_pattern_column_i_codebook_k_holds_time_step_i_minus_k():
    t, k = 5, 4
    d = apply_delay_pattern(_time_codes(t, k), pad_id=-1)[0]
    assert d.shape == (k, t + k - 1)
    for kk in range(k):
        for i in range(t + k - 1):
            assert d[kk, i].item() == (i - kk if 0 <= i - kk < t else -1)
    codes = torch.randint(0, PAD, (2, k, t))
    assert torch.equal(revert_delay_pattern(apply_delay_pattern(codes, PAD), t), codes)


def test_revert_delay_pattern_on_logits_reads_position_t_plus_k():
    t, k, v = 6, 4, 3
    logits = torch.arange(t + k - 1, dtype=torch.float32).view(1, 1, -1, 1).expand(2, k, t + k - 1, v)
    out = revert_delay_pattern(logits, t)
    assert out.shape == (2, k, t, v)
    assert out[0, 2, :, 0].tolist() == [float(x + 2) for x in range(t)]
    with pytest.raises(ValueError):
        revert_delay_pattern(logits[:, :, :-1], t)


def test_revert_delay_pattern_values_and_gradients_are_those_of_slicing():
    """One gather replaces K slices (the tiny model trains ~18 % faster); the values and the
    gradients must be bit-identical to slicing, so no result changes."""
    torch.manual_seed(0)
    t, k = 7, 4
    x = torch.randn(3, k, t + k - 1, 5, requires_grad=True)
    sliced = torch.stack([x[:, kk, kk:kk + t] for kk in range(k)], dim=1)
    gathered = revert_delay_pattern(x, t)
    assert torch.equal(gathered, sliced)
    g = torch.randn_like(sliced)
    assert torch.equal(torch.autograd.grad(gathered, x, g)[0], torch.autograd.grad(sliced, x, g)[0])


def test_predicted_alignment_gives_each_position_the_frame_of_its_first_predicted_code():
    t, k = 5, 4
    s = t + k - 1
    d = apply_delay_pattern(_time_codes(t, k), pad_id=-1)[0]
    z = torch.arange(t, dtype=torch.float32)[:, None]  # z̃_d of frame t is t
    aligned = delay_aligned_dynamics(z[None], s, k)[0, :, 0]
    assert aligned.shape == (s,)
    for i in range(s):
        predicted = [d[kk, i].item() for kk in range(k) if d[kk, i] >= 0]  # time steps predicted at i
        assert aligned[i].item() == max(predicted)  # the newest frame written there
    assert aligned[:t].tolist() == [float(x) for x in range(t)] and aligned[t:].tolist() == [t - 1.0] * (k - 1)


def test_input_alignment_matches_codebook_zero_of_the_input_column():
    t, k = 5, 4
    s = t + k - 1
    d = apply_delay_pattern(_time_codes(t, k), pad_id=-1)[0]
    steps = dynamics_time_steps(s, k, t, "input")
    for i in range(1, t + 1):
        assert steps[i] == d[0, i - 1].item()  # position i reads column i − 1
    assert steps[0] == 0  # the BOS column takes frame 0
    with pytest.raises(ConfigError):
        dynamics_time_steps(s, k, t, "sideways")
