"""Issue 18, item 6, through the config a user sets: the stock decoder's dropout in training (the
published configs' 0.1) with transformers' own MusicgenForCausalLM as the reference, FwDF's
`fwdf_pool` / `fwdf_frame_size` and `dynamics_alignment` from the Hydra config (no `+`) down to the
encoder and its cache key, both Eq. 3 alignments training, and no docstring citing a file the
repository does not have."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch

from systems.musicgen.decoder import decoder_forward, summed_code_embeddings


def _published_dropout_lm():
    """A tiny decoder with the published configs' dropout (0.1; attention/activation 0, no layerdrop)."""
    from transformers import MusicgenDecoderConfig, MusicgenForCausalLM

    torch.manual_seed(0)
    return MusicgenForCausalLM(MusicgenDecoderConfig(
        vocab_size=2048, num_codebooks=4, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, ffn_dim=128,
        dropout=0.1, attention_dropout=0.0, activation_dropout=0.0, layerdrop=0.0, pad_token_id=2048,
        bos_token_id=2048, max_position_embeddings=2048))


def test_decoder_forward_matches_transformers_in_training_and_eval_with_dropout():
    """Same seed, same dropout masks: bit-identical to MusicgenForCausalLM(input_ids) in training
    mode (embedding dropout and the layers' dropout drawn in the same order), and in eval mode."""
    lm = _published_dropout_lm()
    ids = torch.randint(0, 2049, (2, 4, 9), generator=torch.Generator().manual_seed(1))
    embeds = summed_code_embeddings(lm, ids)
    for training in (True, False):
        lm.train(training)
        torch.manual_seed(5)
        ours, _ = decoder_forward(lm, embeds)
        torch.manual_seed(5)
        ref = lm(input_ids=ids.reshape(-1, 9)).logits.reshape(2, 4, 9, -1)
        assert torch.equal(ours, ref), training
    lm.train()
    torch.manual_seed(6)
    other, _ = decoder_forward(lm, embeds)
    assert not torch.equal(other, ours)  # training mode does drop (another seed, other logits)


def test_fwdf_and_alignment_keys_reach_the_model_from_hydra_without_plus():
    from bench.config import compose
    from systems.dyvim.model import DyViMConfig
    from systems.dyvim.system import MODEL_KEYS, build_model

    overrides = ["system.dyvim.fwdf_pool=4", "system.dyvim.fwdf_frame_size=[256,128]",
                 "system.dyvim.dynamics_alignment=input", "system.dyvim.weights_paths.fwdf=/w/raft.pth",
                 "system.dyvim.weights_paths.clip=/w/clip"]  # no '+': the keys are in dyvim.yaml
    cfg = compose(None, ["dyvim"], overrides, metrics=[])
    dy = cfg.system.dyvim
    assert (dy.weights_paths.fwdf, dy.weights_paths.clip, dy.weights_paths.i3d) == ("/w/raft.pth", "/w/clip", None)
    keys = {k: dy[k] for k in MODEL_KEYS if k in dy}
    config = DyViMConfig(**{**keys, "fwdf_frame_size": list(dy.fwdf_frame_size)})
    assert (config.fwdf_pool, config.fwdf_frame_size, config.dynamics_alignment) == (4, (256, 128), "input")
    model, extractor = build_model(config, None)
    assert extractor.dynamics.config.pool == 4 and extractor.dynamics.config.frame_size == (256, 128)
    assert model.config.dynamics_alignment == "input"


def test_fwdf_pool_and_frame_size_are_in_the_cache_key(tmp_path):
    from core.cache import Cache
    from core.media import write_video
    from systems.dyvim.encoders import build_dynamics_encoder

    rng = np.random.default_rng(0)
    video = tmp_path / "v.mp4"
    write_video(video, rng.integers(0, 255, (3, 128, 128, 3), dtype=np.uint8), fps=3)
    cache = Cache(tmp_path / "cache")
    shapes = []
    for pool, size in ((2, None), (4, None), (2, (256, 128)), (2, None)):
        enc = build_dynamics_encoder("fwdf", size="tiny", pool=pool, frame_size=size, flow_iters=1)
        shapes.append(enc.extract(video, 0.0, 1.0, cache=cache).values.shape[-2:])
    assert shapes == [(8, 8), (4, 4), (8, 16), (8, 8)]
    assert (cache.misses, cache.hits) == (3, 1)  # each change recomputed; the repeat was read back


@pytest.mark.parametrize("alignment", ["predicted", "input"])
def test_both_eq3_alignments_train(tmp_path, alignment):
    """Both readings of Eq. 3 under the delay pattern train (the loss falls on the training
    clips); they pair positions with different frames, so their logits differ."""
    from systems.dyvim.features import ClipFeatures
    from systems.dyvim.model import DyViMConfig
    from systems.dyvim.system import build_model
    from systems.dyvim.train import TrainConfig, evaluate_nll, train_dyvim

    rng = np.random.default_rng(0)
    items = [ClipFeatures(f"c{i}", rng.integers(0, 2048, (4, 25)).astype(np.int16),
                          rng.standard_normal((13, 51)).astype(np.float32), None, None, 25) for i in range(2)]
    cfg = DyViMConfig(size="tiny", dynamics_encoder="pose", conditions="no_semantics", tuning="full", alpha=0.5,
                      dynamics_alignment=alignment)
    model = build_model(cfg, None)[0]
    before = evaluate_nll(model, items, 2, "cpu")
    train_dyvim(model, items, [], TrainConfig(steps=8, batch_size=2, lr=3e-3, warmup_steps=1, eval_every=8),
                tmp_path / alignment, progress=False)
    after = evaluate_nll(model, items, 2, "cpu")
    assert after < before - 0.05, (before, after)
    flipped = "input" if alignment == "predicted" else "predicted"
    other = build_model(dataclasses.replace(cfg, dynamics_alignment=flipped), None)[0]
    other.load_trainable_state(model.trainable_state(), "same weights")
    from systems.dyvim.features import collate

    batch = collate(items, "cpu")
    model.eval(), other.eval()
    with torch.no_grad():
        a = model(batch["codes"], model.condition(batch["dynamics"], None, None, 25))
        b = other(batch["codes"], other.condition(batch["dynamics"], None, None, 25))
    assert not torch.allclose(a, b)


def test_no_docstring_cites_a_file_the_repository_lacks():
    root = Path(__file__).resolve().parents[3]
    cited = [p for p in (root / "systems" / "dyvim").glob("*.py") if "DESIGN.md" in p.read_text()]
    assert not cited, cited
