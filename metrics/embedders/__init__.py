"""Audio embedders of the FD/FAD/KL/IS metrics, reproducing haoheliu/audioldm_eval 0.0.3's
(DESIGN.md §8): PANNs Cnn14 at 16 or 32 kHz ("embedding" 2048 + pre-sigmoid "logits" 527 per file)
and VGGish (128-d "frames", one per 0.96 s).

Every embedder has ``embed_file(path) -> dict``, ``embed_files(paths, cache=None) -> list[dict]``
(cached per file content + ``config()``, which names the weights file's sha256 or ``random:<seed>``)
and ``describe()``. ``weights="pretrained"`` needs the official files (or ``checkpoint=``);
``weights="random"`` is seeded, for tests and CI.
"""

from __future__ import annotations

from core.errors import UnknownNameError
from metrics.embedders.cnn14 import Cnn14Embedder
from metrics.embedders.clap import VARIANTS as _CLAP_VARIANTS
from metrics.embedders.clap import ClapEmbedder
from metrics.embedders.encodec import EncodecEmbedder
from metrics.embedders.mert import MertEmbedder
from metrics.embedders.mert import official_file as _mert_file
from metrics.embedders.openl3 import OFFICIAL_FILE as _OPENL3_FILE
from metrics.embedders.openl3 import OpenL3Embedder
from metrics.embedders.passt import OFFICIAL_FILE as _PASST_FILE
from metrics.embedders.passt import PasstEmbedder
from metrics.embedders.vggish import VGGishEmbedder

EMBEDDERS = {
    "cnn14_16k": lambda **kw: Cnn14Embedder(sample_rate=16000, **kw),
    "cnn14_32k": lambda **kw: Cnn14Embedder(sample_rate=32000, **kw),
    "vggish": lambda **kw: VGGishEmbedder(**kw),
    "encodec_24k": lambda **kw: EncodecEmbedder(sample_rate=24000, **kw),
    "encodec_48k": lambda **kw: EncodecEmbedder(sample_rate=48000, **kw),
    "passt": lambda **kw: PasstEmbedder(**kw),
    "passt_audiocraft": lambda **kw: PasstEmbedder(protocol="audiocraft", **kw),
    "openl3_mel256_music_512": lambda **kw: OpenL3Embedder(channels=1, **kw),
    "openl3_mel256_music_1024_stereo": lambda **kw: OpenL3Embedder(channels=2, **kw),
    "clap_music": lambda **kw: ClapEmbedder(variant="music", **kw),
    "clap_general": lambda **kw: ClapEmbedder(variant="general", **kw),
    "mert_95m": lambda **kw: MertEmbedder(size="95M", **kw),
    "mert_330m": lambda **kw: MertEmbedder(size="330M", **kw),
}

#: what each embedder is, for `bench metrics list`: (dims per row, rows per file, peer tool, official file)
EMBEDDER_INFO = {
    "cnn14_16k": ("2048 + 527 logits", "1 per clip", "audioldm_eval 0.0.3 (16 kHz)", "Cnn14_16k_mAP=0.438.pth"),
    "cnn14_32k": ("2048 + 527 logits", "1 per clip", "audioldm_eval 0.0.3 (32 kHz)", "Cnn14_mAP=0.431.pth"),
    "vggish": ("128", "1 per 0.96 s", "audioldm_eval 0.0.3 FAD / fadtk vggish", "vggish-10086976.pth"),
    "encodec_24k": ("128 (float16)", "75 per s", "fadtk 1.1.0 encodec-emb", "encodec_24khz-d7cc33bc.th"),
    "encodec_48k": ("128 (float16)", "150 per s", "fadtk 1.1.0 encodec-emb-48k", "encodec_48khz-7e698e3e.th"),
    "passt": ("768 + 527 logits", "1 per clip (mean of 10 s windows, 5 s hop)", "stable-audio-metrics passt_kld",
              _PASST_FILE[0]),
    "passt_audiocraft": ("768 + 527 logits (+ per-segment logits)", "1 per clip + 1 per 10 s segment",
                         "audiocraft PasstKLDivergenceMetric", _PASST_FILE[0]),
    "openl3_mel256_music_512": ("512", "1 per 0.5 s", "stable-audio-metrics openl3_fd (channels=1, 48 kHz)",
                                _OPENL3_FILE[0]),
    "openl3_mel256_music_1024_stereo": ("1024 (L ‖ R)", "1 per 0.5 s",
                                        "stable-audio-metrics openl3_fd (channels=2, 48 kHz)", _OPENL3_FILE[0]),
    "clap_music": ("512 (float16, unit norm)", "1 per s (10 s windows)", "fadtk 1.1.0 clap-laion-music",
                   _CLAP_VARIANTS["music"][1]),
    "clap_general": ("512 (float16, unit norm)", "1 per s (10 s windows)", "fadtk 1.1.0 clap-laion-audio",
                     _CLAP_VARIANTS["general"][1]),
    "mert_95m": ("768 (float16; + 13 layer means)", "75 per s", "fadtk 1.1.0 MERT-v1-95M (layer 12) / audioldm_eval main",
                 _mert_file("95M")[0]),
    "mert_330m": ("1024 (float16; + 25 layer means)", "75 per s", "fadtk MERTModel('v1-330M') (layer 12)",
                  _mert_file("330M")[0]),
}

#: official weight files of the newer embedders (name → (file, where to get it)), for presets
OFFICIAL_WEIGHTS = {
    "passt": _PASST_FILE,
    "passt_audiocraft": _PASST_FILE,
    "openl3_mel256_music_512": _OPENL3_FILE,
    "openl3_mel256_music_1024_stereo": _OPENL3_FILE,
    "clap_music": _CLAP_VARIANTS["music"][1:3],
    "clap_general": _CLAP_VARIANTS["general"][1:3],
    "mert_95m": _mert_file("95M"),
    "mert_330m": _mert_file("330M"),
}


def make_embedder(name: str, **kwargs):
    """An embedder by registry name (a key of EMBEDDERS)."""
    if name not in EMBEDDERS:
        raise UnknownNameError("embedder", name, list(EMBEDDERS))
    return EMBEDDERS[name](**kwargs)


__all__ = ["Cnn14Embedder", "VGGishEmbedder", "EncodecEmbedder", "PasstEmbedder", "OpenL3Embedder", "ClapEmbedder",
           "MertEmbedder", "OFFICIAL_WEIGHTS", "make_embedder", "EMBEDDERS", "EMBEDDER_INFO"]
