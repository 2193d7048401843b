"""Folding constants of the carry-less CRC32C paths (kernels/tb_crc_fold.h), derived, and the folding
algorithm itself in Python on integers: the definition the C code follows, and what tests check it with.

Derivation (CRC32C, Castagnoli, reflected; P = x^32 + ... , the reflected polynomial 0x82F63B78).

A message of bytes m_0 .. m_{N-1} is the polynomial M(x) whose coefficient of x^(8(N-1-i) + 7-b) is bit b of
byte i (reflected: a byte's bit 0 is its highest power). The raw CRC register (no inversions) is
M(x) * x^32 mod P; a starting register c is the same as XORing c (little-endian) into the first 4 bytes.

Sixteen bytes loaded into a 128-bit register X (little-endian) put byte i bit b at bit j = 8i + b, which
stands for x^(127-j): the low 64-bit half (first 8 bytes) holds the high powers, X = L*x^64 + H, with L
and H read as 64-bit reflected polynomials (bit j stands for x^(63-j)).

Folding: X followed, D bits later, by the block Y at the same position of the stream is equivalent (same
remainder mod P, so the same CRC) to the single block X*x^D + Y = L*x^(64+D) + H*x^D + Y. PCLMULQDQ
multiplies two 64-bit halves; read as reflected polynomials, bit j of the 128-bit product stands for
x^(126-j), i.e. the product appears multiplied by x when read as a 128-bit reflected value. So the
constants are
    k_lo(D) = x^(63+D) mod P   (multiplies L),     k_hi(D) = x^(D-1) mod P   (multiplies H),
each stored as a 64-bit reflected value (x^e at bit 63-e; they are below x^32, so in bits 32..63), and
fold(X) = clmul(L, k_lo) ^ clmul(H, k_hi) is congruent to X*x^D. D is the distance between the block
an accumulator holds and the next block it absorbs: 128 for one 16-byte accumulator, 512 for four
(64 bytes per round), 256 * n for n 32-byte (ymm: two 128-bit lanes, VPCLMULQDQ) accumulators.

Finish: once one 16-byte block X is left (everything before it folded in), it stands for the last 16
bytes of an equivalent message, so the `crc32` instruction over its two 64-bit halves (from register 0)
gives the CRC register, and the bytes after it continue from there. No Barrett reduction is needed.

Run `python -m kernels.crc32c_fold` to print the constants as the C header has them.
"""

POLY_REFLECTED = 0x82F63B78
# P with its powers in the usual order (bit e stands for x^e), x^32 included: 0x1EDC6F41 | 1 << 32.
POLY = (1 << 32) | int(f"{POLY_REFLECTED:032b}"[::-1], 2)
MASK64 = (1 << 64) - 1


def xpow_mod(k: int) -> int:
    """x^k mod P, as an integer whose bit e stands for x^e."""
    r, base = 1, 2          # square-and-multiply over GF(2)[x] / P
    while k:
        if k & 1:
            r = _mulmod(r, base)
        base = _mulmod(base, base)
        k >>= 1
    return r


def _mulmod(a: int, b: int) -> int:
    product = clmul(a, b)
    for e in range(product.bit_length() - 1, 31, -1):
        if product >> e & 1:
            product ^= POLY << (e - 32)
    return product


def clmul(a: int, b: int) -> int:
    """Carry-less product of two non-negative integers (what PCLMULQDQ computes on 64-bit halves)."""
    r = 0
    while b:
        if b & 1:
            r ^= a
        a <<= 1
        b >>= 1
    return r


def reflect64(v: int) -> int:
    return int(f"{v:064b}"[::-1], 2)


def fold_constants(distance_bits: int) -> tuple:
    """(k_lo, k_hi): the 64-bit constants that fold a 128-bit block `distance_bits` forward."""
    return reflect64(xpow_mod(63 + distance_bits)), reflect64(xpow_mod(distance_bits - 1))


# The distances the C code folds by; tb_crc_fold.h has these constants, checked by the kernels' tests.
DISTANCES = {"FOLD128": 128, "FOLD256": 256, "FOLD512": 512, "FOLD1024": 1024, "FOLD2048": 2048}


def constants() -> dict:
    return {name: fold_constants(d) for name, d in DISTANCES.items()}


def _fold(x: int, distance: int) -> int:
    k_lo, k_hi = fold_constants(distance)
    return clmul(x & MASK64, k_lo) ^ clmul(x >> 64, k_hi)


def _crc32_u64(reg: int, word: int) -> int:
    """The `crc32` instruction on 8 bytes: raw register update, reflected."""
    reg ^= word
    for _ in range(64):
        reg = (reg >> 1) ^ POLY_REFLECTED if reg & 1 else reg >> 1
    return reg


def crc32c_folded(data: bytes, crc: int = 0, lanes: int = 4) -> int:
    """CRC32C of `data` continued from `crc`, by the folding the C code does with `lanes` 16-byte
    accumulators (lanes=4: the PCLMULQDQ path; 8: four ymm accumulators of VPCLMULQDQ), on integers.
    Needs at least 16 * lanes bytes; the tail after the last whole 16-byte block goes byte by byte."""
    from kernels.crc32c_ref import crc32c as byte_wise
    assert len(data) >= 16 * lanes
    block = [int.from_bytes(data[16 * i:16 * i + 16], "little") for i in range(len(data) // 16)]
    acc = block[:lanes]
    acc[0] ^= crc ^ 0xFFFFFFFF
    i = lanes
    while i + lanes <= len(block):
        acc = [_fold(a, 128 * lanes) ^ block[i + k] for k, a in enumerate(acc)]
        i += lanes
    x = acc[0]
    for a in acc[1:]:
        x = _fold(x, 128) ^ a
    for b in block[i:]:
        x = _fold(x, 128) ^ b
    reg = _crc32_u64(_crc32_u64(0, x & MASK64), x >> 64)
    return byte_wise(data[16 * len(block):], reg ^ 0xFFFFFFFF)


def header_lines() -> list:
    lines = []
    for name, (k_lo, k_hi) in constants().items():
        d = DISTANCES[name]
        lines.append(f"#define TB_{name}_LO 0x{k_lo:016x}ull /* x^{63 + d} mod P */")
        lines.append(f"#define TB_{name}_HI 0x{k_hi:016x}ull /* x^{d - 1} mod P */")
    return lines


if __name__ == "__main__":
    print("\n".join(header_lines()))
