"""The TensorFlow half of scripts/golden/audiocraft_fad_golden.py: runs in the TensorFlow side
environment, on Google's frechet_audio_distance code (PYTHONPATH=<its google-research folder>, laid
out as audiocraft's FrechetAudioDistanceMetric docstring prescribes). Commands:

    write-ckpt WEIGHTS.npz OUT.ckpt   seeded torchvggish weights → a V1 checkpoint, as vggish_model.ckpt
                                      (vggish_slim's graph, Saver(write_version=1))
    embed CKPT OUT.npz WAV…           each file's embeddings by AudioSetModel(ckpt, 8000), the object
                                      create_embeddings_beam's BatchedInference calls, fed the samples as
                                      its ReadWavFiles + FloatList give them
    stats OUT.npz STATS…              mu, sigma of each stats TFRecord (fad_utils.read_mean_and_covariances)
                                      and compute_fad's full-precision value of the first two (bg, test)
    dump-ckpt CKPT OUT.npz            every variable as TensorFlow's checkpoint reader gives it
    time-embed CKPT WAV…              seconds per file of embed's steps (model built and warmed up first)
"""

from __future__ import annotations

import sys

import numpy as np

#: torchvggish parameter prefix → TF-Slim scope (the reverse of metrics.embedders.vggish.TF_SCOPES)
SCOPES = {"features.0": "vggish/conv1", "features.3": "vggish/conv2", "features.6": "vggish/conv3/conv3_1",
          "features.8": "vggish/conv3/conv3_2", "features.11": "vggish/conv4/conv4_1",
          "features.13": "vggish/conv4/conv4_2", "embeddings.0": "vggish/fc1/fc1_1",
          "embeddings.2": "vggish/fc1/fc1_2", "embeddings.4": "vggish/fc2"}


def write_ckpt(weights: str, out: str) -> None:
    import tensorflow.compat.v1 as tf
    from tensorflow_models.audioset import vggish_slim

    w = np.load(weights)
    values = {}
    for prefix, scope in SCOPES.items():
        kernel = w[f"{prefix}.weight"]
        values[f"{scope}/weights"] = kernel.transpose(2, 3, 1, 0) if kernel.ndim == 4 else kernel.T
        values[f"{scope}/biases"] = w[f"{prefix}.bias"]
    with tf.Graph().as_default(), tf.Session() as sess:
        vggish_slim.define_vggish_slim(training=False)
        for v in tf.global_variables():
            v.load(values[v.name[:-2]], sess)
        tf.train.Saver(write_version=1).save(sess, out, write_meta_graph=False)


def embed(ckpt: str, out: str, wavs: list[str]) -> None:
    import scipy.io.wavfile
    from frechet_audio_distance.audioset_model import AudioSetModel
    from frechet_audio_distance.create_embeddings_beam import create_audio_example

    model = AudioSetModel(ckpt, 8000)
    result = {}
    for path in wavs:
        _, data = scipy.io.wavfile.read(path)
        example = create_audio_example("audio/reference/raw_audio", data, path)
        samples = np.array(example.features.feature["audio/reference/raw_audio"].float_list.value)
        feats = model.extract_features(samples)
        emb = model.process_batch(np.concatenate(feats)) if feats else np.zeros((0, 128), np.float32)
        result[path] = emb
    np.savez(out, **result)


def time_embed(ckpt: str, wavs: list[str]) -> None:
    """Print the seconds per file of `embed`'s steps (read, features, VGGish), the model built and
    run once before the timing, as a reader of embeddings would call it."""
    import time

    import scipy.io.wavfile
    from frechet_audio_distance.audioset_model import AudioSetModel
    from frechet_audio_distance.create_embeddings_beam import create_audio_example

    model = AudioSetModel(ckpt, 8000)

    def one(path):
        _, data = scipy.io.wavfile.read(path)
        example = create_audio_example("audio/reference/raw_audio", data, path)
        samples = np.array(example.features.feature["audio/reference/raw_audio"].float_list.value)
        return model.process_batch(np.concatenate(model.extract_features(samples)))

    one(wavs[0])
    t0 = time.perf_counter()
    for path in wavs:
        one(path)
    print((time.perf_counter() - t0) / len(wavs))


def stats(out: str, files: list[str]) -> None:
    from frechet_audio_distance import fad_utils

    result = {}
    for i, f in enumerate(files):
        mu, sigma = fad_utils.read_mean_and_covariances(f)
        result[f"mu{i}"], result[f"sigma{i}"] = mu, sigma
    result["fad"] = np.array(fad_utils.frechet_distance(result["mu0"], result["sigma0"], result["mu1"],
                                                        result["sigma1"]))
    np.savez(out, **result)


def dump_ckpt(ckpt: str, out: str) -> None:
    import tensorflow.compat.v1 as tf

    reader = tf.train.load_checkpoint(ckpt)
    np.savez(out, **{name.replace("/", "__"): reader.get_tensor(name) for name in reader.get_variable_to_shape_map()})


if __name__ == "__main__":
    cmd, *rest = sys.argv[1:]
    {"write-ckpt": lambda: write_ckpt(*rest), "embed": lambda: embed(rest[0], rest[1], rest[2:]),
     "stats": lambda: stats(rest[0], rest[1:]), "dump-ckpt": lambda: dump_ckpt(*rest),
     "time-embed": lambda: time_embed(rest[0], rest[1:])}[cmd]()
