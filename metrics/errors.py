"""Named errors and warnings of the metric computations (Fréchet distance, KL, IS, bootstrap).

The audioldm_eval reference answers bad input with a silent NaN, a -1 or an ``assert``; ours raise
one of these (or warn, where the value is defined but unreliable) with the cause and the fix.
"""

from __future__ import annotations

from core.errors import BenchError


class MetricError(BenchError):
    """A metric cannot be computed from what it was given (bad shapes, NaN/Inf, too few clips)."""


class NonFiniteInputError(MetricError):
    """Embeddings, logits or per-clip values contain NaN or Inf."""

    def __init__(self, what: str, n_bad: int, total: int, fix: str = ""):
        self.what, self.n_bad, self.total = what, n_bad, total
        msg = f"{what}: {n_bad} of {total} values are NaN or Inf"
        msg += f" ({fix})" if fix else " (check the embedder's input audio and its weights)"
        super().__init__(msg)


class TooFewClipsError(MetricError):
    """Fewer clips than the statistic needs (e.g. < 2 for a covariance, < splits for IS)."""


class PairingError(MetricError):
    """Generated and reference sets are not keyed by the same clip ids."""


class RankDeficientCovarianceWarning(UserWarning):
    """A covariance matrix is singular because there are fewer clips than embedding dimensions.

    The Fréchet distance between the two *sample* Gaussians is still defined, but
    ``scipy.linalg.sqrtm`` of a singular product is numerically noisy (the reference then adds
    ``eps`` to the diagonals or returns NaN), and the value is strongly biased by the clip count,
    so it is not comparable across sets of different sizes.
    """


class BootstrapWarning(UserWarning):
    """A bootstrap interval fell back to a simpler method (e.g. BCa → percentile)."""


class MetricFailed(MetricError):
    """A metric raised while scoring: the message names the metric, the system and the clip count."""
