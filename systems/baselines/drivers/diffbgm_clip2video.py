"""Diff-BGM's visual features of one video: CLIP2Video's frame embeddings, saved with torch.save.

    python diffbgm_clip2video.py --video SONG.mp4 --out SONG.pth --repo CLIP2VIDEO_CHECKOUT \
        --clip-path ViT-B-32.pt [--checkpoint DIR --model-num 2] [--fps 1] [--device cuda]

What Diff-BGM reads (sizhelee/Diff-BGM at c5a0e8a2d589142ce5951d99c1627fd7d523411c):
`README.md` names VideoCLIP, linking CryhanFang/CLIP2Video, for the video features;
`diffbgm/data/dataset.py` (`DataSampleNpz.__init__`) does
`torch.load('./data/bgm909/new_raw_video_feats/<id>.pth')`, takes rows `int(i * n / n_chords)`
for each of the song's chord steps (one a beat) with `visual[idx, :]`, so the file holds one
2-D tensor (frames x d) at any frame rate; `result/params.json` has `d_cond: 512` and
`diffbgm/models/model_sdf.py` projects only the 768-d captions to 512, so d = 512 (CLIP
ViT-B/32's embedding size).

How it is made here, with CLIP2Video's own modules (CryhanFang/CLIP2Video at
e94131800a3a1434f6d00b89b7301d741db8ba06; the repository github:CLIP2Video/CLIP2Video named in
some references is not published): `utils/config.py` `get_args` (CLIP2Video's options, given
the flags of `test/MSRVTT9k_TAB_TDB.sh`), `modules/modeling.py` `CLIP2Video.from_pretrained`
(loads `--clip_path`, the ViT-B/32 file its README links, and the trained
`<checkpoint>/pytorch_model.bin.<model_num>` when there is one: as `infer_retrieval.py`
`init_model`), `dataloaders/rawframe_util.py` `RawFrameExtractor` (its 224 px bicubic resize,
centre crop and CLIP normalisation) and `get_visual_output(video, mask, shaped=True)`: the
per-frame CLIP embeddings ("raw": before CLIP2Video's temporal blocks, which only act in its
similarity head). Frames are sampled at `--fps` (CLIP2Video's `--feature_framerate` default is
1; Diff-BGM does not publish its rate and resamples the rows to the beats anyway).
On CPU the model is run in float32 (CLIP2Video casts CLIP to float16, which CPUs lack kernels for).
"""

import argparse
import os
import sys

from video_frames import frames  # this folder is the script's sys.path[0]

# The flags of CLIP2Video's test/MSRVTT9k_TAB_TDB.sh (the model as its checkpoints were trained)
TEST_FLAGS = ["--max_words", "32", "--max_frames", "12", "--feature_framerate", "2", "--sim_type", "seqTransf",
              "--temporal_type", "TDB", "--temporal_proj", "sigmoid_selfA", "--center_type", "TAB", "--centerK", "5",
              "--center_weight", "0.5", "--center_proj", "TAB_TDB", "--datatype", "msrvtt"]


def _blank(value):
    return value is None or str(value).strip() in ("", "None", "null")


def clip2video_args(repo, clip_path, checkpoint, model_num, out_dir):
    """CLIP2Video's own option namespace (utils/config.py), as its test scripts set it."""
    from utils.config import get_args

    argv = ["infer_retrieval.py", "--output_dir", out_dir, "--clip_path", clip_path] + TEST_FLAGS
    if not _blank(checkpoint):
        argv += ["--checkpoint", checkpoint, "--model_num", str(model_num)]
    saved, sys.argv = sys.argv, argv
    try:
        return get_args()
    finally:
        sys.argv = saved


def load_model(args, device):
    """As CLIP2Video's infer_retrieval.init_model: trained weights if present, else CLIP's."""
    import torch
    from modules.modeling import CLIP2Video

    state = None
    model_file = os.path.join(args.checkpoint, "pytorch_model.bin.%s" % args.model_num) if args.checkpoint else ""
    if model_file:
        if not os.path.isfile(model_file):
            raise SystemExit("diffbgm_clip2video: %s not found (--checkpoint/--model-num)" % model_file)
        state = torch.load(model_file, map_location="cpu")
    model = CLIP2Video.from_pretrained(args.cross_model, cache_dir=None, state_dict=state, task_config=args)
    if device == "cpu":
        model = model.float()
    return model.to(device).eval(), (model_file or "CLIP weights only (%s)" % args.clip_path)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--video", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--repo", required=True, help="a CLIP2Video checkout (CryhanFang/CLIP2Video)")
    p.add_argument("--clip-path", required=True, help="CLIP ViT-B/32 weights (ViT-B-32.pt)")
    p.add_argument("--checkpoint", default=None, help="a CLIP2Video checkpoint folder; none: CLIP's weights")
    p.add_argument("--model-num", default="2")
    p.add_argument("--fps", type=float, default=1.0)
    p.add_argument("--device", default="cuda")
    p.add_argument("--batch", type=int, default=64, help="frames per forward pass")
    a = p.parse_args()
    if not os.path.isfile(os.path.join(a.repo, "modules", "modeling.py")):
        raise SystemExit("diffbgm_clip2video: %s is not a CLIP2Video checkout (no modules/modeling.py)" % a.repo)
    if not os.path.isfile(a.clip_path):
        raise SystemExit("diffbgm_clip2video: CLIP weights %s not found (CLIP2Video's README links ViT-B-32.pt)"
                         % a.clip_path)
    sys.path.insert(0, os.path.abspath(a.repo))  # its packages (modules, utils, dataloaders) come first
    import torch
    from dataloaders.rawframe_util import RawFrameExtractor
    from PIL import Image

    device = a.device if (a.device == "cpu" or torch.cuda.is_available()) else "cpu"
    args = clip2video_args(a.repo, a.clip_path, a.checkpoint, a.model_num, os.path.dirname(os.path.abspath(a.out)))
    model, weights = load_model(args, device)
    transform = RawFrameExtractor(size=224).transform
    pixels = [transform(Image.fromarray(f)) for f in frames(a.video, a.fps)]
    if not pixels:
        raise SystemExit("diffbgm_clip2video: no frames decoded from %s" % a.video)
    feats = []
    with torch.no_grad():
        for i in range(0, len(pixels), a.batch):
            chunk = torch.stack(pixels[i:i + a.batch]).to(device)
            mask = torch.ones(1, chunk.shape[0], dtype=torch.long, device=device)
            out = model.get_visual_output(chunk, mask, shaped=True, video_frame=chunk.shape[0])
            feats.append(out.reshape(-1, out.shape[-1]).float().cpu())
    visual = torch.cat(feats)
    torch.save(visual, a.out)
    print("clip2video: %d frames at %g fps -> %s %s (%s)" % (len(pixels), a.fps, a.out, tuple(visual.shape), weights))


if __name__ == "__main__":
    main()
