"""Stand-in for openai/CLIP's clip/clip.py `_download` (what clip.load("ViT-L/14@336px") runs first):
the same steps — return at once if the file is there with the SHA-256 named in the URL, else download
it in place, 8 KiB at a time, then check the SHA-256 — from a local file:// URL, slowed down so that
two processes overlap, and logging each download to <root>/downloads.log (for the test to count)."""
import hashlib
import os
import time
import urllib.request
import warnings

_MODELS = {"ViT-L/14@336px": os.environ.get("CLIP_STANDIN_URL", "")}


def _download(url: str, root: str):
    os.makedirs(root, exist_ok=True)
    filename = os.path.basename(url)
    expected_sha256 = url.split("/")[-2]
    download_target = os.path.join(root, filename)
    if os.path.exists(download_target) and not os.path.isfile(download_target):
        raise RuntimeError(f"{download_target} exists and is not a regular file")
    if os.path.isfile(download_target):
        if hashlib.sha256(open(download_target, "rb").read()).hexdigest() == expected_sha256:
            return download_target
        warnings.warn(f"{download_target} exists, but the SHA256 checksum does not match; re-downloading the file")
    with open(os.path.join(root, "downloads.log"), "a") as log:
        log.write(f"{os.getpid()}\n")
    with urllib.request.urlopen(url) as source, open(download_target, "wb") as output:
        while True:
            buffer = source.read(8192)
            if not buffer:
                break
            output.write(buffer)
            time.sleep(float(os.environ.get("CLIP_STANDIN_DELAY", "0.01")))
    if hashlib.sha256(open(download_target, "rb").read()).hexdigest() != expected_sha256:
        raise RuntimeError("Model has been downloaded but the SHA256 checksum does not not match")
    return download_target


def load(name, device="cpu", jit=False, download_root=None):
    return _download(_MODELS[name], download_root or os.path.expanduser("~/.cache/clip")), None
