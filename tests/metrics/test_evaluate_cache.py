"""metrics.evaluate in-process: a second evaluation embeds nothing, adding a system embeds only
its files and keeps the stored rows of the others, and undefined per-clip values are said."""

import numpy as np
import pytest
import soundfile as sf

from core.cache import Cache
from core.manifest import Clip
from metrics.base import Metric, Score
from metrics.evaluate import evaluate

pytestmark = pytest.mark.filterwarnings("ignore::metrics.errors.RankDeficientCovarianceWarning")


def _write(folder, n, seed):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    t = np.arange(16000) / 16000
    for i in range(n):
        x = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 2000) * t) + 0.05 * rng.standard_normal(t.size)
        sf.write(folder / f"c{i}.wav", x.astype(np.float32), 16000, subtype="PCM_16")
    return {f"c{i}": folder / f"c{i}.wav" for i in range(n)}


@pytest.mark.slow
def test_adding_a_system_embeds_only_its_files_and_re_evaluation_embeds_nothing(tmp_path):
    n = 3
    ref = _write(tmp_path / "reference", n, 0)
    run = tmp_path / "run"
    _write(run / "A", n, 1)
    _write(run / "B", n, 2)
    clips = [Clip(cid, "", str(p), 0.0, 1.0, cid) for cid, p in ref.items()]
    cache = Cache(tmp_path / "cache")
    configs = {m: {"name": m, "weights": "random"} for m in ("fd", "kl")}

    first = evaluate(run, clips, ["A"], configs, n_resamples=50, cache=cache, progress=False)
    assert cache.misses == 2 * n  # reference + A, once for FD and KL together (one Cnn14, one cache entry)
    stored_a = first.table[first.table["system"] == "A"].set_index("key")["value"]

    second = evaluate(run, clips, ["A", "B"], configs, n_resamples=50, cache=cache, progress=False)
    assert cache.misses == 3 * n  # only B's files were embedded
    again_a = second.table[second.table["system"] == "A"].set_index("key")["value"]
    assert (again_a.sort_index() == stored_a.sort_index()).all() and set(second.table["system"]) == {"A", "B"}

    hits = cache.hits
    evaluate(run, clips, ["A", "B"], configs, n_resamples=50, cache=cache, progress=False)
    assert cache.misses == 3 * n and cache.hits == hits  # fingerprints unchanged: no metric work at all


class _Undefined(Metric):
    name = "undefined"

    def scores(self, clips, generated, reference):
        return {"u": Score(per_clip=np.array([1.0, np.nan, 3.0]))}


def test_undefined_per_clip_values_are_left_out_and_said(tmp_path, monkeypatch):
    import metrics.evaluate as ev

    ref = _write(tmp_path / "reference", 3, 0)
    _write(tmp_path / "run" / "A", 3, 1)
    clips = [Clip(cid, "", str(p), 0.0, 1.0, cid) for cid, p in ref.items()]
    monkeypatch.setattr(ev, "get_metric_class", lambda name: _Undefined)
    out = evaluate(tmp_path / "run", clips, ["A"], {"undefined": {}}, n_resamples=50, progress=False)
    row = out.table.iloc[0]
    assert row["value"] == pytest.approx(2.0) and row["n_clips"] == 2
    assert any("undefined for 1 of 3 clips" in n and "c1" in n for n in out.notes), out.notes
