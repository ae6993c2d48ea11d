/* Possession tree (format version 2, docs/trust.md) hashing for WebAssembly.
 *
 * H(x) = keccak256(x)[0:20]; leaf = H(128-byte segment); node = H(left || right) (40 bytes).
 * Built with `make wasm` (clang --target=wasm32 -nostdlib -O3); no libc, no imports.
 * The caller owns all memory: it grows the exported `memory`, writes inputs at
 * offsets >= 256 KiB (below lie this module's data and its 64 KiB stack) and reads
 * the outputs back. Exports (all pointers are byte offsets in `memory`):
 *   hash_leaves(in, n, out)          n 128-byte segments -> n 20-byte leaves
 *   hash_parents(in, n, out)         2n nodes -> n parents (out may equal in)
 *   subtree_root(in, height, tmp)    2^height segments -> their node in tmp[0..20]
 *   keccak256(in, len, out)          plain keccak256 (32 bytes), e.g. for challenge indices
 */
typedef unsigned long long u64;
typedef unsigned int u32;
typedef unsigned char u8;

#define SEGMENT 128
#define NODE 20
#define RATE 136

#include "keccak_rc.h"

/* No libc: the compiler may emit calls to these for struct copies and zeroing. */
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

#define ROL(x, n) (((x) << (n)) | ((x) >> (64 - (n))))

/* keccak-f[1600] on 25 lanes held in locals (wasm is little-endian like the lane order). */
static void keccakf(u64 *s) {
    u64 a00 = s[0], a01 = s[1], a02 = s[2], a03 = s[3], a04 = s[4];
    u64 a05 = s[5], a06 = s[6], a07 = s[7], a08 = s[8], a09 = s[9];
    u64 a10 = s[10], a11 = s[11], a12 = s[12], a13 = s[13], a14 = s[14];
    u64 a15 = s[15], a16 = s[16], a17 = s[17], a18 = s[18], a19 = s[19];
    u64 a20 = s[20], a21 = s[21], a22 = s[22], a23 = s[23], a24 = s[24];
    for (int r = 0; r < 24; r++) {
        u64 c0 = a00 ^ a05 ^ a10 ^ a15 ^ a20;
        u64 c1 = a01 ^ a06 ^ a11 ^ a16 ^ a21;
        u64 c2 = a02 ^ a07 ^ a12 ^ a17 ^ a22;
        u64 c3 = a03 ^ a08 ^ a13 ^ a18 ^ a23;
        u64 c4 = a04 ^ a09 ^ a14 ^ a19 ^ a24;
        u64 d0 = c4 ^ ROL(c1, 1);
        u64 d1 = c0 ^ ROL(c2, 1);
        u64 d2 = c1 ^ ROL(c3, 1);
        u64 d3 = c2 ^ ROL(c4, 1);
        u64 d4 = c3 ^ ROL(c0, 1);
        /* theta + rho + pi: b[y][2x+3y] = rol(a[x][y] ^ d[x], r[x][y]) */
        u64 b00 = a00 ^ d0;
        u64 b01 = ROL(a06 ^ d1, 44);
        u64 b02 = ROL(a12 ^ d2, 43);
        u64 b03 = ROL(a18 ^ d3, 21);
        u64 b04 = ROL(a24 ^ d4, 14);
        u64 b05 = ROL(a03 ^ d3, 28);
        u64 b06 = ROL(a09 ^ d4, 20);
        u64 b07 = ROL(a10 ^ d0, 3);
        u64 b08 = ROL(a16 ^ d1, 45);
        u64 b09 = ROL(a22 ^ d2, 61);
        u64 b10 = ROL(a01 ^ d1, 1);
        u64 b11 = ROL(a07 ^ d2, 6);
        u64 b12 = ROL(a13 ^ d3, 25);
        u64 b13 = ROL(a19 ^ d4, 8);
        u64 b14 = ROL(a20 ^ d0, 18);
        u64 b15 = ROL(a04 ^ d4, 27);
        u64 b16 = ROL(a05 ^ d0, 36);
        u64 b17 = ROL(a11 ^ d1, 10);
        u64 b18 = ROL(a17 ^ d2, 15);
        u64 b19 = ROL(a23 ^ d3, 56);
        u64 b20 = ROL(a02 ^ d2, 62);
        u64 b21 = ROL(a08 ^ d3, 55);
        u64 b22 = ROL(a14 ^ d4, 39);
        u64 b23 = ROL(a15 ^ d0, 41);
        u64 b24 = ROL(a21 ^ d1, 2);
        /* chi + iota */
        a00 = b00 ^ (~b01 & b02) ^ RC[r];
        a01 = b01 ^ (~b02 & b03);
        a02 = b02 ^ (~b03 & b04);
        a03 = b03 ^ (~b04 & b00);
        a04 = b04 ^ (~b00 & b01);
        a05 = b05 ^ (~b06 & b07);
        a06 = b06 ^ (~b07 & b08);
        a07 = b07 ^ (~b08 & b09);
        a08 = b08 ^ (~b09 & b05);
        a09 = b09 ^ (~b05 & b06);
        a10 = b10 ^ (~b11 & b12);
        a11 = b11 ^ (~b12 & b13);
        a12 = b12 ^ (~b13 & b14);
        a13 = b13 ^ (~b14 & b10);
        a14 = b14 ^ (~b10 & b11);
        a15 = b15 ^ (~b16 & b17);
        a16 = b16 ^ (~b17 & b18);
        a17 = b17 ^ (~b18 & b19);
        a18 = b18 ^ (~b19 & b15);
        a19 = b19 ^ (~b15 & b16);
        a20 = b20 ^ (~b21 & b22);
        a21 = b21 ^ (~b22 & b23);
        a22 = b22 ^ (~b23 & b24);
        a23 = b23 ^ (~b24 & b20);
        a24 = b24 ^ (~b20 & b21);
    }
    s[0] = a00; s[1] = a01; s[2] = a02; s[3] = a03; s[4] = a04;
    s[5] = a05; s[6] = a06; s[7] = a07; s[8] = a08; s[9] = a09;
    s[10] = a10; s[11] = a11; s[12] = a12; s[13] = a13; s[14] = a14;
    s[15] = a15; s[16] = a16; s[17] = a17; s[18] = a18; s[19] = a19;
    s[20] = a20; s[21] = a21; s[22] = a22; s[23] = a23; s[24] = a24;
}

static u64 load64(const u8 *p) {
    u64 v;
    __builtin_memcpy(&v, p, 8);
    return v;
}

static void store64(u8 *p, u64 v) { __builtin_memcpy(p, &v, 8); }

static void store32(u8 *p, u32 v) { __builtin_memcpy(p, &v, 4); }

/* keccak256 of a message shorter than one block (len < RATE), first 20 bytes to out
 * (2.5 words). len is a multiple of 8 here (128 or 40). */
static void hash20_short(const u8 *in, u32 len, u8 *out) {
    u64 s[25];
    for (int i = 0; i < 25; i++) s[i] = 0;
    u32 w = len / 8;
    for (u32 i = 0; i < w; i++) s[i] = load64(in + 8 * i);
    s[w] ^= 0x01ULL;                      /* keccak pad10*1, first byte */
    s[RATE / 8 - 1] ^= 0x8000000000000000ULL; /* last byte of the block */
    keccakf(s);
    store64(out, s[0]);
    store64(out + 8, s[1]);
    store32(out + 16, (u32)s[2]);
}

/* Full keccak256 of any message (len bytes at in) into out (32 bytes). */
__attribute__((export_name("keccak256"))) void keccak256(const u8 *in, u32 len, u8 *out) {
    u64 s[25];
    for (int i = 0; i < 25; i++) s[i] = 0;
    while (len >= RATE) {
        for (int i = 0; i < RATE / 8; i++) s[i] ^= load64(in + 8 * i);
        keccakf(s);
        in += RATE;
        len -= RATE;
    }
    u8 block[RATE];
    for (int i = 0; i < RATE; i++) block[i] = 0;
    for (u32 i = 0; i < len; i++) block[i] = in[i];
    block[len] ^= 0x01;
    block[RATE - 1] ^= 0x80;
    for (int i = 0; i < RATE / 8; i++) s[i] ^= load64(block + 8 * i);
    keccakf(s);
    for (int i = 0; i < 4; i++) store64(out + 8 * i, s[i]);
}

/* n leaves: out[i] = H(in[128 i .. 128 i + 128]). */
__attribute__((export_name("hash_leaves"))) void hash_leaves(const u8 *in, u32 n, u8 *out) {
    for (u32 i = 0; i < n; i++) hash20_short(in + (u64)SEGMENT * i, SEGMENT, out + NODE * i);
}

/* n parents: out[i] = H(in[2i] || in[2i+1]) over 20-byte nodes; out may equal in. */
__attribute__((export_name("hash_parents"))) void hash_parents(const u8 *in, u32 n, u8 *out) {
    for (u32 i = 0; i < n; i++) hash20_short(in + 2 * NODE * i, 2 * NODE, out + NODE * i);
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
