"""Controls every run can include (DESIGN.md §4).

`reference` returns each clip's own music: the ceiling any system is compared against.
`shuffled` returns the music of another test clip **from a different source**: realistic music
that ignores the video, so a metric that cannot tell it from `reference` does not measure
video relevance at all.
"""

from __future__ import annotations

import random
from typing import Iterable, Sequence

from core.manifest import Clip
from core.errors import ConfigError
from core.media import load_audio
from systems.base import GenerationRequest, GenerationResult, System, SystemContext, register_system


def _reference_music(clip: Clip, sample_rate: int):
    return load_audio(clip.audio_path, sample_rate, 0.0, clip.duration)


@register_system("reference")
class ReferenceControl(System):
    """Each clip's own reference music (the ceiling every system is compared against)."""

    kind = "control"

    def __init__(self, context: SystemContext):
        super().__init__(context)

    @property
    def sample_rate(self) -> int:
        return self.context.sample_rate

    def generate(self, requests: Sequence[GenerationRequest]) -> Iterable[GenerationResult]:
        for req in requests:
            try:
                yield GenerationResult(req, _reference_music(req.clip, self.sample_rate))
            except Exception as exc:
                yield GenerationResult(req, error=exc)


@register_system("shuffled")
class ShuffledControl(System):
    """Music of a different-source clip from the same pool (by default the test split)."""

    kind = "control"

    def __init__(self, context: SystemContext, pool: str = "test"):
        super().__init__(context)
        self.pool = [c for c in context.dataset_clips if pool == "all" or c.split == pool]
        if len({c.source for c in self.pool}) < 2:
            raise ConfigError(f"shuffled control: the '{pool}' pool has fewer than 2 sources; "
                              "it needs a clip of a different source for every clip")

    @property
    def sample_rate(self) -> int:
        return self.context.sample_rate

    def donor(self, clip: Clip, sample_index: int, seed: int) -> Clip:
        """The clip whose music stands in for `clip`'s: seeded, never of the same source."""
        candidates = [c for c in self.pool if c.source != clip.source and c.duration >= clip.duration]
        if not candidates:
            raise ConfigError(f"shuffled control: no clip of another source at least {clip.duration} s long for {clip.id}")
        rng = random.Random(f"{seed}/{clip.id}/{sample_index}")
        return rng.choice(sorted(candidates, key=lambda c: c.id))

    def generate(self, requests: Sequence[GenerationRequest]) -> Iterable[GenerationResult]:
        for req in requests:
            try:
                donor = self.donor(req.clip, req.sample_index, self.context.seed)
                audio = load_audio(donor.audio_path, self.sample_rate, 0.0, req.clip.duration)
                yield GenerationResult(req, audio)
            except Exception as exc:
                yield GenerationResult(req, error=exc)
