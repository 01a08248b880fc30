"""DyViM's model around MusicGen's decoder: identity with plain MusicGen, every strategy switch,
tuning modes (LoRA count, frozen decoder), the KV-cached sampler against the teacher-forced pass."""

from __future__ import annotations

import pytest
import torch

from core.errors import ConfigError
from systems.musicgen.decoder import PAD_ID, decoder_forward, load_music_decoder
from systems.dyvim.encoders_ablation import PoseConfig, PoseEncoder
from systems.musicgen.sampling import SamplingConfig, sample_codes
from systems.dyvim.model import Conditioning, DyViMConfig, DyViMModel

T, T_O, N_H, D_S = 20, 10, 6, 16  # 0.4 s of music at 50 Hz, video at 25 fps


def build(**over) -> DyViMModel:
    cfg = DyViMConfig(**{"size": "tiny", "tuning": "full", "d_m": 32, **over})
    decoder = load_music_decoder("tiny", "random", seed=0)
    head = PoseEncoder(PoseConfig(d_m=32, hidden=32))
    return DyViMModel(cfg, decoder, head, 32, (N_H, D_S), video_fps=25.0)


def inputs(b=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, 2048, (b, 4, T), generator=g)
    dyn = torch.randn(b, T_O, 51, generator=g)
    sem = torch.randn(b, N_H, D_S, generator=g)
    return codes, dyn, sem, torch.ones(b, N_H, dtype=torch.bool)


def test_alpha_zero_without_semantics_is_plain_musicgen_exactly():
    model = build(alpha=0.0, conditions="no_semantics").eval()
    codes, dyn, sem, mask = inputs()
    cond = model.condition(dyn, None, None, T)
    ours = model(codes, cond)
    # plain MusicGen: transformers' own forward on the delayed codes, BOS-shifted
    from systems.dyvim.conditioning import apply_delay_pattern, revert_delay_pattern

    delayed = apply_delay_pattern(codes, PAD_ID)
    shifted = torch.cat([torch.full((2, 4, 1), PAD_ID), delayed[:, :, :-1]], dim=2)
    plain = model.lm(input_ids=shifted.reshape(-1, shifted.shape[-1])).logits.reshape(2, 4, shifted.shape[-1], -1)
    assert torch.equal(ours, revert_delay_pattern(plain, T))


def test_dynamics_change_the_logits_when_alpha_positive():
    model = build(alpha=0.5, conditions="no_semantics").eval()
    codes, dyn, _, _ = inputs()
    a = model(codes, model.condition(dyn, None, None, T))
    b = model(codes, model.condition(dyn * 0 + 3.0, None, None, T))
    assert not torch.allclose(a, b)


@pytest.mark.parametrize("conditions", ["full", "no_dynamics", "no_semantics"])
@pytest.mark.parametrize("dyn_s,sem_s", [("extend", "cross"), ("cross", "cross"), ("extend", "prepend"),
                                         ("cross", "prepend")])
def test_every_switch_runs_and_is_causal(conditions, dyn_s, sem_s):
    model = build(conditions=conditions, dynamics_strategy=dyn_s, semantics_strategy=sem_s, alpha=0.4).eval()
    codes, dyn, sem, mask = inputs()
    cond = model.condition(dyn, sem, mask, T)
    logits = model(codes, cond)
    assert logits.shape == (2, 4, T, 2048) and torch.isfinite(logits).all()
    # causal in the delayed order: codebook 0 of frame t0 is read at position t0 + 1, so every
    # prediction made at a position <= t0 (codebook k of frame t, t + k <= t0) is unchanged
    t0 = T - 5
    codes2 = codes.clone()
    codes2[:, 0, t0] = (codes2[:, 0, t0] + 1) % 2048
    logits2 = model(codes2, cond)
    for k in range(4):
        assert torch.allclose(logits[:, k, : t0 - k + 1], logits2[:, k, : t0 - k + 1], atol=1e-5)
    assert not torch.allclose(logits[:, 0, t0 + 1], logits2[:, 0, t0 + 1], atol=1e-5)


def test_kv_cached_sampler_reproduces_teacher_forced_logits_and_is_seeded():
    model = build(alpha=0.3, semantics_strategy="prepend").eval()
    _, dyn, sem, mask = inputs(b=1)
    cond = model.condition(dyn, sem, mask, T)
    steps = []
    codes = sample_codes(model, cond, T, seeds=[5], sampling=SamplingConfig(top_k=1))
    assert codes.shape == (1, 4, T) and int(codes.max()) < 2048
    # greedy (top-1) sampling must pick the argmax of the teacher-forced logits at every frame
    logits = model(codes, cond)
    assert torch.equal(logits.argmax(-1), codes)
    a = sample_codes(model, cond, T, seeds=[1])
    b = sample_codes(model, cond, T, seeds=[1])
    c = sample_codes(model, cond, T, seeds=[2])
    assert torch.equal(a, b) and not torch.equal(a, c)
    del steps


def test_classifier_free_guidance_runs_a_null_branch():
    model = build(alpha=0.3, cond_dropout=0.2).eval()
    _, dyn, sem, mask = inputs(b=2)
    cond = model.condition(dyn, sem, mask, T)
    a = sample_codes(model, cond, T, seeds=[1, 2], sampling=SamplingConfig(guidance_scale=3.0))
    b = sample_codes(model, cond, T, seeds=[1, 2])
    assert a.shape == b.shape == (2, 4, T) and not torch.equal(a, b)


def test_lora_parameter_count_and_frozen_leaves_decoder_unchanged():
    lora = build(tuning="lora", lora_rank=4)
    d, layers = 64, 2
    lora_params = sum(p.numel() for n, p in lora.named_parameters() if "lora_" in n and p.requires_grad)
    # q_proj and v_proj in self- and cross-attention of each layer: r·(d_in + d_out) each
    assert lora_params == layers * 4 * 4 * (d + d)
    assert not any(p.requires_grad for n, p in lora.lm.named_parameters() if "lora_" not in n)

    frozen = build(tuning="frozen")
    before = {k: v.clone() for k, v in frozen.lm.state_dict().items()}
    opt = torch.optim.AdamW([p for p in frozen.parameters() if p.requires_grad], lr=1e-2)
    codes, dyn, sem, mask = inputs()
    from systems.dyvim.model import token_nll

    loss = token_nll(frozen, codes, frozen.condition(dyn, sem, mask, T))
    loss.backward()
    opt.step()
    assert all(torch.equal(before[k], v) for k, v in frozen.lm.state_dict().items())
    assert frozen.dynamics_projector.net[0].weight.grad is not None


def test_config_errors_are_named():
    with pytest.raises(ConfigError, match="alpha"):
        DyViMConfig(alpha=1.5)
    with pytest.raises(ConfigError, match="conditions"):
        DyViMConfig(conditions="none")
    with pytest.raises(ConfigError, match="tuning"):
        DyViMConfig(tuning="adapter")


def test_checkpoint_from_another_config_is_a_clear_error():
    a, b = build(tuning="lora"), build(tuning="lora", semantics_strategy="prepend", n_d=3)
    b.load_trainable_state(a.trainable_state(), "a.pt") if False else None
    with pytest.raises(ConfigError, match="does not fit"):
        b.load_trainable_state(build(tuning="full").trainable_state(), "full.pt")


def test_decoder_forward_matches_transformers_on_codes():
    dec = load_music_decoder("tiny", "random", seed=3)
    ids = torch.randint(0, 2049, (1, 4, 7))
    from systems.musicgen.decoder import summed_code_embeddings

    ours, _ = decoder_forward(dec.lm, summed_code_embeddings(dec.lm, ids))
    ref = dec.lm(input_ids=ids.reshape(-1, 7)).logits.reshape(1, 4, 7, -1)
    assert torch.equal(ours, ref)
