"""Compatibility presets: configs, the all-at-once missing-weights error, stamped rows, `bench metrics list`."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from core.errors import ConfigError, UnknownNameError, WeightsNotFoundError
from metrics.presets import PRESETS, check_preset_weights, preset_metric_configs, unavailable_reason


def test_every_preset_names_its_peer_and_available_ones_resolve():
    from metrics.base import get_metric_class
    from metrics.embedding_metrics import ROWS, embedder_of

    for p in PRESETS.values():
        assert p.peer
        if unavailable_reason(p):
            with pytest.raises(ConfigError, match="cannot run here"):
                preset_metric_configs(p.name)
            continue
        for key, cfg in preset_metric_configs(p.name, weights="random").items():
            get_metric_class(cfg["name"])
            assert embedder_of(cfg) in ROWS and cfg["preset"] == p.name
    with pytest.raises(UnknownNameError):
        preset_metric_configs("fadtk-nope")


def test_missing_weights_are_all_named_before_any_work(tmp_path):
    configs = {**preset_metric_configs("audioldm_eval-0.0.3-32k"), **{f"e_{k}": v for k, v in
                                                                     preset_metric_configs("fadtk-encodec").items()}}
    with pytest.raises(WeightsNotFoundError) as exc:
        check_preset_weights(configs, cache_dir=tmp_path)
    msg = str(exc.value)
    for name in ("Cnn14_mAP=0.431.pth", "vggish-10086976.pth", "encodec_24khz-d7cc33bc.th"):
        assert name in msg
    assert "3 pretrained weights file(s) missing" in msg and "nothing was computed" in msg
    # present files are not reported
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "encodec_24khz-d7cc33bc.th").write_bytes(b"x")
    with pytest.raises(WeightsNotFoundError) as exc:
        check_preset_weights(configs, cache_dir=tmp_path)
    assert "encodec_24khz" not in str(exc.value) and "2 pretrained" in str(exc.value)


def test_preset_rows_are_stamped(tmp_path):
    import json

    import soundfile as sf

    from core.cache import Cache
    from core.manifest import Clip
    from metrics.evaluate import evaluate

    rng = np.random.RandomState(0)
    run = tmp_path / "run"
    clips = []
    for i in range(4):
        t = np.arange(24000) / 24000
        for folder, f0 in ((tmp_path / "ref", 220.0), (run / "A", 330.0)):
            folder.mkdir(parents=True, exist_ok=True)
            x = 0.3 * np.sin(2 * np.pi * (f0 + 40 * i) * t) + 0.05 * rng.standard_normal(t.shape)
            sf.write(folder / f"c{i}.wav", x.astype(np.float32), 24000, subtype="PCM_16")
        clips.append(Clip(f"c{i}", "", str(tmp_path / "ref" / f"c{i}.wav"), 0.0, 1.0, f"c{i}"))
    configs = preset_metric_configs("fadtk-encodec", weights="random")
    configs["fad_inf"].update(min_n=20, steps=4)
    ev = evaluate(run, clips, ["A"], configs, n_resamples=20, cache=Cache(tmp_path / "cache"), progress=False)
    keys = set(ev.table["key"])
    assert {"fad", "fad_inf", "fad_inf_slope", "fad_inf_r2", "fad_clip"} <= keys
    cfg = json.loads(ev.table["config"].iloc[0])
    assert cfg["preset"] == "fadtk-encodec" and cfg["peer_tool"] == "fadtk 1.1.0"
    assert cfg["embedder"] == "encodec_24k" and cfg["weights"] == "random"


@pytest.mark.slow
def test_bench_metrics_list_shows_embedders_and_presets():
    out = subprocess.run([sys.executable, "-m", "bench", "metrics", "list"], capture_output=True, text=True,
                         timeout=120, env={**__import__("os").environ, "COLUMNS": "200"})
    assert out.returncode == 0, out.stderr
    for name in ("encodec_24k", "cnn14_32k", "vggish", "vggish_fadtk", "fadtk-encodec", "audioldm_eval-0.0.3",
                 "stable-audio-metrics", "fad_inf", "kid"):
        assert name in out.stdout
    # every preset is built, and computes every number its peer prints (audioldm_eval main's KL/IS on MERT
    # were the last part listed as not computed)
    row = next(line for line in out.stdout.splitlines() if "fadtk-vggish" in line)
    assert "available" in row and "not available" not in out.stdout
    assert not any(p.omitted for p in PRESETS.values())
    assert "parts of a peer tool's protocol not computed here" not in out.stdout


def test_metric_rates_and_embedders_are_checked():
    from metrics.embedding_metrics import FAD, FD, KID

    assert FD(weights="random", sample_rate=32000).embedder_name == "cnn14_32k"
    assert FD(weights="random").embedder_name == "cnn14_16k"
    with pytest.raises(ConfigError, match="16000 or 32000"):
        FD(weights="random", sample_rate=44100)
    with pytest.raises(ConfigError, match="has its own rate"):
        FAD(weights="random", embedder="encodec_24k", sample_rate=32000)
    with pytest.raises(ConfigError, match="embedder must be one of"):
        FAD(weights="random", embedder="clap")
    with pytest.raises(ConfigError, match="one row per clip"):
        KID(weights="random", embedder="vggish")
    with pytest.raises(ConfigError, match="stats applies to the Fréchet audio distances"):
        KID(weights="random", embedder="vggish", stats="fadtk")  # only the FAD family forms statistics two ways
    assert FD(weights="random", sample_rate=32000).embedder._model is None  # nothing built until a file is embedded


@pytest.mark.slow
def test_presets_of_embedders_not_installed_are_listed_not_crashing(monkeypatch):
    """The issue's five peer tools each have a preset; one whose embedder is not registered (the
    CLAP/MERT/PaSST/OpenL3 modules land separately) says which, and is refused by name."""
    from core.registry import Registry
    from metrics import embedders
    from metrics.presets import available_presets, get_preset

    for name in ("audioldm_eval-0.0.3", "audioldm_eval-main", "fadtk-encodec", "fadtk-clap", "fadtk-mert",
                 "stable-audio-metrics", "audiocraft"):
        assert name in PRESETS
    assert {"audioldm_eval-0.0.3", "fadtk-encodec", "fadtk-vggish"} <= set(available_presets())
    assert {c["embedder"] for c in PRESETS["fadtk-vggish"].metrics.values()} == {"vggish_fadtk"}
    sam = {c.get("embedder") for c in PRESETS["stable-audio-metrics"].metrics.values()}
    assert sam == {"openl3_mel256_music_512", "passt", "clap_score_sam"}
    assert PRESETS["stable-audio-metrics"].metrics["kl"]["direction"] == "generated_to_reference"  # its passt_kld
    assert not PRESETS["stable-audio-metrics"].omitted  # its three numbers: FD OpenL3, KL PaSST, CLAP score
    assert {c.get("embedder") for c in PRESETS["audiocraft"].metrics.values()} == {
        "vggish_audiocraft", "passt_audiocraft", "clap_score_audiocraft"}
    assert PRESETS["audiocraft"].metrics["fad"]["stats"] == "google"  # its FAD: Google's TensorFlow VGGish pipeline
    assert not PRESETS["audiocraft"].omitted
    without = Registry("embedder", {k: v for k, v in embedders.BUILTIN_EMBEDDERS.items() if k != "encodec_24k"})
    monkeypatch.setattr(embedders, "EMBEDDERS", without)
    assert unavailable_reason(PRESETS["fadtk-encodec"]) == "embedder encodec_24k not installed"
    with pytest.raises(ConfigError, match="embedder encodec_24k not installed"):
        get_preset("fadtk-encodec")
    assert "fadtk-encodec" not in available_presets() and "fadtk-encodec-48k" in available_presets()


def test_missing_weights_error_names_embedders_without_a_declared_file(tmp_path):
    configs = {"fad": {"name": "fad", "embedder": "clap_music", "weights": "pretrained"},
               "fd": {"name": "fd", "weights": "pretrained"}}
    with pytest.raises(WeightsNotFoundError) as exc:
        check_preset_weights(configs, cache_dir=tmp_path)
    assert "clap_music" in str(exc.value) and "Cnn14_16k_mAP=0.438.pth" in str(exc.value)
    assert "2 pretrained weights file(s) missing" in str(exc.value)


@pytest.mark.slow
def test_bench_metrics_show_prints_the_peer_protocol_even_when_unavailable():
    out = subprocess.run([sys.executable, "-m", "bench", "metrics", "show", "stable-audio-metrics"], capture_output=True,
                         text=True, timeout=120, env={**__import__("os").environ, "COLUMNS": "200"})
    assert out.returncode == 0, out.stderr
    assert "KL(generated ‖ reference + 1e-6)" in out.stdout and "clap_score" in out.stdout
    assert "openl3_mel256_music_512" in out.stdout


# --------------------------------------------------------------------------- audioldm_eval main
@pytest.mark.slow
def test_audioldm_eval_main_matches_its_own_code(tmp_path):
    """Golden values from main's own EvaluationHelper.calculate_metrics (and the calculate_kid it has
    commented out) on seeded random MERT/VGGish weights: scripts/golden/audioldm_eval_main_golden.py.
    The two folders differ in rate (32 and 22.05 kHz), as main resamples each through WaveDataset.
    At 16 kHz through the `bench perf metrics` hook; at 32 kHz through `bench evaluate --generated
    --reference --suite audioldm_eval-main --sample-rate 32000`."""
    import json
    from pathlib import Path

    from bench import api
    from metrics.embedders.timing import golden_script
    from metrics.perf import EMBEDDER_PERF_HOOKS, audioldm_main_line, main_golden_values

    golden = json.loads((Path(__file__).parent / "golden" / "audioldm_eval_main_golden.json").read_text())
    assert golden_script("audioldm_eval_main").write_clip_sets(tmp_path / "clips") == golden["clips_sha256"]
    assert "metrics.perf:audioldm_main_line" in EMBEDDER_PERF_HOOKS
    r = audioldm_main_line(tmp_path / "16k")
    assert r["presets"] == ["audioldm_eval-main"] and set(r["rel"]) == {"fd", "fad", "kl_softmax", "kl_sigmoid", "is", "kid"}
    assert max(r["rel"].values()) <= 1e-4, r["rel"]  # measured: 2.5e-5 (KID), ≤ 6e-6 (KL), ≤ 1e-6 (FD, FAD, IS)
    assert "main's calculate_metrics" in r["line"]
    whole = r["evaluation"].table.set_index("key")
    assert (whole["ci_low"] <= whole["ci_high"]).all()
    assert json.loads(whole.loc["kl_softmax", "config"])["logits_from"] == "stacked_layer_means"
    # EvaluationHelper(32000): --sample-rate 32000 is main's evaluation rate for the MERT metrics (FAD stays 16 kHz)
    ev = api.evaluate_folders(tmp_path / "clips" / "generated", tmp_path / "clips" / "reference", out=tmp_path / "out32",
                              suite="audioldm_eval-main", weights="random", sample_rate=32000, n_resamples=10,
                              overrides=[f"paths.cache_dir={tmp_path / 'cache'}"])
    table = ev.table.set_index("key")
    expected = main_golden_values(golden["at_32000"])
    for key, value in expected.items():
        assert table.loc[key, "value"] == pytest.approx(value, rel=1e-4), key
    assert set(table["suite"]) == {"audioldm_eval-main"}
    assert expected["fd"] != pytest.approx(golden["metrics"]["frechet_distance"], rel=1e-3)  # the rate took effect


def test_audioldm_eval_main_kl_pairs_the_kth_file_with_row_k(tmp_path):
    """calculate_kl zips the N file names with the (13N, 768) stacked rows: the k-th file of each
    sorted folder is scored on row k (layer k mod 13 of file k // 13). Checked on stand-in outputs."""
    from core.manifest import Clip
    from metrics.embedding_metrics import KL, IS, main_file_order, stacked_layer_means
    from metrics.inception import inception_score
    from metrics.kl import kl_per_clip

    rng = np.random.default_rng(0)
    names = ["b", "a", "c-d", "c"]  # file order: a.wav, b.wav, c-d.wav, c.wav ('-' sorts before '.')
    clips = [Clip(id=n, video="", audio="", start=0.0, duration=1.0, split="test", source=n) for n in names]
    gen = {n: tmp_path / f"{n}.wav" for n in names}
    ref = {n: tmp_path / "r" / f"{n}.wav" for n in names}
    out_g = [{"layer_means": rng.normal(size=(13, 6)).astype(np.float32)} for _ in names]
    out_r = [{"layer_means": rng.normal(size=(13, 6)).astype(np.float32)} for _ in names]
    assert [names[i] for i in main_file_order(gen, clips)] == ["a", "b", "c-d", "c"]
    kl = KL(weights="random", embedder="mert_95m", preprocess="audioldm_eval-main", logits_from="stacked_layer_means")
    outputs = {id(gen): out_g, id(ref): out_r}
    kl._embed = lambda paths, _clips: outputs[id(paths)]
    per_clip = kl.scores(clips, gen, ref)["kl_softmax"].per_clip
    stack_g = np.concatenate([out_g[i]["layer_means"] for i in (1, 0, 2, 3)])  # a, b, c-d, c
    stack_r = np.concatenate([out_r[i]["layer_means"] for i in (1, 0, 2, 3)])
    # clip "b" is the 2nd file: row 1 = layer 1 of file "a"; clip "c" the 4th: row 3 = layer 3 of "a"
    assert per_clip[0] == pytest.approx(kl_per_clip(stack_g[1:2], stack_r[1:2])[0])
    assert per_clip[3] == pytest.approx(kl_per_clip(stack_g[3:4], stack_r[3:4])[0])
    assert np.array_equal(stacked_layer_means(out_g, main_file_order(gen, clips)), stack_g)
    is_metric = IS(weights="random", embedder="mert_95m", preprocess="audioldm_eval-main",
                   logits_from="stacked_layer_means")
    is_metric._embed = lambda paths, _clips: out_g
    full = is_metric.scores(clips, gen, ref)["is"].statistic(np.arange(4)[None])
    assert full[0] == inception_score(stack_g).mean


def test_logits_from_is_checked():
    from metrics.embedding_metrics import KL, IS

    with pytest.raises(ConfigError, match="needs embedder mert_95m with preprocess=audioldm_eval-main"):
        KL(weights="random", logits_from="stacked_layer_means")  # Cnn14 has real logits
    with pytest.raises(ConfigError, match="needs embedder mert_95m"):
        IS(weights="random", embedder="mert_95m", logits_from="stacked_layer_means")  # fadtk's frames
    with pytest.raises(ConfigError, match="logits_from must be one of classifier, stacked_layer_means"):
        KL(weights="random", logits_from="layers")
    from metrics.embedders.vggish import AudiocraftVGGishEmbedder, VGGishEmbedder

    with pytest.raises(ConfigError, match="preprocess must be one of audioldm_eval-0.0.3, audioldm_eval-main"):
        VGGishEmbedder(preprocess="fadtk")
    with pytest.raises(ConfigError, match="its peer tool's own preprocessing"):
        AudiocraftVGGishEmbedder(preprocess="audioldm_eval-main")
