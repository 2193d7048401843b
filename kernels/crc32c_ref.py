"""Pure-Python reference for kernels.crc32c (same signatures; slow: for tests on small buffers)."""

_POLY = 0x82F63B78  # CRC32C (Castagnoli), bit-reflected


def _make_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _make_table()


def crc32c(data, crc=0):
    """CRC32C of a buffer continued from `crc`, one byte at a time."""
    reg = crc ^ 0xFFFFFFFF
    table = _TABLE
    for byte in memoryview(data).cast("B"):
        reg = table[(reg ^ byte) & 0xFF] ^ (reg >> 8)
    return reg ^ 0xFFFFFFFF


def crc32c_chunks(data, bytes_per_checksum=512):
    """One 4-byte big-endian CRC32C per `bytes_per_checksum`-byte chunk, as bytes."""
    if bytes_per_checksum <= 0:
        raise ValueError(f"bytes_per_checksum must be positive, got {bytes_per_checksum}")
    view = memoryview(data).cast("B")
    return b"".join(crc32c(view[i:i + bytes_per_checksum]).to_bytes(4, "big")
                    for i in range(0, len(view), bytes_per_checksum))
