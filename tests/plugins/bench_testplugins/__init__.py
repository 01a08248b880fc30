"""Test-only third-party systems, registered through the `dyvim_bench.systems` entry point
(see ../bench_testplugins-0.1.dist-info/entry_points.txt): putting tests/plugins on
PYTHONPATH installs them the way a real package's entry points would."""

from __future__ import annotations

import time

import numpy as np

from systems.base import GenerationResult, System


class SlowSine(System):
    """A sine per clip whose pitch depends on the request seed; sleeps `delay` s per clip."""

    def __init__(self, context, delay: float = 0.0, sample_rate: int = 16000):
        super().__init__(context)
        self.delay = delay
        self._sr = sample_rate

    @property
    def sample_rate(self) -> int:
        return self._sr

    def generate(self, requests):
        for req in requests:
            time.sleep(self.delay)
            n = int(round(req.clip.duration * self._sr))
            freq = 200 + req.seed % 400
            yield GenerationResult(req, (0.1 * np.sin(2 * np.pi * freq * np.arange(n) / self._sr)).astype(np.float32))


class Flaky(System):
    """Fails in three ways on chosen clips: an exception, a wrong length, a stereo output."""

    def __init__(self, context, raise_on: int = 0, short_on: int = 1, stereo_on: int = 2):
        super().__init__(context)
        self.raise_on, self.short_on, self.stereo_on = raise_on, short_on, stereo_on
        self.order = sorted(c.id for c in context.dataset_clips if c.split == "test")

    @property
    def sample_rate(self) -> int:
        return 8000

    def generate(self, requests):
        for req in requests:
            i = self.order.index(req.clip.id)
            n = int(round(req.clip.duration * 8000))
            if i == self.raise_on:
                yield GenerationResult(req, error=RuntimeError(f"model exploded on {req.clip.id}"))
            elif i == self.short_on:
                yield GenerationResult(req, np.zeros(n - 5, np.float32))
            elif i == self.stereo_on:
                yield GenerationResult(req, np.zeros((n, 2), np.float32))
            else:
                yield GenerationResult(req, np.zeros(n, np.float32))
