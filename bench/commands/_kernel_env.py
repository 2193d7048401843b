"""What the kernels read from the environment at import, checked before any command runs.

`TIERBENCH_CRC_ISA` (kernels/crc32c_isa.py) limits the CRC32C paths to a lower CPU class; the kernel refuses a
value it does not know when it is imported (a ValueError, its only refusal at import). Imported here first, a
bad value is bad input: one line, exit 2, before anything is measured.
"""
from __future__ import annotations

from bench.core.errors import UserError


def check_kernel_environment() -> None:
    """Import the kernels; a TIERBENCH_CRC_ISA they refuse becomes a UserError with their one-line reason."""
    try:
        import kernels  # noqa: F401  (kernels.crc32c reads TIERBENCH_CRC_ISA as it loads)
    except ValueError as exc:
        raise UserError(str(exc)) from None
