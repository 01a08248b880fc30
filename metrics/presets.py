"""Compatibility presets: the metrics, embedders, rates and variants of one peer tool, so a table
can say "as in X" and mean it.

A preset is a named set of metric configs (the same dicts as ``bench/conf/metric/*.yaml``); every
row scored under it carries ``preset`` and the peer tool's version in its stored config, beside the
embedder and its weights file's sha256 (``Metric.describe``). A preset whose embedders are not
built here is listed with the reason and refused by name.

    from metrics.presets import PRESETS, preset_metric_configs, check_preset_weights
    configs = preset_metric_configs("fadtk-encodec", weights="pretrained")
    check_preset_weights(configs)        # every missing weights file named at once, before any work
    metrics.evaluate.evaluate(run_dir, clips, systems, configs)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from metrics.base import known_metrics
from core.errors import ConfigError, UnknownNameError, WeightsNotFoundError
from metrics import embedders


@dataclass(frozen=True)
class Preset:
    name: str
    peer: str
    #: metric key → config (without weights/checkpoint, which the caller sets)
    metrics: dict[str, dict] = field(default_factory=dict)
    description: str = ""
    #: why the preset cannot run here whatever is installed (a front end not built), or None;
    #: embedders not registered (yet) are found by `unavailable_reason`
    unavailable: str | None = None
    #: how its numbers were checked against the peer's own code
    parity: str = ""
    #: parts of the peer tool's protocol this preset does not compute here, with why
    omitted: dict[str, str] = field(default_factory=dict)
    #: the peer's exact settings per metric key, read from its code (what a parity check must match)
    protocol: dict[str, str] = field(default_factory=dict)


_AUDIOLDM_EVAL = "audioldm_eval 0.0.3"
_AUDIOLDM_MAIN = "audioldm_eval GitHub main (8dc07ee)"
_FADTK = "fadtk 1.1.0"
_SAM = "stable-audio-metrics GitHub main"
_AUDIOCRAFT = "audiocraft 1.3.0"


def _audioldm(rate: int) -> dict[str, dict]:
    return {"fd": {"name": "fd", "sample_rate": rate}, "fad": {"name": "fad", "embedder": "vggish"},
            "kl": {"name": "kl", "sample_rate": rate}, "is": {"name": "is", "sample_rate": rate}}


def _audioldm_main() -> dict[str, dict]:
    """audioldm_eval main's EvaluationHelper(16000, backbone="mert"): every number its calculate_metrics
    prints, plus the KID it has commented out."""
    mert = {"embedder": "mert_95m", "preprocess": "audioldm_eval-main", "reference_rate": 16000}
    return {"fd": {"name": "fd", **mert}, "fad": {"name": "fad", "embedder": "vggish", "preprocess": "audioldm_eval-main"},
            "kl": {"name": "kl", **mert, "logits_from": "stacked_layer_means"},
            "is": {"name": "is", **mert, "logits_from": "stacked_layer_means"},
            "kid": {"name": "kid", **mert}}


def _fadtk(embedder: str) -> dict[str, dict]:
    """fadtk's three scores; statistics merged file by file as its load_stats does (``stats: fadtk``)."""
    return {"fad": {"name": "fad", "embedder": embedder, "stats": "fadtk"},
            "fad_inf": {"name": "fad_inf", "embedder": embedder, "steps": 25, "min_n": 500, "stats": "fadtk"},
            "fad_clip": {"name": "fad_clip", "embedder": embedder, "stats": "fadtk"}}


PRESETS: dict[str, Preset] = {p.name: p for p in [
    Preset("audioldm_eval-0.0.3", _AUDIOLDM_EVAL, _audioldm(16000),
           "FD (Cnn14 2048-d), FAD (VGGish), KL softmax/sigmoid and IS (Cnn14 logits) at 16 kHz — the paper's "
           "protocol and the default",
           parity="live: scripts/reference_eval.py in scripts/reference_env.sh (tests/metrics/test_parity.py, "
                  "bench perf metrics)"),
    Preset("audioldm_eval-0.0.3-32k", _AUDIOLDM_EVAL, _audioldm(32000),
           "the same at 32 kHz (EvaluationHelper(32000): Cnn14_mAP=0.431.pth)",
           parity="live, as audioldm_eval-0.0.3 with --sample-rate 32000"),
    Preset("audioldm_eval-main", _AUDIOLDM_MAIN, _audioldm_main(),
           "EvaluationHelper(16000, backbone='mert'): FD on MERT-v1-95M (all 13 hidden states time-averaged, each "
           "a row: main's '2048' feature), FAD on VGGish (files through main's WaveDataset), KL softmax/sigmoid and "
           "IS on the same MERT rows used as 'logits' (KL pairs the k-th file with row k of the stacked rows, as its "
           "calculate_kl does; not a label divergence), and KID on the MERT rows (its call is commented out in "
           "main's eval.py; computed with its calculate_kid)",
           parity="golden values made once by main's own EvaluationHelper.calculate_metrics "
                  "(scripts/golden/audioldm_eval_main_golden.py: its eval.py, fad.py, kl.py, isc.py, fid.py, kid.py "
                  "and WaveDataset on seeded random MERT and VGGish weights; tests/metrics/test_presets.py, bench perf metrics)",
           protocol={
               "fd": "eval.py get_featuresdict: WaveDataset(16000) (first channel, mean removed, "
                     "torchaudio.functional.resample, zero-padded to 32000 samples), T.Resample(16000, 24000), "
                     "Wav2Vec2FeatureExtractor, MERTModel(output_hidden_states=True), stack(hidden_states)"
                     ".squeeze().mean(dim=1) → 13 rows per file; calculate_fid on all 13N rows",
               "fad": "metrics/fad.py FrechetAudioDistance(use_pca=False, use_activation=False).score: files "
                      "through WaveDataset(16000), torchvggish forward(x, 16000), np.cov of all frames, sqrtm FD",
               "kl": "metrics/kl.py calculate_kl(features_1=generated, features_2=reference, 'logits'): the 13N "
                     "MERT rows, zip(file names, rows) keeps row k for the k-th file of each sorted folder; "
                     "kl_div(log(softmax(g) + 1e-6), softmax(r), 'sum') / N and the sigmoid form",
               "is": "metrics/isc.py calculate_isc(generated 13N rows, splits=10, shuffle RandomState(2020))",
               "kid": "metrics/kid.py calculate_kid(subsets=100, subset_size=1000 (capped at the row count), "
                      "degree 3, coef0 1, RandomState(2020)) on the 13N MERT rows"}),
    Preset("fadtk-encodec", _FADTK, _fadtk("encodec_24k"),
           "FAD, FAD∞ and per-song FAD on EnCodec 24 kHz encoder frames (fadtk's encodec-emb)",
           parity="live: fadtk's own EncodecEmbModel + encodec 0.1.1 and its score/score_inf/score_individual "
                  "(tests/metrics/test_encodec.py, test_small_sample.py; bench perf metrics --suite fadtk-encodec)"),
    Preset("fadtk-encodec-48k", _FADTK, _fadtk("encodec_48k"),
           "the same on EnCodec 48 kHz (encodec-emb-48k: stereo, 1 s segments, no loudness normalisation)",
           parity="live, as fadtk-encodec"),
    Preset("fadtk-vggish", _FADTK, _fadtk("vggish_fadtk"),
           "FAD, FAD∞ and per-song FAD on VGGish frames as fadtk's vggish model gives them (Kaiser resampling to "
           "16 kHz, 16-bit round trip, ≥ 1 s; no PCA, no final ReLU; float16 rows)",
           parity="live: fadtk's own FrechetAudioDistance(VGGishModel()) (load_model, load_audio, load_wav, "
                  "get_embedding, score/score_inf/score_individual) on its 23 test samples, seeded random weights, "
                  "the torchvggish hub model and torchaudio's load/Resample/save stood in for (metrics/perf_fadtk.py): "
                  "waveforms identical, embeddings within 2e-6, FAD 1.1e-5, FAD∞ 3e-5, per-song FAD 8.4e-5 with fadtk's "
                  "statistics recipe (stats: fadtk; pooled float64 statistics would be 1.6e-4 off: fadtk rounds each "
                  "file's mean to float16) (tests/metrics/test_vggish_fadtk.py; bench perf metrics --suite fadtk-vggish)"),
    Preset("fadtk-clap", _FADTK, _fadtk("clap_music"),
           "FAD, FAD∞ and per-song FAD on LAION-CLAP music (clap-laion-music: 10 s windows, 1 s hop)",
           parity="the clap embedder module's (fadtk's CLAP model code against its own laion_clap)"),
    Preset("fadtk-clap-audio", _FADTK, _fadtk("clap_general"),
           "the same on the general LAION-CLAP checkpoint (clap-laion-audio)", parity="as fadtk-clap"),
    Preset("fadtk-mert", _FADTK, _fadtk("mert_95m"), "FAD, FAD∞ and per-song FAD on MERT-v1-95M frames",
           parity="the mert embedder module's"),
    Preset("fadtk-mert-330m", _FADTK, _fadtk("mert_330m"), "the same on MERT-v1-330M", parity="as fadtk-mert"),
    Preset("stable-audio-metrics", _SAM, {"fad": {"name": "fad", "embedder": "openl3_mel256_music_512"},
                                          "kl": {"name": "kl", "embedder": "passt", "direction": "generated_to_reference", "variants": ["softmax"]},
                                          "clap_score": {"name": "clap_score", "embedder": "clap_score_sam"}},
           "FD on OpenL3 frames (mel256, music, 512-d, 48 kHz, 0.5 s hop; its openl3_fd, stored under key fad); "
           "its PaSST KL(generated ‖ reference) as metric kl's kl_softmax with direction generated_to_reference; "
           "its CLAP score (630k-audioset fusion model) between each clip's caption and its audio",
           parity="the openl3, passt and clap_score embedder modules' (clap_score: its own clap_score function, "
                  "scripts/golden/clap_score_golden.py)",
           protocol={
               "fad": "src/openl3_fd.py openl3_fd: librosa.load(sr=None, mono=False), pyloudnorm peak −1 dB, "
                      "soxr.resample to `samplingrate` (their MusicCaps example: 44100; up to 48000), openl3 "
                      "mel256/music/512 with hop 0.5 s; channels=2 (their example) concatenates L and R "
                      "embeddings (1024-d; mono copied to both); all frames pooled; scipy sqrtm FD (eps 1e-6 retry)",
               "kl": "src/passt_kld.py passt_kld: librosa.load(sr=32000, mono), peak −1 dB, 10-s windows every 5 s "
                     "(starts 0, 5, … < max(5 s, length − 5 s); a window under 10 s is zero-padded to 10 s when longer than 1.5 s, "
                     "else passed as it is), PaSST logits averaged over "
                     "windows (collect='mean') then softmax; KL(generated ‖ reference + 1e-6) = "
                     "F.kl_div((ref_p + 1e-6).log(), eval_p, reduction='sum'), averaged over clips",
               "clap_score": "src/clap_score.py clap_score: CLAP_Module(enable_fusion=True) + 630k-audioset-fusion-best.pt, "
                             "librosa.load(sr=48000, mono), peak −1 dB, int16 round trip (/32767), one file per call "
                             "(≤ 10 s repeat-padded, no fusion; longer: 3 random mel chunks + the resized whole), "
                             "prompts tokenised by roberta-base (77 tokens), cosine(eps 1e-8) averaged over files"}),
    Preset("stable-audio-metrics-stereo", _SAM,
           {"fad": {"name": "fad", "embedder": "openl3_mel256_music_1024_stereo"}, "kl": {"name": "kl", "embedder": "passt", "direction": "generated_to_reference", "variants": ["softmax"]},
            "clap_score": {"name": "clap_score", "embedder": "clap_score_sam"}},
           "as stable-audio-metrics with openl3_fd(channels=2): L ‖ R OpenL3 frames (1024-d), the setting of its "
           "MusicCaps example and of Stable Audio's published numbers",
           parity="as stable-audio-metrics"),
    Preset("audiocraft", _AUDIOCRAFT, {"fad": {"name": "fad", "embedder": "vggish_audiocraft", "stats": "google"},
                                       "kl": {"name": "kl", "embedder": "passt_audiocraft", "variants": ["softmax"]},
                                       "clap_score": {"name": "clap_score", "embedder": "clap_score_audiocraft"}},
           "FAD on Google's TensorFlow VGGish as its FrechetAudioDistanceMetric runs frechet_audio_distance (1 s "
           "windows every 0.5 s, float32-stored statistics); "
           "KLD on PaSST (PasstKLDivergenceMetric: softmax over AudioSet labels per 10-s segment, "
           "KL(target ‖ generated + 1e-6) — metric kl's kl_softmax; the same number for clips up to 10 s, where "
           "a clip is one segment; for longer clips audiocraft pairs segments and averages, kl uses the clip's "
           "mean logits); its text consistency (CLAP score, music checkpoint) between each clip's caption and its audio",
           parity="fad: golden values made once by audiocraft 1.3.0's own FrechetAudioDistanceMetric (update → wav files, then Google's "
                  "create_embeddings_main and compute_fad on TensorFlow 2.15 in a side environment, "
                  "scripts/golden/audiocraft_fad_golden.py → tests/metrics/test_vggish_audiocraft.py); kl and "
                  "clap_score: the passt and clap_score embedder modules' (clap_score: its update steps around "
                  "laion_clap, scripts/golden/clap_score_golden.py)",
           protocol={"fad": "audiocraft/metrics/fad.py FrechetAudioDistanceMetric: convert_audio to 16 kHz mono "
                            "(julius), audio_write(format='wav', strategy='peak'): peak −1 dB and i16_pcm; then "
                            "google-research frechet_audio_distance (create_embeddings_main, model_step_size 8000): "
                            "scipy wavfile int16 values ÷ max(0.1, largest sample), a 1-s window every 0.5 s (none "
                            "for files under 1 s), VGGish log-mel per window (96 of its 98 frames), vggish/embedding "
                            "(fc2, no ReLU) of vggish_model.ckpt; ComputeMeanAndCovariance (float64 sums, stored as "
                            "float32); compute_fad: scipy sqrtm FD (eps 1e-7 retry), printed as 'FAD: %f'",
                     "kl": "audiocraft/metrics/kld.py PasstKLDivergenceMetric: convert_audio to 32 kHz mono, "
                           "10-s segments without overlap (segments ≤ 0.15 s dropped, no padding), softmax of "
                           "PaSST logits per segment, each segment a pair; kld = KL(target ‖ generated + 1e-6) "
                           "= kl_div((pred + 1e-6).log(), target).sum(-1), mean over segments (also kld_qp, "
                           "kld_both)",
                    "clap_score": "audiocraft/metrics/clap_consistency.py CLAPTextConsistencyMetric (music solver "
                                  "config: music_audioset_epoch_15_esc_90.14.pt, HTSAT-base, no fusion): convert_audio "
                                  "to 48 kHz mono (julius), no quantisation, ≤ 10 s repeat-padded, longer: a random "
                                  "10-s crop; roberta-base tokens (77); cosine(eps 1e-8) averaged"}),
]}

DEFAULT_PRESET = "audioldm_eval-0.0.3"


def unavailable_reason(preset: Preset) -> str | None:
    """Why `preset` cannot run in this checkout (its fixed reason, or the first embedder that is
    not registered in metrics.embedders / not accepted by its metric), or None."""
    if preset.unavailable:
        return preset.unavailable
    from metrics.embedding_metrics import ROWS, embedder_of

    missing = []
    for key, cfg in preset.metrics.items():
        if cfg["name"] not in known_metrics():
            missing.append(f"metric {cfg['name']} not built")
            continue
        emb = embedder_of(cfg)
        if emb not in embedders.EMBEDDERS:
            missing.append(f"embedder {emb} not installed")
        elif emb not in ROWS:
            missing.append(f"embedder {emb} not accepted by metric {cfg['name']} yet")
    return "; ".join(dict.fromkeys(missing)) or None


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise UnknownNameError("metric preset", name, list(PRESETS))
    preset = PRESETS[name]
    why = unavailable_reason(preset)
    if why:
        raise ConfigError(f"metric preset {name!r} ({preset.peer}) cannot run here: {why}. "
                          f"Available: {', '.join(available_presets())}")
    return preset


def available_presets() -> list[str]:
    return [p for p, v in PRESETS.items() if not unavailable_reason(v)]


def preset_metric_configs(name: str, weights: str = "pretrained", checkpoints: dict[str, str] | None = None
                          ) -> dict[str, dict]:
    """The preset's metric configs, each stamped with ``preset`` (stored with every row).
    `checkpoints`: embedder name → weights file, for `weights="pretrained"` files outside
    ``<cache_dir>/weights/``."""
    from metrics.embedding_metrics import embedder_of

    preset = get_preset(name)
    out = {}
    for key, cfg in preset.metrics.items():
        cfg = {**cfg, "weights": weights, "preset": name, "peer_tool": preset.peer}
        emb = embedder_of(cfg)
        if checkpoints and emb in checkpoints:
            cfg["checkpoint"] = str(checkpoints[emb])
        out[key] = cfg
    return out


def check_preset_weights(configs: dict[str, dict], cache_dir: str | os.PathLike | None = None) -> None:
    """Raise one WeightsNotFoundError naming every pretrained weights file the configs need and that
    is absent (with its URL), before any audio is read or model built; the CLAP score's tokenizer
    too (a hub id is loaded as transformers loads it: from its cache, or fetched once online).
    Downloads no weights."""
    from metrics.embedders.weights import weights_dir
    from metrics.embedding_metrics import TEXT_AUDIO, embedder_of

    missing: dict[str, str] = {}
    for cfg in configs.values():
        if cfg.get("weights", "pretrained") != "pretrained":
            continue
        emb = embedder_of(cfg)
        if emb in TEXT_AUDIO:
            from metrics.embedders.clap_score import TOKENIZER, load_tokenizer

            try:
                load_tokenizer(cfg.get("tokenizer") or TOKENIZER)
            except WeightsNotFoundError as exc:
                missing[f"tokenizer:{cfg.get('tokenizer') or TOKENIZER}"] = f"{emb}: {exc}"
        given = cfg.get("checkpoint")
        try:
            name, url, extra = official_file(emb)
        except ConfigError as exc:
            if given in (None, "", "None", "null"):
                missing[emb] = f"{emb}: {exc}"
                continue
            name, url, extra = "?", "?", []
        if given not in (None, "", "None", "null"):
            if not Path(os.path.expanduser(str(given))).is_file():
                missing[str(given)] = f"{emb}: {given} (the checkpoint given; official file {name} from {url})"
            continue
        candidates = [weights_dir(cache_dir) / name, *(Path(d) / name for d in extra)]
        if not any(c.is_file() for c in candidates):
            missing[name] = f"{emb}: {name} from {url} → {candidates[0]}"
    if missing:
        raise WeightsNotFoundError(
            f"{len(missing)} pretrained weights file(s) missing (nothing was computed):\n  "
            + "\n  ".join(missing.values())
            + "\nDownload each to the path shown (or pass checkpoint=…), or use weights=random (tests only).")


def official_file(embedder: str) -> tuple[str, str, list[Path]]:
    """(official file name, URL, extra folders searched) of an embedder's pretrained weights, as its
    `EmbedderSpec` declares them."""
    spec = embedders.embedder_spec(embedder)
    if spec.official_weights is None:
        raise ConfigError(f"embedder {embedder!r} declares no official weights file (its EmbedderSpec's "
                          "official_weights); pass checkpoint=PATH or weights=random")
    name, url = spec.official_weights
    return name, url, spec.weights_folders()


__all__ = ["Preset", "PRESETS", "DEFAULT_PRESET", "get_preset", "unavailable_reason", "available_presets", "preset_metric_configs", "check_preset_weights",
           "official_file"]
