"""Stand-in for TransNetV2's inference-pytorch/transnetv2_pytorch.py: `TransNetV2()` whose
`forward` takes uint8 frames [batch, 100, 27, 48, 3] (RGB) and returns (single-frame logits
[batch, 100, 1], {"many_hot": ...}). Here a frame is a transition when the next frame's mean
colour differs by more than the loaded `threshold` (as the real model marks the last frame
before a hard cut)."""
import torch
import torch.nn.functional as F
from torch import nn


class TransNetV2(nn.Module):
    def __init__(self):
        super().__init__()
        self.threshold = nn.Parameter(torch.tensor(1000.0))  # set by the weights file

    def forward(self, inputs):
        assert isinstance(inputs, torch.Tensor) and inputs.dtype == torch.uint8, inputs.dtype
        assert inputs.dim() == 5 and tuple(inputs.shape[2:]) == (27, 48, 3), inputs.shape
        assert inputs.shape[1] == 100, "TransNetV2 windows are 100 frames"
        means = inputs.float().mean(dim=(2, 3, 4))  # (batch, frames)
        diff = F.pad((means[:, 1:] - means[:, :-1]).abs(), (0, 1))
        logits = torch.where(diff > self.threshold, torch.tensor(8.0), torch.tensor(-8.0)).unsqueeze(-1)
        return logits, {"many_hot": logits}
