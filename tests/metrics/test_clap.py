"""LAION-CLAP embeddings (fadtk's clap-laion-audio / clap-laion-music) against golden values made by
the real code — fadtk 1.1.0's ``CLAPLaionModel`` running laion_clap 1.1.7's ``CLAP_Module`` — on
files of seeded random weights in the official layout (scripts/golden/clap_golden.py; laion_clap
pins an old stack, so it ran once in a side environment). Random weights: these numbers say nothing
about the pretrained checkpoints, whose loading is checked only through the same key mapping."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from metrics.embedders.clap import ClapEmbedder, quantize_like_laion, save_random_weights, windows
from metrics.errors import MetricError

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden" / "clap_golden.npz"


def _golden_script():
    spec = importlib.util.spec_from_file_location("_clap_golden", ROOT / "scripts" / "golden" / "clap_golden.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _check_against_golden(tmp_path, variant):
    golden = np.load(GOLDEN)
    script = _golden_script()
    weights = save_random_weights(tmp_path / f"clap_{variant}.pt", variant, int(golden[f"{variant}_seed"]))
    wav = tmp_path / "clip.wav"
    sf.write(wav, script.clip_pcm(float(golden["clip_seconds"]), int(golden["clip_seed"])), 48000, subtype="PCM_16")
    emb = ClapEmbedder(variant, weights="pretrained", checkpoint=str(weights))
    got32 = emb.embed_windows(windows(emb.load(wav)))
    want32 = golden[f"{variant}_emb32"]
    assert got32.shape == want32.shape == (2, 512)  # 1.5 s: windows starting at 0 s and 1 s
    np.testing.assert_allclose(got32, want32, rtol=1e-4, atol=1e-6)
    rows = emb.embed_file(wav)["frames"]
    assert rows.dtype == np.float16
    # fadtk's float16 cast of float32 values that agree to ~2e-7: equal up to a float16 step where
    # the two straddle a rounding boundary
    np.testing.assert_allclose(rows.astype(np.float32), golden[f"{variant}_emb16"].astype(np.float32),
                               rtol=2.0 ** -10, atol=5e-7)
    assert (rows == golden[f"{variant}_emb16"]).mean() > 0.95
    return emb, wav


@pytest.mark.slow
def test_general_matches_fadtk_laion_clap(tmp_path):
    emb, wav = _check_against_golden(tmp_path, "general")
    # the windows of several files batched together give each file's own rows
    short = tmp_path / "short.wav"
    sf.write(short, sf.read(wav, dtype="int16")[0][:20000], 48000, subtype="PCM_16")
    both = emb.embed_files([wav, short])
    assert both[1]["frames"].shape == (1, 512)  # 0.42 s: one zero-padded 10 s window
    np.testing.assert_allclose(both[0]["frames"].astype(np.float32),
                               emb.embed_file(wav)["frames"].astype(np.float32), atol=2e-3)


@pytest.mark.slow
def test_music_matches_fadtk_laion_clap(tmp_path):
    _check_against_golden(tmp_path, "music")


@pytest.mark.slow
def test_wrong_checkpoint_names_expected_keys(tmp_path):
    bad = tmp_path / "music_audioset_epoch_15_esc_90.14.pt"
    save_random_weights(bad, "general", seed=0)  # HTSAT-tiny where the music (HTSAT-base) file is expected
    with pytest.raises(MetricError, match=r"not a LAION-CLAP music \(HTSAT-base.*of another shape.*audio_branch\.bn0"):
        _ = ClapEmbedder("music", weights="pretrained", checkpoint=str(bad)).model
    torch.save({"state_dict": {"module.encoder.weight": torch.zeros(3)}}, tmp_path / "other.pt")
    with pytest.raises(MetricError, match=r"audio keys missing.*music_audioset_epoch_15_esc_90\.14\.pt"):
        _ = ClapEmbedder("music", weights="pretrained", checkpoint=str(tmp_path / "other.pt")).model


def test_missing_weights_names_file_and_url(tmp_path):
    from core.errors import WeightsNotFoundError

    with pytest.raises(WeightsNotFoundError, match=r"music_audioset_epoch_15_esc_90\.14\.pt.*huggingface\.co/lukewys"):
        ClapEmbedder("music", weights="pretrained", cache_dir=tmp_path)
    with pytest.raises(WeightsNotFoundError, match=r"630k-audioset-best\.pt"):
        ClapEmbedder("general", weights="pretrained", cache_dir=tmp_path)


@pytest.mark.slow
def test_empty_file_is_a_named_error_and_warm_cache_builds_no_model(tmp_path):
    from core.cache import Cache
    from core.errors import MediaError

    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, np.int16), 48000, subtype="PCM_16")
    with pytest.raises(MediaError, match="empty.wav.*no samples"):
        ClapEmbedder("general").embed_file(empty)
    f = tmp_path / "tiny.wav"
    sf.write(f, (np.sin(np.arange(300) / 5) * 8000).astype(np.int16), 48000, subtype="PCM_16")  # 6 ms
    cache = Cache(tmp_path / "cache")
    cold = ClapEmbedder("general", seed=2)
    assert cold.embed_files([f], cache=cache)[0]["frames"].shape == (1, 512)
    warm = ClapEmbedder("general", seed=2)
    warm.embed_files([f], cache=cache)
    assert warm._model is None  # every embedding cached: no network built
    assert cold.config() != ClapEmbedder("general", seed=3).config()


def test_quantization_is_laions_int16_round_trip():
    pcm = np.arange(-32768, 32768, dtype=np.int64).astype(np.int16)
    got = quantize_like_laion(pcm)
    x = pcm / 32768.0  # fadtk's load_wav, float64
    want = (np.clip(x, -1, 1) * 32767.0).astype(np.int16) / 32767.0
    np.testing.assert_array_equal(got, want.astype(np.float32))
    assert got[-1] == np.float32(32766 / 32767) and got[0] == -1.0  # truncation toward zero, then / 32767


def test_windows_are_fadtks_chunks():
    audio = np.arange(int(2.2 * 48000), dtype=np.float32)
    w = windows(audio)
    assert w.shape == (3, 480000)  # starts 0, 1, 2 s
    assert w[1, 0] == 48000 and w[2, 0] == 96000
    assert w[2, len(audio) - 96000] == 0 and w[0, len(audio) - 1] == len(audio) - 1  # zero-padded tails
