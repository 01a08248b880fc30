import numpy as np
import pytest

from metrics.errors import NonFiniteInputError, TooFewClipsError
from metrics.inception import inception_score


def test_confident_and_balanced_predictions_give_the_number_of_classes():
    # 20 clips, each confidently one of 5 classes; 2 unshuffled splits of 10 hold every class
    # twice (classes cycle) → p one-hot, q uniform over 5 → IS = exp(log 5) = 5
    logits = 60.0 * np.eye(5)[np.arange(20) % 5]
    score = inception_score(logits, splits=2, shuffle=False)
    assert score.mean == pytest.approx(5.0, rel=1e-9)
    assert score.std == pytest.approx(0.0, abs=1e-9)
    assert score.split_scores == pytest.approx((5.0, 5.0), rel=1e-9)
    # the reference's shuffle breaks the balance per split, so the score drops below 5
    assert 1.0 < inception_score(logits, splits=2).mean < 5.0


def test_one_clip_per_split_or_uniform_predictions_give_one():
    rng = np.random.default_rng(0)
    assert inception_score(rng.standard_normal((10, 7))).mean == pytest.approx(1.0, rel=1e-12)
    assert inception_score(np.zeros((30, 5))).mean == pytest.approx(1.0, rel=1e-12)


def test_two_clip_split_by_hand():
    # p1 = (1, 0), p2 = (0.5, 0.5), q = (0.75, 0.25): IS = exp((log(1/.75) + .5 log(.5/.75) + .5 log(.5/.25)) / 2)
    logits = np.array([[100.0, -100.0], [0.0, 0.0]])
    kl1 = np.log(1 / 0.75)
    kl2 = 0.5 * np.log(0.5 / 0.75) + 0.5 * np.log(0.5 / 0.25)
    assert inception_score(logits, splits=1, shuffle=False).mean == pytest.approx(np.exp((kl1 + kl2) / 2), rel=1e-12)


def test_matches_the_reference_procedure_with_its_shuffle_and_splits():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((37, 527)).astype(np.float32) * 2
    # audioldm_eval 0.0.3 isc.py: RandomState(2020) permutation, float64, 10 splits of k·N//10
    t = torch.from_numpy(x)[np.random.RandomState(2020).permutation(37)].double()
    p, log_p = t.softmax(dim=1), t.log_softmax(dim=1)
    scores = []
    for k in range(10):
        s = slice(k * 37 // 10, (k + 1) * 37 // 10)
        q = p[s].mean(dim=0, keepdim=True)
        scores.append((p[s] * (log_p[s] - q.log())).sum(dim=1).mean().exp().item())
    ours = inception_score(x)
    assert ours.mean == pytest.approx(np.mean(scores), rel=1e-12)
    assert ours.std == pytest.approx(np.std(scores), rel=1e-9)


def test_fewer_clips_than_splits_raise_instead_of_nan():
    with pytest.raises(TooFewClipsError, match=r"splits=10 needs at least 10 clips, got 9.*NaN"):
        inception_score(np.zeros((9, 5)))
    with pytest.raises(NonFiniteInputError):
        inception_score(np.full((12, 3), np.inf))
