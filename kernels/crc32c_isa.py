"""The CPU class the CRC32C kernel may assume: ``TIERBENCH_CRC_ISA`` limits the paths chosen at import to those
a CPU of a lower class would have, so that one machine can measure (and test) what users' CPUs run.

The kernel's paths need, besides SSE4.2 (kernels/crc32c.pyx):
  fused512, vpclmul512   AVX-512 (zmm) and VPCLMULQDQ
  fused256, vpclmul256   AVX2 (ymm) and VPCLMULQDQ
  fused128, pclmul       PCLMULQDQ on 128-bit registers
  sse42                  the SSE4.2 `crc32` instruction
  table                  nothing (slice-by-8 tables)
A level keeps the paths a CPU of that class can have; the kernel still runs only what CPUID says this CPU has:
  avx512   every path (the same as no limit);
  avx2     no AVX-512: AMD Zen 3, Intel Alder Lake and later client cores (AVX2 with 256-bit VPCLMULQDQ), and
           Haswell to Skylake, Zen 1 / 2 (AVX2 without VPCLMULQDQ, which CPUID already leaves at pclmul / sse42);
  sse42    128-bit registers only: SSE4.2 and PCLMULQDQ, which is what the CRC paths of an AVX2 CPU without
           VPCLMULQDQ come to (Haswell to Skylake, Zen 1 / 2), and of Westmere;
  generic  no CPU CRC instruction at all: the tables.
Unset or empty means no limit. Any other value is refused when the kernel is imported (ValueError, one line):
a mistyped limit silently ignored would time the AVX-512 path and report it as the AVX2 one.

Pure Python, importing nothing from the kernels, so the CLI can check the variable before anything is measured.
"""
from __future__ import annotations

import os

ENV_VAR = "TIERBENCH_CRC_ISA"
# level -> the paths it keeps, fastest first (the order kernels/crc32c.pyx prefers them in).
LEVELS = {
    "avx512": ("fused512", "vpclmul512", "fused256", "fused128", "vpclmul256", "sse42", "pclmul", "table"),
    "avx2": ("fused256", "fused128", "vpclmul256", "sse42", "pclmul", "table"),
    "sse42": ("fused128", "sse42", "pclmul", "table"),
    "generic": ("table",),
}


def isa_limit(environ=None) -> str | None:
    """The level named by TIERBENCH_CRC_ISA in `environ` (default os.environ), None when unset or empty;
    ValueError (one line, naming the variable and the levels) for anything else."""
    value = (os.environ if environ is None else environ).get(ENV_VAR, "")
    if value == "":
        return None
    if value not in LEVELS:
        shown = repr(value if len(value) <= 40 else value[:40]) + ("..." if len(value) > 40 else "")
        raise ValueError(f"{ENV_VAR}={shown} is not a CPU class the CRC32C kernel knows: "
                         f"choose one of {', '.join(LEVELS)} (or leave it unset for this CPU's best)")
    return value


def allowed_paths(level: str | None) -> tuple:
    """The CRC32C paths a CPU of class `level` can have (every path for None), fastest first."""
    return LEVELS["avx512" if level is None else level]
