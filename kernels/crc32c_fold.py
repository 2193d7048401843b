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


# --- The fused paths (kernels/tb_crc_fused.h): the crc32 instruction and carry-less folding at once. ---
#
# A block of B bytes is split into a vector region of V bytes, folded by `acc` accumulators of `width` bytes
# (`rounds` rounds of R = acc * width bytes), and three scalar regions of S = rounds * words * 8 bytes after it,
# each run through the crc32 instruction by its own stream (`words` 8-byte words per stream per vector round,
# interleaved with the round in the C loop so both kinds of ports work at once). The CRC is linear: the raw
# register of the whole input is the XOR of the raw registers of the input with all but one part zeroed. So:
#   - the accumulators fold across blocks as if the scalar regions were zeros: from the last round of one
#     block to the first of the next is a fold by (R + 3S) bytes ("GAP"), within a block by R ("ROUND");
#   - each block's three scalar streams start from 0 and are shifted to the end of the block (by 2S, S, 0
#     bytes), and the running scalar total T by the block length B before each block's are XORed in;
#   - at the end, the folded vector register (reduced to 32 bits) is shifted past the last block's 3S scalar bytes.
# Shifting a raw register r over n zero bytes is r * x^(8n) mod P: one carry-less multiply of r by
# x^(8n-33) mod P (the 64-bit product reads as r * k * x, see fold_constants) and a crc32 instruction over the
# product from register 0 (which multiplies by x^32 and reduces): r * x^(8n-33) * x * x^32 = r * x^(8n).
# The layouts (split ratios) were measured on Zen 5 (docs/crc32c.md), among those whose 1 or 2 KiB block divides
# 64 KiB and 1 MiB: folding takes about 16 bytes a cycle on 512-bit registers, 8 on 256 and 4 on 128, and three
# crc32 streams 8, so the scalar streams get 3/8 of a 512-bit block, 9/16 of a 256-bit one and 3/4 of a 128-bit one.
FUSED = {
    "FUSED128": {"width": 16, "acc": 4, "rounds": 4, "words": 8},
    "FUSED256": {"width": 32, "acc": 7, "rounds": 4, "words": 12},
    "FUSED512": {"width": 64, "acc": 5, "rounds": 4, "words": 8},
}


def fused_sizes(layout: dict) -> dict:
    """Byte sizes of a fused layout: R (a vector round), V (vector region), S (one scalar stream), B (block)."""
    r = layout["acc"] * layout["width"]
    v = r * layout["rounds"]
    s = layout["rounds"] * layout["words"] * 8
    return {"R": r, "V": v, "S": s, "B": v + 3 * s}


def shift_constant(nbytes: int) -> int:
    """The 32-bit reflected constant x^(8 * nbytes - 33) mod P that shifts a raw register over `nbytes` zero
    bytes (with a carry-less multiply and a crc32 instruction from 0; nbytes >= 5)."""
    return int(f"{xpow_mod(8 * nbytes - 33):032b}"[::-1], 2)


def shift_register(reg: int, nbytes: int) -> int:
    """A raw CRC32C register advanced over `nbytes` zero bytes, the way the C code does it (clmul, crc32)."""
    return _crc32_u64(0, clmul(reg, shift_constant(nbytes)))


def fused_constants(name: str) -> dict:
    """The #define values of one fused layout: its sizes, its two fold constants and its four shifts."""
    layout = FUSED[name]
    size = fused_sizes(layout)
    out = {f"{name}_{k.upper()}": v for k, v in layout.items()}
    out.update({f"{name}_{k}_BYTES": v for k, v in size.items()})
    for what, distance in (("ROUND", size["R"]), ("GAP", size["R"] + 3 * size["S"])):
        out[f"{name}_{what}_LO"], out[f"{name}_{what}_HI"] = fold_constants(8 * distance)
    for what, nbytes in (("SHIFT_S", size["S"]), ("SHIFT_2S", 2 * size["S"]), ("SHIFT_3S", 3 * size["S"]),
                         ("SHIFT_B", size["B"])):
        out[f"{name}_{what}"] = shift_constant(nbytes)
    return out


def fused_header_lines() -> list:
    lines = []
    for name in FUSED:
        for key, value in fused_constants(name).items():
            if key.endswith(("_LO", "_HI")):
                lines.append(f"#define TB_{key} 0x{value:016x}ull")
            elif "_SHIFT_" in key:
                lines.append(f"#define TB_{key} 0x{value:08x}u")
            else:
                lines.append(f"#define TB_{key} {value}")
    return lines


def crc32c_fused(data: bytes, crc: int, name: str) -> int:
    """CRC32C of `data` continued from `crc` by the fused layout `name`, on integers: the vector regions folded
    (as 16-byte lanes, the way wider registers fold them lane by lane) across the zeroed scalar regions, the
    scalar streams by the crc32 instruction, the parts merged by shift_register. Whole blocks only; the
    bytes after the last whole block go byte by byte (the C code hands them to the plain folding path)."""
    from kernels.crc32c_ref import crc32c as byte_wise
    size = fused_sizes(FUSED[name])
    nb = len(data) // size["B"]
    assert nb >= 1
    lanes = size["R"] // 16
    acc = None
    total = 0
    for k in range(nb):
        block = data[k * size["B"]:(k + 1) * size["B"]]
        for r in range(size["V"] // size["R"]):
            chunk = [int.from_bytes(block[r * size["R"] + 16 * i:r * size["R"] + 16 * i + 16], "little")
                     for i in range(lanes)]
            if acc is None:
                acc = chunk
                acc[0] ^= crc ^ 0xFFFFFFFF
            else:
                distance = size["R"] + 3 * size["S"] if r == 0 else size["R"]
                acc = [_fold(a, 8 * distance) ^ c for a, c in zip(acc, chunk)]
        streams = []
        for j in range(3):
            reg = 0
            region = block[size["V"] + j * size["S"]:size["V"] + (j + 1) * size["S"]]
            for i in range(0, len(region), 8):
                reg = _crc32_u64(reg, int.from_bytes(region[i:i + 8], "little"))
            streams.append(reg)
        total = (shift_register(total, size["B"]) ^ shift_register(streams[0], 2 * size["S"])
                 ^ shift_register(streams[1], size["S"]) ^ streams[2])
    x = acc[0]
    for a in acc[1:]:
        x = _fold(x, 128) ^ a
    vector = _crc32_u64(_crc32_u64(0, x & MASK64), x >> 64)
    reg = shift_register(vector, 3 * size["S"]) ^ total
    return byte_wise(data[nb * size["B"]:], reg ^ 0xFFFFFFFF)


if __name__ == "__main__":
    print("\n".join(header_lines()))
    print("\n".join(fused_header_lines()))
