"""Stand-in for CDCD's inference/inference_aist.py: the VQ_Diffusion class the driver uses.

`model.generate_content(batch, filter_ratio, ...)` returns the batch's ground-truth music when
filter_ratio > 0 (the real sampler starts from the reference's tokens then) and a 523 Hz tone
from the full mask (filter_ratio = 0), 6 s at 22.05 kHz.
"""
import os
import sys

sys.path.append(os.path.join(os.path.dirname(__file__), "../"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
import common  # noqa: E402
import torch  # noqa: E402


class _Model:
    def generate_content(self, batch, filter_ratio=0.5, replicate=1, content_ratio=1, return_att_weight=False,
                         sample_type="top0.85r"):
        assert batch["genre"].shape[0] == 1 and batch["motion"].dim() >= 2 and "condiation_mask" in batch
        if filter_ratio > 0:
            content = batch["music"].reshape(-1)
        else:
            content = torch.from_numpy(common.tone(6.0, 22050, 523.0))
        return {"content": content}


class VQ_Diffusion:
    def __init__(self, config, path):
        for f in (config, path):
            if not os.path.isfile(f):
                raise FileNotFoundError(f)
        self.model = _Model()
