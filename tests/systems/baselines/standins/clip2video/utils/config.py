"""Stand-in for CLIP2Video's utils/config.py: its option parser (the options the driver sets)."""
import argparse


def get_args(description="CLIP2Video stand-in"):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--output_dir", required=True)
    p.add_argument("--clip_path", default="/data/ceph_11015/ssd/howiefang/videoCLIP/CLIP2Clip/ViT-B-32.pt")
    p.add_argument("--checkpoint", default="")
    p.add_argument("--model_num", default="")
    p.add_argument("--cross_model", default="cross-base")
    p.add_argument("--local_rank", type=int, default=0)
    p.add_argument("--max_words", type=int, default=32)
    p.add_argument("--max_frames", type=int, default=100)
    p.add_argument("--feature_framerate", type=int, default=1)
    p.add_argument("--sim_type", default="meanP", choices=["meanP", "seqTransf"])
    p.add_argument("--datatype", default="msrvtt")
    p.add_argument("--temporal_type", default="")
    p.add_argument("--temporal_proj", default="")
    p.add_argument("--center_type", default="")
    p.add_argument("--centerK", type=int, default=5)
    p.add_argument("--center_weight", type=float, default=0.5)
    p.add_argument("--center_proj", default="")
    return p.parse_args()
