"""What this CPU computes natively, and the dtype the torch engine runs in on it.

bfloat16 halves the bytes every decoded token reads, but only pays where the CPU has bf16 dot
products (x86: avx512_bf16 or AMX; Arm: the bf16 extension); elsewhere PyTorch emulates it, slower
than float32, so the engine uses float32 there and says so."""
from __future__ import annotations

import functools
import platform

# The one switch: make bfloat16 the CPU default where it is native. On only where it pays end to
# end with the held-out answers unchanged. Answers: bf16 weights in a float32 model (--quant bf16)
# keep the shipped eleventh's within 1 point on every skill; --dtype bfloat16 was off by 2-3 on some
# skill for the seventh, eighth and ninth. Speed (python -m engine bench own --settings, the own
# model, README): the first token comes 1.26-1.40x sooner but decode runs 0.80-0.85x as fast on both
# CPUs measured (AMD EPYC avx512_bf16; Intel Xeon with AMX, where bench decode's bf16 step is 0.77x
# float32's), so an answer of more than ~4 tokens arrives later: off.
BF16_DEFAULT_ON_CPU = False

# Tests simulate another CPU by setting this (True / False); None: detect.
FORCE_NATIVE_BF16: bool | None = None

_X86_BF16 = ("avx512_bf16", "amx_bf16")   # /proc/cpuinfo flag names
_ARM_BF16 = ("bf16",)                     # /proc/cpuinfo "Features" (Armv8.6 BF16)


@functools.cache
def cpu_flags() -> frozenset[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


@functools.cache
def _detected() -> str | None:
    flags = cpu_flags()
    for name in _X86_BF16 + (_ARM_BF16 if platform.machine().lower() in ("aarch64", "arm64") else ()):
        if name in flags:
            return name
    try:  # no /proc (macOS, Windows): PyTorch's own dispatch level says AMX where it has it
        import torch
        if "AMX" in torch.backends.cpu.get_cpu_capability():
            return "amx"
    except (AttributeError, RuntimeError):
        pass
    return None


def native_bf16() -> str | None:
    """The CPU feature that makes bf16 native here (e.g. "avx512_bf16"), or None."""
    if FORCE_NATIVE_BF16 is not None:
        return "forced" if FORCE_NATIVE_BF16 else None
    return _detected()


def cpu_dtype(asked: str | None) -> tuple[str, str | None]:
    """(dtype to run on the CPU, a note for the user or None) for the dtype asked (None: default)."""
    feature = native_bf16()
    why = "this CPU has no native bf16 (avx512_bf16 / AMX / Arm bf16), where PyTorch emulates it more slowly"
    if asked is None and BF16_DEFAULT_ON_CPU:
        return ("bfloat16", f"bfloat16: this CPU has native bf16 ({feature})") if feature else \
            ("float32", f"float32, not the bfloat16 default: {why}")
    if asked == "bfloat16" and not feature:
        return "float32", f"float32 instead of the bfloat16 asked for: {why}"
    return asked or "float32", None


def cpu_quant(asked: str | None) -> tuple[str | None, str | None]:
    """(--quant to run on the CPU, a note or None): bf16 weights only where bf16 is native."""
    if asked == "bf16" and not native_bf16():
        return None, ("float32 weights instead of the bf16 asked for: this CPU has no native bf16 "
                      "(avx512_bf16 / AMX / Arm bf16), where PyTorch emulates it more slowly")
    return asked, None


def int_kernel_note() -> str | None:
    """A warning when PyTorch dispatches this CPU to its scalar kernels (no AVX2 / AVX-512): the
    int8/int4 matmuls then have no vector path and run slower than float32."""
    try:
        import torch
        cap = torch.backends.cpu.get_cpu_capability()
    except (AttributeError, RuntimeError):
        return None
    if cap.startswith(("AVX2", "AVX512", "AMX")):
        return None
    return f"PyTorch's CPU kernels run at capability {cap} here: int8/int4 may be slower than float32"
