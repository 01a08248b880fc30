"""Stand-in for CLIP2Video's dataloaders/rawframe_util.py: RawFrameExtractor's transform (resize
the short side to `size`, centre crop, CLIP normalisation), without torchvision."""
import numpy as np
import torch
from PIL import Image

MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)


class RawFrameExtractor:
    def __init__(self, centercrop=False, size=224, framerate=-1, train="subset"):
        self.size = size
        self.transform = self._transform

    def _transform(self, image):
        w, h = image.size
        s = self.size / min(w, h)
        image = image.resize((max(self.size, round(w * s)), max(self.size, round(h * s))), Image.BICUBIC)
        w, h = image.size
        left, top = (w - self.size) // 2, (h - self.size) // 2
        image = image.crop((left, top, left + self.size, top + self.size))
        x = (np.asarray(image, np.float32) / 255.0 - MEAN) / STD
        return torch.from_numpy(x.transpose(2, 0, 1).copy())
