"""Cnn14 and VGGish embedders (metrics.embedders): official file format, strict loading, seeded
random weights, the reference's output definitions, errors for absent weights, and caching.

Parity with audioldm_eval itself is checked in tests/metrics/test_parity.py (side environment)."""

import os

import numpy as np
import pytest
import soundfile as sf
import torch

from core.cache import Cache, file_digest
from core.errors import ConfigError, UnknownNameError, WeightsNotFoundError
from metrics.embedders import EMBEDDERS, Cnn14Embedder, VGGishEmbedder, make_embedder
from metrics.errors import MetricError

CNN14_16K_FILE = "Cnn14_16k_mAP=0.438.pth"


def _tone(sr, seconds, channels=1, seed=0):
    rng = np.random.default_rng(seed)
    n = int(sr * seconds)
    t = np.arange(n) / sr
    x = 0.3 * np.sin(2 * np.pi * (220 + 110 * seed) * t)[:, None] + 0.05 * rng.standard_normal((n, channels))
    return x.astype(np.float32)


@pytest.fixture(scope="module")
def wavs(tmp_path_factory):
    d = tmp_path_factory.mktemp("wavs")
    specs = {"a": (16000, 2.0, 1, 0, "PCM_16"), "b": (32000, 1.5, 2, 1, "PCM_16"),
             "c": (44100, 1.0, 1, 2, "FLOAT"), "short": (16000, 0.5, 1, 3, "PCM_16"),
             "ten": (16000, 10.0, 1, 4, "PCM_16")}
    out = {}
    for name, (sr, secs, ch, seed, subtype) in specs.items():
        out[name] = d / f"{name}.wav"
        sf.write(out[name], _tone(sr, secs, ch, seed), sr, subtype=subtype)
    return out


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("weights")


# --------------------------------------------------------------------------- Cnn14

@pytest.fixture(scope="module")
def cnn14_random():
    return Cnn14Embedder(sample_rate=16000, weights="random", seed=0)


@pytest.fixture(scope="module")
def cnn14_file(weights_dir):
    from metrics.embedders.cnn14 import save_random_weights

    return save_random_weights(weights_dir / CNN14_16K_FILE, sample_rate=16000, seed=0)


@pytest.mark.slow
def test_cnn14_outputs_are_the_reference_tensors(cnn14_random, wavs):
    out = cnn14_random.embed_file(wavs["a"])
    assert set(out) == {"embedding", "logits"}
    emb, logits = out["embedding"], out["logits"]
    assert emb.shape == (2048,) and emb.dtype == np.float32
    assert logits.shape == (527,) and logits.dtype == np.float32
    assert np.isfinite(emb).all() and np.isfinite(logits).all()
    # "2048" = ReLU(fc1(...)); "logits" = fc_audioset("2048") before the sigmoid
    assert emb.min() >= 0 and (emb > 0).any()
    fc = cnn14_random.model.fc_audioset
    by_hand = emb.astype(np.float64) @ fc.weight.detach().double().numpy().T + fc.bias.detach().double().numpy()
    np.testing.assert_allclose(logits, by_hand, rtol=1e-4, atol=1e-5)
    assert (logits < 0).any()  # not sigmoid outputs


@pytest.mark.slow
def test_cnn14_random_weights_saved_in_official_format_load_back_strictly(cnn14_file, cnn14_random, wavs):
    obj = torch.load(cnn14_file, map_location="cpu", weights_only=True)
    assert set(obj) == {"model"}
    assert set(obj["model"]) == set(cnn14_random.model.state_dict())
    assert "logmel_extractor.melW" in obj["model"] and "spectrogram_extractor.stft.conv_real.weight" in obj["model"]

    loaded = Cnn14Embedder(weights="pretrained", checkpoint=str(cnn14_file))
    a, b = loaded.embed_file(wavs["c"]), cnn14_random.embed_file(wavs["c"])
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    d = loaded.describe()
    assert d["weights"] == "pretrained" and d["weights_sha256"] == file_digest(cnn14_file)
    assert loaded.config()["weights"] == f"sha256:{file_digest(cnn14_file)}"
    assert cnn14_random.config()["weights"] == "random:0" and cnn14_random.describe()["weights"] == "random"


@pytest.mark.slow
def test_cnn14_strict_loading_names_missing_and_unexpected_keys(cnn14_random, tmp_path):
    from metrics.embedders.cnn14 import load_strict

    sd = dict(cnn14_random.model.state_dict())
    del sd["fc_audioset.bias"]
    with pytest.raises(MetricError, match="fc_audioset.bias"):
        load_strict(cnn14_random.model, sd, tmp_path / "x.pth", "Cnn14")
    sd = dict(cnn14_random.model.state_dict(), extra=torch.zeros(1))
    with pytest.raises(MetricError, match="extra"):
        load_strict(cnn14_random.model, sd, tmp_path / "x.pth", "Cnn14")


@pytest.mark.slow
def test_cnn14_seeded_init_is_deterministic(cnn14_random, wavs):
    from metrics.embedders.cnn14 import build_cnn14

    state = torch.get_rng_state()
    same, other = build_cnn14(16000, seed=0).state_dict(), build_cnn14(16000, seed=1).state_dict()
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG is left alone
    ref = cnn14_random.model.state_dict()
    assert all(torch.equal(ref[k], same[k]) for k in ref)
    assert not torch.equal(ref["fc1.weight"], other["fc1.weight"])
    again = cnn14_random.embed_file(wavs["a"])
    np.testing.assert_array_equal(again["embedding"], cnn14_random.embed_file(wavs["a"])["embedding"])


def test_cnn14_found_in_the_cache_weights_folder(cnn14_file, wavs, tmp_path):
    cache_dir = tmp_path / "cachedir"
    (cache_dir / "weights").mkdir(parents=True)
    os.symlink(cnn14_file, cache_dir / "weights" / CNN14_16K_FILE)
    e = Cnn14Embedder(weights="pretrained", cache_dir=cache_dir)
    assert e.checkpoint == cache_dir / "weights" / CNN14_16K_FILE
    assert e.weights_sha256 == file_digest(cnn14_file)


@pytest.mark.parametrize("sr,name,url", [(16000, CNN14_16K_FILE, "https://zenodo.org/record/3987831/files/"),
                                         (32000, "Cnn14_mAP=0.431.pth", "https://zenodo.org/record/3576403/files/")])
def test_cnn14_missing_pretrained_file_is_named_with_its_url(sr, name, url, tmp_path):
    with pytest.raises(WeightsNotFoundError) as e:
        Cnn14Embedder(sample_rate=sr, weights="pretrained")
    msg = str(e.value)
    assert name in msg and url in msg
    assert str(tmp_path / "cache" / "weights" / name) in msg  # BENCH_CACHE_DIR (tests/conftest.py)

    missing = tmp_path / "nope" / name
    with pytest.raises(WeightsNotFoundError) as e:
        Cnn14Embedder(sample_rate=sr, weights="pretrained", checkpoint=str(missing))
    assert str(missing) in str(e.value) and url in str(e.value)


def test_cnn14_config_errors():
    with pytest.raises(ConfigError, match="16000 or 32000"):
        Cnn14Embedder(sample_rate=22050)
    with pytest.raises(ConfigError, match="weights"):
        Cnn14Embedder(weights="imagenet")


@pytest.mark.slow
def test_cnn14_embeddings_are_cached_per_file_and_weights(cnn14_random, cnn14_file, wavs, tmp_path, weights_dir):
    from metrics.embedders.cnn14 import save_random_weights

    cache = Cache(tmp_path / "c")
    paths = [wavs["a"], wavs["c"]]
    first = cnn14_random.embed_files(paths, cache=cache)
    assert (cache.hits, cache.misses) == (0, 2)
    direct = cnn14_random.embed_file(wavs["c"])  # batch 1; the cached row came from a batch of 2
    np.testing.assert_allclose(first[1]["embedding"], direct["embedding"], rtol=1e-4,
                               atol=1e-5 * np.abs(direct["embedding"]).max())

    calls = []
    orig = cnn14_random.embed_waveforms
    cnn14_random.embed_waveforms = lambda w: calls.append(len(w)) or orig(w)
    try:
        second = cnn14_random.embed_files(paths, cache=cache)
        assert calls == [] and (cache.hits, cache.misses) == (2, 2)  # nothing decoded or run
        cnn14_random.embed_files([wavs["ten"], *paths], cache=cache)
        assert calls == [1] and (cache.hits, cache.misses) == (4, 3)  # only the new file
    finally:
        del cnn14_random.embed_waveforms
    for x, y in zip(first, second):
        for k in x:
            np.testing.assert_array_equal(x[k], y[k])

    # another weights file: another key (and other values)
    other_file = save_random_weights(tmp_path / "other" / CNN14_16K_FILE, 16000, seed=1)
    other = Cnn14Embedder(weights="pretrained", checkpoint=other_file)
    assert other.config()["weights"] == f"sha256:{file_digest(other_file)}"
    assert other.config()["weights"] != f"sha256:{file_digest(cnn14_file)}"
    out = other.embed_files(paths[:1], cache=cache)
    assert cache.misses == 4
    assert not np.array_equal(out[0]["embedding"], first[0]["embedding"])
    other.embed_files(paths[:1], cache=cache)
    assert (cache.hits, cache.misses) == (5, 4)


def test_cnn14_rounds_of_files_are_stored_as_they_finish(cnn14_random, wavs, tmp_path, monkeypatch):
    """Missing files are embedded in bounded rounds (memory), in order, each round cached."""
    import metrics.embedders.cnn14 as cnn14_module

    monkeypatch.setattr(cnn14_module, "EMBED_WINDOW", 2)
    monkeypatch.setattr(cnn14_random, "batch_size", 2)
    rounds = []
    orig = cnn14_random._embed_many
    monkeypatch.setattr(cnn14_random, "_embed_many", lambda paths, bs: rounds.append(len(paths)) or orig(paths, bs))
    cache = Cache(tmp_path / "c")
    paths = [wavs["a"], wavs["c"], wavs["short"]]
    out = cnn14_random.embed_files(paths, cache=cache)
    assert rounds == [2, 1] and cache.misses == 3
    for p, got in zip(paths, out):  # results come back in the order asked for
        np.testing.assert_allclose(got["embedding"], cnn14_random.embed_file(p)["embedding"], rtol=1e-4,
                                   atol=1e-5 * np.abs(got["embedding"]).max())


def test_cnn14_batches_only_equal_lengths_and_agree_with_batch_one(cnn14_random, wavs):
    paths = [wavs["a"], wavs["c"]]  # a: 2 s at 16 kHz; c: 1 s at 44.1 kHz → padded to 32000 samples too
    batched = cnn14_random._embed_many(paths, batch_size=2)
    for p, got in zip(paths, batched):
        one = cnn14_random.embed_file(p)
        for k in one:
            np.testing.assert_allclose(got[k], one[k], rtol=1e-3, atol=1e-4 * np.abs(one[k]).max())


@pytest.mark.slow
def test_cnn14_32k_front_end(wavs):
    e = make_embedder("cnn14_32k", seed=0)
    cfg = e.config()
    assert (cfg["sample_rate"], cfg["window_size"], cfg["hop_size"], cfg["mel_bins"], cfg["fmin"], cfg["fmax"]) == \
        (32000, 1024, 320, 64, 50, 14000)
    assert e.cache_name() == "cnn14_32k" and e.describe()["official_file"] == "Cnn14_mAP=0.431.pth"
    out = e.embed_file(wavs["b"])
    assert out["embedding"].shape == (2048,) and out["logits"].shape == (527,)


def test_registry():
    assert set(EMBEDDERS.names()) == {"cnn14_16k", "cnn14_32k", "vggish", "vggish_fadtk", "vggish_audiocraft", "encodec_24k", "encodec_48k",
                              "passt", "passt_audiocraft", "openl3_mel256_music_512", "openl3_mel256_music_1024_stereo",
                              "clap_music", "clap_general", "mert_95m", "mert_330m", "clap_score_sam",
                              "clap_score_audiocraft"}
    with pytest.raises(UnknownNameError):
        make_embedder("clap")  # the name of no embedder: `clap_music` or `clap_general`
    with pytest.raises(WeightsNotFoundError, match="Cnn14_mAP=0.431.pth"):
        make_embedder("cnn14_32k", weights="pretrained")
    with pytest.raises(WeightsNotFoundError, match="Cnn14_16k_mAP=0.438.pth"):
        make_embedder("cnn14_16k", weights="pretrained", checkpoint=None)


# --------------------------------------------------------------------------- VGGish

@pytest.fixture(scope="module")
def vggish_random():
    return VGGishEmbedder(weights="random", seed=0)


@pytest.fixture(scope="module")
def vggish_file(weights_dir):
    from metrics.embedders.vggish import VGGISH_FILE, save_random_weights

    return save_random_weights(weights_dir / VGGISH_FILE, seed=0)


@pytest.mark.slow
def test_vggish_frames_one_per_0_96_s_without_final_relu(vggish_random, wavs):
    from metrics.embedders.vggish import build_vggish
    from metrics.preprocess import load_like_reference_vggish
    from torchvggish import vggish_input

    frames = vggish_random.embed_file(wavs["ten"])["frames"]
    assert frames.shape == (10, 128) and frames.dtype == np.float32
    assert (frames < 0).any()  # pre-activation of the last Linear
    # the same network with its final ReLU gives exactly ReLU(frames)
    with_relu = build_vggish(seed=0, final_relu=True)
    x = vggish_input.waveform_to_examples(load_like_reference_vggish(wavs["ten"]), 16000)
    with torch.no_grad():
        # equal up to float reordering (ours runs its convolutions channels-last)
        np.testing.assert_allclose(with_relu(x).numpy(), np.maximum(frames, 0), rtol=1e-4, atol=1e-5 * np.abs(frames).max())

    assert vggish_random.embed_file(wavs["a"])["frames"].shape == (2, 128)
    assert vggish_random.embed_file(wavs["c"])["frames"].shape == (1, 128)  # 44.1 kHz → resampy → 16000 samples
    assert vggish_random.embed_file(wavs["b"])["frames"].shape == (1, 128)  # 1.5 s stereo at 32 kHz


@pytest.mark.slow
def test_vggish_batches_files_and_splits_their_frames_back(vggish_random, wavs):
    """Several files' examples go through one forward pass; each file gets its own rows back,
    equal to a one-file pass up to float reordering (a short file contributes none)."""
    paths = [wavs["a"], wavs["ten"], wavs["short"], wavs["c"]]
    with pytest.warns(UserWarning, match="shorter than one VGGish example"):
        batched = vggish_random._embed_many(paths, batch_size=3)
    assert [b["frames"].shape[0] for b in batched] == [2, 10, 0, 1]
    for p, got in zip(paths, batched):
        if got["frames"].shape[0]:
            one = vggish_random.embed_file(p)["frames"]
            np.testing.assert_allclose(got["frames"], one, rtol=1e-4, atol=1e-5 * np.abs(one).max())
    assert vggish_random.batch_size == 8 and vggish_random.config()["batch_size"] == 8


def test_vggish_short_clip_adds_no_frames(vggish_random, wavs):
    with pytest.warns(UserWarning, match="shorter than one VGGish example"):
        out = vggish_random.embed_file(wavs["short"])
    assert out["frames"].shape == (0, 128) and out["frames"].dtype == np.float32


def test_vggish_random_weights_saved_in_official_format_load_back_strictly(vggish_file, vggish_random, wavs):
    sd = torch.load(vggish_file, map_location="cpu", weights_only=True)
    assert "embeddings.4.weight" in sd and "features.0.weight" in sd and "pproc" not in " ".join(sd)
    loaded = VGGishEmbedder(weights="pretrained", checkpoint=str(vggish_file))
    np.testing.assert_array_equal(loaded.embed_file(wavs["a"])["frames"], vggish_random.embed_file(wavs["a"])["frames"])
    assert loaded.describe()["weights_sha256"] == file_digest(vggish_file)
    assert loaded.config()["weights"] == f"sha256:{file_digest(vggish_file)}"
    assert vggish_random.config()["weights"] == "random:0"


@pytest.mark.slow
def test_vggish_seeded_init_is_deterministic(vggish_random):
    from metrics.embedders.vggish import build_vggish

    ref = vggish_random.model.state_dict()
    same, other = build_vggish(seed=0).state_dict(), build_vggish(seed=1).state_dict()
    assert all(torch.equal(ref[k], same[k]) for k in ref)
    assert not torch.equal(ref["embeddings.4.weight"], other["embeddings.4.weight"])


def test_vggish_missing_files_are_named_with_their_urls(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    with pytest.raises(WeightsNotFoundError) as e:
        VGGishEmbedder(weights="pretrained")
    msg = str(e.value)
    assert "vggish-10086976.pth" in msg
    assert "https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth" in msg
    assert str(tmp_path / "cache" / "weights") in msg and str(tmp_path / "torch_home") in msg
    with pytest.raises(WeightsNotFoundError, match="vggish_pca_params-970ea276.pth"):
        VGGishEmbedder(pca_params=str(tmp_path / "pca.pth"))


def test_vggish_found_in_torch_hub_checkpoints_and_pca_recorded_not_applied(vggish_file, vggish_random, wavs,
                                                                           tmp_path, monkeypatch):
    from metrics.embedders.vggish import PCA_FILE, VGGISH_FILE, save_random_pca_params

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    ckpts = tmp_path / "th" / "hub" / "checkpoints"
    ckpts.mkdir(parents=True)
    os.symlink(vggish_file, ckpts / VGGISH_FILE)
    pca = save_random_pca_params(ckpts / PCA_FILE, seed=0)
    params = torch.load(pca, weights_only=True)
    assert params["pca_eigen_vectors"].shape == (128, 128) and params["pca_means"].shape == (128,)
    e = VGGishEmbedder(weights="pretrained", pca_params=str(pca))
    assert e.checkpoint == ckpts / VGGISH_FILE
    assert e.describe()["pca_sha256"] == file_digest(pca) and e.describe()["pca_applied"] is False
    with_pca_cfg = e.config()
    np.testing.assert_array_equal(e.embed_file(wavs["c"])["frames"], vggish_random.embed_file(wavs["c"])["frames"])
    assert with_pca_cfg == VGGishEmbedder(weights="pretrained", checkpoint=vggish_file).config()


@pytest.mark.slow
def test_vggish_embeddings_are_cached_per_file_and_weights(vggish_random, vggish_file, wavs, tmp_path):
    cache = Cache(tmp_path / "c")
    paths = [wavs["a"], wavs["ten"]]
    first = vggish_random.embed_files(paths, cache=cache)
    assert (cache.hits, cache.misses) == (0, 2)
    assert [f["frames"].shape for f in first] == [(2, 128), (10, 128)]
    second = vggish_random.embed_files(paths, cache=cache)
    assert (cache.hits, cache.misses) == (2, 2)
    np.testing.assert_array_equal(first[1]["frames"], second[1]["frames"])
    # another weights identity (the file, by its sha256): a new key
    VGGishEmbedder(weights="pretrained", checkpoint=vggish_file).embed_files(paths[:1], cache=cache)
    assert cache.misses == 3
    other = VGGishEmbedder(seed=1)
    out = other.embed_files(paths[:1], cache=cache)
    assert cache.misses == 4 and not np.array_equal(out[0]["frames"], first[0]["frames"])


def test_vggish_via_registry():
    with pytest.raises(WeightsNotFoundError, match="vggish-10086976.pth"):
        make_embedder("vggish", weights="pretrained", checkpoint="/nonexistent/vggish-10086976.pth")
