"""FAD∞, per-clip FAD and KID against the peer tools' own code on the same embeddings: fadtk
1.1.0's ``FrechetAudioDistance.score`` / ``score_inf`` / ``score_individual`` (its wheel from PyPI,
scripts/reference_fadtk.py) and audioldm_eval 0.0.3's ``calculate_kid`` (identical on main)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from metrics.small_sample import KIDResampler, fad_inf, fadtk_stats, kid, per_clip_fad, polynomial_mmd, pooled_stats
from tests.metrics.conftest import load_script

ref_tools = load_script("reference_fadtk")


def _clips(rng, n_clips, frames, d, shift=0.0):
    mix = rng.standard_normal((d, d)) / np.sqrt(d)
    return [((rng.standard_normal((frames, d)) + shift) @ mix).astype(np.float16) for _ in range(n_clips)]


@pytest.fixture(scope="module")
def sets():
    rng = np.random.RandomState(5)
    # fadtk stores float16 embeddings (ModelLoader.get_embedding)
    return {"ref": _clips(rng, 12, 40, 32), "gen": _clips(rng, 10, 40, 32, shift=0.3)}


def _fadtk(tmp_path, sets):
    fad_mod = ref_tools.load_fadtk()
    ref_paths = ref_tools.write_fadtk_layout(tmp_path / "ref", "m", {f"r{i}": x for i, x in enumerate(sets["ref"])})
    gen_paths = ref_tools.write_fadtk_layout(tmp_path / "gen", "m", {f"g{i}": x for i, x in enumerate(sets["gen"])})
    return fad_mod, fad_mod.FrechetAudioDistance(ref_tools.EmbeddingsOnly("m"), load_model=False), ref_paths, gen_paths


def test_fad_fad_inf_and_per_clip_match_fadtk(tmp_path, sets):
    fad_mod, fad, _, gen_paths = _fadtk(tmp_path, sets)
    stats = fadtk_stats(sets["ref"])
    theirs = fad.score(str(tmp_path / "ref"), str(tmp_path / "gen"))
    from metrics.frechet import frechet_distance_exact

    ours = frechet_distance_exact(*fadtk_stats(sets["gen"]), *stats)
    assert ours == pytest.approx(float(np.real(theirs)), rel=1e-8)
    # exactly pooled statistics differ only by fadtk's float16 per-file means
    assert frechet_distance_exact(*pooled_stats(sets["gen"]), *pooled_stats(sets["ref"])) == pytest.approx(ours, rel=1e-4)

    np.random.seed(3)
    theirs_inf = fad.score_inf(str(tmp_path / "ref"), [p.with_suffix(".npy").parent / "embeddings" / "m" / p.with_suffix(".npy").name
                                                       for p in gen_paths], steps=8, min_n=100)
    ours_inf = fad_inf(sets["gen"], stats, steps=8, min_n=100, seed=3)
    assert [n for n, _ in ours_inf.points] == [n for n, _ in theirs_inf.points]
    np.testing.assert_allclose([v for _, v in ours_inf.points], np.real([v for _, v in theirs_inf.points]), rtol=1e-6)
    assert ours_inf.score == pytest.approx(float(np.real(theirs_inf.score)), rel=1e-6)
    assert ours_inf.slope == pytest.approx(float(np.real(theirs_inf.slope)), rel=1e-6)
    assert ours_inf.r2 == pytest.approx(float(np.real(theirs_inf.r2)), rel=1e-6)
    assert ours_inf.score < ours_inf.points[0][1]  # extrapolating to n → ∞ removes the 1/n bias

    csv = fad.score_individual(str(tmp_path / "ref"), tmp_path / "gen", tmp_path / "individual.csv")
    theirs_ind = {}
    for line in csv.read_text().splitlines():
        path, value = line.rsplit(",", 1)
        theirs_ind[path.rsplit("/", 1)[-1].split(".")[0]] = float(np.real(complex(value.strip("()"))))
    ours_ind = per_clip_fad(sets["gen"], stats)
    np.testing.assert_allclose(ours_ind, [theirs_ind[f"g{i}"] for i in range(len(sets["gen"]))], rtol=1e-6)


def test_per_clip_fad_nan_for_one_frame(sets):
    stats = pooled_stats(sets["ref"])
    out = per_clip_fad([sets["gen"][0], sets["gen"][1][:1]], stats)
    assert np.isfinite(out[0]) and np.isnan(out[1])


@pytest.mark.parametrize("n_gen,n_ref,subset_size", [(30, 25, 1000), (40, 50, 20)])
def test_kid_matches_audioldm_eval(n_gen, n_ref, subset_size):
    kid_mod = ref_tools.audioldm_eval_kid()
    rng = np.random.RandomState(1)
    gen = rng.standard_normal((n_gen, 64)).astype(np.float32) + 0.2
    ref = rng.standard_normal((n_ref, 64)).astype(np.float32)
    theirs = kid_mod.calculate_kid({"2048": torch.from_numpy(gen)}, {"2048": torch.from_numpy(ref)}, subsets=20,
                                   subset_size=subset_size, degree=3, gamma=None, coef0=1, rng_seed=2020,
                                   feat_layer_name="2048")
    ours = kid(gen, ref, subsets=20, subset_size=subset_size)
    assert ours.mean == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-5)
    assert ours.std == pytest.approx(theirs["kernel_inception_distance_std"], rel=1e-4, abs=1e-9)
    ours64 = kid(gen.astype(np.float64), ref.astype(np.float64), subsets=20, subset_size=subset_size)
    assert ours64.mean == pytest.approx(theirs["kernel_inception_distance_mean"], rel=1e-4)


def test_kid_resampler_is_the_u_statistic_of_the_resampled_sets():
    rng = np.random.RandomState(2)
    gen, ref = rng.standard_normal((15, 8)), rng.standard_normal((15, 8)) + 0.5
    res = KIDResampler(gen, ref)
    idx = rng.randint(0, 15, size=(4, 15))
    counts = np.stack([np.bincount(r, minlength=15) for r in idx])
    got = res.weighted(counts, counts)
    want = [polynomial_mmd(gen[r], ref[r]) for r in idx]
    np.testing.assert_allclose(got, want, rtol=1e-10)
    # with subset_size ≥ n every KID subset is the whole set: KID = the full-set U-statistic
    full = res.weighted(np.ones(15), np.ones(15))[0]
    assert kid(gen, ref, subsets=5).mean == pytest.approx(full, rel=1e-10)
    # groups: 5 clips of 3 rows each (as MERT's layer rows); a resampled clip brings its 3 rows
    owner = np.repeat(np.arange(5), 3)
    grouped = KIDResampler(gen, ref, groups=(owner, owner))
    clip_idx = rng.randint(0, 5, size=(4, 5))
    clip_counts = np.stack([np.bincount(r, minlength=5) for r in clip_idx])
    rows = [np.concatenate([np.flatnonzero(owner == c) for c in r]) for r in clip_idx]
    want = [polynomial_mmd(gen[r], ref[r]) for r in rows]
    np.testing.assert_allclose(grouped.weighted(clip_counts, clip_counts), want, rtol=1e-10)
