"""FD, FAD, KL and IS on pretrained audio embedders, as haoheliu/audioldm_eval computes them.

FD   Fréchet distance of PANNs Cnn14 "2048" embeddings (one per clip), float64, scipy sqrtm.
FAD  Fréchet distance of VGGish 128-d frame embeddings (0.96 s frames, pooled over clips).
KL   KL(reference ‖ generated) of Cnn14 AudioSet label distributions, softmax and sigmoid
     variants, per clip, averaged.
IS   Inception Score of the generated set's Cnn14 label distributions.

KL and IS keep the reference's numerics (metrics.kl, metrics.inception). The FD/FAD point
estimate takes ``fd_method``: ``"exact"`` (default) computes the same Fréchet distance as the
reference's ``scipy.linalg.sqrtm`` route through the Gram / eigen form (tr √(Σ₁Σ₂) = ‖A Bᵀ‖_*,
float64: milliseconds where one 2048² sqrtm takes 10–60 s, ~1e-8 relative from the reference);
``"sqrtm"`` runs the reference's code path. Bootstrap resamples always use the exact route
(metrics.frechet.FrechetResampler), resampling clips (for FAD: a clip's frames go together).
Embeddings are cached per file (content hash + embedder config incl. the weights file digest).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from bench.data.manifest import Clip
from bench.errors import ConfigError
from metrics.base import Metric, Score, register_metric
from metrics.frechet import DEFAULT_FD_METHOD


_EMBEDDERS: dict[tuple, object] = {}


class _EmbeddingMetric(Metric):
    embedder_name = ""

    def __init__(self, cache=None, seed: int = 0, weights: str = "pretrained", checkpoint: str | None = None,
                 device: str = "cpu", **embedder_options):
        super().__init__(cache, seed)
        from metrics.embedders import make_embedder

        # pretrained files default to <cache_dir>/weights/<official name>: never the CWD
        kwargs = dict(weights=weights, checkpoint=checkpoint, seed=seed, device=device,
                      cache_dir=getattr(cache, "root", None), **embedder_options)
        # FD, KL and IS share one Cnn14: build each distinct embedder once per process
        key = (self.embedder_name, tuple(sorted((k, str(v)) for k, v in kwargs.items())))
        if key not in _EMBEDDERS:
            _EMBEDDERS[key] = make_embedder(self.embedder_name, **kwargs)
        self.embedder = _EMBEDDERS[key]
        self.weights = weights

    def describe(self) -> dict:
        return {"embedder": self.embedder_name, **self.embedder.describe()}

    def _embed(self, paths: Mapping[str, Path], clips: Sequence[Clip]) -> list[dict]:
        return self.embedder.embed_files([paths[c.id] for c in clips], cache=self.cache)


def _embed_both(metric: _EmbeddingMetric, clips, generated, reference):
    """The embedder's outputs for the generated and the reference file of every clip."""
    gen = metric._embed(generated, clips)
    ref = metric._embed(reference, clips)
    return gen, ref


def frechet_score(gen_rows: list[np.ndarray], ref_rows: list[np.ndarray], method: str = "sqrtm") -> Score:
    """FD between the pooled rows of two sets of clips (one row per clip for FD, a clip's frames
    for FAD), as a set-level statistic of resampled clip indices: a resampled clip brings all its
    rows. The value on all clips takes `method` ("sqrtm": the reference's code path, "exact": the
    Gram / eigen route); resamples always the exact route."""
    from metrics.frechet import FD_METHODS, FrechetResampler, fd_from_embeddings

    if method not in FD_METHODS:
        raise ConfigError(f"fd_method must be one of {', '.join(FD_METHODS)}, got {method!r}")

    a = np.concatenate([np.atleast_2d(x) for x in gen_rows]).astype(np.float64)
    b = np.concatenate([np.atleast_2d(x) for x in ref_rows]).astype(np.float64)
    owner_a = np.repeat(np.arange(len(gen_rows)), [len(np.atleast_2d(x)) for x in gen_rows])
    owner_b = np.repeat(np.arange(len(ref_rows)), [len(np.atleast_2d(x)) for x in ref_rows])
    resampler = FrechetResampler(a, b, groups=(owner_a, owner_b), n_groups=(len(gen_rows), len(ref_rows)))
    full = resampler.full() if method == "exact" else fd_from_embeddings(a, b, method="sqrtm")
    n = len(gen_rows)

    def statistic(idx):
        idx = np.asarray(idx)
        if idx.shape[0] == 1 and np.array_equal(idx[0], np.arange(n)):
            return np.array([full])
        counts = np.stack([np.bincount(row, minlength=n) for row in idx]).astype(np.float64)
        return resampler.weighted(counts, counts)

    return Score(statistic=statistic, min_clips=2, floor=0.0)


class _FrechetMetric(_EmbeddingMetric):
    """An embedding metric whose value is a Fréchet distance; `fd_method` picks the point-estimate
    route (see the module docstring)."""

    def __init__(self, cache=None, seed: int = 0, fd_method: str = DEFAULT_FD_METHOD, **kwargs):
        from metrics.frechet import FD_METHODS

        if fd_method not in FD_METHODS:
            raise ConfigError(f"metric {self.name}: fd_method must be one of {', '.join(FD_METHODS)}, "
                              f"got {fd_method!r}")
        super().__init__(cache, seed, **kwargs)
        self.fd_method = fd_method

    def describe(self) -> dict:
        return {**super().describe(), "fd_method": self.fd_method}


@register_metric("fd")
class FD(_FrechetMetric):
    """Fréchet distance on PANNs Cnn14 (16 kHz) 2048-d embeddings (lower is better)."""

    embedder_name = "cnn14_16k"

    def scores(self, clips, generated, reference):
        gen, ref = _embed_both(self, clips, generated, reference)
        return {"fd": frechet_score([g["embedding"] for g in gen], [r["embedding"] for r in ref], self.fd_method)}


@register_metric("fad")
class FAD(_FrechetMetric):
    """Fréchet Audio Distance on VGGish 128-d frame embeddings (lower is better)."""

    embedder_name = "vggish"

    def scores(self, clips, generated, reference):
        gen, ref = _embed_both(self, clips, generated, reference)
        return {"fad": frechet_score([g["frames"] for g in gen], [r["frames"] for r in ref], self.fd_method)}


@register_metric("kl")
class KL(_EmbeddingMetric):
    """KL(reference ‖ generated) of Cnn14 AudioSet label distributions, softmax and sigmoid."""

    embedder_name = "cnn14_16k"

    def scores(self, clips, generated, reference):
        from metrics.kl import kl_per_clip

        gen, ref = _embed_both(self, clips, generated, reference)
        g = np.stack([x["logits"] for x in gen])
        r = np.stack([x["logits"] for x in ref])
        return {f"kl_{v}": Score(per_clip=kl_per_clip(g, r, v)) for v in ("softmax", "sigmoid")}


@register_metric("is")
class IS(_EmbeddingMetric):
    """Inception Score of the generated set on Cnn14 label distributions (higher is better)."""

    embedder_name = "cnn14_16k"

    def scores(self, clips, generated, reference):
        from metrics.inception import inception_score

        gen = self._embed(generated, clips)
        logits = np.stack([x["logits"] for x in gen])

        def statistic(idx):
            return np.array([inception_score(logits[row]).mean for row in np.asarray(idx)])

        return {"is": Score(statistic=statistic, higher_is_better=True, min_clips=10, floor=1.0)}
