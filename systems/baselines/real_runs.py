"""Real runs of the baselines' own code, where it can run here (Python 3.11, current packages, CPU).

None of the seven can run its generation in this interpreter with current packages; each reason
below was read from the repository at the pinned commit (`bench systems verify` prints it):
a real run would need the baseline's own environment (`bench systems setup`) and its released
weights, which `bench systems check <name> --deep` exercises on a user's machine.
"""

from __future__ import annotations

# why the real code cannot generate a clip in the harness's Python 3.11 environment (file: reason)
NOT_HERE = {
    "cmt": "src/model.py builds its transformer with pytorch-fast-transformers' causal-linear attention, a C++/CUDA "
           "extension with no wheel (a source build against the environment's torch), and src/video2npz needs "
           "visbeat3's Python 3.8-era stack (librosa 0.6, numba 0.48); not pure-Python packages",
    "video2music": "video2music.py loads CLIP ViT-L/14@336px by name (clip.load checks the download's SHA-256, so no "
                   "random weights can stand in without network) and imports gradio 4.7/pytube at module level",
    "diffbgm": "inference_sdf.py needs its POP909 piano-roll features, the pretrained PolyDis/chord models under "
               "pretrained/ and labml 0.4.160 (Python <= 3.9 APIs); the random-weight run was not built in this change",
    "m2ugen": "M2UGen/inference.py moves the model to CUDA unconditionally (model.to('cuda'), line 94) and loads "
              "LLaMA-2 7B + MERT/ViT/ViViT/MusicGen (transformers 4.35 APIs)",
    "vidmuse": "its audiocraft/modules/transformer.py imports xformers at module level, decord 0.6.0 has no wheel for "
               "Python 3.11, and VidMuse.get_pretrained needs the released checkpoint's xp.cfg to build the model",
    "d2mgan": "generate_aist.py calls .cuda() on every model unconditionally and opens an NCCL process group "
              "(requires CUDA); torch 1.7.1's jukebox code",
    "cdcd": "inference/inference_aist.py moves the model to CUDA unconditionally (self.model.cuda()), and the "
            "Jukebox VQ-VAE it loads (synthesis/modeling/models/vqvae.pt) is a git-LFS file absent from the source",
}


def real_run(cls, repo):
    """(result, skip reason): no baseline's code can generate here; the reason names the file."""
    return None, NOT_HERE.get(cls.name, "no real run defined")
