"""Audio embedders of the FD/FAD/KL/IS metrics, reproducing haoheliu/audioldm_eval 0.0.3's
(DESIGN.md §8): PANNs Cnn14 at 16 or 32 kHz ("embedding" 2048 + pre-sigmoid "logits" 527 per file)
and VGGish (128-d "frames", one per 0.96 s).

Every embedder has ``embed_file(path) -> dict``, ``embed_files(paths, cache=None) -> list[dict]``
(cached per file content + ``config()``, which names the weights file's sha256 or ``random:<seed>``)
and ``describe()``. ``weights="pretrained"`` needs the official files (or ``checkpoint=``);
``weights="random"`` is seeded, for tests and CI.
"""

from __future__ import annotations

from bench.errors import UnknownNameError
from metrics.embedders.cnn14 import Cnn14Embedder
from metrics.embedders.vggish import VGGishEmbedder

EMBEDDERS = {
    "cnn14_16k": lambda **kw: Cnn14Embedder(sample_rate=16000, **kw),
    "cnn14_32k": lambda **kw: Cnn14Embedder(sample_rate=32000, **kw),
    "vggish": lambda **kw: VGGishEmbedder(**kw),
}


def make_embedder(name: str, **kwargs):
    """An embedder by registry name: ``cnn14_16k``, ``cnn14_32k`` or ``vggish``."""
    if name not in EMBEDDERS:
        raise UnknownNameError("embedder", name, list(EMBEDDERS))
    return EMBEDDERS[name](**kwargs)


__all__ = ["Cnn14Embedder", "VGGishEmbedder", "make_embedder", "EMBEDDERS"]
