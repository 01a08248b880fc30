"""Every registered system, built from its YAML (`bench/conf/system/<name>.yaml`) as a run builds
it, on the miniature dataset: one that can run offline generates, for two test clips, mono float32
numpy audio of exactly clip duration × its sample rate, finite, and the same again for the same
seeds; a baseline whose official code and environment are absent (a fresh cache) stops at build
with a NotReadyError naming it and the command that sets it up. Every registered name is in
exactly one of these lists, so a new system cannot go unchecked."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from systems.base import SYSTEMS, GenerationRequest

#: systems that run offline on the miniature dataset, name → whether generating takes over ~2.3 s
RUNS_OFFLINE = {"reference": False, "shuffled": False, "precomputed": False, "musicgen": True, "dyvim": True}
#: external baselines: their official code, environment and weights come from `bench systems setup
#: <name>` (a pinned clone + a virtualenv under the cache); a test's fresh cache has none of them
NEEDS_OFFICIAL_CODE = {
    "cmt": "wzk1015/video-bgm-generation checkout + env (bench systems setup cmt)",
    "video2music": "AMAAI-Lab/Video2Music checkout + env (bench systems setup video2music)",
    "diffbgm": "sizhelee/Diff-BGM checkout + env (bench systems setup diffbgm)",
    "m2ugen": "shansongliu/M2UGen checkout + env (bench systems setup m2ugen)",
    "vidmuse": "ZeyueT/VidMuse checkout + env (bench systems setup vidmuse)",
    "d2mgan": "L-YeZhu/D2M-GAN checkout + env (bench systems setup d2mgan)",
    "cdcd": "L-YeZhu/CDCD checkout + env (bench systems setup cdcd)",
}
#: tests/plugins' entry-point systems: test doubles of the harness (a sleeper; one that fails clips on purpose)
TEST_DOUBLES = {"slow_sine": "sleeps per clip (executor timing tests)", "flaky": "fails some clips by design"}


def _build(name: str, mini_dataset, overrides=()):
    """(system, its test clips) built from the system's YAML with `overrides`, as `bench run` builds it."""
    from bench.api import build_one_system, dataset_clips, load_config
    from bench.config import to_dict

    _, dataset_overrides = mini_dataset
    cfg = load_config("toy", [name], [*dataset_overrides, *overrides], [])
    clips = dataset_clips(cfg, auto_prepare=False)
    system, _ = build_one_system(to_dict(cfg), clips, name)
    return system, [c for c in clips if c.split == "test"][:2]


def _offline_overrides(name: str, mini_dataset, tmp_path) -> list[str]:
    """What `name` needs besides its YAML to run offline here."""
    if name == "precomputed":  # files made elsewhere, at another rate and length: the system normalises them
        folder = tmp_path / "outputs"
        folder.mkdir()
        _, clips = _build("reference", mini_dataset)
        rng = np.random.default_rng(0)
        for clip in clips:
            sf.write(folder / f"{clip.id}.wav", 0.1 * rng.standard_normal(int(1.3 * 44100 * clip.duration)), 44100)
        return [f"system.precomputed.folder={folder}"]
    if name == "musicgen":  # the miniature clips have no captions
        return ["system.musicgen.prompt=upbeat drums"]
    if name == "dyvim":  # the tiny random model as built, saved as the checkpoint (no training here)
        import torch

        system, _ = _build("dyvim", mini_dataset)
        path = tmp_path / "untrained.pt"
        torch.save({"model": system.model.trainable_state(),
                    "fingerprint": {"model": system.model.config.fingerprint()}}, path)
        return [f"system.dyvim.checkpoint={path}"]
    return []


def test_every_registered_system_is_checked_or_listed_with_its_reason():
    lists = [set(RUNS_OFFLINE), set(NEEDS_OFFICIAL_CODE), set(TEST_DOUBLES)]
    # the project's systems and test plug-ins (a user's plug-in elsewhere, e.g. another test's temporary YAML, is not)
    ours = {n for n in SYSTEMS.names() if (SYSTEMS.target(n) or "").startswith(("systems.", "bench_testplugins:"))}
    assert ours == set.union(*lists)
    assert sum(len(x) for x in lists) == len(set.union(*lists))  # each name in one list only
    assert set(SYSTEMS.builtin_names()) <= set(RUNS_OFFLINE) | set(NEEDS_OFFICIAL_CODE)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if slow else n
                                  for n, slow in RUNS_OFFLINE.items()])
def test_generation_is_exact_mono_float32_finite_and_seeded(name, mini_dataset, tmp_path):
    system, clips = _build(name, mini_dataset, _offline_overrides(name, mini_dataset, tmp_path))
    assert len(clips) == 2
    requests = [GenerationRequest(clip, 0, seed) for clip, seed in zip(clips, (7, 8))]
    first = {r.request.clip.id: r for r in system.generate(requests)}
    again = {r.request.clip.id: r for r in system.generate(requests)}
    assert set(first) == {c.id for c in clips}
    for clip in clips:
        result = first[clip.id]
        assert result.error is None, result.error
        audio = result.audio
        assert isinstance(audio, np.ndarray) and audio.dtype == np.float32 and audio.ndim == 1
        assert audio.shape == (int(round(clip.duration * system.sample_rate)),)
        assert np.isfinite(audio).all() and np.abs(audio).max() > 0
        assert np.array_equal(audio, again[clip.id].audio), f"{name}: not deterministic for seed {result.request.seed}"


@pytest.mark.parametrize("name", sorted(NEEDS_OFFICIAL_CODE))
def test_a_baseline_without_its_official_code_fails_by_name(name, mini_dataset):
    from systems.baselines.external import NotReadyError

    with pytest.raises(NotReadyError, match=rf"system {name} is not ready") as exc:
        _build(name, mini_dataset)
    assert f"bench systems setup {name}" in str(exc.value)
