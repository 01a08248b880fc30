import errno
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from bench.atomic import atomic_path, remove_stale_temps
from bench.errors import DiskFullError
from bench.media import atomic_write_audio


def test_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "x.txt") as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_full_disk_is_a_named_error_and_nothing_is_kept(tmp_path, monkeypatch):
    import soundfile as sf

    real = sf.SoundFile.write

    def full(self, data):
        real(self, data[: len(data) // 2])  # some bytes reach the disk, then it is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(sf.SoundFile, "write", full)
    with pytest.raises(DiskFullError, match=r"x\.wav.*no space left"):
        atomic_write_audio(tmp_path / "x.wav", np.zeros(10), 8000)
    assert list(tmp_path.iterdir()) == []


def test_a_killed_writer_leaves_only_a_temp_file(tmp_path):
    """SIGKILL in the middle of writing: the final name never appears; the temp is cleaned later."""
    script = textwrap.dedent(f"""
        import os, signal
        import numpy as np, soundfile as sf
        from bench.media import atomic_write_audio
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
