import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from core.atomic import atomic_path, remove_stale_temps
from core.errors import DiskFullError
from core.media import atomic_write_audio


def test_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "x.txt") as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_full_disk_is_a_named_error_and_nothing_is_kept(small_tmpfs):
    """A real full device: libsndfile says only 'System error.'; the error names the folder."""
    disk = small_tmpfs("64k")
    with pytest.raises(DiskFullError, match=r"no space left on the device while writing x\.wav") as info:
        atomic_write_audio(disk / "x.wav", np.zeros(64000, np.float32), 8000)
    assert str(disk) in str(info.value) and "needed" in str(info.value)
    assert list(disk.iterdir()) == []


def test_full_disk_from_pyav_and_pyarrow_is_named(small_tmpfs):
    from core.manifest import Clip, write_manifest
    from core.media import write_video

    disk = small_tmpfs("32k")
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (50, 64, 64, 3), dtype=np.uint8)  # noise: does not compress
    with pytest.raises(DiskFullError, match="no space left"):
        write_video(disk / "v.mp4", frames, 25)
    assert not (disk / "v.mp4").exists()
    clips = [Clip(f"c{i}", "v.mp4", f"audio/c{i}.wav", 0.0, 10.0, f"s{i}", caption="x" * 2000) for i in range(40)]
    with pytest.raises(DiskFullError, match="no space left"):
        write_manifest(disk, clips, {"spec": {"pad": "y" * 40000}})
    assert not [p for p in disk.rglob("*") if p.is_file()]


def test_read_only_folder_is_a_named_error(read_only_dir):
    from core.atomic import write_text_atomic
    from core.errors import ReadOnlyError

    with pytest.raises(ReadOnlyError, match=r"cannot write here \(Read-only file system\)"):
        atomic_write_audio(read_only_dir / "x.wav", np.zeros(10, np.float32), 8000)
    with pytest.raises(ReadOnlyError, match="ro/sub"):
        write_text_atomic(read_only_dir / "sub" / "a.txt", "x")


def test_files_get_the_umask_permissions_not_mkstemps_0600(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        import importlib

        import core.atomic

        importlib.reload(core.atomic)
        p = core.atomic.write_text_atomic(tmp_path / "a.txt", "x")
        assert stat.S_IMODE(p.stat().st_mode) == 0o644
    finally:
        os.umask(old)
        importlib.reload(core.atomic)


def test_a_killed_writer_leaves_only_a_temp_file(tmp_path):
    """SIGKILL in the middle of writing: the final name never appears; the temp is cleaned later."""
    script = textwrap.dedent(f"""
        import os, signal
        import numpy as np, soundfile as sf
        from core.media import atomic_write_audio
        real = sf.SoundFile.write
        def write_then_die(self, data):
            real(self, data[: len(data) // 2])
            self.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        sf.SoundFile.write = write_then_die
        atomic_write_audio({str(tmp_path / 'x.wav')!r}, np.zeros(32000, np.float32), 32000)
    """)
    proc = subprocess.run([sys.executable, "-c", script])
    assert proc.returncode == -signal.SIGKILL
    assert not (tmp_path / "x.wav").exists()
    assert len(list(tmp_path.glob(".*.tmp"))) == 1
    assert remove_stale_temps(tmp_path) == 1 and list(tmp_path.iterdir()) == []
