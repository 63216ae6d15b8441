"""Per-image visual K (before RoPE) / V for every layer, kept in a memory-bounded LRU with an
optional disk tier (safetensors files, never pickle) of bounded size.

Under composite attention a visual token's hidden state depends only on its own image feature,
so these tensors are the same wherever the image stands in whichever conversation: computed once,
placed anywhere (RoPE is applied at the new positions)."""
from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ..atomic import replacing

LayerKV = list[tuple[torch.Tensor, torch.Tensor]]


def nbytes(kv: LayerKV) -> int:
    return sum(k.numel() * k.element_size() + v.numel() * v.element_size() for k, v in kv)


class VisualKVStore:
    def __init__(self, max_bytes: int = 2 * 2 ** 30, disk_dir: str | Path | None = None,
                 disk_max_bytes: int = 8 * 2 ** 30, store_dtype: torch.dtype | None = None):
        self.max_bytes, self.disk_max_bytes = max_bytes, disk_max_bytes
        self.disk = Path(disk_dir) if disk_dir else None
        self.store_dtype = store_dtype        # e.g. float16 to halve memory; None keeps the model's
        self.mem: OrderedDict[str, LayerKV] = OrderedDict()
        self.used = 0
        if self.disk:
            self.disk.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def key(*parts: str) -> str:
        return hashlib.sha256("\x00".join(parts).encode()).hexdigest()

    def get(self, key: str, dtype: torch.dtype, device) -> LayerKV | None:
        kv = self.mem.get(key)
        if kv is not None:
            self.mem.move_to_end(key)
        elif self.disk:
            kv = self._read(key)
            if kv is not None:
                self._remember(key, kv)
        if kv is None:
            return None
        return [(k.to(device, dtype), v.to(device, dtype)) for k, v in kv]

    def put(self, key: str, kv: LayerKV) -> None:
        kv = [(k.detach().to("cpu", self.store_dtype or k.dtype).contiguous(),
               v.detach().to("cpu", self.store_dtype or v.dtype).contiguous()) for k, v in kv]
        self._remember(key, kv)
        if self.disk:
            self._write(key, kv)

    def _remember(self, key: str, kv: LayerKV) -> None:
        size = nbytes(kv)
        if size > self.max_bytes:
            return
        if key in self.mem:
            self.used -= nbytes(self.mem.pop(key))
        self.mem[key] = kv
        self.used += size
        while self.used > self.max_bytes:
            _, old = self.mem.popitem(last=False)
            self.used -= nbytes(old)

    # ---- disk tier -------------------------------------------------------------------------
    def _path(self, key: str) -> Path:
        return self.disk / f"{key}.safetensors"

    def _read(self, key: str) -> LayerKV | None:
        p = self._path(key)
        if not p.is_file():
            return None
        try:
            t = load_file(str(p))
            n = len(t) // 2
            kv = [(t[f"k.{i}"], t[f"v.{i}"]) for i in range(n)]
            if not n or len(t) != 2 * n:
                raise ValueError("incomplete entry")
        except Exception:  # a torn or corrupt file is a miss, and goes away
            p.unlink(missing_ok=True)
            return None
        os.utime(p)  # recently used: evicted last
        return kv

    def _write(self, key: str, kv: LayerKV) -> None:
        tensors = {f"{n}.{i}": t for i, (k, v) in enumerate(kv) for n, t in (("k", k), ("v", v))}
        with replacing(self._path(key)) as tmp:  # readers never see half a file
            save_file(tensors, str(tmp))
        self._trim_disk()

    def _trim_disk(self) -> None:
        files = sorted(self.disk.glob("*.safetensors"), key=lambda p: p.stat().st_mtime)
        total = sum(p.stat().st_size for p in files)
        for p in files:
            if total <= self.disk_max_bytes:
                break
            total -= p.stat().st_size
            p.unlink(missing_ok=True)

    def disk_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.disk.glob("*.safetensors")) if self.disk else 0
