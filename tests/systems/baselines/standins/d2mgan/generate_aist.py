"""Stand-in for D2M-GAN's generate_aist.py.

Sets CUDA_VISIBLE_DEVICES="1" first thing (as the real one); on a one-GPU machine
(STANDIN_GPUS=1) that makes CUDA fail. Reads ./dataset/aist_{audio,video,motion}_test_segment.txt,
./dataset/test_genre.npy and ./models/vqvae_<level>.pt relative to the CWD; writes
<result_path>/original_{i}.wav (the ground truth), vqvae_{i}.wav and generated_{i}.wav from 1,
22.05 kHz, 44032 samples (high level). The generated tone's pitch follows the genre label.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import common  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--load_path", default="./logs")
    p.add_argument("--model", default="5b")
    p.add_argument("--result_path", required=True)
    p.add_argument("--model_level", required=True)
    a = p.parse_args()
    if os.environ.get("STANDIN_GPUS") == "1" and os.environ.get("CUDA_VISIBLE_DEVICES") == "1":
        raise RuntimeError("CUDA error: invalid device ordinal (CUDA_VISIBLE_DEVICES=1 on a one-GPU machine)")
    import jukebox  # noqa: F401  (bundled in the repository root)
    import numpy as np
    import soundfile as sf

    for f in ("mencoder.pt", "netG.pt"):
        if not os.path.isfile(os.path.join(a.load_path, f)):
            raise FileNotFoundError(os.path.join(a.load_path, f))
    if not os.path.isfile("./models/vqvae_%s.pt" % a.model_level):
        raise FileNotFoundError("./models/vqvae_%s.pt" % a.model_level)
    lists = {k: [ln.strip() for ln in open("./dataset/aist_%s_test_segment.txt" % k) if ln.strip()]
             for k in ("audio", "video", "motion")}
    genres = np.load("./dataset/test_genre.npy")
    assert len(genres) == len(lists["audio"]) == len(lists["video"]) == len(lists["motion"])
    os.makedirs(a.result_path, exist_ok=True)
    for i, (audio, video, motion) in enumerate(zip(lists["audio"], lists["video"], lists["motion"])):
        common.misbehave(os.path.basename(audio))
        gt, sr = sf.read(audio)
        np.load(video)
        np.load(motion)
        sf.write(os.path.join(a.result_path, "original_%d.wav" % (i + 1)), gt, 22050)
        sf.write(os.path.join(a.result_path, "vqvae_%d.wav" % (i + 1)), gt, 22050)
        freq = 200.0 + 50.0 * float(np.argmax(genres[i]))
        sf.write(os.path.join(a.result_path, "generated_%d.wav" % (i + 1)), common.tone(44032 / 22050, 22050, freq), 22050)


if __name__ == "__main__":
    os.environ["CUDA_VISIBLE_DEVICES"] = "1"
    main()
