import pickle

import numpy as np
import pytest
import torch

from core.cache import Cache
from core.errors import ConfigError, WeightsNotFoundError
from core.media import write_video
from systems.dyvim.encoders import (
    FwDFConfig,
    FwDFEncoder,
    I3DConfig,
    I3DEncoder,
    PoseConfig,
    PoseEncoder,
    build_dynamics_encoder,
    pose_velocity_features,
)

SIZE = 128  # RAFT's smallest input (4-level correlation pyramid)


@pytest.fixture(scope="module")
def fwdf():
    return FwDFEncoder(FwDFConfig.tiny())


def _static(t: int) -> np.ndarray:
    frames = np.full((t, SIZE, SIZE, 3), 60, np.uint8)
    frames[:, 40:80, 40:80] = (200, 120, 30)  # a square that never moves
    return frames


def _moving(t: int) -> np.ndarray:
    frames = np.full((t, SIZE, SIZE, 3), 60, np.uint8)
    for i in range(t):
        frames[i, 40:80, 10 + 8 * i:50 + 8 * i] = (200, 120, 30)
    return frames


# --- FwDF ------------------------------------------------------------------------------------

@pytest.mark.parametrize("t", [1, 2, 5])
def test_fwdf_shapes_and_attention(fwdf, t):
    z, attn = fwdf.encode_frames(_moving(t), return_attention=True)
    p = (SIZE // 8 // 2) ** 2  # H'·W' positions after the tiny config's 2× pooling
    assert z.shape == (t, 32)
    assert attn.shape == (t, p, p)
    assert torch.allclose(attn.sum(-1), torch.ones(t, p), atol=1e-4)  # rows are distributions
    assert torch.isfinite(z).all()


def test_fwdf_motion_maps_hold_both_directions(fwdf):
    maps = fwdf.motion_features(_moving(3))
    assert maps.shape == (3, FwDFConfig.tiny().motion_channels, SIZE // 16, SIZE // 16)
    c = maps.shape[1] // 2
    # replicate padding: frame 0's backward pair is (0, 0) — what a one-frame video of that frame
    # gives — while its forward pair (0, 1) sees the square move
    alone = fwdf.motion_features(_moving(1))
    assert torch.allclose(maps[0, :c], alone[0, :c], atol=1e-4)
    assert torch.allclose(alone[0, :c], alone[0, c:], atol=1e-6)  # one frame: both directions still
    assert not torch.allclose(maps[0, c:], maps[0, :c], atol=1e-3)
    batched = fwdf(torch.stack([maps, maps.flip(0)]))  # (B, T, ...) → (B, T, d_m), clips independent
    assert batched.shape == (2, 3, 32)
    assert torch.allclose(batched[0], fwdf(maps), atol=1e-5)
    assert torch.allclose(batched[1, 0], fwdf(maps)[2], atol=1e-5)


def test_fwdf_is_motion_sensitive(fwdf):
    z_static = fwdf.encode_frames(_static(6))
    z_moving = fwdf.encode_frames(_moving(6))
    assert torch.allclose(z_static, z_static[:1].expand_as(z_static), atol=1e-5)  # same at every frame
    assert (z_moving - z_static).abs().max() > 1e-2
    # inner frames of the moving video see motion both ways; they differ from the still-looking edge
    assert (z_moving[2] - z_moving[0]).abs().max() > 1e-3


def test_fwdf_head_is_trainable_backbone_frozen(fwdf):
    fwdf.train()
    assert not fwdf.motion_encoder.raft.training
    maps = fwdf.motion_features(_moving(2))
    assert not maps.requires_grad
    fwdf(maps).sum().backward()
    assert fwdf.aggregator.proj.weight.grad is not None
    assert all(p.grad is None for p in fwdf.motion_encoder.parameters())
    fwdf.aggregator.zero_grad()
    fwdf.eval()


def test_fwdf_extract_from_video_is_cached(tmp_path, fwdf):
    video = tmp_path / "move.mp4"
    write_video(video, _moving(6), fps=6)
    cache = Cache(tmp_path / "cache")
    first = fwdf.extract(video, 0.0, 1.0, cache=cache)
    assert first.fps == 6.0 and first.values.shape == (6, FwDFConfig.tiny().motion_channels, 8, 8)
    again = fwdf.extract(video, 0.0, 1.0, cache=cache)
    assert (cache.hits, cache.misses) == (1, 1)
    np.testing.assert_array_equal(first.values, again.values)
    assert fwdf(torch.from_numpy(again.values).float()).shape == (6, 32)
    FwDFEncoder(FwDFConfig.tiny(flow_iters=1)).extract(video, 0.0, 1.0, cache=cache)
    assert cache.misses == 2  # another flow_iters is another entry


def test_fwdf_one_frame_video_file(tmp_path, fwdf):
    video = tmp_path / "one.mp4"
    write_video(video, _static(1), fps=10)
    feats = fwdf.extract(video)
    assert feats.n_frames == 1
    assert fwdf(torch.from_numpy(feats.values).float()).shape == (1, 32)


def test_fwdf_missing_pretrained_weights_names_file_and_url(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(WeightsNotFoundError, match=r"raft_small_C_T_V2-01064c6d\.pth.*download\.pytorch\.org"):
        FwDFEncoder(FwDFConfig.tiny(weights="pretrained"))
    with pytest.raises(WeightsNotFoundError, match="nope.pth"):
        FwDFEncoder(FwDFConfig.tiny(weights="pretrained", weights_path=str(tmp_path / "nope.pth")))


def test_fwdf_config_errors():
    with pytest.raises(ConfigError, match="multiples of 8"):
        FwDFConfig.tiny(frame_size=(100, 128))
    with pytest.raises(ConfigError, match="flow_iters"):
        FwDFConfig.tiny(flow_iters=0)
    with pytest.raises(ConfigError, match="weights"):
        FwDFConfig.tiny(weights="imagenet")


def test_build_dynamics_encoder_uses_config_keys():
    enc = build_dynamics_encoder("fwdf", size="tiny", flow_iters=1, d_m=24)
    assert enc.out_dim == 24 and enc.config.flow_iters == 1 and enc.config.n_heads in (3, 4)
    with pytest.raises(ConfigError, match="dynamics encoder"):
        build_dynamics_encoder("optical", size="tiny")


# --- I3D -------------------------------------------------------------------------------------

def test_i3d_features_per_frame(tmp_path):
    enc = I3DEncoder(I3DConfig.tiny())
    for t in (1, 3):
        feats = enc.frame_features(_moving(t))
        assert feats.shape == (t, 2048) and torch.isfinite(feats).all()
    video = tmp_path / "v.mp4"
    write_video(video, _moving(4), fps=4)
    cache = Cache(tmp_path / "cache")
    out = enc.extract(video, 0.0, 1.0, cache=cache)
    assert out.values.shape == (4, 2048) and out.fps == 4.0
    enc.extract(video, 0.0, 1.0, cache=cache)
    assert cache.hits == 1
    assert enc.out_dim == 2048


def test_i3d_missing_pretrained_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(WeightsNotFoundError, match=r"I3D_8x8_R50\.pyth.*dl\.fbaipublicfiles\.com"):
        I3DEncoder(I3DConfig.tiny(weights="pretrained"))


# --- pose ------------------------------------------------------------------------------------

def _keypoints(n: int, views: int = 1, step_px: float = 10.0, fps: int = 60) -> dict:
    base = np.zeros((17, 3), np.float32)
    base[:, 1] = np.linspace(0, 100, 17)  # body 100 px tall
    base[:, 2] = 1.0
    kp = np.stack([base + np.array([step_px * i, 0, 0], np.float32) for i in range(n)])
    return {"keypoints2d": np.repeat(kp[None], views, axis=0),
            "timestamps": (np.arange(n) * 1000) // fps}


def test_pose_velocity_features_in_body_heights_per_second():
    data = _keypoints(60)
    kp, ts = data["keypoints2d"][0], data["timestamps"] / 1000.0
    feats = pose_velocity_features(kp, ts, fps=30.0, start=0.0, n_frames=20)
    assert feats.shape == (20, 51)
    vel = feats.reshape(20, 17, 3)
    # 10 px per 1/60 s = 600 px/s = 6 body heights/s; at 30 fps each step skips one keypoint frame
    np.testing.assert_allclose(vel[:, :, 0], 6.0, rtol=0.03)
    np.testing.assert_allclose(vel[:, :, 1], 0.0, atol=1e-6)
    np.testing.assert_allclose(vel[:, :, 2], np.abs(vel[:, :, 0]), rtol=1e-6)
    assert pose_velocity_features(kp, ts, 30.0, 0.0, 1).tolist() == [[0.0] * 51]  # one frame: no motion


def test_pose_encoder_on_a_keypoints_file_with_view_from_camera_name(tmp_path):
    path = tmp_path / "seq.pkl"
    data = _keypoints(120, views=3)
    data["keypoints2d"][1, :, :, 0] = 0.0  # camera 2 sees a still dancer
    path.write_bytes(pickle.dumps(data))
    enc = PoseEncoder(PoseConfig.tiny())
    cache = Cache(tmp_path / "cache")
    moving = enc.extract(path, fps=60.0, start=0.5, duration=1.0, video_name="gBR_sBM_c01_d04_mBR0_ch01.mp4", cache=cache)
    still = enc.extract(path, fps=60.0, start=0.5, duration=1.0, video_name="gBR_sBM_c02_d04_mBR0_ch01.mp4", cache=cache)
    assert moving.values.shape == (60, 51) and moving.fps == 60.0
    assert np.abs(moving.values).max() > 1 and np.abs(still.values).max() == 0
    z = enc(torch.from_numpy(moving.values))
    assert z.shape == (60, 32)
    enc.extract(path, fps=60.0, start=0.5, duration=1.0, video_name="gBR_sBM_c01_d04_mBR0_ch01.mp4", cache=cache)
    assert cache.hits == 1
    with pytest.raises(ConfigError, match="view"):
        enc.extract(path, fps=60.0, video_name="clip.mp4")
