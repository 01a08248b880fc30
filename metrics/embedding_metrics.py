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

from metrics.embedders import make_embedder
from metrics.inception import inception_score
from metrics.kl import kl_per_clip
from metrics.small_sample import (fad_inf, fadtk_stats, google_fad_distance, google_fad_stats, kid, KIDResampler,
                                  per_clip_fad, pooled_stats)
from core.manifest import Clip
from core.errors import ConfigError
from metrics.base import Metric, Score, register_metric
from metrics.frechet import DEFAULT_FD_METHOD, FrechetResampler


_EMBEDDERS: dict[tuple, object] = {}

#: the per-file output a Fréchet/kernel metric pools, by embedder (one row per clip, or a clip's frames)
ROWS = {"cnn14_16k": "embedding", "cnn14_32k": "embedding", "vggish": "frames", "vggish_fadtk": "frames",
        "vggish_audiocraft": "frames",
        "encodec_24k": "frames", "encodec_48k": "frames",
        "passt": "embedding", "passt_audiocraft": "embedding",
        "openl3_mel256_music_512": "frames", "openl3_mel256_music_1024_stereo": "frames",
        "clap_music": "frames", "clap_general": "frames", "mert_95m": "frames", "mert_330m": "frames",
        "clap_score_sam": "embedding", "clap_score_audiocraft": "embedding"}
#: the embedders that also embed text (the CLAP score's)
TEXT_AUDIO = ("clap_score_sam", "clap_score_audiocraft")
#: Cnn14 at the evaluation rates audioldm_eval offers (EvaluationHelper(sampling_rate=16000|32000))
CNN14_BY_RATE = {16000: "cnn14_16k", 32000: "cnn14_32k"}


def _cnn14_for(sample_rate, metric: str) -> str:
    try:
        return CNN14_BY_RATE[int(sample_rate)]
    except (KeyError, TypeError, ValueError):
        raise ConfigError(f"metric {metric}: sample_rate must be 16000 or 32000 (Cnn14's two front ends, "
                          f"as audioldm_eval), got {sample_rate!r}") from None


def embedder_of(config: Mapping) -> str:
    """The embedder a metric config (``bench/conf/metric/*.yaml`` keys) runs."""
    from metrics.base import get_metric_class

    cls = get_metric_class(config["name"])
    name = config.get("embedder") or cls.embedder_name
    if config.get("sample_rate") is not None and name.startswith("cnn14"):
        name = _cnn14_for(config["sample_rate"], config["name"])
    return name


def sample_rate_fields(configs: Mapping[str, Mapping]) -> dict[str, str]:
    """The field audioldm_eval's evaluation rate (``--sample-rate 16000|32000``) sets, by metric key:
    ``sample_rate`` for a Cnn14 metric (its front end), ``reference_rate`` for one on MERT with
    audioldm_eval main's preprocessing (EvaluationHelper(sampling_rate): the rate its WaveDataset
    reads files at before MERT). Metrics on embedders with a fixed rate are left out."""
    from metrics.base import get_metric_class

    out = {}
    for key, config in configs.items():
        if not getattr(get_metric_class(config["name"]), "embedder_name", ""):
            continue  # not an embedding metric
        if embedder_of(config).startswith("cnn14"):
            out[key] = "sample_rate"
        elif config.get("preprocess") == "audioldm_eval-main" and "reference_rate" in config:
            out[key] = "reference_rate"
    return out


def _check_embedder(name: str, metric: str) -> str:
    if name not in ROWS:
        raise ConfigError(f"metric {metric}: embedder must be one of {', '.join(ROWS)}, got {name!r}")
    return name


#: how a Fréchet metric's set statistics are formed (`stats`): all rows pooled in float64, as fadtk merges
#: them, or as Google's frechet_audio_distance accumulates and stores them (audiocraft's FAD)
STATS_FUNCTIONS = {"pooled": pooled_stats, "fadtk": fadtk_stats, "google": google_fad_stats}
STATS = tuple(STATS_FUNCTIONS)


class _EmbeddingMetric(Metric):
    embedder_name = ""
    #: whether the metric takes `stats` (how its set statistics are formed): the FAD family
    takes_stats = False

    def __init__(self, cache=None, seed: int = 0, weights: str = "pretrained", checkpoint: str | None = None,
                 device: str = "cpu", embedder: str | None = None, sample_rate: int | None = None,
                 preset: str | None = None, peer_tool: str | None = None, **embedder_options):
        super().__init__(cache, seed)
        self.preset, self.peer_tool = preset, peer_tool
        stats = embedder_options.pop("stats", None)
        if stats is not None and not self.takes_stats:
            raise ConfigError(f"metric {self.name}: stats applies to the Fréchet audio distances (fad, fad_inf, "
                              f"fad_clip), got stats={stats!r}")
        self.stats = stats or "pooled"
        if self.stats not in STATS:
            raise ConfigError(f"metric {self.name}: stats must be one of {', '.join(STATS)}, got {self.stats!r}")

        if embedder is not None:
            self.embedder_name = _check_embedder(embedder, self.name)
        if sample_rate is not None:
            if not self.embedder_name.startswith("cnn14"):
                raise ConfigError(f"metric {self.name}: sample_rate picks Cnn14's front end (16000 | 32000); the "
                                  f"{self.embedder_name} embedder has its own rate")
            self.embedder_name = _cnn14_for(sample_rate, self.name)

        # options left null in the YAML (e.g. fad's pca_params) are not passed: another embedder
        # picked with `embedder=` need not know them
        embedder_options = {k: v for k, v in embedder_options.items() if v is not None}
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
        out = {"embedder": self.embedder_name, **self.embedder.describe()}
        if self.stats != "pooled":
            out["stats"] = self.stats
        if self.preset:  # a suite's metric configs name their preset and its peer tool (metrics.presets)
            out["preset"] = self.preset
            out["peer_tool"] = self.peer_tool
        return out

    def _reference_stats(self, rows: list[np.ndarray]):
        """The reference set's mean and covariance, formed as `stats` says (STATS_FUNCTIONS)."""
        return STATS_FUNCTIONS[self.stats](rows)

    @property
    def rows_key(self) -> str:
        """The per-file output this metric pools: the embedder's `rows` where its settings decide
        (MERT with audioldm_eval main's preprocessing: its per-clip layer means), else ROWS."""
        return getattr(self.embedder, "rows", None) or ROWS[self.embedder_name]

    def _rows(self, outputs: list[dict]) -> list[np.ndarray]:
        return [o[self.rows_key] for o in outputs]

    def _embed(self, paths: Mapping[str, Path], clips: Sequence[Clip]) -> list[dict]:
        return self.embedder.embed_files([paths[c.id] for c in clips], cache=self.cache)


def _embed_both(metric: _EmbeddingMetric, clips, generated, reference):
    """The embedder's outputs for the generated and the reference file of every clip."""
    gen = metric._embed(generated, clips)
    ref = metric._embed(reference, clips)
    return gen, ref


def pooled_rows(rows: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Every clip's rows stacked, and the clip (0…N−1) each row comes from: the owner arrays with
    which a resampled clip brings all its rows (FrechetResampler, KIDResampler)."""
    rows = [np.atleast_2d(x) for x in rows]
    return np.concatenate(rows), np.repeat(np.arange(len(rows)), [len(x) for x in rows])


def fd_point(gen_rows: list[np.ndarray], ref_rows: list[np.ndarray], a: np.ndarray, b: np.ndarray, method: str,
             stats: str, resampler) -> float:
    """The Fréchet distance of two whole sets (see `frechet_score`): per-clip rows, the same rows
    stacked (`a`, `b`, float64) and their `FrechetResampler`."""
    from metrics.frechet import fd_from_embeddings, frechet_distance_exact

    if stats == "fadtk":
        return frechet_distance_exact(*fadtk_stats(gen_rows), *fadtk_stats(ref_rows))
    if stats == "google":  # compute_fad.py: frechet_distance(mu_bg, sigma_bg, mu_test, sigma_test), eps 1e-7
        return google_fad_distance(google_fad_stats(ref_rows), google_fad_stats(gen_rows))
    if method == "exact":
        return resampler.full()
    return fd_from_embeddings(a, b, method="sqrtm")


def frechet_score(gen_rows: list[np.ndarray], ref_rows: list[np.ndarray], method: str = "sqrtm",
                  stats: str = "pooled") -> Score:
    """FD between the pooled rows of two sets of clips (one row per clip for FD, a clip's frames
    for FAD), as a set-level statistic of resampled clip indices: a resampled clip brings all its
    rows. The value on all clips takes `method` ("sqrtm": the reference's code path, "exact": the
    Gram / eigen route) and `stats` ("pooled": mean and covariance of all rows in float64;
    "fadtk": each set's statistics merged file by file as fadtk's ``load_stats`` does, per-file
    means in the rows' stored dtype, ``small_sample.fadtk_stats``; "google": as Google's
    frechet_audio_distance stores them, ``small_sample.google_fad_stats``, and its sqrtm FD);
    resamples always the exact, pooled route."""
    from metrics.frechet import FD_METHODS, FrechetResampler

    if method not in FD_METHODS:
        raise ConfigError(f"fd_method must be one of {', '.join(FD_METHODS)}, got {method!r}")

    (a, owner_a), (b, owner_b) = pooled_rows(gen_rows), pooled_rows(ref_rows)
    a, b = a.astype(np.float64), b.astype(np.float64)
    resampler = FrechetResampler(a, b, groups=(owner_a, owner_b), n_groups=(len(gen_rows), len(ref_rows)))
    full = fd_point(gen_rows, ref_rows, a, b, method, stats, resampler)
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

    def scores(self, clips, generated, reference):
        """One key, the metric's name: the Fréchet distance of the two sets' embedding rows."""
        gen, ref = _embed_both(self, clips, generated, reference)
        return {self.name: frechet_score(self._rows(gen), self._rows(ref), self.fd_method, self.stats)}


@register_metric("fd")
class FD(_FrechetMetric):
    """Fréchet distance on PANNs Cnn14 2048-d embeddings, 16 kHz (default) or ``sample_rate=32000``
    (lower is better)."""

    embedder_name = "cnn14_16k"


@register_metric("fad")
class FAD(_FrechetMetric):
    """Fréchet Audio Distance on frame embeddings pooled over clips: VGGish 128-d (default, as
    audioldm_eval) or any frame embedder (``embedder=vggish_fadtk|encodec_24k|clap_music|…``; the
    fadtk presets also set ``stats: fadtk``); lower is better."""

    embedder_name = "vggish"
    takes_stats = True


@register_metric("fad_inf")
class FADInf(_EmbeddingMetric):
    """FAD∞ (fadtk's ``score_inf``): FD of n frames drawn with replacement from the generated set's
    pooled frames, against the reference set's statistics, extrapolated to n → ∞ over `steps`
    sizes from `min_n` (seeded). Also reports the fit's slope and r² (keys fad_inf_slope,
    fad_inf_r2). CI: a bootstrap over clips whose replicates take the extrapolation's limit — the
    FD of the resampled pooled frames (refitting 25 random draws per replicate would cost seconds
    each); the draws' own noise is in r²."""

    embedder_name = "vggish"
    takes_stats = True

    def __init__(self, cache=None, seed: int = 0, steps: int = 25, min_n: int = 500, **kwargs):
        super().__init__(cache, seed, **kwargs)
        if int(steps) < 2 or int(min_n) < 2:
            raise ConfigError(f"metric fad_inf: steps and min_n must be ≥ 2, got {steps}, {min_n}")
        self.steps, self.min_n = int(steps), int(min_n)

    def describe(self) -> dict:
        return {**super().describe(), "steps": self.steps, "min_n": self.min_n, "peer": "fadtk 1.1.0 score_inf"}

    def scores(self, clips, generated, reference):
        gen, ref = _embed_both(self, clips, generated, reference)
        g, r = self._rows(gen), self._rows(ref)
        fit = fad_inf(g, self._reference_stats(r), steps=self.steps, min_n=self.min_n, seed=self.seed)
        (a, owner_a), (b, owner_b) = pooled_rows(g), pooled_rows(r)
        a, b = a.astype(np.float64), b.astype(np.float64)
        resampler = FrechetResampler(a, b, groups=(owner_a, owner_b), n_groups=(len(g), len(r)))
        n = len(g)

        def statistic(idx):
            idx = np.asarray(idx)
            if idx.shape[0] == 1 and np.array_equal(idx[0], np.arange(n)):
                return np.array([fit.score])
            counts = np.stack([np.bincount(row, minlength=n) for row in idx]).astype(np.float64)
            return resampler.weighted(counts, counts)

        def constant(value):
            return lambda idx: np.full(np.asarray(idx).shape[0], value)

        return {"fad_inf": Score(statistic=statistic, min_clips=2),
                "fad_inf_slope": Score(statistic=constant(fit.slope), min_clips=2),
                "fad_inf_r2": Score(statistic=constant(fit.r2), min_clips=2, higher_is_better=True)}


@register_metric("fad_clip")
class FADPerClip(_EmbeddingMetric):
    """Per-clip FAD (fadtk's ``score_individual``, "per-song FAD"): each generated clip's frames
    fitted alone against the reference set's pooled statistics; the set value is their mean.
    Undefined (left out, noted) for a clip with fewer than 2 frames."""

    embedder_name = "vggish"
    takes_stats = True

    def describe(self) -> dict:
        return {**super().describe(), "peer": "fadtk 1.1.0 score_individual"}

    def scores(self, clips, generated, reference):
        gen, ref = _embed_both(self, clips, generated, reference)
        return {"fad_clip": Score(per_clip=per_clip_fad(self._rows(gen), self._reference_stats(self._rows(ref))))}


@register_metric("kid")
class KID(_EmbeddingMetric):
    """Kernel Inception Distance (audioldm_eval's ``calculate_kid``: cubic polynomial kernel,
    unbiased MMD², mean over `subsets` random subsets of `subset_size`, RandomState(2020)) on Cnn14
    2048-d embeddings (default) or any embedder's rows. Unbiased for any set size, unlike FD.
    CI: a bootstrap over clips of the full-set MMD² (the KID itself whenever subset_size ≥ n)."""

    embedder_name = "cnn14_16k"

    def __init__(self, cache=None, seed: int = 0, subsets: int = 100, subset_size: int = 1000,
                 degree: int = 3, coef0: float = 1.0, **kwargs):
        super().__init__(cache, seed, **kwargs)
        if self.rows_key == "frames":
            raise ConfigError(f"metric kid: {self.embedder_name} gives frames; KID resamples clips and needs one "
                              "row per clip, or a fixed number (use cnn14_16k, cnn14_32k, or mert_95m with "
                              "preprocess=audioldm_eval-main: its 13 layer means per clip)")
        self.subsets, self.subset_size, self.degree, self.coef0 = int(subsets), int(subset_size), int(degree), float(coef0)

    def describe(self) -> dict:
        return {**super().describe(), "subsets": self.subsets, "subset_size": self.subset_size, "degree": self.degree,
                "coef0": self.coef0, "rng_seed": 2020, "peer": "audioldm_eval calculate_kid"}

    def scores(self, clips, generated, reference):
        gen, ref = _embed_both(self, clips, generated, reference)
        # all rows are samples, as the reference's (13N, 768) MERT features are; a resampled clip
        # brings all its rows
        (g, owner_g), (r, owner_r) = pooled_rows(self._rows(gen)), pooled_rows(self._rows(ref))
        full = kid(g, r, self.subsets, self.subset_size, self.degree, None, self.coef0).mean
        resampler = KIDResampler(g, r, self.degree, None, self.coef0, groups=(owner_g, owner_r))
        n = len(clips)

        def statistic(idx):
            idx = np.asarray(idx)
            if idx.shape[0] == 1 and np.array_equal(idx[0], np.arange(n)):
                return np.array([full])
            counts = np.stack([np.bincount(row, minlength=n) for row in idx]).astype(np.float64)
            return resampler.weighted(counts, counts)

        return {"kid": Score(statistic=statistic, min_clips=2)}


#: where KL and IS take their "logits" (`logits_from`): the embedder's label logits (Cnn14, PaSST), or
#: audioldm_eval main's: MERT's per-clip layer means stacked over the files (13N × 768) and fed to its
#: calculate_kl / calculate_isc as if they were logits
LOGITS_FROM = ("classifier", "stacked_layer_means")


def _check_logits_from(metric: _EmbeddingMetric, logits_from: str) -> str:
    if logits_from not in LOGITS_FROM:
        raise ConfigError(f"metric {metric.name}: logits_from must be one of {', '.join(LOGITS_FROM)}, "
                          f"got {logits_from!r}")
    if logits_from == "stacked_layer_means" and metric.rows_key != "layer_means":
        raise ConfigError(f"metric {metric.name}: logits_from=stacked_layer_means is audioldm_eval main's use of "
                          f"MERT's layer means; it needs embedder mert_95m with preprocess=audioldm_eval-main, got "
                          f"{metric.embedder_name} giving {metric.rows_key}")
    return logits_from


def _logits_from_entry(logits_from: str) -> dict:
    """describe()'s record of `logits_from`: only when not the classifier's (stored configs of
    earlier runs keep their fingerprints)."""
    return {} if logits_from == "classifier" else {"logits_from": logits_from}


def main_file_order(paths: Mapping[str, Path], clips: Sequence[Clip]) -> np.ndarray:
    """The clips' indices in audioldm_eval main's order: its WaveDataset sorts a folder's file paths
    (here: by file name, each set's files being one folder there)."""
    return np.argsort(np.array([Path(paths[c.id]).name for c in clips]), kind="stable")


def stacked_layer_means(outputs: list[dict], order: np.ndarray) -> np.ndarray:
    """audioldm_eval main's "logits" of a set: each file's (layers, dim) hidden-state means, files
    in `order`, concatenated (layers·N, dim) as its get_featuresdict does with torch.cat."""
    return np.concatenate([outputs[i]["layer_means"] for i in order])


@register_metric("kl")
class KL(_EmbeddingMetric):
    """KL(reference ‖ generated) of Cnn14 AudioSet label distributions, softmax and sigmoid
    (audioldm_eval, audiocraft); `direction: generated_to_reference` is stable-audio-metrics' PaSST
    KL(generated ‖ reference); `variants` picks the label distributions reported.

    ``logits_from: stacked_layer_means`` reproduces audioldm_eval main (backbone="mert"): its
    calculate_kl gets the (13N, 768) stacked MERT layer means as "logits" and zips the N file names
    with the first N rows, so the file at position k of its sorted folder is scored on row k — layer
    k mod 13 of the file at position k // 13, in each set. A number to match main's table, not a
    divergence between label distributions."""

    embedder_name = "cnn14_16k"

    def __init__(self, *args, direction: str = "reference_to_generated",
                 variants: tuple[str, ...] | list[str] = ("softmax", "sigmoid"), logits_from: str = "classifier",
                 **kwargs):
        from metrics.kl import DIRECTIONS

        super().__init__(*args, **kwargs)
        self.logits_from = _check_logits_from(self, logits_from)
        if direction not in DIRECTIONS:
            raise ConfigError(f"metric kl: direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
        if not variants or set(variants) - {"softmax", "sigmoid"}:
            raise ConfigError(f"metric kl: variants must be a non-empty subset of softmax, sigmoid; got {variants!r}")
        self.direction, self.variants = direction, tuple(variants)

    def describe(self) -> dict:
        return {**super().describe(), "direction": self.direction, **_logits_from_entry(self.logits_from)}

    def scores(self, clips, generated, reference):
        gen, ref = _embed_both(self, clips, generated, reference)
        if self.logits_from == "stacked_layer_means":
            # row k of each set's stack goes with that set's k-th file (calculate_kl's zip); clip i
            # is the file at position argsort(order)[i]
            og, orf = main_file_order(generated, clips), main_file_order(reference, clips)
            g = stacked_layer_means(gen, og)[np.argsort(og)]
            r = stacked_layer_means(ref, orf)[np.argsort(orf)]
        else:
            g = np.stack([x["logits"] for x in gen])
            r = np.stack([x["logits"] for x in ref])
        return {f"kl_{v}": Score(per_clip=kl_per_clip(g, r, v, direction=self.direction)) for v in self.variants}


@register_metric("is")
class IS(_EmbeddingMetric):
    """Inception Score of the generated set on Cnn14 label distributions (higher is better).
    ``logits_from: stacked_layer_means``: audioldm_eval main's, on its (13N, 768) stacked MERT
    layer means (files in its sorted order; a resample stacks its clips' rows)."""

    embedder_name = "cnn14_16k"

    def __init__(self, *args, logits_from: str = "classifier", **kwargs):
        super().__init__(*args, **kwargs)
        self.logits_from = _check_logits_from(self, logits_from)

    def describe(self) -> dict:
        return {**super().describe(), **_logits_from_entry(self.logits_from)}

    def scores(self, clips, generated, reference):
        gen = self._embed(generated, clips)
        if self.logits_from == "stacked_layer_means":
            order = main_file_order(generated, clips)
            full = inception_score(stacked_layer_means(gen, order)).mean

            def statistic(idx):
                idx = np.asarray(idx)
                if idx.shape[0] == 1 and np.array_equal(idx[0], np.arange(len(clips))):
                    return np.array([full])
                return np.array([inception_score(stacked_layer_means(gen, row)).mean for row in idx])

            # 13 rows per clip: main's 10 splits are filled from one clip on; 2 for a resample's spread
            return {"is": Score(statistic=statistic, higher_is_better=True, min_clips=2, floor=1.0)}
        logits = np.stack([x["logits"] for x in gen])

        def statistic(idx):
            return np.array([inception_score(logits[row]).mean for row in np.asarray(idx)])

        return {"is": Score(statistic=statistic, higher_is_better=True, min_clips=10, floor=1.0)}


@register_metric("clap_score")
class ClapScore(_EmbeddingMetric):
    """Text–audio CLAP score: per clip, the cosine between the LAION-CLAP embeddings of the clip's
    caption (``Clip.caption``: the dataset's, or ``bench evaluate --captions``) and of its generated
    audio; the set value is their mean (higher is better). ``embedder: clap_score_sam`` is
    stable-audio-metrics' ``clap_score`` (630k-audioset fusion model), ``clap_score_audiocraft``
    audiocraft's ``CLAPTextConsistencyMetric`` (music checkpoint); see metrics.embedders.clap_score."""

    embedder_name = "clap_score_sam"
    uses_captions = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.embedder_name not in TEXT_AUDIO:
            raise ConfigError(f"metric clap_score: embedder must be one of {', '.join(TEXT_AUDIO)} (text and audio), "
                              f"got {self.embedder_name!r}")

    def scores(self, clips, generated, reference):
        from metrics.embedders.clap_score import clap_scores
        from metrics.errors import MetricError

        missing = [c.id for c in clips if not (c.caption or "").strip()]
        if missing:
            raise MetricError(f"clap_score compares each clip's caption (its text prompt) with the audio; {len(missing)} "
                              f"of {len(clips)} clips have none, e.g. {missing[:5]}. Give the dataset captions, or "
                              f"bench evaluate --captions FILE (id,caption), or leave clap_score out")
        audio = np.stack([o["embedding"] for o in self._embed(generated, clips)])
        text = self.embedder.embed_texts([c.caption for c in clips])
        return {"clap_score": Score(per_clip=clap_scores(audio, text), higher_is_better=True)}
