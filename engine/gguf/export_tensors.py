"""How each tensor is stored for a chosen --quant: a table of encoders over numpy arrays.

Norms, biases and other 1-D tensors stay f32 (llama.cpp expects that and they are tiny).
Q8_0 comes from the gguf package's own quantizer; q4_k_m is made afterwards by llama.cpp's
quantizer from the f16 file, since K-quant mixes are chosen per tensor by llama.cpp itself."""
from __future__ import annotations

import numpy as np

QUANTS = ("f16", "q8_0", "q4_k_m")


def _f32(a: np.ndarray):
    return np.ascontiguousarray(a, dtype=np.float32), None


def _f16(a: np.ndarray):
    return np.ascontiguousarray(a, dtype=np.float16), None


def _q8_0(a: np.ndarray):
    import gguf
    if a.shape[-1] % 32:  # a row must be whole 32-value blocks
        return _f16(a)
    q = gguf.quants.quantize(np.ascontiguousarray(a, dtype=np.float32), gguf.GGMLQuantizationType.Q8_0)
    return q, gguf.GGMLQuantizationType.Q8_0


# --quant -> encoder for matrices (the q4_k_m pass starts from f16)
MATRIX_ENCODERS = {"f16": _f16, "q8_0": _q8_0, "q4_k_m": _f16}
FILE_TYPES = {"f16": 1, "q8_0": 7, "q4_k_m": 15}   # general.file_type (LLAMA_FTYPE_*)


def add(writer, name: str, array: np.ndarray, quant: str, matrix_ok: bool = True) -> None:
    encode = MATRIX_ENCODERS[quant] if array.ndim >= 2 and matrix_ok else _f32
    data, raw = encode(array)
    if raw is None:
        writer.add_tensor(name, data)
    else:
        writer.add_tensor(name, data, raw_dtype=raw)  # shape is read from the byte shape


def llama_quantize(src: str, dst: str, quant: str, threads: int) -> None:
    """llama.cpp's own quantizer (through llama-cpp-python), for K-quant mixes."""
    import llama_cpp

    from ..api import EngineError
    ftype = {"q4_k_m": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M}[quant]
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.nthread = threads
    rc = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), params)
    if rc != 0:
        raise EngineError(f"llama.cpp's quantizer failed ({rc}) making {quant} from {src}.")
