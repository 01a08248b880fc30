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
