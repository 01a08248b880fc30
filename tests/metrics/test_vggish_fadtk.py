"""fadtk 1.1.0's VGGish (embedder ``vggish_fadtk``, preset ``fadtk-vggish``) against fadtk's own code:
its ``FrechetAudioDistance(VGGishModel())`` built by its own ``load_model``, its ``cache_embedding_file``
(``load_audio`` → ``load_wav`` → ``get_embedding``) and its ``score`` / ``score_inf`` /
``score_individual`` on the ``.npy`` files it wrote, on its own 23 test samples (scripts/reference_fadtk.py).

Stood in for (metrics/perf_fadtk.py): ``torch.hub.load("harritaylor/torchvggish", "vggish")``, offline
here, by the hub code's ``VGGish`` class over PyPI torchvggish 0.2's ``VGG`` and ``vggish_input``
holding our weights file (checked once against the real hub code of commit f3f9096: bitwise equal
on all 23 samples); ``torchaudio`` (not installable beside this torch) by soundfile + our Kaiser
resampler, which tests/metrics/test_encodec.py checks against torchaudio's golden outputs. Both
sides load one file of seeded random weights in the official format (random weights: the numbers
check the computation, not the pretrained network)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from metrics import perf_fadtk
from metrics.embedders.vggish import VGGISH_FILE, FadtkVGGishEmbedder, load_like_fadtk_vggish, save_random_weights
from metrics.frechet import frechet_distance_exact
from metrics.small_sample import fad_inf, fadtk_stats, per_clip_fad, pooled_stats

SEED = perf_fadtk.SEED
STEPS, MIN_N = 8, 50  # 10 rows per 10-s file: 120 evaluated rows


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    return save_random_weights(tmp_path_factory.mktemp("vggish") / VGGISH_FILE, seed=SEED)


@pytest.fixture(scope="module")
def run(tmp_path_factory, weights):
    """fadtk's numbers and ours on fadtk's samples (11 MusicGen as reference, 12 MusicLM/Mubert)."""
    ref_files, eval_files = perf_fadtk.sample_sets()
    work = tmp_path_factory.mktemp("fadtk")
    theirs = perf_fadtk.fadtk_vggish_reference(weights, ref_files, eval_files, work, STEPS, MIN_N, SEED)
    emb = FadtkVGGishEmbedder(weights="pretrained", checkpoint=str(weights))
    ours_ref = [o["frames"] for o in emb.embed_files(ref_files)]
    ours_eval = [o["frames"] for o in emb.embed_files(eval_files)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rank-deficient covariances: 110 and 120 rows in 128 dims
        metric = perf_fadtk.ours_vggish_scores(ours_eval, ours_ref, STEPS, MIN_N, SEED)
    waves = [load_like_fadtk_vggish(p) for p in ref_files + eval_files]
    return {"ref": ref_files, "eval": eval_files, "theirs": theirs, "ours_ref": ours_ref, "ours_eval": ours_eval,
            "metric": metric, "waves": waves, "rows32": perf_fadtk.float32_rows(emb, waves)}


def _rel(ours: float, theirs: float) -> float:
    return abs(ours - theirs) / abs(theirs)


def test_waveforms_and_embeddings_match_fadtk(run):
    files, theirs = run["ref"] + run["eval"], run["theirs"]
    assert len(files) == 23
    for p, wave in zip(files, run["waves"]):  # fadtk's load_audio + load_wav: float64 int16/32768
        assert wave.dtype == theirs["waves"][p.stem].dtype == np.float64
        np.testing.assert_array_equal(wave, theirs["waves"][p.stem])
    worst = 0.0
    for p, rows in zip(files, run["rows32"]):  # float32, before fadtk's float16 cast
        want = theirs["rows32"][p.stem]
        assert rows.shape == want.shape == (10, 128)
        scale = np.max(np.abs(want))
        np.testing.assert_allclose(rows, want, rtol=1e-5, atol=1e-5 * scale)
        worst = max(worst, float(np.max(np.abs(rows - want)) / scale))
    assert worst < 1e-5  # measured 1.9e-6: channels-last convolutions and 8-file batches (float reordering)
    # the stored float16 rows are those float32 rows cast as fadtk casts them: apart by the float32
    # difference plus at most one float16 step where the two round to neighbours
    ours16 = np.concatenate(run["ours_ref"] + run["ours_eval"])
    theirs16 = np.concatenate([theirs["rows16"][p.stem] for p in files])
    assert ours16.dtype == theirs16.dtype == np.float16
    np.testing.assert_array_equal(ours16, np.concatenate(run["rows32"]).astype(np.float16))
    step = np.spacing(np.maximum(np.abs(ours16), np.abs(theirs16))).astype(np.float32)
    scale = np.max(np.abs(theirs16.astype(np.float32)))
    assert np.all(np.abs(ours16.astype(np.float32) - theirs16.astype(np.float32)) <= step + 1e-5 * scale)
    assert np.mean(ours16 != theirs16) < 0.03  # measured 318 of 29440 values (1.1 %)


def test_fad_fad_inf_and_per_song_fad_match_fadtk(run):
    theirs, ours_eval, ours_ref = run["theirs"], run["ours_eval"], run["ours_ref"]
    # our rows through fadtk's statistics recipe (float16 per-file means, merged online): the embedder's parity
    stats = fadtk_stats(ours_ref)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fad = frechet_distance_exact(*fadtk_stats(ours_eval), *stats)
        inf = fad_inf(ours_eval, stats, steps=STEPS, min_n=MIN_N, seed=SEED)
    # measured: FAD 1.1e-5, FAD∞ 2.6e-5, per-song FAD up to 8.4e-5 (10 rows each) — the float16 rows'
    # one-step differences, amplified most where a clip has few rows
    assert _rel(fad, theirs["scores"]["fad"]) < 1e-4
    assert _rel(inf.score, theirs["scores"]["fad_inf"]) < 1e-4
    assert [n for n, _ in inf.points] == [n for n, _ in theirs["fad_inf_points"]]
    clip = per_clip_fad(ours_eval, stats)
    want = np.array([theirs["fad_clip"][p.stem] for p in run["eval"]])
    np.testing.assert_allclose(clip, want, rtol=2e-4)
    # what the preset's metrics compute (stats: fadtk, fadtk's recipe): the same numbers as above
    assert _rel(run["metric"]["fad"], fad) < 1e-9
    assert _rel(run["metric"]["fad"], theirs["scores"]["fad"]) < 1e-4
    assert _rel(run["metric"]["fad_inf"], theirs["scores"]["fad_inf"]) < 1e-4
    np.testing.assert_allclose(run["metric"]["fad_clip"], want, rtol=2e-4)
    # pooled float64 statistics (stats: pooled, the other presets' recipe) of the same rows move FAD by
    # 1.6e-4 here: fadtk rounds each file's mean to float16 (the same gap on fadtk's own rows)
    theirs_rows = {k: [theirs["rows16"][p.stem] for p in run[k]] for k in ("ref", "eval")}
    pooled_theirs = frechet_distance_exact(*pooled_stats(theirs_rows["eval"]), *pooled_stats(theirs_rows["ref"]))
    assert 5e-5 < _rel(pooled_theirs, theirs["scores"]["fad"]) < 5e-4


def test_short_stereo_files_padded_to_one_second_as_fadtk(tmp_path, weights):
    """fadtk's min_len=1: a 0.6 s file is zero-padded to 1 s (one row); channels averaged at 44.1 kHz."""
    import soundfile as sf

    rng = np.random.RandomState(2)
    files = []
    for name, seconds in (("short", 0.6), ("long", 2.3)):
        n = int(seconds * 44100)
        t = np.arange(n) / 44100
        x = np.stack([0.3 * np.sin(2 * np.pi * 330 * t), 0.1 * rng.standard_normal(n)], axis=1)
        files.append(tmp_path / f"{name}.wav")
        sf.write(files[-1], x.astype(np.float32), 44100, subtype="PCM_16")
    emb = FadtkVGGishEmbedder(weights="pretrained", checkpoint=str(weights))
    with pytest.warns(UserWarning, match="zero-padded"):
        ours = emb.embed_files(files)
        ours_waves = [load_like_fadtk_vggish(f) for f in files]
    assert ours_waves[0].shape == (16000,) and not ours_waves[0][9600:].any()
    with perf_fadtk.fadtk_vggish(weights) as fad:
        for f, wave, out in zip(files, ours_waves, ours):
            np.testing.assert_array_equal(wave, fad.load_audio(f))
            theirs = fad.ml.get_embedding(wave)
            assert out["frames"].shape == theirs.shape == ((1, 128) if f.stem == "short" else (2, 128))
            np.testing.assert_allclose(out["frames"].astype(np.float32), theirs.astype(np.float32),
                                       rtol=2e-3, atol=2e-3 * np.max(np.abs(theirs)))


def test_identity_cache_and_batches(tmp_path, weights):
    """Its cache entries never collide with audioldm_eval's vggish; a warm run builds no network;
    batched files give the per-file rows."""
    import soundfile as sf

    from core.cache import Cache
    from metrics.embedders import make_embedder

    ours = make_embedder("vggish_fadtk", weights="pretrained", checkpoint=str(weights))
    audioldm = make_embedder("vggish", weights="pretrained", checkpoint=str(weights))
    assert isinstance(ours, FadtkVGGishEmbedder)
    assert ours.cache_name() != audioldm.cache_name() and ours.config() != audioldm.config()
    assert ours.config()["weights"] == audioldm.config()["weights"]  # the same official file
    rng = np.random.RandomState(0)
    files = []
    for i, seconds in enumerate((3.0, 3.0, 1.7)):
        files.append(tmp_path / f"f{i}.wav")
        sf.write(files[-1], (0.2 * rng.standard_normal(int(seconds * 22050))).astype(np.float32), 22050,
                 subtype="PCM_16")
    cache = Cache(tmp_path / "cache")
    batched = ours.embed_files(files, cache=cache)
    for f, b in zip(files, batched):
        single = ours.embed_file(f)["frames"]
        assert b["frames"].dtype == np.float16 and b["frames"].shape == single.shape
        np.testing.assert_allclose(b["frames"].astype(np.float32), single.astype(np.float32), rtol=2e-3, atol=2e-3)
    warm = FadtkVGGishEmbedder(weights="pretrained", checkpoint=str(weights))
    warm.embed_files(files, cache=cache)
    assert warm._model is None and cache.hits == 3
