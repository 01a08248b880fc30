"""Small TensorFlow checkpoints written by TensorFlow itself, for the NumPy reader
``metrics/embedders/tf_checkpoint.py`` (tests/metrics/test_tf_checkpoint.py).

Writes, under ``tests/metrics/golden/tf_checkpoint/``:

- ``v1.ckpt``: ``tf.train.Saver(write_version=1)``, the format of Google's ``vggish_model.ckpt``;
- ``v2.index`` + ``v2.data-00000-of-00001``: ``tf.train.Saver()``'s default (V2) format;
- ``expected.npz``: every variable as TensorFlow's own ``Saver.restore`` reads it back from both files.

The variables cover float32 / float64 / int32 / int64 / bool / float16, a scalar, and long runs
of zeros and repeats (compressible, yet TensorFlow stores every block uncompressed).

Side environment (TensorFlow does not install into the project's venv):

    python3.11 -m venv /tmp/sideenv-tf
    /tmp/sideenv-tf/bin/pip install tensorflow-cpu==2.15.1
    /tmp/sideenv-tf/bin/python scripts/golden/make_tf_checkpoint_fixtures.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[2] / "tests/metrics/golden/tf_checkpoint"


def variables() -> dict[str, np.ndarray]:
    rng = np.random.RandomState(7)
    return {
        "net/conv/weights": rng.standard_normal((3, 3, 2, 4)).astype(np.float32),
        "net/conv/biases": np.zeros(4, np.float32),
        "net/zeros": np.zeros((64, 32), np.float32),  # compressible; stored uncompressed all the same
        "net/repeat": np.tile(np.arange(8, dtype=np.float32), 300),
        "net/double": rng.standard_normal(5),
        "net/scalar": np.float32(3.25),
        "counts/int32": np.array([-3, 0, 7, 2 ** 30], np.int32),
        "counts/int64": np.array([-(2 ** 40), 1, 2 ** 50], np.int64),
        "flags": np.array([True, False, True]),
        "half": np.array([0.5, -2.0, 65504.0], np.float16),
    }


def main() -> None:
    import tensorflow.compat.v1 as tf

    OUT.mkdir(parents=True, exist_ok=True)
    values = variables()
    with tf.Graph().as_default(), tf.Session() as sess:
        tf_vars = [tf.Variable(v, name=k) for k, v in values.items()]
        sess.run(tf.global_variables_initializer())
        tf.train.Saver(tf_vars, write_version=1).save(sess, str(OUT / "v1.ckpt"), write_meta_graph=False)
        with tempfile.TemporaryDirectory() as tmp:
            prefix = tf.train.Saver(tf_vars).save(sess, str(Path(tmp) / "v2"), write_meta_graph=False)
            for suffix in (".index", ".data-00000-of-00001"):
                (OUT / f"v2{suffix}").write_bytes(Path(prefix + suffix).read_bytes())
    (OUT / "checkpoint").unlink(missing_ok=True)
    # read back by TensorFlow itself: Saver.restore of each file into fresh variables
    expected = None
    for path in (OUT / "v1.ckpt", OUT / "v2"):
        with tf.Graph().as_default(), tf.Session() as sess:
            tf_vars = [tf.Variable(np.zeros_like(v), name=k) for k, v in values.items()]
            tf.train.Saver(tf_vars).restore(sess, str(path))
            got = dict(zip(values, sess.run(tf_vars)))
        for name, v in values.items():
            assert got[name].dtype == v.dtype and np.array_equal(got[name], v), (path, name)
        expected = expected or got
    np.savez(OUT / "expected.npz", **{k.replace("/", "__"): v for k, v in expected.items()})
    print(f"wrote {len(expected)} variables: {', '.join(sorted(expected))}")


if __name__ == "__main__":
    main()
