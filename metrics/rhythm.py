"""Registered metrics built on metrics.beats and metrics.alignment (no learned weights)."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from bench.data.manifest import Clip
from metrics.alignment import video_music_alignment
from metrics.base import Metric, Score, register_metric
from metrics.beats import beat_metrics

# keys reported and whether higher is better
BEAT_KEYS = {"bcs": True, "bhs": True, "bcs_tol": True, "bhs_tol": True, "tempo_error": False,
             "tempo_error_octave": False}
ALIGN_KEYS = {"ba_v2m": True, "ba_m2v": True, "ba_mean": True, "ba_v2m_minima": True, "ba_m2v_minima": True}


def _per_clip_scores(rows: list[dict], keys: dict[str, bool]) -> dict[str, Score]:
    return {k: Score(per_clip=np.array([r[k] for r in rows], np.float64), higher_is_better=hib)
            for k, hib in keys.items()}


@register_metric("beat")
class BeatMetric(Metric):
    """Beat Coverage / Hit Scores (D2M-GAN's 1-s bins, and ±70 ms beat matching) and tempo error,
    generated vs. reference music (metrics.beats)."""

    def describe(self) -> dict:
        from metrics import beats

        return {"weights": "none", "tolerance_s": beats.TOLERANCE_S}

    def scores(self, clips: Sequence[Clip], generated: Mapping[str, Path], reference: Mapping[str, Path]):
        rows = [beat_metrics(generated[c.id], reference[c.id], cache=self.cache or True) for c in clips]
        return _per_clip_scores(rows, BEAT_KEYS)


@register_metric("align")
class AlignMetric(Metric):
    """Beat Align Score between the clip's video motion beats and the music's beats, both
    directions (metrics.alignment; FACT's σ = 0.05 s)."""

    def describe(self) -> dict:
        from metrics import alignment

        return {"weights": "none", "sigma_s": alignment.SIGMA_S}

    def scores(self, clips: Sequence[Clip], generated: Mapping[str, Path], reference: Mapping[str, Path]):
        rows = [video_music_alignment(c, generated[c.id], cache=self.cache or True) for c in clips]
        return _per_clip_scores(rows, ALIGN_KEYS)
