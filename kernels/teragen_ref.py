"""Pure-Python reference for kernels.teragen (same signatures; slow: for tests)."""
import zlib

RECORD_BYTES = 100
KEY_BYTES = 10
_MASK128 = (1 << 128) - 1
# gensort 1.5 / Hadoop Random16: x_{n+1} = A*x_n + C mod 2**128, x_0 = 0.
_A = 0x2360ED051FC65DA44385DF649FCCF645
_C = 0x4A696D47726179524950202020202001
# Constant XORed into the LCG output behind each 10-byte part of a record (part 0 is the key).
_PART_XOR = (
    0,
    0xF0E8E4E2E1D8D4D2D1CC << 48, 0xCAC9C6C5C3B8B4B2B1AC << 48, 0xAAA9A6A5A39C9A999695 << 48,
    0x938E8D8B87787472716C << 48, 0x6A696665635C5A595655 << 48, 0x534E4D4B473C3A393635 << 48,
    0x332E2D2B271E1D1B170F << 48, 0xC8C4C2C1989492918CE0 << 48, 0x170F332E2D2B271E1D1B << 48,
)


def lcg_skip(n):
    """The generator's state n steps after 0, by composing the affine map with itself."""
    mult, add, x = _A, _C, 0
    while n:
        if n & 1:
            x = (mult * x + add) & _MASK128
        add = (mult * add + add) & _MASK128
        mult = (mult * mult) & _MASK128
        n >>= 1
    return x


def teragen(first_record, count, threads=None):
    """`count` gensort 1.5 binary records from record `first_record`, as bytes (threads unused)."""
    if not 0 <= first_record <= _MASK128:
        raise ValueError(f"first_record must be in [0, 2**128), got {first_record}")
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    x = lcg_skip(first_record)
    outputs = []
    for _ in range(count + 9 if count else 0):
        x = (_A * x + _C) & _MASK128
        outputs.append(x)
    out = bytearray()
    for r in range(count):
        for part in range(10):
            out += ((outputs[r + part] ^ _PART_XOR[part]) >> 48).to_bytes(10, "big")
    return bytes(out)


def record_checksum(records, threads=None):
    """Sum of the zlib CRC32 of each 100-byte record (valsort's checksum)."""
    view = memoryview(records).cast("B")
    if len(view) % RECORD_BYTES:
        raise ValueError(f"buffer of {len(view)} bytes is not a whole number of {RECORD_BYTES}-byte records")
    return sum(zlib.crc32(view[i:i + RECORD_BYTES]) for i in range(0, len(view), RECORD_BYTES))
