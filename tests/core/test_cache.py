import subprocess
import sys

import numpy as np

from core.cache import Cache


def test_content_addressed_hits_and_misses(tmp_path):
    a = tmp_path / "a.bin"
    a.write_bytes(b"hello")
    cache = Cache(tmp_path / "c")
    calls = []

    def compute():
        calls.append(1)
        return {"x": np.arange(3)}

    assert cache.get_or_compute("feat", {"k": 1}, [a], compute)["x"].tolist() == [0, 1, 2]
    cache.get_or_compute("feat", {"k": 1}, [a], compute)
    assert len(calls) == 1 and (cache.hits, cache.misses) == (1, 1)
    b = tmp_path / "copy.bin"
    b.write_bytes(b"hello")  # same bytes under another name: a hit
    cache.get_or_compute("feat", {"k": 1}, [b], compute)
    assert len(calls) == 1
    cache.get_or_compute("feat", {"k": 2}, [a], compute)  # another config: a miss
    cache.get_or_compute("other", {"k": 1}, [a], compute)  # another extractor: a miss
    a.write_bytes(b"hello!")  # changed content: a miss
    cache.get_or_compute("feat", {"k": 1}, [a], compute)
    assert len(calls) == 4


def test_corrupt_entry_is_recomputed(tmp_path):
    cache = Cache(tmp_path)
    key = cache.key("e", {}, [b"x"])
    cache.store("e", key, {"v": np.ones(2)})
    cache.path("e", key).write_bytes(b"garbage")
    assert cache.load("e", key) is None
    assert cache.get_or_compute("e", {}, [b"x"], lambda: {"v": np.zeros(2)})["v"].tolist() == [0, 0]


def test_an_entry_replaced_by_another_valid_entry_is_a_miss_with_a_warning(tmp_path):
    """Another key's (valid) entry copied over this one, or a payload edited in place: both are
    recomputed with a CacheEntryMismatch warning, never returned."""
    import shutil

    import pytest

    from core.cache import CacheEntryMismatch

    cache = Cache(tmp_path)
    k1, k2 = cache.key("e", {}, [b"one"]), cache.key("e", {}, [b"two"])
    cache.store("e", k1, {"v": np.full(3, 1.0)})
    cache.store("e", k2, {"v": np.full(3, 2.0)})
    shutil.copyfile(cache.path("e", k2), cache.path("e", k1))
    with pytest.warns(CacheEntryMismatch, match="belongs to another key"):
        got = cache.get_or_compute("e", {}, [b"one"], lambda: {"v": np.full(3, 1.0)})
    assert got["v"].tolist() == [1.0, 1.0, 1.0] and cache.misses == 1
    with np.load(cache.path("e", k2)) as z:  # same key, other payload (edited in place)
        data = {k: z[k] for k in z.files}
    data["v"] = np.full(3, 9.0)
    with open(cache.path("e", k2), "wb") as fh:
        np.savez(fh, **data)
    with pytest.warns(CacheEntryMismatch, match="does not match its checksum"):
        assert cache.load("e", k2) is None


FILL = """
import os, sys, time
import numpy as np
from pathlib import Path
from core.cache import Cache
root, src, counter = map(Path, sys.argv[1:4])
def compute():
    (counter / f"computed-{os.getpid()}").touch()
    time.sleep(0.5)
    return {"v": np.full(1000, 7.0)}
print(Cache(root).get_or_compute("slow", {"a": 1}, [src], compute)["v"].sum())
"""


def test_two_processes_filling_the_same_entry_compute_it_once(tmp_path):
    src = tmp_path / "in.bin"
    src.write_bytes(b"data")
    counter = tmp_path / "counter"
    counter.mkdir()
    args = [sys.executable, "-c", FILL, str(tmp_path / "cache"), str(src), str(counter)]
    procs = [subprocess.Popen(args, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert outs == ["7000.0", "7000.0"]
    assert len(list(counter.iterdir())) == 1
    assert not list((tmp_path / "cache").rglob("*.tmp"))


def test_a_full_disk_under_the_cache_is_a_named_error_and_no_entry(small_tmpfs):
    import pytest

    from core.errors import DiskFullError

    disk = small_tmpfs("64k")
    cache = Cache(disk)
    with pytest.raises(DiskFullError, match="no space left on the device"):
        cache.get_or_compute("big", {}, [b"x"], lambda: {"v": np.random.default_rng(0).random(40000)})
    assert not list(disk.rglob("*.npz"))
