/* zfec (fec.c, unmodified) for the dapp: a heap, and whole-stripe encode/decode calls.
 *
 * The codes, their matrices and the decode matrices are zfec's own (fec_new,
 * build_decode_matrix_into_space); only the multiply-accumulate of blocks (zfec's addmul) runs here
 * with 128-bit SIMD: c * x in GF(2^8) (zfec's field, polynomial 0x11d) as two 16-entry lookups,
 * c * (x & 15) ^ c * (x >> 4 << 4), with i8x16.swizzle, 16 bytes at a time. Same bytes as fec_encode
 * and fec_decode (the committed vectors and tests/dapp/test_formats_ts.py check it).
 *
 * Built with merkle.c (the possession tree's keccak) into one module, scatter.wasm, by build.sh
 * (clang --target=wasm32 -nostdlib -O3, no libc, no imports). All pointers are byte offsets in
 * the exported `memory`; buffers come from sc_alloc. Exports:
 *   sc_alloc(size) -> ptr             8-aligned, never freed (the caller allocates its buffers once)
 *   zf_new(k, n) -> code              one zfec code (k data blocks, n in all); cached by the caller
 *   zf_encode(code, data, out, block) data = k blocks of `block` bytes, out = the n-k parity blocks
 *   zf_decode(code, in, idx, out, block)
 *                                     in = k blocks with shard indexes idx[k] (distinct, < n),
 *                                     out = the k data blocks, in order (what zfec.Decoder.decode gives)
 */
#include <string.h>
#include <wasm_simd128.h>

#include "zfec/fec.h"

typedef unsigned int u32;
typedef unsigned char u8;

extern unsigned char __heap_base;
static unsigned long heap_top = 0;

int memcmp(const void *a, const void *b, size_t n) {
    const u8 *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
}

__attribute__((export_name("sc_alloc"))) void *malloc(size_t size) {
    if (heap_top == 0) heap_top = (unsigned long)&__heap_base;
    unsigned long start = (heap_top + 7) & ~7UL;
    unsigned long end = start + size;
    unsigned long have = __builtin_wasm_memory_size(0) * 65536UL;
    if (end > have) {
        unsigned long pages = (end - have + 65535) / 65536;
        if (__builtin_wasm_memory_grow(0, pages) == (unsigned long)-1) return 0;
    }
    heap_top = end;
    return (void *)start;
}

/* fec.c frees only its temporaries (matrix inversion); zf_decode releases them with a mark. */
void free(void *ptr) { (void)ptr; }

/* fec.c's own (not in fec.h): the k x k matrix that turns the k blocks at `index` into the data blocks. */
void build_decode_matrix_into_space(const fec_t *code, const unsigned *index, const unsigned k, gf *matrix);

/* tab_lo[c][x] = c * x, tab_hi[c][x] = c * (x << 4), for x < 16. */
static u8 tab_lo[256][16], tab_hi[256][16];

static u8 gf_mul(u8 a, u8 b) {
    unsigned p = 0, x = a;
    for (; b; b >>= 1, x <<= 1) {
        if (x & 0x100) x ^= 0x11d;
        if (b & 1) p ^= x;
    }
    return (u8)p;
}

static void init_tables(void) {
    for (unsigned c = 0; c < 256; c++)
        for (unsigned x = 0; x < 16; x++) {
            tab_lo[c][x] = gf_mul((u8)c, (u8)x);
            tab_hi[c][x] = gf_mul((u8)c, (u8)(x << 4));
        }
}

/* dst ^= c * src over sz bytes. */
static void addmul(u8 *dst, const u8 *src, u8 c, size_t sz) {
    if (c == 0) return;
    const v128_t lo = wasm_v128_load(tab_lo[c]), hi = wasm_v128_load(tab_hi[c]);
    const v128_t mask = wasm_i8x16_splat(0x0f);
    size_t i = 0;
    for (; i + 16 <= sz; i += 16) {
        v128_t x = wasm_v128_load(src + i);
        v128_t p = wasm_v128_xor(wasm_i8x16_swizzle(lo, wasm_v128_and(x, mask)), wasm_i8x16_swizzle(hi, wasm_u8x16_shr(x, 4)));
        wasm_v128_store(dst + i, wasm_v128_xor(wasm_v128_load(dst + i), p));
    }
    for (; i < sz; i++) dst[i] ^= tab_lo[c][src[i] & 15] ^ tab_hi[c][src[i] >> 4];
}

/* To stay in cache, as fec_encode: 8 KiB of every block at a time. */
#define STRIDE 8192

__attribute__((export_name("zf_new"))) fec_t *zf_new(u32 k, u32 n) {
    static int ready = 0;
    if (!ready) {
        init_tables();
        ready = 1;
    }
    fec_init();
    return fec_new((unsigned short)k, (unsigned short)n);
}

__attribute__((export_name("zf_encode"))) void zf_encode(const fec_t *code, const u8 *data, u8 *out, u32 block) {
    unsigned k = code->k, m = code->n - code->k;
    for (size_t off = 0; off < block; off += STRIDE) {
        size_t len = block - off < STRIDE ? block - off : STRIDE;
        for (unsigned i = 0; i < m; i++) {
            u8 *dst = out + (size_t)i * block + off;
            const gf *row = code->enc_matrix + (size_t)(k + i) * k;
            memset(dst, 0, len);
            for (unsigned j = 0; j < k; j++) addmul(dst, data + (size_t)j * block + off, row[j], len);
        }
    }
}

__attribute__((export_name("zf_decode"))) void zf_decode(const fec_t *code, const u8 *in, const u32 *idx, u8 *out, u32 block) {
    unsigned k = code->k;
    const gf *blocks[256];
    unsigned nums[256];
    for (unsigned i = 0; i < k; i++) {
        blocks[i] = in + (size_t)i * block;
        nums[i] = idx[i];
    }
    /* As zfec's Decoder.decode: block number i, if present, moves to position i. */
    for (unsigned i = 0; i < k;) {
        if (nums[i] >= k || nums[i] == i) {
            i++;
        } else {
            unsigned c = nums[i];
            unsigned t = nums[i]; nums[i] = nums[c]; nums[c] = t;
            const gf *b = blocks[i]; blocks[i] = blocks[c]; blocks[c] = b;
        }
    }
    unsigned long mark = heap_top;
    gf *m_dec = malloc((size_t)k * k);
    build_decode_matrix_into_space(code, nums, k, m_dec);
    for (unsigned i = 0; i < k; i++) {
        u8 *dst = out + (size_t)i * block;
        if (nums[i] < k) {
            memcpy(dst, blocks[i], block);
            continue;
        }
        memset(dst, 0, block);
        for (unsigned j = 0; j < k; j++) addmul(dst, blocks[j], m_dec[(size_t)i * k + j], block);
    }
    heap_top = mark;
}
