"""Read the variables of a TensorFlow checkpoint without TensorFlow (NumPy only).

Google's VGGish weights, ``vggish_model.ckpt`` (what audiocraft's FAD loads through
``tf.train.Saver(write_version=1).restore``), are a *V1* checkpoint: one file, a LevelDB-format
table (TensorFlow's ``core/lib/io/table``) whose entries are ``SavedTensorSlices`` protocol
buffers (``core/protobuf/saved_tensor_slice.proto``): the entry with the empty key holds the
metadata (each variable's name, shape and dtype), one entry per variable holds its values. A *V2*
checkpoint (``prefix.index`` + ``prefix.data-00000-of-0000N``, what ``tf.train.Saver()`` writes by
default) keeps the same table format in ``.index`` with ``BundleEntryProto`` values pointing into
the data shards. Both are read here; TensorFlow itself was used only to write the test files
(``scripts/golden/make_tf_checkpoint_fixtures.py``) and to check this reader against its own
``tf.train.load_checkpoint`` on them and on a full VGGish checkpoint
(``scripts/golden/audiocraft_fad_golden.py``).

TensorFlow writes the table blocks of both formats uncompressed (the fixtures hold long runs of
zeros, and no block of them is compressed); a compressed block is refused by name. Checksums are
not verified: a truncated or foreign file
fails on its structure (footer magic, block bounds, proto fields) with the file named.
Partitioned variables (stored as several slices) are not supported and are named in the error.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

from metrics.errors import MetricError

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_BYTES = 48
#: TensorFlow DataType enum (types.proto) → NumPy dtype, for the dtypes a checkpoint of weights holds
DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 5: np.int16, 6: np.int8, 9: np.int64,
          10: np.bool_, 19: np.float16}
#: TensorProto's repeated value field for each dtype (tensor.proto); float16 is stored in half_val as int32
_VALUE_FIELD = {1: 5, 2: 6, 3: 7, 4: 7, 5: 7, 6: 7, 9: 10, 10: 11, 19: 13}


class CheckpointFormatError(MetricError):
    """The file is not a TensorFlow checkpoint this reader understands (named, with the reason)."""


# --------------------------------------------------------------------------- wire formats
def _varint(buf: bytes, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if i >= len(buf):
            raise IndexError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7


def _fields(buf: bytes):
    """(field number, wire type, value) of a protocol buffer message: ints for varint/fixed fields,
    bytes for length-delimited ones."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 1:
            value, i = struct.unpack_from("<Q", buf, i)[0], i + 8
        elif wire == 2:
            n, i = _varint(buf, i)
            value, i = buf[i:i + n], i + n
        elif wire == 5:
            value, i = struct.unpack_from("<I", buf, i)[0], i + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield field, wire, value


def _table_entries(data: bytes):
    """(key, value) of every entry of a LevelDB-format table held in `data`, in key order."""
    if len(data) < FOOTER_BYTES or struct.unpack_from("<Q", data, len(data) - 8)[0] != TABLE_MAGIC:
        raise ValueError("no table footer (magic number) at the end of the file")
    footer = data[-FOOTER_BYTES:]
    _, i = _varint(footer, 0)  # metaindex handle: unused
    _, i = _varint(footer, i)
    index_offset, i = _varint(footer, i)
    index_size, i = _varint(footer, i)

    def block(offset: int, size: int) -> bytes:
        if offset + size + 5 > len(data) - FOOTER_BYTES + 5 or size < 4:
            raise ValueError(f"a block at {offset} (+{size} bytes) lies outside the file")
        raw, kind = data[offset:offset + size], data[offset + size]
        if kind != 0:  # TensorFlow's checkpoint writers store blocks uncompressed (the fixtures' too)
            raise ValueError(f"block compression type {kind} (1 = Snappy) is not supported")
        return raw

    def entries(buf: bytes):
        n_restarts = struct.unpack_from("<I", buf, len(buf) - 4)[0]
        end = len(buf) - 4 - 4 * n_restarts
        i, key = 0, b""
        while i < end:
            shared, i = _varint(buf, i)
            unshared, i = _varint(buf, i)
            size, i = _varint(buf, i)
            key = key[:shared] + buf[i:i + unshared]
            i += unshared
            yield key, buf[i:i + size]
            i += size

    for _, handle in entries(block(index_offset, index_size)):
        offset, j = _varint(handle, 0)
        size, _ = _varint(handle, j)
        yield from entries(block(offset, size))


def _shape(buf: bytes) -> tuple[int, ...]:
    dims = []
    for field, _, value in _fields(buf):
        if field == 2:  # Dim
            size = 0
            for f, _, v in _fields(value):
                if f == 1:
                    size = v - (1 << 64) if v >= 1 << 63 else v
            dims.append(size)
    return tuple(dims)


def _slice_is_full(buf: bytes) -> bool:
    """A TensorSliceProto covers the whole tensor when no extent has a length (start 0, 'all')."""
    for field, _, value in _fields(buf):
        if field == 1 and any(f == 2 for f, _, _ in _fields(value)):
            return False
    return True


def _tensor_values(buf: bytes, dtype_enum: int) -> np.ndarray:
    """The values of a TensorProto (tensor_content, or the dtype's repeated field, packed or not)."""
    dtype = DTYPES[dtype_enum]
    field = _VALUE_FIELD[dtype_enum]
    chunks, scalars = [], []
    for f, wire, value in _fields(buf):
        if f == 4:  # tensor_content: raw little-endian bytes
            return np.frombuffer(value, dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype)
        if f != field:
            continue
        if wire == 2:  # packed
            if dtype_enum == 1:
                chunks.append(np.frombuffer(value, "<f4"))
            elif dtype_enum == 2:
                chunks.append(np.frombuffer(value, "<f8"))
            else:
                j, vals = 0, []
                while j < len(value):
                    v, j = _varint(value, j)
                    vals.append(v)
                chunks.append(np.array(vals, dtype=np.uint64))
        else:
            scalars.append(value)
    if scalars:
        if dtype_enum == 1:
            chunks.append(np.array(scalars, np.uint32).view("<f4"))
        elif dtype_enum == 2:
            chunks.append(np.array(scalars, np.uint64).view("<f8"))
        else:
            chunks.append(np.array(scalars, np.uint64))
    flat = np.concatenate(chunks) if chunks else np.zeros(0)
    if dtype_enum == 19:  # half_val: the float16 bit patterns as ints
        return flat.astype(np.uint16).view(np.float16)
    if dtype_enum in (3, 5, 6, 9):  # varints of signed ints are two's complement in 64 bits
        return flat.astype(np.uint64).view(np.int64).astype(dtype)
    return flat.astype(dtype)


# --------------------------------------------------------------------------- V1 and V2
def _read_v1(path: Path, data: bytes) -> dict[str, np.ndarray]:
    meta: dict[str, tuple[tuple[int, ...], int]] = {}
    values: dict[str, np.ndarray] = {}
    for key, value in _table_entries(data):
        for field, _, msg in _fields(value):
            if field == 1:  # SavedTensorSliceMeta
                for f, _, tensor in _fields(msg):
                    if f != 1:
                        continue
                    name, shape, dtype, n_slices = "", (), 0, 0
                    for g, _, v in _fields(tensor):
                        name = v.decode() if g == 1 else name
                        shape = _shape(v) if g == 2 else shape
                        dtype = v if g == 3 else dtype
                        n_slices += g == 4
                    if n_slices > 1:
                        raise CheckpointFormatError(f"{path}: variable {name!r} is partitioned into {n_slices} "
                                                    "slices; partitioned variables are not supported")
                    meta[name] = (shape, dtype)
            elif field == 2:  # SavedSlice
                name, full, tensor = "", True, b""
                for g, _, v in _fields(msg):
                    name = v.decode() if g == 1 else name
                    full = _slice_is_full(v) if g == 2 else full
                    tensor = v if g == 3 else tensor
                if not full:
                    raise CheckpointFormatError(f"{path}: variable {name!r} is stored as a partial slice; "
                                                "partitioned variables are not supported")
                values[name] = tensor
    if not meta:
        raise CheckpointFormatError(f"{path}: a table without checkpoint metadata (not a TensorFlow V1 checkpoint)")
    out = {}
    for name, (shape, dtype) in meta.items():
        if dtype not in DTYPES:
            raise CheckpointFormatError(f"{path}: variable {name!r} has TensorFlow dtype {dtype}, not supported")
        if name not in values:
            raise CheckpointFormatError(f"{path}: variable {name!r} is listed without values (truncated file?)")
        arr = _tensor_values(values[name], dtype)
        if arr.size != int(np.prod(shape)):
            raise CheckpointFormatError(f"{path}: variable {name!r} has {arr.size} values for shape {shape}")
        out[name] = arr.reshape(shape)
    return out


def _read_v2(index: Path, data: bytes) -> dict[str, np.ndarray]:
    prefix = str(index)[: -len(".index")]
    entries, n_shards = {}, 1
    for key, value in _table_entries(data):
        if key == b"":  # BundleHeaderProto
            for f, _, v in _fields(value):
                n_shards = v if f == 1 else n_shards
            continue
        entry = {"dtype": 0, "shape": (), "shard": 0, "offset": 0, "size": 0, "slices": 0}
        for f, _, v in _fields(value):
            if f == 1:
                entry["dtype"] = v
            elif f == 2:
                entry["shape"] = _shape(v)
            elif f == 3:
                entry["shard"] = v
            elif f == 4:
                entry["offset"] = v
            elif f == 5:
                entry["size"] = v
            elif f == 7:
                entry["slices"] += 1
        entries[key.decode()] = entry
    shards: dict[int, np.memmap] = {}
    out = {}
    for name, e in entries.items():
        if e["slices"]:
            raise CheckpointFormatError(f"{index}: variable {name!r} is partitioned; not supported")
        if e["dtype"] not in DTYPES:
            raise CheckpointFormatError(f"{index}: variable {name!r} has TensorFlow dtype {e['dtype']}, not supported")
        if e["shard"] not in shards:
            shard = Path(f"{prefix}.data-{e['shard']:05d}-of-{n_shards:05d}")
            if not shard.is_file():
                raise CheckpointFormatError(f"{index}: its data file {shard.name} is missing beside it")
            shards[e["shard"]] = np.memmap(shard, dtype=np.uint8, mode="r")
        raw = shards[e["shard"]][e["offset"]:e["offset"] + e["size"]]
        if len(raw) != e["size"]:
            raise CheckpointFormatError(f"{index}: variable {name!r} runs past the end of its data file (truncated?)")
        dtype = np.dtype(DTYPES[e["dtype"]]).newbyteorder("<")
        out[name] = np.frombuffer(raw.tobytes(), dtype=dtype).astype(DTYPES[e["dtype"]]).reshape(e["shape"])
    return out


def read_checkpoint(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """``{variable name: array}`` of a TensorFlow V1 checkpoint file, or of a V2 checkpoint given by
    its prefix or its ``.index`` file. Raises CheckpointFormatError naming the file and the problem."""
    path = Path(os.path.expanduser(str(path)))
    index = path if path.suffix == ".index" else Path(str(path) + ".index")
    v2 = index.is_file() and not (path.is_file() and path.suffix != ".index")
    source = index if v2 else path
    if not source.is_file():
        raise CheckpointFormatError(f"{path}: no such checkpoint file (nor {index.name})")
    data = source.read_bytes()
    try:
        return _read_v2(index, data) if v2 else _read_v1(path, data)
    except CheckpointFormatError:
        raise
    except (ValueError, IndexError, struct.error, UnicodeDecodeError) as e:
        raise CheckpointFormatError(f"{source}: not a readable TensorFlow {'V2' if v2 else 'V1'} checkpoint ({e}); "
                                    "re-download it") from e


__all__ = ["read_checkpoint", "CheckpointFormatError"]
