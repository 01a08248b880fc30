"""The built-in embedders, one `EmbedderSpec` each: how to build it (its class with the options
that make it this embedder) and what it computes, for `bench metrics list` and the presets'
weights check.

`metrics.embedders.BUILTIN_EMBEDDERS` names these specs ("metrics.embedders.catalog:<name>"), so
this module, and with it torch and every embedder class, is imported only when an embedder is built
or described.
"""

from __future__ import annotations

from functools import partial

from metrics.embedders.clap import VARIANTS as CLAP_VARIANTS
from metrics.embedders.clap import CHECKPOINTS as CLAP_CHECKPOINTS
from metrics.embedders.clap import ClapEmbedder
from metrics.embedders.clap_score import ClapScoreEmbedder
from metrics.embedders.cnn14 import OFFICIAL_FILES as CNN14_FILES
from metrics.embedders.cnn14 import Cnn14Embedder
from metrics.embedders.encodec import OFFICIAL_FILES as ENCODEC_FILES
from metrics.embedders.encodec import EncodecEmbedder
from metrics.embedders.mert import MertEmbedder
from metrics.embedders.mert import official_file as mert_file
from metrics.embedders.openl3 import OFFICIAL_FILE as OPENL3_FILE
from metrics.embedders.openl3 import OpenL3Embedder
from metrics.embedders.passt import OFFICIAL_FILE as PASST_FILE
from metrics.embedders.passt import PasstEmbedder
from metrics.embedders.spec import EmbedderSpec
from metrics.embedders.vggish import (TF_VGGISH_FILE, TF_VGGISH_URL, VGGISH_FILE, VGGISH_URL,
                                      AudiocraftVGGishEmbedder, FadtkVGGishEmbedder, VGGishEmbedder,
                                      _torch_hub_checkpoints)

cnn14_16k = EmbedderSpec(partial(Cnn14Embedder, sample_rate=16000), "2048 + 527 logits", "1 per clip",
                         "audioldm_eval 0.0.3 (16 kHz)", CNN14_FILES[16000])
cnn14_32k = EmbedderSpec(partial(Cnn14Embedder, sample_rate=32000), "2048 + 527 logits", "1 per clip",
                         "audioldm_eval 0.0.3 (32 kHz)", CNN14_FILES[32000])
vggish = EmbedderSpec(VGGishEmbedder, "128", "1 per 0.96 s", "audioldm_eval 0.0.3 FAD",
                      (VGGISH_FILE, VGGISH_URL), lambda: [_torch_hub_checkpoints()])
vggish_fadtk = EmbedderSpec(FadtkVGGishEmbedder, "128 (float16)", "1 per 0.96 s (≥ 1: padded to 1 s)",
                            "fadtk 1.1.0 vggish (Kaiser 16 kHz, 16-bit)", (VGGISH_FILE, VGGISH_URL),
                            lambda: [_torch_hub_checkpoints()])
vggish_audiocraft = EmbedderSpec(AudiocraftVGGishEmbedder, "128", "1 per 0.5 s (1 s windows; none under 1 s)",
                                 "audiocraft 1.3.0 FAD (Google's TF VGGish frechet_audio_distance)",
                                 (TF_VGGISH_FILE, TF_VGGISH_URL))
encodec_24k = EmbedderSpec(partial(EncodecEmbedder, sample_rate=24000), "128 (float16)", "75 per s",
                           "fadtk 1.1.0 encodec-emb", ENCODEC_FILES[24000])
encodec_48k = EmbedderSpec(partial(EncodecEmbedder, sample_rate=48000), "128 (float16)", "150 per s",
                           "fadtk 1.1.0 encodec-emb-48k", ENCODEC_FILES[48000])
passt = EmbedderSpec(PasstEmbedder, "768 + 527 logits", "1 per clip (mean of 10 s windows, 5 s hop)",
                     "stable-audio-metrics passt_kld", PASST_FILE)
passt_audiocraft = EmbedderSpec(partial(PasstEmbedder, protocol="audiocraft"),
                                "768 + 527 logits (+ per-segment logits)", "1 per clip + 1 per 10 s segment",
                                "audiocraft PasstKLDivergenceMetric", PASST_FILE)
openl3_mel256_music_512 = EmbedderSpec(partial(OpenL3Embedder, channels=1), "512", "1 per 0.5 s",
                                       "stable-audio-metrics openl3_fd (channels=1, 48 kHz)", OPENL3_FILE)
openl3_mel256_music_1024_stereo = EmbedderSpec(partial(OpenL3Embedder, channels=2), "1024 (L ‖ R)", "1 per 0.5 s",
                                               "stable-audio-metrics openl3_fd (channels=2, 48 kHz)", OPENL3_FILE)
clap_music = EmbedderSpec(partial(ClapEmbedder, variant="music"), "512 (float16, unit norm)",
                          "1 per s (10 s windows)", "fadtk 1.1.0 clap-laion-music", CLAP_VARIANTS["music"][1:3])
clap_general = EmbedderSpec(partial(ClapEmbedder, variant="general"), "512 (float16, unit norm)",
                            "1 per s (10 s windows)", "fadtk 1.1.0 clap-laion-audio", CLAP_VARIANTS["general"][1:3])
mert_95m = EmbedderSpec(partial(MertEmbedder, size="95M"), "768 (float16; + 13 layer means)", "75 per s",
                        "fadtk 1.1.0 MERT-v1-95M (layer 12) / audioldm_eval main", mert_file("95M"))
mert_330m = EmbedderSpec(partial(MertEmbedder, size="330M"), "1024 (float16; + 25 layer means)", "75 per s",
                         "fadtk MERTModel('v1-330M') (layer 12)", mert_file("330M"))
clap_score_sam = EmbedderSpec(partial(ClapScoreEmbedder, protocol="stable-audio-metrics"),
                              "512 (unit norm) + text 512", "1 per clip (≤ 10 s repeat-padded; longer: fusion)",
                              "stable-audio-metrics clap_score (630k-audioset-fusion-best.pt)",
                              CLAP_CHECKPOINTS["fusion"][1:3])
clap_score_audiocraft = EmbedderSpec(partial(ClapScoreEmbedder, protocol="audiocraft"), "512 (unit norm) + text 512",
                                     "1 per clip (≤ 10 s repeat-padded; longer: a random 10 s crop)",
                                     "audiocraft 1.3.0 CLAPTextConsistencyMetric (music_audioset_epoch_15_esc_90.14.pt)",
                                     CLAP_CHECKPOINTS["music"][1:3])
