"""FD, FAD, KL and IS on pretrained audio embedders, as haoheliu/audioldm_eval computes them.

FD   Fréchet distance of PANNs Cnn14 "2048" embeddings (one per clip), float64, scipy sqrtm.
FAD  Fréchet distance of VGGish 128-d frame embeddings (0.96 s frames, pooled over clips).
KL   KL(reference ‖ generated) of Cnn14 AudioSet label distributions, softmax and sigmoid
     variants, per clip, averaged.
IS   Inception Score of the generated set's Cnn14 label distributions.

The point estimates keep the reference's numerics (metrics.frechet, metrics.kl,
metrics.inception); bootstrap resamples of FD/FAD use the exact Gram-form route
(metrics.frechet.FrechetResampler), resampling clips (for FAD: a clip's frames go together).
Embeddings are cached per file (content hash + embedder config incl. the weights file digest).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from bench.data.manifest import Clip
from metrics.base import Metric, Score, register_metric


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


def frechet_score(gen_rows: list[np.ndarray], ref_rows: list[np.ndarray]) -> Score:
    """FD between the pooled rows of two sets of clips (one row per clip for FD, a clip's frames
    for FAD), as a set-level statistic of resampled clip indices: a resampled clip brings all its
    rows. The value on all clips uses the reference's sqrtm numerics; resamples the exact route."""
    from metrics.frechet import FrechetResampler, fd_from_embeddings

    a = np.concatenate([np.atleast_2d(x) for x in gen_rows]).astype(np.float64)
    b = np.concatenate([np.atleast_2d(x) for x in ref_rows]).astype(np.float64)
    owner_a = np.repeat(np.arange(len(gen_rows)), [len(np.atleast_2d(x)) for x in gen_rows])
    owner_b = np.repeat(np.arange(len(ref_rows)), [len(np.atleast_2d(x)) for x in ref_rows])
    resampler = FrechetResampler(a, b)
    full = fd_from_embeddings(a, b)
    n = len(gen_rows)

    def statistic(idx):
        idx = np.asarray(idx)
        if idx.shape[0] == 1 and np.array_equal(idx[0], np.arange(n)):
            return np.array([full])
        counts = np.stack([np.bincount(row, minlength=n) for row in idx]).astype(np.float64)
        return resampler.weighted(counts[:, owner_a], counts[:, owner_b])

    return Score(statistic=statistic, min_clips=2)


@register_metric("fd")
class FD(_EmbeddingMetric):
    """Fréchet distance on PANNs Cnn14 (16 kHz) 2048-d embeddings (lower is better)."""

    embedder_name = "cnn14_16k"

    def scores(self, clips, generated, reference):
        gen, ref = _embed_both(self, clips, generated, reference)
        return {"fd": frechet_score([g["embedding"] for g in gen], [r["embedding"] for r in ref])}


@register_metric("fad")
class FAD(_EmbeddingMetric):
    """Fréchet Audio Distance on VGGish 128-d frame embeddings (lower is better)."""

    embedder_name = "vggish"

    def scores(self, clips, generated, reference):
        gen, ref = _embed_both(self, clips, generated, reference)
        return {"fad": frechet_score([g["frames"] for g in gen], [r["frames"] for r in ref])}


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

        return {"is": Score(statistic=statistic, higher_is_better=True, min_clips=10)}
