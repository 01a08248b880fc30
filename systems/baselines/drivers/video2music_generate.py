"""Run Video2Music's documented API on one video (README "Quickstart Guide"):

    python video2music_generate.py --repo REPO --video X.mp4 --primer "C Am F G" --key "C major" --out OUT.mid

Runs in a fresh working directory prepared by the harness: `Video2music.generate` deletes and
recreates `./feature` and `./output` there, and reads `saved_models/`, `dataset/vevo_meta/` and
`soundfonts/` relative to it (the harness links those to the repository). Its own rendering
steps (midi2audio + moviepy) come after `./output/output.mid` is written; the harness renders
the MIDI itself, so a failure in those steps alone is reported and ignored.
"""

import argparse
import fcntl
import os
import shutil
import sys
import traceback

REPO_PATHS = ("",)  # sys.path entries, relative to the repository (video2music.py is at its root)
# calls into the repository (file, function, keyword arguments): checked by `bench systems verify`
REPO_CALLS = (
    ("video2music.py", "Video2music.__init__", ("device",)),
    ("video2music.py", "Video2music.generate", ("video", "primer", "key")),
)


CLIP_MODEL = "ViT-L/14@336px"  # video2music.py gen_semantic_feature: clip.load("ViT-L/14@336px", device=device)


def fetch_clip_once():
    """Two clips at once must not both download CLIP into ~/.cache/clip: clip.load's `_download` writes
    the file in place while it downloads (a second process finds a partial file, sees a wrong SHA-256 and
    rewrites it under the first). Here each clip takes an exclusive lock on ~/.cache/clip and runs that
    same `_download` (it returns at once when the file is there with its SHA-256); the others wait, then
    find it complete, so the clip.load inside generate() only reads it."""
    try:
        import clip.clip as openai_clip
    except ImportError:  # Video2Music itself imports clip; its own error says so
        return
    root = os.path.expanduser("~/.cache/clip")  # clip.load's default download_root
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, ".download.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            openai_clip._download(openai_clip._MODELS[CLIP_MODEL], root)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--repo", required=True)
    p.add_argument("--video", required=True)
    p.add_argument("--primer", default="C Am F G")
    p.add_argument("--key", default="C major")
    p.add_argument("--device", default="cuda:0")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    if " " in a.video:
        raise SystemExit("video2music_generate: the video path must not contain spaces (Video2Music passes it "
                         "unquoted to ffmpeg): %s" % a.video)
    sys.path[0:0] = [os.path.join(os.path.abspath(a.repo), p) if p else os.path.abspath(a.repo) for p in REPO_PATHS]
    from video2music import Video2music

    fetch_clip_once()
    model = Video2music(device=a.device)
    midi = os.path.join("output", "output.mid")
    try:
        model.generate(a.video, a.primer, a.key)
    except Exception:
        if not os.path.isfile(midi):
            raise
        sys.stderr.write("video2music_generate: output.mid was written; Video2Music's own rendering step failed "
                         "afterwards (ignored: the harness renders the MIDI):\n" + traceback.format_exc())
    if not os.path.isfile(midi):
        raise SystemExit("video2music_generate: Video2music.generate returned without writing %s" % midi)
    shutil.copyfile(midi, a.out)


if __name__ == "__main__":
    main()
