"""Review items of issue 18: D_cross memory tokens know their time, FwDF pool / frame size from the
config, the decoder's embedding dropout, Eq. 3's `input` alignment by config key, the random
weights' codec and embeddings, and the real-weights error messages (RAFT files, offline hub)."""

from __future__ import annotations

import time

import pytest
import torch

from core.errors import ConfigError, WeightsNotFoundError
from systems.musicgen.decoder import decoder_forward, load_music_decoder, summed_code_embeddings
from systems.dyvim.encoders_ablation import PoseConfig, PoseEncoder
from systems.dyvim.model import DyViMConfig, DyViMModel

T, T_O = 20, 10


def build(**over) -> DyViMModel:
    cfg = DyViMConfig(**{"size": "tiny", "tuning": "full", "d_m": 32, "conditions": "no_semantics", **over})
    return DyViMModel(cfg, load_music_decoder("tiny", "random", seed=0), PoseEncoder(PoseConfig(d_m=32, hidden=32)),
                      32, None, video_fps=25.0).eval()


def test_cross_dynamics_tokens_carry_their_time():
    model = build(dynamics_strategy="cross")
    dyn = torch.randn(1, T_O, 51, generator=torch.Generator().manual_seed(0))
    cond = model.condition(dyn, None, None, T)
    plain = model.dynamics_projector(model.dynamics_head(dyn))
    # each memory token = its frame's projection + the decoder's sinusoid at that frame's music position
    pos = model.lm.model.decoder.embed_positions(torch.empty(1, 1, T))
    assert torch.allclose(cond.memory - plain, pos[::2][None], atol=1e-6)
    # so reversing the frames' order is no longer the same memory set
    rev = model.condition(dyn.flip(1), None, None, T).memory
    assert not torch.allclose(rev.flip(1), cond.memory, atol=1e-4)


def test_input_alignment_is_reachable_by_config_key():
    a = build(dynamics_alignment="predicted", alpha=0.5)
    b = build(dynamics_alignment="input", alpha=0.5)
    dyn = torch.randn(1, T_O, 51, generator=torch.Generator().manual_seed(1))
    codes = torch.randint(0, 2048, (1, 4, T), generator=torch.Generator().manual_seed(2))
    assert not torch.allclose(a(codes, a.condition(dyn, None, None, T)), b(codes, b.condition(dyn, None, None, T)))
    with pytest.raises(ConfigError, match="dynamics_alignment"):
        DyViMConfig(dynamics_alignment="late")


def test_decoder_forward_applies_the_embedding_dropout_in_training():
    dec = load_music_decoder("tiny", "random", seed=0)
    dec.lm.model.decoder.dropout = 0.5
    x = summed_code_embeddings(dec.lm, torch.randint(0, 2048, (1, 4, 6)))
    dec.lm.train()
    a, _ = decoder_forward(dec.lm, x)
    dec.lm.eval()
    b, _ = decoder_forward(dec.lm, x)
    c, _ = decoder_forward(dec.lm, x)
    assert torch.equal(b, c) and not torch.allclose(a, b)


def test_fwdf_pool_and_frame_size_come_from_the_config():
    from systems.dyvim.encoders import build_dynamics_encoder

    enc = build_dynamics_encoder("fwdf", size="tiny", pool=4, frame_size=[256, 128])
    assert enc.config.pool == 4 and enc.config.frame_size == (256, 128)
    assert DyViMConfig(fwdf_frame_size=[256, 128]).fwdf_frame_size == (256, 128)


def test_random_codebook_embeddings_match_the_positions_scale():
    lm = load_music_decoder("tiny", "random", seed=0).lm
    with torch.no_grad():
        summed = summed_code_embeddings(lm, torch.randint(0, 2048, (1, 4, 200)))
    assert 0.6 < float(summed.pow(2).mean().sqrt()) < 0.8  # the sinusoids' RMS is 1/sqrt(2)


def test_spectral_codec_codes_follow_the_music_and_its_audio_follows_the_codes():
    from systems.musicgen.codec import SpectralCodec

    codec = SpectralCodec(seed=0)
    sr = 32000
    t = torch.arange(2 * sr) / sr
    tone = lambda f: torch.sin(2 * torch.pi * f * t) * 0.5  # noqa: E731
    audio = torch.cat([tone(220.0)[:sr], tone(660.0)[:sr]])  # a held note, then another from 1.0 s
    codes = codec.encode(audio.view(1, 1, -1)).audio_codes[0, 0]  # (K, T)
    assert codes.shape == (4, 100) and int(codes.max()) < 2048
    assert (codes[:, 5:45] == codes[:, 5:6]).all()  # the held note keeps its codes (one segment)
    assert (codes[:, 55:95] == codes[:, 55:56]).all()
    assert (codes[:, 55] != codes[:, 45]).any()  # the new note changes them (64 coarse entries may share codebook 0)
    out = codec.decode(codes[None, None]).audio_values[0, 0]
    assert out.shape == (100 * 640,)
    spec = lambda x: torch.stft(x, 2048, 640, window=torch.hann_window(2048), return_complex=True).abs()  # noqa: E731
    low, high = spec(out[: sr // 2])[6:9].mean(), spec(out[sr + sr // 4:])[6:9].mean()  # ~220 Hz bins
    # the decoded first half has more energy where the first note was (64 entries per codebook since
    # codec v5 code a pure tone coarsely: measured 1.53×; with 2048 entries it was > 3×)
    assert low > 1.3 * high


def test_raft_file_errors_say_what_the_file_is(tmp_path):
    from systems.dyvim.encoders_dynamics import _raft_state, raft_small_model

    junk = tmp_path / "raft.pth"
    junk.write_bytes(b"not a checkpoint at all")
    with pytest.raises(WeightsNotFoundError, match="not a torch checkpoint"):
        _raft_state(junk, "small")
    small = tmp_path / "raft_small.pth"
    torch.save(raft_small_model().state_dict(), small)
    with pytest.raises(WeightsNotFoundError, match="is raft_small weights, not raft_large"):
        _raft_state(small, "large")
    assert set(_raft_state(small, "small")) == set(raft_small_model().state_dict())


def test_offline_hub_id_fails_fast_naming_the_config_key(monkeypatch):
    from core import weights

    def loader(name, local_files_only=False):
        raise OSError("not cached")

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(weights, "hub_reachable", lambda *a, **k: False)
    t0 = time.perf_counter()
    with pytest.raises(WeightsNotFoundError, match=r"system\.dyvim\.weights_paths\.clip=/path"):
        weights.load_pretrained(loader, "openai/clip-vit-base-patch32", "CLIP",
                                config_key="system.dyvim.weights_paths.clip")
    assert time.perf_counter() - t0 < 1.0
