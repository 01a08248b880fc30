"""MERT-v1 embeddings (fadtk's MERT-v1-95M rows, audioldm_eval main's per-layer means) against golden
values made by MERT's own modeling code (``MERTModel`` of the hub repos' ``modeling_MERT.py``, loaded
with ``from_pretrained``) inside fadtk 1.1.0's ``MERTModel.get_embedding`` and audioldm_eval main's
lines, on seeded random weights in the hub file's layout (scripts/golden/mert_golden.py; the
modeling code needs transformers 4.x, so it ran once in a side environment). Random weights: these
numbers say nothing about the pretrained models. Not checked here: the hub's config.json and
preprocessor_config.json themselves (unreachable from this machine; their values are taken from the
MERT GitHub repository's hf_config files and fadtk's settings, see metrics/embedders/mert.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from metrics.embedders.mert import MertEmbedder, build_model, normalize_like_processor, save_random_weights
from metrics.errors import MetricError

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden" / "mert_golden.npz"


def _clip_pcm(golden):
    spec = importlib.util.spec_from_file_location("_mert_golden", ROOT / "scripts" / "golden" / "mert_golden.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.clip_pcm(float(golden["clip_seconds"]), int(golden["clip_seed"]))


def _assert_states(emb, golden, size, pcm):
    want = golden[f"{size}_states"]  # (layers + 1, a few frames, dim)
    got = emb.hidden_states((pcm / 32768.0).astype(np.float32)[None])[0].numpy()
    assert got.shape[1] == 97  # 1.3 s at 24 kHz: (31200 - 400) // 320 + 1
    got = got[:, golden["frames"]]
    assert got.shape == want.shape
    # per hidden state: the largest difference relative to that state's largest value
    rel = np.abs(got - want).max(axis=(1, 2)) / np.abs(want).max(axis=(1, 2))
    assert rel.max() < 1e-4, rel


@pytest.mark.slow
def test_95m_matches_fadtk_and_audioldm_eval_main(tmp_path):
    golden = np.load(GOLDEN)
    pcm = _clip_pcm(golden)
    weights = save_random_weights(tmp_path / "MERT-v1-95M" / "pytorch_model.bin", "95M", int(golden["95M_seed"]))
    wav = tmp_path / "clip.wav"
    sf.write(wav, pcm, 24000, subtype="PCM_16")
    emb = MertEmbedder("95M", weights="pretrained", checkpoint=str(weights))
    _assert_states(emb, golden, "95M", pcm)
    rows = emb.embed_file(wav)
    # fadtk: layer 12, float16 (equal up to a float16 step where float32 results straddle a rounding boundary)
    want16 = golden["95M_frames16"]
    assert rows["frames"].dtype == np.float16 and rows["frames"].shape == want16.shape == (97, 768)
    scale = float(np.abs(want16.astype(np.float32)).max())  # float32 results agree to ~5e-6 of it
    np.testing.assert_allclose(rows["frames"].astype(np.float32), want16.astype(np.float32), rtol=2.0 ** -10,
                               atol=2e-5 * scale)
    # audioldm_eval main: every hidden state averaged over time → 13 rows per clip
    np.testing.assert_allclose(rows["layer_means"], golden["95M_layer_means"], rtol=1e-4,
                               atol=1e-4 * np.abs(golden["95M_layer_means"]).max())
    # another layer: fadtk's MERT-v1-95M-<layer>
    six = MertEmbedder("95M", layer=6, weights="pretrained", checkpoint=str(weights)).embed_file(wav)["frames"]
    np.testing.assert_allclose(six[golden["frames"]].astype(np.float32),
                               golden["95M_states"][6].astype(np.float16).astype(np.float32), rtol=2.0 ** -10,
                               atol=2e-5 * float(np.abs(golden["95M_states"][6]).max()))


@pytest.mark.slow
def test_330m_matches_mert_code():
    """The 330M weights are built in memory from the golden's seed (the file round trip of the same
    code path is checked with 95M; a 1.3 GB file per test run is not)."""
    golden = np.load(GOLDEN)
    emb = MertEmbedder("330M", weights="random", seed=int(golden["330M_seed"]))
    _assert_states(emb, golden, "330M", _clip_pcm(golden))


def test_batched_files_give_each_files_rows_and_warm_cache_builds_no_model(tmp_path):
    from core.cache import Cache

    rng = np.random.RandomState(3)
    files = []
    for i, n in enumerate((12000, 12000, 7000)):
        files.append(tmp_path / f"f{i}.wav")
        sf.write(files[-1], (rng.standard_normal(n) * 3000).astype(np.int16), 24000, subtype="PCM_16")
    emb = MertEmbedder("95M", seed=1, batch_size=4)
    cache = Cache(tmp_path / "cache")
    batched = emb.embed_files(files, cache=cache)
    for f, b in zip(files, batched):
        single = emb.embed_file(f)
        np.testing.assert_allclose(b["frames"].astype(np.float32), single["frames"].astype(np.float32), atol=4e-3)
        np.testing.assert_allclose(b["layer_means"], single["layer_means"], rtol=1e-4, atol=1e-4)
    assert batched[2]["frames"].shape == (21, 768)  # 7000 samples: (7000 - 400) // 320 + 1 frames
    warm = MertEmbedder("95M", seed=1, batch_size=4)
    warm.embed_files(files, cache=cache)
    assert warm._model is None
    assert MertEmbedder("95M", seed=1, layer=3).config() != emb.config()


def test_audio_shorter_than_one_frame_is_a_named_error(tmp_path):
    f = tmp_path / "blip.wav"
    sf.write(f, np.full(300, 1000, np.int16), 24000, subtype="PCM_16")  # 12.5 ms
    with pytest.raises(MetricError, match=r"blip\.wav: 300 samples.*at least 400"):
        MertEmbedder("95M").embed_file(f)


@pytest.mark.slow
def test_wrong_checkpoint_names_expected_keys(tmp_path):
    import torch

    bad = tmp_path / "pytorch_model.bin"
    state = {k: v for k, v in build_model("95M", seed=None).state_dict().items()}
    state["encoder.layers.0.attention.k_proj.weight"] = torch.zeros(10, 10)  # another shape
    del state["encoder.layers.11.final_layer_norm.bias"]
    torch.save(state, bad)
    with pytest.raises(MetricError, match=r"not a MERT-v1-95M checkpoint \(1 keys missing.*final_layer_norm\.bias"
                                          r".*1 of another shape.*k_proj.*m-a-p/MERT-v1-95M"):
        _ = MertEmbedder("95M", weights="pretrained", checkpoint=str(bad)).model


def test_missing_weights_and_bad_layer(tmp_path):
    from core.errors import ConfigError, WeightsNotFoundError

    with pytest.raises(WeightsNotFoundError,
                       match=r"MERT-v1-330M/pytorch_model\.bin.*huggingface\.co/m-a-p/MERT-v1-330M"):
        MertEmbedder("330M", weights="pretrained", cache_dir=tmp_path)
    with pytest.raises(ConfigError, match="hidden states 0…12"):
        MertEmbedder("95M", layer=13)


def test_normalization_is_the_processors():
    x = np.random.RandomState(0).standard_normal(5000).astype(np.float32) * 0.1 + 0.02
    got = normalize_like_processor(x)
    assert got.dtype == np.float32 and abs(float(got.mean())) < 1e-6 and abs(float(got.std()) - 1) < 1e-4
    np.testing.assert_array_equal(normalize_like_processor(np.zeros(500)), np.zeros(500, np.float32))  # silence


def test_audioldm_eval_main_preprocessing(tmp_path):
    """audioldm_eval main: WaveDataset at its rate (metrics.preprocess.load_like_reference, parity-tested
    against audioldm_eval in test_preprocess.py), then torchaudio's default Resample(rate, 24000)."""
    from metrics.preprocess import load_like_reference, resample_sinc

    f = tmp_path / "clip.wav"
    x = (np.sin(np.arange(44100) / 7.0) * 9000 + 500).astype(np.int16)  # 1 s at 44.1 kHz with a DC offset
    sf.write(f, x, 44100, subtype="PCM_16")
    emb = MertEmbedder("95M", preprocess="audioldm_eval-main", reference_rate=32000)
    audio = emb.load(f)
    assert audio.shape == (24000,)  # 32000 samples at 32 kHz (≥ 32000: no padding) → 24000
    np.testing.assert_array_equal(audio, resample_sinc(load_like_reference(f, 32000), 32000, 24000))
    assert abs(float(audio.mean())) < 1e-3  # the mean removed first
    short = tmp_path / "short.wav"
    sf.write(short, x[:4410], 44100, subtype="PCM_16")  # 0.1 s: WaveDataset pads to 32000 samples at 16 kHz
    assert MertEmbedder("95M", preprocess="audioldm_eval-main").load(short).shape == (48000,)
    assert emb.config() != MertEmbedder("95M").config()
    with pytest.raises(Exception, match="16000 or 32000"):
        MertEmbedder("95M", preprocess="audioldm_eval-main", reference_rate=24000)
