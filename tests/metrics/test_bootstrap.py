import warnings

import numpy as np
import pytest

from metrics.bootstrap import bootstrap_ci, paired_comparison, resample_indices, sign_flip_p_value
from metrics.errors import BootstrapWarning, MetricError, NonFiniteInputError, RankDeficientCovarianceWarning, TooFewClipsError
from metrics.frechet import FrechetResampler, fd_from_embeddings


@pytest.mark.parametrize("method", ["percentile", "bca"])
def test_ci_covers_the_true_mean_about_95_percent_of_the_time(method):
    rng = np.random.default_rng(123)
    reps, covered = 200, 0
    for rep in range(reps):
        x = rng.normal(loc=3.0, scale=2.0, size=40)
        ci = bootstrap_ci(x, n_resamples=400, seed=rep, method=method)
        covered += ci.ci_low <= 3.0 <= ci.ci_high
    assert 0.90 <= covered / reps <= 0.99


def test_same_seed_same_interval_and_estimate_is_the_full_sample_mean():
    x = np.random.default_rng(0).exponential(size=30)
    a, b = bootstrap_ci(x, seed=7), bootstrap_ci(x, seed=7)
    assert (a.ci_low, a.ci_high) == (b.ci_low, b.ci_high)
    np.testing.assert_array_equal(a.replicates, b.replicates)
    assert bootstrap_ci(x, seed=8).ci_low != a.ci_low
    assert a.estimate == pytest.approx(x.mean()) and a.ci_low < a.estimate < a.ci_high
    assert a.method == "percentile" and a.n_resamples == 1000 and a.std_error > 0


def test_statistic_of_indices_equals_the_per_clip_route():
    x = np.random.default_rng(1).standard_normal(25)
    by_values = bootstrap_ci(x, n_resamples=300, seed=3)
    vectorised = bootstrap_ci(lambda idx: x[idx].mean(axis=1), n=25, n_resamples=300, seed=3)
    one_by_one = bootstrap_ci(lambda idx: x[idx].mean(), n=25, n_resamples=300, seed=3, vectorized=False)
    np.testing.assert_allclose(vectorised.replicates, by_values.replicates, rtol=1e-14)
    np.testing.assert_allclose(one_by_one.replicates, by_values.replicates, rtol=1e-14)
    bca = bootstrap_ci(lambda idx: x[idx].mean(axis=1), n=25, n_resamples=300, seed=3, method="bca")
    assert bca.method == "bca" and bca.ci_low < bca.estimate < bca.ci_high


def test_fd_bootstrap_resamples_clip_ids_jointly_from_generated_and_reference():
    rng = np.random.default_rng(2)
    gen, ref = rng.standard_normal((30, 8)), rng.standard_normal((30, 8)) + 0.5
    rs = FrechetResampler(gen, ref)
    ci = bootstrap_ci(rs, n=30, n_resamples=50, seed=4)
    assert ci.method == "basic"  # the default for set-level statistics
    assert ci.estimate == pytest.approx(fd_from_embeddings(gen, ref), rel=1e-10)
    idx = resample_indices(30, 50, np.random.default_rng(4))
    for i in (0, 17, 49):
        assert ci.replicates[i] == pytest.approx(fd_from_embeddings(gen[idx[i]], ref[idx[i]]), rel=1e-9)


def test_fd_interval_is_clipped_at_zero_for_a_reordered_reference_set():
    """The `shuffled` control's case: the generated set is the reference set reordered, so the
    set FD is 0 while every resample (pairs broken) has FD > 0; the basic interval 2θ̂ − q would
    reach far below 0, an FD no set can have. With the floor both bounds stay ≥ 0."""
    rng = np.random.default_rng(5)
    ref = rng.standard_normal((20, 4))
    gen = ref[rng.permutation(20)]
    rs = FrechetResampler(gen, ref)
    raw = bootstrap_ci(rs, n=20, n_resamples=200, seed=1)
    floored = bootstrap_ci(rs, n=20, n_resamples=200, seed=1, floor=0.0)
    assert abs(raw.estimate) < 1e-9 and raw.ci_low < -0.1  # what the basic interval alone gives
    assert floored.ci_low == 0.0 and floored.ci_high == max(raw.ci_high, 0.0)
    assert floored.estimate == raw.estimate and np.array_equal(floored.replicates, raw.replicates)
    from metrics.embedding_metrics import frechet_score
    from metrics.evaluate import summarise

    score = frechet_score(list(gen[:, None]), list(ref[:, None]), method="exact")  # FD and FAD's score
    ci, n = summarise(score, 20, n_resamples=200, seed=1)
    assert score.floor == 0.0 and n == 20 and ci.ci_low == 0.0 and ci.ci_high >= ci.estimate


def test_paired_per_clip_comparison():
    rng = np.random.default_rng(5)
    a = rng.standard_normal(60)
    same = paired_comparison(a, a.copy(), n_resamples=2000)
    assert same.p_value == 1.0 and same.ci_low <= 0 <= same.ci_high and same.difference == 0
    b = a - 0.8 + 0.3 * rng.standard_normal(60)
    shifted = paired_comparison(a, b, n_resamples=2000, seed=1)
    assert shifted.p_value < 0.001 and shifted.ci_low > 0.5 and "sign-flip" in shifted.test
    noise = paired_comparison(a, a + 0.3 * rng.standard_normal(60), n_resamples=2000)
    assert noise.p_value > 0.05 and noise.ci_low < 0 < noise.ci_high
    assert paired_comparison(a, b, n_resamples=500, seed=9) == paired_comparison(a, b, n_resamples=500, seed=9)


def test_exact_sign_flip_for_few_clips():
    # all 8 sign patterns of (1, 2, 3): |mean| ≥ 2 only for +++ and −−− → p = 2/8
    p, test = sign_flip_p_value([1.0, 2.0, 3.0])
    assert p == pytest.approx(0.25) and "exact" in test


def test_paired_set_level_comparison_with_fd():
    rng = np.random.default_rng(6)
    n, d = 40, 6
    ref = rng.standard_normal((n, d))
    good = ref + 0.1 * rng.standard_normal((n, d))
    bad = rng.standard_normal((n, d)) * 1.5 + 1.0
    fd_good, fd_bad = FrechetResampler(good, ref), FrechetResampler(bad, ref)
    worse = paired_comparison(fd_bad, fd_good, n=n, n_resamples=500)
    assert worse.difference > 0 and worse.ci_low > 0 and worse.p_value < 0.01
    assert "joint" in worse.test and worse.ci_method == "basic"
    same = paired_comparison(fd_good, FrechetResampler(good.copy(), ref), n=n, n_resamples=500)
    assert same.p_value == 1.0 and same.ci_low <= 0 <= same.ci_high


def test_fd_bootstrap_with_fewer_clips_than_dims_warns_about_its_bias():
    rng = np.random.default_rng(7)
    gen, ref = np.abs(rng.standard_normal((32, 512))), np.abs(rng.standard_normal((32, 512)))
    with pytest.warns(RankDeficientCovarianceWarning):
        rs = FrechetResampler(gen, ref)
    assert rs.route == "gram"
    # duplicated clips in a resample lower the covariance rank → resampled FDs are biased upwards
    with pytest.warns(BootstrapWarning, match="outside its percentile interval"):
        ci = bootstrap_ci(rs, n=32, n_resamples=300, method="percentile")
    assert ci.bias > 0 and ci.estimate < ci.ci_low
    basic = bootstrap_ci(rs, n=32, n_resamples=300)
    assert basic.method == "basic" and basic.ci_low < basic.ci_high < basic.estimate


def test_errors_are_named_never_nan():
    with pytest.raises(NonFiniteInputError):
        bootstrap_ci([1.0, np.nan, 2.0])
    with pytest.raises(TooFewClipsError):
        bootstrap_ci([1.0])
    with pytest.raises(MetricError, match="needs n="):
        bootstrap_ci(lambda idx: idx.mean(1))
    with pytest.raises(MetricError, match="NaN or Inf"):
        bootstrap_ci(lambda idx: np.full(len(idx), np.nan), n=5)
    with pytest.raises(MetricError, match="pair them"):
        paired_comparison(np.ones(3), np.ones(4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        constant = bootstrap_ci(np.full(10, 2.0), method="bca")
    assert constant.ci_low == constant.ci_high == 2.0
