"""Content-addressed cache for derived data (features, codes, embeddings). DESIGN.md §3.

The key of an entry is a hash of (input file bytes, extractor name, extractor config), so a
renamed or copied file hits the cache, and a changed config or file misses it. Entries are
`.npz` files written atomically; a per-key file lock makes two processes that ask for the same
entry compute it once, and concurrent writers of different keys never interfere.

An entry carries its own key and a sha256 of its payload (`__key__`, `__sha256__`), checked on
every load: a file replaced by another entry (a copied cache, a sync tool, a hand edit) or
corrupted in place is a miss, recomputed, with a `CacheEntryMismatch` warning — never trusted.
Entries written before these fields existed are recomputed once.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Callable, Mapping

import numpy as np

from core.atomic import atomic_path

KEY_FIELD = "__key__"
SUM_FIELD = "__sha256__"


class CacheEntryMismatch(UserWarning):
    """A cache entry did not verify (wrong key or checksum): it was recomputed."""


def payload_digest(arrays: Mapping[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()

_CHUNK = 1 << 20
_file_hashes: dict[tuple[str, int, int], str] = {}


def default_cache_dir() -> Path:
    env = os.environ.get("BENCH_CACHE_DIR")
    return Path(env) if env else Path.home() / ".cache" / "dyvim-bench"


def file_digest(path: str | os.PathLike) -> str:
    """sha256 of the file's bytes, memoised per (path, size, mtime) within the process."""
    path = Path(path)
    st = path.stat()
    memo = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if memo not in _file_hashes:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                h.update(chunk)
        _file_hashes[memo] = h.hexdigest()
    return _file_hashes[memo]


def config_digest(config: Mapping) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


class Cache:
    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_cache_dir()
        self.hits = 0
        self.misses = 0

    def key(self, extractor: str, config: Mapping, inputs: list[str | os.PathLike | bytes]) -> str:
        h = hashlib.sha256()
        h.update(extractor.encode())
        h.update(config_digest(config).encode())
        for item in inputs:
            h.update(hashlib.sha256(item).hexdigest().encode() if isinstance(item, bytes) else file_digest(item).encode())
        return h.hexdigest()

    def path(self, extractor: str, key: str) -> Path:
        return self.root / extractor / key[:2] / f"{key}.npz"

    def load(self, extractor: str, key: str) -> dict[str, np.ndarray] | None:
        import warnings

        p = self.path(extractor, key)
        if not p.exists():
            return None
        try:
            with np.load(p, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files}
        except Exception:
            p.unlink(missing_ok=True)  # an unreadable entry is recomputed, never trusted
            return None
        stored_key, stored_sum = data.pop(KEY_FIELD, None), data.pop(SUM_FIELD, None)
        if stored_key is None or stored_sum is None:
            p.unlink(missing_ok=True)  # written before entries verified themselves: recompute once
            return None
        if str(stored_key) != key or str(stored_sum) != payload_digest(data):
            what = "belongs to another key" if str(stored_key) != key else "does not match its checksum"
            warnings.warn(f"{p}: cache entry {what}; recomputing it", CacheEntryMismatch, stacklevel=2)
            p.unlink(missing_ok=True)
            return None
        return data

    def store(self, extractor: str, key: str, arrays: Mapping[str, np.ndarray]) -> Path:
        p = self.path(extractor, key)
        arrays = {k: np.asarray(v) for k, v in arrays.items()}
        meta = {KEY_FIELD: np.asarray(key), SUM_FIELD: np.asarray(payload_digest(arrays))}
        with atomic_path(p, expected_size=sum(a.nbytes for a in arrays.values()) + 4096) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays, **meta)
        return p

    def get_or_compute(
        self,
        extractor: str,
        config: Mapping,
        inputs: list[str | os.PathLike | bytes],
        compute: Callable[[], Mapping[str, np.ndarray]],
    ) -> dict[str, np.ndarray]:
        """Return the cached arrays for these inputs, computing and storing them once if absent."""
        from filelock import FileLock

        key = self.key(extractor, config, inputs)
        found = self.load(extractor, key)
        if found is not None:
            self.hits += 1
            return found
        lock_path = self.path(extractor, key).with_suffix(".lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(lock_path)):
            found = self.load(extractor, key)  # another process may have filled it meanwhile
            if found is not None:
                self.hits += 1
                return found
            self.misses += 1
            arrays = {k: np.asarray(v) for k, v in compute().items()}
            self.store(extractor, key, arrays)
        lock_path.unlink(missing_ok=True)
        return arrays
