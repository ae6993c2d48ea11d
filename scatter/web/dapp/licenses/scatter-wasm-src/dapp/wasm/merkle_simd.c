/* Possession tree (format version 2, docs/trust.md "Possession tree") for the dapp's scatter.wasm:
 * roots only (the dapp builds no proofs), with keccak-f[1600] on two states at once in 128-bit SIMD
 * (i64x2: lane 0 one message, lane 1 the next). A possession tree is all independent short hashes
 * (leaves, then each level's parents), so every call hashes two of them per permutation.
 *
 * H(x) = keccak256(x)[0:20]; leaf = H(128-byte segment); node = H(left || right) (40 bytes in).
 * A node is 2.5 64-bit words of the state: words 0, 1 and the low half of word 2.
 * Built by build.sh (clang --target=wasm32 -msimd128 -nostdlib -O3); no libc, no imports.
 * Exports (pointers are byte offsets in `memory`):
 *   hash_leaves(in, n, out)          n 128-byte segments -> n 20-byte leaves
 *   hash_parents(in, n, out)         2n nodes -> n parents (out may equal in)
 *   subtree_root(in, height, tmp)    2^height segments -> their node in tmp[0..20]
 *   keccak256(in, len, out)          plain keccak256 (32 bytes) of any length
 * The committed vectors (tests/testdata/possession_vectors.json) check it against Python.
 */
#include <wasm_simd128.h>

typedef unsigned long long u64;
typedef unsigned int u32;
typedef unsigned char u8;
typedef v128_t v;

#define SEGMENT 128
#define NODE 20
#define RATE 136

#include "../../scatter/formats/_merkle/keccak_rc.h"

/* No libc: the compiler may emit calls to these for struct copies and zeroing (fec.c uses them too). */
void *memset(void *dst, int c, unsigned long n) {
    u8 *d = dst;
    while (n--) *d++ = (u8)c;
    return dst;
}

void *memcpy(void *dst, const void *src, unsigned long n) {
    u8 *d = dst;
    const u8 *s = src;
    while (n--) *d++ = *s++;
    return dst;
}

#define XOR(a, b) wasm_v128_xor((a), (b))
#define ROL(x, n) wasm_v128_or(wasm_i64x2_shl((x), (n)), wasm_u64x2_shr((x), 64 - (n)))
#define CHI(a, b, c) wasm_v128_xor((a), wasm_v128_andnot((c), (b))) /* a ^ (~b & c) */

/* keccak-f[1600] on two states: lane i of s[0..25] is state i (the scalar merkle.c, lane-wise). */
static void keccakf_x2(v *s) {
    v a00 = s[0], a01 = s[1], a02 = s[2], a03 = s[3], a04 = s[4];
    v a05 = s[5], a06 = s[6], a07 = s[7], a08 = s[8], a09 = s[9];
    v a10 = s[10], a11 = s[11], a12 = s[12], a13 = s[13], a14 = s[14];
    v a15 = s[15], a16 = s[16], a17 = s[17], a18 = s[18], a19 = s[19];
    v a20 = s[20], a21 = s[21], a22 = s[22], a23 = s[23], a24 = s[24];
    for (int r = 0; r < 24; r++) {
        v c0 = XOR(XOR(XOR(a00, a05), XOR(a10, a15)), a20);
        v c1 = XOR(XOR(XOR(a01, a06), XOR(a11, a16)), a21);
        v c2 = XOR(XOR(XOR(a02, a07), XOR(a12, a17)), a22);
        v c3 = XOR(XOR(XOR(a03, a08), XOR(a13, a18)), a23);
        v c4 = XOR(XOR(XOR(a04, a09), XOR(a14, a19)), a24);
        v d0 = XOR(c4, ROL(c1, 1));
        v d1 = XOR(c0, ROL(c2, 1));
        v d2 = XOR(c1, ROL(c3, 1));
        v d3 = XOR(c2, ROL(c4, 1));
        v d4 = XOR(c3, ROL(c0, 1));
        /* theta + rho + pi: b[y][2x+3y] = rol(a[x][y] ^ d[x], r[x][y]) */
        v b00 = XOR(a00, d0);
        v b01 = ROL(XOR(a06, d1), 44);
        v b02 = ROL(XOR(a12, d2), 43);
        v b03 = ROL(XOR(a18, d3), 21);
        v b04 = ROL(XOR(a24, d4), 14);
        v b05 = ROL(XOR(a03, d3), 28);
        v b06 = ROL(XOR(a09, d4), 20);
        v b07 = ROL(XOR(a10, d0), 3);
        v b08 = ROL(XOR(a16, d1), 45);
        v b09 = ROL(XOR(a22, d2), 61);
        v b10 = ROL(XOR(a01, d1), 1);
        v b11 = ROL(XOR(a07, d2), 6);
        v b12 = ROL(XOR(a13, d3), 25);
        v b13 = ROL(XOR(a19, d4), 8);
        v b14 = ROL(XOR(a20, d0), 18);
        v b15 = ROL(XOR(a04, d4), 27);
        v b16 = ROL(XOR(a05, d0), 36);
        v b17 = ROL(XOR(a11, d1), 10);
        v b18 = ROL(XOR(a17, d2), 15);
        v b19 = ROL(XOR(a23, d3), 56);
        v b20 = ROL(XOR(a02, d2), 62);
        v b21 = ROL(XOR(a08, d3), 55);
        v b22 = ROL(XOR(a14, d4), 39);
        v b23 = ROL(XOR(a15, d0), 41);
        v b24 = ROL(XOR(a21, d1), 2);
        /* chi + iota */
        a00 = XOR(CHI(b00, b01, b02), wasm_i64x2_splat((long long)RC[r]));
        a01 = CHI(b01, b02, b03);
        a02 = CHI(b02, b03, b04);
        a03 = CHI(b03, b04, b00);
        a04 = CHI(b04, b00, b01);
        a05 = CHI(b05, b06, b07);
        a06 = CHI(b06, b07, b08);
        a07 = CHI(b07, b08, b09);
        a08 = CHI(b08, b09, b05);
        a09 = CHI(b09, b05, b06);
        a10 = CHI(b10, b11, b12);
        a11 = CHI(b11, b12, b13);
        a12 = CHI(b12, b13, b14);
        a13 = CHI(b13, b14, b10);
        a14 = CHI(b14, b10, b11);
        a15 = CHI(b15, b16, b17);
        a16 = CHI(b16, b17, b18);
        a17 = CHI(b17, b18, b19);
        a18 = CHI(b18, b19, b15);
        a19 = CHI(b19, b15, b16);
        a20 = CHI(b20, b21, b22);
        a21 = CHI(b21, b22, b23);
        a22 = CHI(b22, b23, b24);
        a23 = CHI(b23, b24, b20);
        a24 = CHI(b24, b20, b21);
    }
    s[0] = a00; s[1] = a01; s[2] = a02; s[3] = a03; s[4] = a04;
    s[5] = a05; s[6] = a06; s[7] = a07; s[8] = a08; s[9] = a09;
    s[10] = a10; s[11] = a11; s[12] = a12; s[13] = a13; s[14] = a14;
    s[15] = a15; s[16] = a16; s[17] = a17; s[18] = a18; s[19] = a19;
    s[20] = a20; s[21] = a21; s[22] = a22; s[23] = a23; s[24] = a24;
}

/* H of two messages of len bytes each (len a multiple of 8, below RATE: 128 or 40), 20 bytes each.
 * Loads read exactly len bytes of each message (no word past its end). */
static void hash20_x2(const u8 *in0, const u8 *in1, u32 len, u8 *out0, u8 *out1) {
    v s[25];
    u32 w = len / 8, i = 0;
    for (; i + 1 < w; i += 2) {
        v x = wasm_v128_load(in0 + 8 * i); /* words i, i+1 of message 0 */
        v y = wasm_v128_load(in1 + 8 * i);
        s[i] = wasm_i64x2_shuffle(x, y, 0, 2);
        s[i + 1] = wasm_i64x2_shuffle(x, y, 1, 3);
    }
    if (i < w) /* an odd last word (a 40-byte pair of nodes: word 4) */
        s[i++] = wasm_v128_load64_lane(in1 + 8 * (w - 1), wasm_v128_load64_zero(in0 + 8 * (w - 1)), 1);
    for (; i < 25; i++) s[i] = wasm_i64x2_splat(0);
    s[w] = XOR(s[w], wasm_i64x2_splat(0x01));                       /* keccak pad10*1, first byte */
    s[RATE / 8 - 1] = XOR(s[RATE / 8 - 1], wasm_i64x2_splat((long long)0x8000000000000000ULL)); /* last */
    keccakf_x2(s);
    /* both inputs are in s now: hash_parents may write over them in place */
    wasm_v128_store(out0, wasm_i64x2_shuffle(s[0], s[1], 0, 2));
    wasm_v128_store32_lane(out0 + 16, s[2], 0); /* low half of word 2, lane 0 */
    wasm_v128_store(out1, wasm_i64x2_shuffle(s[0], s[1], 1, 3));
    wasm_v128_store32_lane(out1 + 16, s[2], 2); /* low half of word 2, lane 1 */
}

/* n leaves: out[i] = H(in[128 i .. 128 i + 128]), two at a time. */
__attribute__((export_name("hash_leaves"))) void hash_leaves(const u8 *in, u32 n, u8 *out) {
    u32 i = 0;
    for (; i + 1 < n; i += 2)
        hash20_x2(in + SEGMENT * i, in + SEGMENT * (i + 1), SEGMENT, out + NODE * i, out + NODE * (i + 1));
    if (i < n) {
        u8 spare[NODE];
        hash20_x2(in + SEGMENT * i, in + SEGMENT * i, SEGMENT, out + NODE * i, spare);
    }
}

/* n parents: out[i] = H(in[2i] || in[2i+1]) over 20-byte nodes; out may equal in (the pair i, i+1
 * reads in[2i..2i+4] before it writes out[i], out[i+1], which lie at or below what it read). */
__attribute__((export_name("hash_parents"))) void hash_parents(const u8 *in, u32 n, u8 *out) {
    u32 i = 0;
    for (; i + 1 < n; i += 2)
        hash20_x2(in + 2 * NODE * i, in + 2 * NODE * (i + 1), 2 * NODE, out + NODE * i, out + NODE * (i + 1));
    if (i < n) {
        u8 spare[NODE];
        hash20_x2(in + 2 * NODE * i, in + 2 * NODE * i, 2 * NODE, out + NODE * i, spare);
    }
}

/* The node of a full subtree of 2^height segments at in; scratch holds 20 * 2^height
 * bytes; the node ends in scratch[0..20]. */
__attribute__((export_name("subtree_root"))) void subtree_root(const u8 *in, u32 height, u8 *scratch) {
    u32 n = 1u << height;
    hash_leaves(in, n, scratch);
    while (n > 1) {
        n >>= 1;
        hash_parents(scratch, n, scratch);
    }
}

/* Full keccak256 of any message (len bytes at in) into out (32 bytes): lane 0 of the pair. */
__attribute__((export_name("keccak256"))) void keccak256(const u8 *in, u32 len, u8 *out) {
    v s[25];
    for (int i = 0; i < 25; i++) s[i] = wasm_i64x2_splat(0);
    u8 block[RATE];
    for (;;) {
        u32 take = len < RATE ? len : RATE;
        for (u32 i = 0; i < RATE; i++) block[i] = i < take ? in[i] : 0;
        if (take < RATE) {
            block[take] ^= 0x01;
            block[RATE - 1] ^= 0x80;
        }
        for (int i = 0; i < RATE / 8; i++) {
            u64 w;
            __builtin_memcpy(&w, block + 8 * i, 8);
            s[i] = XOR(s[i], wasm_i64x2_splat((long long)w));
        }
        keccakf_x2(s);
        if (take < RATE) break;
        in += RATE;
        len -= RATE;
    }
    for (int i = 0; i < 4; i++) wasm_v128_store64_lane(out + 8 * i, s[i], 0);
}
