"""Stand-in for CLIP2Video's modules/modeling.py: `CLIP2Video.from_pretrained(cross_model_name,
cache_dir, state_dict, task_config)` loads CLIP from `task_config.clip_path` (as
`CLIP.get_config`) and `get_visual_output(video, video_mask, shaped=True, video_frame=n)` returns
(1, n, 512) frame embeddings: here a fixed projection of each frame's mean colour."""
import sys

import torch
from torch import nn


class CLIP2Video(nn.Module):
    def __init__(self, proj, task_config):
        super().__init__()
        self.proj = nn.Parameter(proj.float())
        self.task_config = task_config

    @classmethod
    def from_pretrained(cls, cross_model_name, state_dict=None, cache_dir=None, type_vocab_size=2, *inputs, **kwargs):
        cfg = kwargs["task_config"]
        clip = torch.load(cfg.clip_path, map_location="cpu")  # RuntimeError if it is missing, as CLIP.get_config
        if state_dict is not None:
            clip = {**clip, **{k[len("clip."):]: v for k, v in state_dict.items() if k.startswith("clip.")}}
        print("stand-in clip2video: cross=%s sim_type=%s temporal_type=%s center_proj=%s checkpoint=%s"
              % (cross_model_name, cfg.sim_type, cfg.temporal_type, cfg.center_proj, cfg.checkpoint or "-"))
        sys.stdout.flush()
        return cls(clip["visual.proj"], cfg)

    def get_visual_output(self, video, video_mask, shaped=False, video_frame=-1):
        assert shaped and video.dim() == 4 and video.shape[1:] == (3, 224, 224), video.shape
        assert video_mask.shape == (1, video.shape[0]), video_mask.shape
        means = video.float().mean(dim=(2, 3))  # (n, 3)
        return (means @ self.proj).view(video_mask.size(0), -1, self.proj.shape[-1])
