"""Paired KL divergence on Cnn14 logits, as audioldm_eval 0.0.3 computes it (numpy only).

Reference: ``audioldm_eval/metrics/kl.py`` lines 49–104 (``calculate_kl``). With generated
logits g (N×C, "input1", the prediction) and reference logits r (N×C, "input2", the pseudo
target), paired row by row, and EPS = 1e-6:

* softmax variant (lines 95–99, "AudioGen use this formulation"):
  ``kl_div(log(softmax(g) + EPS), softmax(r), reduction="sum") / N``
* sigmoid variant (lines 102–104): the same on element-wise sigmoids — each class treated as a
  one-sided term p·log(p/q), with no (1−p)·log((1−p)/(1−q)) term.

``torch.nn.functional.kl_div(input, target)`` is ``xlogy(target, target) − target·input``
element-wise, so per clip i the term is Σ_c p_ic·(log p_ic − log(q_ic + EPS)) with p from the
reference and q from the generated clip: KL(ref_i ‖ gen_i) with the EPS inside the log. The
reported value is the mean over clips of these per-clip sums (``kl_per_clip``). The reference's
own per-clip tensor ``kl_ref`` (lines 87–92) is the same sum further divided by N·C; we return
the unscaled per-clip KL, whose mean is the reported number.

Precision: the reference runs in float32 (Cnn14 outputs, torch); we compute in float64 by
default, which agrees with it to ~1e-6 relative on realistic logits (tested ≤ 1e-4).
``dtype=np.float32`` computes in float32 instead.

Float32 finding (KL-sigmoid): on real music at 16 and 32 kHz our KL-softmax matches the
reference within 2e-5, but KL-sigmoid can differ by up to ~3e-3 when the embeddings are nearly
identical across clips. The reference evaluates ``kl_div(..., reduction="sum")`` over all N×527
sigmoid terms at once in float32: p·log p − p·log(q + 1e-6) per class nearly cancels (the set's
value is a small difference of large sums), so float32 rounding of ~527·N terms dominates. Its own
formula in float64 gives our value. ``kl_divergence_like_reference`` reproduces the reference's
float32 number on request (tests/metrics/test_kl.py), for a table that must match a published one.

Pairing: the reference pairs by file basename, skips reference files missing from the generated
set, and returns -1 for both variants unless > 99 % of names match (eval.py lines 96–123). Ours
pairs by clip id and raises PairingError on any mismatch (``pair_by_clip_id``).
"""

from __future__ import annotations

from typing import Literal, Mapping

import numpy as np
from scipy.special import expit, softmax, xlogy

from metrics.errors import MetricError, PairingError
from metrics.frechet import check_finite

EPS = 1e-6  # kl.py line 50: added to the generated probabilities inside the log

Variant = Literal["softmax", "sigmoid"]


def pair_by_clip_id(generated: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray]
                    ) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Stack per-clip vectors of both sets in one order (sorted clip ids); ids must match exactly."""
    missing, extra = sorted(set(reference) - set(generated)), sorted(set(generated) - set(reference))
    if missing or extra:
        raise PairingError(
            f"generated and reference sets must hold the same clip ids: {len(missing)} reference "
            f"clip(s) have no generated clip (e.g. {missing[:3]}), {len(extra)} generated clip(s) "
            f"have no reference (e.g. {extra[:3]}); regenerate the missing clips or drop the extras")
    ids = sorted(reference)
    if not ids:
        raise MetricError("no clips to compare")
    return ids, np.stack([np.asarray(generated[k]) for k in ids]), np.stack([np.asarray(reference[k]) for k in ids])


def _probabilities(logits: np.ndarray, variant: Variant) -> np.ndarray:
    """Softmax over classes (max-shifted, as torch does), or element-wise sigmoid."""
    if variant == "softmax":
        return softmax(logits, axis=1)
    if variant == "sigmoid":
        return expit(logits)
    raise MetricError(f"unknown KL variant {variant!r}; use 'softmax' or 'sigmoid'")


DIRECTIONS = ("reference_to_generated", "generated_to_reference")


def kl_per_clip(generated_logits, reference_logits, variant: Variant = "softmax",
                dtype=np.float64, direction: str = "reference_to_generated") -> np.ndarray:
    """Per-clip KL(ref_i ‖ gen_i) = Σ_c p_ic (log p_ic − log(q_ic + 1e-6)), rows paired by index
    (audioldm_eval's and audiocraft's); ``direction="generated_to_reference"`` swaps the roles,
    KL(gen_i ‖ ref_i) with the 1e-6 on the reference (stable-audio-metrics' passt_kld)."""
    if direction not in DIRECTIONS:
        raise MetricError(f"KL direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
    if direction == "generated_to_reference":
        generated_logits, reference_logits = reference_logits, generated_logits
    g = np.asarray(generated_logits, dtype=dtype)
    r = np.asarray(reference_logits, dtype=dtype)
    if g.ndim != 2 or g.shape != r.shape:
        raise MetricError(f"logits must be two N×C arrays of one shape; got generated {g.shape}, "
                          f"reference {r.shape}")
    if g.shape[0] == 0:
        raise MetricError("no clips to compare")
    check_finite(g, "generated logits")
    check_finite(r, "reference logits")
    q = _probabilities(g, variant)
    p = _probabilities(r, variant)
    log_q = np.log(q + np.asarray(EPS, dtype=g.dtype))
    # xlogy(p, p) is 0 where p == 0, as in torch's kl_div
    return (xlogy(p, p) - p * log_q).sum(axis=1)


def kl_divergence_like_reference(generated_logits, reference_logits, variant: Variant = "softmax") -> float:
    """The reference's own float32 computation (audioldm_eval/metrics/kl.py lines 95–104, torch):
    ``kl_div((q + 1e-6).log(), p, reduction="sum") / N`` on float32 logits, one sum over all N×C
    terms. Use only to reproduce a number computed by audioldm_eval; ``kl_divergence`` is the
    accurate value (see the module docstring)."""
    import torch

    g = torch.as_tensor(np.asarray(generated_logits, dtype=np.float32))
    r = torch.as_tensor(np.asarray(reference_logits, dtype=np.float32))
    if g.ndim != 2 or g.shape != r.shape or g.shape[0] == 0:
        raise MetricError(f"logits must be two non-empty N×C arrays of one shape; got {tuple(g.shape)}, {tuple(r.shape)}")
    if variant == "softmax":
        q, p = g.softmax(dim=1), r.softmax(dim=1)
    elif variant == "sigmoid":
        q, p = g.sigmoid(), r.sigmoid()
    else:
        raise MetricError(f"unknown KL variant {variant!r}; use 'softmax' or 'sigmoid'")
    return float(torch.nn.functional.kl_div((q + EPS).log(), p, reduction="sum") / len(g))


def kl_divergence(generated_logits, reference_logits, variant: Variant = "softmax",
                  dtype=np.float64) -> float:
    """The reference's ``kullback_leibler_divergence_{variant}``: the mean of ``kl_per_clip``."""
    return float(np.mean(kl_per_clip(generated_logits, reference_logits, variant, dtype)))
