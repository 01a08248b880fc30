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

from bench.errors import ConfigError, UnknownNameError, WeightsNotFoundError


@dataclass(frozen=True)
class Preset:
    name: str
    peer: str
    #: metric key → config (without weights/checkpoint, which the caller sets)
    metrics: dict[str, dict] = field(default_factory=dict)
    description: str = ""
    #: why the preset cannot run here (an embedder not built), or None
    unavailable: str | None = None
    #: how its numbers were checked against the peer's own code
    parity: str = ""


_AUDIOLDM_EVAL = "audioldm_eval 0.0.3"
_FADTK = "fadtk 1.1.0"


def _audioldm(rate: int) -> dict[str, dict]:
    return {"fd": {"name": "fd", "sample_rate": rate}, "fad": {"name": "fad", "embedder": "vggish"},
            "kl": {"name": "kl", "sample_rate": rate}, "is": {"name": "is", "sample_rate": rate}}


def _fadtk(embedder: str) -> dict[str, dict]:
    return {"fad": {"name": "fad", "embedder": embedder},
            "fad_inf": {"name": "fad_inf", "embedder": embedder, "steps": 25, "min_n": 500},
            "fad_clip": {"name": "fad_clip", "embedder": embedder}}


PRESETS: dict[str, Preset] = {p.name: p for p in [
    Preset("audioldm_eval-0.0.3", _AUDIOLDM_EVAL, _audioldm(16000),
           "FD (Cnn14 2048-d), FAD (VGGish), KL softmax/sigmoid and IS (Cnn14 logits) at 16 kHz — the paper's "
           "protocol and the default",
           parity="live: scripts/reference_eval.py in scripts/reference_env.sh (tests/metrics/test_parity.py, "
                  "bench perf metrics)"),
    Preset("audioldm_eval-0.0.3-32k", _AUDIOLDM_EVAL, _audioldm(32000),
           "the same at 32 kHz (EvaluationHelper(32000): Cnn14_mAP=0.431.pth)",
           parity="live, as audioldm_eval-0.0.3 with --sample-rate 32000"),
    Preset("audioldm_eval-main", "audioldm_eval GitHub main (8dc07ee)",
           {"fd": {"name": "fd"}, "kl": {"name": "kl"}, "is": {"name": "is"}, "kid": {"name": "kid"}},
           "MERT-v1-95M (all 13 hidden states, time-averaged) as the '2048' and 'logits' features; KID code "
           "present but its call is commented out in eval.py",
           unavailable="MERT embedder not built here (m-a-p/MERT-v1-95M's model code is remote code on the HF hub)"),
    Preset("fadtk-encodec", _FADTK, _fadtk("encodec_24k"),
           "FAD, FAD∞ and per-song FAD on EnCodec 24 kHz encoder frames (fadtk's encodec-emb)",
           parity="live: fadtk's own EncodecEmbModel + encodec 0.1.1 and its score/score_inf/score_individual "
                  "(tests/metrics/test_encodec.py, test_small_sample.py; bench perf metrics --suite fadtk-encodec)"),
    Preset("fadtk-encodec-48k", _FADTK, _fadtk("encodec_48k"),
           "the same on EnCodec 48 kHz (encodec-emb-48k: stereo, 1 s segments, no loudness normalisation)",
           parity="live, as fadtk-encodec"),
    Preset("fadtk-vggish", _FADTK, _fadtk("vggish"), "FAD on VGGish with fadtk's front end",
           unavailable="fadtk's VGGish front end (Kaiser resampling to 16 kHz, 16-bit round trip) is not built; "
                       "our vggish embedder follows audioldm_eval's (resampy)"),
    Preset("fadtk-clap", _FADTK, {}, "FAD on LAION-CLAP music/audio (10 s windows, 1 s hop)",
           unavailable="LAION-CLAP embedder not built here"),
    Preset("fadtk-mert", _FADTK, {}, "FAD on MERT-v1-95M layer 1–12",
           unavailable="MERT embedder not built here"),
    Preset("stable-audio-metrics", "stable-audio-metrics", {},
           "FD on OpenL3 (mel256, music, 512-d, 48 kHz), KL on PaSST, CLAP score",
           unavailable="OpenL3, PaSST and CLAP embedders not built here"),
    Preset("audiocraft", "audiocraft", {}, "FAD (VGGish, TF), KLD on PaSST, CLAP score",
           unavailable="PaSST and CLAP embedders not built here"),
]}

DEFAULT_PRESET = "audioldm_eval-0.0.3"


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise UnknownNameError("metric preset", name, list(PRESETS))
    preset = PRESETS[name]
    if preset.unavailable:
        raise ConfigError(f"metric preset {name!r} ({preset.peer}) cannot run here: {preset.unavailable}. "
                          f"Available: {', '.join(p for p, v in PRESETS.items() if not v.unavailable)}")
    return preset


def preset_metric_configs(name: str, weights: str = "pretrained", checkpoints: dict[str, str] | None = None
                          ) -> dict[str, dict]:
    """The preset's metric configs, each stamped with ``preset`` (stored with every row).
    `checkpoints`: embedder name → weights file, for `weights="pretrained"` files outside
    ``<cache_dir>/weights/``."""
    from metrics.embedding_metrics import embedder_of

    preset = get_preset(name)
    out = {}
    for key, cfg in preset.metrics.items():
        cfg = {**cfg, "weights": weights, "preset": name}
        emb = embedder_of(cfg)
        if checkpoints and emb in checkpoints:
            cfg["checkpoint"] = str(checkpoints[emb])
        out[key] = cfg
    return out


def check_preset_weights(configs: dict[str, dict], cache_dir: str | os.PathLike | None = None) -> None:
    """Raise one WeightsNotFoundError naming every pretrained weights file the configs need and that
    is absent (with its URL), before any audio is read or model built. Downloads nothing."""
    from metrics.embedders.weights import weights_dir
    from metrics.embedding_metrics import embedder_of

    missing: dict[str, str] = {}
    for cfg in configs.values():
        if cfg.get("weights", "pretrained") != "pretrained":
            continue
        emb = embedder_of(cfg)
        name, url, extra = official_file(emb)
        given = cfg.get("checkpoint")
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
    """(official file name, URL, extra folders searched) of an embedder's pretrained weights."""
    if embedder.startswith("cnn14"):
        from metrics.embedders.cnn14 import OFFICIAL_FILES

        name, url = OFFICIAL_FILES[16000 if embedder == "cnn14_16k" else 32000]
        return name, url, []
    if embedder == "vggish":
        from metrics.embedders.vggish import VGGISH_FILE, VGGISH_URL, _torch_hub_checkpoints

        return VGGISH_FILE, VGGISH_URL, [_torch_hub_checkpoints()]
    if embedder.startswith("encodec"):
        from metrics.embedders.encodec import OFFICIAL_FILES

        name, url = OFFICIAL_FILES[24000 if embedder == "encodec_24k" else 48000]
        return name, url, []
    raise ConfigError(f"unknown embedder {embedder!r}")


__all__ = ["Preset", "PRESETS", "DEFAULT_PRESET", "get_preset", "preset_metric_configs", "check_preset_weights",
           "official_file"]
