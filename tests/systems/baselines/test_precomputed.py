"""`precomputed`: a folder of outputs made elsewhere, validated and normalised like any system's."""

import numpy as np
import pytest
import soundfile as sf

from tests.systems.baselines.conftest import failures, records, run, split_test_ids


def _write(folder, ids, sr=44100, seconds=3.0, channels=2):
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(sr * seconds)) / sr
    x = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    for cid in ids:
        sf.write(folder / f"{cid}.wav", np.stack([x] * channels, 1), sr)


def test_any_rate_and_length_is_normalised_a_missing_clip_and_a_corrupt_file_fail_alone(mini_dataset, tmp_path):
    root, ov = mini_dataset
    ids = split_test_ids(root)
    folder = tmp_path / "outs"
    _write(folder, ids[2:], seconds=3.0)                 # longer than the 2 s clips: trimmed
    _write(folder, ids[1:2], sr=16000, seconds=1.5, channels=1)  # shorter: padded
    (folder / f"{ids[0]}.wav").unlink(missing_ok=True)   # missing
    corrupt = ids[-1]
    (folder / f"{corrupt}.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    _, run_dir = run(["precomputed"], [*ov, f"system.precomputed.folder={folder}"])
    fails = failures(run_dir, "precomputed")
    assert set(fails) == {ids[0], corrupt}
    assert f"{ids[0]}.wav: no precomputed output" in fails[ids[0]]
    assert f"{corrupt}.wav" in fails[corrupt] and "unreadable audio" in fails[corrupt]
    audio, sr = sf.read(run_dir / "precomputed" / f"{ids[1]}.wav", dtype="float32")
    assert sr == 32000 and audio.shape == (64000,) and np.all(audio[int(1.5 * sr) + 100:] == 0)
    recs = records(run_dir, "precomputed")
    assert recs[ids[1]]["padded_seconds"] == 0.5 and recs[ids[1]]["source_rate"] == 16000
    assert recs[ids[2]]["trimmed_seconds"] == 1.0 and recs[ids[2]]["source_channels"] == 2


def test_a_file_naming_no_clip_is_refused_unless_ignored(mini_dataset, tmp_path):
    from core.errors import ConfigError

    root, ov = mini_dataset
    ids = split_test_ids(root)
    folder = tmp_path / "outs"
    _write(folder, [*ids, "src9__0000000"])
    with pytest.raises(ConfigError, match=r"1 file\(s\) name no clip of the dataset, e.g. src9__0000000.wav"):
        run(["precomputed"], [*ov, f"system.precomputed.folder={folder}"])
    result, run_dir = run(["precomputed"], [*ov, f"system.precomputed.folder={folder}", "system.precomputed.extra=ignore"],
                          name="ign")
    assert result.systems[0].generated == len(ids) and not failures(run_dir, "precomputed")


def test_missing_folder_is_named(mini_dataset, tmp_path):
    from systems.baselines.precomputed import PrecomputedSystem

    assert "folder is not set" in PrecomputedSystem.readiness({"folder": None})[0]
    assert "not found" in PrecomputedSystem.readiness({"folder": str(tmp_path / "nope")})[0]
