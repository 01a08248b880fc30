"""DeSync (metrics/desync.py, metrics/synchformer/): our Synchformer against av-benchmark's own
Synchformer code on seeded weights (tests/metrics/golden/desync_synchformer.npz, made by
scripts/golden/desync_synchformer.py in a side environment with the official code), the front
ends against av-benchmark's own encode_audio_with_sync / encode_video_with_sync, and the metric.

Not checked here (see the golden script): the full-size (12-block, 768-d) extractors run only in
the golden script's --full mode (too slow for a CPU test; the test checks them at 2 blocks, 96-d,
and the full-size synchronisation transformer); frame decoding at 25 fps is the harness's own
(core.media.decode_frames), not av-benchmark's torio/ffmpeg reader; the published
synchformer_state_dict.pth itself cannot be downloaded here, so no test runs the real weights.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from metrics import desync as ds
from metrics.synchformer import Synchformer, SynchformerConfig

GOLDEN = Path(__file__).parent / "golden" / "desync_synchformer.npz"


@pytest.fixture(scope="module")
def golden():
    return dict(np.load(GOLDEN))


def _inputs():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "desync_golden", Path(__file__).parents[2] / "scripts" / "golden" / "desync_synchformer.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.inputs(mod.SEED), mod


def _rel(a, b):
    return float(np.abs(np.asarray(a) - np.asarray(b)).max() / np.abs(np.asarray(b)).max())


def test_state_dict_matches_the_official_synchformer_key_for_key(golden):
    official = json.loads(str(golden["official_keys"]))
    with torch.device("meta"):
        ours = {k: list(v.shape) for k, v in Synchformer().state_dict().items()}
    assert list(ours) == list(official)  # same keys, same order (513)
    assert ours == official


def test_extractors_and_sync_transformer_match_av_benchmarks_code(golden, tmp_path):
    torch.set_num_threads(1)
    (video, spec, vfeat, afeat, _), mod = _inputs()
    small = SynchformerConfig(dim=mod.SMALL["dim"], video_depth=mod.SMALL["depth"], video_heads=mod.SMALL["heads"],
                              audio_depth=mod.SMALL["depth"], audio_heads=mod.SMALL["heads"])
    # seeded weights saved in the official layout, loaded through our loading path
    path = ds.save_random_weights(tmp_path / ds.OFFICIAL_NAME, small, seed=mod.SEED)
    model = ds.load_synchformer(path, small)
    with torch.inference_mode():
        v = model.video_features(video)
        a = model.audio_features(spec[:, :, 0])
    assert v.shape == golden["video_features"].shape and a.shape == golden["audio_features"].shape
    assert _rel(v, golden["video_features"]) < 1e-4
    assert _rel(a, golden["audio_features"]) < 1e-4

    head_cfg = SynchformerConfig(video_depth=0, audio_depth=0)  # official-size sync transformer, no encoders
    head = Synchformer(head_cfg).eval()
    with torch.device("meta"):
        shapes = {k: x.shape for k, x in Synchformer(head_cfg).state_dict().items()}
    head.load_state_dict(ds.seeded_state_dict(shapes, mod.SEED), strict=True)
    with torch.inference_mode():
        logits = head.offset_logits(vfeat, afeat)
    assert _rel(logits, golden["sync_logits"]) < 1e-4
    assert np.argmax(logits.numpy(), 1).tolist() == np.argmax(golden["sync_logits"], 1).tolist()


def test_front_ends_match_av_benchmarks_segmenting_and_mel(golden):
    (_, _, _, _, wave), _ = _inputs()
    segs = ds.audio_segments(wave.numpy())
    assert segs.shape == golden["audio_segments"].shape  # 1.5 s → 3 segments of 128 × 66
    np.testing.assert_allclose(segs.numpy(), golden["audio_segments"], rtol=1e-4, atol=1e-4)
    # the 66th frame is the zero padding, normalised
    assert float(segs[0, 0, -1]) == pytest.approx((0 - ds.SPEC_MEAN) / (2 * ds.SPEC_STD), abs=1e-6)
    frames = np.broadcast_to(np.arange(40, dtype=np.uint8)[:, None, None, None], (40, 224, 224, 3))
    video = ds.video_segments(frames)
    idx = np.round((video[:, :, 0, 0, 0].numpy() * 0.5 + 0.5) * 255).astype(int)
    np.testing.assert_array_equal(idx, golden["video_segment_frames"])


def test_offset_grid_and_windows():
    from metrics.synchformer import offset_grid

    g = offset_grid()
    assert g.numel() == 21 and float(g[0]) == -2.0 and float(g[10]) == 0.0 and float(g[-1]) == pytest.approx(2.0)
    assert ds.MIN_SECONDS == pytest.approx(4.8)


class _Fixed(torch.nn.Module):
    """A stand-in whose logits favour class k for the window starting at segment s (reads it back
    from the features), to check which segments each window sees and how offsets average."""

    def __init__(self):
        super().__init__()
        self.cfg = SynchformerConfig(dim=4)

    def video_features(self, v):
        return v[:, :, :1, :1, 0, 0].expand(-1, -1, 8, 4)  # segment index carried in the value

    def audio_features(self, a):
        return a[:, :, :1, :1].expand(-1, -1, 6, 4)

    def offset_logits(self, vf, af):
        first = int(round(float(vf[0, 0, 0, 0])))
        logits = torch.zeros(1, 21)
        logits[0, 15 if first == 0 else 4] = 1.0  # +1.0 s for the first window, −1.2 s for the last
        return logits


def test_window_offsets_take_the_first_and_last_14_segments_and_desync_averages_their_magnitudes():
    video = torch.arange(24, dtype=torch.float32).view(24, 1, 1, 1, 1).expand(24, 16, 3, 2, 2)
    spec = torch.arange(24, dtype=torch.float32).view(24, 1, 1).expand(24, 128, 66)
    off = ds.window_offsets(_Fixed(), video, spec)
    assert off.tolist() == pytest.approx([1.0, -1.2])
    assert float(np.abs(off).mean()) == pytest.approx(1.1)
    with pytest.raises(ds.ClipTooShortError, match="14"):
        ds.window_offsets(_Fixed(), video[:13], spec[:13])


def test_mel_filterbank_is_torchaudios_htk_without_norm():
    fb = ds.mel_filterbank(513, 128, 16000)
    assert fb.shape == (513, 128) and float(fb.min()) == 0.0
    # each triangle peaks at 1 only where a bin lands on its centre; all are positive somewhere
    assert bool((fb.max(0).values > 0).all()) and float(fb.max()) <= 1.0 + 1e-6


def _clip(tmp_path, duration, name="c"):
    from core.manifest import Clip
    from core.media import write_video

    frames = np.full((int(25 * duration), 64, 80, 3), 40, np.uint8)
    frames[::12, 16:48, 20:60] = 230  # a flash every 0.48 s
    write_video(tmp_path / "video" / f"{name}.mp4", frames, 25)
    return Clip(name, f"video/{name}.mp4", f"audio/{name}.wav", 0.0, duration, "s", root=str(tmp_path))


def _wav(path, duration, sr=22050):
    import soundfile as sf

    t = np.arange(int(duration * sr)) / sr
    y = (0.3 * np.sin(2 * np.pi * 440 * t) * (np.mod(t, 0.48) < 0.1)).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, y, sr)
    return path


def test_metric_with_random_weights_runs_says_so_and_leaves_short_clips_out(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    long, short = _clip(tmp_path, 5.0, "long"), _clip(tmp_path, 2.0, "short")
    wavs = {"long": _wav(tmp_path / "gen" / "long.wav", 5.0), "short": _wav(tmp_path / "gen" / "short.wav", 2.0)}
    m = ds.DesyncMetric(cache=False, weights="random")
    with pytest.warns(UserWarning) as rec:
        out = m.scores([long, short], wavs, wavs)
    msgs = " ".join(str(w.message) for w in rec)
    assert "random weights cannot estimate offsets" in msgs and "shorter than" in msgs and "short" in msgs
    v = out["desync"].per_clip
    assert out["desync"].higher_is_better is False
    assert 0.0 <= v[0] <= 2.0 and round(v[0] / 0.1) == pytest.approx(v[0] / 0.1, abs=1e-6)  # a multiple of 0.1
    assert math.isnan(v[1])  # the 2-s clip: no 4.8-s window
    assert "random" in m.describe()["warning"] and m.describe()["weights_sha256"]


def test_pretrained_without_the_file_names_it_and_where_to_get_it(tmp_path, monkeypatch):
    from core.errors import WeightsNotFoundError

    monkeypatch.setenv("BENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("BENCH_OFFLINE", "1")
    m = ds.DesyncMetric(cache=False, weights="pretrained")
    with pytest.raises(WeightsNotFoundError, match="synchformer_state_dict.pth") as e:
        m.model
    assert ds.OFFICIAL_URL in str(e.value)


def test_a_file_that_is_not_the_state_dict_is_a_named_error(tmp_path):
    from metrics.errors import MetricError

    # the original repository's {'model': state dict} layout is unwrapped, then loaded strictly
    small = SynchformerConfig(**ds.RANDOM_CONFIG)
    state = torch.load(ds.save_random_weights(tmp_path / "s.pth"), weights_only=True)
    torch.save({"model": state}, tmp_path / "24-01-04T16-39-21.pt")
    assert isinstance(ds.load_synchformer(tmp_path / "24-01-04T16-39-21.pt", small), Synchformer)
    torch.save({"model": {"w": torch.zeros(1)}}, tmp_path / "other.pt")
    with pytest.raises(MetricError, match="other.pt: not a Synchformer.*missing keys"):
        ds.load_synchformer(tmp_path / "other.pt", small)
    (tmp_path / "junk.pth").write_bytes(b"not a torch file")
    with pytest.raises(MetricError, match="junk.pth: cannot read"):
        ds.load_synchformer(tmp_path / "junk.pth", small)
    torch.save({"vproj.weight": torch.zeros(2, 2)}, tmp_path / "bad.pth")
    with pytest.raises(MetricError, match="bad.pth: not a Synchformer"):
        ds.load_synchformer(tmp_path / "bad.pth", SynchformerConfig(**ds.RANDOM_CONFIG))
    small = ds.save_random_weights(tmp_path / "small.pth")  # the random-mode size, loaded as the official size
    with pytest.raises(MetricError, match="small.pth: not a Synchformer checkpoint of this architecture"):
        ds.load_synchformer(small, SynchformerConfig(video_depth=1, audio_depth=1, sync_layers=1))
