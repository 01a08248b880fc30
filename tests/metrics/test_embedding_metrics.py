import numpy as np
import pytest

from metrics.embedding_metrics import frechet_score
from metrics.frechet import fd_from_embeddings


def test_frechet_score_full_value_is_the_reference_fd_and_resamples_move_whole_clips():
    rng = np.random.default_rng(0)
    gen = [rng.normal(size=(3, 4)) for _ in range(12)]  # 12 clips × 3 frames × 4 dims
    ref = [rng.normal(0.5, 1.0, size=(3, 4)) for _ in range(12)]
    score = frechet_score(gen, ref)
    full = score.statistic(np.arange(12)[None])[0]
    assert full == pytest.approx(fd_from_embeddings(np.concatenate(gen), np.concatenate(ref)), rel=1e-12)
    idx = rng.integers(0, 12, size=(3, 12))
    got = score.statistic(idx)
    for row, value in zip(idx, got):
        explicit = fd_from_embeddings(np.concatenate([gen[i] for i in row]), np.concatenate([ref[i] for i in row]))
        assert value == pytest.approx(explicit, rel=1e-6)


def test_one_row_per_clip_is_plain_fd():
    rng = np.random.default_rng(1)
    gen, ref = rng.normal(size=(20, 3)), rng.normal(size=(20, 3))
    score = frechet_score(list(gen), list(ref))
    assert score.statistic(np.arange(20)[None])[0] == pytest.approx(fd_from_embeddings(gen, ref))


def test_exact_point_estimate_is_the_sqrtm_value_also_with_fewer_clips_than_dims():
    """The default FD route (Gram form) gives the reference's sqrtm value; with n < d, where
    sqrtm of the singular product has rounding noise of its own, still to ≤ 1e-6."""
    import warnings

    rng = np.random.default_rng(2)
    for n, d in ((40, 8), (24, 64)):
        gen = list(rng.normal(size=(n, d)) * rng.uniform(0.5, 2, d))
        ref = list(rng.normal(0.3, 1.0, size=(n, d)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exact = frechet_score(gen, ref, method="exact").statistic(np.arange(n)[None])[0]
            sqrtm = frechet_score(gen, ref, method="sqrtm").statistic(np.arange(n)[None])[0]
        assert exact == pytest.approx(sqrtm, rel=1e-6 if n < d else 1e-10)


def test_fd_metrics_take_fd_method_and_record_it(tmp_path):
    from core.cache import Cache
    from core.errors import ConfigError
    from metrics.base import get_metric_class
    from metrics.frechet import DEFAULT_FD_METHOD

    assert DEFAULT_FD_METHOD == "exact"
    with pytest.raises(ConfigError, match="fd_method must be one of exact, sqrtm"):
        get_metric_class("fd")(weights="random", fd_method="svd")
    with pytest.raises(ConfigError, match="fd_method"):
        frechet_score([np.zeros(2), np.ones(2)], [np.zeros(2), np.ones(2)], method="svd")
    fad = get_metric_class("fad")(cache=Cache(tmp_path), weights="random", fd_method="sqrtm")
    assert fad.describe()["fd_method"] == "sqrtm"
    assert get_metric_class("fad")(cache=Cache(tmp_path), weights="random").describe()["fd_method"] == "exact"
