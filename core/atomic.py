"""Atomic file creation: write to a temp file beside the target, fsync, rename into place.

Every result the harness keeps (wavs, manifests, cache entries, run configs) is written
through `atomic_path`, so a killed process or a full disk never leaves a half-written file
under the final name, and a resumed run can trust that a file that exists is complete.

Write faults are recognised whatever library raised them: libsndfile reports a full disk as
`LibsndfileError: System error.` and PyAV/FFmpeg as a generic I/O error, without an errno. So
a failed write also looks at the folder itself: no free space left (below the size of what was
being written, or below `MIN_FREE`) is a `DiskFullError`; a read-only or unwritable folder is a
`ReadOnlyError`. Both name the folder, and the first the space needed.

Files get the permissions a plain `open()` would give them (0666 less the umask), not the 0600
of `tempfile.mkstemp`, so colleagues on a shared disk can read the results.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from core.errors import DiskFullError, ReadOnlyError

TMP_SUFFIX = ".tmp"
#: a folder with less free space than this after a failed write is taken to be full
MIN_FREE = 1 << 20


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def free_bytes(folder: str | os.PathLike) -> int | None:
    """Free space where `folder` (or its nearest existing parent) lives; None if unknown."""
    p = Path(folder)
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return shutil.disk_usage(p).free
    except OSError:
        return None


def _is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc).lower()
    return "no space left" in text or "disk quota" in text


def _is_read_only(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM)


def disk_full_error(folder: Path, need: int | None = None, what: str = "") -> DiskFullError:
    free = free_bytes(folder)
    free_text = f"{human_bytes(free)} free" if free is not None else "free space unknown"
    need_text = f", about {human_bytes(need)} needed" if need else ""
    writing = f" while writing {what}" if what else ""
    return DiskFullError(
        f"{folder}: no space left on the device{writing} ({free_text}{need_text}). Nothing half-written was kept. "
        "Free space (or move the folder: paths.runs_root / paths.data_root / BENCH_CACHE_DIR) and re-run "
        "the same command: finished files are kept."
    )


def read_only_error(folder: Path, exc: BaseException | None = None) -> ReadOnlyError:
    detail = f" ({exc.strerror})" if isinstance(exc, OSError) and exc.strerror else ""
    return ReadOnlyError(
        f"{folder}: cannot write here{detail}. Choose a writable folder (paths.runs_root=..., "
        "paths.data_root=..., or BENCH_RUNS_ROOT / BENCH_DATA_ROOT / BENCH_CACHE_DIR) or fix its permissions."
    )


def classify_write_error(exc: BaseException, folder: Path, need: int | None = None, what: str = "") -> BaseException | None:
    """The named error for a failed write into `folder`, or None when it is neither a full disk
    nor an unwritable folder (then the original error stands)."""
    if isinstance(exc, (DiskFullError, ReadOnlyError)):
        return exc
    if _is_disk_full(exc):
        return disk_full_error(folder, need, what)
    if _is_read_only(exc):
        return read_only_error(folder, exc)
    if isinstance(exc, (KeyboardInterrupt, SystemExit)):
        return None
    free = free_bytes(folder)
    if free is not None and free < max(MIN_FREE, need or 0):
        return disk_full_error(folder, need, what)
    return None


def make_dirs(folder: str | os.PathLike) -> Path:
    """`mkdir -p` that names a read-only or full location instead of a raw OSError."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        named = classify_write_error(exc, folder)
        if named is not None:
            raise named from exc
        raise
    return folder


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, expected_size: int | None = None) -> Iterator[Path]:
    """Yield a temp path to write; on success it is renamed to `path`, on failure removed.

    `expected_size` (bytes), when known, is what the error says a full disk needs."""
    path = Path(path)
    make_dirs(path.parent)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    except OSError as exc:
        named = classify_write_error(exc, path.parent, expected_size, path.name)
        if named is not None:
            raise named from exc
        raise
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException as exc:
        written = tmp.stat().st_size if tmp.exists() else 0
        tmp.unlink(missing_ok=True)
        need = max(expected_size or 0, written) or None
        named = classify_write_error(exc, path.parent, need, path.name)
        if named is not None and named is not exc:
            raise named from exc
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    with atomic_path(path, expected_size=len(text.encode())) as tmp:
        tmp.write_text(text)
    return Path(path)


def remove_stale_temps(folder: str | os.PathLike) -> int:
    """Delete temp files a killed writer left in `folder`; returns how many."""
    n = 0
    folder = Path(folder)
    if folder.is_dir():
        for p in folder.glob(f".*{TMP_SUFFIX}"):
            p.unlink(missing_ok=True)
            n += 1
    return n
