import numpy as np
import pytest

from core.cache import Cache
from core.manifest import Clip
from core.errors import ConfigError, DatasetError, WeightsNotFoundError
from core.media import decode_frames, keyframe_times, write_video
from systems.dyvim.encoders import (
    CLIPSemanticsConfig,
    CLIPSemanticsEncoder,
    T5SemanticsConfig,
    T5SemanticsEncoder,
    build_semantics_encoder,
)

FPS = 4
KEY_COLOURS = [(220, 30, 30), (30, 200, 40), (40, 60, 230)]


@pytest.fixture(scope="module")
def tiny_clip():
    return CLIPSemanticsEncoder(CLIPSemanticsConfig(size="tiny"))


@pytest.fixture
def keyframe_video(tmp_path):
    """3 s at 4 fps with an I-frame every second (frames 0, 4, 8) in its own colour; grey between."""
    frames = np.full((12, 64, 96, 3), 128, np.uint8)
    for j, colour in enumerate(KEY_COLOURS):
        frames[4 * j] = colour
        frames[4 * j, 20:40, 30:60] = 255 - np.array(colour)
    path = tmp_path / "keys.mp4"
    write_video(path, frames, FPS, gop=FPS)
    assert keyframe_times(path).tolist() == [0.0, 1.0, 2.0]
    return path


def test_clip_default_config_is_vit_b32_50_by_768():
    enc = CLIPSemanticsEncoder(CLIPSemanticsConfig(size="medium"))
    states = enc.encode_images(np.zeros((1, 240, 320, 3), np.uint8))
    assert states.shape == (1, 50, 768) and enc.n_states == 50 and enc.out_dim == 768


def test_clip_averages_over_the_keyframes_only(tiny_clip, keyframe_video):
    cache = Cache(keyframe_video.parent / "cache")
    feats = tiny_clip.extract(keyframe_video, 0.0, 3.0, cache=cache)
    assert feats.values.shape == (50, 32) and feats.mask.all()
    assert feats.n_images == 3 and not feats.fallback
    size = (tiny_clip.image_size * 96 // 64, tiny_clip.image_size)  # short side to the model's size
    frames = decode_frames(keyframe_video, fps=FPS, size=size, start=0.0, duration=3.0)
    expected = tiny_clip.encode_images(frames[[0, 4, 8]]).mean(0).numpy()
    np.testing.assert_allclose(feats.values, expected, atol=1e-5)
    all_frames = tiny_clip.encode_images(frames).mean(0).numpy()
    assert np.abs(feats.values - all_frames).max() > 1e-3  # not just an average over every frame
    tiny_clip.extract(keyframe_video, 0.0, 3.0, cache=cache)
    assert (cache.hits, cache.misses) == (1, 1)


def test_clip_window_selects_its_keyframes_and_falls_back_to_the_middle_frame(tiny_clip, keyframe_video):
    window = tiny_clip.extract(keyframe_video, 1.0, 2.0)  # I-frames at 1 s and 2 s
    assert window.n_images == 2 and not window.fallback
    none = tiny_clip.extract(keyframe_video, 0.25, 0.5)  # frames 1 and 2: no I-frame
    assert none.n_images == 1 and none.fallback
    size = (tiny_clip.image_size * 96 // 64, tiny_clip.image_size)
    middle = decode_frames(keyframe_video, fps=FPS, size=size, start=0.25, duration=0.5)[1:2]
    np.testing.assert_allclose(none.values, tiny_clip.encode_images(middle)[0].numpy(), atol=1e-5)


def test_clip_extract_clip_uses_the_manifest_window(tiny_clip, keyframe_video):
    clip = Clip("c__0001000", keyframe_video.name, "a.wav", 1.0, 2.0, "c", root=str(keyframe_video.parent))
    assert tiny_clip.extract_clip(clip).n_images == 2


def test_t5_over_a_caption(tmp_path):
    enc = T5SemanticsEncoder(T5SemanticsConfig(size="tiny", max_tokens=40))
    cache = Cache(tmp_path / "cache")
    caption = "A red stick figure dances quickly."
    feats = enc.extract(caption, cache=cache)
    n = len(caption.encode()) + 1  # bytes + </s>
    assert feats.values.shape == (40, 32)
    assert feats.mask.sum() == n and feats.mask[:n].all()
    assert np.abs(feats.values[n:]).max() == 0 and np.abs(feats.values[:n]).max() > 0
    other = enc.extract("A blue stick figure dances slowly.", cache=cache)
    assert np.abs(other.values - feats.values).max() > 1e-4
    enc.extract(caption, cache=cache)
    assert (cache.hits, cache.misses) == (1, 2)
    with pytest.raises(DatasetError, match="no caption"):
        enc.extract(None, clip_id="c1")


def test_missing_pretrained_semantics_weights_name_the_path(tmp_path):
    missing = str(tmp_path / "clip-vit-base-patch32")
    with pytest.raises(WeightsNotFoundError, match="clip-vit-base-patch32"):
        CLIPSemanticsEncoder(CLIPSemanticsConfig(weights="pretrained", model=missing))
    with pytest.raises(WeightsNotFoundError, match="t5-base-local"):
        T5SemanticsEncoder(T5SemanticsConfig(weights="pretrained", model=str(tmp_path / "t5-base-local")))
    with pytest.raises(ConfigError, match="tiny"):
        CLIPSemanticsConfig(size="tiny", weights="pretrained")


def test_build_semantics_encoder_by_name():
    assert isinstance(build_semantics_encoder("t5", size="tiny"), T5SemanticsEncoder)
    with pytest.raises(ConfigError, match="semantics encoder"):
        build_semantics_encoder("blip", size="tiny")


def test_hub_id_that_cannot_be_loaded_names_the_id_and_where_to_get_it():
    from core.weights import load_pretrained

    calls = []

    def offline_loader(name, **kwargs):
        calls.append(kwargs)
        raise OSError("We couldn't connect to 'https://huggingface.co'")

    with pytest.raises(WeightsNotFoundError, match=r"'openai/clip-vit-base-patch32'.*huggingface\.co/openai"):
        load_pretrained(offline_loader, "openai/clip-vit-base-patch32", "CLIP semantics encoder")
    assert calls[0] == {"local_files_only": True}  # the local HF cache is tried before the network
