"""`bench perf metrics --suite all`'s last line and the embedder benchmark hooks (no benchmark is
run here: the hook is a stand-in module; the benchmarks themselves run in `bench perf metrics`)."""

from __future__ import annotations

import sys
import types

from metrics.perf import bar_line, run_embedder_hooks


def test_hooks_add_their_presets_and_missing_ones_are_named(monkeypatch, capsys):
    mod = types.ModuleType("_fake_embedder_perf")
    mod.perf_line = lambda keep: {"line": "fake_emb: 0.10 s/file ours, 0.30 s/file peer", "presets": ["fadtk-clap"],
                                  "rel": {"fad": 3e-6}}
    monkeypatch.setitem(sys.modules, "_fake_embedder_perf", mod)
    rels, compared, failed = run_embedder_hooks(["_fake_embedder_perf:perf_line", "metrics.embedders.nope:perf_line"])
    assert "fake_emb: 0.10 s/file" in capsys.readouterr().out
    assert compared == ["fadtk-clap"] and rels == {"fadtk-clap:fad": 3e-6}
    assert "metrics.embedders.nope:perf_line" in failed
    text = bar_line(["audioldm_eval-0.0.3", "fadtk-encodec", *compared],
                    {"audioldm_eval-0.0.3:fd": 4e-6, **rels}, {"cold": 5.0, "warm": 7.5}, failed)
    last = text.splitlines()[-1]
    assert last == "suites=3 max_rel_diff=4.00e-06 cold_speedup=5.00 warm_speedup=7.50"
    notes = text.splitlines()[0]
    assert "fadtk-clap (" not in notes  # compared through its hook
    assert "audiocraft (" in notes  # unavailable (passt not registered) or no benchmark hook yet
    assert "metrics.embedders.nope:perf_line (benchmark hook did not load" in notes
    assert "stable-audio-metrics (" in notes and "audioldm_eval-0.0.3-32k (same code path" in notes
