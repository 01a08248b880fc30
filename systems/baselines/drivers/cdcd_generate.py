"""Generate CDCD samples for listed AIST++ segments without the ground-truth leak.

    python cdcd_generate.py --repo REPO --config REPO/configs/aist.yaml --checkpoint CKPT \
        --segments segments.json --genres genres.npy [--filter-ratio 0] [--truncation 0.86]

`segments.json`: [{"name", "music", "motion", "video", "genre_row", "out"}, ...]. The model is
built by the repository's own `VQ_Diffusion` (inference/inference_aist.py); each segment is
loaded and passed to `model.generate_content` as `VQ_Diffusion.inference_music` does, except for
`filter_ratio` (0: start from the fully masked sequence; the script's 0.1 starts from the
reference's tokens). The output gets the script's `noisereduce` pass and is written at 22.05 kHz.
"""

import argparse
import json
import os
import sys

# sys.path entries, relative to the repository, in order: the repository root (`synthesis`), its
# `inference/` (`inference_aist`), and `synthesis/modeling/models`, the folder the README installs
# with `pip install -e .` so that `import jukebox` (synthesis/modeling/models/jukebox/) works. That
# setup.py reads a requirements.txt the folder does not have at the pinned commit, so the install
# itself fails; putting its folder on sys.path is what the editable install would have done.
REPO_PATHS = ("", "inference", "synthesis/modeling/models")
# calls into the repository (file, function, keyword arguments): checked by `bench systems verify`
REPO_CALLS = (
    ("inference/inference_aist.py", "VQ_Diffusion.__init__", ("config", "path")),
    ("synthesis/modeling/models/d2m.py", "D2M.generate_content",
     ("batch", "filter_ratio", "replicate", "content_ratio", "return_att_weight", "sample_type")),
)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--repo", required=True)
    p.add_argument("--config", required=True)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--segments", required=True)
    p.add_argument("--genres", required=True)
    p.add_argument("--filter-ratio", type=float, default=0.0)
    p.add_argument("--truncation", type=float, default=0.86)
    a = p.parse_args()
    sys.path[0:0] = [os.path.join(os.path.abspath(a.repo), p) if p else os.path.abspath(a.repo) for p in REPO_PATHS]
    import numpy as np
    import soundfile as sf
    import torch
    from librosa.core import load

    import inference_aist

    try:
        import noisereduce
    except ImportError:
        noisereduce = None
    model = inference_aist.VQ_Diffusion(a.config, path=a.checkpoint)
    genres = np.load(a.genres)
    for item in json.load(open(a.segments)):
        music, _ = load(item["music"])  # librosa's default 22.05 kHz, as the script
        batch = {
            "music": torch.from_numpy(music).float().unsqueeze(0).unsqueeze(1),
            "motion": torch.from_numpy(np.load(item["motion"])).float().unsqueeze(0),
            "video": torch.from_numpy(np.load(item["video"])).float().unsqueeze(0),
            "genre": torch.from_numpy(genres[item["genre_row"]]).unsqueeze(0),
            "condiation_mask": None,  # (sic) the key the model reads
            "negative_music": None,
        }
        with torch.no_grad():
            out = model.model.generate_content(batch=batch, filter_ratio=a.filter_ratio, replicate=1,
                                               content_ratio=0.5, return_att_weight=False,
                                               sample_type="top%sr" % a.truncation)
        audio = out["content"].squeeze().detach().cpu().numpy()
        if noisereduce is not None:
            audio = noisereduce.reduce_noise(y=audio, sr=22050)
        os.makedirs(os.path.dirname(item["out"]), exist_ok=True)
        sf.write(item["out"], audio, 22050)
        print("generated", item["name"], "->", item["out"])


if __name__ == "__main__":
    main()
