from math import log

import numpy as np
import pytest

from metrics.errors import MetricError, NonFiniteInputError, PairingError
from metrics.kl import kl_divergence, kl_per_clip, pair_by_clip_id

E = 1e-6


def test_softmax_variant_by_hand():
    # logits = log-probabilities, so softmax gives these rows back exactly
    gen = np.log([[0.5, 0.25, 0.25], [0.2, 0.3, 0.5]])
    ref = np.log([[0.25, 0.25, 0.5], [0.2, 0.3, 0.5]])
    # KL(ref ‖ gen) with the 1e-6 inside the log of the *generated* probabilities
    clip0 = 0.25 * log(0.25 / (0.5 + E)) + 0.25 * log(0.25 / (0.25 + E)) + 0.5 * log(0.5 / (0.25 + E))
    clip1 = 0.2 * log(0.2 / (0.2 + E)) + 0.3 * log(0.3 / (0.3 + E)) + 0.5 * log(0.5 / (0.5 + E))
    np.testing.assert_allclose(kl_per_clip(gen, ref), [clip0, clip1], rtol=1e-12, atol=1e-15)
    assert kl_divergence(gen, ref) == pytest.approx((clip0 + clip1) / 2, rel=1e-12)
    # the direction matters: swapping the sets gives KL(gen ‖ ref)
    swapped = 0.5 * log(0.5 / (0.25 + E)) + 0.25 * log(0.25 / (0.25 + E)) + 0.25 * log(0.25 / (0.5 + E))
    assert kl_per_clip(ref, gen)[0] == pytest.approx(swapped, rel=1e-12)


def test_sigmoid_variant_by_hand_has_no_one_minus_p_term():
    def logit(p):
        p = np.asarray(p)
        return np.log(p / (1 - p))

    gen = logit([[0.5, 0.8, 0.1], [0.6, 0.6, 0.6]])
    ref = logit([[0.9, 0.8, 0.3], [0.2, 0.7, 0.4]])
    clip0 = 0.9 * log(0.9 / (0.5 + E)) + 0.8 * log(0.8 / (0.8 + E)) + 0.3 * log(0.3 / (0.1 + E))
    clip1 = 0.2 * log(0.2 / (0.6 + E)) + 0.7 * log(0.7 / (0.6 + E)) + 0.4 * log(0.4 / (0.6 + E))
    np.testing.assert_allclose(kl_per_clip(gen, ref, "sigmoid"), [clip0, clip1], rtol=1e-12)
    assert kl_divergence(gen, ref, "sigmoid") == pytest.approx((clip0 + clip1) / 2, rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_torch_kl_div_in_float32_like_the_reference(dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    g = (rng.standard_normal((40, 527)) * 3 - 2).astype(np.float32)
    r = (g + rng.standard_normal((40, 527))).astype(np.float32)
    tg, tr = torch.from_numpy(g), torch.from_numpy(r)
    f = torch.nn.functional.kl_div
    soft = f((tg.softmax(dim=1) + E).log(), tr.softmax(dim=1), reduction="sum") / len(tg)
    sig = f((tg.sigmoid() + E).log(), tr.sigmoid(), reduction="sum") / len(tg)
    assert kl_divergence(g, r, "softmax", dtype=dtype) == pytest.approx(float(soft), rel=1e-4)
    assert kl_divergence(g, r, "sigmoid", dtype=dtype) == pytest.approx(float(sig), rel=1e-4)


def test_pairing_by_clip_id_and_errors():
    gen = {"b": np.zeros(3), "a": np.ones(3)}
    ids, g, r = pair_by_clip_id(gen, {"a": np.ones(3), "b": np.full(3, 2.0)})
    assert ids == ["a", "b"] and (g[0] == 1).all() and (r[1] == 2).all()
    with pytest.raises(PairingError, match=r"1 reference clip\(s\).*\['c'\]"):
        pair_by_clip_id(gen, {"a": 0, "b": 0, "c": 0})
    with pytest.raises(NonFiniteInputError, match="generated logits"):
        kl_per_clip(np.array([[0.0, np.nan]]), np.zeros((1, 2)))
    with pytest.raises(MetricError, match="one shape"):
        kl_per_clip(np.zeros((2, 3)), np.zeros((3, 3)))
    with pytest.raises(MetricError, match="variant"):
        kl_per_clip(np.zeros((2, 3)), np.zeros((2, 3)), "logsoftmax")


def test_kl_sigmoid_float32_finding_reproduced_on_request():
    """README "KL-sigmoid float32": with nearly identical embeddings across clips the reference's
    one float32 sum over N×527 nearly cancelling terms drifts from the exact value; its own
    calculate_kl (audioldm_eval 0.0.3 wheel) is reproduced bit for bit on request, and its formula
    in float64 gives our value."""
    import torch

    from metrics.kl import kl_divergence, kl_divergence_like_reference
    from tests.metrics.conftest import load_script

    kl_mod = load_script("reference_fadtk").audioldm_eval_module("kl")
    rng = np.random.RandomState(0)
    base = rng.normal(-4.0, 3.0, size=527)
    gen = (base + 1e-3 * rng.standard_normal((64, 527))).astype(np.float32)
    ref = (base + 1e-3 * rng.standard_normal((64, 527))).astype(np.float32)
    feats = lambda x: {"logits": torch.from_numpy(x), "file_path_": [f"/a/{i}.wav" for i in range(len(x))]}  # noqa: E731
    theirs = kl_mod.calculate_kl(feats(gen), feats(ref), "logits", same_name=True)[0]
    for variant in ("softmax", "sigmoid"):
        assert kl_divergence_like_reference(gen, ref, variant) == theirs[f"kullback_leibler_divergence_{variant}"]
    exact = kl_divergence(gen, ref, "sigmoid")
    g64, r64 = torch.from_numpy(gen).double(), torch.from_numpy(ref).double()
    their_formula_f64 = float(torch.nn.functional.kl_div((g64.sigmoid() + 1e-6).log(), r64.sigmoid(),
                                                         reduction="sum") / len(gen))
    assert exact == pytest.approx(their_formula_f64, rel=1e-9)
    # relative drift of the reference's float32 value: ~1e-3 for sigmoid, ~2e-5 for softmax (measured)
    drift_sigmoid = abs(theirs["kullback_leibler_divergence_sigmoid"] - exact) / abs(exact)
    softmax = kl_divergence(gen, ref)
    drift_softmax = abs(theirs["kullback_leibler_divergence_softmax"] - softmax) / abs(softmax)
    assert drift_sigmoid > 3e-4 and drift_softmax < 1e-4


def test_generated_to_reference_is_stable_audio_metrics_passt_kld():
    """stable-audio-metrics' passt_kld per pair: F.kl_div((ref_p + 1e-6).log(), eval_p, reduction="sum")
    on softmaxed mean logits, i.e. KL(generated ‖ reference + 1e-6) — its formula, written here in torch."""
    import torch

    from metrics.kl import kl_per_clip

    rng = np.random.default_rng(3)
    g, r = rng.normal(0, 2, (5, 527)), rng.normal(0, 2, (5, 527))
    ours = kl_per_clip(g, r, "softmax", direction="generated_to_reference")
    eval_p, ref_p = torch.tensor(g).softmax(1), torch.tensor(r).softmax(1)
    theirs = [float(torch.nn.functional.kl_div((ref_p[i] + 1e-6).log(), eval_p[i], reduction="sum")) for i in range(5)]
    assert np.allclose(ours, theirs, rtol=1e-9)
    assert not np.allclose(ours, kl_per_clip(g, r, "softmax"))  # the default is the other direction
    with pytest.raises(Exception, match="direction"):
        kl_per_clip(g, r, "softmax", direction="sideways")
