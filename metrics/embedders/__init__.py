"""Audio embedders of the FD/FAD/KL/IS metrics, reproducing haoheliu/audioldm_eval 0.0.3's
(DESIGN.md §8): PANNs Cnn14 at 16 or 32 kHz ("embedding" 2048 + pre-sigmoid "logits" 527 per file)
and VGGish (128-d "frames", one per 0.96 s); and fadtk's, stable-audio-metrics' and audiocraft's
(EnCodec, CLAP, MERT, PaSST, OpenL3).

Every embedder has ``embed_file(path) -> dict``, ``embed_files(paths, cache=None) -> list[dict]``
(cached per file content + ``config()``, which names the weights file's sha256 or ``random:<seed>``)
and ``describe()``. ``weights="pretrained"`` needs the official files (or ``checkpoint=``);
``weights="random"`` is seeded, for tests and CI.

Embedders are named on the one `core.registry.Registry` (`EMBEDDERS`): the built-ins in
`BUILTIN_EMBEDDERS`, a plug-in through the ``dyvim_bench.embedders`` entry point group (its class or
factory) or `EMBEDDERS.register`. Nothing here imports torch until an embedder is loaded.
"""

from __future__ import annotations

from core.registry import Registry, import_target
from metrics.embedders.spec import EmbedderSpec, as_spec

ENTRY_POINT_GROUP = "dyvim_bench.embedders"

#: Every built-in embedder, name → its `EmbedderSpec` in metrics.embedders.catalog (imported when asked for)
BUILTIN_EMBEDDERS: dict[str, str] = {name: f"metrics.embedders.catalog:{name}" for name in (
    "cnn14_16k", "cnn14_32k", "vggish", "vggish_fadtk", "vggish_audiocraft", "encodec_24k", "encodec_48k", "passt", "passt_audiocraft",
    "openl3_mel256_music_512", "openl3_mel256_music_1024_stereo", "clap_music", "clap_general",
    "mert_95m", "mert_330m", "clap_score_sam", "clap_score_audiocraft")}


EMBEDDERS: Registry[EmbedderSpec] = Registry("embedder", BUILTIN_EMBEDDERS, entry_point_group=ENTRY_POINT_GROUP,
                                             on_load=as_spec)


def embedder_spec(name: str) -> EmbedderSpec:
    """The `EmbedderSpec` of a registered embedder (UnknownNameError listing the known ones)."""
    return EMBEDDERS.load(name)


def make_embedder(name: str, **kwargs):
    """An embedder by registry name, built with `kwargs` (weights=, checkpoint=, device=, …)."""
    return embedder_spec(name).build(**kwargs)


# the embedder classes, importable from here as before, each loaded (with torch) on first use
_CLASSES = {
    "Cnn14Embedder": "metrics.embedders.cnn14:Cnn14Embedder",
    "VGGishEmbedder": "metrics.embedders.vggish:VGGishEmbedder",
    "EncodecEmbedder": "metrics.embedders.encodec:EncodecEmbedder",
    "PasstEmbedder": "metrics.embedders.passt:PasstEmbedder",
    "OpenL3Embedder": "metrics.embedders.openl3:OpenL3Embedder",
    "ClapEmbedder": "metrics.embedders.clap:ClapEmbedder",
    "MertEmbedder": "metrics.embedders.mert:MertEmbedder",
}


def __getattr__(attr: str):
    if attr in _CLASSES:
        return import_target(_CLASSES[attr], "embedder class", attr)
    raise AttributeError(f"module 'metrics.embedders' has no attribute {attr!r}")


__all__ = [*_CLASSES, "BUILTIN_EMBEDDERS", "EMBEDDERS", "EmbedderSpec", "ENTRY_POINT_GROUP", "embedder_spec", "make_embedder"]
