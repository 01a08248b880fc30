"""The text–audio CLAP score (``clap_score``: stable-audio-metrics' ``clap_score``, audiocraft's
``CLAPTextConsistencyMetric``) against golden values made by the tools' own code: stable-audio-metrics'
function itself and audiocraft's update steps around laion_clap 1.1.7's ``CLAP_Module``, in a side
environment, on files of seeded random weights in the official layout and the synthetic RoBERTa
tokenizer files (scripts/golden/clap_score_golden.py).

Random weights and a synthetic vocabulary: the numbers say nothing about the pretrained
checkpoints or roberta-base's vocabulary, which the hub keeps out of reach here; what is checked is
every computation between the files and the score (front ends, repeat-padding, the fusion path of
files over 10 s with seeded crops, tokenisation, both branches, the cosine)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core.errors import ConfigError, WeightsNotFoundError
from metrics.embedders.clap_score import (SYNTHETIC_TOKENIZER, ClapScoreEmbedder, clap_scores, laion_log_mel,
                                          load_tokenizer, repeat_pad, save_random_weights)
from metrics.errors import MetricError
from tests.metrics.conftest import ROOT, load_script

golden_script = load_script("golden/clap_score_golden")
GOLDEN = ROOT / "tests/metrics/golden/clap_score_golden.npz"


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return golden_script.make_audio(tmp_path_factory.mktemp("clap_score_audio"))


def test_log_mel_is_torchaudios_bit_for_bit():
    golden = np.load(GOLDEN)
    ours = laion_log_mel(torch.from_numpy(golden["mel_input"])).numpy()
    assert ours.shape == golden["stable-audio-metrics/mel"].shape == (201, 64)
    assert np.array_equal(ours, golden["stable-audio-metrics/mel"])  # laion's get_mel (torchaudio 2.11)


def test_repeat_pad_is_laions():
    x = np.arange(1, 33601, dtype=np.float32)  # 0.7 s at 48 kHz: 14 whole repeats, then zeros
    y = repeat_pad(x)
    assert y.shape == (480000,) and np.array_equal(y[:33600], x) and np.array_equal(y[33600 * 13:33600 * 14], x)
    assert not y[33600 * 14:].any()


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["stable-audio-metrics", "audiocraft"])
def test_scores_match_the_tools(tmp_path, clips, protocol):
    golden = np.load(GOLDEN)
    weights = save_random_weights(tmp_path / "clap.pt", protocol, int(golden[f"{protocol}/seed"]))
    emb = ClapScoreEmbedder(protocol, weights="pretrained", checkpoint=str(weights),
                            tokenizer=str(SYNTHETIC_TOKENIZER), seed=int(golden["crop_seed"]))
    ids = [str(i) for i in golden["ids"]]
    audio = np.stack([o["embedding"] for o in emb.embed_files([clips[i] for i in ids])])
    text = emb.embed_texts([str(c) for c in golden["captions"]])
    # measured ≤ 1.3e-7 (audio; all four clips: under 10 s, exactly 10 s and 12.5 s with the fusion
    # path's seeded crops) and ≤ 1e-7 (text) on unit vectors
    np.testing.assert_allclose(audio, golden[f"{protocol}/audio"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(text, golden[f"{protocol}/text"], rtol=0, atol=1e-6)
    score, theirs = clap_scores(audio, text).mean(), float(golden[f"{protocol}/score"])
    assert abs(score - theirs) <= 1e-4 * abs(theirs), (score, theirs)  # measured 4.0e-6 relative at most (the tool sums float32)
    # batched files give each file's own embedding (eval-mode batch norm; fusion chosen per item)
    one = emb.embed_files([clips[ids[3]]])[0]["embedding"]
    np.testing.assert_allclose(one, audio[3], rtol=0, atol=1e-6)
    assert abs(clap_scores(audio, text)).max() > 0.005  # the random networks are not degenerate


def test_checkpoint_of_another_model_is_named(tmp_path):
    from metrics.embedders.clap import save_random_weights as save_audio_only

    general = save_audio_only(tmp_path / "630k-audioset-best.pt", "general", seed=0)  # non-fusion HTSAT-tiny
    emb = ClapScoreEmbedder("stable-audio-metrics", weights="pretrained", checkpoint=str(general))
    with pytest.raises(MetricError, match=r"not a LAION-CLAP fusion \(HTSAT-tiny, fusion\) checkpoint.*fusion_model"):
        emb.audio_model
    fusion_audio_only = save_audio_only(tmp_path / "fusion.pt", "fusion", seed=0)
    emb = ClapScoreEmbedder("stable-audio-metrics", weights="pretrained", checkpoint=str(fusion_audio_only),
                            tokenizer=str(SYNTHETIC_TOKENIZER))
    with pytest.raises(MetricError, match="holds no RoBERTa text branch"):
        emb.text_model


def test_tokenizer_absent_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tmp_path / "tok"
    folder.mkdir()
    (folder / "vocab.json").write_text((SYNTHETIC_TOKENIZER / "vocab.json").read_text())
    with pytest.raises(WeightsNotFoundError, match="vocab.json \\+ merges.txt"):
        load_tokenizer(folder)
    # transformers 5 offline gives an empty tokenizer (5 special tokens) for an uncached hub id: refused
    with pytest.raises(WeightsNotFoundError, match="metric.clap_score.tokenizer=/path/to/folder"):
        load_tokenizer("roberta-base-not-cached-here")
    assert len(load_tokenizer(SYNTHETIC_TOKENIZER)) == 576


def test_preset_weights_check_names_the_tokenizer(tmp_path, monkeypatch):
    from metrics.presets import check_preset_weights, preset_metric_configs

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    configs = preset_metric_configs("audiocraft", weights="pretrained")
    configs["clap_score"]["tokenizer"] = "roberta-base-not-cached-here"
    with pytest.raises(WeightsNotFoundError) as err:
        check_preset_weights(configs, cache_dir=tmp_path)
    text = str(err.value)
    assert "music_audioset_epoch_15_esc_90.14.pt" in text and "roberta-base-not-cached-here" in text
    assert "passt-s-f128-p16-s10-ap.476-swa.pt" in text  # every missing file at once


def test_metric_needs_every_caption(tmp_path, clips):
    from core.manifest import Clip
    from metrics.embedding_metrics import ClapScore

    metric = ClapScore(weights="random", embedder="clap_score_audiocraft")
    cs = [Clip(k, "", str(p), 0.0, 1.0, k, "test", caption="a calm piano" if i else None)
          for i, (k, p) in enumerate(clips.items())]
    paths = {c.id: clips[c.id] for c in cs}
    with pytest.raises(MetricError, match=r"1 of 4 clips have none, e.g. \['short_stereo_44k'\]"):
        metric.scores(cs, paths, paths)
    with pytest.raises(ConfigError, match="embedder must be one of clap_score_sam, clap_score_audiocraft"):
        ClapScore(weights="random", embedder="clap_music")


def test_fingerprint_covers_captions(tmp_path, clips):
    from core.manifest import Clip
    from metrics.evaluate import clip_captions, fingerprint

    files = {k: clips[k] for k in clips}
    one = [Clip(k, "", str(p), 0.0, 1.0, k, "test", caption="x") for k, p in files.items()]
    two = [Clip(k, "", str(p), 0.0, 1.0, k, "test", caption="y") for k, p in files.items()]
    cfg = {"name": "clap_score", "embedder": "clap_score_sam"}
    assert fingerprint(cfg, files, files, 10, 0, clip_captions("clap_score", one)) != \
        fingerprint(cfg, files, files, 10, 0, clip_captions("clap_score", two))
    assert clip_captions("fd", one) is None  # other metrics' fingerprints are unchanged


def test_synthetic_tokenizer_is_reproducible(tmp_path, monkeypatch):
    script = load_script("golden/make_synthetic_roberta_tokenizer")
    monkeypatch.setattr(script, "OUT", tmp_path)
    script.main()
    for name in ("vocab.json", "merges.txt"):
        assert (tmp_path / name).read_bytes() == (SYNTHETIC_TOKENIZER / name).read_bytes()
    vocab = json.loads((tmp_path / "vocab.json").read_text())
    assert [vocab[t] for t in ("<s>", "<pad>", "</s>", "<unk>", "<mask>")] == [0, 1, 2, 3, 4]  # roberta-base's ids
