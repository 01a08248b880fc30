"""DyViM's real-weights path as a user meets it (issue 18, item 7), on real files: the published
checkpoint layouts saved locally with seeded random weights and read back by DyViM's own loading
code — MusicGen as transformers' `MusicgenForConditionalGeneration.save_pretrained` writes it (T5 text
encoder + EnCodec 32 kHz, 4 × 2048 + decoder; pad/bos id 2048, dropout 0.1 as in the published
configs), CLIP as the full `CLIPModel` folder openai publishes (vision and text towers), and
torchvision's RAFT state dicts as `torch.save` writes them (the layout of the official .pth files).

Not checked here (no weights can be downloaded on this machine): the published files themselves.
The MusicGen and CLIP folders use tiny widths and depths (same classes, key layout, codec rates and
special ids as musicgen-small / ViT-B/32); RAFT uses the real raft_large / raft_small shapes.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import time
import warnings

import numpy as np
import pytest
import torch

from core.errors import WeightsNotFoundError


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """Folders/files in the official layouts, seeded random weights."""
    from torchvision.models.optical_flow import raft_large, raft_small
    from transformers import (
        CLIPConfig,
        CLIPModel,
        CLIPTextConfig,
        CLIPTextModel,
        EncodecConfig,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        T5Config,
    )

    root = tmp_path_factory.mktemp("published")
    torch.manual_seed(0)
    t5 = T5Config(vocab_size=32128, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4)
    codec = EncodecConfig(sampling_rate=32000, upsampling_ratios=[8, 5, 4, 4], codebook_size=2048,
                          target_bandwidths=[2.2], num_filters=4, hidden_size=16, num_lstm_layers=1)
    decoder = MusicgenDecoderConfig(vocab_size=2048, num_codebooks=4, hidden_size=64, num_hidden_layers=2,
                                    num_attention_heads=4, ffn_dim=128, dropout=0.1, pad_token_id=2048,
                                    bos_token_id=2048, max_position_embeddings=2048)
    MusicgenForConditionalGeneration(MusicgenConfig(text_encoder=t5.to_dict(), audio_encoder=codec.to_dict(),
                                                    decoder=decoder.to_dict())).save_pretrained(root / "musicgen")
    small = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4)
    CLIPModel(CLIPConfig(text_config=small, vision_config=small, projection_dim=32)).save_pretrained(root / "clip")
    CLIPTextModel(CLIPTextConfig(**small)).save_pretrained(root / "clip_text_77")  # positions 77 vs 50: mismatch
    CLIPTextModel(CLIPTextConfig(**small, max_position_embeddings=50)).save_pretrained(root / "clip_text_50")
    torch.save(raft_large(weights=None).state_dict(), root / "raft_large_C_T_SKHT_V2-ff5fadd5.pth")
    torch.save(raft_small(weights=None).state_dict(), root / "raft_small_C_T_V2-01064c6d.pth")
    return root


@contextlib.contextmanager
def transformers_log():
    """Messages transformers logs in the block, whatever its handlers and propagation."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(record.getMessage())

    handler = Collect(logging.WARNING)
    logging.getLogger("transformers").addHandler(handler)
    try:
        yield lines
    finally:
        logging.getLogger("transformers").removeHandler(handler)


def _forget_warned_once():
    """transformers logs config notes once per process: forget that, so each check sees them afresh."""
    clear = getattr(getattr(logging.Logger, "warning_once", None), "cache_clear", None)
    if clear:
        clear()


def test_musicgen_folder_loads_quietly_with_its_weights_and_dropout(published):
    from safetensors.torch import load_file
    from transformers import MusicgenForConditionalGeneration

    from systems.musicgen.decoder import load_music_decoder

    _forget_warned_once()
    with transformers_log() as ours, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dec = load_music_decoder("small", "pretrained", str(published / "musicgen"))
    saved = load_file(published / "musicgen" / "model.safetensors")
    assert torch.equal(dec.lm.lm_heads[0].weight, saved["decoder.lm_heads.0.weight"])
    assert dec.lm.model.decoder.dropout == 0.1 and dec.codec.config.sampling_rate == 32000
    assert not ours, ours
    assert not caught, [str(w.message) for w in caught]
    # the control: transformers' own load of the same folder logs the pad/bos note (handlers restored)
    _forget_warned_once()
    with transformers_log() as plain:
        MusicgenForConditionalGeneration.from_pretrained(published / "musicgen")
    assert any("pad_token_id must be" in m for m in plain), plain


def test_clip_folder_of_the_full_model_loads_the_vision_tower_quietly(published):
    from safetensors.torch import load_file
    from transformers import CLIPVisionModel

    from systems.dyvim.encoders_semantics import CLIPSemanticsConfig, CLIPSemanticsEncoder

    with transformers_log() as ours:
        enc = CLIPSemanticsEncoder(CLIPSemanticsConfig(size="small", weights="pretrained",
                                                       model=str(published / "clip")))
    saved = load_file(published / "clip" / "model.safetensors")
    key = "encoder.layers.0.self_attn.q_proj.weight"  # CLIPVisionModel's own names lack the prefix
    assert torch.equal(dict(enc.model.named_parameters())[key], saved[f"vision_model.{key}"])
    assert enc.n_states == 50 and not ours, ours
    with transformers_log() as plain:  # the control: the text tower's keys are reported as UNEXPECTED
        CLIPVisionModel.from_pretrained(published / "clip")
    assert "UNEXPECTED" in "\n".join(plain)


def test_wrong_checkpoints_still_warn_or_fail_with_the_report(published):
    """Real problems stay visible: a checkpoint that leaves the vision weights random (CLIP's text
    tower alone) warns, and one with tensors of another shape fails with the report it refers to."""
    from core.weights import MissingWeightsWarning
    from systems.dyvim.encoders_semantics import CLIPSemanticsConfig, CLIPSemanticsEncoder

    def load(name):
        return CLIPSemanticsEncoder(CLIPSemanticsConfig(size="small", weights="pretrained",
                                                        model=str(published / name)))

    with pytest.warns(MissingWeightsWarning, match=r"clip_text_50 has no weights for \d+ tensors"):
        load("clip_text_50")
    with pytest.raises(WeightsNotFoundError, match=r"(?s)clip_text_77.*position_embedding.weight +\| MISMATCH"):
        load("clip_text_77")


def test_raft_files_load_and_wrong_files_say_what_they_are(published, tmp_path):
    from torchvision.models.optical_flow import raft_large

    from systems.dyvim.encoders_dynamics import FwDFConfig, RAFTMotionEncoder

    large = published / "raft_large_C_T_SKHT_V2-ff5fadd5.pth"
    enc = RAFTMotionEncoder(FwDFConfig(weights="pretrained", weights_path=str(large), frame_size=(128, 128),
                                       flow_iters=1))
    ref = torch.load(large, weights_only=True)
    assert all(torch.equal(v, ref[k]) for k, v in enc.raft.state_dict().items())
    assert set(ref) == set(raft_large(weights=None).state_dict())

    small = published / "raft_small_C_T_V2-01064c6d.pth"
    with pytest.raises(WeightsNotFoundError) as err:
        RAFTMotionEncoder(FwDFConfig(weights="pretrained", weights_path=str(small)))
    msg = str(err.value)
    assert "is raft_small weights, not raft_large" in msg and "raft_large expects 169 tensors" in msg
    assert "feature_encoder.convnormrelu.0.weight (64, 3, 7, 7)" in msg and "weights_paths.fwdf" in msg

    for name, data, what in (("notes.pth", b"RAFT weights go here\n", "it is text"),
                             ("empty.pth", b"", "it is an empty file")):
        (tmp_path / name).write_bytes(data)
        with pytest.raises(WeightsNotFoundError, match=f"not a torch checkpoint \\({what}\\)") as err:
            RAFTMotionEncoder(FwDFConfig(weights="pretrained", weights_path=str(tmp_path / name)))
        assert "weights_only" not in str(err.value)
    from safetensors.torch import save_file

    save_file(dict(raft_large(weights=None).state_dict()), tmp_path / "raft.safetensors")
    with pytest.raises(WeightsNotFoundError, match=r"not a torch checkpoint \(it is a safetensors file\)"):
        RAFTMotionEncoder(FwDFConfig(weights="pretrained", weights_path=str(tmp_path / "raft.safetensors")))
    torch.save({"args": argparse.Namespace(lr=1e-4), "model": {}}, tmp_path / "pickled.pth")  # a training checkpoint
    with pytest.raises(WeightsNotFoundError, match="holds Python objects besides tensors") as err:
        RAFTMotionEncoder(FwDFConfig(weights="pretrained", weights_path=str(tmp_path / "pickled.pth")))
    assert "weights_only` argument" not in str(err.value)


@pytest.fixture
def silent_hub():
    """An endpoint that accepts TCP connections and never answers (a hub behind a dead proxy)."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()


@pytest.mark.slow
def test_hub_id_offline_fails_within_seconds_naming_the_key_and_files(monkeypatch, tmp_path, silent_hub):
    """The real transformers loader, an empty HF cache and a hub that does not answer,
    HF_HUB_OFFLINE unset: before the probe, huggingface_hub retried for 47 s here (73 s in the
    issue) before an error that named neither the config key nor the files."""
    from huggingface_hub import constants

    from systems.musicgen.decoder import load_music_decoder
    from core.weights import hub_reachable

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "ENDPOINT", silent_hub)
    t0 = time.perf_counter()
    with pytest.raises(WeightsNotFoundError) as err:
        load_music_decoder("small", "pretrained")
    seconds = time.perf_counter() - t0
    msg = str(err.value)
    assert "the hub cannot be reached" in msg and "facebook/musicgen-small" in msg
    assert "set system.dyvim.model (or system.musicgen.model)=/path/to/folder" in msg
    assert "config.json + model.safetensors" in msg
    assert 2.5 < seconds < 15.0, seconds  # the probe's 3 s, not a minute of retries
    assert not hub_reachable("http://127.0.0.1:9", timeout=1.0)  # refused


def test_published_layouts_build_train_reload_and_generate(published, tmp_path):
    """The whole model on the saved folders (MusicGen, CLIP, raft_large): features from real frames,
    EnCodec codes of real audio, 2 training steps, best.pt reloaded into a fresh build, sampling and
    EnCodec decoding."""
    from systems.musicgen.decoder import decode_codes, encode_audio
    from systems.dyvim.features import ClipFeatures
    from systems.musicgen.sampling import SamplingConfig, sample_codes
    from systems.dyvim.model import DyViMConfig
    from systems.dyvim.system import build_model
    from systems.dyvim.train import TrainConfig, load_best, train_dyvim

    cfg = DyViMConfig(size="small", weights="pretrained", model=str(published / "musicgen"), d_m=32, flow_iters=1,
                      fwdf_frame_size=(128, 128), tuning="lora")
    paths = {"fwdf": str(published / "raft_large_C_T_SKHT_V2-ff5fadd5.pth"), "clip": str(published / "clip")}

    def build():
        return build_model(cfg, None, encoder_weights="pretrained", weights_paths=paths)

    model, extractor = build()
    assert extractor.dynamics.config.raft == "large" and extractor.dynamics.config.pool == 4
    rng = np.random.default_rng(0)
    items = []
    for i in range(3):
        frames = rng.integers(0, 255, (5, 128, 128, 3), dtype=np.uint8)  # 0.2 s at 25 fps
        with torch.no_grad():
            motion = extractor.dynamics.motion_features(frames).numpy()
            states = extractor.semantics.encode_images(frames[2:3]).mean(0).numpy()
        audio = (0.1 * rng.standard_normal(6400)).astype(np.float32)  # 0.2 s at 32 kHz
        codes = encode_audio(model.decoder.codec, audio, 32000)
        assert codes.shape == (4, 10) and motion.shape == (5, 256, 4, 4) and states.shape == (50, 32)
        items.append(ClipFeatures(f"c{i}", codes, motion, states, np.ones(50, bool), 10))
    out = tmp_path / "train"
    summary = train_dyvim(model, items[:2], items[2:], TrainConfig(steps=2, batch_size=2, warmup_steps=1,
                                                                   eval_every=2, lr=1e-3), out, progress=False)
    assert summary.steps == 2 and (out / "best.pt").is_file()
    fresh, _ = build()
    load_best(fresh, out / "best.pt")
    fresh.eval()
    trained = model.trainable_state()
    assert all(torch.equal(v, trained[k]) for k, v in fresh.trainable_state().items())
    from systems.dyvim.features import collate

    batch = collate(items[2:], "cpu")
    with torch.no_grad():
        cond = fresh.condition(batch["dynamics"], batch["semantics"], batch["semantics_mask"], 10)
        codes = sample_codes(fresh, cond, 10, [0], SamplingConfig())
        audio = decode_codes(fresh.decoder.codec, codes)
    assert codes.shape == (1, 4, 10) and int(codes.max()) < 2048 and audio.shape == (1, 6400)
    assert torch.isfinite(audio).all()
