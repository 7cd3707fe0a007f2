"""Which BLAS NumPy's matrix products run on, its threads and its kernel (AVX2 or AVX-512): for a run's JSON."""
from __future__ import annotations

from threadpoolctl import threadpool_info

# OpenBLAS names its kernels after the CPU they were written for; these use AVX-512, the other x86-64 ones
# (Haswell, Zen, ...) AVX2 at most.
AVX512_KERNELS = {"skylakex", "cooperlake", "sapphirerapids"}


def cpu_simd() -> str:
    """The widest vector extension this CPU has, as NumPy's own dispatcher detected it."""
    try:
        # NumPy's private feature table (the detection its own kernels dispatch on); absent: "unknown"
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:
        return "unknown"
    return "AVX-512" if features.get("AVX512F") else "AVX2" if features.get("AVX2") else "neither AVX2 nor AVX-512"


def kernel_simd(architecture: str | None, internal_api: str) -> str:
    """AVX-512 or AVX2 for an OpenBLAS kernel name; MKL and others choose at run time, so: the CPU's widest."""
    if internal_api != "openblas" or not architecture:
        return cpu_simd()
    return "AVX-512" if architecture.lower() in AVX512_KERNELS else "AVX2"


def blas_report(threads: int) -> dict:
    """The BLAS library NumPy calls, its version, kernel, vector extension and the threads it was limited to."""
    found = [lib for lib in threadpool_info() if lib.get("user_api") == "blas"]
    if not found:
        return {"library": "none found", "threads": threads, "cpu_simd": cpu_simd()}
    lib = found[0]
    return {"library": lib["internal_api"], "version": lib.get("version"), "kernel": lib.get("architecture"),
            "simd": kernel_simd(lib.get("architecture"), lib["internal_api"]), "threads": threads,
            "cpu_simd": cpu_simd()}
