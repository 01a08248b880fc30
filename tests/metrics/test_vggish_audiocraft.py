"""audiocraft 1.3.0's FAD (embedder ``vggish_audiocraft``, ``stats: google``, preset ``audiocraft``)
against golden values made by the real code (scripts/golden/audiocraft_fad_golden.py): audiocraft's
own ``FrechetAudioDistanceMetric`` (update → its wav files through ffmpeg, compute → Google's
``frechet_audio_distance`` create_embeddings_main and compute_fad on TensorFlow 2.15), on a seeded
random VGGish written by TensorFlow as a V1 checkpoint, the official ``vggish_model.ckpt`` format.
Here the same seeded weights are built in torch (``weights="random"``); the golden run loaded the
TensorFlow file itself through ``state_from_tf_checkpoint`` and recorded its embeddings' distance
from Google's (asserted below). Random weights: the numbers check the computation, not the
pretrained network (Google's file cannot be downloaded here)."""

from __future__ import annotations

import hashlib
import warnings

import numpy as np
import pytest

from core.errors import WeightsNotFoundError
from metrics.embedders.vggish import (TF_VGGISH_FILE, TF_VGGISH_URL, AudiocraftVGGishEmbedder, audiocraft_fad_pcm,
                                      state_from_tf_checkpoint)
from metrics.errors import MetricError
from metrics.small_sample import google_fad_distance, google_fad_stats
from tests.metrics.conftest import ROOT, load_script

golden_script = load_script("golden/audiocraft_fad_golden")
GOLDEN = ROOT / "tests/metrics/golden/audiocraft_fad_golden.npz"
QUICK = ("f_4p3s_22k", "g_1s_16k", "h_0p6s_16k", "i_2p7s_48k_stereo")


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    return golden_script.make_audio(tmp_path_factory.mktemp("acfad"))


@pytest.fixture(scope="module")
def embedder():
    return AudiocraftVGGishEmbedder(weights="random", seed=golden_script.SEED)


def _embed(embedder, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the 0.6 s clip: no rows, with a warning
        return embedder.embed_file(path)["frames"]


def _check_clip(golden, embedder, kind, name, path):
    pcm = audiocraft_fad_pcm(path)
    assert pcm.shape[0] == int(golden[f"{kind}/{name}/pcm_len"])
    # the int16 samples audiocraft's audio_write + ffmpeg wrote, bit for bit
    assert hashlib.sha256(pcm.astype("<i2").tobytes()).hexdigest() == str(golden[f"{kind}/{name}/pcm_sha256"])
    rows, theirs = _embed(embedder, path), golden[f"{kind}/{name}/embeddings"]
    assert rows.shape == theirs.shape and rows.dtype == np.float32
    if rows.size:
        np.testing.assert_allclose(rows, theirs, rtol=0, atol=1e-5 * np.max(np.abs(theirs)), err_msg=f"{kind}/{name}")
    return rows


def test_short_clips_match_audiocraft_and_google(clips, embedder):
    """Resampling from 22.05 and 48 kHz (stereo), exactly one 1-s window, and a 0.6 s file (no rows)."""
    golden = np.load(GOLDEN)
    for kind in clips:
        for name in QUICK:
            _check_clip(golden, embedder, kind, name, clips[kind][name])
    assert _embed(embedder, clips["generated"]["g_1s_16k"]).shape == (1, 128)
    with pytest.warns(UserWarning, match="shorter than the 1 s window"):
        assert embedder.embed_file(clips["generated"]["h_0p6s_16k"])["frames"].shape == (0, 128)


@pytest.mark.slow  # 18 files, ~170 windows per set through VGGish: ~15 s of CPU
def test_fad_matches_audiocraft_compute(clips, embedder):
    golden = np.load(GOLDEN)
    rows = {kind: [_check_clip(golden, embedder, kind, name, path) for name, path in clips[kind].items()]
            for kind in clips}
    stats = {kind: google_fad_stats(rows[kind]) for kind in rows}
    for kind in stats:  # as compute_fad reads the TFRecords: float32 values
        np.testing.assert_allclose(stats[kind][0], golden[f"{kind}/mu"], rtol=0,
                                   atol=1e-5 * np.max(np.abs(golden[f"{kind}/mu"])))
        np.testing.assert_allclose(stats[kind][1], golden[f"{kind}/sigma"], rtol=0,
                                   atol=1e-5 * np.max(np.abs(golden[f"{kind}/sigma"])))
    fad = google_fad_distance(stats["reference"], stats["generated"])
    assert abs(fad - float(golden["fad"])) / float(golden["fad"]) < 1e-5
    assert round(fad, 6) == pytest.approx(float(golden["fad_printed"]), abs=2e-6 * float(golden["fad"]))
    # through the metric as the audiocraft preset configures it (the cached rows; bootstrap CI beside)
    from core.manifest import Clip
    from metrics.base import get_metric_class
    from metrics.presets import preset_metric_configs

    cfg = {k: v for k, v in preset_metric_configs("audiocraft", weights="random")["fad"].items() if k != "name"}
    metric = get_metric_class("fad")(seed=golden_script.SEED, **cfg)
    ids = list(clips["generated"])
    score = metric.scores([Clip(i, f"{i}.mp4", f"{i}.wav", 0.0, 1.0, i) for i in ids],
                          clips["generated"], clips["reference"])["fad"]
    # files batched 8 per forward pass there, one by one above: float reordering only
    assert score.statistic(np.arange(len(ids))[None])[0] == pytest.approx(fad, rel=1e-6)
    assert metric.describe()["stats"] == "google" and metric.describe()["preset"] == "audiocraft"


def test_the_tensorflow_file_loaded_end_to_end_in_the_golden_run():
    golden = np.load(GOLDEN)
    assert float(golden["ckpt_embeddings_max_rel_diff"]) < 1e-5
    assert float(golden["fad"]) == pytest.approx(float(golden["fad_printed"]), abs=1e-6)


def test_silent_file_is_left_out_with_a_warning(tmp_path, embedder):
    import soundfile as sf

    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(32000, np.float32), 16000, subtype="PCM_16")
    with pytest.warns(UserWarning, match="silence.wav: silent"):
        assert embedder.embed_file(path)["frames"].shape == (0, 128)


def test_wrong_or_missing_checkpoint_is_named(tmp_path):
    # a TensorFlow checkpoint of another network
    with pytest.raises(MetricError, match=r"v1.ckpt: not a VGGish TensorFlow checkpoint: missing variables "
                                          r"\['vggish/conv1/weights'"):
        state_from_tf_checkpoint(ROOT / "tests/metrics/golden/tf_checkpoint/v1.ckpt")
    with pytest.raises(WeightsNotFoundError, match=f"{TF_VGGISH_FILE}.*{TF_VGGISH_URL}"):
        AudiocraftVGGishEmbedder(weights="pretrained", cache_dir=tmp_path)


def test_identity_differs_from_the_other_vggish_embedders():
    from metrics.embedders import make_embedder

    ours = make_embedder("vggish_audiocraft", weights="random")
    assert isinstance(ours, AudiocraftVGGishEmbedder)
    others = [make_embedder(n, weights="random") for n in ("vggish", "vggish_fadtk")]
    assert all(ours.cache_name() != o.cache_name() and ours.config() != o.config() for o in others)
    assert ours.describe()["official_file"] == TF_VGGISH_FILE


@pytest.mark.slow  # the golden clips through VGGish once more, on one thread: ~15 s
def test_perf_hook_line():
    from metrics.embedders.vggish import perf_line
    from metrics.perf import EMBEDDER_PERF_HOOKS

    assert "metrics.embedders.vggish:perf_line" in EMBEDDER_PERF_HOOKS
    out = perf_line()
    assert out["presets"] == ["audiocraft"] and out["rel"]["fad"] < 1e-5
    assert out["line"].startswith("vggish_audiocraft: ours ") and "Google's TF VGGish steps 0.21 s" in out["line"]
