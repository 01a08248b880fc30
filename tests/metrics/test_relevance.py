"""ImageBind score (metrics/relevance.py): ImageBind's own model code, its checkpoint format
(state dict loaded strictly, as imagebind_huge(pretrained=True) does), the data.py inputs, and
the metric on small clips (random weights: labelled, and no claim that they rank)."""

from __future__ import annotations

import ast
import inspect
import math
import warnings

import numpy as np
import pytest
import torch

from core.manifest import Clip
from core.media import atomic_write_audio, write_video
from metrics import relevance as rel


def test_huge_config_is_imagebind_huge_s():
    ib = rel._imagebind_models()
    tree = ast.parse(inspect.getsource(ib.imagebind_huge))
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "ImageBindModel")
    assert {k.arg: ast.literal_eval(k.value) for k in call.keywords} == rel.HUGE


def test_checkpoint_format_round_trip(tmp_path, monkeypatch):
    """A state dict saved with torch.save loads strictly into the architecture; missing keys fail."""
    monkeypatch.setattr(rel, "HUGE", rel.TINY)  # the real huge model is 1.2 B parameters
    random_model = rel.build_model("random", seed=3)
    path = tmp_path / rel.CHECKPOINT_NAME
    torch.save(random_model.state_dict(), path)
    loaded = rel.build_model("pretrained", path)
    x = torch.randn(1, 3, 1, 128, 204)
    with torch.inference_mode():
        a = random_model({"audio": x})["audio"]
        b = loaded({"audio": x})["audio"]
    torch.testing.assert_close(a, b)
    sd = random_model.state_dict()
    sd.pop(next(iter(sd)))
    torch.save(sd, path)
    with pytest.raises(RuntimeError, match="Missing key"):
        rel.build_model("pretrained", path)


def test_missing_checkpoint_names_the_file(tmp_path):
    from core.errors import ConfigError

    with pytest.raises(ConfigError, match="imagebind_huge.pth"):
        rel.build_model("pretrained", tmp_path / "nowhere" / rel.CHECKPOINT_NAME)


def test_seeded_random_weights_are_reproducible():
    x = torch.randn(1, 3, 1, 128, 204)
    with torch.inference_mode():
        a = rel.build_model("random", seed=0)({"audio": x})["audio"]
        b = rel.build_model("random", seed=0)({"audio": x})["audio"]
        c = rel.build_model("random", seed=1)({"audio": x})["audio"]
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)


def test_kaldi_fbank():
    t = torch.arange(2 * 16000) / 16000
    f = rel.kaldi_fbank(torch.sin(2 * math.pi * 1000 * t))
    assert f.shape == (1 + (32000 - 400) // 160, 128)  # snip_edges: 198 frames for 2 s
    # the 1 kHz tone lands in the mel band whose centre is nearest 1 kHz (Kaldi's mel = 1127 ln(1 + f/700))
    lo, hi = 1127 * math.log(1 + 20 / 700), 1127 * math.log(1 + 8000 / 700)
    centre = lambda b: lo + (b + 1) * (hi - lo) / 129  # noqa: E731
    expected = min(range(128), key=lambda b: abs(centre(b) - 1127 * math.log(1 + 1000 / 700)))
    assert abs(int(f.mean(0).argmax()) - expected) <= 1
    silent = rel.kaldi_fbank(torch.zeros(32000))
    assert torch.all(silent == math.log(torch.finfo(torch.float32).eps))


def test_clip_timepoints_follow_pytorchvideo():
    # ImageBind's get_clip_timepoints with ConstantClipsPerVideoSampler(2, 5) on a 10-s video: the
    # sampler spaces starts by (duration - clip) / clips, so the last clip ends before the video does
    got = rel.clip_timepoints(10.0, 2, 5)
    np.testing.assert_allclose(got, [(0.0, 2.0), (1.6, 3.6), (3.2, 5.2), (4.8, 6.8), (6.4, 8.4)])
    assert len(rel.clip_timepoints(2.0, 2, 3)) == 3  # a 2-s clip: three identical views


def _clip(root, name, duration, still=False):
    n = int(duration * 25)
    frames = np.full((n, 48, 64, 3), 50, np.uint8)
    for f in range(n):
        x = 4 if still else 4 + (f * 3) % 40
        frames[f, 10:30, x:x + 16] = 220
    write_video(root / "video" / f"{name}.mp4", frames, 25)
    return Clip(name, f"video/{name}.mp4", f"audio/{name}.wav", 0.0, duration, name, root=str(root))


def test_inputs_have_imagebind_s_shapes(tmp_path):
    clip = _clip(tmp_path, "a", 10.0)
    v = rel.video_input(clip.video_path, 0.0, 10.0)
    assert v.shape == (15, 3, 2, 224, 224)
    wav = atomic_write_audio(tmp_path / "a.wav", np.random.default_rng(0).standard_normal(32000 * 10).astype(np.float32) * 0.1,
                             32000)
    assert rel.audio_input(wav).shape == (3, 1, 128, 204)
    short = atomic_write_audio(tmp_path / "s.wav", np.zeros(16000, np.float32), 16000)  # 1 s < the 2-s window
    assert rel.audio_input(short).shape == (3, 1, 128, 204)


def test_metric_on_short_still_and_silent_clips(tmp_path):
    clips = [_clip(tmp_path, "a", 2.0), _clip(tmp_path, "b", 2.0, still=True)]
    music = {"a": atomic_write_audio(tmp_path / "ma.wav", np.zeros(64000, np.float32), 32000),  # silence
             "b": atomic_write_audio(tmp_path / "mb.wav", (0.1 * np.sin(np.arange(64000) / 10)).astype(np.float32), 32000)}
    m = rel.ImageBindMetric(cache=None, seed=0, weights="random")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = m.scores(clips, music, music)
    assert any("random weights cannot rank" in str(w.message) for w in caught)
    assert np.all(np.isfinite(out["ib_score"].per_clip)) and np.all(np.abs(out["ib_score"].per_clip) <= 1 + 1e-6)
    assert out["ib_r1_v2m"].min_clips == 2 and "warning" in m.describe()
