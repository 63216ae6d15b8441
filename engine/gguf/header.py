"""Check a file really is a complete GGUF before llama.cpp sees it.

llama.cpp can abort the whole process on malformed input, so the magic, the version, every
metadata entry and the tensor table are read here first, and every tensor's data must lie inside
the file. The `gguf` package's GGUFReader does this too but builds numpy views of every token
(2 s for a 49k vocabulary), so this is a small streaming reader of the same format."""
from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

from ..api import EngineError

GGUF_MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
MAX_STRING = 64 * 2**20        # a metadata string longer than this is damage, not a template
MAX_ARRAY = 2**26
# GGUF value type id -> struct format (scalars); 8 = string, 9 = array
SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
           10: "<Q", 11: "<q", 12: "<d"}
KEEP_ARRAYS_UNDER = 64          # token lists etc. are skipped, not kept


class _Damaged(Exception):
    pass


def _read(f: BinaryIO, n: int) -> bytes:
    b = f.read(n)
    if len(b) != n:
        raise _Damaged("it ends in the middle of its header")
    return b


def _string(f: BinaryIO) -> str:
    (n,) = struct.unpack("<Q", _read(f, 8))
    if n > MAX_STRING:
        raise _Damaged(f"a string claims {n} bytes")
    return _read(f, n).decode("utf-8", errors="replace")


def _value(f: BinaryIO, vtype: int):
    if vtype in SCALARS:
        fmt = SCALARS[vtype]
        return struct.unpack(fmt, _read(f, struct.calcsize(fmt)))[0]
    if vtype == 8:
        return _string(f)
    if vtype == 9:
        (itype,) = struct.unpack("<I", _read(f, 4))
        (n,) = struct.unpack("<Q", _read(f, 8))
        if n > MAX_ARRAY:
            raise _Damaged(f"an array claims {n} items")
        if itype in SCALARS:  # fixed-size items: skip or read in one go
            size = struct.calcsize(SCALARS[itype])
            data = _read(f, size * n)
            return list(struct.unpack("<" + SCALARS[itype][1] * n, data)) if n < KEEP_ARRAYS_UNDER else None
        if itype == 8 and n >= KEEP_ARRAYS_UNDER:  # a token list: skip each string unread
            for _ in range(n):
                (k,) = struct.unpack("<Q", _read(f, 8))
                if k > MAX_STRING:
                    raise _Damaged(f"a string claims {k} bytes")
                f.seek(k, 1)
            return None
        items = [_value(f, itype) for _ in range(n)]
        return items if n < KEEP_ARRAYS_UNDER else None
    raise _Damaged(f"unknown value type {vtype}")


def check_gguf(path: str | Path, role: str = "model") -> dict:
    """Validate `path` and return its metadata as {key: value} (long arrays such as token lists
    are None). Raises EngineError saying what is wrong and what to do."""
    p = Path(path)
    if not p.is_file():
        raise EngineError(f"The {role} file {p} does not exist.")
    size = p.stat().st_size
    with p.open("rb") as f:
        head = f.read(8)
        if len(head) < 8 or head[:4] != GGUF_MAGIC:
            raise EngineError(f"{p.name} is not a GGUF file (it does not start with 'GGUF'). "
                              f"Pick a .gguf {role} file, or re-download or re-export it.")
        version = int.from_bytes(head[4:8], "little")
        if version not in SUPPORTED_VERSIONS:
            raise EngineError(f"{p.name} is GGUF version {version}; only versions "
                              f"{', '.join(map(str, SUPPORTED_VERSIONS))} can be read. Re-export it.")
        try:
            return _check_body(f, size)
        except (_Damaged, struct.error, UnicodeError) as e:
            raise EngineError(f"{p.name} is a damaged GGUF file ({e}). "
                              f"Re-download or re-export it.") from None


def _check_body(f: BinaryIO, size: int) -> dict:
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    n_tensors, n_kv = struct.unpack("<QQ", _read(f, 16))
    if n_tensors > 2**20 or n_kv > 2**20:
        raise _Damaged(f"it claims {n_tensors} tensors and {n_kv} metadata entries")
    meta = {}
    for _ in range(n_kv):
        key = _string(f)
        (vtype,) = struct.unpack("<I", _read(f, 4))
        meta[key] = _value(f, vtype)
    tensors = []
    for _ in range(n_tensors):
        name = _string(f)
        (n_dims,) = struct.unpack("<I", _read(f, 4))
        if n_dims > 8:
            raise _Damaged(f"tensor {name} claims {n_dims} dimensions")
        dims = struct.unpack(f"<{n_dims}Q", _read(f, 8 * n_dims))
        ttype, offset = struct.unpack("<IQ", _read(f, 12))
        try:
            block, type_size = GGML_QUANT_SIZES[GGMLQuantizationType(ttype)]
        except (ValueError, KeyError):
            raise _Damaged(f"tensor {name} has unknown type {ttype}") from None
        n = 1
        for d in dims:
            n *= d
        tensors.append((name, offset, n // block * type_size))
    align = int(meta.get("general.alignment") or 32)
    start = -(-f.tell() // align) * align
    for name, offset, nbytes in tensors:
        if start + offset + nbytes > size:
            raise _Damaged(f"it is truncated: tensor {name} ends past the end of the file")
    meta["gguf.n_tensors"] = n_tensors
    return meta
