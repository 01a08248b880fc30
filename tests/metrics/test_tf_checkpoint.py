"""The NumPy reader of TensorFlow checkpoints (metrics/embedders/tf_checkpoint.py) against files
written by TensorFlow 2.15 itself (scripts/golden/make_tf_checkpoint_fixtures.py: V1, the format of
Google's vggish_model.ckpt, and V2) and the values TensorFlow's Saver.restore reads back from them.
The full 288 MB VGGish V1 checkpoint was checked against TensorFlow's own reader in the golden run
of scripts/golden/audiocraft_fad_golden.py (``reader_max_abs_diff``, asserted below)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from metrics.embedders.tf_checkpoint import CheckpointFormatError, read_checkpoint
from tests.metrics.conftest import ROOT

FIXTURES = ROOT / "tests/metrics/golden/tf_checkpoint"


@pytest.mark.parametrize("name", ["v1.ckpt", "v2", "v2.index"])
def test_reads_what_tensorflow_wrote(name):
    expected = np.load(FIXTURES / "expected.npz")
    got = read_checkpoint(FIXTURES / name)
    assert sorted(got) == sorted(k.replace("__", "/") for k in expected.files)
    for key in expected.files:
        ours, theirs = got[key.replace("__", "/")], expected[key]
        assert ours.dtype == theirs.dtype and ours.shape == theirs.shape, key
        np.testing.assert_array_equal(ours, theirs, err_msg=key)


def test_full_vggish_checkpoint_matched_tensorflow_in_the_golden_run():
    golden = np.load(ROOT / "tests/metrics/golden/audiocraft_fad_golden.npz")
    assert float(golden["reader_max_abs_diff"]) == 0.0
    assert float(golden["tf_state_max_abs_diff"]) == 0.0


def test_truncated_file_is_a_named_error(tmp_path):
    bad = tmp_path / "vggish_model.ckpt"
    bad.write_bytes((FIXTURES / "v1.ckpt").read_bytes()[:-100])
    with pytest.raises(CheckpointFormatError, match="vggish_model.ckpt"):
        read_checkpoint(bad)


def test_foreign_file_is_a_named_error(tmp_path):
    bad = tmp_path / "model.ckpt"
    bad.write_bytes(b"PK\x03\x04 not a checkpoint" * 10)
    with pytest.raises(CheckpointFormatError, match="model.ckpt.*not a readable TensorFlow V1"):
        read_checkpoint(bad)
    with pytest.raises(CheckpointFormatError, match="no such checkpoint"):
        read_checkpoint(tmp_path / "absent.ckpt")


def test_v2_without_its_data_file_is_a_named_error(tmp_path):
    shutil.copy(FIXTURES / "v2.index", tmp_path / "v2.index")
    with pytest.raises(CheckpointFormatError, match="data-00000-of-00001 is missing"):
        read_checkpoint(tmp_path / "v2")
